//! One ledger line: its two hashes and its chain fields, read by a zero-copy scan when the line
//! is already in canonical form (every line vnx writes) and by a full Python-compatible parse
//! otherwise (lines Python VNX or other tools wrote).

use std::cmp::Ordering;
use std::ops::Range;

use sha2::{Digest, Sha256};

use super::json::{self, Mode, Value};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The all-zero hash that starts a chain (VNX's `GENESIS_HASH`).
pub const GENESIS: Hash = [0; 32];

/// Name of the VNX link: the entry hash of the previous entry.
pub const PREV_HASH: &str = "prev_hash";
/// Name of vnx's full-history link: SHA-256 of the previous line's exact bytes.
pub const PREV_LINE: &str = "prev_line_sha256";
/// Value of `type` (and `event_type`) on an epoch marker.
pub const EPOCH_MARKER: &str = "chain_epoch_start";

/// A hash-link field as found on a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// The field is not there.
    Absent,
    /// 64 lowercase hex digits.
    Hash(Hash),
    /// Present but not 64 lowercase hex digits; it can never match a hash.
    Malformed,
}

impl Link {
    pub fn is_present(self) -> bool {
        self != Link::Absent
    }
}

/// What a parseable line says about the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// VNX entry hash: SHA-256 of the canonical JSON without `prev_hash`.
    pub entry_hash: Hash,
    pub prev_hash: Link,
    pub prev_line: Link,
    /// `seq`, when it is a non-negative integer.
    pub seq: Option<u64>,
    /// Whether `type` is `chain_epoch_start`.
    pub is_marker: bool,
    /// Whether the line was already byte-for-byte canonical.
    pub canonical: bool,
}

/// Why a line is not a ledger entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineError {
    NotUtf8 { valid_up_to: usize },
    Json(json::ParseError),
    NotObject(&'static str),
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineError::NotUtf8 { valid_up_to } => {
                write!(f, "not valid UTF-8 (after byte {valid_up_to})")
            }
            LineError::Json(e) => write!(f, "invalid JSON: {e}"),
            LineError::NotObject(t) => write!(f, "valid JSON but {t}, not an object"),
        }
    }
}

/// A line's hashes and fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineFacts {
    /// SHA-256 of the line's bytes without the newline.
    pub line_hash: Hash,
    pub entry: Result<Entry, LineError>,
}

/// Reusable buffers for [`analyze`].
#[derive(Default)]
pub struct Scratch {
    canonical: Vec<u8>,
}

/// Whether a line is blank in Python's `str.strip()` sense (VNX skips such lines).
pub fn is_blank(line: &[u8]) -> bool {
    line.iter()
        .all(|b| b" \t\r\x0b\x0c\x1c\x1d\x1e\x1f".contains(b))
        || std::str::from_utf8(line).is_ok_and(|s| s.chars().all(is_python_space))
}

fn is_python_space(c: char) -> bool {
    matches!(c, '\u{1c}'..='\u{1f}') || c.is_whitespace()
}

/// Computes a line's hashes and reads its chain fields.
pub fn analyze(line: &[u8], scratch: &mut Scratch) -> LineFacts {
    if let Some(fields) = scan_canonical(line) {
        return facts_from_scan(line, &fields);
    }
    let line_hash: Hash = Sha256::digest(line).into();
    LineFacts {
        line_hash,
        entry: parse_entry(line, scratch),
    }
}

fn facts_from_scan(line: &[u8], f: &ScanFields) -> LineFacts {
    let mut hasher = Sha256::new();
    let (line_hash, entry_hash) = match &f.prev_hash_member {
        Some(cut) => {
            hasher.update(&line[..cut.start]);
            let mut entry = hasher.clone();
            hasher.update(&line[cut.start..]);
            entry.update(&line[cut.end..]);
            (hasher.finalize().into(), entry.finalize().into())
        }
        None => {
            hasher.update(line);
            let h: Hash = hasher.finalize().into();
            (h, h)
        }
    };
    let link = |r: &Option<Range<usize>>| match r {
        None => Link::Absent,
        Some(r) => parse_hex_link(&line[r.clone()]),
    };
    LineFacts {
        line_hash,
        entry: Ok(Entry {
            entry_hash,
            prev_hash: link(&f.prev_hash),
            prev_line: link(&f.prev_line),
            seq: f
                .seq
                .as_ref()
                .and_then(|r| std::str::from_utf8(&line[r.clone()]).ok()?.parse().ok()),
            is_marker: f
                .type_
                .as_ref()
                .is_some_and(|r| &line[r.clone()] == EPOCH_MARKER.as_bytes()),
            canonical: true,
        }),
    }
}

/// Parses the content of a JSON string token (without quotes) as a link.
fn parse_hex_link(raw: &[u8]) -> Link {
    if raw.len() != 64 || !raw.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Link::Malformed;
    }
    let mut h = [0u8; 32];
    match hex::decode_to_slice(raw, &mut h) {
        Ok(()) => Link::Hash(h),
        Err(_) => Link::Malformed,
    }
}

fn parse_entry(line: &[u8], scratch: &mut Scratch) -> Result<Entry, LineError> {
    let text = std::str::from_utf8(line).map_err(|e| LineError::NotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let value =
        json::parse(text.trim_matches(is_python_space), Mode::Python).map_err(LineError::Json)?;
    let Value::Object(obj) = value else {
        return Err(LineError::NotObject(value.type_name()));
    };
    scratch.canonical.clear();
    json::write_object(&obj, Some(PREV_HASH), &mut scratch.canonical);
    let link = |key: &str| match obj.get(key) {
        None => Link::Absent,
        Some(Value::Str(s)) => parse_hex_link(s),
        Some(_) => Link::Malformed,
    };
    Ok(Entry {
        entry_hash: Sha256::digest(&scratch.canonical).into(),
        prev_hash: link(PREV_HASH),
        prev_line: link(PREV_LINE),
        seq: obj.get("seq").and_then(Value::as_u64),
        is_marker: obj.get("type").and_then(Value::as_str) == Some(EPOCH_MARKER),
        canonical: false,
    })
}

/// Byte ranges of the top-level members a verifier needs, found by [`scan_canonical`].
#[derive(Default, Debug)]
struct ScanFields {
    /// The `prev_hash` member with one adjacent comma: cutting it out leaves the canonical
    /// text the VNX entry hash covers.
    prev_hash_member: Option<Range<usize>>,
    prev_hash: Option<Range<usize>>,
    prev_line: Option<Range<usize>>,
    seq: Option<Range<usize>>,
    type_: Option<Range<usize>>,
}

/// Checks that a line is exactly the canonical form of its own value and finds the chain
/// fields, without allocating. `None` means "not canonical": take the parsing path.
fn scan_canonical(line: &[u8]) -> Option<ScanFields> {
    let mut s = Scanner { s: line, i: 0 };
    let mut fields = ScanFields::default();
    s.object(0, Some(&mut fields))?;
    (s.i == line.len()).then_some(fields)
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

/// Nesting the scanner follows; the same limit as the parser, so every value the parser
/// accepts can be recognised as canonical.
const MAX_SCAN_DEPTH: usize = json::MAX_DEPTH;

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(depth + 1, None),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'N' => self.literal(b"NaN"),
            b'I' => self.literal(b"Infinity"),
            b'-' if self.s[self.i..].starts_with(b"-Infinity") => self.literal(b"-Infinity"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        self.s[self.i..]
            .starts_with(lit)
            .then(|| self.i += lit.len())
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_SCAN_DEPTH {
            return None;
        }
        self.i += 1;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.value(depth)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn object(&mut self, depth: usize, mut top: Option<&mut ScanFields>) -> Option<()> {
        if depth > MAX_SCAN_DEPTH || self.peek()? != b'{' {
            return None;
        }
        self.i += 1;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        let mut prev_key: Option<Range<usize>> = None;
        loop {
            let member_start = self.i;
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            if let Some(prev) = &prev_key
                && key_order(&self.s[prev.clone()], &self.s[key.clone()]) != Ordering::Less
            {
                return None;
            }
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            let value_start = self.i;
            self.value(depth)?;
            let value_end = self.i;
            if let Some(f) = top.as_deref_mut() {
                let string_value = || {
                    (value_end - value_start >= 2 && self.s[value_start] == b'"')
                        .then(|| value_start + 1..value_end - 1)
                };
                match &self.s[key.clone()] {
                    b"prev_hash" => {
                        fields_prev_hash(f, string_value(), member_start, value_end, self.s)
                    }
                    b"prev_line_sha256" => {
                        f.prev_line = Some(string_value().unwrap_or(value_start..value_end))
                    }
                    b"seq" => f.seq = Some(value_start..value_end),
                    b"type" => f.type_ = Some(string_value().unwrap_or(value_start..value_end)),
                    _ => {}
                }
            }
            prev_key = Some(key);
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Scans a canonical string token, returning the range of its content.
    fn string(&mut self) -> Option<Range<usize>> {
        let s = self.s;
        self.i += 1;
        let start = self.i;
        loop {
            // Printable ASCII other than '"' and '\' is written raw in canonical form.
            while let Some(&b) = s.get(self.i) {
                if !(0x20..=0x7E).contains(&b) || b == b'"' || b == b'\\' {
                    break;
                }
                self.i += 1;
            }
            match s.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(start..self.i - 1);
                }
                b'\\' => {
                    match s.get(self.i + 1)? {
                        b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f' => self.i += 2,
                        b'u' => {
                            let h = s.get(self.i + 2..self.i + 6)?;
                            if !h.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                                return None;
                            }
                            let cp = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
                            // Python writes these raw or with a short escape.
                            if (0x20..=0x7E).contains(&cp)
                                || matches!(cp, 0x08 | 0x09 | 0x0A | 0x0C | 0x0D)
                            {
                                return None;
                            }
                            self.i += 6;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    fn number(&mut self) -> Option<()> {
        let s = self.s;
        let start = self.i;
        let mut i = self.i;
        if s.get(i) == Some(&b'-') {
            i += 1;
        }
        match s.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                while let Some(b'0'..=b'9') = s.get(i) {
                    i += 1;
                }
            }
            _ => return None,
        }
        let int_end = i;
        while let Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') = s.get(i) {
            i += 1;
        }
        self.i = i;
        let token = &s[start..i];
        if i == int_end {
            // Python prints the integer zero as "0", never "-0".
            return (token != b"-0").then_some(());
        }
        // A float is canonical when it is exactly Python's repr of itself.
        let text = std::str::from_utf8(token).ok()?;
        if !text.contains(['.', 'e']) || text.contains('E') {
            return None;
        }
        let f: f64 = text.parse().ok()?;
        let mut buf = Vec::with_capacity(32);
        json::write_float(f, &mut buf);
        (buf == token).then_some(())
    }
}

fn fields_prev_hash(
    f: &mut ScanFields,
    value: Option<Range<usize>>,
    member_start: usize,
    value_end: usize,
    s: &[u8],
) {
    f.prev_hash = Some(value.unwrap_or(member_start..member_start));
    // Cut the member together with the comma before it, or after it when it comes first.
    f.prev_hash_member = Some(if s[member_start - 1] == b',' {
        member_start - 1..value_end
    } else if s.get(value_end) == Some(&b',') {
        member_start..value_end + 1
    } else {
        member_start..value_end
    });
}

/// Compares two canonical key tokens by the code points they denote.
fn key_order(a: &[u8], b: &[u8]) -> Ordering {
    if !a.contains(&b'\\') && !b.contains(&b'\\') {
        return a.cmp(b);
    }
    unescape(a).cmp(&unescape(b))
}

/// Decodes a canonical string token's content to WTF-8.
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    match std::str::from_utf8(&quoted)
        .ok()
        .and_then(|t| json::parse(t, Mode::Python).ok())
    {
        Some(Value::Str(s)) => s.into_owned(),
        _ => raw.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_of(h: &Hash) -> String {
        hex::encode(h)
    }

    #[test]
    fn brief_vectors_hash_on_both_paths() {
        let marker = br#"{"type":"chain_epoch_start","epoch":1,"epoch_ts":"2026-08-20T00:00:00+00:00","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
        let facts = analyze(marker, &mut Scratch::default());
        let e = facts.entry.unwrap();
        assert!(!e.canonical);
        assert!(e.is_marker);
        assert_eq!(
            hex_of(&e.entry_hash),
            "b4bed10a661be0493699c920996c4a1223484f17f3d6211cd0090a1d6a5f41c5"
        );
        let canonical = br#"{"epoch":1,"epoch_ts":"2026-08-20T00:00:00+00:00","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","type":"chain_epoch_start"}"#;
        let e2 = analyze(canonical, &mut Scratch::default()).entry.unwrap();
        assert!(e2.canonical);
        assert_eq!(e2.entry_hash, e.entry_hash);
        assert_eq!(e2.prev_hash, Link::Hash(GENESIS));
    }

    #[test]
    fn scan_rejects_non_canonical_forms() {
        for line in [
            r#"{"b":1,"a":2}"#,
            r#"{"a": 1}"#,
            r#"{"a":1.50}"#,
            r#"{"a":1E5}"#,
            r#"{"a":"\u0041"}"#,
            r#"{"a":"\u00E9"}"#,
            r#"{"a":"\/"}"#,
            r#"{"a":-0}"#,
            r#"{"a":1,"a":1}"#,
            "{\"a\":\"\u{e9}\"}",
        ] {
            assert!(scan_canonical(line.as_bytes()).is_none(), "{line}");
        }
        for line in [
            r#"{"a":1.5,"b":[1,{"c":null}],"d":"\u00e9\ud83d\ude00","e":1e+16}"#,
            r#"{"\u00e9":1,"z":2}"#.replace("\"\\u00e9\":1,\"z\":2", "\"z\":2,\"\\u00e9\":1").as_str(),
        ] {
            assert!(scan_canonical(line.as_bytes()).is_some(), "{line}");
        }
    }
}
