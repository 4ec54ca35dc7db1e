//! The egress policy: what vnx does about secrets in what a worker's provider would receive —
//! the composed prompt, and the files `.worktreeinclude` copies into the worktree (the worker
//! can read them and send them on). The built-in rules are in `rules`, the scanner and
//! redaction in `scan`, the decoding of UTF-16 and gzip'd included files in `decode`, the
//! `egress:` section of `provider_constraints.yaml` in `config`.
//! A finding is refused, redacted or warned about, per provider and per rule; a provider the
//! policy exempts (a local model) is not scanned; an included file that cannot be scanned is
//! a finding of its own (`unscannable`). Why: `adr/0036-egress-policy.md`.

pub mod config;
pub mod decode;
pub mod rules;
pub mod scan;

use std::collections::BTreeMap;

use regex::bytes::Regex;
use sha2::Digest;

pub use decode::{INFLATE_CAP, Unscannable};
pub use scan::{Hit, Scan, marker, redact};

pub use crate::receipts::EgressAction as Action;

/// A pattern of the policy's own (`patterns:`) or of its allow-list (`allow:`).
#[derive(Clone, Debug)]
pub struct Pattern {
    /// Its id (`patterns:`), or the pattern itself (`allow:`).
    pub id: String,
    /// As written.
    pub source: String,
    /// Compiled.
    pub regex: Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.id == other.id && self.source == other.source
    }
}

/// The egress policy of a project (`egress:` in `provider_constraints.yaml`).
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// The action for providers `providers` does not name; `None`: they are exempt.
    pub action: Option<Action>,
    /// A provider's own action (`None`: exempt, nothing is scanned), by name as
    /// [`crate::ids::norm`] spells it.
    pub providers: BTreeMap<String, Option<Action>>,
    /// A rule's action, by rule id: a floor — the stricter of it and the provider's applies.
    pub rules: BTreeMap<String, Action>,
    /// Secrets matching one of these whole are not findings (known example values).
    pub allow: Vec<Pattern>,
    /// The policy's own rules.
    pub patterns: Vec<Pattern>,
    /// The entropy test of `high-entropy-assignment`: bits per byte at least.
    pub entropy_threshold: f64,
    /// The entropy test: bytes at least.
    pub entropy_min_length: usize,
}

/// The entropy threshold when the file gives none, in bits per byte.
pub const DEFAULT_ENTROPY_THRESHOLD: f64 = 3.5;
/// The shortest value the entropy test considers when the file gives no length.
pub const DEFAULT_ENTROPY_MIN_LENGTH: usize = 16;

impl Policy {
    /// The policy of a constraints file without `egress:`, the same as the shipped file's:
    /// redact, refuse private keys, exempt the providers named in `exempt` (the caller names
    /// the local and offline ones: this floor knows no provider).
    pub fn shipped(exempt: &[&str]) -> Policy {
        Policy {
            action: Some(Action::Redact),
            providers: exempt.iter().map(|p| ((*p).to_owned(), None)).collect(),
            rules: [
                ("pem-private-key".to_owned(), Action::Refuse),
                ("openssh-private-key".to_owned(), Action::Refuse),
            ]
            .into(),
            allow: Vec::new(),
            patterns: Vec::new(),
            entropy_threshold: DEFAULT_ENTROPY_THRESHOLD,
            entropy_min_length: DEFAULT_ENTROPY_MIN_LENGTH,
        }
    }
}

impl Policy {
    /// The action for a finding of a provider whose action is `base`: the stricter of it and
    /// the rule's floor.
    pub fn action_of(&self, base: Action, hit: &Hit) -> Action {
        match self.rules.get(&hit.rule) {
            Some(floor) => base.max(*floor),
            None => base,
        }
    }

    /// The action for `provider`'s dispatches; `None`: it is exempt.
    pub fn provider_action(&self, provider: &str) -> Option<Action> {
        match self.providers.get(&crate::ids::norm(provider)) {
            Some(a) => *a,
            None => self.action,
        }
    }
}

/// Where a finding is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The composed prompt.
    Prompt,
    /// A file `.worktreeinclude` copies, by its path relative to the repository root.
    Included(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Prompt => f.write_str("prompt"),
            Source::Included(path) => f.write_str(path),
        }
    }
}

/// One secret found (or an included file that could not be scanned), and what the policy
/// does about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Where.
    pub source: Source,
    /// The rule, its location and the secret's hash. In a decoded file (UTF-16, gzip) the
    /// location is in its text as decoded; for [`rules::UNSCANNABLE`] the "secret" is the
    /// whole file.
    pub hit: Hit,
    /// What is done about it.
    pub action: Action,
    /// Why the file could not be scanned (a finding of [`rules::UNSCANNABLE`] only).
    pub unscannable: Option<Unscannable>,
}

impl std::fmt::Display for Finding {
    /// `rule at source:line:column`, or `unscannable at path (why)`: never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.unscannable {
            Some(why) => write!(f, "{} at {} ({why})", self.hit.rule, self.source),
            None => write!(
                f,
                "{} at {}:{}:{}",
                self.hit.rule, self.source, self.hit.line, self.hit.column
            ),
        }
    }
}

/// The policy's verdict on one dispatch's egress.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Every finding, the prompt's first, then each included file's in order.
    pub findings: Vec<Finding>,
    /// The prompt to send, when redaction changed it.
    pub redacted_prompt: Option<String>,
    /// Included files not to copy (a finding under `redact`).
    pub withheld: Vec<String>,
}

impl Outcome {
    /// Whether a finding refuses the dispatch.
    pub fn refused(&self) -> bool {
        self.findings.iter().any(|f| f.action == Action::Refuse)
    }

    /// The strictest action taken; `None` without findings.
    pub fn strictest(&self) -> Option<Action> {
        self.findings.iter().map(|f| f.action).max()
    }
}

/// Judges what `provider` would receive: the prompt and the included files (path, contents).
/// An exempt provider gets an empty outcome: nothing is scanned.
pub fn check(
    policy: &Policy,
    provider: &str,
    prompt: &str,
    included: &[(String, Vec<u8>)],
) -> Outcome {
    let Some(base) = policy.provider_action(provider) else {
        return Outcome::default();
    };
    let mut out = Outcome::default();
    let scanned = scan::scan(policy, prompt.as_bytes());
    out.redacted_prompt = redacted(policy, base, prompt, &scanned);
    for hit in scanned.hits {
        let action = policy.action_of(base, &hit);
        out.findings.push(Finding {
            source: Source::Prompt,
            hit,
            action,
            unscannable: None,
        });
    }
    for (path, data) in included {
        let mut withhold = false;
        for (hit, unscannable) in scan_file(policy, data) {
            let action = policy.action_of(base, &hit);
            withhold |= action == Action::Redact;
            out.findings.push(Finding {
                source: Source::Included(path.clone()),
                hit,
                action,
                unscannable,
            });
        }
        if withhold {
            out.withheld.push(path.clone());
        }
    }
    out
}

/// The hits in an included file: in its bytes as they are, then those not already found in
/// its decoded text (UTF-16, gzip: [`decode::views`]); and when it cannot be decoded, a hit of
/// [`rules::UNSCANNABLE`] covering the whole file, with the reason.
fn scan_file(policy: &Policy, data: &[u8]) -> Vec<(Hit, Option<Unscannable>)> {
    let mut hits: Vec<(Hit, Option<Unscannable>)> = scan::scan(policy, data)
        .hits
        .into_iter()
        .map(|h| (h, None))
        .collect();
    match decode::views(data) {
        Ok(views) => {
            for view in views {
                for hit in scan::scan(policy, &view).hits {
                    // The same secret seen through another view is one finding.
                    if !hits
                        .iter()
                        .any(|(h, _)| h.rule == hit.rule && h.sha256 == hit.sha256)
                    {
                        hits.push((hit, None));
                    }
                }
            }
        }
        Err(why) => hits.push((
            Hit {
                rule: rules::UNSCANNABLE.to_owned(),
                start: 0,
                end: data.len(),
                line: 1,
                column: 1,
                sha256: hex::encode(sha2::Sha256::digest(data)),
            },
            Some(why),
        )),
    }
    hits
}

/// `text` as `provider` may receive it: `None` when nothing in it is to be redacted (or the
/// provider is exempt). The instruction kept beside a dispatch goes through this too.
pub fn redact_for(policy: &Policy, provider: &str, text: &str) -> Option<String> {
    let base = policy.provider_action(provider)?;
    redacted(policy, base, text, &scan::scan(policy, text.as_bytes()))
}

/// `text` with every span that holds a finding under `redact` (or stricter) replaced;
/// `None` when there is none. Spans whose findings are all under `warn` stay.
fn redacted(policy: &Policy, base: Action, text: &str, scanned: &Scan) -> Option<String> {
    let spans: Vec<_> = scanned
        .spans
        .iter()
        .filter(|(s, e, _)| {
            scanned
                .hits
                .iter()
                .any(|h| h.start < *e && *s < h.end && policy.action_of(base, h) != Action::Warn)
        })
        .cloned()
        .collect();
    (!spans.is_empty()).then(|| {
        redact(
            text,
            &Scan {
                hits: Vec::new(),
                spans,
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8], level: flate2::Compression) -> Vec<u8> {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), level);
        std::io::Write::write_all(&mut z, data).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn a_secret_seen_in_the_bytes_and_inflated_is_one_finding() {
        let token = format!("gh{}_{}", "p", "Q7".repeat(18));
        // Stored, not compressed: the token is in the gzip bytes as well.
        let data = gzip(
            format!("T={token}\n").as_bytes(),
            flate2::Compression::none(),
        );
        let hits = scan_file(&Policy::shipped(&[]), &data);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].0.rule, "github-token");
        assert_eq!(hits[0].1, None);
    }

    #[test]
    fn an_unscannable_file_is_one_finding_over_the_whole_file() {
        let data = [&gzip(b"x", flate2::Compression::fast())[..], b"junk"].concat();
        let o = check(
            &Policy::shipped(&[]),
            "a-hosted-cli",
            "",
            &[("a/b.gz".to_owned(), data.clone())],
        );
        assert_eq!(o.withheld, ["a/b.gz"]);
        let f = &o.findings[0];
        assert_eq!(f.hit.rule, rules::UNSCANNABLE);
        assert_eq!((f.hit.start, f.hit.end), (0, data.len()));
        assert_eq!(f.unscannable, Some(Unscannable::CorruptGzip));
        assert_eq!(f.to_string(), "unscannable at a/b.gz (corrupt gzip)");
    }
}
