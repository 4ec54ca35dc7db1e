//! What vnx reads of a declared provider's TUI, in its `interactive:` lane: its permission
//! dialog (`dialog:`, a regex matched against the pane's screen, an optional regex capturing
//! what it asks, the tmux keys that approve and deny) and its session files (`session:`, a
//! directory, a file-name glob and the event format they hold), checked with line and
//! column: the regexes compile within the bounds of `provider::dialog`, the keys are tmux key
//! names, the directory is absolute or under `~`, the glob names files, the format is one vnx
//! parses.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::{Checked, Validator, q};
use crate::provider::declared::{DeclaredDialog, DeclaredSession, DeclaredTui};
use crate::provider::dialog::{self, DialogError, MAX_KEYS};
use crate::provider::kinds::{Lane, OutputFormat};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDialog {
    pub(super) pattern: Spanned<String>,
    pub(super) asks: Option<Spanned<String>>,
    pub(super) approve: Spanned<Vec<Spanned<String>>>,
    pub(super) deny: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSession {
    pub(super) dir: Spanned<String>,
    pub(super) pattern: Spanned<String>,
    pub(super) format: Spanned<OutputFormat>,
}

/// The longest session-file glob, in bytes.
const MAX_GLOB: usize = 255;

impl Validator<'_> {
    /// A lane's `dialog:` and `session:` (`what` names the lane in messages).
    pub(super) fn tui(
        &self,
        what: &str,
        lane: Lane,
        dialog: Option<Spanned<RawDialog>>,
        session: Option<Spanned<RawSession>>,
    ) -> Checked<DeclaredTui> {
        let session = match session {
            None => None,
            Some(s) if lane != Lane::Interactive => {
                let msg = format!(
                    "{what}: a `session` is a TUI's own file; only the interactive lane has one"
                );
                return self.err(&s.referenced, msg);
            }
            Some(s) => Some(self.session(what, s.value)?),
        };
        let Some(dialog) = dialog else {
            return Ok(DeclaredTui {
                dialog: None,
                session,
            });
        };
        if lane != Lane::Interactive {
            let msg = format!(
                "{what}: a `dialog` is drawn on a TUI's screen; only the interactive lane has one"
            );
            return self.err(&dialog.referenced, msg);
        }
        let raw = dialog.value;
        let pattern = self.regex(what, "pattern", &raw.pattern)?;
        if pattern.is_match("") {
            let msg = format!(
                "{what}: `dialog.pattern` {} matches an empty screen, so it would always show; \
                 match the dialog's own text",
                q(&raw.pattern.value)
            );
            return self.err(&raw.pattern.referenced, msg);
        }
        if let Some(asks) = &raw.asks {
            self.regex(what, "asks", asks)?;
        }
        let approve = self.keys(what, "approve", raw.approve)?;
        let deny = self.keys(what, "deny", raw.deny)?;
        Ok(DeclaredTui {
            dialog: Some(DeclaredDialog {
                pattern: raw.pattern.value,
                asks: raw.asks.map(|a| a.value),
                approve,
                deny,
            }),
            session,
        })
    }

    fn session(&self, what: &str, raw: RawSession) -> Checked<DeclaredSession> {
        let dir = &raw.dir.value;
        if !(dir.starts_with('/') || dir == "~" || dir.starts_with("~/")) || dir.contains('\0') {
            let msg = format!(
                "{what}: `session.dir` {} must be an absolute path or start with ~/",
                q(dir)
            );
            return self.err(&raw.dir.referenced, msg);
        }
        let glob = &raw.pattern.value;
        if glob.is_empty()
            || glob.len() > MAX_GLOB
            || glob.contains(['/', '\0', '[', ']', '\\'])
            || glob == "."
            || glob == ".."
        {
            let msg = format!(
                "{what}: `session.pattern` {} is not a file-name glob: use a name without /, \
                 with * for any characters and ? for one, like \"*.jsonl\"",
                q(glob)
            );
            return self.err(&raw.pattern.referenced, msg);
        }
        let format = &raw.format.value;
        if *format == OutputFormat::TEXT || !crate::provider::events::parses(format) {
            let known: Vec<String> = crate::provider::events::known()
                .iter()
                .filter(|f| **f != OutputFormat::TEXT)
                .map(|f| f.name().to_owned())
                .collect();
            let msg = format!(
                "{what}: unknown session format {}, expected one of {}",
                q(format.name()),
                known.join(", ")
            );
            return self.err(&raw.format.referenced, msg);
        }
        Ok(DeclaredSession {
            dir: raw.dir.value,
            pattern: raw.pattern.value,
            format: raw.format.value,
        })
    }

    fn regex(&self, what: &str, key: &str, raw: &Spanned<String>) -> Checked<regex::Regex> {
        dialog::regex(&raw.value).or_else(|e| {
            let why = match e {
                DialogError::BadRegex { why, .. } => why,
                DialogError::BadKey { .. } => e.to_string(),
            };
            let msg = format!(
                "{what}: `dialog.{key}` {} is not a usable regex: {why}",
                q(&raw.value)
            );
            self.err(&raw.referenced, msg)
        })
    }

    fn keys(
        &self,
        what: &str,
        key: &str,
        raw: Spanned<Vec<Spanned<String>>>,
    ) -> Checked<Vec<String>> {
        if raw.value.is_empty() || raw.value.len() > MAX_KEYS {
            let msg = format!(
                "{what}: `dialog.{key}` must list 1 to {MAX_KEYS} tmux keys, like [y, Enter]"
            );
            return self.err(&raw.referenced, msg);
        }
        let mut out = Vec::new();
        for k in raw.value {
            if !dialog::valid_key(&k.value) {
                let msg = format!(
                    "{what}: `dialog.{key}`: {} is not a tmux key name; use a letter, digit or \
                     one of -_.,/?!, or Enter, Escape, Tab, Space, BSpace, Up, Down, Left, \
                     Right, Home, End, PageUp, PageDown, F1-F12, each optionally after C- or M-",
                    q(&k.value)
                );
                return self.err(&k.referenced, msg);
            }
            out.push(k.value);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse_err;
    use super::super::{DeclaredDialog, parse};
    use std::path::Path;

    fn tui(dialog: &str) -> String {
        format!(
            "version: 1\nproviders:\n  kimi:\n    binary: k\n    interactive:\n      argv: [\"{{prompt}}\"]\n      dialog:\n{dialog}"
        )
    }

    const GOOD: &str = "        pattern: \"Allow this command\\\\?\"\n        asks: \"^\\\\s*\\\\$ (.+)$\"\n        approve: [y, Enter]\n        deny: [n, Enter]\n";

    #[test]
    fn a_dialog_is_read_with_its_regexes_and_keys() {
        let config = parse(&tui(GOOD), Path::new("c")).unwrap();
        let lane = config.providers["kimi"].interactive.clone().unwrap();
        assert_eq!(
            lane.tui.dialog,
            Some(DeclaredDialog {
                pattern: "Allow this command\\?".into(),
                asks: Some("^\\s*\\$ (.+)$".into()),
                approve: vec!["y".into(), "Enter".into()],
                deny: vec!["n".into(), "Enter".into()],
            })
        );
    }

    #[test]
    fn bad_regexes_keys_and_places_name_their_line_and_column() {
        let (l, c, m) = parse_err(&tui(&GOOD.replace("Allow this command\\\\?", "(Allow")));
        assert_eq!((l, c), (8, 18), "{m}");
        assert!(
            m.starts_with("provider `kimi`, interactive lane: `dialog.pattern` `(Allow` is not a usable regex: "),
            "{m}"
        );
        let (l, c, m) = parse_err(&tui(&GOOD.replace("^\\\\s*", "[")));
        assert_eq!((l, c), (9, 15), "{m}");
        assert!(m.contains("`dialog.asks`"), "{m}");
        let (l, c, m) = parse_err(&tui(&GOOD.replace("[y, Enter]", "[y, Entr]")));
        assert_eq!((l, c), (10, 22), "{m}");
        assert!(m.contains("`Entr` is not a tmux key name"), "{m}");
        let (l, _, m) = parse_err(&tui(&GOOD.replace("[n, Enter]", "[]")));
        assert_eq!(l, 11, "{m}");
        assert!(m.contains("must list 1 to 8 tmux keys"), "{m}");
        let (l, _, m) = parse_err(&tui(&GOOD.replace("Allow this command\\\\?", "x*")));
        assert_eq!(l, 8);
        assert!(m.contains("matches an empty screen"), "{m}");
        let (l, c, m) = parse_err(&tui(&GOOD.replace("approve:", "aprove:")));
        assert_eq!((l, c), (10, 9), "{m}");
        assert!(m.contains("unknown field `aprove`"), "{m}");
        // An unknown output format lists the known ones, the chat format among them.
        let text = "version: 1\nproviders:\n  kimi:\n    binary: k\n    headless:\n      argv: [\"{prompt}\"]\n      output: open-chat\n";
        let (l, c, m) = parse_err(text);
        assert_eq!((l, c), (7, 15), "{m}");
        assert!(m.starts_with("provider `kimi`, headless lane: unknown output format `open-chat`, expected one of text, "), "{m}");
        assert!(m.ends_with(", openai-chat"), "{m}");
        // A session's directory, glob and format.
        let session = |body: &str| {
            format!(
                "version: 1\nproviders:\n  kimi:\n    binary: k\n    interactive:\n      argv: [\"{{prompt}}\"]\n      session:\n{body}"
            )
        };
        let good = "        dir: ~/.k/sessions\n        pattern: \"*.jsonl\"\n        format: openai-chat\n";
        let config = parse(&session(good), Path::new("c")).unwrap();
        let lane = config.providers["kimi"].interactive.clone().unwrap();
        assert_eq!(lane.tui.session.unwrap().pattern, "*.jsonl");
        let (l, c, m) = parse_err(&session(&good.replace("~/.k", "k")));
        assert_eq!((l, c), (8, 14), "{m}");
        assert!(
            m.contains("`session.dir` `k/sessions` must be an absolute path"),
            "{m}"
        );
        let (l, _, m) = parse_err(&session(&good.replace("*.jsonl", "a/*.jsonl")));
        assert_eq!(l, 9, "{m}");
        assert!(m.contains("is not a file-name glob"), "{m}");
        let (l, c, m) = parse_err(&session(&good.replace("openai-chat", "text")));
        assert_eq!((l, c), (10, 17), "{m}");
        assert!(
            m.contains("unknown session format `text`, expected one of "),
            "{m}"
        );
        let (l, _, m) = parse_err(&session(&good.replace("format:", "fmt:")));
        assert_eq!(l, 10, "{m}");
        assert!(m.contains("unknown field `fmt`"), "{m}");
        let (l, _, m) = parse_err(&session(good).replace("interactive:", "headless:"));
        assert_eq!(l, 8, "{m}");
        assert!(m.contains("only the interactive lane has one"), "{m}");
        // Only a TUI draws a dialog.
        let headless = tui(GOOD).replace("interactive:", "headless:");
        let (l, _, m) = parse_err(&headless);
        assert_eq!(l, 8, "{m}");
        assert!(m.contains("only the interactive lane has one"), "{m}");
    }
}
