//! Review gates: the request a reviewing CLI is given (the task, the diff `base..head`, and
//! the JSON verdict to return) and the reading of its answer. Anything but a well-formed
//! verdict is no verdict, and a `pass` that lists blocking findings is not a pass.

use serde::Serialize;

pub use crate::receipts::{
    ReviewCounts as Counts, ReviewFinding as Finding, ReviewVerdict as Verdict,
    ReviewWeight as Weight,
};

/// The most diff bytes a request carries; the reviewer is told where the rest is.
pub const MAX_DIFF_BYTES: usize = 200 * 1024;
/// The most task bytes a request carries.
pub const MAX_TASK_BYTES: usize = 32 * 1024;
/// Findings kept in a receipt (all are in `result.json`).
pub const RECEIPT_FINDINGS: usize = 20;
/// Characters of a finding's message kept in a receipt.
pub const RECEIPT_MESSAGE_CHARS: usize = 500;

/// What a review request is made of.
pub struct RequestParts<'a> {
    /// The dispatch reviewed.
    pub dispatch_id: &'a str,
    /// The review gate's name.
    pub gate: &'a str,
    /// The dispatch branch.
    pub branch: &'a str,
    /// The commit the work started from.
    pub base_commit: &'a str,
    /// The commit reviewed.
    pub head_commit: &'a str,
    /// The dispatch's instruction, when it is still on disk unchanged.
    pub task: Option<&'a str>,
    /// `git diff` from base to head.
    pub diff: &'a str,
    /// The gate definition's own instructions to the reviewer.
    pub extra_instructions: Option<&'a str>,
}

/// `text` cut to at most `max` bytes at a line boundary, and the bytes left out.
fn cut(text: &str, max: usize) -> (&str, usize) {
    if text.len() <= max {
        return (text, 0);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').map_or(end, |i| i + 1);
    (&text[..end], text.len() - end)
}

/// A fence for `text`: backticks, more than the longest run of them inside (at least 3).
pub(crate) fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

/// `text` between fences labelled `lang`, ending in a newline.
fn push_fenced(r: &mut String, lang: &str, text: &str) {
    let f = fence(text);
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    r.push_str(&format!("{f}{lang}\n{text}{newline}{f}\n"));
}

/// The review request (the reviewer's whole prompt).
pub fn request(p: &RequestParts<'_>) -> String {
    let short = |c: &str| c.get(..12).unwrap_or(c).to_owned();
    let mut r = format!(
        "# Review request: dispatch {}, gate `{}`\n\n\
         You are reviewing a change made by a coding agent: branch `{}`, from base {} to head \
         {}. Your working directory is a checkout of the head commit; read any file you need, \
         but change nothing.\n\n\
         Decide whether the change does what its task asks, correctly and safely, without \
         breaking anything. Then answer with exactly one JSON object and nothing else:\n\n\
         {{\"verdict\": \"pass\" or \"fail\", \"findings\": [{{\"severity\": \"blocking\" or \
         \"major\" or \"minor\", \"message\": \"…\", \"file\": \"path\", \"line\": 1}}]}}\n\n\
         Use `fail` when the change is wrong, incomplete for its task, unsafe, or breaks \
         something. A blocking finding makes the gate fail whatever the verdict says. List at \
         most {RECEIPT_FINDINGS} findings, each message one or two sentences; `file` and \
         `line` are optional.\n",
        p.dispatch_id,
        p.gate,
        p.branch,
        short(p.base_commit),
        short(p.head_commit),
    );
    r.push_str("\n## Task\n\n");
    match p.task {
        Some(task) => {
            let (task, left) = cut(task, MAX_TASK_BYTES);
            push_fenced(&mut r, "text", task);
            if left > 0 {
                r.push_str(&format!("({left} more bytes of the task are not shown.)\n"));
            }
        }
        None => r.push_str("(The task's text is not available; review the change on its own.)\n"),
    }
    r.push_str(&format!(
        "\n## Diff `git diff {} {}`\n\n",
        p.base_commit, p.head_commit
    ));
    let (diff, left) = cut(p.diff, MAX_DIFF_BYTES);
    if diff.is_empty() {
        r.push_str("(The diff is empty: the head adds nothing to the base.)\n");
    } else {
        push_fenced(&mut r, "diff", diff);
    }
    if left > 0 {
        r.push_str(&format!(
            "({left} more bytes of the diff are not shown; run `git diff {} {}` to read \
             them.)\n",
            p.base_commit, p.head_commit
        ));
    }
    if let Some(extra) = p.extra_instructions.filter(|e| !e.trim().is_empty()) {
        r.push_str("\n## Additional instructions\n\n");
        r.push_str(extra);
        if !extra.ends_with('\n') {
            r.push('\n');
        }
    }
    r
}

/// A parsed answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// The reviewer's verdict.
    pub verdict: Verdict,
    /// Its findings, in order.
    pub findings: Vec<Finding>,
}

impl Answer {
    /// The findings counted by weight.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for f in &self.findings {
            match f.weight {
                Weight::Blocking => c.blocking += 1,
                Weight::Major => c.major += 1,
                Weight::Minor => c.minor += 1,
            }
        }
        c
    }
}

/// The weight of a severity word: critical, blocker, blocking, high or error block; major,
/// medium and warning weigh; anything else is minor.
pub fn weight(severity: &str) -> Weight {
    match severity.trim().to_ascii_lowercase().as_str() {
        "critical" | "blocker" | "blocking" | "high" | "error" => Weight::Blocking,
        "major" | "medium" | "warning" | "warn" => Weight::Major,
        _ => Weight::Minor,
    }
}

/// Where a verdict object may sit in a final message: the whole message, a fenced block
/// (last first), or the span from the first `{` to the last `}`.
fn candidates(text: &str) -> Vec<&str> {
    let mut out = vec![text.trim()];
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let body = &after[body_start..];
        match body.find("```") {
            Some(close) => {
                blocks.push(body[..close].trim());
                rest = &body[close + 3..];
            }
            None => break,
        }
    }
    out.extend(blocks.into_iter().rev());
    if let (Some(a), Some(b)) = (text.find('{'), text.rfind('}'))
        && a < b
    {
        out.push(&text[a..=b]);
    }
    out
}

/// Reads a reviewer's final message; `Err` says why it holds no verdict.
pub fn parse_answer(text: &str) -> Result<Answer, String> {
    if text.trim().is_empty() {
        return Err("the reviewer's final message is empty".into());
    }
    let mut problem = None;
    for candidate in candidates(text) {
        let Ok(serde_json::Value::Object(o)) = serde_json::from_str(candidate) else {
            continue;
        };
        if !o.contains_key("verdict") {
            continue;
        }
        match answer(&o) {
            Ok(a) => return Ok(a),
            Err(why) => {
                problem.get_or_insert(why);
            }
        }
    }
    Err(problem.unwrap_or_else(|| {
        format!(
            "no JSON verdict in the reviewer's final message: {}",
            shorten(text.trim(), 200)
        )
    }))
}

fn answer(o: &serde_json::Map<String, serde_json::Value>) -> Result<Answer, String> {
    let verdict = match o.get("verdict").and_then(|v| v.as_str()) {
        Some(v) if v.eq_ignore_ascii_case("pass") => Verdict::Pass,
        Some(v) if v.eq_ignore_ascii_case("fail") => Verdict::Fail,
        other => {
            return Err(format!(
                "the verdict must be \"pass\" or \"fail\", not {}",
                other.map_or_else(
                    || o.get("verdict")
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    |s| format!("{s:?}")
                )
            ));
        }
    };
    let items = match o.get("findings") {
        None | Some(serde_json::Value::Null) => &Vec::new(),
        Some(serde_json::Value::Array(items)) => items,
        Some(_) => return Err("`findings` must be a list".into()),
    };
    let mut findings = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = |k: &str| item.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let (Some(severity), Some(message)) = (field("severity"), field("message")) else {
            return Err(format!(
                "finding {} has no `severity` and `message` strings",
                i + 1
            ));
        };
        findings.push(Finding {
            weight: weight(&severity),
            severity,
            message,
            file: field("file"),
            line: item.get("line").and_then(serde_json::Value::as_u64),
        });
    }
    Ok(Answer { verdict, findings })
}

/// `s` cut to `max` characters, with `…` when cut.
pub fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn answers_in_every_usual_wrapping() {
        let plain = r#"{"verdict":"pass","findings":[]}"#;
        assert_eq!(parse_answer(plain).unwrap().verdict, Verdict::Pass);
        let fenced = "Here is my review.\n\n```json\n{\"verdict\": \"FAIL\", \"findings\": [{\"severity\": \"High\", \"message\": \"off by one\", \"file\": \"a.rs\", \"line\": 3}]}\n```\nThanks.";
        let a = parse_answer(fenced).unwrap();
        assert_eq!(a.verdict, Verdict::Fail);
        assert_eq!(a.findings[0].weight, Weight::Blocking);
        assert_eq!(a.findings[0].line, Some(3));
        assert_eq!(a.counts().blocking, 1);
        let prose = "I think {\"verdict\":\"pass\"} sums it up";
        assert_eq!(parse_answer(prose).unwrap().findings, vec![]);
    }

    #[test]
    fn anything_else_is_no_verdict() {
        for (text, why) in [
            ("", "empty"),
            ("garbage", "no JSON verdict"),
            ("{\"findings\": []}", "no JSON verdict"),
            (
                "{\"verdict\": \"ok\"}",
                "must be \"pass\" or \"fail\", not \"ok\"",
            ),
            ("{\"verdict\": true}", "not true"),
            (
                "{\"verdict\": \"pass\", \"findings\": \"none\"}",
                "must be a list",
            ),
            (
                "{\"verdict\": \"pass\", \"findings\": [{\"message\": \"x\"}]}",
                "finding 1",
            ),
            ("{\"verdict\": \"pass\"", "no JSON verdict"),
        ] {
            let err = parse_answer(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn severities_weigh() {
        assert_eq!(weight("CRITICAL"), Weight::Blocking);
        assert_eq!(weight("medium"), Weight::Major);
        assert_eq!(weight("nit"), Weight::Minor);
    }

    #[test]
    fn requests_fence_the_diff_and_cut_it() {
        let base = "a".repeat(40);
        let head = "b".repeat(40);
        let diff = "+```rust\n+x\n".to_owned() + &"+y\n".repeat(MAX_DIFF_BYTES / 3 + 10);
        let text = request(&RequestParts {
            dispatch_id: "D-1",
            gate: "review",
            branch: "dispatch/D-1",
            base_commit: &base,
            head_commit: &head,
            task: Some("add a greeting"),
            diff: &diff,
            extra_instructions: Some("@fake say {}"),
        });
        assert!(text.contains("````diff\n+```rust\n"), "a longer fence");
        assert!(text.contains("more bytes of the diff are not shown"));
        assert!(text.contains("```text\nadd a greeting\n```\n"));
        assert!(text.ends_with("## Additional instructions\n\n@fake say {}\n"));
        assert!(text.len() < MAX_DIFF_BYTES + 4096);
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,300}") {
            let _ = parse_answer(&text);
        }

        #[test]
        fn a_verdict_in_prose_is_found(
            before in "[a-zA-Z .,\n]{0,80}",
            after in "[a-zA-Z .,\n]{0,80}",
            pass in any::<bool>(),
            message in "[a-zA-Z0-9 .,'\"]{1,40}",
        ) {
            let verdict = if pass { "pass" } else { "fail" };
            let json = serde_json::json!({
                "verdict": verdict,
                "findings": [{"severity": "minor", "message": message}],
            });
            let a = parse_answer(&format!("{before}{json}{after}")).unwrap();
            prop_assert_eq!(a.verdict, if pass { Verdict::Pass } else { Verdict::Fail });
            prop_assert_eq!(&a.findings[0].message, &message);
        }
    }
}
