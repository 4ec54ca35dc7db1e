//! An `ssh:` host of `.vnx/config.yaml`: a machine the user set up, reached over OpenSSH — its
//! destination, extra `ssh` arguments and the path of the project's clone there; validated
//! with line and column.

use serde_saphyr::Spanned;

use crate::config::checked::{Checked, Validator, q};

impl Validator<'_> {
    /// Refuses an ssh host's fields on a host of another kind.
    pub(super) fn ssh_fields_absent(
        &self,
        at: &str,
        args: &Option<Vec<Spanned<String>>>,
        clone: &Option<Spanned<String>>,
        spot: &serde_saphyr::Location,
    ) -> Checked<()> {
        for (given, field) in [(args.is_some(), "ssh_args"), (clone.is_some(), "clone")] {
            if given {
                let msg = format!("{at}.{field} is for an ssh host only");
                return self.err(spot, msg);
            }
        }
        Ok(())
    }

    /// An ssh host's destination, arguments and clone.
    pub(super) fn ssh_host(
        &self,
        at: &str,
        ssh: Spanned<String>,
        args: Option<Vec<Spanned<String>>>,
        clone: Option<Spanned<String>>,
    ) -> Checked<(String, Vec<String>, String)> {
        // A destination starting with `-` would be read by ssh as an option.
        if ssh.value.is_empty()
            || ssh.value.starts_with('-')
            || ssh.value.contains(char::is_whitespace)
        {
            let msg = format!(
                "{at}.ssh must be an ssh destination (user@host or a Host alias), not {}",
                q(&ssh.value)
            );
            return self.err(&ssh.referenced, msg);
        }
        let Some(clone) = clone else {
            let msg = format!("{at}.clone must name the project's clone on the host");
            return self.err(&ssh.referenced, msg);
        };
        if !clone.value.starts_with('/') || clone.value.contains('\n') {
            let msg = format!(
                "{at}.clone must be the absolute path of the project's clone on the host, not {}",
                q(&clone.value)
            );
            return self.err(&clone.referenced, msg);
        }
        let args = args
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.value)
            .collect();
        Ok((ssh.value, args, clone.value))
    }
}
