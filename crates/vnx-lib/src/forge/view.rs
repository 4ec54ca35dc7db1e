//! A pull request as vnx reads it, in one `gh pr view N --json …` call: its state, head,
//! base, merge commit, checks (pass, fail or pending, by name), review decision, reviews and
//! conversation comments. Every text is bounded and cleaned (`text`); a field gh leaves out
//! reads as empty.

use serde::Serialize;
use serde_json::Value;

use super::{ForgeError, Gh, text};

/// The fields one read asks for.
pub const FIELDS: &str = "number,url,state,isDraft,title,headRefName,headRefOid,baseRefName,\
                          mergeCommit,mergedBy,mergeStateStatus,reviewDecision,\
                          statusCheckRollup,reviews,comments";

/// The most reviews and comments kept of one pull request (its checks are kept whole).
pub const MAX_ITEMS: usize = 200;
/// The most characters of a review's or comment's text kept.
pub const MAX_TEXT: usize = 4000;

/// A pull request's state on the forge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrState {
    /// Open (a draft too).
    Open,
    /// Closed without a merge.
    Closed,
    /// Merged.
    Merged,
}

impl PrState {
    /// `open`, `closed` or `merged`.
    pub fn name(self) -> &'static str {
        match self {
            PrState::Open => "open",
            PrState::Closed => "closed",
            PrState::Merged => "merged",
        }
    }
}

/// A check's verdict, as `gh pr checks` buckets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    /// Passed (or neutral, or skipped).
    Pass,
    /// Failed, errored, timed out, was cancelled or needs an action.
    Fail,
    /// Queued, running, or expected.
    Pending,
}

impl CheckState {
    /// `pass`, `fail` or `pending`.
    pub fn name(self) -> &'static str {
        match self {
            CheckState::Pass => "pass",
            CheckState::Fail => "fail",
            CheckState::Pending => "pending",
        }
    }
}

/// One check on the pull request's head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Its name.
    pub name: String,
    /// Its verdict.
    pub state: CheckState,
    /// Where its details are (a job's page for GitHub Actions), if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A submitted review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Review {
    /// Who.
    pub author: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`.
    pub state: String,
    /// What they wrote.
    pub body: String,
    /// The head it was submitted on (empty when the forge does not say).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub commit: String,
    /// How GitHub associates its author with the repository (`OWNER`, `MEMBER`,
    /// `COLLABORATOR`, `CONTRIBUTOR`, `FIRST_TIME_CONTRIBUTOR`, `FIRST_TIMER`, `MANNEQUIN`,
    /// `NONE`; empty when the forge does not say).
    pub association: String,
}

/// A conversation comment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Comment {
    /// Who.
    pub author: String,
    /// What they wrote.
    pub body: String,
    /// How GitHub associates its author with the repository (as [`Review::association`]).
    pub association: String,
}

/// A pull request as read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PullRequest {
    /// Its number.
    pub number: u64,
    /// Its address.
    pub url: String,
    /// Open, closed or merged.
    pub state: PrState,
    /// Whether it is a draft.
    pub draft: bool,
    /// Its title.
    pub title: String,
    /// The branch it merges.
    pub head_branch: String,
    /// The commit that branch is at on the forge.
    pub head_commit: String,
    /// The branch it merges into.
    pub base: String,
    /// The merge commit, once merged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_commit: Option<String>,
    /// Who merged it, once merged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_by: Option<String>,
    /// GitHub's `mergeStateStatus` (`CLEAN`, `BLOCKED`, `UNSTABLE`, `DIRTY`, `DRAFT`, …).
    pub merge_state: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `REVIEW_REQUIRED`, or empty.
    pub review_decision: String,
    /// The checks on its head.
    pub checks: Vec<Check>,
    /// Its reviews, oldest first.
    pub reviews: Vec<Review>,
    /// Its conversation comments, oldest first.
    pub comments: Vec<Comment>,
}

impl PullRequest {
    /// How many checks pass, fail and are pending.
    pub fn check_counts(&self) -> (usize, usize, usize) {
        let n = |s| self.checks.iter().filter(|c| c.state == s).count();
        (
            n(CheckState::Pass),
            n(CheckState::Fail),
            n(CheckState::Pending),
        )
    }

    /// The checks in one word: `none`, `pass`, `fail` (any failed) or `pending`.
    pub fn checks_word(&self) -> &'static str {
        match self.check_counts() {
            (0, 0, 0) => "none",
            (_, f, _) if f > 0 => "fail",
            (_, _, p) if p > 0 => "pending",
            _ => "pass",
        }
    }
}

/// Reads pull request `number`.
pub fn view(gh: &Gh, number: u64) -> Result<PullRequest, ForgeError> {
    let n = number.to_string();
    let read = |fields: &str| {
        let answer = gh.run(["pr", "view", &n, "--repo", gh.repo(), "--json", fields])?;
        Ok::<_, ForgeError>(answer.stdout)
    };
    let parsed =
        |out: String| parse(&out).map_err(|e| ForgeError::unreadable(format!("gh pr view {n}"), e));
    // A conversation longer than the read's output cap (long comments) is read again
    // without it, then without the reviews' texts: the state, checks and review decision a
    // merge decides on always fit.
    let without_comments = FIELDS.replace(",comments", "");
    for fields in [FIELDS, without_comments.as_str()] {
        let out = read(fields)?;
        if out.len() < super::gh::MAX_OUTPUT {
            return parsed(out);
        }
    }
    parsed(read(&without_comments.replace(",reviews", ""))?)
}

/// The open pull request whose head is `branch`, if there is one: (number, url, draft).
pub fn open_for_branch(gh: &Gh, branch: &str) -> Result<Option<(u64, String, bool)>, ForgeError> {
    let args = [
        "pr",
        "list",
        "--repo",
        gh.repo(),
        "--head",
        branch,
        "--state",
        "open",
        "--json",
        "number,url,isDraft,headRefName",
    ];
    let answer = gh.run(args)?;
    let v = answer.json("gh pr list")?;
    Ok(v.as_array().and_then(|prs| {
        prs.iter()
            .filter(|p| p["headRefName"].as_str() == Some(branch))
            .find_map(|p| {
                Some((
                    p["number"].as_u64()?,
                    text::line(p["url"].as_str()?, 300),
                    p["isDraft"].as_bool().unwrap_or(false),
                ))
            })
    }))
}

fn s(v: &Value, max: usize) -> String {
    v.as_str().map(|t| text::clean(t, max)).unwrap_or_default()
}

fn login(v: &Value) -> String {
    text::line(v["login"].as_str().unwrap_or("ghost"), 100)
}

/// An item's `authorAssociation`, bounded (empty when absent).
pub fn association(item: &Value) -> String {
    text::line(item["authorAssociation"].as_str().unwrap_or_default(), 40)
}

/// The last [`MAX_ITEMS`] of a list: a reader decides on the newest reviews.
fn newest(list: &[Value]) -> &[Value] {
    &list[list.len().saturating_sub(MAX_ITEMS)..]
}

/// A check-rollup entry as a [`Check`]: a check run by its status and conclusion, a status
/// context by its state.
fn check(v: &Value) -> Option<Check> {
    let upper = |k: &str| v[k].as_str().unwrap_or_default().to_ascii_uppercase();
    let (name, state, url) = match v["__typename"].as_str() {
        Some("StatusContext") => {
            let state = match upper("state").as_str() {
                "SUCCESS" => CheckState::Pass,
                "FAILURE" | "ERROR" => CheckState::Fail,
                _ => CheckState::Pending,
            };
            (&v["context"], state, &v["targetUrl"])
        }
        _ => {
            let state = if upper("status") != "COMPLETED" {
                CheckState::Pending
            } else {
                match upper("conclusion").as_str() {
                    "SUCCESS" | "NEUTRAL" | "SKIPPED" | "" => CheckState::Pass,
                    _ => CheckState::Fail,
                }
            };
            (&v["name"], state, &v["detailsUrl"])
        }
    };
    Some(Check {
        name: text::line(name.as_str()?, 200),
        state,
        url: url
            .as_str()
            .filter(|u| !u.is_empty())
            .map(|u| text::line(u, 300)),
    })
}

/// A pull request from `gh pr view --json FIELDS`'s output.
pub fn parse(json: &str) -> Result<PullRequest, String> {
    let v: Value = serde_json::from_str(json.trim()).map_err(|e| e.to_string())?;
    let number = v["number"].as_u64().ok_or("no pull request number")?;
    let state = match v["state"].as_str() {
        Some("OPEN") => PrState::Open,
        Some("CLOSED") => PrState::Closed,
        Some("MERGED") => PrState::Merged,
        other => return Err(format!("unknown pull request state {other:?}")),
    };
    let list = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    // Every check, however many: one left out could be the failing one a merge must see
    // (gh pages them all; the read's output cap bounds how many there can be).
    let mut checks: Vec<Check> = list("statusCheckRollup").iter().filter_map(check).collect();
    checks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(PullRequest {
        number,
        url: text::line(v["url"].as_str().unwrap_or_default(), 300),
        state,
        draft: v["isDraft"].as_bool().unwrap_or(false),
        title: text::line(v["title"].as_str().unwrap_or_default(), 300),
        head_branch: text::line(v["headRefName"].as_str().unwrap_or_default(), 300),
        head_commit: text::line(v["headRefOid"].as_str().unwrap_or_default(), 80),
        base: text::line(v["baseRefName"].as_str().unwrap_or_default(), 300),
        merge_commit: v["mergeCommit"]["oid"].as_str().map(|c| text::line(c, 80)),
        merged_by: v["mergedBy"]["login"]
            .as_str()
            .map(|_| login(&v["mergedBy"])),
        merge_state: text::line(v["mergeStateStatus"].as_str().unwrap_or_default(), 40),
        review_decision: text::line(v["reviewDecision"].as_str().unwrap_or_default(), 40),
        checks,
        reviews: newest(&list("reviews"))
            .iter()
            .map(|r| Review {
                author: login(&r["author"]),
                state: text::line(r["state"].as_str().unwrap_or_default(), 40),
                body: s(&r["body"], MAX_TEXT),
                commit: text::line(r["commit"]["oid"].as_str().unwrap_or_default(), 80),
                association: association(r),
            })
            .collect(),
        comments: newest(&list("comments"))
            .iter()
            .map(|c| Comment {
                author: login(&c["author"]),
                body: s(&c["body"], MAX_TEXT),
                association: association(c),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_is_read_with_its_checks_bucketed() {
        let pr = parse(
            r#"{"number":3,"url":"https://github.com/o/r/pull/3","state":"OPEN","isDraft":false,
            "title":"t\u001b[2J","headRefName":"dispatch/x","headRefOid":"abc","baseRefName":"main",
            "mergeCommit":null,"mergedBy":null,"mergeStateStatus":"BLOCKED","reviewDecision":"",
            "statusCheckRollup":[
              {"__typename":"CheckRun","name":"ci","status":"COMPLETED","conclusion":"FAILURE","detailsUrl":"u"},
              {"__typename":"CheckRun","name":"lint","status":"IN_PROGRESS","conclusion":null},
              {"__typename":"StatusContext","context":"cla","state":"SUCCESS","targetUrl":""}],
            "reviews":[{"author":{"login":"rev"},"authorAssociation":"MEMBER",
              "state":"CHANGES_REQUESTED","body":"fix it"}],
            "comments":[]}"#,
        )
        .unwrap();
        assert_eq!(pr.check_counts(), (1, 1, 1));
        assert_eq!(pr.checks_word(), "fail");
        assert_eq!(pr.title, "t\\u{1b}[2J");
        assert_eq!(pr.reviews[0].author, "rev");
        assert_eq!(pr.reviews[0].association, "MEMBER");
        assert_eq!(pr.state, PrState::Open);
    }
}
