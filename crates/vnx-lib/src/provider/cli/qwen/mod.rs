//! Alibaba's Qwen Code (`qwen`, 0.15.10): what vnx knows about it. How it is started
//! (`invocation`); its headless stream (`qwen PROMPT -o stream-json`) parsed for the receipt
//! (`events`) and rendered as a transcript (`transcript`); where it keeps its state. Its exit code says nothing: it exits 0 after an
//! HTTP 400 or 500 and after a denied tool, so the outcome is read from its events and
//! vnx's own report.

use serde_json::Value;

use super::argv::{Argv, Start, Wanted};
use super::render::TranscriptEvents;
use super::stream::StreamEvents;
use super::{CodingCli, McpConfig, Provider, ProviderError};
use crate::receipts::kinds::{Lane, OutputFormat, Permission};
use crate::sandbox::StatePath;

mod events;
mod invocation;
mod transcript;

/// Its headless event stream: `qwen PROMPT -o stream-json` (`system`, `assistant`, `user`, `result` events; an API error is a successful result whose text says so).
pub(crate) const STREAM: OutputFormat = OutputFormat::named("qwen-stream-json");

/// Qwen Code.
#[derive(Debug)]
pub struct Qwen;

impl CodingCli for Qwen {
    fn provider(&self) -> Provider {
        Provider::Qwen
    }

    /// `qwen*` without a tag (`qwen3:8b` is a local model's `name:tag`, served locally).
    fn implied_by(&self, model: &str) -> bool {
        model.starts_with("qwen") && !model.contains(':')
    }

    /// Headless: `--resume=ID` (`-r`) continues the session it recorded, the earlier
    /// conversation resent (seen on 0.15.10).
    fn resumes_sessions(&self, lane: Lane) -> bool {
        lane == Lane::Headless
    }

    fn permission_flags(&self, _lane: Lane, permission: Permission) -> &'static [&'static str] {
        invocation::permission_flags(permission)
    }

    fn argv(&self, start: &Start<'_>) -> Result<Argv, ProviderError> {
        invocation::argv(start)
    }

    fn allowed_commands(&self, w: &Wanted<'_>) -> Vec<String> {
        invocation::allowed_commands(w)
    }

    /// The project's `.qwen/settings.json`, `mcpServers` (project scope; seen on 0.15.10).
    fn mcp_config(&self) -> Option<McpConfig> {
        Some(McpConfig::ProjectJson {
            file: ".qwen/settings.json",
            servers: "mcpServers",
            stdio_type: false,
            no_link: Some(".qwen"),
        })
    }

    fn output_format(&self) -> Option<OutputFormat> {
        Some(STREAM)
    }

    fn stream_events(&self) -> Option<Box<dyn StreamEvents>> {
        Some(Box::new(events::QwenEvents::default()))
    }

    /// Its start, which names its version.
    fn transcript_claims(&self, kind: &str, event: &Value) -> bool {
        transcript::claims(kind, event)
    }

    /// Its stream is shaped like other CLIs' (`system`, `assistant`, `user`, `result`): only
    /// its start tells it apart, so it is asked first.
    fn claims_narrowly(&self) -> bool {
        true
    }

    fn transcript_events(&self) -> Option<Box<dyn TranscriptEvents>> {
        Some(Box::new(transcript::QwenTranscript))
    }

    /// `~/.qwen` (settings, `projects/<cwd>/chats/<id>.jsonl` sessions, `debug/`), or
    /// `QWEN_HOME` where that is set.
    fn state_paths(&self) -> &'static [StatePath] {
        const PATHS: &[StatePath] = &[StatePath::dir(".qwen", Some("QWEN_HOME"))];
        PATHS
    }
}
