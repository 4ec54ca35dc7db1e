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

/// Scans `text` with the built-in rules and the policy's patterns. A secret broken up by
/// zero-width characters or spelled with escapes (`%5F`, `\u005f` for `_`, `%2D`, `\u002d`
/// for `-`) is found too: the rules run on the text with those folded, and what they find is
/// mapped back onto the text as given (so redaction covers the whole disguised secret).
pub fn scan(policy: &Policy, text: &[u8]) -> Scan {
    let Some(folded) = Folded::of(text) else {
        return scan_plain(policy, text);
    };
    let found = scan_plain(policy, &folded.text);
    let back = |start: usize, end: usize| (folded.map[start], folded.map[end]);
    let spans = found
        .spans
        .into_iter()
        .map(|(start, end, rule)| {
            let (start, end) = back(start, end);
            (start, end, rule)
        })
        .collect();
    let mut lines = Lines::new(text);
    let hits = found
        .hits
        .into_iter()
        .map(|h| {
            let (start, end) = back(h.start, h.end);
            let (line, column) = lines.at(start);
            Hit {
                start,
                end,
                line,
                column,
                ..h
            }
        })
        .collect();
    Scan { hits, spans }
}

/// A text with zero-width characters removed and escaped `_` and `-` unescaped, and where
/// each of its bytes came from: `map[i]` is the offset in the original of folded byte `i`,
/// `map[len]` the original's length.
struct Folded {
    text: Vec<u8>,
    map: Vec<usize>,
}

/// Sequences dropped (zero-width space, non-joiner, joiner, word joiner, BOM) or replaced.
const FOLDS: &[(&[u8], &[u8])] = &[
    ("\u{200b}".as_bytes(), b""),
    ("\u{200c}".as_bytes(), b""),
    ("\u{200d}".as_bytes(), b""),
    ("\u{2060}".as_bytes(), b""),
    ("\u{feff}".as_bytes(), b""),
    (b"%5F", b"_"),
    (b"%5f", b"_"),
    (b"%2D", b"-"),
    (b"%2d", b"-"),
    (b"\\u005f", b"_"),
    (b"\\u005F", b"_"),
    (b"\\u002d", b"-"),
    (b"\\u002D", b"-"),
];

impl Folded {
    /// `None` when there is nothing to fold (the common case costs one search per form).
    fn of(text: &[u8]) -> Option<Folded> {
        if !FOLDS
            .iter()
            .any(|(from, _)| memchr::memmem::find(text, from).is_some())
        {
            return None;
        }
        let mut out = Vec::with_capacity(text.len());
        let mut map = Vec::with_capacity(text.len() + 1);
        let mut i = 0;
        while i < text.len() {
            match FOLDS.iter().find(|(from, _)| text[i..].starts_with(from)) {
                Some((from, to)) => {
                    for b in *to {
                        out.push(*b);
                        map.push(i);
                    }
                    i += from.len();
                }
                None => {
                    out.push(text[i]);
                    map.push(i);
                    i += 1;
                }
            }
        }
        map.push(text.len());
        Some(Folded { text: out, map })
    }
}

fn scan_plain(policy: &Policy, text: &[u8]) -> Scan {
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
