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
    /// Whether the line has the link at all.
    pub fn is_present(self) -> bool {
        self != Link::Absent
    }
}

/// What a parseable line says about the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// VNX entry hash: SHA-256 of the canonical JSON without `prev_hash`.
    pub entry_hash: Hash,
    /// Its `prev_hash`: the previous entry's hash.
    pub prev_hash: Link,
    /// Its `prev_line_sha256`: the previous line's hash (vnx lines only).
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
    /// The bytes are not UTF-8.
    NotUtf8 {
        /// How many bytes are valid.
        valid_up_to: usize,
    },
    /// The text is not JSON.
    Json(json::ParseError),
    /// The JSON is not an object; the name of what it is.
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
    /// What the line says about the chain, or why it says nothing.
    pub entry: Result<Entry, LineError>,
}

/// Reusable buffers for [`analyze`].
#[derive(Default)]
pub struct Scratch {
    canonical: Vec<u8>,
    float: Vec<u8>,
}

/// Whether a line is blank in Python's `str.strip()` sense (VNX skips such lines).
pub fn is_blank(line: &[u8]) -> bool {
    for (i, &b) in line.iter().enumerate() {
        match b {
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f => {}
            // Other ASCII (a line's usual first byte, `{`) is not space.
            0..0x80 => return false,
            // Non-ASCII: Unicode spaces such as U+00A0 or U+3000.
            _ => {
                return std::str::from_utf8(&line[i..])
                    .is_ok_and(|rest| rest.chars().all(is_python_space));
            }
        }
    }
    true
}

fn is_python_space(c: char) -> bool {
    matches!(c, '\u{1c}'..='\u{1f}') || c.is_whitespace()
}

/// Computes a line's hashes and reads its chain fields.
pub fn analyze(line: &[u8], scratch: &mut Scratch) -> LineFacts {
    if let Some(fields) = scan_canonical(line, &mut scratch.float) {
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
            seq: f.seq.as_ref().and_then(|r| parse_u64(&line[r.clone()])),
            is_marker: f
                .type_
                .as_ref()
                .is_some_and(|r| &line[r.clone()] == EPOCH_MARKER.as_bytes()),
            canonical: true,
        }),
    }
}

/// A canonical non-negative integer token (the scanner already checked its form).
fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
            .flatten()
    })
}

/// Parses the content of a JSON string token (without quotes) as a link.
fn parse_hex_link(raw: &[u8]) -> Link {
    let Ok(raw) = <&[u8; 64]>::try_from(raw) else {
        return Link::Malformed;
    };
    match decode_lower_hex(raw) {
        Some(h) => Link::Hash(h),
        None => Link::Malformed,
    }
}

/// Nibble values of lowercase hex digits; 0xFF for every other byte.
const NIBBLE: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Decodes 64 lowercase hex digits without branching per digit; `None` if any is not one.
fn decode_lower_hex(raw: &[u8; 64]) -> Option<Hash> {
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(raw.chunks_exact(2)) {
        let hi = NIBBLE[pair[0] as usize];
        let lo = NIBBLE[pair[1] as usize];
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0F);
    }
    // Valid nibbles are below 16; 0xFF marks a bad digit.
    (bad & 0xF0 == 0).then_some(out)
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
fn scan_canonical(line: &[u8], float: &mut Vec<u8>) -> Option<ScanFields> {
    // Canonical text is printable ASCII throughout; checking that once, in a loop the compiler
    // vectorises, leaves strings only '"' and '\\' to look for.
    if !printable_ascii(line) {
        return None;
    }
    let mut s = Scanner {
        s: line,
        i: 0,
        float,
    };
    let mut fields = ScanFields::default();
    // Depth counts like the parser's: the line's own object is level 1.
    s.object(1, Some(&mut fields))?;
    (s.i == line.len()).then_some(fields)
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
    /// Reused buffer for re-printing floats.
    float: &'a mut Vec<u8>,
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
                    // A non-string link is malformed (an empty range), as on the parsing path.
                    b"prev_line_sha256" => {
                        f.prev_line = Some(string_value().unwrap_or(value_start..value_start))
                    }
                    b"seq" => f.seq = Some(value_start..value_end),
                    b"type" => f.type_ = Some(string_value().unwrap_or(value_start..value_start)),
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
            // The line is printable ASCII (checked up front), so only a quote or a backslash
            // stops a string: look at eight bytes at a time, the first match's bit names it.
            let mut found = false;
            while let Some(word) = s.get(self.i..self.i + 8) {
                let mask =
                    quote_or_backslash(u64::from_le_bytes(word.try_into().unwrap_or_default()));
                if mask != 0 {
                    self.i += (mask.trailing_zeros() / 8) as usize;
                    found = true;
                    break;
                }
                self.i += 8;
            }
            while !found && let Some(&b) = s.get(self.i) {
                if b == b'"' || b == b'\\' {
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
                            // Four lowercase hex digits, checked just above.
                            let cp = h
                                .iter()
                                .fold(0u32, |cp, &b| cp << 4 | u32::from(NIBBLE[usize::from(b)]));
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
        if !token.iter().any(|&b| b == b'.' || b == b'e') || token.contains(&b'E') {
            return None;
        }
        let text = std::str::from_utf8(token).ok()?;
        let f: f64 = text.parse().ok()?;
        self.float.clear();
        json::write_float(f, self.float);
        (self.float.as_slice() == token).then_some(())
    }
}

/// A mask whose lowest set bit is the high bit of the first byte of `w` (read little-endian)
/// that is `"` or `\`; zero when there is none. (SWAR: a byte above the first match may be
/// flagged falsely, the first never is.)
fn quote_or_backslash(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    has_zero(w ^ (ONES * u64::from(b'"'))) | has_zero(w ^ (ONES * u64::from(b'\\')))
}

/// Whether every byte is printable ASCII (0x20..=0x7E).
fn printable_ascii(line: &[u8]) -> bool {
    line.chunks(64).all(|chunk| {
        chunk
            .iter()
            .fold(0u8, |bad, &b| bad | u8::from(b.wrapping_sub(0x20) > 0x5E))
            == 0
    })
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
    // Keys are short: an inline loop beats calls to memchr and memcmp. Up to the first
    // difference or escape the bytes are the code points; an escape needs decoding.
    for (x, y) in a.iter().zip(b) {
        if *x == b'\\' || *y == b'\\' {
            return unescape(a).cmp(&unescape(b));
        }
        if x != y {
            return x.cmp(y);
        }
    }
    // One is a prefix of the other, without escapes: the longer decodes to more.
    a.len().cmp(&b.len())
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
    fn quote_and_backslash_detection_finds_the_first_of_any_byte_pair() {
        let special = |b: u8| b == b'"' || b == b'\\';
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for pos in [0, 3, 6] {
                    let mut word = [b'a'; 8];
                    word[pos] = a;
                    word[pos + 1] = b;
                    let first = word.iter().position(|&c| special(c));
                    let mask = quote_or_backslash(u64::from_le_bytes(word));
                    let found = (mask != 0).then(|| (mask.trailing_zeros() / 8) as usize);
                    assert_eq!(found, first, "{a:#x} {b:#x} at {pos}");
                }
            }
        }
    }

    #[test]
    fn printable_ascii_is_exactly_0x20_to_0x7e() {
        for b in 0..=255u8 {
            for len in [1, 63, 64, 65, 130] {
                let mut line = vec![b'a'; len];
                line[len / 2] = b;
                assert_eq!(printable_ascii(&line), (0x20..=0x7E).contains(&b), "{b:#x}");
            }
        }
    }

    #[test]
    fn hex_links_decode_only_lowercase_hex() {
        let h: Hash = std::array::from_fn(|i| (i * 37) as u8);
        let text = hex::encode(h);
        assert_eq!(parse_hex_link(text.as_bytes()), Link::Hash(h));
        assert_eq!(
            parse_hex_link(text.to_uppercase().as_bytes()),
            Link::Malformed
        );
        assert_eq!(parse_hex_link(&text.as_bytes()[1..]), Link::Malformed);
        for bad in [b'g', b'G', b' ', b'/', b':', b'`', 0xFF] {
            let mut t = text.clone().into_bytes();
            t[17] = bad;
            assert_eq!(parse_hex_link(&t), Link::Malformed, "{bad:#x}");
        }
    }

    #[test]
    fn blank_lines_follow_python_strip() {
        assert!(is_blank(b""));
        assert!(is_blank(b" \t\r\x0b\x0c\x1c"));
        assert!(is_blank("\u{a0}\u{3000} ".as_bytes()));
        assert!(!is_blank(b" {}"));
        assert!(!is_blank("\u{a0}x".as_bytes()));
        assert!(!is_blank(b"\xff"));
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
            assert!(
                scan_canonical(line.as_bytes(), &mut Vec::new()).is_none(),
                "{line}"
            );
        }
        for line in [
            r#"{"a":1.5,"b":[1,{"c":null}],"d":"\u00e9\ud83d\ude00","e":1e+16}"#,
            r#"{"\u00e9":1,"z":2}"#.replace("\"\\u00e9\":1,\"z\":2", "\"z\":2,\"\\u00e9\":1").as_str(),
        ] {
            assert!(scan_canonical(line.as_bytes(), &mut Vec::new()).is_some(), "{line}");
        }
    }
}
