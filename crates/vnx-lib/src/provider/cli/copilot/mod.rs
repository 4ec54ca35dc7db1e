//! GitHub's Copilot CLI (`copilot`, npm `@github/copilot` 1.0.102): what vnx knows about it.
//! How it is started (`invocation`: its own allow flags for the postures, the session vnx
//! names); its headless stream (`copilot -p PROMPT --output-format json`) parsed for the
//! receipt (`events`) and rendered as a transcript (`transcript`, also of its session file,
//! which is that stream's vocabulary); its session files and the usage they record
//! (`sessions`: its headless stream has no tokens); the hooks its TUI is given (`hooks`) and
//! their place in the worktree with its folder trust (`worktree`); where it keeps its state.
//! Its exit code says nothing of a refused tool (it exits 0 after one): the worker's report
//! decides.

use super::argv::{Argv, Start, Wanted};
use super::coding_cli::{CodingCli, McpConfig};
use super::error::ProviderError;
use super::hook::Hooks;
use super::session::SessionStore;
use super::stream::HeadlessStream;
use super::trust::PaneDialog;
use crate::receipts::kinds::{HookKind, Lane, OutputFormat, Permission};
use crate::sandbox::StatePath;

mod events;
mod hooks;
mod invocation;
mod sessions;
mod transcript;
mod worktree;

/// Its headless event stream: `copilot -p PROMPT --output-format json` (JSONL events; a
/// denied tool is a failed `tool.execution_complete` after which it exits 0).
pub(crate) const STREAM: OutputFormat = OutputFormat::named("copilot-json");

/// Its `agentStop` hook (end of a turn), with `permissionRequest` and `notification`, from
/// `.github/hooks/` in the worktree.
pub(crate) const TURN_END: HookKind = HookKind::named("copilot-agent-stop");

/// The member of the turn end `vnx deny` writes that holds the denial.
const DENIAL_SAID: &str = "vnx-denial-said";

/// The GitHub Copilot CLI.
#[derive(Debug)]
pub struct Copilot;

impl CodingCli for Copilot {
    /// Its own provider's key and address (`COPILOT_PROVIDER_*`), only when the address is
    /// set: its GitHub login talks to GitHub's service in a form of its own.
    fn relayed_key(&self) -> Option<super::coding_cli::KeyVars> {
        Some(super::coding_cli::KeyVars {
            key: "COPILOT_PROVIDER_API_KEY",
            base_urls: &["COPILOT_PROVIDER_BASE_URL"],
            kept_suffix: 0,
            default_base: None,
        })
    }

    fn stream(&self) -> Option<&'static HeadlessStream> {
        Some(&events::HEADLESS)
    }

    fn hooks(&self) -> Option<&'static dyn Hooks> {
        Some(&hooks::CopilotHooks)
    }

    fn sessions(&self) -> Option<&'static dyn SessionStore> {
        Some(&sessions::CopilotSessions)
    }

    fn name(&self) -> &'static str {
        "copilot"
    }

    /// `--resume=ID` continues a session in both lanes, its history resent (seen on 1.0.102).
    fn resumes_sessions(&self, _lane: Lane) -> bool {
        true
    }

    /// `--session-id=UUID` names a new session, in both lanes.
    fn chooses_session_id(&self, _lane: Lane) -> bool {
        true
    }

    fn permission_flags(&self, _lane: Lane, permission: Permission) -> &'static [&'static str] {
        invocation::permission_flags(permission)
    }

    fn argv(&self, start: &Start<'_>) -> Result<Argv, ProviderError> {
        Ok(invocation::argv(start))
    }

    fn allowed_commands(&self, w: &Wanted<'_>) -> Vec<String> {
        w.unasked_commands()
    }

    fn turn_end_signal(&self) -> Option<&'static str> {
        Some("copilot_agent_stop_hook")
    }

    /// `1` (Yes) answers its dialog; Escape refuses by stopping the turn ("Operation
    /// cancelled by user"; no `agentStop` follows: see `denial_ends_turn`). Its
    /// third choice refuses and goes on only with words typed after it, which one key
    /// cannot give (seen on 1.0.102). No hook of its answers (see `hooks`).
    fn pane_dialog(&self) -> Option<PaneDialog> {
        Some(PaneDialog {
            marker: "1. Yes",
            approve: "1",
            deny: "Escape",
        })
    }

    /// Escape in its dialog refuses the tool and stops the whole turn: it shows
    /// `● Operation cancelled by user` and idles at its input, and `agentStop` never fires
    /// (seen on 1.0.102). The turn's end is written as `agentStop` would, the denial as the
    /// worker's last message (in a member of vnx's own).
    fn denial_ends_turn(&self, said: &str) -> Option<super::DenialEnd> {
        Some(super::DenialEnd {
            shows: "Operation cancelled by user",
            event: "copilot-agent-stop",
            payload: serde_json::json!({ "stopReason": "cancelled", DENIAL_SAID: said }),
        })
    }

    /// `<home>/mcp-config.json` (`mcpServers`, user scope), as `copilot mcp add` writes it.
    fn mcp_config(&self) -> Option<McpConfig> {
        Some(McpConfig::HomeJson {
            file: "mcp-config.json",
            servers: "mcpServers",
            unknown_home: "~/.copilot",
        })
    }

    /// Both lanes: its headless stream records no tokens.
    fn usage_from_session(&self, _lane: Lane) -> bool {
        true
    }

    /// `~/.copilot` (settings, trust, sessions, logs), or `COPILOT_HOME`; and
    /// `~/.cache/copilot`, where it unpacks itself on its first start.
    fn state_paths(&self) -> &'static [StatePath] {
        const PATHS: &[StatePath] = &[
            StatePath::dir(".copilot", Some("COPILOT_HOME")),
            StatePath::dir(".cache/copilot", None),
        ];
        PATHS
    }

    /// `config.json` (who is logged in, and their token where no keyring keeps it): never
    /// its command history, sessions or logs.
    fn login_files(&self) -> &'static [super::login::LoginFile] {
        const FILES: &[super::login::LoginFile] =
            &[super::login::LoginFile::whole(".copilot/config.json")];
        FILES
    }
}
