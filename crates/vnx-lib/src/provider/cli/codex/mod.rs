//! OpenAI's Codex CLI (`codex`): what vnx knows about it. How it is started (`invocation`);
//! its headless stream
//! (`codex exec --json`, codex-rs/exec/src/exec_events.rs `ThreadEvent`) parsed for the
//! receipt (`events`) and rendered as a transcript (`transcript`); the rollout file its TUI
//! writes rendered as a transcript (`rollout`); where it keeps its state.
//!
//! Background work (ADR 0096), looked for on 0.169.0: a command `exec_command` stopped
//! waiting for runs on in a "unified exec" session (a background terminal) after the turn.
//! Headless, `codex exec` ends its turn without waiting and stops the command as it exits;
//! its stream shows the command started and never completed (`events`), so the dispatch
//! needs a person. In its TUI the command runs on ("1 background terminal running · /ps to
//! view"), but neither `notify` nor its hooks engine's `Stop` payload names it, and when it
//! ends codex starts no turn and fires no hook: only its rollout file records it, the call
//! that outlived its wait and, after the turn's `task_complete`, the command's end
//! (`background`, read through its session store), so the supervisor waits for it there.
//! It offers no sub-agent tool as vnx starts it.

use super::coding_cli::{BOTH_LANES, CliFacts, CodingCli, McpConfig};
use super::trust::PaneDialog;
use crate::receipts::kinds::{HookKind, Lane, OutputFormat, Permission};
use crate::sandbox::StatePath;

mod background;
mod events;
pub mod hooks;
mod invocation;
mod login;
mod rollout;
mod sessions;
mod transcript;
mod trust;

/// Its headless event stream: `codex exec --json`.
pub(crate) const STREAM: OutputFormat = OutputFormat::named("codex-json");

/// Its `notify` program (`agent-turn-complete`).
pub(crate) const TURN_END: HookKind = HookKind::named("codex-notify");

/// The member of the turn end `vnx deny` writes for a turn its denial interrupted.
const DENIAL_ENDED: &str = "vnx-denial-ended";

/// The Codex CLI.
#[derive(Debug)]
pub struct Codex;

/// What it is as data.
// No `relayed_key` (ADR 0124): codex 0.169 ignores `OPENAI_BASE_URL` for its built-in
// provider (seen still going to api.openai.com with it set); an address is only in its
// config.toml (`model_providers`), not in a variable the credential relay can stand in for.
static FACTS: CliFacts = CliFacts {
    stream: Some(&events::HEADLESS),
    hooks: Some(&hooks::CodexHooks),
    sessions: Some(&sessions::CodexSessions),
    // Headless: with the prompt as an argument and stdin no terminal, `codex exec` reads
    // stdin too, to append it, and opens every log with "Reading additional input from
    // stdin..." (codex 0.169); with `-` it reads the prompt there and says nothing.
    prompt_on_stdin: &[Lane::Headless],
    // `exec resume` headless, `resume` in its TUI.
    resumes_sessions: BOTH_LANES,
    // `y` proceeds and Esc refuses (codex 0.169.0). Its `PermissionRequest` hook could
    // return the decision, but codex runs it before it shows its dialog, so a waiting hook
    // would hide the dialog from a person for its whole wait (ADR 0023): the key is typed.
    pane_dialog: Some(PaneDialog {
        marker: "1. Yes, proceed (y)",
        approve: "y",
        deny: "Escape",
    }),
    turn_end_signal: Some("codex_notify_hook"),
    // `config.toml` in its home (`~/.codex`, or `$CODEX_HOME`), user scope.
    mcp_config: Some(McpConfig::HomeToml {
        file: "config.toml",
        unknown_home: "~/.codex",
    }),
    state_paths: &[StatePath::dir(".codex", Some("CODEX_HOME"))],
    // `auth.json`, and `config.toml` without other projects' trust (`login`).
    login_files: login::FILES,
    // Its home's `config.toml`.
    folder_trust: Some(|_, homes, root| Some(trust::of(homes.get("codex")?, root))),
    // `gpt*`, `codex*`.
    implied_by: |model| model.starts_with("gpt") || model.starts_with("codex"),
    // Esc in its dialog refuses the command and interrupts the whole turn: it shows
    // `■ Conversation interrupted` and idles at its input, and `notify` never fires (seen on
    // codex 0.169). The turn's end is written as `notify` would write it, marked as vnx's
    // own (`vnx-denial-ended`), which names no thread.
    denial_ends_turn: Some(|said| super::DenialEnd {
        shows: "Conversation interrupted",
        event: "codex-notify",
        payload: serde_json::json!({
            "type": "agent-turn-complete",
            "last-assistant-message": said,
            DENIAL_ENDED: true,
        }),
    }),
    ..CliFacts::named("codex", invocation::argv)
};

impl CodingCli for Codex {
    fn facts(&self) -> &'static CliFacts {
        &FACTS
    }

    fn permission_flags(&self, lane: Lane, permission: Permission) -> &'static [&'static str] {
        invocation::permission_flags(lane, permission)
    }

    /// It has no plan mode of its own: it plans in its read-only sandbox (the `ask`
    /// posture's flags), told to plan.
    fn plan_flags(&self, lane: Lane) -> Option<&'static [&'static str]> {
        Some(invocation::permission_flags(lane, Permission::Ask))
    }
}

#[cfg(test)]
mod tests {
    use crate::provider::Provider;
    use crate::provider::cli::CodingCli;
    use crate::provider::cli::testing::group;
    use crate::provider::flags::passed;

    #[test]
    fn the_turn_a_denial_interrupted_is_the_dispatchs_and_says_the_denial() {
        let codex = super::Codex;
        let end = codex.denial_ends_turn("ana denied git commit").unwrap();
        assert_eq!(end.event, "codex-notify");
        let hooks = codex.hooks().unwrap();
        assert_eq!(hooks.turn_thread(&end.payload, "the prompt"), None);
        assert_eq!(hooks.message(&end.payload), Some("ana denied git commit"));
        assert_eq!(hooks.session(end.event, &end.payload, true), None);
        // codex's own notify still names its thread, the title's sub-thread apart.
        let title = serde_json::json!({"thread-id": "t2", "input-messages": ["name it"]});
        let thread = hooks.turn_thread(&title, "the prompt").unwrap();
        assert!(!thread.prompted);
    }

    #[test]
    fn the_flags_vnx_passes_are_grouped_by_the_help_that_lists_them() {
        assert_eq!(
            group(Provider::Codex, &["exec"]),
            [
                "--add-dir",
                "--dangerously-bypass-approvals-and-sandbox",
                "--json",
                "--model",
                "--sandbox",
                "--skip-git-repo-check",
                "-c"
            ]
        );
        // `exec resume` takes the posture and the dispatch directory as `-c` overrides.
        assert_eq!(
            group(Provider::Codex, &["exec", "resume"]),
            [
                "--dangerously-bypass-approvals-and-sandbox",
                "--json",
                "--model",
                "--skip-git-repo-check",
                "-c"
            ]
        );
        let resumed = group(Provider::Codex, &["resume"]);
        assert!(resumed.contains(&"--add-dir".to_owned()), "{resumed:?}");
        let tui = group(Provider::Codex, &[]);
        assert!(tui.contains(&"--no-daemon".to_owned()) && tui.contains(&"-c".to_owned()));
        assert!(!tui.contains(&"--json".to_owned()));
        assert_eq!(
            passed(Provider::Codex)
                .iter()
                .map(|g| g.command("codex"))
                .collect::<Vec<_>>(),
            [
                "codex exec --help",
                "codex exec resume --help",
                "codex --help",
                "codex resume --help"
            ]
        );
    }
}
