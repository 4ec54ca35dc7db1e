//! The small vocabularies a worker CLI is described with: lane, prompt transport, output
//! format, completion signal, permission posture and end-of-turn hook. Built-in and
//! user-declared providers share them, and the dispatch receipts record them.

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

/// What the worker's stdout is, for parsing session id, token usage and its own verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// Plain text: nothing to parse.
    Text,
    /// `claude -p --output-format stream-json --verbose`.
    ClaudeStreamJson,
    /// `codex exec --json`.
    CodexJson,
    /// `gemini -p --output-format stream-json`.
    GeminiStreamJson,
    /// `qwen PROMPT -o stream-json` (claude-like events; an API error is a successful
    /// result whose text says so).
    QwenStreamJson,
    /// `opencode run --format json` (step_start, tool_use, step_finish, text and error
    /// events, each naming its session; no closing result).
    OpencodeJson,
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

/// Which hook a dispatch's worker reports the end of a turn through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HookKind {
    /// No hook: completion comes from `vnx report` and the worker's exit.
    None,
    /// Claude Code `Stop` (end of turn) and `Notification` (waiting for permission).
    ClaudeStop,
    /// Gemini CLI `AfterAgent` (end of turn) and `Notification`.
    GeminiAfterAgent,
    /// Codex `notify` (`agent-turn-complete`).
    CodexNotify,
}

impl HookKind {
    /// The completion signal a turn end through this hook is recorded as.
    pub fn signal_name(self) -> &'static str {
        match self {
            HookKind::None => "exit",
            HookKind::ClaudeStop => "claude_stop_hook",
            HookKind::GeminiAfterAgent => "gemini_after_agent_hook",
            HookKind::CodexNotify => "codex_notify",
        }
    }

    /// Whether a signal file's event ends a turn for this hook kind.
    pub fn ends_turn(self, event: &str) -> bool {
        matches!(
            (self, event),
            (HookKind::ClaudeStop, "claude-stop")
                | (HookKind::GeminiAfterAgent, "gemini-after-agent")
                | (HookKind::CodexNotify, "codex-notify")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_ends_match_their_hook() {
        assert!(HookKind::ClaudeStop.ends_turn("claude-stop"));
        assert!(!HookKind::ClaudeStop.ends_turn("claude-notification"));
        assert!(!HookKind::None.ends_turn("claude-stop"));
        assert!(HookKind::CodexNotify.ends_turn("codex-notify"));
    }
}
