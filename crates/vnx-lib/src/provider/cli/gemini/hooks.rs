//! The hooks the Gemini CLI is given: its settings in the worktree, their trust in its
//! `trusted_hooks.json`, and the policy file for the commands that run unasked.

use std::path::Path;

use serde_json::Value;

use crate::provider::cli::hook::{
    HOOK_TIMEOUT_SECS, HookSays, Hooks, WorktreeHooks, command_hook, hook_command,
    payload_text as text, toml_string,
};
use crate::receipts::WaitingFor;

/// The events of its hooks, as `vnx __hook` takes them.
pub(super) const EVENTS: [&str; 3] = [
    "gemini-after-agent",
    "gemini-notification",
    "gemini-after-tool",
];

/// The policy-engine file (`--policy`) that lets gemini's TUI run `allowed` commands (the
/// completion protocol's `vnx report`, the role's allowed commands) without asking, and
/// leaves every other command to the posture: it asks. An allow rule given as
/// `--allowed-tools` instead makes gemini 0.61 refuse every other command by policy without
/// a prompt, so the worker could never wait for a person. A `commandPrefix` matches whole
/// words (seen on gemini 0.61: `touch` allows `touch a`, `touch a` does not allow `touch ab`).
pub fn policy(allowed: &[String]) -> String {
    let mut out = String::from("# vnx: commands that run without a prompt\n");
    for command in allowed {
        out.push_str(&format!(
            "[[rule]]\ntoolName = \"run_shell_command\"\ncommandPrefix = {}\ndecision = \"allow\"\npriority = 900\n",
            toml_string(command)
        ));
    }
    out
}

/// Where the gemini policy file goes in the dispatch directory.
pub const POLICY_FILE: &str = "hooks/gemini-policy.toml";

/// The events of the hooks vnx gives gemini, with the names `vnx __hook` takes.
const GEMINI_HOOKS: [(&str, &str); 3] = [
    ("AfterAgent", "gemini-after-agent"),
    ("Notification", "gemini-notification"),
    ("AfterTool", "gemini-after-tool"),
];

/// The `.gemini/settings.json` vnx places in an interactive gemini worker's worktree:
/// `AfterAgent` ends a turn, `Notification` (`ToolPermission`, at once, for every prompt)
/// says it waits for a person, `AfterTool` says a tool ran (the worker goes on). Gemini
/// reads `timeout` in milliseconds (0.61: a hook still running then is killed and shown as
/// "Hook(s) [...] failed"), so vnx's hooks get the same 30 s as the other CLIs give them.
pub fn settings(vnx: &Path, dispatch_dir: &Path) -> serde_json::Value {
    let hooks: serde_json::Map<String, serde_json::Value> = GEMINI_HOOKS
        .iter()
        .map(|(event, name)| {
            let command = hook_command(vnx, name, dispatch_dir);
            (
                (*event).to_owned(),
                command_hook(command, HOOK_TIMEOUT_SECS * 1000),
            )
        })
        .collect();
    serde_json::json!({ "hooks": hooks })
}

/// The keys under which gemini's `trusted_hooks.json` records vnx's hooks as trusted for a
/// project (`name:command`; vnx's hooks have no name). Gemini 0.61 warns about every
/// project-level hook it finds untrusted ("The following project-level hooks have been
/// detected in this workspace") when a session opens, then trusts it; a worktree vnx made is
/// new each time, so vnx records its own hooks as trusted for it first.
pub fn trust_keys(vnx: &Path, dispatch_dir: &Path) -> Vec<String> {
    GEMINI_HOOKS
        .iter()
        .map(|(_, name)| format!(":{}", hook_command(vnx, name, dispatch_dir)))
        .collect()
}

/// Its hooks (see the module's documentation).
pub(super) struct GeminiHooks;

impl Hooks for GeminiHooks {
    fn events(&self) -> &'static [&'static str] {
        &EVENTS
    }

    /// What a signal of its hooks says: `Notification` of type `ToolPermission` is its
    /// confirmation dialog (only the type was seen on the real CLI; the tool call's `details` are
    /// read if present and never required); `AfterTool` and `AfterAgent`, the worker goes on.
    fn says(&self, event: &str, p: &Value) -> HookSays {
        match event {
            "gemini-notification" => {
                if text(p, &["notification_type"]).as_deref() != Some("ToolPermission") {
                    return HookSays::Nothing;
                }
                let details = p.get("details").cloned().unwrap_or(Value::Null);
                let tool = match text(&details, &["type"]).as_deref() {
                    Some("exec") => Some("run_shell_command".to_owned()),
                    Some("edit") => Some("edit".to_owned()),
                    _ => text(&details, &["title"]),
                };
                let command = text(&details, &["command"])
                    .or_else(|| text(&details, &["fileName"]))
                    .or_else(|| text(&details, &["filePath"]));
                HookSays::Waiting {
                    waiting_for: WaitingFor::Permission,
                    tool,
                    command,
                    message: text(p, &["message"]),
                }
            }
            "gemini-after-agent" | "gemini-after-tool" => HookSays::GoesOn,
            _ => HookSays::Nothing,
        }
    }

    /// Its `AfterAgent` hook's `prompt_response`.
    fn message<'p>(&self, payload: &'p Value) -> Option<&'p str> {
        payload.get("prompt_response")?.as_str()
    }

    /// In the worktree's `.gemini/settings.json`, trusted in `<home>/trusted_hooks.json`.
    fn in_worktree(&self) -> Option<&'static WorktreeHooks> {
        Some(&super::worktree::IN_WORKTREE)
    }

    /// It sends nothing when a person allows a command that then runs before its next
    /// prompt, so a second notification while blocked is a new prompt.
    fn once_per_prompt(&self, event: &str) -> bool {
        event == "gemini-notification"
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::dispatch::supervise::live::{Change, waiting};
    use crate::provider::cli::hook::tests::{live, signal};

    #[test]
    fn the_trust_file_is_where_a_gemini_start_put_its_home() {
        let example = include_str!("../../../../../../receipts/examples/dispatch_started.json");
        let mut started: crate::receipts::DispatchStarted = serde_json::from_str(example).unwrap();
        started.cli_homes = Some(crate::receipts::CliHomes {
            homes: [("gemini".to_owned(), "/home/u/.gemini".to_owned())].into(),
            ..Default::default()
        });
        assert_eq!(
            GeminiHooks.recorded_trust(&started),
            None,
            "no gemini hooks: no trust file"
        );
        started.hooks = super::super::TURN_END;
        assert_eq!(
            GeminiHooks.recorded_trust(&started),
            Some(std::path::PathBuf::from(
                "/home/u/.gemini/trusted_hooks.json"
            ))
        );
        started
            .cli_homes
            .as_mut()
            .unwrap()
            .homes
            .insert("gemini".into(), "relative/.gemini".into());
        assert_eq!(
            GeminiHooks.recorded_trust(&started),
            None,
            "a relative home is never used"
        );
        started.cli_homes = None;
        assert_eq!(
            GeminiHooks.recorded_trust(&started),
            None,
            "an older start: none"
        );
    }

    #[test]
    fn an_other_notification_does_not_block() {
        let mut live = live("", None, Instant::now());
        let s = signal(
            "gemini-notification",
            serde_json::json!({"notification_type": "Other"}),
        );
        assert!(live.on_signal(&s, Instant::now()).is_empty(), "{s:?}");
    }

    #[test]
    fn gemini_names_the_command_from_its_details() {
        let s = signal(
            "gemini-notification",
            serde_json::json!({"notification_type": "ToolPermission", "message": "Allow?",
                "details": {"type": "exec", "command": "git add -A", "rootCommand": "git"}}),
        );
        let (w, tool, command, message) = waiting(&s).unwrap();
        assert_eq!(w, WaitingFor::Permission);
        assert_eq!(tool.as_deref(), Some("run_shell_command"));
        assert_eq!(command.as_deref(), Some("git add -A"));
        assert_eq!(message.as_deref(), Some("Allow?"));
    }

    #[test]
    fn every_gemini_prompt_is_a_new_block() {
        let t0 = Instant::now();
        let mut live = live("", None, t0);
        let prompt = |command: &str| {
            signal(
                "gemini-notification",
                serde_json::json!({"notification_type": "ToolPermission",
                    "details": {"type": "exec", "command": command}}),
            )
        };
        let first = live.on_signal(&prompt("git add -A"), t0);
        assert!(
            matches!(first.as_slice(), [Change::Blocked(_)]),
            "{first:?}"
        );
        // Allowed in the pane; the command ran (gemini's `AfterTool`): running again.
        let ran = signal("gemini-after-tool", serde_json::json!({}));
        let resumed = live.on_signal(&ran, t0 + Duration::from_secs(3));
        assert!(
            matches!(resumed.as_slice(), [Change::Resumed(_)]),
            "{resumed:?}"
        );
        let second = live.on_signal(&prompt("git commit -m x"), t0 + Duration::from_secs(4));
        let [Change::Blocked(b)] = second.as_slice() else {
            panic!("{second:?}")
        };
        assert_eq!(b.command.as_deref(), Some("git commit -m x"));
        // A prompt while still blocked (its answer unseen) is a new block too.
        let third = live.on_signal(&prompt("git push"), t0 + Duration::from_secs(5));
        let [Change::Resumed(_), Change::Blocked(b)] = third.as_slice() else {
            panic!("{third:?}")
        };
        assert_eq!(b.command.as_deref(), Some("git push"));
    }
}
