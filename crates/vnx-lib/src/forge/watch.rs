//! Watching pull requests: one read of a dispatch's pull request (`show`), which also records
//! one merged or closed on the forge by a person since the ledger last said, and the forge
//! cache (`.vnx-data/forge/cache.json`) the readers that refresh often (status, the
//! dashboard, `wait`, the MCP server) go through: at most one `gh` call per pull request per
//! refresh interval, whoever asks, and the changes since the last read (checks that turned
//! failing or passing, new reviews and comments) that a notification fires for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::history::History;
use super::view::{self, PrState, PullRequest};
use super::{Context, Forge, ForgeError};
use crate::ids::DispatchId;
use crate::receipts::PrOpened;

/// A dispatch's pull request as just read.
#[derive(Clone, Debug, Serialize)]
pub struct Seen {
    /// The dispatch asked about.
    pub dispatch_id: DispatchId,
    /// The `pr_opened` it rests on.
    pub recorded: PrOpened,
    /// The pull request on the forge.
    pub pr: PullRequest,
    /// Whether the forge's head is the head the last `pr_opened` pushed.
    pub at_recorded_head: bool,
}

/// Reads the pull request of dispatch `id`'s branch (one `gh` call), recording `pr_merged`
/// or `pr_closed` when the forge says so and the ledger does not yet.
pub fn show(ctx: &Context<'_>, forge: &Forge, id: &DispatchId) -> Result<Seen, ForgeError> {
    let ev = crate::evidence::Evidence::read(ctx.ledger, id, ctx.trusted_keys)?;
    let Some(branch) = ev.started.as_ref().map(|s| s.receipt.branch.clone()) else {
        return Err(ForgeError::UnknownDispatch { id: id.clone() });
    };
    let history = History::read(ctx.ledger, &branch, ctx.trusted_keys)?;
    let Some(recorded) = history.current().cloned() else {
        return Err(ForgeError::NoPullRequest {
            id: id.clone(),
            branch,
        });
    };
    let pr = view::view(&forge.gh, recorded.number)?;
    record_change(ctx, forge, &recorded, &pr, &history)?;
    Ok(Seen {
        dispatch_id: id.clone(),
        at_recorded_head: pr.head_commit == recorded.head_commit.as_str(),
        recorded,
        pr,
    })
}

/// Records what a read found that the ledger does not hold yet: a merge or a close on the
/// forge.
pub fn record_change(
    ctx: &Context<'_>,
    forge: &Forge,
    recorded: &PrOpened,
    pr: &PullRequest,
    history: &History,
) -> Result<(), ForgeError> {
    match pr.state {
        PrState::Merged if history.merged_as(pr.number).is_none() => {
            super::merge::record_merged(ctx, forge, recorded, pr, false, None)?;
        }
        PrState::Closed => super::open::record_closed(ctx, recorded, pr, history)?,
        _ => {}
    }
    Ok(())
}

/// The cache file under the project's data directory.
pub fn cache_path(data_dir: &Path) -> PathBuf {
    data_dir.join("forge").join("cache.json")
}

/// One pull request as the cache keeps it: when it was read, and what.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cached {
    /// Seconds since the epoch of the read.
    pub read_at: u64,
    /// What the read found (a summary: the cache never holds more than it shows).
    pub summary: Summary,
}

/// What readers show of a pull request, and what changes are told from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Its number.
    pub number: u64,
    /// Its address.
    pub url: String,
    /// `open`, `closed`, `merged`.
    pub state: String,
    /// A draft.
    pub draft: bool,
    /// The checks by name: `pass`, `fail`, `pending`.
    pub checks: BTreeMap<String, String>,
    /// The review decision (empty: none).
    pub review_decision: String,
    /// How many reviews and comments it has.
    pub conversation: usize,
}

impl Summary {
    /// The summary of a pull request as read.
    pub fn of(pr: &PullRequest) -> Summary {
        Summary {
            number: pr.number,
            url: pr.url.clone(),
            state: pr.state.name().to_owned(),
            draft: pr.draft,
            checks: pr
                .checks
                .iter()
                .map(|c| (c.name.clone(), c.state.name().to_owned()))
                .collect(),
            review_decision: pr.review_decision.clone(),
            conversation: pr.reviews.len() + pr.comments.len(),
        }
    }

    /// The checks in one word: `none`, `fail` (any), `pending` (any), `pass`.
    pub fn checks_word(&self) -> &'static str {
        let any = |w: &str| self.checks.values().any(|s| s == w);
        if self.checks.is_empty() {
            "none"
        } else if any("fail") {
            "fail"
        } else if any("pending") {
            "pending"
        } else {
            "pass"
        }
    }

    /// What changed from `before` that a person is told about: checks that turned failing or
    /// all passing, a new review decision, new reviews or comments, a merge or a close.
    pub fn changes_since(&self, before: &Summary) -> Vec<String> {
        let mut out = Vec::new();
        let (now, then) = (self.checks_word(), before.checks_word());
        if now != then && matches!(now, "fail" | "pass") {
            out.push(format!("checks_{now}"));
        }
        if self.review_decision != before.review_decision && !self.review_decision.is_empty() {
            out.push(format!(
                "review_{}",
                self.review_decision.to_ascii_lowercase()
            ));
        }
        if self.conversation > before.conversation {
            out.push("comment".to_owned());
        }
        if self.state != before.state && self.state != "open" {
            out.push(self.state.clone());
        }
        out
    }
}

/// The forge cache: the last read of each pull request, by number.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Cache {
    /// By pull request number.
    pub prs: BTreeMap<u64, Cached>,
}

impl Cache {
    /// Reads the cache (a missing or unreadable one is empty: it is only a cache).
    pub fn load(data_dir: &Path) -> Cache {
        crate::files::read_bounded(&cache_path(data_dir), 4 << 20)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Writes it back, privately and atomically.
    pub fn store(&self, data_dir: &Path) -> std::io::Result<()> {
        let path = cache_path(data_dir);
        if let Some(dir) = path.parent() {
            crate::files::private_dir(dir)?;
        }
        let text = serde_json::to_vec(self).unwrap_or_default();
        crate::files::write_atomic_private(&path, &text, false)
    }
}

/// A pull request's summary, read from the forge only when the cache's is older than
/// `max_age_secs` (`now` in seconds since the epoch): the summary, and the changes since the
/// cached one when it was read anew.
pub fn refresh(
    cache: &mut Cache,
    gh: &super::Gh,
    number: u64,
    now: u64,
    max_age_secs: u64,
) -> Result<(Summary, Vec<String>), ForgeError> {
    if let Some(c) = cache.prs.get(&number)
        && now.saturating_sub(c.read_at) < max_age_secs
    {
        return Ok((c.summary.clone(), Vec::new()));
    }
    let pr = view::view(gh, number)?;
    let summary = Summary::of(&pr);
    let changes = cache
        .prs
        .get(&number)
        .map(|c| summary.changes_since(&c.summary))
        .unwrap_or_default();
    cache.prs.insert(
        number,
        Cached {
            read_at: now,
            summary: summary.clone(),
        },
    );
    Ok((summary, changes))
}
