//! GitHub's Copilot CLI (`copilot`, npm `@github/copilot` 1.0.102): what vnx knows about it.
//! How it is started (`invocation`: its own allow flags for the postures, the session vnx
//! names); its headless stream (`copilot -p PROMPT --output-format json`) parsed for the
//! receipt (`events`) and rendered as a transcript (`transcript`, also of its session file,
//! which is that stream's vocabulary); its session files and the usage they record
//! (`sessions`: its headless stream has no tokens); the hooks its TUI is given (`hooks`) and
//! their place in the worktree with its folder trust (`worktree`); where it keeps its state.
//! Its exit code says nothing of a refused tool (it exits 0 after one): the worker's report
//! decides.

use super::coding_cli::{BOTH_LANES, CliFacts, CodingCli, KeyVars, McpConfig};
use super::trust::PaneDialog;
use crate::receipts::kinds::{HookKind, Lane, OutputFormat};
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

/// What it is as data.
static FACTS: CliFacts = CliFacts {
    // Its own provider's key and address (`COPILOT_PROVIDER_*`), only when the address is
    // set: its GitHub login talks to GitHub's service in a form of its own.
    relayed_key: Some(KeyVars {
        key: "COPILOT_PROVIDER_API_KEY",
        base_urls: &["COPILOT_PROVIDER_BASE_URL"],
        kept_suffix: 0,
        default_base: None,
    }),
    stream: Some(&events::HEADLESS),
    hooks: Some(&hooks::CopilotHooks),
    sessions: Some(&sessions::CopilotSessions),
    // `--resume=ID` continues a session in both lanes, its history resent (seen on 1.0.102).
    resumes_sessions: BOTH_LANES,
    // `--session-id=UUID` names a new session, in both lanes.
    chooses_session_id: BOTH_LANES,
    allows_commands: true,
    turn_end_signal: Some("copilot_agent_stop_hook"),
    // `1` (Yes) answers its dialog; Escape refuses by stopping the turn ("Operation
    // cancelled by user"; no `agentStop` follows: see `denial_ends_turn`). Its
    // third choice refuses and goes on only with words typed after it, which one key
    // cannot give (seen on 1.0.102). No hook of its answers (see `hooks`).
    pane_dialog: Some(PaneDialog {
        marker: "1. Yes",
        approve: "1",
        deny: "Escape",
    }),
    // `<home>/mcp-config.json` (`mcpServers`, user scope), as `copilot mcp add` writes it.
    mcp_config: Some(McpConfig::HomeJson {
        file: "mcp-config.json",
        servers: "mcpServers",
        unknown_home: "~/.copilot",
    }),
    // `~/.copilot` (settings, trust, sessions, logs), or `COPILOT_HOME`; and
    // `~/.cache/copilot`, where it unpacks itself on its first start.
    state_paths: &[
        StatePath::dir(".copilot", Some("COPILOT_HOME")),
        StatePath::dir(".cache/copilot", None),
    ],
    // `config.json` (who is logged in, and their token where no keyring keeps it): never
    // its command history, sessions or logs.
    login_files: &[super::login::LoginFile::whole(".copilot/config.json")],
    permission_flags: invocation::permission_flags,
    // Escape in its dialog refuses the tool and stops the whole turn: it shows
    // `● Operation cancelled by user` and idles at its input, and `agentStop` never fires
    // (seen on 1.0.102). The turn's end is written as `agentStop` would, the denial as the
    // worker's last message (in a member of vnx's own).
    denial_ends_turn: Some(|said| super::DenialEnd {
        shows: "Operation cancelled by user",
        event: "copilot-agent-stop",
        payload: serde_json::json!({ "stopReason": "cancelled", DENIAL_SAID: said }),
    }),
    ..CliFacts::named("copilot", |s| Ok(invocation::argv(s)))
};

impl CodingCli for Copilot {
    fn facts(&self) -> &'static CliFacts {
        &FACTS
    }

    /// Both lanes: its headless stream records no tokens.
    fn usage_from_session(&self, _lane: Lane) -> bool {
        true
    }
}
