//! Finding secrets in text and redacting them: every rule's matches (the built-in rules, then
//! the policy's own patterns), the entropy test for assignments, the allow-list, overlaps
//! resolved by rule order, and redaction over the union of every match so that no part of a
//! secret survives even where two rules' matches overlap.

use regex::bytes::{Captures, Regex};
use sha2::{Digest, Sha256};

use super::Policy;
use super::rules::{self, HIGH_ENTROPY};

/// One secret found in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The rule that found it.
    pub rule: String,
    /// Byte offset of the secret.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// 1-based line of its first byte.
    pub line: usize,
    /// 1-based column (in bytes) of its first byte.
    pub column: usize,
    /// SHA-256 of the secret's bytes (lowercase hex); the bytes themselves are never kept.
    pub sha256: String,
}

/// What a scan found: the hits to report (overlaps resolved by rule order, in text order)
/// and the byte ranges to redact (the union of every match, each with the rule that opened
/// it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// The secrets found, in text order.
    pub hits: Vec<Hit>,
    /// Disjoint, sorted ranges covering every match, and a rule id for each marker.
    pub spans: Vec<(usize, usize, String)>,
}

/// A match before overlaps are resolved: rule priority, rule id, range.
struct Raw<'r> {
    priority: usize,
    rule: &'r str,
    start: usize,
    end: usize,
}

/// The secret inside a match: its first capture group that took part, else the whole match.
fn secret<'h>(c: &Captures<'h>) -> regex::bytes::Match<'h> {
    (1..c.len())
        .find_map(|i| c.get(i))
        .unwrap_or_else(|| c.get(0).expect("group 0 always takes part"))
}

/// Every match of `regex` in `text`, searching on from the end of each secret (a pattern may
/// consume the character after it, which can be the one before the next secret).
fn matches<'r>(
    regex: &Regex,
    text: &[u8],
    priority: usize,
    rule: &'r str,
    keep: impl Fn(&[u8]) -> bool,
    out: &mut Vec<Raw<'r>>,
) {
    let mut at = 0;
    while at <= text.len() {
        let Some(c) = regex.captures_at(text, at) else {
            break;
        };
        let whole = c.get(0).expect("group 0 always takes part");
        let s = secret(&c);
        if !s.is_empty() && keep(s.as_bytes()) {
            out.push(Raw {
                priority,
                rule,
                start: s.start(),
                end: s.end(),
            });
        }
        at = s.end().max(whole.start() + 1);
    }
}

/// Whether an assigned value passes the entropy test: long enough, letters and digits both,
/// not a placeholder, and at least `threshold` bits per byte.
fn random_enough(policy: &Policy, value: &[u8]) -> bool {
    value.len() >= policy.entropy_min_length
        && value.iter().any(u8::is_ascii_digit)
        && value.iter().any(u8::is_ascii_alphabetic)
        && !rules::placeholder(value)
        && rules::entropy(value) >= policy.entropy_threshold
}

/// Scans `text` with the built-in rules and the policy's patterns.
pub fn scan(policy: &Policy, text: &[u8]) -> Scan {
    let mut raw = Vec::new();
    for (priority, rule) in rules::builtin().iter().enumerate() {
        let id = rule.spec.id;
        if id == HIGH_ENTROPY {
            matches(
                &rule.regex,
                text,
                priority,
                id,
                |v| random_enough(policy, v),
                &mut raw,
            );
        } else {
            matches(&rule.regex, text, priority, id, |_| true, &mut raw);
        }
    }
    let base = rules::BUILTIN.len();
    for (i, p) in policy.patterns.iter().enumerate() {
        matches(&p.regex, text, base + i, &p.id, |_| true, &mut raw);
    }
    raw.retain(|r| {
        let s = &text[r.start..r.end];
        !policy.allow.iter().any(|a| a.regex.is_match(s))
    });
    // Redaction covers every match, overlapping or not.
    raw.sort_by_key(|r| (r.start, r.priority));
    let mut spans: Vec<(usize, usize, String)> = Vec::new();
    for r in &raw {
        match spans.last_mut() {
            Some(last) if r.start < last.1 => last.1 = last.1.max(r.end),
            _ => spans.push((r.start, r.end, r.rule.to_owned())),
        }
    }
    // Reported: the earlier rule wins an overlap.
    raw.sort_by_key(|r| (r.priority, r.start));
    let mut kept: Vec<&Raw<'_>> = Vec::new();
    for r in &raw {
        if !kept.iter().any(|k| r.start < k.end && k.start < r.end) {
            kept.push(r);
        }
    }
    kept.sort_by_key(|r| r.start);
    let mut lines = Lines::new(text);
    let hits = kept
        .into_iter()
        .map(|r| {
            let (line, column) = lines.at(r.start);
            Hit {
                rule: r.rule.to_owned(),
                start: r.start,
                end: r.end,
                line,
                column,
                sha256: hex::encode(Sha256::digest(&text[r.start..r.end])),
            }
        })
        .collect();
    Scan { hits, spans }
}

/// Line and column of ascending offsets, counted incrementally.
struct Lines<'t> {
    text: &'t [u8],
    offset: usize,
    line: usize,
    line_start: usize,
}

impl<'t> Lines<'t> {
    fn new(text: &'t [u8]) -> Lines<'t> {
        Lines {
            text,
            offset: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// 1-based line and byte column of `offset` (not below the previous one asked for).
    fn at(&mut self, offset: usize) -> (usize, usize) {
        for i in memchr::memchr_iter(b'\n', &self.text[self.offset..offset]) {
            self.line += 1;
            self.line_start = self.offset + i + 1;
        }
        self.offset = offset;
        (self.line, offset - self.line_start + 1)
    }
}

/// The marker that replaces a secret.
pub fn marker(rule: &str) -> String {
    format!("[REDACTED:{rule}]")
}

/// `text` with every span of `scan` replaced by its marker.
pub fn redact(text: &str, scan: &Scan) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    for (start, end, rule) in &scan.spans {
        out.extend_from_slice(&bytes[at..*start]);
        out.extend_from_slice(marker(rule).as_bytes());
        at = *end;
    }
    out.extend_from_slice(&bytes[at..]);
    // The rules match whole characters, so the spans fall on character boundaries.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_from_one() {
        let text = b"a\nbc\n\nxyz";
        let mut l = Lines::new(text);
        assert_eq!(l.at(0), (1, 1));
        assert_eq!(l.at(3), (2, 2));
        assert_eq!(l.at(6), (4, 1));
        assert_eq!(l.at(8), (4, 3));
    }

    #[test]
    fn entropy_of_uniform_and_repeated_text() {
        assert_eq!(rules::entropy(b"aaaa"), 0.0);
        assert!((rules::entropy(b"abcd") - 2.0).abs() < 1e-9);
    }
}
