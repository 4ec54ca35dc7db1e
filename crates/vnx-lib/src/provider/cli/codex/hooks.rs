//! The hooks the Codex CLI is given, all as `-c` overrides: a `notify` program at the end of
//! every turn, and its hooks engine's `PermissionRequest`/`PostToolUse`, trusted.

use std::path::Path;

use serde_json::Value;

use crate::provider::cli::hook::{
    HOOK_TIMEOUT_SECS, HookSays, Hooks, TurnThread, hook_command, permission_request, toml_string,
};

/// The events of its hooks, as `vnx __hook` takes them.
pub(super) const EVENTS: [&str; 3] = [
    "codex-notify",
    "codex-permission-request",
    "codex-post-tool-use",
];

/// The `-c` value that makes Codex run `vnx __hook codex-notify --dir DIR JSON` at the end of
/// every turn (an argv, no shell).
pub fn notify_override(vnx: &Path, dispatch_dir: &Path) -> String {
    let argv = [
        vnx.to_string_lossy().into_owned(),
        "__hook".into(),
        "codex-notify".into(),
        "--dir".into(),
        dispatch_dir.to_string_lossy().into_owned(),
    ];
    let items: Vec<String> = argv.iter().map(|a| toml_string(a)).collect();
    format!("notify=[{}]", items.join(","))
}

/// The `-c` values that give Codex's hooks engine (0.169) vnx's `PermissionRequest` hook (an
/// approval prompt shows, naming the command) and `PostToolUse` hook (a tool ran: the worker
/// goes on), as inline `[hooks]` tables of the session's config layer, and trust exactly
/// those two: codex runs an untrusted hook only after a person reviews it in a dialog (which
/// would stop the TUI before its first turn), and records trust as the hash of the hook's
/// identity under `hooks.state`. Nothing is written to the user's config, and no other hook
/// (a repository's own, say) is trusted by this.
pub fn hook_overrides(vnx: &Path, dispatch_dir: &Path) -> Vec<String> {
    const EVENTS: [(&str, &str, &str); 2] = [
        (
            "PermissionRequest",
            "permission_request",
            "codex-permission-request",
        ),
        ("PostToolUse", "post_tool_use", "codex-post-tool-use"),
    ];
    let mut out = Vec::new();
    let mut trusted = Vec::new();
    for (event, key, name) in EVENTS {
        let command = hook_command(vnx, name, dispatch_dir);
        out.push(format!(
            "hooks.{event}=[{{hooks=[{{type=\"command\",command={},timeout={HOOK_TIMEOUT_SECS}}}]}}]",
            toml_string(&command)
        ));
        trusted.push(format!(
            "{}={{trusted_hash={}}}",
            toml_string(&format!("/<session-flags>/config.toml:{key}:0:0")),
            toml_string(&trust_hash(key, &command))
        ));
    }
    out.push(format!("hooks.state={{{}}}", trusted.join(",")));
    out
}

/// Codex's trust hash of a one-command hook (no matcher): SHA-256 of its identity as compact
/// JSON with sorted keys (checked against what codex 0.169 writes when a person trusts it).
fn trust_hash(event_key: &str, command: &str) -> String {
    use sha2::{Digest, Sha256};
    let json = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    let identity = format!(
        r#"{{"event_name":{},"hooks":[{{"async":false,"command":{},"timeout":{HOOK_TIMEOUT_SECS},"type":"command"}}]}}"#,
        json(event_key),
        json(command)
    );
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(identity.as_bytes()))
    )
}

/// Its hooks (see the module's documentation).
pub(super) struct CodexHooks;

impl Hooks for CodexHooks {
    fn events(&self) -> &'static [&'static str] {
        &EVENTS
    }

    /// What a signal of its hooks says: its hooks engine's `PermissionRequest` (`tool_name: Bash`,
    /// `tool_input.command`); `notify` (a turn ended) and
    /// `PostToolUse`, the worker goes on.
    fn says(&self, event: &str, p: &Value) -> HookSays {
        match event {
            "codex-permission-request" => permission_request(p),
            "codex-notify" | "codex-post-tool-use" => HookSays::GoesOn,
            _ => HookSays::Nothing,
        }
    }

    /// `notify` names the thread (`thread-id`); it also fires for its title's sub-thread, so
    /// only the signal that ended the dispatch's turn tells the dispatch's thread.
    fn session<'p>(&self, event: &str, payload: &'p Value, turn_end: bool) -> Option<&'p str> {
        if event == "codex-notify" && !turn_end {
            return None;
        }
        ["session_id", "thread-id"]
            .iter()
            .find_map(|k| payload.get(k)?.as_str())
    }

    /// `notify`'s `last-assistant-message`.
    fn message<'p>(&self, payload: &'p Value) -> Option<&'p str> {
        payload.get("last-assistant-message")?.as_str()
    }

    /// `notify` names its thread and the turn's input messages, among which the argument
    /// that carried the dispatch's prompt.
    /// The turn end `vnx deny` writes ([`crate::provider::cli::CodingCli::denial_ends_turn`]) is the dispatch's own
    /// turn: it names no thread.
    fn turn_thread(&self, payload: &Value, prompt_arg: &str) -> Option<TurnThread> {
        if payload.get(super::DENIAL_ENDED) == Some(&Value::Bool(true)) {
            return None;
        }
        let id = payload
            .get("thread-id")
            .and_then(|t| t.as_str())
            .unwrap_or_default();
        let prompted = payload
            .get("input-messages")
            .and_then(|m| m.as_array())
            .is_some_and(|m| m.iter().any(|m| m.as_str() == Some(prompt_arg)));
        Some(TurnThread {
            id: id.to_owned(),
            prompted,
        })
    }

    fn once_per_prompt(&self, event: &str) -> bool {
        event == "codex-permission-request"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_trust_hashes_match_what_codex_records() {
        // Written by codex 0.169 when a person trusted this hook in its review dialog.
        assert_eq!(
            trust_hash(
                "permission_request",
                "echo perm >> /tmp/cx/hook.log; cat >> /tmp/cx/hook.log"
            ),
            "sha256:efebea452dc3d4216fe38607449e2b1d2926221b055be570fc1644893b4d3aa1"
        );
    }

    #[test]
    fn codex_notify_is_a_toml_array() {
        let v = notify_override(Path::new("/x/v\"nx"), Path::new("/d/D-1"));
        assert_eq!(
            v,
            r#"notify=["/x/v\"nx","__hook","codex-notify","--dir","/d/D-1"]"#
        );
    }
}
