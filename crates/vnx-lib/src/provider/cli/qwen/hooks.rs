//! The hooks Qwen Code is given: a settings file in the dispatch's directory that its TUI
//! reads as its system settings (`QWEN_CODE_SYSTEM_SETTINGS_PATH`), so nothing is written
//! into the worktree the worker edits. Seen on qwen 0.15.10: hooks there run beside the
//! user's own (theirs in `~/.qwen/settings.json` too), take their JSON on stdin
//! (`session_id`, `transcript_path`, `cwd`, `hook_event_name`), and a command hook's
//! `timeout` is in milliseconds.

use std::path::Path;

use serde_json::Value;

use crate::provider::cli::hook::{
    EngineHooks, HOOK_TIMEOUT_SECS, PERMISSION_HOOK_TIMEOUT_SECS, command_hook, hook_command,
};

/// The events of its hooks, as `vnx __hook` takes them.
pub(super) const EVENTS: [&str; 4] = [
    "qwen-stop",
    "qwen-notification",
    "qwen-permission-request",
    "qwen-post-tool-use",
];

/// Where its settings go in the dispatch directory.
pub(super) const SETTINGS_FILE: &str = "hooks/qwen-settings.json";

/// The variable that names its system settings file (qwen 0.15.10; else
/// `/etc/qwen-code/settings.json`, which it then does not read).
pub(super) const SETTINGS_VAR: &str = "QWEN_CODE_SYSTEM_SETTINGS_PATH";

/// The settings vnx gives its TUI, which win over the user's: `Stop` ends a turn (with its
/// `last_assistant_message`); `PermissionRequest` (before its dialog shows, naming the tool
/// and its input) says the worker waits for a person and waits itself for `vnx approve`/
/// `vnx deny`: qwen shows no dialog until the hook returned, then reads its decision; only a
/// hook that returned none leaves the dialog up, and `Notification` (`permission_prompt`)
/// follows. `PostToolUse` says it went on. `$version` is qwen's current settings version,
/// which keeps it from rewriting the file; `general.enableAutoUpdate: false` keeps its TUI
/// from `npm install -g`-ing a newer qwen over the one vnx checked (seen: it did, outside
/// the home, with only `disableAutoUpdate` set).
pub fn settings(vnx: &Path, dispatch_dir: &Path) -> Value {
    let hook = |event: &str, secs: u64| {
        let mut h = command_hook(hook_command(vnx, event, dispatch_dir), secs * 1000);
        h[0]["matcher"] = "*".into();
        h
    };
    serde_json::json!({
        "$version": 4,
        "general": {"enableAutoUpdate": false},
        "hooks": {
            "Stop": hook("qwen-stop", HOOK_TIMEOUT_SECS),
            "Notification": hook("qwen-notification", HOOK_TIMEOUT_SECS),
            "PermissionRequest": hook("qwen-permission-request", PERMISSION_HOOK_TIMEOUT_SECS),
            "PostToolUse": hook("qwen-post-tool-use", HOOK_TIMEOUT_SECS),
        }
    })
}

/// Its hooks (see the module's documentation), of the engine it shares: `PermissionRequest`
/// as the tool waits for a person, with the tool and its input; it returns a decision
/// (`hookSpecificOutput.decision.behavior`), which qwen reads before it shows its dialog
/// (seen on 0.15.10: an allow ran the command, a deny's message was its result and the turn
/// went on). `Notification` of type `permission_prompt` comes once the hook returned without
/// an answer and the dialog is up, which keys in the pane answer (its `idle_prompt` after
/// each turn says nothing); `PostToolUse` and `Stop`, the worker goes on. A tool ran, the
/// turn ended or another prompt came: the worker went on.
pub(super) static HOOKS: EngineHooks = EngineHooks {
    events: &EVENTS,
    went_on: &["qwen-post-tool-use", "qwen-stop", "qwen-permission-request"],
    notified_answers: false,
    background: false,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::cli::hook::{HookSays, Hooks};
    use crate::receipts::PermissionAnswer;

    #[test]
    fn its_settings_give_each_hook_in_milliseconds_and_stop_its_self_update() {
        let s = settings(Path::new("/bin/vnx"), Path::new("/d"));
        assert_eq!(s["general"]["enableAutoUpdate"], false);
        assert_eq!(s["$version"], 4);
        let permission = &s["hooks"]["PermissionRequest"][0];
        assert_eq!(permission["matcher"], "*");
        assert_eq!(
            permission["hooks"][0]["command"],
            "'/bin/vnx' __hook qwen-permission-request --dir '/d'"
        );
        assert_eq!(permission["hooks"][0]["timeout"], 600_000);
        assert_eq!(s["hooks"]["Stop"][0]["hooks"][0]["timeout"], 30_000);
    }

    #[test]
    fn a_permission_request_waits_with_its_command_and_an_idle_prompt_says_nothing() {
        // Payloads as qwen 0.15.10 sent them.
        let asked = serde_json::json!({"hook_event_name": "PermissionRequest",
            "permission_mode": "default", "tool_name": "run_shell_command",
            "tool_input": {"command": "echo hi > ran.txt", "description": "Run scripted command"}});
        assert_eq!(
            HOOKS.says("qwen-permission-request", &asked),
            HookSays::Waiting {
                waiting_for: crate::receipts::WaitingFor::Permission,
                tool: Some("run_shell_command".into()),
                command: Some("echo hi > ran.txt".into()),
                message: None,
            }
        );
        let prompt = serde_json::json!({"notification_type": "permission_prompt",
            "message": "Qwen Code needs your permission to use run_shell_command"});
        assert!(matches!(
            HOOKS.says("qwen-notification", &prompt),
            HookSays::Waiting { .. }
        ));
        let idle = serde_json::json!({"notification_type": "idle_prompt"});
        assert_eq!(HOOKS.says("qwen-notification", &idle), HookSays::Nothing);
        assert_eq!(HOOKS.says("qwen-stop", &idle), HookSays::GoesOn);
    }

    #[test]
    fn only_the_permission_hook_prints_a_decision() {
        let deny = HOOKS
            .decision("qwen-permission-request", PermissionAnswer::Deny, None)
            .unwrap();
        assert_eq!(deny["hookSpecificOutput"]["decision"]["behavior"], "deny");
        assert!(
            HOOKS
                .decision("qwen-stop", PermissionAnswer::Approve, None)
                .is_none()
        );
    }
}
