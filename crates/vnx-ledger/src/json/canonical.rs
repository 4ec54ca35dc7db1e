//! Writing JSON as CPython does: WTF-8 strings with `ensure_ascii` escapes, floats in
//! `repr` form, and the canonical form (keys sorted, no spaces) whose bytes the entry hash
//! covers.

use super::{Object, Value};

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

pub(super) fn quote_wtf8(s: &[u8]) -> String {
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
