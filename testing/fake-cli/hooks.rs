//! Settings files and command hooks (each personality's end-of-turn, notification and tool
//! hooks, under its own event names): finding the `hooks.<Event>[*].hooks[*]` entries of `"type":"command"` and running them with `sh -c`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

/// The default time a hook may take before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq)]
pub struct Hook {
    pub command: String,
    pub timeout: Duration,
}

/// Reads a JSON settings file. `Ok(None)` when it does not exist.
pub fn read_settings(path: &Path) -> Result<Option<Value>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The command hooks registered for `event` in one settings document (`timeout` in seconds,
/// as most CLIs read it).
pub fn command_hooks(settings: &Value, event: &str) -> Vec<Hook> {
    command_hooks_per(settings, event, 1.0)
}

/// The command hooks registered for `event`, `timeout` counted in `unit` seconds (for a CLI
/// that reads milliseconds, `0.001`: its personality says).
pub fn command_hooks_per(settings: &Value, event: &str, unit: f64) -> Vec<Hook> {
    let Some(groups) = settings
        .get("hooks")
        .and_then(|h| h.get(event))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    groups
        .iter()
        .filter_map(|g| g.get("hooks").and_then(Value::as_array))
        .flatten()
        .filter(|h| h.get("type").and_then(Value::as_str) == Some("command"))
        .filter_map(|h| {
            let command = h.get("command")?.as_str()?.to_string();
            let timeout = h
                .get("timeout")
                .and_then(Value::as_f64)
                .filter(|t| *t > 0.0)
                .map_or(DEFAULT_TIMEOUT, |t| Duration::from_secs_f64(t * unit));
            Some(Hook { command, timeout })
        })
        .collect()
}

/// Runs each hook in turn with `payload` on stdin, waiting for it; output is ignored.
/// Returns one outcome line per hook, for the invocation log.
pub fn fire(hooks: &[Hook], payload: &Value, cwd: &Path, env: &[(String, String)]) -> Vec<Value> {
    hooks
        .iter()
        .map(|hook| {
            let mut cmd = Command::new("sh");
            cmd.arg("-c").arg(&hook.command).current_dir(cwd);
            for (k, v) in env {
                cmd.env(k, v);
            }
            let outcome = crate::sys::run_helper(cmd, Some(payload.to_string()), hook.timeout);
            serde_json::json!({ "command": hook.command, "outcome": outcome })
        })
        .collect()
}

/// Runs one hook with `payload` on stdin in `cwd`, waiting for it (the hook bounds its own
/// time); what it printed.
pub fn run_for_output(hook: &Hook, payload: &Value, cwd: &Path) -> String {
    use std::io::Write;
    let child = Command::new("sh")
        .arg("-c")
        .arg(&hook.command)
        .current_dir(cwd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return String::new();
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(payload.to_string().as_bytes());
    }
    child
        .wait_with_output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_command_hooks_of_one_event() {
        let settings: Value = serde_json::from_str(
            r#"{"hooks":{
                "Stop":[{"matcher":"","hooks":[
                    {"type":"command","command":"vnx __hook stop"},
                    {"type":"prompt","prompt":"ignored"},
                    {"type":"command","command":"true","timeout":3}]}],
                "PreToolUse":[{"hooks":[{"type":"command","command":"nope"}]}]}}"#,
        )
        .unwrap();
        assert_eq!(
            command_hooks(&settings, "Stop"),
            vec![
                Hook {
                    command: "vnx __hook stop".into(),
                    timeout: DEFAULT_TIMEOUT
                },
                Hook {
                    command: "true".into(),
                    timeout: Duration::from_secs(3)
                },
            ]
        );
        assert!(command_hooks(&settings, "AfterAgent").is_empty());
    }
}
