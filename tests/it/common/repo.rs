//! `Repo`: an initialised, committed repository with a private tmux server, and the vnx
//! commands the dispatch tests run in it.

use std::process::Command;

use super::tmux::Server;
use super::{Run, TestEnv, run};

/// An initialised, committed repository and a private tmux server for its dispatches.
pub struct Repo {
    pub env: TestEnv,
    pub server: Server,
}

impl Repo {
    pub fn new() -> Repo {
        Repo::new_in(&std::env::temp_dir())
    }

    /// The same, with the repository (and so `.vnx-data/`) inside `parent`.
    pub fn new_in(parent: &std::path::Path) -> Repo {
        let env = TestEnv::new_in(parent);
        std::fs::remove_dir(env.path().join("state")).unwrap();
        env.git_init();
        let r = run(env.vnx().arg("init"));
        assert_eq!(r.code, 0, "{}", r.stderr);
        env.git(&["add", "-A"]);
        env.git(&["commit", "-q", "-m", "vnx init"]);
        Repo {
            env,
            server: Server::new(),
        }
    }

    pub fn vnx(&self) -> Command {
        let mut cmd = self.env.vnx();
        cmd.env("VNX_TMUX_SOCKET", self.server.0.socket());
        cmd
    }

    /// `vnx dispatch-agent` for a demo model, not yet run.
    pub fn dispatch_cmd(&self, model: &str) -> Command {
        let mut cmd = self.vnx();
        cmd.args([
            "dispatch-agent",
            "--agent",
            "implementer",
            "--provider",
            "demo",
        ])
        .args(["--model", model]);
        cmd
    }

    pub fn dispatch(&self, model: &str, extra: &[&str]) -> Run {
        run(self.dispatch_cmd(model).arg("--json").args(extra))
    }

    /// `vnx dispatch-agent --json` for a demo model in another role than implementer (e.g. a
    /// reviewer, which the phantom guard leaves alone when it changes nothing).
    pub fn dispatch_as(&self, role: &str, model: &str, extra: &[&str]) -> Run {
        let mut cmd = self.vnx();
        cmd.args(["dispatch-agent", "--agent", role, "--provider", "demo"])
            .args(["--model", model, "--json"])
            .args(extra);
        run(cmd)
    }

    /// A dispatch of the demo `model` (in the foreground, or `--detach`ed): its id.
    pub fn dispatched(&self, model: &str, detach: bool) -> String {
        let mut extra = vec!["--instruction", "x"];
        if detach {
            extra.push("--detach");
        }
        let r = self.dispatch(model, &extra);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim())
            .unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr));
        settled_receipt(v)["dispatch_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A detached dispatch of the stand-in claude in the interactive lane that writes a file,
    /// then asks before `git commit` (blocked until answered in the pane): its id.
    pub fn dispatched_asking_claude(&self, fakes: &super::Fakes) -> String {
        self.dispatched_tui(
            fakes,
            "claude",
            "@fake write a.txt hi\n@fake commit add a\n@fake run vnx report --status done --summary a",
        )
    }

    /// A detached dispatch of a stand-in `provider` in the interactive lane (deadline 60 s)
    /// following `instruction`'s `@fake` lines: its id.
    pub fn dispatched_tui(
        &self,
        fakes: &super::Fakes,
        provider: &str,
        instruction: &str,
    ) -> String {
        let mut cmd = self.vnx();
        cmd.env("PATH", fakes.path())
            .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
            .args(["dispatch-agent", "--agent", "implementer", "--detach"])
            .args([
                "--provider",
                provider,
                "--lane",
                "interactive",
                "--deadline",
                "60",
            ])
            .args(["--instruction", instruction]);
        let r = run(cmd);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout.trim().to_owned()
    }

    /// What the MCP server of this project is given, as `vnx mcp` would resolve it, with
    /// `scratch` for its scratch space.
    pub fn mcp_settings(&self, scratch: std::path::PathBuf) -> vnx::mcp::Settings {
        vnx::mcp::Settings {
            root: std::fs::canonicalize(self.env.path()).unwrap(),
            ledger: super::ledger_path(self),
            tmux_socket: self.server.0.socket().to_owned(),
            key: Some(self.env.home().join(".config/vnx/checkpoint.key")),
            witness_dir: None,
            threads: 1,
            scratch,
        }
    }

    pub fn receipts(&self, id: &str) -> Vec<serde_json::Value> {
        let data =
            std::fs::read_to_string(self.env.path().join(".vnx-data/state/t0_receipts.ndjson"))
                .unwrap();
        data.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["dispatch_id"] == id)
            .collect()
    }

    /// The ledger's receipts of one event type.
    pub fn events(&self, event: &str) -> Vec<serde_json::Value> {
        let path = self.env.path().join(".vnx-data/state/t0_receipts.ndjson");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["event_type"] == event)
            .collect()
    }

    pub fn branches(&self) -> String {
        self.env.git(&["branch", "--list", "dispatch/*"])
    }

    /// A file as the dispatch branch of `id` holds it.
    pub fn on_branch(&self, id: &str, path: &str) -> String {
        self.env.git(&["show", &format!("dispatch/{id}:{path}")])
    }

    pub fn verify_ok(&self) {
        let r = run(self.vnx().args(["audit-chain", "verify"]));
        assert_eq!(r.code, 0, "{}", r.stdout);
    }
}

/// The one JSON object a command printed; for `wait --json` (and a foreground dispatch's
/// `--json`), the receipt that settled the dispatch (see [`settled_receipt`]).
pub fn completion(r: &Run) -> serde_json::Value {
    let v = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr));
    settled_receipt(v)
}

/// The receipt inside one `wait --json` object that settled its dispatch: the phantom
/// guard's correction, else the `dispatch_blocked`, else the completion. An object with none
/// (lost, unknown, still running) or any other object is returned as it is.
pub fn settled_receipt(v: serde_json::Value) -> serde_json::Value {
    let settled = [
        "dispatch_id",
        "status",
        "completion",
        "correction",
        "blocked",
    ]
    .iter()
    .all(|k| v.get(k).is_some());
    if settled {
        for key in ["correction", "blocked", "completion"] {
            if !v[key].is_null() {
                return v[key].clone();
            }
        }
    }
    v
}
