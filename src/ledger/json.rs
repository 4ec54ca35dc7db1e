//! Python-compatible JSON values: a parser (strict for new receipts, lenient for ledgers that
//! Python VNX wrote) and the canonical serializer whose bytes the VNX entry hash covers.
//!
//! Canonical form is exactly what CPython prints for
//! `json.dumps(obj, sort_keys=True, separators=(",", ":"))`: keys sorted by code point,
//! everything outside printable ASCII escaped as lowercase `\uXXXX` (surrogate pairs above
//! U+FFFF), floats in Python `repr` form and integers of any size, exactly.
//!
//! Strings are held as WTF-8 (UTF-8 that may also encode lone surrogates), because Python
//! accepts `"\ud800"` and VNX ledgers may contain it. Byte order of WTF-8 is code-point order,
//! which is Python's key order.

use std::borrow::Cow;
use std::fmt;

/// How forgiving the parser is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// RFC 8259 JSON as vnx accepts it for new receipts: no `NaN`/`Infinity`, no lone
    /// surrogates, no duplicate keys.
    Strict,
    /// What CPython's `json.loads` accepts: `NaN`, `Infinity`, `-Infinity`, lone surrogates,
    /// duplicate keys (the last one wins).
    Python,
}

/// A parsed JSON value. Borrowed from the input where no unescaping was needed.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer, as its canonical decimal text (any size).
    Int(Cow<'a, str>),
    /// A number with a fraction or an exponent.
    Float(f64),
    /// A string as WTF-8 bytes.
    Str(Cow<'a, [u8]>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object.
    Object(Object<'a>),
}

/// An object with unique keys sorted by code point.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Object<'a> {
    members: Vec<(Cow<'a, [u8]>, Value<'a>)>,
}

impl<'a> Object<'a> {
    /// Builds an object from members in any order; with duplicate keys the last one wins.
    pub fn from_members(members: Vec<(Cow<'a, [u8]>, Value<'a>)>) -> Self {
        Object::sorted(members).0
    }

    /// Sorts members by key, keeping the last of any duplicates; also returns the first
    /// duplicated key, if any.
    fn sorted(mut members: Vec<(Cow<'a, [u8]>, Value<'a>)>) -> (Self, Option<Vec<u8>>) {
        // A stable sort keeps duplicates in input order, so the last of a run is the winner.
        members.sort_by(|a, b| a.0.cmp(&b.0));
        let mut duplicate = None;
        members.dedup_by(|later, earlier| {
            if later.0 != earlier.0 {
                return false;
            }
            duplicate.get_or_insert_with(|| earlier.0.to_vec());
            std::mem::swap(later, earlier);
            true
        });
        (Object { members }, duplicate)
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.members
            .binary_search_by(|(k, _)| k.as_ref().cmp(key.as_bytes()))
            .ok()
            .map(|i| &self.members[i].1)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`, replacing any existing value.
    pub fn insert(&mut self, key: &str, value: Value<'a>) {
        match self
            .members
            .binary_search_by(|(k, _)| k.as_ref().cmp(key.as_bytes()))
        {
            Ok(i) => self.members[i].1 = value,
            Err(i) => self
                .members
                .insert(i, (Cow::Owned(key.as_bytes().to_vec()), value)),
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value<'a>> {
        self.members
            .binary_search_by(|(k, _)| k.as_ref().cmp(key.as_bytes()))
            .ok()
            .map(|i| self.members.remove(i).1)
    }

    /// Members in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Value<'a>)> {
        self.members.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// How many members it has.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether it has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Copies every borrowed part so the object outlives its input.
    pub fn into_owned(self) -> Object<'static> {
        Object {
            members: self
                .members
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                .collect(),
        }
    }
}

impl<'a> Value<'a> {
    /// A string value from Rust text.
    pub fn string(s: impl Into<String>) -> Value<'static> {
        Value::Str(Cow::Owned(s.into().into_bytes()))
    }

    /// An integer value.
    pub fn int(n: impl Into<i128>) -> Value<'static> {
        Value::Int(Cow::Owned(n.into().to_string()))
    }

    /// The string as UTF-8 text, when it is a string without lone surrogates.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => std::str::from_utf8(s).ok(),
            _ => None,
        }
    }

    /// The integer, when it is one that fits in a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Int(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// The object, when it is one.
    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// A short name of the value's JSON type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    /// Copies every borrowed part so the value outlives its input.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(s) => Value::Int(Cow::Owned(s.into_owned())),
            Value::Float(f) => Value::Float(f),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Array(a) => Value::Array(a.into_iter().map(Value::into_owned).collect()),
            Value::Object(o) => Value::Object(o.into_owned()),
        }
    }
}

/// Why a text is not JSON (of the accepted kind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the problem in the input.
    pub offset: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 512;

/// One ledger line as a JSON object (Python's reading of numbers, as the ledger's own), or
/// `None` for a line that is not UTF-8 or not an object.
pub fn object_of_line(line: &[u8]) -> Option<Object<'static>> {
    match parse(std::str::from_utf8(line).ok()?.trim(), Mode::Python).ok()? {
        Value::Object(o) => Some(o.into_owned()),
        _ => None,
    }
}

/// Parses one JSON text (surrounding JSON whitespace allowed).
pub fn parse(input: &str, mode: Mode) -> Result<Value<'_>, ParseError> {
    let mut p = Parser {
        s: input.as_bytes(),
        src: input,
        i: 0,
        mode,
        depth: 0,
    };
    p.skip_ws();
    let v = p.value()?;
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(p.err("extra data after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    mode: Mode,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            offset: self.i,
            message: message.into(),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Value<'a>, ParseError> {
        match self.s.get(self.i) {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b't') if self.eat("true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(Value::Bool(false)),
            Some(b'n') if self.eat("null") => Ok(Value::Null),
            Some(b'N') if self.mode == Mode::Python && self.eat("NaN") => {
                Ok(Value::Float(f64::NAN))
            }
            Some(b'I') if self.mode == Mode::Python && self.eat("Infinity") => {
                Ok(Value::Float(f64::INFINITY))
            }
            Some(b'-')
                if self.mode == Mode::Python && self.s[self.i..].starts_with(b"-Infinity") =>
            {
                self.i += "-Infinity".len();
                Ok(Value::Float(f64::NEG_INFINITY))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'N' | b'I') => Err(self.err("NaN and Infinity are not JSON")),
            Some(_) => Err(self.err("expected a JSON value")),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Value<'a>, ParseError> {
        self.enter()?;
        let start = self.i;
        self.i += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(Value::Object(Object::default()));
        }
        loop {
            self.skip_ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.err("expected a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.s.get(self.i) != Some(&b':') {
                return Err(self.err("expected ':' after an object key"));
            }
            self.i += 1;
            self.skip_ws();
            let value = self.value()?;
            members.push((key, value));
            self.skip_ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(self.err("expected ',' or '}' in an object")),
            }
        }
        self.depth -= 1;
        let (object, duplicate) = Object::sorted(members);
        if let Some(key) = duplicate
            && self.mode == Mode::Strict
        {
            return Err(ParseError {
                offset: start,
                message: format!("duplicate key {} in the object", quote_wtf8(&key)),
            });
        }
        Ok(Value::Object(object))
    }

    fn array(&mut self) -> Result<Value<'a>, ParseError> {
        self.enter()?;
        self.i += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(self.err("expected ',' or ']' in an array")),
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    fn number(&mut self) -> Result<Value<'a>, ParseError> {
        let start = self.i;
        let s = self.s;
        let mut i = self.i;
        if s.get(i) == Some(&b'-') {
            i += 1;
        }
        match s.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = s.get(i) {
                    i += 1;
                }
            }
            _ => {
                self.i = i;
                return Err(self.err("expected a digit"));
            }
        }
        let mut is_float = false;
        if s.get(i) == Some(&b'.') && matches!(s.get(i + 1), Some(b'0'..=b'9')) {
            is_float = true;
            i += 1;
            while let Some(b'0'..=b'9') = s.get(i) {
                i += 1;
            }
        }
        if let Some(b'e' | b'E') = s.get(i) {
            let mut j = i + 1;
            if let Some(b'+' | b'-') = s.get(j) {
                j += 1;
            }
            if matches!(s.get(j), Some(b'0'..=b'9')) {
                is_float = true;
                i = j;
                while let Some(b'0'..=b'9') = s.get(i) {
                    i += 1;
                }
            }
        }
        self.i = i;
        let text = &self.src[start..i];
        if is_float {
            let f: f64 = text.parse().map_err(|_| self.err("unparseable number"))?;
            if !f.is_finite() && self.mode == Mode::Strict {
                return Err(self.err("number out of range for a 64-bit float"));
            }
            Ok(Value::Float(f))
        } else if text == "-0" {
            // Python reads -0 as the integer 0.
            Ok(Value::Int(Cow::Borrowed("0")))
        } else {
            Ok(Value::Int(Cow::Borrowed(text)))
        }
    }

    /// Parses a string starting at the opening quote into WTF-8.
    fn string(&mut self) -> Result<Cow<'a, [u8]>, ParseError> {
        self.i += 1;
        let start = self.i;
        let s = self.s;
        // Fast path: no escapes.
        let mut i = start;
        while i < s.len() {
            match s[i] {
                b'"' => {
                    self.i = i + 1;
                    return Ok(Cow::Borrowed(&s[start..i]));
                }
                b'\\' => break,
                0..=0x1f => {
                    self.i = i;
                    return Err(self.err("control character in a string"));
                }
                _ => i += 1,
            }
        }
        let mut out = s[start..i].to_vec();
        loop {
            let Some(&b) = s.get(i) else {
                self.i = i;
                return Err(self.err("unterminated string"));
            };
            match b {
                b'"' => {
                    self.i = i + 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    let Some(&e) = s.get(i + 1) else {
                        self.i = i;
                        return Err(self.err("unterminated string"));
                    };
                    i += 2;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let Some(cp) = hex4(s, i) else {
                                self.i = i;
                                return Err(self.err("invalid \\u escape"));
                            };
                            i += 4;
                            let mut cp = cp;
                            if (0xD800..0xDC00).contains(&cp)
                                && s.get(i) == Some(&b'\\')
                                && s.get(i + 1) == Some(&b'u')
                                && let Some(lo) = hex4(s, i + 2)
                                && (0xDC00..0xE000).contains(&lo)
                            {
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                i += 6;
                            }
                            if (0xD800..0xE000).contains(&cp) && self.mode == Mode::Strict {
                                self.i = i;
                                return Err(self.err("lone surrogate in a string"));
                            }
                            push_wtf8(&mut out, cp);
                        }
                        _ => {
                            self.i = i - 1;
                            return Err(self.err("invalid escape"));
                        }
                    }
                }
                0..=0x1f => {
                    self.i = i;
                    return Err(self.err("control character in a string"));
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
        }
    }
}

fn hex4(s: &[u8], i: usize) -> Option<u32> {
    let h = s.get(i..i + 4)?;
    let mut v = 0u32;
    for &c in h {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// Appends a code point (surrogates included) in generalised UTF-8.
pub fn push_wtf8(out: &mut Vec<u8>, cp: u32) {
    if cp < 0x80 {
        out.push(cp as u8);
    } else if cp < 0x800 {
        out.extend_from_slice(&[0xC0 | (cp >> 6) as u8, 0x80 | (cp & 0x3F) as u8]);
    } else if cp < 0x10000 {
        out.extend_from_slice(&[
            0xE0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3F) as u8,
            0x80 | (cp & 0x3F) as u8,
        ]);
    } else {
        out.extend_from_slice(&[
            0xF0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3F) as u8,
            0x80 | ((cp >> 6) & 0x3F) as u8,
            0x80 | (cp & 0x3F) as u8,
        ]);
    }
}

/// Decodes the code point at `s[i..]` of a WTF-8 string, returning it and its length.
fn next_code_point(s: &[u8], i: usize) -> (u32, usize) {
    let b0 = s[i] as u32;
    let cont = |k: usize| s.get(i + k).map_or(0, |&b| (b & 0x3F) as u32);
    if b0 < 0x80 {
        (b0, 1)
    } else if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | cont(1), 2)
    } else if b0 < 0xF0 {
        (((b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        (
            ((b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
            4,
        )
    }
}

fn quote_wtf8(s: &[u8]) -> String {
    let mut out = Vec::new();
    write_string(s, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_u_escape(out: &mut Vec<u8>, unit: u32) {
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[(unit >> 12) as usize & 0xF],
        HEX[(unit >> 8) as usize & 0xF],
        HEX[(unit >> 4) as usize & 0xF],
        HEX[unit as usize & 0xF],
    ]);
}

/// Writes a WTF-8 string as Python's `ensure_ascii` encoder does, quotes included.
pub fn write_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut i = 0;
    while i < s.len() {
        // Copy the longest run that needs no escaping in one go.
        let run = s[i..]
            .iter()
            .position(|&b| !(0x20..=0x7E).contains(&b) || b == b'"' || b == b'\\')
            .unwrap_or(s.len() - i);
        out.extend_from_slice(&s[i..i + run]);
        i += run;
        if i >= s.len() {
            break;
        }
        let (cp, len) = next_code_point(s, i);
        i += len;
        match cp {
            0x22 => out.extend_from_slice(b"\\\""),
            0x5C => out.extend_from_slice(b"\\\\"),
            0x0A => out.extend_from_slice(b"\\n"),
            0x0D => out.extend_from_slice(b"\\r"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            0x10000.. => {
                let v = cp - 0x10000;
                push_u_escape(out, 0xD800 | (v >> 10));
                push_u_escape(out, 0xDC00 | (v & 0x3FF));
            }
            _ => push_u_escape(out, cp),
        }
    }
    out.push(b'"');
}

/// Writes a float as Python's `float.__repr__` (and so `json.dumps`) does.
pub fn write_float(f: f64, out: &mut Vec<u8>) {
    if f.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"Infinity" } else { b"-Infinity" });
        return;
    }
    if f.is_sign_negative() {
        out.push(b'-');
    }
    let a = f.abs();
    if a == 0.0 {
        out.extend_from_slice(b"0.0");
        return;
    }
    // Python's repr: the fewest digits that round-trip, the nearest to the exact value, ties to
    // even; Ryu computes exactly that. Only its layout differs, so take its digits and the
    // decimal point's position and lay them out Python's way.
    let mut ryu = ryu::Buffer::new();
    let (digits, len, decpt) = shortest_digits(ryu.format_finite(a));
    let digits = &digits[..len];
    // Python's decpt: the value is 0.d1d2... x 10^decpt.
    if decpt <= -4 || decpt > 16 {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let e = decpt - 1;
        out.push(b'e');
        out.push(if e < 0 { b'-' } else { b'+' });
        let e = e.unsigned_abs();
        if e >= 100 {
            out.push(b'0' + (e / 100) as u8);
        }
        out.push(b'0' + (e / 10 % 10) as u8);
        out.push(b'0' + (e % 10) as u8);
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', decpt.unsigned_abs() as usize));
        out.extend_from_slice(digits);
    } else {
        let d = decpt as usize;
        if d >= digits.len() {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', d - digits.len()));
            out.extend_from_slice(b".0");
        } else {
            out.extend_from_slice(&digits[..d]);
            out.push(b'.');
            out.extend_from_slice(&digits[d..]);
        }
    }
}

/// Reads Ryu's output for a positive float as significant digits (no leading or trailing
/// zeros) and the decimal point's position `decpt` (value = 0.d1d2... x 10^decpt).
fn shortest_digits(text: &str) -> ([u8; 24], usize, i32) {
    let (mantissa, exp) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let int_len = mantissa.find('.').unwrap_or(mantissa.len()) as i32;
    let mut digits = [0u8; 24];
    let mut len = 0;
    let mut decpt = int_len + exp;
    for b in mantissa.bytes().filter(u8::is_ascii_digit) {
        if len == 0 && b == b'0' {
            decpt -= 1;
            continue;
        }
        if len < digits.len() {
            digits[len] = b;
            len += 1;
        }
    }
    while len > 1 && digits[len - 1] == b'0' {
        len -= 1;
    }
    (digits, len, decpt)
}

/// Writes a value in canonical form.
pub fn write_canonical(v: &Value<'_>, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(s) => out.extend_from_slice(s.as_bytes()),
        Value::Float(f) => write_float(*f, out),
        Value::Str(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(o) => write_object(o, None, out),
    }
}

/// Writes an object in canonical form, leaving out the member named `skip`.
pub fn write_object(o: &Object<'_>, skip: Option<&str>, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    for (k, v) in o.iter() {
        if skip.is_some_and(|s| s.as_bytes() == k) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_string(k, out);
        out.push(b':');
        write_canonical(v, out);
    }
    out.push(b'}');
}

/// The canonical text of a value.
pub fn to_canonical(v: &Value<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        String::from_utf8(to_canonical(&parse(s, Mode::Python).unwrap())).unwrap()
    }

    #[test]
    fn floats_match_python_repr() {
        for (input, want) in [
            ("1e16", "1e+16"),
            ("1.5e-5", "1.5e-05"),
            ("100.0", "100.0"),
            ("-0.0", "-0.0"),
            ("0.0001", "0.0001"),
            ("0.00001", "1e-05"),
            ("1e15", "1000000000000000.0"),
            ("5e-324", "5e-324"),
            ("1e400", "Infinity"),
            ("42.94", "42.94"),
            ("1e22", "1e+22"),
            ("123456789012345678.0", "1.2345678901234568e+17"),
            // A tie between two shortest candidates: CPython rounds half to even.
            ("1504153640873121.25", "1504153640873121.2"),
        ] {
            assert_eq!(canon(input), want, "{input}");
        }
    }

    #[test]
    fn strings_escape_as_python() {
        assert_eq!(canon(r#""café ✓""#), r#""caf\u00e9 \u2713""#);
        assert_eq!(canon("\"\u{1F600}\""), r#""\ud83d\ude00""#);
        assert_eq!(canon(r#""\ud800""#), r#""\ud800""#);
        assert_eq!(canon("\"\u{7f}\""), r#""\u007f""#);
        assert_eq!(canon(r#""\u0001\n\/""#), r#""\u0001\n/""#);
    }

    #[test]
    fn keys_sort_by_code_point_and_last_duplicate_wins() {
        assert_eq!(
            canon("{\"\u{1F600}\":1,\"\u{E000}\":2,\"a\":1,\"a\":3}"),
            r#"{"a":3,"\ue000":2,"\ud83d\ude00":1}"#
        );
    }

    #[test]
    fn strict_mode_rejects_what_python_tolerates() {
        for bad in [
            "NaN",
            "[Infinity]",
            r#"{"a":1,"a":2}"#,
            r#""\udc00""#,
            "1e999",
        ] {
            assert!(parse(bad, Mode::Strict).is_err(), "{bad}");
        }
        assert_eq!(canon("-0"), "0");
        assert_eq!(
            canon("123456789012345678901234567890"),
            "123456789012345678901234567890"
        );
    }
}
