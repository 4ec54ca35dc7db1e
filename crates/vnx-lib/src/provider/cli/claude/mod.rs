//! Anthropic's Claude Code (`claude`): what vnx knows about it. The models it takes
//! (`models`); how it is started (`invocation`); its headless stream
//! (`claude -p --output-format stream-json --verbose`) parsed for the receipt (`events`) and
//! rendered as a transcript (`transcript`, also of its session file, which is that stream's
//! vocabulary); where it keeps its state.

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
mod models;
mod transcript;

/// Claude Code.
#[derive(Debug)]
pub struct Claude;

impl CodingCli for Claude {
    fn provider(&self) -> Provider {
        Provider::Claude
    }

    /// sonnet, opus, haiku, `claude*`.
    fn implied_by(&self, model: &str) -> bool {
        ["sonnet", "opus", "haiku"].contains(&model) || model.starts_with("claude")
    }

    /// Its three best-known aliases.
    fn suggested_models(&self) -> &'static [&'static str] {
        &["sonnet", "opus", "haiku"]
    }

    fn model_aliases(&self) -> &'static [&'static str] {
        &models::ALIASES
    }

    /// One of its aliases or a full model name; a likely typo of an alias names it.
    fn check_model(&self, model: Option<&str>) -> Result<(), ProviderError> {
        super::check_valid(Provider::Claude, model)?;
        match model {
            Some(m) if !models::knows(m) => Err(ProviderError::UnknownModel {
                provider: "claude",
                model: m.to_owned(),
                suggestion: models::closest_alias(m),
            }),
            _ => Ok(()),
        }
    }

    /// Its TUI (as VNX, it keeps subscription billing).
    fn default_lane(&self) -> Lane {
        Lane::Interactive
    }

    /// `--resume`, in both lanes.
    fn resumes_sessions(&self, _lane: Lane) -> bool {
        true
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

    /// `1` (yes) and `3` (no) on claude 2.1.197; its `PermissionRequest` hook answers first
    /// (`dispatch::answer`).
    fn dialog_keys(&self, answer: PermissionAnswer) -> Option<&'static str> {
        Some(match answer {
            PermissionAnswer::Approve => "1",
            PermissionAnswer::Deny => "3",
        })
    }

    fn dialog_marker(&self) -> Option<&'static str> {
        Some("1. Yes")
    }

    fn hook_says(&self, event: &str, payload: &Value) -> HookSays {
        hooks::says(event, payload)
    }

    /// Its `PermissionRequest` hook may return a decision while its dialog shows (seen on
    /// claude 2.1.197: "Allowed by PermissionRequest hook").
    fn hook_decision(
        &self,
        event: &str,
        answer: PermissionAnswer,
        message: Option<String>,
    ) -> Option<Value> {
        hooks::decision(event, answer, message)
    }

    fn once_per_prompt(&self, event: &str) -> bool {
        event == "claude-permission-request"
    }

    fn hook_events(&self) -> &'static [&'static str] {
        &hooks::EVENTS
    }

    /// The project's `.mcp.json` (project scope).
    fn mcp_config(&self) -> Option<McpConfig> {
        Some(McpConfig::ProjectJson {
            file: ".mcp.json",
            servers: "mcpServers",
            stdio_type: true,
            no_link: None,
        })
    }

    fn output_format(&self) -> Option<OutputFormat> {
        Some(OutputFormat::ClaudeStreamJson)
    }

    fn stream_events(&self) -> Option<Box<dyn StreamEvents>> {
        Some(Box::new(events::ClaudeEvents))
    }

    fn transcript_claims(&self, kind: &str, event: &Value) -> bool {
        match kind {
            "system" | "assistant" | "user" | "stream_event" => true,
            "result" => event.get("subtype").is_some(),
            _ => false,
        }
    }

    fn transcript_events(&self) -> Option<Box<dyn TranscriptEvents>> {
        Some(Box::new(transcript::ClaudeTranscript))
    }

    /// Its session transcript, whose first entries are of types of its own rather than
    /// `system`, is rendered as its stream.
    fn session_transcript(&self) -> Option<Box<dyn TranscriptEvents>> {
        Some(Box::new(transcript::ClaudeTranscript))
    }

    fn state_paths(&self) -> &'static [StatePath] {
        const PATHS: &[StatePath] = &[
            StatePath::dir(".claude", Some("CLAUDE_CONFIG_DIR")),
            StatePath::file(".claude.json"),
        ];
        PATHS
    }
}

#[cfg(test)]
mod tests {
    use crate::complete::{Kind, candidates};

    #[test]
    fn a_shell_completes_its_aliases_after_the_demos_behaviours() {
        let none = std::path::Path::new("/nonexistent/ledger.ndjson");
        let models: Vec<(String, String)> = candidates(Kind::Models, none, None, None)
            .into_iter()
            .map(|c| (c.value, c.description))
            .collect();
        let aliases: Vec<(String, String)> = ["sonnet", "opus", "haiku"]
            .map(|a| (a.to_owned(), "claude".to_owned()))
            .into();
        assert_eq!(models.len(), 8 + 3, "{models:?}");
        assert_eq!(models[8..], aliases[..]);
        assert!(models[..8].iter().all(|(_, d)| d == "demo"));
    }
}
