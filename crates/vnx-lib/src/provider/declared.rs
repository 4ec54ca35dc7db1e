//! Worker CLIs a project declares under `providers:` in `.vnx/config.yaml`, as validated
//! data: each lane's argv templates, how the prompt reaches it, what ends it, and its flags
//! per permission posture.

use serde::{Deserialize, Serialize};

pub use super::dialog::DeclaredDialog;
use super::kinds::{Lane, OutputFormat, PromptTransport, ProviderCompletion};
use super::template::expand;

/// A worker CLI declared under `providers:`.
#[derive(Clone, Debug, PartialEq)]
pub struct DeclaredProvider {
    /// A program name looked up on PATH, or an absolute path.
    pub binary: String,
    /// How it runs headless, if it can.
    pub headless: Option<DeclaredLane>,
    /// How it runs as a TUI in the pane, if it can.
    pub interactive: Option<DeclaredLane>,
    /// Templates appended when a model is given (see [`DeclaredProvider::model_argv`]);
    /// together they use `{model}` at least once and no other placeholder. Empty: the
    /// provider takes no model.
    pub model_args: Vec<String>,
    /// Templates appended when a follow-up resumes a recorded session (see
    /// [`DeclaredProvider::resume_argv`]); together they use `{session}` at least once and no
    /// other placeholder. Empty: the provider cannot resume a session.
    pub resume_args: Vec<String>,
    /// Its flags per permission posture.
    pub permissions: DeclaredPermissions,
    /// Always names a declared lane.
    pub default_lane: Lane,
}

impl DeclaredProvider {
    /// The declared lane of that kind, if any.
    pub fn lane(&self, lane: Lane) -> Option<&DeclaredLane> {
        match lane {
            Lane::Headless => self.headless.as_ref(),
            Lane::Interactive => self.interactive.as_ref(),
        }
    }

    /// `model_args` for `model`: placeholders substituted, braces unescaped.
    pub fn model_argv(&self, model: &str) -> Vec<String> {
        let values = [("model", model)];
        self.model_args.iter().map(|a| expand(a, &values)).collect()
    }

    /// `resume_args` for `session`: placeholders substituted, braces unescaped.
    pub fn resume_argv(&self, session: &str) -> Vec<String> {
        let values = [("session", session)];
        self.resume_args
            .iter()
            .map(|a| expand(a, &values))
            .collect()
    }
}

/// One lane of a declared provider. `argv` holds templates that use `{prompt}` or
/// `{prompt_file}` exactly as `prompt` requires.
#[derive(Clone, Debug, PartialEq)]
pub struct DeclaredLane {
    /// The command line, as templates.
    pub argv: Vec<String>,
    /// How the prompt reaches it.
    pub prompt: PromptTransport,
    /// What its stdout is (text, or a CLI's event stream).
    pub output: OutputFormat,
    /// What ends it successfully: its exit, or `vnx report`.
    pub completion: ProviderCompletion,
    /// What vnx reads of its TUI (the interactive lane's only).
    pub tui: DeclaredTui,
}

/// What vnx reads of a declared TUI besides its exit and report: the permission dialog it
/// draws on its screen and the session files it writes. Carried into the dispatch's spec by
/// its invocation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredTui {
    /// Its permission dialog (`interactive.dialog:`), which blocks the dispatch while it
    /// shows and which `vnx approve`/`vnx deny` answer with its keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialog: Option<DeclaredDialog>,
    /// Where it writes its session files (`interactive.session:`), read for its transcript,
    /// token usage and last message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<DeclaredSession>,
}

/// Where a declared TUI writes its session files, and what they hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredSession {
    /// The directory: an absolute path, or `~/…` under the dispatching user's home.
    pub dir: String,
    /// The files' names: a glob of `*` (any characters) and `?` (one), no `/`.
    pub pattern: String,
    /// What a file holds, one JSON event a line: a format vnx parses.
    pub format: OutputFormat,
}

impl DeclaredSession {
    /// Its directory, `~` made the `home` given; `None` for a `~` path without one.
    pub fn dir_in(&self, home: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
        match self.dir.strip_prefix("~/") {
            Some(rest) => Some(home?.join(rest)),
            None if self.dir == "~" => home.map(std::path::Path::to_owned),
            None => Some(std::path::PathBuf::from(&self.dir)).filter(|p| p.is_absolute()),
        }
    }

    /// Whether a file's name matches [`DeclaredSession::pattern`].
    pub fn matches(&self, name: &str) -> bool {
        glob(self.pattern.as_bytes(), name.as_bytes())
    }
}

/// `*`/`?` glob matching, iterative (linear in the name for each star).
pub(crate) fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_pattern_is_a_glob_and_its_dir_may_start_at_home() {
        let s = DeclaredSession {
            dir: "~/.tui/sessions".into(),
            pattern: "session-*.json?".into(),
            format: OutputFormat::TEXT,
        };
        for good in ["session-1.jsonl", "session-.jsonx", "session-a-b.jsonl"] {
            assert!(s.matches(good), "{good}");
        }
        for bad in [
            "session-1.json",
            "xsession-1.jsonl",
            "session-1.jsonl.bak",
            "",
        ] {
            assert!(!s.matches(bad), "{bad}");
        }
        let home = std::path::Path::new("/home/ana");
        assert_eq!(s.dir_in(Some(home)), Some(home.join(".tui/sessions")));
        assert_eq!(s.dir_in(None), None);
        let abs = DeclaredSession {
            dir: "/var/tui".into(),
            ..s.clone()
        };
        assert_eq!(abs.dir_in(None), Some("/var/tui".into()));
        let rel = DeclaredSession {
            dir: "tui".into(),
            ..s
        };
        assert_eq!(rel.dir_in(Some(home)), None);
    }
}

/// Flags per permission posture, final (`{{`/`}}` already unescaped); `None`: not declared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeclaredPermissions {
    /// Flags for `--permission ask`.
    pub ask: Option<Vec<String>>,
    /// Flags for `--permission edits`.
    pub edits: Option<Vec<String>>,
    /// Flags for `--permission full`.
    pub full: Option<Vec<String>>,
}
