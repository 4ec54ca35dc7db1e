//! The template syntax of `argv`, `model_args` and `resume_args` strings in `.vnx/config.yaml`: `{name}`
//! placeholders and `{{`/`}}` escapes; expanding a template, and checking one against the
//! placeholders its place allows.

use std::collections::BTreeMap;

use serde_saphyr::Spanned;

use super::validation::{Checked, Validator, q, shown};

/// Expands a template from the config: each `{name}` found in `values` is replaced by its
/// value, `{{` and `}}` become `{` and `}`. Anything else (an unknown placeholder, a stray
/// brace; never present in a validated config) is kept as written.
pub fn expand(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let scanned = scan(template, |token| match token {
        Token::Text(text) => out.push_str(text),
        Token::Hole(name) => match values.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => out.push_str(value),
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

enum Token<'a> {
    Text(&'a str),
    Hole(&'a str),
}

/// Splits a template into literal text (with `{{`/`}}` unescaped) and placeholder names.
fn scan<'a>(template: &'a str, mut on: impl FnMut(Token<'a>)) -> Result<(), String> {
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

impl Validator<'_> {
    /// Checks one template string; returns how often each allowed placeholder appears.
    pub(super) fn template(
        &self,
        arg: &Spanned<String>,
        allowed: &[&'static str],
        what: &str,
    ) -> Checked<BTreeMap<&'static str, usize>> {
        let mut counts: BTreeMap<&'static str, usize> = allowed.iter().map(|&a| (a, 0)).collect();
        let mut unknown = None;
        let mut fault = scan(&arg.value, |token| {
            if let Token::Hole(name) = token {
                match allowed.iter().find(|&&a| a == name) {
                    Some(a) => *counts.entry(a).or_default() += 1,
                    None => {
                        unknown.get_or_insert_with(|| name.to_owned());
                    }
                }
            }
        })
        .err();
        if arg.value.contains('\0') {
            fault = Some("a NUL byte".into());
        }
        let allowed_text = match allowed {
            [] => "no placeholders are allowed here".to_owned(),
            _ => format!(
                "allowed here: {}",
                allowed
                    .iter()
                    .map(|a| format!("{{{a}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        if let Some(fault) = fault {
            let msg = format!(
                "{what}: {} contains {fault}; write `{{{{` and `}}}}` for literal braces",
                q(&arg.value)
            );
            return self.err(&arg.referenced, msg);
        }
        if let Some(name) = unknown {
            let msg = format!(
                "{what}: unknown placeholder `{{{}}}` in {}; {allowed_text} (write `{{{{` and `}}}}` for literal braces)",
                shown(&name, 40),
                q(&arg.value)
            );
            return self.err(&arg.referenced, msg);
        }
        Ok(counts)
    }
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
