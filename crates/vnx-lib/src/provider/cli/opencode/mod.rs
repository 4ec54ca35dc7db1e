//! opencode (npm `opencode-ai`, 1.18.33): what vnx knows about it. How it is started
//! (`invocation`: the posture as its own permission rules, given in its environment, since
//! its defaults allow every tool); its headless stream (`opencode run --format json`) parsed
//! for the receipt (`events`) and drawn as a transcript (`transcript`); its TUI's sessions,
//! rows of its SQLite database, read as the lines of that stream (`sessions`, ADR 0059);
//! where it keeps its state. It exits 0 after a denied tool, so the outcome is read from its
//! events and vnx's own report.
//!
//! Background work (ADR 0096), looked for on 1.18.33: it has none that outlives a turn and
//! that it tells of. Its `task` tool runs a sub-agent to its end inside the call, in both
//! lanes, so a turn that used one ends after the sub-agent's work; its `bash` tool has no
//! background option, and a command the shell itself backgrounds (`… &`) runs on in a
//! session of its own, unseen, after the call returned and after opencode exits (nothing in
//! its events says it runs). vnx neither waits for nor stops such a command (`events`).

use std::path::{Path, PathBuf};

use super::coding_cli::{BOTH_LANES, CliFacts, CodingCli, McpConfig};
use super::login::LoginFile;
use super::trust::PaneDialog;
use crate::receipts::kinds::{Lane, OutputFormat};
use crate::sandbox::StatePath;

mod events;
mod invocation;
mod sessions;
mod transcript;

pub(crate) use invocation::{Served, argv};

/// Its headless event stream: `opencode run --format json` (`step_start`, `tool_use`,
/// `step_finish`, `text` and `error` events, each naming its session; no closing result).
pub(crate) const STREAM: OutputFormat = OutputFormat::named("opencode-json");

/// Its data directory, where its database keeps every session: `$XDG_DATA_HOME/opencode`,
/// else `~/.local/share/opencode`.
pub(crate) fn home(var: &dyn Fn(&str) -> Option<PathBuf>, home: Option<&Path>) -> Option<PathBuf> {
    var("XDG_DATA_HOME")
        .map(|d| d.join("opencode"))
        .or_else(|| Some(home?.join(".local/share/opencode")))
}

/// What it is as data (what runs through it, a local model, builds on it).
pub(crate) static FACTS: CliFacts = CliFacts {
    // `opencode --version` prints its package's version (1.18).
    npm_package: Some("opencode-ai"),
    stream: Some(&events::HEADLESS),
    sessions: Some(&sessions::OpencodeSessions),
    // `run` wraps a message given as arguments in double quotes; stdin reaches the model
    // as it is.
    prompt_on_stdin: &[Lane::Headless],
    // `--session=ID` continues the session it recorded, the earlier conversation resent
    // (seen on 1.18.33): `run`'s headless; its TUI's (whose id vnx reads from the session it
    // found, `found_session_id`) in its minimal interface, `--mini`, since its full TUI
    // opens the session without sending `--prompt`.
    resumes_sessions: BOTH_LANES,
    allows_commands: true,
    // Its TUI's permission dialog (seen on 1.18.33: `Allow once   Allow always   Reject`, the
    // first chosen): Enter allows once, Escape rejects. No plugin can answer it (its
    // `permission.ask` hook never fired), and its plugins need an `npm install` that hangs
    // offline, so vnx gives it none: with no hook events, its supervisor watches the screen
    // for this line (ADR 0056).
    pane_dialog: Some(PaneDialog {
        marker: "△ Permission required",
        approve: "Enter",
        deny: "Escape",
    }),
    // Its user config, `$XDG_CONFIG_HOME/opencode/opencode.json`, key `mcp` (seen on
    // 1.18.33: `opencode mcp list` shows the server, the model is offered `vnx_<tool>`).
    // Not the project's `opencode.json`: vnx has its workers ignore the project's config
    // (ADR 0056), and a person's opencode in another project would not see it.
    mcp_config: Some(McpConfig::ConfigDirJson {
        file: "opencode/opencode.json",
        servers: "mcp",
    }),
    // No hook of its says its TUI's turn ended (only its plugins see `session.idle`, and vnx
    // gives it none, ADR 0056); its session does: the last assistant message completed for
    // a reason other than calling tools. The name a turn's end its session showed is
    // recorded under (the ledger reads a name ending in `_hook` as a turn's end, ADR 0062;
    // what signals it is its session).
    turn_end_signal: Some("opencode_session_hook"),
    // Where it keeps its state, relative to the home directory: its config
    // (`~/.config/opencode`, where it also writes), its data (`opencode.db` with every
    // session, `snapshot/` git dirs, `log/`), its cache and its state. A sandboxed
    // dispatch's own session place stands in for the whole data directory, so the logins
    // kept there (`auth.json`, `mcp-auth.json`) are shown in it, read-only.
    state_paths: &[
        StatePath::dir(".config/opencode", None),
        StatePath::dir(".local/share/opencode", None),
        StatePath::config(".local/share/opencode/auth.json"),
        StatePath::config(".local/share/opencode/mcp-auth.json"),
        StatePath::dir(".cache/opencode", None),
        StatePath::dir(".local/state/opencode", None),
    ],
    // What logs it in: `auth.json` (its providers' keys and logins) and its global config
    // (the providers it is given): never its database of every session, its prompt history
    // (`~/.local/state/opencode`) or its snapshots.
    login_files: &[
        LoginFile::whole(".local/share/opencode/auth.json"),
        LoginFile::whole(".config/opencode/opencode.json"),
        LoginFile::whole(".config/opencode/opencode.jsonc"),
        LoginFile::whole(".config/opencode/config.json"),
    ],
    permission_flags: invocation::permission_flags,
    ..CliFacts::named("opencode", |s| invocation::argv(s, None))
};

/// opencode.
#[derive(Debug)]
pub struct Opencode;

impl CodingCli for Opencode {
    fn facts(&self) -> &'static CliFacts {
        &FACTS
    }

    fn home(&self, var: &dyn Fn(&str) -> Option<PathBuf>, h: Option<&Path>) -> Option<PathBuf> {
        home(var, h)
    }
}
