//! Checking the `argv`, `model_args` and `resume_args` templates of `.vnx/config.yaml`
//! against the placeholders each place allows (the syntax and its expansion are
//! `provider/template`).

use std::collections::BTreeMap;

use serde_saphyr::Spanned;

use super::checked::{Checked, Validator, q, shown};
use crate::provider::template::{Token, scan};

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
