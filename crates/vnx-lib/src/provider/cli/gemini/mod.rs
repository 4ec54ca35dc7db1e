//! Google's Gemini CLI (`gemini`): what vnx knows about it. How it is started
//! (`invocation`); its headless stream
//! (`gemini -p --output-format stream-json`) parsed for the receipt (`events`) and rendered as
//! a transcript (`transcript`); the chat session file its TUI writes rendered as a transcript
//! (`session`); where it keeps its state.
//!
//! Background work (ADR 0096): headless, `run_shell_command` with `is_background` answers
//! "Command moved to background (PID: N)" and the command runs on in a session of its own
//! after gemini exits; no event says when it ends. Its dispatch is then not done (`events`),
//! but vnx neither waits for it nor stops it.

use std::path::{Path, PathBuf};

use super::coding_cli::{CliFacts, CodingCli, KeyVars, McpConfig};
use super::login::LoginFile;
use super::trust::PaneDialog;
use crate::receipts::kinds::{HookKind, Lane, OutputFormat};
use crate::sandbox::StatePath;

mod events;
pub mod hooks;
mod invocation;
mod session;
mod sessions;
mod transcript;
mod worktree;

/// Its headless event stream: `gemini -p --output-format stream-json`.
pub(crate) const STREAM: OutputFormat = OutputFormat::named("gemini-stream-json");

/// The hook event that ends its TUI's turn (`AfterAgent`).
const TURN_END_EVENT: &str = "gemini-after-agent";
/// Its `AfterAgent` hook (end of a turn; `Notification` says it waits).
pub(crate) const TURN_END: HookKind = HookKind::named(TURN_END_EVENT);

/// The Gemini CLI.
#[derive(Debug)]
pub struct Gemini;

/// What it is as data.
static FACTS: CliFacts = CliFacts {
    // Its API key (`x-goog-api-key`) and `GOOGLE_GEMINI_BASE_URL`; a Google login or
    // Vertex AI is not relayed.
    relayed_key: Some(KeyVars {
        key: "GEMINI_API_KEY",
        base_urls: &["GOOGLE_GEMINI_BASE_URL"],
        kept_suffix: 0,
        default_base: Some("https://generativelanguage.googleapis.com"),
    }),
    // `gemini --version` prints its package's version (0.61).
    npm_package: Some("@google/gemini-cli"),
    stream: Some(&events::HEADLESS),
    hooks: Some(&hooks::GeminiHooks),
    sessions: Some(&sessions::GeminiSessions),
    // Headless only. Its TUI does not: given `--resume` and `-i`, gemini 0.61 sends the new
    // prompt without the session's history, then swaps the history back in over it after
    // the first tool call (the new instruction is lost mid-turn).
    resumes_sessions: &[Lane::Headless],
    allows_commands: true,
    // `1` allows once and Esc refuses (gemini 0.61.0, which has no hook that answers).
    // Its refusal is the third choice of a command's dialog but the fourth of an edit's,
    // after "Modify with external editor"; both label it (esc). It draws its dialog before
    // it reads keys (a `1` typed at once was lost and the dispatch ran into its deadline),
    // so `dispatch::answer` types them again while the pane shows the dialog unchanged.
    pane_dialog: Some(PaneDialog {
        marker: "1. Allow once",
        approve: "1",
        deny: "Escape",
    }),
    turn_end_signal: Some("gemini_after_agent_hook"),
    // The project's `.gemini/settings.json` (project scope).
    mcp_config: Some(McpConfig::ProjectJson {
        file: ".gemini/settings.json",
        servers: "mcpServers",
        stdio_type: false,
        no_link: Some(".gemini"),
    }),
    // Its `GEMINI.md`, in its own home (`own_home`).
    keeps_memory: true,
    state_paths: &[StatePath::dir(".gemini", None)],
    // Its Google login (`oauth_creds.json`, `google_accounts.json`) and its settings (the
    // kind of login chosen): never its chats and checkpoints (`tmp/`), or its memory.
    login_files: &[
        LoginFile::whole(".gemini/oauth_creds.json"),
        LoginFile::whole(".gemini/google_accounts.json"),
        LoginFile::whole(".gemini/settings.json"),
    ],
    permission_flags: invocation::permission_flags,
    // Its plan mode: `--approval-mode plan`, its read-only mode (gemini 0.61's `--help`), in both lanes.
    plan_flags: Some(&["--approval-mode", "plan"]),
    // `gemini*`.
    implied_by: |model| model.starts_with("gemini"),
    // Escape in its dialog cancels the turn: it shows `ℹ Request cancelled.` and idles at
    // its input, and `AfterAgent` never fires (seen on gemini 0.61).
    denial_ends_turn: Some(|said| super::DenialEnd {
        shows: "Request cancelled.",
        event: TURN_END_EVENT,
        payload: serde_json::json!({ "prompt_response": said }),
    }),
    // Seen (0.61.0, `tests/support/fixtures/limits/far/gemini-tui.screen`): a per-day quota
    // met in its TUI is a dialog, `Usage limit reached for <model>.` over `● 1. Keep trying` /
    // `2. Stop`, with no AfterAgent hook.
    tui_limits: Some(tui_limits),
    // Its policy file, where the argv names one (`--policy`).
    dispatch_files: |launch| {
        if !launch.argv.iter().any(|a| a == "--policy") {
            return Vec::new();
        }
        let policy = hooks::policy(launch.allowed_commands);
        vec![(hooks::POLICY_FILE, policy.into_bytes())]
    },
    ..CliFacts::named("gemini", invocation::argv)
};

impl CodingCli for Gemini {
    fn facts(&self) -> &'static CliFacts {
        &FACTS
    }

    /// Its limit dialog's first choice, `Keep trying`, is the one marked: Enter takes it.
    fn tui_limit_keys(&self) -> Option<&'static [&'static str]> {
        Some(&["Enter"])
    }

    /// A home of its own in every dispatch (`GEMINI_CLI_HOME`; seen on 0.61): its memory
    /// file `GEMINI.md` there loads into every session, and its file tools may write it (and
    /// its project memory in `tmp/`) without the worktree's bounds.
    fn own_home(&self) -> Option<super::OwnHome> {
        Some(super::OwnHome {
            var: "GEMINI_CLI_HOME",
            state: ".gemini",
            memory: "GEMINI.md",
        })
    }

    fn home(&self, var: &dyn Fn(&str) -> Option<PathBuf>, home: Option<&Path>) -> Option<PathBuf> {
        var("GEMINI_CLI_HOME")
            .or_else(|| home.map(Path::to_owned))
            .map(|h| h.join(".gemini"))
    }
}

/// The usage limits its TUI's screen shows (see [`CodingCli::tui_limits`]).
fn tui_limits(screen: &str) -> Vec<crate::receipts::UsageLimit> {
    screen
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '│' || c.is_whitespace()))
        .filter(|l| l.starts_with("Usage limit reached for "))
        .map(super::limit::said)
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::provider::Provider;
    use crate::provider::cli::testing::group;

    #[test]
    fn the_flags_vnx_passes_are_checked_against_its_help() {
        let gemini = group(Provider::Gemini, &[]);
        for f in ["--skip-trust", "-i", "-p", "--yolo", "--approval-mode"] {
            assert!(gemini.contains(&f.to_owned()), "{f}: {gemini:?}");
        }
    }
}
