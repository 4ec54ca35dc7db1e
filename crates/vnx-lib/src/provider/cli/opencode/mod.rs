//! opencode (npm `opencode-ai`, 1.18.33): what vnx knows about it. How it is started
//! (`invocation`: the posture as its own permission rules, given in its environment, since
//! its defaults allow every tool); its headless stream (`opencode run --format json`) parsed
//! for the receipt (`events`) and drawn as a transcript (`transcript`); where it keeps its
//! state. It exits 0 after a denied tool, so the outcome is read from its events and vnx's
//! own report.

use serde_json::Value;

use super::argv::{Argv, Start, Wanted};
use super::render::TranscriptEvents;
use super::stream::StreamEvents;
use super::{CodingCli, Provider, ProviderError};
use crate::receipts::PermissionAnswer;
use crate::receipts::kinds::{Lane, OutputFormat, Permission};
use crate::sandbox::StatePath;

mod events;
mod invocation;
mod transcript;

pub(crate) use invocation::{Served, allowed_commands, argv, permission_flags};

/// Its headless event stream: `opencode run --format json` (`step_start`, `tool_use`,
/// `step_finish`, `text` and `error` events, each naming its session; no closing result).
pub(crate) const STREAM: OutputFormat = OutputFormat::named("opencode-json");

/// Where it keeps its state, relative to the home directory: its config
/// (`~/.config/opencode`, where it also writes), its data (`opencode.db` with every session,
/// `snapshot/` git dirs, `log/`), its cache and its state.
pub(crate) const STATE_PATHS: &[StatePath] = &[
    StatePath::dir(".config/opencode", None),
    StatePath::dir(".local/share/opencode", None),
    StatePath::dir(".cache/opencode", None),
    StatePath::dir(".local/state/opencode", None),
];

/// The key its TUI's permission dialog takes for `answer` (see [`Opencode`]'s
/// `dialog_keys`).
pub(crate) fn dialog_keys(answer: PermissionAnswer) -> &'static str {
    match answer {
        PermissionAnswer::Approve => "Enter",
        PermissionAnswer::Deny => "Escape",
    }
}

/// The line its TUI's permission dialog shows.
pub(crate) const DIALOG_MARKER: &str = "△ Permission required";

/// opencode.
#[derive(Debug)]
pub struct Opencode;

impl CodingCli for Opencode {
    fn provider(&self) -> Provider {
        Provider::Opencode
    }

    /// `run` wraps a message given as arguments in double quotes; stdin reaches the model
    /// as it is.
    fn prompt_on_stdin(&self, lane: Lane) -> bool {
        lane == Lane::Headless
    }

    /// Headless: `run --session=ID` continues the session it recorded, the earlier
    /// conversation resent (seen on 1.18.33).
    fn resumes_sessions(&self, lane: Lane) -> bool {
        lane == Lane::Headless
    }

    fn permission_flags(&self, _lane: Lane, permission: Permission) -> &'static [&'static str] {
        invocation::permission_flags(permission)
    }

    fn argv(&self, start: &Start<'_>) -> Result<Argv, ProviderError> {
        invocation::argv(start, None)
    }

    fn allowed_commands(&self, w: &Wanted<'_>) -> Vec<String> {
        invocation::allowed_commands(w)
    }

    /// Its TUI's dialog (seen on 1.18.33: `Allow once   Allow always   Reject`, the first
    /// chosen): Enter allows once, Escape rejects. No plugin can answer it (its
    /// `permission.ask` hook never fired), and its plugins need an `npm install` that hangs
    /// offline, so vnx gives it none: with no hook events, its supervisor watches the screen
    /// for this line (ADR 0056).
    fn dialog_keys(&self, answer: PermissionAnswer) -> Option<&'static str> {
        Some(dialog_keys(answer))
    }

    fn dialog_marker(&self) -> Option<&'static str> {
        Some(DIALOG_MARKER)
    }

    fn output_format(&self) -> Option<OutputFormat> {
        Some(STREAM)
    }

    fn stream_events(&self) -> Option<Box<dyn StreamEvents>> {
        Some(Box::new(events::OpencodeEvents::default()))
    }

    fn transcript_claims(&self, kind: &str, event: &Value) -> bool {
        transcript::claims(kind, event)
    }

    fn transcript_events(&self) -> Option<Box<dyn TranscriptEvents>> {
        Some(Box::new(transcript::OpencodeTranscript::default()))
    }

    fn state_paths(&self) -> &'static [StatePath] {
        STATE_PATHS
    }
}
