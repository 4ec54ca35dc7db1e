//! The hooks the Gemini CLI is given: its settings in the worktree, their trust in its
//! `trusted_hooks.json`, and the policy file for the commands that run unasked.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::provider::cli::hook::{
    HOOK_TIMEOUT_SECS, HookSays, Hooks, InWorktree, Launch, command_hook, hook_command,
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

/// The file where a dispatch's launch recorded its hooks as trusted (see
/// [`trust_keys`]), as its signed start locates it: only for a start that installed
/// gemini's hooks, in the gemini home the start recorded (absolute). `None` for any other
/// start, and for one recorded before starts named the CLIs' homes (its entry stays, naming
/// a worktree that no longer exists).
pub fn trust_file_of(started: &crate::receipts::DispatchStarted) -> Option<std::path::PathBuf> {
    if started.hooks != super::TURN_END {
        return None;
    }
    let home = std::path::PathBuf::from(started.cli_homes.as_ref()?.homes.get("gemini")?);
    home.is_absolute().then(|| home.join("trusted_hooks.json"))
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

    /// `<home>/trusted_hooks.json`.
    fn trust_file(&self, homes: &crate::provider::cli::session::Homes) -> Option<PathBuf> {
        homes.get("gemini").map(super::worktree::trust_file)
    }

    fn recorded_trust(&self, started: &crate::receipts::DispatchStarted) -> Option<PathBuf> {
        trust_file_of(started)
    }

    /// Its hooks go in the worktree; without a place for them its turns end unseen.
    fn place(
        &self,
        launch: &Launch<'_>,
        worktree: &Path,
        trust: Option<&Path>,
    ) -> std::io::Result<InWorktree> {
        if *launch.hooks != super::TURN_END {
            return Ok(InWorktree::Nothing);
        }
        super::worktree::place_and_trust(worktree, launch.vnx, launch.dispatch_dir, trust)
    }

    fn forget_trust(&self, file: &Path, project: &Path) {
        let _ = super::worktree::set_trust(file, project, None);
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
    use crate::dispatch::supervise::live::{Change, Live, waiting};
    use crate::dispatch::supervise::signals::HookSignal;
    use crate::ids::DispatchId;

    #[test]
    fn the_trust_file_is_where_a_gemini_start_put_its_home() {
        let example = include_str!("../../../../../../receipts/examples/dispatch_started.json");
        let mut started: crate::receipts::DispatchStarted = serde_json::from_str(example).unwrap();
        started.cli_homes = Some(crate::receipts::CliHomes {
            homes: [("gemini".to_owned(), "/home/u/.gemini".to_owned())].into(),
            ..Default::default()
        });
        assert_eq!(
            trust_file_of(&started),
            None,
            "no gemini hooks: no trust file"
        );
        started.hooks = super::super::TURN_END;
        assert_eq!(
            trust_file_of(&started),
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
            trust_file_of(&started),
            None,
            "a relative home is never used"
        );
        started.cli_homes = None;
        assert_eq!(trust_file_of(&started), None, "an older start: none");
    }

    fn signal(event: &str, payload: Value) -> HookSignal {
        HookSignal {
            event: event.into(),
            received_at: "2026-11-22T00:00:00Z".into(),
            payload,
        }
    }

    #[test]
    fn an_other_notification_does_not_block() {
        let mut live = Live::new(
            &DispatchId::parse("D-1").unwrap(),
            String::new(),
            None,
            Instant::now(),
        );
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
        let mut live = Live::new(&DispatchId::parse("D-1").unwrap(), String::new(), None, t0);
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
