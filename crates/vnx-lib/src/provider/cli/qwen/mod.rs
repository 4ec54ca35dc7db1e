//! Alibaba's Qwen Code (`qwen`, 0.15.10): what vnx knows about it. How it is started
//! (`invocation`); its headless stream (`qwen PROMPT -o stream-json`) parsed for the receipt
//! (`events`) and rendered as a transcript (`transcript`); its TUI's hooks (`hooks`), session
//! files and their usage (`sessions`), drawn as a transcript (`session`); its folder trust
//! (`trust`); where it keeps its state and its memory (`memory`). Its exit code says nothing: it exits 0 after an
//! HTTP 400 or 500 and after a denied tool, so the outcome is read from its events and
//! vnx's own report.

use std::path::{Path, PathBuf};

use super::coding_cli::{BOTH_LANES, CliFacts, CodingCli, KeyVars, McpConfig};
use super::login::LoginFile;
use super::trust::PaneDialog;
use crate::receipts::kinds::{HookKind, Lane, OutputFormat};
use crate::sandbox::StatePath;

mod events;
pub mod hooks;
mod invocation;
mod memory;
mod session;
mod sessions;
mod transcript;
mod trust;

/// Its headless event stream: `qwen PROMPT -o stream-json` (`system`, `assistant`, `user`, `result` events; an API error is a successful result whose text says so).
pub(crate) const STREAM: OutputFormat = OutputFormat::named("qwen-stream-json");

/// Its TUI's `Stop` hook (end of a turn; `PermissionRequest` says it waits).
pub(crate) const TURN_END: HookKind = HookKind::named("qwen-stop");

/// Qwen Code.
#[derive(Debug)]
pub struct Qwen;

/// What it is as data.
static FACTS: CliFacts = CliFacts {
    // Its OpenAI-compatible key (`Authorization: Bearer`) and `OPENAI_BASE_URL`; its
    // Qwen OAuth login is not relayed.
    relayed_key: Some(KeyVars {
        key: "OPENAI_API_KEY",
        base_urls: &["OPENAI_BASE_URL"],
        kept_suffix: 0,
        default_base: Some("https://api.openai.com/v1"),
    }),
    // `qwen --version` prints its package's version (0.15.10), read without starting node
    // (1.2 CPU-s).
    npm_package: Some("@qwen-code/qwen-code"),
    stream: Some(&events::HEADLESS),
    hooks: Some(&hooks::HOOKS),
    sessions: Some(&sessions::SESSIONS),
    // `--resume=ID` (`-r`) continues the session it recorded, the earlier conversation
    // resent, in both lanes (seen on 0.15.10: `--resume=ID -i PROMPT` sent both turns and
    // appended to the session's file).
    resumes_sessions: BOTH_LANES,
    // Its TUI takes `--session-id`.
    chooses_session_id: &[Lane::Interactive],
    allows_commands: true,
    // `1` allows once and Esc refuses (qwen 0.15.10), for a dialog its `PermissionRequest`
    // hook left up (it shows none while the hook waits). Esc also ends the turn: the tool
    // is cancelled, no `Stop` comes, the TUI waits for input.
    pane_dialog: Some(PaneDialog {
        marker: "1. Yes, allow once",
        approve: "1",
        deny: "Escape",
    }),
    turn_end_signal: Some("qwen_stop_hook"),
    // The project's `.qwen/settings.json`, `mcpServers` (project scope; seen on 0.15.10).
    mcp_config: Some(McpConfig::ProjectJson {
        file: ".qwen/settings.json",
        servers: "mcpServers",
        stdio_type: false,
        no_link: Some(".qwen"),
    }),
    // Its auto memory, moved to the dispatch's directory by `QWEN_CODE_MEMORY_BASE_DIR`.
    keeps_memory: true,
    // `~/.qwen` (settings, `projects/<cwd>/chats/<id>.jsonl` sessions, `debug/`), or
    // `QWEN_HOME` where that is set.
    state_paths: &[StatePath::dir(".qwen", Some("QWEN_HOME"))],
    // Its Qwen OAuth login (`oauth_creds.json`) and its settings (the kind of login
    // chosen): never its projects' chats.
    login_files: &[
        LoginFile::whole(".qwen/oauth_creds.json"),
        LoginFile::whole(".qwen/settings.json"),
    ],
    permission_flags: invocation::permission_flags,
    // Its plan mode: `--approval-mode plan`, "plan only" (its `--help`), in both lanes.
    plan_flags: Some(&["--approval-mode", "plan"]),
    // `trustedFolders.json` in its home, where its settings turn folder trust on.
    folder_trust: Some(|home, homes, root| {
        let own = (homes.get("qwen").map(Path::to_owned)).or_else(|| Some(home?.join(".qwen")))?;
        trust::of(&own, root)
    }),
    // `qwen*` without a tag (`qwen3:8b` is a local model's `name:tag`, served locally).
    implied_by: |model| model.starts_with("qwen") && !model.contains(':'),
    // Its TUI's settings file (named by `QWEN_CODE_SYSTEM_SETTINGS_PATH`), for a launch that
    // gives it its hooks.
    dispatch_files: |launch| launch.settings_file(&TURN_END, hooks::SETTINGS_FILE, hooks::settings),
    ..CliFacts::named("qwen", invocation::argv)
};

impl CodingCli for Qwen {
    fn facts(&self) -> &'static CliFacts {
        &FACTS
    }

    fn memory_folder(&self, dispatch_dir: &Path, main_checkout: &Path) -> PathBuf {
        memory::folder(dispatch_dir, main_checkout)
    }
}

#[cfg(test)]
mod tests {
    use crate::provider::Provider;
    use crate::provider::cli::testing::group;

    /// The flags doctor checks against `qwen --help` (0.15.10 lists each of them).
    #[test]
    fn the_flags_vnx_passes_are_checked_against_its_help() {
        let mut qwen = group(Provider::Qwen, &[]);
        qwen.sort();
        assert_eq!(
            qwen,
            [
                "--allowed-tools",
                "--approval-mode",
                "--model",
                "--resume",
                "--session-id",
                "-i",
                "-o"
            ]
        );
    }
}
