//! Anthropic's Claude Code (`claude`): what vnx knows about it. The models it takes
//! (`models`); how it is started (`invocation`); its headless stream
//! (`claude -p --output-format stream-json --verbose`) parsed for the receipt (`events`) and
//! rendered as a transcript (`transcript`, also of its session file, which is that stream's
//! vocabulary); where it keeps its state.
//!
//! Background work (ADR 0096): its TUI's `Stop` hook names the background shells and
//! sub-agents still running (`background_tasks`, read by the engine's hooks), and it runs a
//! turn of its own when they end; `-p` says `task_started` and how each ended, waits for
//! sub-agents but stops a shell 5 s after its turn (`events`). vnx waits past the first and
//! reports the second as needing a person.

use super::coding_cli::{BOTH_LANES, CliFacts, CodingCli, KeyVars, McpConfig};
use super::error::ProviderError;
use super::trust::PaneDialog;
use crate::receipts::kinds::{HookKind, Lane, OutputFormat};
use crate::sandbox::StatePath;

mod events;
pub mod hooks;
mod invocation;
mod login;
mod models;
mod sessions;
mod transcript;
mod trust;

/// Its headless event stream: `claude -p --output-format stream-json --verbose`.
pub(crate) const STREAM: OutputFormat = OutputFormat::named("claude-stream-json");

/// Its `Stop` hook (end of a turn; `Notification` says it waits).
pub(crate) const TURN_END: HookKind = HookKind::named("claude-stop");

/// Claude Code.
#[derive(Debug)]
pub struct Claude;

/// What it is as data.
static FACTS: CliFacts = CliFacts {
    // Its API key (`x-api-key`) and `ANTHROPIC_BASE_URL`; a login (OAuth in
    // `~/.claude/.credentials.json`) is not relayed. Its TUI asks whether to use a key from
    // the environment unless `~/.claude.json`'s `customApiKeyResponses.approved` holds the
    // key's last 20 characters (seen with 2.1.197): the placeholder ends with them.
    relayed_key: Some(KeyVars {
        key: "ANTHROPIC_API_KEY",
        base_urls: &["ANTHROPIC_BASE_URL"],
        kept_suffix: 20,
        default_base: Some("https://api.anthropic.com"),
    }),
    stream: Some(&events::HEADLESS),
    hooks: Some(&hooks::HOOKS),
    sessions: Some(&sessions::SESSIONS),
    // `--resume`, in both lanes.
    resumes_sessions: BOTH_LANES,
    // Its TUI takes `--session-id`.
    chooses_session_id: &[Lane::Interactive],
    allows_commands: true,
    // `1` (yes) and `3` (no) on claude 2.1.197; its `PermissionRequest` hook answers first
    // (`dispatch::answer`).
    pane_dialog: Some(PaneDialog {
        marker: "1. Yes",
        approve: "1",
        deny: "3",
    }),
    turn_end_signal: Some("claude_stop_hook"),
    // The project's `.mcp.json` (project scope).
    mcp_config: Some(McpConfig::ProjectJson {
        file: ".mcp.json",
        servers: "mcpServers",
        stdio_type: true,
        no_link: None,
    }),
    // Its auto memory (`autoMemoryDirectory` in the settings vnx gives it).
    keeps_memory: true,
    state_paths: &[
        StatePath::dir(".claude", Some("CLAUDE_CONFIG_DIR")),
        StatePath::file(".claude.json"),
        // Its native installer's versions, which `~/.local/bin/claude` links to.
        StatePath::program(".local/share/claude"),
    ],
    // Its OAuth tokens, its settings, and its account of `~/.claude.json` (`login`).
    login_files: login::FILES,
    permission_flags: invocation::permission_flags,
    // Its plan mode: `--permission-mode plan` (claude 2.1.197's `--help` lists it), in both lanes.
    plan_flags: Some(&["--permission-mode", "plan"]),
    // `~/.claude.json`'s projects.
    folder_trust: Some(|home, _, root| Some(trust::of(home?, root))),
    // sonnet, opus, haiku, `claude*`.
    implied_by: |model| ["sonnet", "opus", "haiku"].contains(&model) || model.starts_with("claude"),
    // Seen (2.1.197, `tests/support/fixtures/limits/far/claude-tui.screen`): a limit whose
    // reset is far is drawn `● API Error: Request rejected (429) · <the API's message>`, the
    // prompt back and no Stop hook; a near one is retried by itself (`Retrying in 13s`).
    tui_limits: Some(tui_limits),
    // Its hooks' settings file (`--settings`), for a launch that gives it its hooks.
    dispatch_files: |launch| launch.settings_file(&TURN_END, hooks::SETTINGS_FILE, hooks::settings),
    ..CliFacts::named("claude", invocation::argv)
};

impl CodingCli for Claude {
    fn facts(&self) -> &'static CliFacts {
        &FACTS
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
        super::coding_cli::check_valid(self.name(), model)?;
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

    /// Two, seen on 2.1.197. In a folder it does not trust: "Accessing workspace: DIR … Is
    /// this a project you created or one you trust? ❯ 1. Yes, I trust this folder / 2. No,
    /// exit", Enter to confirm, Esc to cancel; the trust it records then is the
    /// repository's (also in a worktree), so it asks once per repository. With
    /// `--dangerously-skip-permissions` (the full posture's TUI) until its user accepted it:
    /// "WARNING: Claude Code running in Bypass Permissions mode … ❯ 1. No, exit / 2. Yes, I
    /// accept"; `2` accepts at once and records `skipDangerousModePermissionPrompt` in its
    /// user settings, so it asks once per home; Esc exits with status 0.
    fn start_dialogs(&self) -> &'static [super::trust::StartDialog] {
        &[
            super::trust::StartDialog {
                marker: "1. Yes, I trust this folder",
                asks: "trust this folder (claude then trusts the repository)",
                approve: "Enter",
                deny: "Escape",
                trusts_folder: true,
            },
            super::trust::StartDialog {
                marker: "2. Yes, I accept",
                asks: "accept Bypass Permissions mode (claude asks once per home; a sandboxed \
                       worker's is a copy)",
                approve: "2",
                deny: "Escape",
                trusts_folder: false,
            },
        ]
    }
}

/// The usage limits its TUI's screen shows (see [`CodingCli::tui_limits`]).
fn tui_limits(screen: &str) -> Vec<crate::receipts::UsageLimit> {
    screen
        .lines()
        .filter(|l| l.contains("API Error: Request rejected (429)"))
        .map(|l| super::limit::said(l.trim_start_matches(['●', ' '])))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::complete::{Kind, candidates};
    use crate::provider::Provider;
    use crate::provider::cli::testing::group;

    #[test]
    fn a_sandboxed_worker_reads_its_installers_versions_and_writes_a_copy_of_its_state() {
        use crate::sandbox::{Machine, Place, Shape, ShapeExt, Wanted};
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let versions = home.join(".local/share/claude");
        for d in [&versions, &home.join(".claude"), &home.join(".local/bin")] {
            std::fs::create_dir_all(d).unwrap();
        }
        let repo = t.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        // Its launcher on PATH; the versions it runs are beside, under `.local/share`.
        let worker = home.join(".local/bin/claude");
        std::fs::write(&worker, "").unwrap();
        let machine = Machine {
            bwrap: Some("/usr/bin/bwrap".into()),
            home: Some(home.clone()),
            runtime_dir: None,
            path: vec![],
            state_vars: Default::default(),
        };
        let place = Place {
            repo_root: &repo,
            worktree: &repo,
            dispatch_dir: &repo,
            data_dir: &repo.join(".vnx-data"),
            vnx: &repo,
            worker: &worker,
            state: Provider::Claude.cli().state_paths(),
            sessions: None,
        };
        let shape = Shape::plan(&machine, &Wanted::default(), &place, None).unwrap();
        assert!(shape.read_only.contains(&versions), "{:?}", shape.read_only);
        assert!(!shape.writable.contains(&versions), "{:?}", shape.writable);
        // Its state is a private copy shown where it keeps it, never the real one writable.
        assert!(
            shape
                .homes
                .iter()
                .any(|h| h.shown_at == home.join(".claude") && h.dir),
            "{:?}",
            shape.homes
        );
        assert!(!shape.writable.contains(&home.join(".claude")));
    }

    #[test]
    fn the_flags_vnx_passes_are_checked_against_its_help() {
        assert_eq!(
            group(Provider::Claude, &[]),
            [
                "--add-dir",
                "--allowedTools",
                "--dangerously-skip-permissions",
                "--model",
                "--output-format",
                "--permission-mode",
                "--resume",
                "--session-id",
                "--settings",
                "--verbose",
                "-p"
            ]
        );
    }

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
        // Other CLIs' suggestions may follow: the registry decides how many there are.
        let demos = crate::provider::DemoBehaviour::ALL.len();
        assert_eq!(models[demos..demos + 3], aliases[..], "{models:?}");
        assert!(models[..demos].iter().all(|(_, d)| d == "demo"));
    }
}
