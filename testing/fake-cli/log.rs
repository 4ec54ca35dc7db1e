//! The invocation log: `$VNX_FAKE_LOG_DIR/<personality>-<pid>.json`, rewritten atomically
//! whenever something tests may want to see changes (start, prompt read, each turn, exit).

use std::io;
use std::os::fd::AsFd;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::sys;

pub struct InvocationLog {
    path: Option<PathBuf>,
    doc: Map<String, Value>,
}

/// Environment variables copied into the log: vnx's, a few every personality's tests look at,
/// and `own`, those the personality names.
fn logged_env(own: &[&str]) -> Map<String, Value> {
    let mut env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
        .filter(|(k, _)| {
            k.starts_with("VNX_")
                || matches!(k.as_str(), "PATH" | "HOME" | "IS_SANDBOX")
                || own.contains(&k.as_str())
        })
        .collect();
    env.sort();
    env.into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

pub fn log_dir() -> Option<PathBuf> {
    std::env::var_os("VNX_FAKE_LOG_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

impl InvocationLog {
    /// Records what is known before any argument is looked at, with the variables of `env`
    /// the personality reads besides the shared ones; writes nothing yet.
    pub fn start(personality: &str, argv: &[String], env: &[&str]) -> InvocationLog {
        let pid = std::process::id();
        let path = log_dir().map(|d| d.join(format!("{personality}-{pid}.json")));
        let cwd = std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let ids = vnx::process::ProcessIds::read();
        let doc = json!({
            "personality": personality,
            "argv": argv,
            "cwd": cwd,
            "phase": "starting",
            "prompt": null,
            "prompt_source": null,
            "stdin": sys::fd_kind(io::stdin().as_fd()),
            "stdout": sys::fd_kind(io::stdout().as_fd()),
            "pid": pid,
            "ppid": ids.ppid,
            "pgid": ids.pgid,
            "sid": ids.sid,
            "env": logged_env(env),
            "mode": null,
            "session_id": null,
            "turns": [],
            "exit_code": null,
        });
        let Value::Object(doc) = doc else {
            unreachable!("json! of an object literal")
        };
        InvocationLog { path, doc }
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.doc.insert(key.to_string(), value.into());
        self
    }

    pub fn push_turn(&mut self, turn: Value) -> &mut Self {
        if let Some(Value::Array(turns)) = self.doc.get_mut("turns") {
            turns.push(turn);
        }
        self
    }

    pub fn write(&mut self) {
        let Some(path) = &self.path else {
            return;
        };
        let mut text = serde_json::to_string_pretty(&self.doc).unwrap_or_default();
        text.push('\n');
        if let Err(e) = sys::write_atomically(path, text.as_bytes()) {
            eprintln!("vnx-fake-cli: cannot write {}: {e}", path.display());
        }
    }

    /// Records that the arguments were refused (or help/version printed) and the exit code.
    pub fn finish(&mut self, phase: &str, exit_code: i32, error: Option<&str>) {
        self.set("phase", phase).set("exit_code", exit_code);
        if let Some(error) = error {
            self.set("error", error);
        }
        self.write();
    }
}
