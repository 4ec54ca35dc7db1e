//! The hooks the GitHub Copilot CLI is given in its TUI: a file in the worktree's
//! `.github/hooks/` (copilot reads hooks only there, and only in a folder it trusts; see
//! `worktree`), `{"version": 1, "hooks": {EVENT: [{"type": "command", "bash": CMD,
//! "timeoutSec": N}]}}`, the payload as JSON on stdin (seen on 1.0.102).
//!
//! `permissionRequest` runs before copilot shows its dialog, and the dialog waits for it: a
//! hook that prints `{"behavior": "allow"}` answers for the person (no dialog), one that
//! prints `{"behavior": "deny", "message": M}` refuses ("Permission denied by a
//! PermissionRequest hook: M"), one that prints nothing lets the dialog show, with a
//! `notification` (`permission_prompt`). A hook is killed after `timeoutSec` (30 s by
//! default). `agentStop` ends a turn (`transcriptPath`, `stopReason`); `postToolUse` says a
//! tool ran.

use std::path::Path;

use serde_json::{Value, json};

use crate::provider::cli::hook::{
    HOOK_TIMEOUT_SECS, HookSays, PERMISSION_HOOK_TIMEOUT_SECS, hook_command, payload_text as text,
};
use crate::receipts::{PermissionAnswer, WaitingFor};

/// The events of its hooks, as `vnx __hook` takes them.
pub(super) const EVENTS: [&str; 4] = [
    "copilot-agent-stop",
    "copilot-permission-request",
    "copilot-notification",
    "copilot-post-tool-use",
];

/// The hook that waits for `vnx approve`/`vnx deny`.
pub(super) const PERMISSION: &str = "copilot-permission-request";

/// Where the hooks' file goes in the worktree, and its name.
pub(super) const DIR: &str = ".github/hooks";
pub(super) const FILE: &str = "vnx-dispatch.json";

/// The hooks' file: each of copilot's events with vnx's hook; the permission hook is given
/// as long as it may wait for a person's answer.
pub(super) fn settings(vnx: &Path, dispatch_dir: &Path) -> Value {
    let hook = |event: &str, timeout: u64| {
        json!([{
            "type": "command",
            "bash": hook_command(vnx, event, dispatch_dir),
            "timeoutSec": timeout,
        }])
    };
    json!({
        "version": 1,
        "hooks": {
            "agentStop": hook("copilot-agent-stop", HOOK_TIMEOUT_SECS),
            "permissionRequest": hook(PERMISSION, PERMISSION_HOOK_TIMEOUT_SECS),
            "notification": hook("copilot-notification", HOOK_TIMEOUT_SECS),
            "postToolUse": hook("copilot-post-tool-use", HOOK_TIMEOUT_SECS),
        }
    })
}

/// What a signal of its hooks says: `permissionRequest` is a prompt (the tool, and its
/// command or file: a file tool's request is named `edit` with `file_path`);
/// `notification` of type `permission_prompt` is its dialog on the screen; `postToolUse`
/// and `agentStop`, the worker goes on.
pub(super) fn says(event: &str, p: &Value) -> HookSays {
    match event {
        PERMISSION => HookSays::Waiting {
            waiting_for: WaitingFor::Permission,
            tool: text(p, &["toolName"]),
            command: text(p, &["toolInput", "command"])
                .or_else(|| text(p, &["toolInput", "file_path"]))
                .or_else(|| text(p, &["toolInput", "path"])),
            message: None,
        },
        "copilot-notification" => {
            if text(p, &["notification_type"]).as_deref() == Some("permission_prompt") {
                HookSays::Waiting {
                    waiting_for: WaitingFor::Permission,
                    tool: None,
                    command: None,
                    message: text(p, &["message"]),
                }
            } else {
                HookSays::Nothing
            }
        }
        "copilot-post-tool-use" | "copilot-agent-stop" => HookSays::GoesOn,
        _ => HookSays::Nothing,
    }
}

/// What its `permissionRequest` hook prints for a person's answer.
pub(super) fn decision(
    event: &str,
    answer: PermissionAnswer,
    message: Option<String>,
) -> Option<Value> {
    if event != PERMISSION {
        return None;
    }
    Some(match answer {
        PermissionAnswer::Approve => json!({"behavior": "allow"}),
        PermissionAnswer::Deny => json!({
            "behavior": "deny",
            "message": message.unwrap_or_else(|| "A person denied this with `vnx deny`.".to_owned()),
        }),
    })
}

/// The file where a dispatch's launch recorded its worktree as trusted, as its signed start
/// locates it: only for a start that installed copilot's hooks, in the copilot home the
/// start recorded (absolute).
pub(super) fn trust_file_of(
    started: &crate::receipts::DispatchStarted,
) -> Option<std::path::PathBuf> {
    if started.hooks != crate::receipts::HookKind::CopilotAgentStop {
        return None;
    }
    let home = std::path::PathBuf::from(started.cli_homes.as_ref()?.copilot.as_ref()?);
    home.is_absolute()
        .then(|| home.join(super::worktree::CONFIG))
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            serde_json::from_str::<Value>(include_str!(concat!(
                "../../../../../../tests/support/fixtures/copilot/",
                $name
            )))
            .unwrap()
        };
    }

    #[test]
    fn its_permission_request_names_the_tool_and_file_and_its_dialog_waits_too() {
        let says = says(PERMISSION, &fixture!("tui-hook-permissionRequest.json"));
        assert_eq!(
            says,
            HookSays::Waiting {
                waiting_for: WaitingFor::Permission,
                tool: Some("edit".into()),
                command: Some("/tmp/vnx-clis.amgmAw/tui-copilot/tui.txt".into()),
                message: None,
            }
        );
        let HookSays::Waiting { message, .. } = super::says(
            "copilot-notification",
            &fixture!("tui-hook-notification.json"),
        ) else {
            panic!("not waiting");
        };
        assert_eq!(
            message.as_deref(),
            Some("Edit file: /tmp/vnx-clis.amgmAw/tui-copilot/tui.txt")
        );
        assert_eq!(
            super::says("copilot-agent-stop", &fixture!("tui-hook-agentStop.json")),
            HookSays::GoesOn
        );
    }

    #[test]
    fn its_answers_are_what_copilot_reads() {
        assert_eq!(
            decision(PERMISSION, PermissionAnswer::Approve, None),
            Some(json!({"behavior": "allow"}))
        );
        assert_eq!(
            decision(PERMISSION, PermissionAnswer::Deny, Some("no".into())),
            Some(json!({"behavior": "deny", "message": "no"}))
        );
        assert_eq!(
            decision("copilot-notification", PermissionAnswer::Approve, None),
            None
        );
    }

    #[test]
    fn the_hooks_file_gives_the_permission_hook_its_wait() {
        let s = settings(Path::new("/v"), Path::new("/d"));
        assert_eq!(s["version"], 1);
        assert_eq!(
            s["hooks"]["permissionRequest"][0]["timeoutSec"],
            PERMISSION_HOOK_TIMEOUT_SECS
        );
        assert_eq!(
            s["hooks"]["agentStop"][0]["bash"],
            "'/v' __hook copilot-agent-stop --dir '/d'"
        );
    }
}
