//! The hooks the GitHub Copilot CLI is given in its TUI: a file in the worktree's
//! `.github/hooks/` (copilot reads hooks only there, and only in a folder it trusts; see
//! `worktree`), `{"version": 1, "hooks": {EVENT: [{"type": "command", "bash": CMD,
//! "timeoutSec": N}]}}`, the payload as JSON on stdin (seen on 1.0.102).
//!
//! `agentStop` ends a turn (`transcriptPath`, `stopReason`); `notification` of type
//! `permission_prompt` comes as its dialog shows ("Run command: CMD", "Edit file: PATH");
//! `postToolUse` says a tool ran. Its `permissionRequest` hook is not given: copilot runs it
//! for every tool before its allow rules decide (also for a file write `--allow-tool=write`
//! allows), and holds the tool until the hook returns, so a hook waiting for
//! `vnx approve`/`deny` would hold every allowed tool too (ADR 0058). Its dialog is answered
//! by keys instead.

use std::path::Path;

use serde_json::{Value, json};

use crate::provider::cli::hook::{
    HOOK_TIMEOUT_SECS, HookSays, Hooks, WorktreeHooks, hook_command, payload_text as text,
};
use crate::receipts::WaitingFor;

/// The events of its hooks, as `vnx __hook` takes them.
pub(super) const EVENTS: [&str; 3] = [
    "copilot-agent-stop",
    "copilot-notification",
    "copilot-post-tool-use",
];

/// The hook whose signal is its dialog on the screen, sent once for each.
pub(super) const NOTIFICATION: &str = "copilot-notification";

/// Where the hooks' file goes in the worktree, and its name.
pub(super) const DIR: &str = ".github/hooks";
pub(super) const FILE: &str = "vnx-dispatch.json";

/// The hooks' file: each of copilot's events with vnx's hook.
pub(super) fn settings(vnx: &Path, dispatch_dir: &Path) -> Value {
    let hook = |event: &str| {
        json!([{
            "type": "command",
            "bash": hook_command(vnx, event, dispatch_dir),
            "timeoutSec": HOOK_TIMEOUT_SECS,
        }])
    };
    json!({
        "version": 1,
        "hooks": {
            "agentStop": hook("copilot-agent-stop"),
            "notification": hook(NOTIFICATION),
            "postToolUse": hook("copilot-post-tool-use"),
        }
    })
}

/// Its hooks (see the module's documentation).
pub(super) struct CopilotHooks;

impl Hooks for CopilotHooks {
    fn events(&self) -> &'static [&'static str] {
        &EVENTS
    }

    /// What a signal of its hooks says: `notification` of type `permission_prompt` is its dialog
    /// on the screen, its message naming the command (`Run command: CMD`, the tool `bash`) or
    /// the file (`Edit file: PATH`, the tool `edit`); `postToolUse` and `agentStop`, the worker
    /// goes on.
    fn says(&self, event: &str, p: &Value) -> HookSays {
        match event {
            NOTIFICATION => {
                if text(p, &["notification_type"]).as_deref() != Some("permission_prompt") {
                    return HookSays::Nothing;
                }
                let message = text(p, &["message"]);
                let (tool, command) = match message.as_deref() {
                    Some(m) => match m.split_once(": ") {
                        Some(("Run command", cmd)) => (Some("bash"), Some(cmd)),
                        Some(("Edit file", path)) => (Some("edit"), Some(path)),
                        _ => (None, None),
                    },
                    None => (None, None),
                };
                HookSays::Waiting {
                    waiting_for: WaitingFor::Permission,
                    tool: tool.map(str::to_owned),
                    command: command.filter(|c| !c.is_empty()).map(str::to_owned),
                    message,
                }
            }
            "copilot-post-tool-use" | "copilot-agent-stop" => HookSays::GoesOn,
            _ => HookSays::Nothing,
        }
    }

    /// The denial a turn end `vnx deny` wrote carries; its own `agentStop` names none (the
    /// last message is read from its session).
    fn message<'p>(&self, payload: &'p Value) -> Option<&'p str> {
        payload.get(super::DENIAL_SAID)?.as_str()
    }

    /// In the worktree's `.github/hooks/`, trusted in `<home>/config.json`.
    fn in_worktree(&self) -> Option<&'static WorktreeHooks> {
        Some(&super::worktree::IN_WORKTREE)
    }

    /// Its notification comes once for each dialog it shows.
    fn once_per_prompt(&self, event: &str) -> bool {
        event == NOTIFICATION
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copilots_dialog_is_read_without_its_box_and_names_its_question() {
        let screen =
            include_str!("../../../../../../tests/support/fixtures/copilot/tui-permission.txt");
        let seen = crate::provider::dialog::Dialog::of_cli(&super::super::Copilot)
            .unwrap()
            .seen(screen)
            .unwrap();
        assert_eq!(
            seen.command.as_deref(),
            Some("Do you want to create /work/tmp/tui-copilot/tui.txt?")
        );
        let first = seen.lines.lines().next().unwrap();
        assert_eq!(first.trim(), "tui.txt +1 -0", "{}", seen.lines);
        assert!(!seen.lines.contains('│'), "{}", seen.lines);
        assert!(seen.lines.contains(" ❯ 1. Yes"), "{}", seen.lines);
    }

    fn fixture(name: &str) -> Value {
        let text = crate::provider::events::testing::fixture("copilot", name);
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn its_dialog_is_known_by_its_notification_naming_the_file_or_command() {
        let says = CopilotHooks.says(NOTIFICATION, &fixture("tui-hook-notification.json"));
        assert_eq!(
            says,
            HookSays::Waiting {
                waiting_for: WaitingFor::Permission,
                tool: Some("edit".into()),
                command: Some("/tmp/vnx-clis.amgmAw/tui-copilot/tui.txt".into()),
                message: Some("Edit file: /tmp/vnx-clis.amgmAw/tui-copilot/tui.txt".into()),
            }
        );
        let run = serde_json::json!({
            "notification_type": "permission_prompt",
            "message": "Run command: git add -A && git commit -q -m x",
        });
        let HookSays::Waiting { tool, command, .. } = super::CopilotHooks.says(NOTIFICATION, &run)
        else {
            panic!("not waiting");
        };
        assert_eq!(tool.as_deref(), Some("bash"));
        assert_eq!(command.as_deref(), Some("git add -A && git commit -q -m x"));
        let other = serde_json::json!({"notification_type": "idle", "message": "x"});
        assert_eq!(
            super::CopilotHooks.says(NOTIFICATION, &other),
            HookSays::Nothing
        );
        assert_eq!(
            super::CopilotHooks.says("copilot-agent-stop", &fixture("tui-hook-agentStop.json")),
            HookSays::GoesOn
        );
    }

    #[test]
    fn the_trust_file_is_where_a_copilot_start_put_its_home() {
        let example = include_str!("../../../../../../receipts/examples/dispatch_started.json");
        let mut started: crate::receipts::DispatchStarted = serde_json::from_str(example).unwrap();
        started.cli_homes = Some(crate::receipts::CliHomes {
            homes: [("copilot".to_owned(), "/home/u/.copilot".to_owned())].into(),
            ..Default::default()
        });
        assert_eq!(
            CopilotHooks.recorded_trust(&started),
            None,
            "no copilot hooks: none"
        );
        started.hooks = super::super::TURN_END;
        assert_eq!(
            CopilotHooks.recorded_trust(&started),
            Some(std::path::PathBuf::from("/home/u/.copilot/config.json"))
        );
        started
            .cli_homes
            .as_mut()
            .unwrap()
            .homes
            .insert("copilot".into(), "relative/.copilot".into());
        assert_eq!(
            CopilotHooks.recorded_trust(&started),
            None,
            "a relative home is never used"
        );
    }

    #[test]
    fn the_hooks_file_runs_vnxs_hook_for_each_event() {
        let s = settings(Path::new("/v"), Path::new("/d"));
        assert_eq!(s["version"], 1);
        assert!(s["hooks"].get("permissionRequest").is_none());
        assert_eq!(
            s["hooks"]["agentStop"][0]["bash"],
            "'/v' __hook copilot-agent-stop --dir '/d'"
        );
    }
}
