//! The hooks Claude Code is given: a settings file passed with `--settings`.

use std::path::Path;

use serde_json::Value;

use crate::provider::cli::hook::{
    HOOK_TIMEOUT_SECS, HookSays, PERMISSION_HOOK_TIMEOUT_SECS, command_hook, hook_command,
    payload_text as text, permission_request,
};
use crate::receipts::{PermissionAnswer, WaitingFor};

/// The events of its hooks, as `vnx __hook` takes them.
pub(super) const EVENTS: [&str; 4] = [
    "claude-stop",
    "claude-notification",
    "claude-permission-request",
    "claude-post-tool-use",
];

/// `hooks/claude-settings.json`: passed with `--settings`, merged by Claude Code over the
/// user's own settings; nothing is written into the worktree. `Stop` ends a turn;
/// `PermissionRequest` (as the prompt shows, naming the tool and command) and `Notification`
/// (about 6 s later) say the worker waits for a person; `PostToolUse` says it goes on. The
/// `PermissionRequest` hook also waits for `vnx approve`/`vnx deny` (the dialog stays
/// usable meanwhile, seen on claude 2.1.197), so it is given longer.
pub fn settings(vnx: &Path, dispatch_dir: &Path) -> serde_json::Value {
    let hook =
        |event: &str| command_hook(hook_command(vnx, event, dispatch_dir), HOOK_TIMEOUT_SECS);
    let permission = command_hook(
        hook_command(vnx, "claude-permission-request", dispatch_dir),
        PERMISSION_HOOK_TIMEOUT_SECS,
    );
    serde_json::json!({
        "hooks": {
            "Stop": hook("claude-stop"),
            "Notification": hook("claude-notification"),
            "PermissionRequest": permission,
            "PostToolUse": hook("claude-post-tool-use"),
        }
    })
}

/// What a signal of its hooks says: `PermissionRequest` comes before the prompt shows, with
/// the tool and its input; `Notification` about 6 s after it, its type telling a prompt from
/// an idle TUI; `PostToolUse` and `Stop`, the worker goes on.
pub(super) fn says(event: &str, p: &Value) -> HookSays {
    match event {
        "claude-permission-request" => permission_request(p),
        "claude-notification" => {
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
        "claude-post-tool-use" | "claude-stop" => HookSays::GoesOn,
        _ => HookSays::Nothing,
    }
}

/// What its `PermissionRequest` hook prints for a person's answer: the decision claude reads
/// from the hook's output (a deny with the person's message, or a default one).
pub(super) fn decision(
    event: &str,
    answer: PermissionAnswer,
    message: Option<String>,
) -> Option<Value> {
    if event != "claude-permission-request" {
        return None;
    }
    let decision = match answer {
        PermissionAnswer::Approve => serde_json::json!({"behavior": "allow"}),
        PermissionAnswer::Deny => serde_json::json!({
            "behavior": "deny",
            "message": message.unwrap_or_else(|| "A person denied this with `vnx deny`.".to_owned()),
        }),
    };
    Some(serde_json::json!({
        "hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}
    }))
}
