//! The hooks vnx installs for one dispatch: a Claude Code settings file (`--settings FILE`:
//! `Stop`, `PermissionRequest`, `Notification`, `PostToolUse`), Gemini CLI's settings in the
//! worktree (`AfterAgent`, `Notification`, `AfterTool`), trusted in its `trusted_hooks.json`,
//! and its policy file for `vnx report` and the role's allowed commands, and for Codex
//! a `notify` program plus its hooks engine's `PermissionRequest`/`PostToolUse`, trusted, all
//! as `-c` overrides. Each runs `vnx __hook EVENT --dir DISPATCH_DIR`.

use std::path::Path;

pub use crate::receipts::HookKind;

/// The hook events `vnx __hook` accepts, as they are named in signal files and receipts.
pub const HOOK_EVENTS: [&str; 10] = [
    "claude-stop",
    "claude-notification",
    "claude-permission-request",
    "claude-post-tool-use",
    "gemini-after-agent",
    "gemini-notification",
    "gemini-after-tool",
    "codex-notify",
    "codex-permission-request",
    "codex-post-tool-use",
];

/// The policy-engine file (`--policy`) that lets gemini's TUI run `allowed` commands (the
/// completion protocol's `vnx report`, the role's allowed commands) without asking, and
/// leaves every other command to the posture: it asks. An allow rule given as
/// `--allowed-tools` instead makes gemini 0.61 refuse every other command by policy without
/// a prompt, so the worker could never wait for a person. A `commandPrefix` matches whole
/// words (seen on gemini 0.61: `touch` allows `touch a`, `touch a` does not allow `touch ab`).
pub fn gemini_policy(allowed: &[String]) -> String {
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
pub const GEMINI_POLICY_FILE: &str = "hooks/gemini-policy.toml";

/// Quotes a string for POSIX `sh` (single quotes; `'` becomes `'\''`). Hook commands are shell
/// strings by the CLIs' design; vnx only ever puts its own binary path and the dispatch
/// directory in them, and quotes both.
pub fn sh_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The shell command a Claude or Gemini hook runs.
pub fn hook_command(vnx: &Path, event: &str, dispatch_dir: &Path) -> String {
    format!(
        "{} __hook {event} --dir {}",
        sh_quote(&vnx.to_string_lossy()),
        sh_quote(&dispatch_dir.to_string_lossy())
    )
}

/// Seconds a CLI gives one of vnx's hooks (claude reads `timeout` in seconds).
const HOOK_TIMEOUT_SECS: u64 = 30;

/// Seconds claude gives vnx's `PermissionRequest` hook, which waits that long (less a
/// margin) for `vnx approve`/`vnx deny` while the prompt shows in the pane.
pub const PERMISSION_HOOK_TIMEOUT_SECS: u64 = 600;

fn command_hook(command: String, timeout: u64) -> serde_json::Value {
    serde_json::json!([{ "hooks": [{ "type": "command", "command": command, "timeout": timeout }] }])
}

/// `hooks/claude-settings.json`: passed with `--settings`, merged by Claude Code over the
/// user's own settings; nothing is written into the worktree. `Stop` ends a turn;
/// `PermissionRequest` (as the prompt shows, naming the tool and command) and `Notification`
/// (about 6 s later) say the worker waits for a person; `PostToolUse` says it goes on. The
/// `PermissionRequest` hook also waits for `vnx approve`/`vnx deny` (the dialog stays
/// usable meanwhile, seen on claude 2.1.197), so it is given longer.
pub fn claude_settings(vnx: &Path, dispatch_dir: &Path) -> serde_json::Value {
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
/// "Hook(s) [...] failed"), so vnx's hooks get the same 30 s as claude's.
pub fn gemini_settings(vnx: &Path, dispatch_dir: &Path) -> serde_json::Value {
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
pub fn gemini_trust_keys(vnx: &Path, dispatch_dir: &Path) -> Vec<String> {
    GEMINI_HOOKS
        .iter()
        .map(|(_, name)| format!(":{}", hook_command(vnx, name, dispatch_dir)))
        .collect()
}

/// The file where a dispatch's launch recorded its hooks as trusted (see
/// [`gemini_trust_keys`]), as its signed start locates it: only for a start that installed
/// gemini's hooks, in the gemini home the start recorded (absolute). `None` for any other
/// start, and for one recorded before starts named the CLIs' homes (its entry stays, naming
/// a worktree that no longer exists).
pub fn trust_file_of(started: &crate::receipts::DispatchStarted) -> Option<std::path::PathBuf> {
    if started.hooks != crate::receipts::HookKind::GeminiAfterAgent {
        return None;
    }
    let home = std::path::PathBuf::from(started.cli_homes.as_ref()?.gemini.as_ref()?);
    home.is_absolute().then(|| home.join("trusted_hooks.json"))
}

/// A TOML basic string (what `codex -c key=value` parses).
pub(crate) fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `-c` value that makes Codex run `vnx __hook codex-notify --dir DIR JSON` at the end of
/// every turn (an argv, no shell).
pub fn codex_notify_override(vnx: &Path, dispatch_dir: &Path) -> String {
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
pub fn codex_hook_overrides(vnx: &Path, dispatch_dir: &Path) -> Vec<String> {
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
            "hooks.{event}=[{{hooks=[{{type=\"command\",command={},timeout={CODEX_HOOK_TIMEOUT}}}]}}]",
            toml_string(&command)
        ));
        trusted.push(format!(
            "{}={{trusted_hash={}}}",
            toml_string(&format!("/<session-flags>/config.toml:{key}:0:0")),
            toml_string(&codex_trust_hash(key, &command))
        ));
    }
    out.push(format!("hooks.state={{{}}}", trusted.join(",")));
    out
}

/// Seconds codex gives vnx's hooks.
const CODEX_HOOK_TIMEOUT: u64 = 30;

/// Codex's trust hash of a one-command hook (no matcher): SHA-256 of its identity as compact
/// JSON with sorted keys (checked against what codex 0.169 writes when a person trusts it).
fn codex_trust_hash(event_key: &str, command: &str) -> String {
    use sha2::{Digest, Sha256};
    let json = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    let identity = format!(
        r#"{{"event_name":{},"hooks":[{{"async":false,"command":{},"timeout":{CODEX_HOOK_TIMEOUT},"type":"command"}}]}}"#,
        json(event_key),
        json(command)
    );
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(identity.as_bytes()))
    )
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "a test runs the quoting through a real sh"
)]
mod tests {
    use super::*;

    #[test]
    fn the_trust_file_is_where_a_gemini_start_put_its_home() {
        let example = include_str!("../../../../receipts/examples/dispatch_started.json");
        let mut started: crate::receipts::DispatchStarted = serde_json::from_str(example).unwrap();
        started.cli_homes = Some(crate::receipts::CliHomes {
            gemini: Some("/home/u/.gemini".into()),
            ..Default::default()
        });
        assert_eq!(
            trust_file_of(&started),
            None,
            "no gemini hooks: no trust file"
        );
        started.hooks = crate::receipts::HookKind::GeminiAfterAgent;
        assert_eq!(
            trust_file_of(&started),
            Some(std::path::PathBuf::from(
                "/home/u/.gemini/trusted_hooks.json"
            ))
        );
        started.cli_homes.as_mut().unwrap().gemini = Some("relative/.gemini".into());
        assert_eq!(
            trust_file_of(&started),
            None,
            "a relative home is never used"
        );
        started.cli_homes = None;
        assert_eq!(trust_file_of(&started), None, "an older start: none");
    }

    #[test]
    fn codex_trust_hashes_match_what_codex_records() {
        // Written by codex 0.169 when a person trusted this hook in its review dialog.
        assert_eq!(
            codex_trust_hash(
                "permission_request",
                "echo perm >> /tmp/cx/hook.log; cat >> /tmp/cx/hook.log"
            ),
            "sha256:efebea452dc3d4216fe38607449e2b1d2926221b055be570fc1644893b4d3aa1"
        );
    }

    #[test]
    fn quoting_survives_the_shell() {
        for s in ["plain", "it's", "a b\"c$d`e\\f", "'", "", "new\nline"] {
            let out = std::process::Command::new("sh")
                .args(["-c", &format!("printf %s {}", sh_quote(s))])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), s);
        }
    }

    #[test]
    fn codex_notify_is_a_toml_array() {
        let v = codex_notify_override(Path::new("/x/v\"nx"), Path::new("/d/D-1"));
        assert_eq!(
            v,
            r#"notify=["/x/v\"nx","__hook","codex-notify","--dir","/d/D-1"]"#
        );
    }

    #[test]
    fn turn_ends_match_their_hook() {
        assert!(HookKind::ClaudeStop.ends_turn("claude-stop"));
        assert!(!HookKind::ClaudeStop.ends_turn("claude-notification"));
        assert!(!HookKind::None.ends_turn("claude-stop"));
        assert!(HookKind::CodexNotify.ends_turn("codex-notify"));
    }
}
