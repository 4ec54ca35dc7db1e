//! The TOML values `codex -c key=value` overrides carry: string arrays (for `notify`), plain
//! strings, with basic ("…", backslash escapes) and literal ('…') string syntax, and inline
//! arrays and tables (for `hooks.*`), read as JSON values.

/// Parses a TOML (or JSON) array of strings such as `["/bin/vnx", '__hook', "a\"b"]`.
pub fn parse_string_array(text: &str) -> Result<Vec<String>, String> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
    };
    p.skip_ws();
    p.expect('[')?;
    let mut items = Vec::new();
    loop {
        p.skip_ws();
        if p.peek() == Some(']') {
            p.pos += 1;
            break;
        }
        items.push(p.string()?);
        p.skip_ws();
        match p.next() {
            Some(',') => continue,
            Some(']') => break,
            Some(c) => return Err(format!("expected ',' or ']' but found '{c}'")),
            None => return Err("unterminated array".into()),
        }
    }
    p.skip_ws();
    match p.peek() {
        None => Ok(items),
        Some(c) => Err(format!("unexpected '{c}' after the array")),
    }
}

/// A scalar override value as codex reads it: a quoted string is unquoted; anything that is
/// not valid TOML is taken literally.
pub fn parse_scalar(text: &str) -> String {
    let trimmed = text.trim();
    let mut p = Parser {
        chars: trimmed.chars().collect(),
        pos: 0,
    };
    if matches!(p.peek(), Some('"' | '\''))
        && let Ok(s) = p.string()
        && p.peek().is_none()
    {
        return s;
    }
    trimmed.to_string()
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

/// Parses an inline TOML value (string, integer, boolean, array, inline table) as JSON.
pub fn parse_value(text: &str) -> Result<serde_json::Value, String> {
    let mut p = Parser {
        chars: text.trim().chars().collect(),
        pos: 0,
    };
    let v = p.value()?;
    p.skip_ws();
    match p.peek() {
        None => Ok(v),
        Some(c) => Err(format!("unexpected '{c}' after the value")),
    }
}

impl Parser {
    fn value(&mut self) -> Result<serde_json::Value, String> {
        use serde_json::Value;
        self.skip_ws();
        match self.peek() {
            Some('"' | '\'') => self.string().map(Value::String),
            Some('[') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some(']') {
                        self.pos += 1;
                        return Ok(Value::Array(items));
                    }
                    items.push(self.value()?);
                    self.skip_ws();
                    match self.next() {
                        Some(',') => {}
                        Some(']') => return Ok(Value::Array(items)),
                        _ => return Err("expected ',' or ']'".into()),
                    }
                }
            }
            Some('{') => {
                self.pos += 1;
                let mut map = serde_json::Map::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some('}') {
                        self.pos += 1;
                        return Ok(Value::Object(map));
                    }
                    let key = if matches!(self.peek(), Some('"' | '\'')) {
                        self.string()?
                    } else {
                        let mut k = String::new();
                        while let Some(c) = self
                            .peek()
                            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                        {
                            k.push(c);
                            self.pos += 1;
                        }
                        k
                    };
                    self.skip_ws();
                    self.expect('=')?;
                    let v = self.value()?;
                    map.insert(key, v);
                    self.skip_ws();
                    match self.next() {
                        Some(',') => {}
                        Some('}') => return Ok(Value::Object(map)),
                        _ => return Err("expected ',' or '}'".into()),
                    }
                }
            }
            _ => {
                let mut word = String::new();
                while let Some(c) = self.peek().filter(|c| !matches!(c, ',' | ']' | '}' | ' ')) {
                    word.push(c);
                    self.pos += 1;
                }
                match word.as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    w => w
                        .parse::<i64>()
                        .map(Value::from)
                        .map_err(|_| format!("not a TOML value: {w}")),
                }
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += 1;
        c
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, want: char) -> Result<(), String> {
        match self.next() {
            Some(c) if c == want => Ok(()),
            Some(c) => Err(format!("expected '{want}' but found '{c}'")),
            None => Err(format!("expected '{want}'")),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        match self.next() {
            Some('\'') => {
                let mut s = String::new();
                loop {
                    match self.next() {
                        Some('\'') => return Ok(s),
                        Some('\n') | None => return Err("unterminated literal string".into()),
                        Some(c) => s.push(c),
                    }
                }
            }
            Some('"') => {
                let mut s = String::new();
                loop {
                    match self.next() {
                        Some('"') => return Ok(s),
                        Some('\\') => s.push(self.escape()?),
                        Some('\n') | None => return Err("unterminated string".into()),
                        Some(c) => s.push(c),
                    }
                }
            }
            Some(c) => Err(format!("expected a string but found '{c}'")),
            None => Err("expected a string".into()),
        }
    }

    fn escape(&mut self) -> Result<char, String> {
        Ok(match self.next() {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('n') => '\n',
            Some('t') => '\t',
            Some('r') => '\r',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some(u @ ('u' | 'U')) => {
                let len = if u == 'u' { 4 } else { 8 };
                let hex: String = (0..len).filter_map(|_| self.next()).collect();
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == len)
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("invalid unicode escape '\\{u}{hex}'"))?
            }
            Some(c) => return Err(format!("invalid escape '\\{c}'")),
            None => return Err("unterminated escape".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_literal_strings() {
        assert_eq!(
            parse_string_array(
                r#"["/abs/vnx", '__hook', "codex-notify","--dir" , 'C:\d', "a\"b\\c\u00e9"]"#
            )
            .unwrap(),
            vec![
                "/abs/vnx",
                "__hook",
                "codex-notify",
                "--dir",
                r"C:\d",
                "a\"b\\cé"
            ]
        );
    }

    #[test]
    fn empty_and_trailing_comma() {
        assert!(parse_string_array(" [ ] ").unwrap().is_empty());
        assert_eq!(parse_string_array("['a',]").unwrap(), vec!["a"]);
    }

    #[test]
    fn malformed_arrays_are_errors() {
        for bad in [
            "/abs/vnx",
            "[/abs/vnx]",
            "['a' 'b']",
            "[\"a\"",
            "['a'] x",
            "[\"\\q\"]",
            "[1, 2]",
        ] {
            assert!(parse_string_array(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scalars_unquote_or_stay_literal() {
        assert_eq!(parse_scalar("\"workspace-write\""), "workspace-write");
        assert_eq!(parse_scalar("'never'"), "never");
        assert_eq!(parse_scalar("read-only"), "read-only");
    }
}
