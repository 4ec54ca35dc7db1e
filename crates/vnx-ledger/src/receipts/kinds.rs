//! The small vocabularies a worker CLI is described with: lane, prompt transport, output
//! format, completion signal, permission posture and end-of-turn hook. Built-in and
//! user-declared providers share them, and the dispatch receipts record them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// How the worker runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Lane {
    /// The CLI's structured non-interactive mode; output captured and parsed.
    Headless,
    /// The CLI's TUI in the pane, started with the initial prompt.
    Interactive,
}

impl Lane {
    /// The lane as flags and receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            Lane::Headless => "headless",
            Lane::Interactive => "interactive",
        }
    }
}

/// How the prompt reaches the worker. Never typed through tmux keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PromptTransport {
    /// As one argument (`{prompt}` in the argv template).
    Argument,
    /// On the worker's stdin, which is then closed.
    Stdin,
    /// As a file in the dispatch directory whose path is an argument (`{prompt_file}`).
    File,
}

impl PromptTransport {
    /// The transport as receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            PromptTransport::Argument => "argument",
            PromptTransport::Stdin => "stdin",
            PromptTransport::File => "file",
        }
    }
}

/// What the worker's stdout is, for parsing session id, token usage and its own verdict:
/// [`OutputFormat::TEXT`], nothing to parse, or the name of an event format a CLI's module
/// parses (each module names its own; the ledger knows no CLI).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct OutputFormat(Cow<'static, str>);

impl OutputFormat {
    /// Plain text: nothing to parse.
    pub const TEXT: OutputFormat = OutputFormat::named("text");

    /// The format named `name` (kebab-case, as receipts and the config spell it).
    pub const fn named(name: &'static str) -> OutputFormat {
        OutputFormat(Cow::Borrowed(name))
    }

    /// The format as receipts spell it.
    pub fn name(&self) -> &str {
        &self.0
    }
}

/// What ends a dispatch successfully.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderCompletion {
    /// The worker's exit status alone (scripts, the demo).
    Exit,
    /// The worker must run `vnx report --status done|failed`; a turn or exit without a
    /// report is not a success.
    Report,
    /// The CLI's own output, for a CLI that cannot run a command (no tools): it applied its
    /// changes (done), its request failed (failed), or it answered without changing
    /// anything (needs input: its answer is the question).
    Output,
}

/// How much a worker may do without asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// The CLI's own default: ask (or refuse) before edits and commands.
    Ask,
    /// Edits inside the worktree without asking; commands still bounded.
    Edits,
    /// Everything without asking (skip-permissions / yolo). Never the default.
    Full,
}

impl Permission {
    /// The posture as `--permission` and receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            Permission::Ask => "ask",
            Permission::Edits => "edits",
            Permission::Full => "full",
        }
    }
}

/// Which hook a dispatch's worker reports the end of a turn through: [`HookKind::NONE`], or
/// the event (as `vnx __hook` names it) of a CLI's end-of-turn hook, which its module names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct HookKind(Cow<'static, str>);

impl HookKind {
    /// No hook: completion comes from `vnx report` and the worker's exit.
    pub const NONE: HookKind = HookKind::named("none");

    /// The hook whose end-of-turn event is `event`.
    pub const fn named(event: &'static str) -> HookKind {
        HookKind(Cow::Borrowed(event))
    }

    /// The hook as receipts spell it: its end-of-turn event, or `none`.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// Whether a signal file's event ends a turn for this hook kind.
    pub fn ends_turn(&self, event: &str) -> bool {
        *self != HookKind::NONE && self.0 == event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_ends_match_their_hook() {
        let stop = HookKind::named("tool-stop");
        assert!(stop.ends_turn("tool-stop"));
        assert!(!stop.ends_turn("tool-notification"));
        assert!(!HookKind::NONE.ends_turn("tool-stop"));
        assert!(!HookKind::NONE.ends_turn("none"));
        assert_eq!(serde_json::to_string(&stop).unwrap(), "\"tool-stop\"");
        let read: HookKind = serde_json::from_str("\"none\"").unwrap();
        assert_eq!(read, HookKind::NONE);
        let read: OutputFormat = serde_json::from_str("\"text\"").unwrap();
        assert_eq!(read, OutputFormat::TEXT);
    }
}
