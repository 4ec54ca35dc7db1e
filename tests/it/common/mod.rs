//! Shared test support: a hermetic environment per test (temp HOME, no user git config) and
//! helpers to run the real `vnx` binary and build ledgers.

#![expect(
    dead_code,
    reason = "shared helpers: each test module uses some of them, none uses all"
)]

pub mod console;
pub mod container;
mod fakes;
pub mod fleet;
pub mod forge;
mod gates;
mod host;
pub mod mcp_stdio;
mod repo;
pub mod serve;
pub mod tmux;

pub use fakes::Fakes;
pub use gates::{
    append_forged_done, append_forged_done_to, append_forged_start_to, committed, configure,
    demo_defaults, gate_check, gate_check_with, ledger_path, run_script_worker,
};
pub use host::Remote;
pub use repo::{Repo, completion, settled_receipt};
pub use tmux::{Server, wait_for};

use std::path::{Path, PathBuf};
use std::process::Command;

use vnx::ledger::{Ledger, Receipt};

/// The repository's own directory (for data files such as the golden ledgers).
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary directory holding an isolated HOME (`home/`) and a working directory
/// (`work/`, with a `state/` ledger directory) that tests may turn into a git repository.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    work: PathBuf,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv::new_in(&std::env::temp_dir())
    }

    /// A test environment inside `parent` (e.g. a small filesystem of the test's own).
    pub fn new_in(parent: &Path) -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("vnx-test-")
            .tempdir_in(parent)
            .unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join("state")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        TestEnv { dir, work }
    }

    /// The working directory.
    pub fn path(&self) -> &Path {
        &self.work
    }

    /// The isolated HOME.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `state/t0_receipts.ndjson`.
    pub fn ledger(&self) -> PathBuf {
        self.path().join("state").join("t0_receipts.ndjson")
    }

    /// The `vnx` binary with a scrubbed environment, run in the test directory.
    pub fn vnx(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vnx"));
        hermetic(&mut cmd, &self.home());
        cmd.current_dir(self.path());
        cmd
    }

    /// `vnx … --ledger <ledger>` for a subcommand path like `["audit-chain", "verify"]`.
    pub fn vnx_ledger(&self, sub: &[&str]) -> Command {
        let mut cmd = self.vnx();
        cmd.args(sub).arg("--ledger").arg(self.ledger());
        cmd
    }

    /// Appends `n` receipts through the library, with a fixed clock.
    pub fn fill(&self, n: usize) -> Vec<vnx::ledger::Appended> {
        let ledger = Ledger::new(self.ledger()).with_clock(|| "2026-11-21T10:00:00.000000Z".into());
        let receipts: Vec<Receipt> = (0..n)
            .map(|i| {
                receipt(&format!(
                    r#"{{"event_type":"task_complete","n":{i},"note":"café ✓"}}"#
                ))
            })
            .collect();
        ledger.append_all(&receipts).unwrap().lines
    }

    /// The ledger's lines (without newlines).
    pub fn lines(&self) -> Vec<Vec<u8>> {
        let data = std::fs::read(self.ledger()).unwrap();
        let mut lines: Vec<Vec<u8>> = data.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        if lines.last().is_some_and(Vec::is_empty) {
            lines.pop();
        }
        lines
    }

    /// Replaces the ledger with these lines, each newline-terminated.
    pub fn write_lines(&self, lines: &[Vec<u8>]) {
        let mut data = Vec::new();
        for l in lines {
            data.extend_from_slice(l);
            data.push(b'\n');
        }
        std::fs::write(self.ledger(), data).unwrap();
    }

    /// Makes the working directory a git repository with one empty commit.
    pub fn git_init(&self) {
        self.git(&["init", "-q", "-b", "main"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", "init"]);
    }

    /// Runs git in the working directory.
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.home(), self.path(), args)
    }
}

/// Scrubs a command's environment: `home` as HOME and config dir, no user or system git
/// config.
pub fn hermetic(cmd: &mut Command, home: &Path) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("LC_ALL", "C");
    // The container engine's own configuration is the machine's, as PATH is (bin/test names
    // one where this kind of machine needs it).
    if let Some(conf) = std::env::var_os("CONTAINERS_CONF") {
        cmd.env("CONTAINERS_CONF", conf);
    }
}

/// Runs git in `dir`, hermetically, and returns its stdout.
pub fn git(home: &Path, dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    hermetic(&mut cmd, home);
    let out = cmd.current_dir(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn receipt(json: &str) -> Receipt {
    Receipt::from_json(json.as_bytes()).unwrap()
}

/// Output of a finished command, for assertions.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut cmd: impl std::borrow::BorrowMut<Command>) -> Run {
    let out = cmd.borrow_mut().output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `audit-chain verify --json` parsed.
pub fn verify_json(env: &TestEnv) -> (i32, serde_json::Value) {
    let r = run(env.vnx_ledger(&["audit-chain", "verify"]).arg("--json"));
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {} {}", r.stdout, r.stderr));
    (r.code, v)
}

/// (line, kind) of every violation in a verify JSON report.
pub fn violations(report: &serde_json::Value) -> Vec<(u64, String)> {
    report["report"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["line"].as_u64().unwrap(),
                v["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Runs a command with `input` on its stdin and collects its output.
pub fn run_with_stdin(mut cmd: impl std::borrow::BorrowMut<Command>, input: &[u8]) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .borrow_mut()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A child that exits early closes its stdin; what it said is in its output.
    let _ = child.stdin.take().unwrap().write_all(input);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A verify report cut down for a failure message: status, counts, torn tail and the first
/// few violations.
pub fn brief(report: &serde_json::Value) -> String {
    let r = &report["report"];
    let first: Vec<String> = r["violations"]
        .as_array()
        .map(|v| v.iter().take(5).map(ToString::to_string).collect())
        .unwrap_or_default();
    format!(
        "status {} lines {} torn_tail {} violations_total {} first violations [{}]",
        r["status"],
        r["lines"],
        r["torn_tail"],
        r["violations_total"],
        first.join(", ")
    )
}

/// `python3`, which the VNX interop tests need (as `.ci/run` guarantees): a test that asks for
/// it fails without it.
pub fn python3() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("python3"))
                .find(|p| p.is_file())
        })
        .expect("python3 is not on PATH: the VNX interop tests need it")
}

/// Whether a process still works in dispatch `id`'s worktree (its cwd is the worktree,
/// whose name carries the id).
pub fn worker_alive(id: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
        std::fs::read_link(p.path().join("cwd"))
            .is_ok_and(|cwd| cwd.to_string_lossy().ends_with(&format!("dispatch-{id}")))
    })
}

/// `text` as a regex (an insta filter's) matching only itself.
pub fn regex_literal(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if r"\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}
