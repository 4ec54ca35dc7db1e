//! The JSON parser: one recursive-descent pass over the text, strict for new receipts and
//! lenient for ledgers Python wrote (`NaN`, `Infinity`, lone surrogates, duplicate keys),
//! with strings unescaped into WTF-8 and nesting bounded by `MAX_DEPTH`.

use std::borrow::Cow;

use super::canonical::quote_wtf8;
use super::{MAX_DEPTH, Mode, Object, ParseError, Value, push_wtf8};

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
