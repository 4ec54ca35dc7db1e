//! Google's Gemini CLI (`gemini`): what vnx knows about it. How it is started
//! (`invocation`); its headless stream
//! (`gemini -p --output-format stream-json`) parsed for the receipt (`events`) and rendered as
//! a transcript (`transcript`); the chat session file its TUI writes rendered as a transcript
//! (`session`); where it keeps its state.

use serde_json::Value;

use super::argv::{Argv, Start, Wanted};
use super::hook::HookSays;
use super::render::TranscriptEvents;
use super::stream::StreamEvents;
use super::{CodingCli, McpConfig, Provider, ProviderError};
use crate::receipts::PermissionAnswer;
use crate::receipts::kinds::{Lane, OutputFormat, Permission};
use crate::sandbox::StatePath;

mod events;
pub mod hooks;
mod invocation;
mod session;
mod transcript;

/// The Gemini CLI.
#[derive(Debug)]
pub struct Gemini;

impl CodingCli for Gemini {
    fn provider(&self) -> Provider {
        Provider::Gemini
    }

    /// `gemini*`.
    fn implied_by(&self, model: &str) -> bool {
        model.starts_with("gemini")
    }

    /// Headless only. Its TUI does not: given `--resume` and `-i`, gemini 0.61 sends the new
    /// prompt without the session's history, then swaps the history back in over it after
    /// the first tool call (the new instruction is lost mid-turn).
    fn resumes_sessions(&self, lane: Lane) -> bool {
        lane == Lane::Headless
    }

    fn permission_flags(&self, _lane: Lane, permission: Permission) -> &'static [&'static str] {
        invocation::permission_flags(permission)
    }

    fn argv(&self, start: &Start<'_>) -> Result<Argv, ProviderError> {
        Ok(invocation::argv(start))
    }

    fn allowed_commands(&self, w: &Wanted<'_>) -> Vec<String> {
        invocation::allowed_commands(w)
    }

    /// `1` allows once and Esc refuses (gemini 0.61.0, which has no hook that answers).
    /// Its refusal is the third choice of a command's dialog but the fourth of an edit's,
    /// after "Modify with external editor"; both label it (esc). It draws its dialog before
    /// it reads keys (a `1` typed at once was lost and the dispatch ran into its deadline),
    /// so `dispatch::answer` types them again while the pane shows the dialog unchanged.
    fn dialog_keys(&self, answer: PermissionAnswer) -> Option<&'static str> {
        Some(match answer {
            PermissionAnswer::Approve => "1",
            PermissionAnswer::Deny => "Escape",
        })
    }

    fn dialog_marker(&self) -> Option<&'static str> {
        Some("1. Allow once")
    }

    fn hook_says(&self, event: &str, payload: &Value) -> HookSays {
        hooks::says(event, payload)
    }

    /// It sends nothing when a person allows a command that then runs before its next
    /// prompt, so a second notification while blocked is a new prompt.
    fn once_per_prompt(&self, event: &str) -> bool {
        event == "gemini-notification"
    }

    fn hook_events(&self) -> &'static [&'static str] {
        &hooks::EVENTS
    }

    /// The project's `.gemini/settings.json` (project scope).
    fn mcp_config(&self) -> Option<McpConfig> {
        Some(McpConfig::ProjectJson {
            file: ".gemini/settings.json",
            servers: "mcpServers",
            stdio_type: false,
            no_link: Some(".gemini"),
        })
    }

    fn output_format(&self) -> Option<OutputFormat> {
        Some(OutputFormat::GeminiStreamJson)
    }

    fn stream_events(&self) -> Option<Box<dyn StreamEvents>> {
        Some(Box::new(events::GeminiEvents::default()))
    }

    /// A `result` with a `subtype` is claimed by a CLI asked before; any other is gemini's.
    fn transcript_claims(&self, kind: &str, _event: &Value) -> bool {
        matches!(
            kind,
            "result" | "init" | "message" | "tool_use" | "tool_result"
        )
    }

    fn transcript_events(&self) -> Option<Box<dyn TranscriptEvents>> {
        Some(Box::new(transcript::GeminiTranscript::default()))
    }

    fn session_transcript(&self) -> Option<Box<dyn TranscriptEvents>> {
        Some(Box::new(session::SessionTranscript))
    }

    fn state_paths(&self) -> &'static [StatePath] {
        const PATHS: &[StatePath] = &[StatePath::dir(".gemini", None)];
        PATHS
    }
}
