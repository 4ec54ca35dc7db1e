//! The small vocabularies a worker CLI is described with: lane, prompt transport, output
//! format and completion signal. Built-in and user-declared providers share them.

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
}

/// What ends a dispatch successfully.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "ProviderCompletion")]
pub enum CompletionSignal {
    /// The worker's exit status alone (scripts, the demo).
    Exit,
    /// The worker must run `vnx report --status done|failed`; a turn or exit without a
    /// report is not a success.
    Report,
}
