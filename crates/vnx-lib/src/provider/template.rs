//! The template syntax of a declared provider's `argv`, `model_args` and `resume_args`:
//! `{name}` placeholders and `{{`/`}}` escapes, and expanding a template. (Checking one
//! against the placeholders its place allows is the config's, `config/template`.)

/// Expands a template from the config: each `{name}` found in `values` is replaced by its
/// value, `{{` and `}}` become `{` and `}`. Anything else (an unknown placeholder, a stray
/// brace; never present in a validated config) is kept as written.
pub fn expand(template: &str, values: &[(&str, &str)]) -> String {
    fill(template, values, str::to_owned)
}

/// [`expand`], each piece of text and each value written as `write` makes it (a template's
/// literal, to keep the result a template).
pub(crate) fn fill(
    template: &str,
    values: &[(&str, &str)],
    write: impl Fn(&str) -> String,
) -> String {
    let mut out = String::with_capacity(template.len());
    let scanned = scan(template, |token| match token {
        Token::Text(text) => out.push_str(&write(text)),
        Token::Hole(name) => match values.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => out.push_str(&write(value)),
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        },
    });
    if scanned.is_err() {
        return template.to_owned();
    }
    out
}

/// A piece of a template, as [`scan`] finds it.
pub(crate) enum Token<'a> {
    /// Literal text, `{{`/`}}` already unescaped.
    Text(&'a str),
    /// A `{name}` placeholder's name.
    Hole(&'a str),
}

/// Splits a template into literal text (with `{{`/`}}` unescaped) and placeholder names.
pub(crate) fn scan<'a>(template: &'a str, mut on: impl FnMut(Token<'a>)) -> Result<(), String> {
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        on(Token::Text(&rest[..i]));
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
            on(Token::Text(&tail[..1]));
            rest = after;
        } else if tail.starts_with('}') {
            return Err("a lone `}`".into());
        } else {
            match tail[1..].find(['{', '}']) {
                Some(end) if tail.as_bytes()[end + 1] == b'}' => {
                    on(Token::Hole(&tail[1..end + 1]));
                    rest = &tail[end + 2..];
                }
                _ => return Err("an unclosed `{`".into()),
            }
        }
    }
    on(Token::Text(rest));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion() {
        let values = [("prompt", "hi {there}"), ("model", "m")];
        assert_eq!(expand("--p={prompt}", &values), "--p=hi {there}");
        assert_eq!(expand("{{prompt}}={model}}}", &values), "{prompt}=m}");
        assert_eq!(expand("{other}", &values), "{other}");
        assert_eq!(expand("bad}", &values), "bad}");
    }
}
