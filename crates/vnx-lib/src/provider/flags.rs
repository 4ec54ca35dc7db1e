//! The option flags vnx passes to each built-in CLI, derived from the invocations themselves
//! (every lane, permission posture and prompt transport, with a model, new or resumed) rather than listed a
//! second time, and grouped by the help command that documents them (`tool exec --help` for
//! a CLI whose headless lane is a subcommand, `tool --help` for its TUI) — so `vnx doctor`
//! checks a CLI's `--help` against exactly what dispatches run.

use std::collections::BTreeSet;
use std::path::Path;

use super::invocation::{MAX_PROMPT_ARG, Wanted, literal};
use super::kinds::Lane;
use super::{Permission, Provider};

/// Flags one help command must list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelpFlags {
    /// The words between the binary and `--help` (`["exec"]` for `tool exec --help`).
    pub subcommand: Vec<String>,
    /// Option tokens as passed (the part before any `=`), sorted.
    pub flags: BTreeSet<String>,
}

impl HelpFlags {
    /// `tool --help`, `tool exec --help`, …
    pub fn command(&self, program: &str) -> String {
        let mut words = vec![program.to_owned()];
        words.extend(self.subcommand.iter().cloned());
        words.push("--help".into());
        words.join(" ")
    }
}

const MODEL: &str = "model";
/// A session id, for the follow-up invocations (`tool exec resume SESSION …`).
const SESSION: &str = "session";

/// Every flag vnx may pass to `provider`, grouped by the help command documenting it; groups
/// with no flags are left out (a CLI may be passed none). Empty for a provider that is vnx
/// itself (the demo).
pub fn passed(provider: Provider) -> Vec<HelpFlags> {
    let mut groups: Vec<HelpFlags> = Vec::new();
    if !super::cli::of(provider).separate_binary() {
        return groups;
    }
    for lane in [Lane::Headless, Lane::Interactive] {
        // Each posture, and the plan mode of a dispatch of `--plan` (ADR 0092).
        for (permission, plan) in [
            (Permission::Ask, false),
            (Permission::Edits, false),
            (Permission::Full, false),
            (Permission::Ask, true),
        ] {
            for (prompt_len, resume) in [
                (1, None),
                (MAX_PROMPT_ARG + 1, None),
                (1, Some(SESSION)),
                (MAX_PROMPT_ARG + 1, Some(SESSION)),
            ] {
                let wanted = Wanted {
                    lane,
                    model: Some(MODEL),
                    permission,
                    prompt_len,
                    vnx: Path::new("/vnx"),
                    dispatch_dir: Path::new("/dispatch"),
                    resume,
                    session: Some(SESSION),
                    allow: &[],
                    plan,
                };
                let Ok(inv) = provider.invocation(&wanted) else {
                    continue; // a lane the provider does not have
                };
                let args = &inv.argv[1..];
                let subcommand = leading_words(args);
                // Options end at `--` (a session and the prompt may follow it).
                let flags = args
                    .iter()
                    .take_while(|a| *a != "--")
                    .filter(|a| a.starts_with('-') && a.len() > 1)
                    .map(|a| a.split('=').next().unwrap_or(a).to_owned());
                match groups.iter_mut().find(|g| g.subcommand == subcommand) {
                    Some(g) => g.flags.extend(flags),
                    None => groups.push(HelpFlags {
                        subcommand,
                        flags: flags.collect(),
                    }),
                }
            }
        }
    }
    groups.retain(|g| !g.flags.is_empty());
    groups
}

/// The subcommand words an argv starts with: plain words before the first option, prompt
/// placeholder or model.
fn leading_words(args: &[String]) -> Vec<String> {
    args.iter()
        .take_while(|a| {
            !a.starts_with('-')
                && !a.contains('{')
                && **a != literal(MODEL)
                && **a != literal(SESSION)
        })
        .cloned()
        .collect()
}

/// Whether `help` lists `flag` as a word of its own (`--add-dir` is not listed by
/// `--add-dirs`, `-p` not by `--print`).
pub fn listed(help: &str, flag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let bytes = help.as_bytes();
    help.match_indices(flag).any(|(i, _)| {
        let end = i + flag.len();
        (i == 0 || !word(bytes[i - 1])) && (end == bytes.len() || !word(bytes[end]))
    })
}

/// The flags of `group` that `help` does not list.
pub fn missing<'a>(help: &str, group: &'a HelpFlags) -> Vec<&'a str> {
    group
        .flags
        .iter()
        .filter(|f| !listed(help, f))
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_is_passed_no_flags() {
        assert_eq!(passed(Provider::Demo), []);
    }

    #[test]
    fn flags_are_found_as_whole_words() {
        let help = "  -p, --print   Print\n  --add-dirs <d>\n  --model=<m>\n--verbose";
        assert!(listed(help, "-p"));
        assert!(listed(help, "--print"));
        assert!(listed(help, "--model"));
        assert!(listed(help, "--verbose"));
        assert!(!listed(help, "--add-dir"));
        assert!(!listed(help, "-r"), "not inside --print");
        assert!(!listed(help, "--prin"));
    }
}
