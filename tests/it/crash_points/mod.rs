//! Every durable multi-step operation killed with SIGKILL at each of its named steps
//! (`vnx::steps`, ADR 0050), in a test build armed through `VNX_CRASH_AT`: after each kill
//! the ledger verifies (as `audit-chain verify`, doctor and merge all judge it), every receipt
//! written before the kill is still there byte for byte, the worker's change is still on a
//! branch or in a worktree, and a rerun of the operation, or the command `vnx doctor` names,
//! brings the dispatch to the state it would have reached without the kill.
//!
//! A step that an operation never reaches fails its test (the kill is proven by the step's
//! line in the crash log), and `every_step_has_a_crash_test` fails when a step is added
//! without a scenario here.

mod accept;
mod after;
mod answer;
mod conclude;
mod gate;
mod give_back;
mod index;
mod launch;
mod limit_move;
mod merge;
mod pause;
mod place_launch;
mod plan;
mod pr_merge;
mod pr_open;
mod pr_react;
mod rebase;
mod release;
mod resume;
mod review;
mod schedule;
mod unpause;

use std::path::{Path, PathBuf};
use std::process::Command;

use vnx::steps::{STEPS, Step};

use crate::common::{Repo, Run, ledger_path, run};

/// Each operation with named steps has a module here whose test kills it at every one of
/// them (`steps_of("op")`).
#[test]
fn every_step_has_a_crash_test() {
    let dir = crate::common::repo_dir().join("tests/it/crash_points");
    let ops: std::collections::BTreeSet<&str> = STEPS.iter().map(|s| s.op).collect();
    for op in ops {
        let text = std::fs::read_to_string(dir.join(format!("{op}.rs"))).unwrap_or_default();
        assert!(
            text.contains(&format!("steps_of(\"{op}\")")),
            "the steps of {op} have no crash-point test in tests/it/crash_points/{op}.rs"
        );
    }
}

/// The named steps of `op`, in the order it reaches them.
fn steps_of(op: &str) -> Vec<Step> {
    STEPS.iter().copied().filter(|s| s.op == op).collect()
}

/// A kill at one step: where its log is, and the ledger as it was before the operation ran.
struct Kill {
    step: Step,
    /// The time the process reaches the step that kills it (from 1).
    nth: u32,
    log: tempfile::TempDir,
    before: Vec<u8>,
}

impl Kill {
    /// Notes the ledger of `repo` as it is now, before the operation killed at `step` runs.
    fn at(repo: &Repo, step: Step) -> Kill {
        Kill::at_nth(repo, step, 1)
    }

    /// The same, killing the `nth` time the process reaches the step (an operation that works
    /// through several ids reaches each step once per id).
    fn at_nth(repo: &Repo, step: Step, nth: u32) -> Kill {
        Kill {
            step,
            nth,
            log: tempfile::tempdir().unwrap(),
            before: std::fs::read(ledger_path(repo)).unwrap_or_default(),
        }
    }

    fn log_path(&self) -> PathBuf {
        self.log.path().join("crash.log")
    }

    /// `cmd`, armed to die at the step (its children and the supervisor it starts too).
    fn arm(&self, mut cmd: Command) -> Command {
        cmd.env("VNX_CRASH_AT", format!("{}@{}", self.step, self.nth))
            .env("VNX_CRASH_LOG", self.log_path());
        cmd
    }

    /// The process that reached the step (as its log line names it).
    fn pid(&self) -> rustix::process::Pid {
        std::fs::read_to_string(self.log_path())
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                let (step, pid) = l.split_once(' ')?;
                (step == self.step.to_string()).then(|| pid.trim().parse::<i32>().ok())?
            })
            .and_then(rustix::process::Pid::from_raw)
            .unwrap_or_else(|| panic!("{}: no process reached the step", self.step))
    }

    /// Whether some process reached the step and killed itself there.
    fn reached(&self) -> bool {
        std::fs::read_to_string(self.log_path())
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(' ').next() == Some(self.step.to_string().as_str()))
    }

    /// Runs `cmd` armed, and asserts it died by SIGKILL at the step.
    fn run_killed(&self, cmd: Command) -> Run {
        let r = run(self.arm(cmd));
        assert!(
            self.reached(),
            "{}: the step was never reached (exit {}):\n{}{}",
            self.step,
            r.code,
            r.stdout,
            r.stderr
        );
        r
    }

    /// Waits (up to 60 s) until a process started elsewhere (a supervisor in its pane) has
    /// reached the step.
    fn wait_reached(&self) {
        for _ in 0..1200 {
            if self.reached() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("{}: the step was never reached", self.step);
    }

    /// Waits (up to 60 s) until the process that reached the step, armed to stop there, is
    /// stopped: it logs the step before it stops itself, and a SIGCONT sent in between would
    /// be lost, leaving it stopped for good.
    fn wait_stopped(&self) {
        let stat = format!("/proc/{}/stat", self.pid().as_raw_nonzero());
        for _ in 0..1200 {
            let text = std::fs::read_to_string(&stat).unwrap_or_default();
            // The state follows the command's name in parentheses (which may hold any byte).
            let state = text
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next());
            if matches!(state, Some('T' | 't')) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("{}: the process never stopped at the step", self.step);
    }

    /// The invariants that hold right after the kill: the ledger verifies, and every line
    /// that was on it before the operation still is, byte for byte.
    fn check_ledger(&self, repo: &Repo) {
        let now = std::fs::read(ledger_path(repo)).unwrap_or_default();
        assert!(
            now.starts_with(&self.before),
            "{}: the ledger lost or changed lines written before the kill",
            self.step
        );
        let r = run(repo
            .vnx()
            .args(["audit-chain", "verify", "--allow-missing"]));
        assert_eq!(
            r.code, 0,
            "{}: the ledger does not verify after the kill:\n{}{}",
            self.step, r.stdout, r.stderr
        );
    }
}

/// `vnx doctor --json`'s checks that failed or warned, as (name, detail, hint).
fn doctor_findings(repo: &Repo) -> Vec<(String, String, String)> {
    let r = run(repo.vnx().args(["doctor", "--json"]));
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| {
            let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (text("name"), text("detail"), text("hint"))
        })
        .collect()
}

/// The `vnx …` commands a hint names between backticks.
fn commands_in(hint: &str) -> Vec<Vec<String>> {
    hint.split('`')
        .skip(1)
        .step_by(2)
        .filter(|c| c.starts_with("vnx "))
        .map(|c| c.split(' ').skip(1).map(str::to_owned).collect())
        .collect()
}

/// Runs the command doctor's finding `name` names, and asserts it succeeds.
fn run_doctors_command(repo: &Repo, step: Step, name: &str) -> Run {
    let findings = doctor_findings(repo);
    let Some((_, detail, hint)) = findings.iter().find(|(n, ..)| n == name) else {
        panic!("{step}: doctor has no `{name}` finding: {findings:?}");
    };
    run_hint(repo, step, name, detail, hint)
}

/// Runs the `vnx` command `hint` names first (its repair; what follows is another way, such
/// as closing instead of continuing), and asserts it succeeds.
fn run_hint(repo: &Repo, step: Step, name: &str, detail: &str, hint: &str) -> Run {
    let commands = commands_in(hint);
    let Some(command) = commands.first() else {
        panic!("{step}: doctor's `{name}` finding names no vnx command: {detail} / hint: {hint}");
    };
    let r = run(repo.vnx().args(command));
    assert_eq!(
        r.code,
        0,
        "{step}: `vnx {}` (doctor's hint for {name}: {detail}) failed:\n{}{}",
        command.join(" "),
        r.stdout,
        r.stderr
    );
    r
}

/// What `vnx doctor` found before an operation ran, to tell what the kill left behind.
struct Doctor {
    before: std::collections::BTreeSet<String>,
}

impl Doctor {
    fn before(repo: &Repo) -> Doctor {
        Doctor {
            before: doctor_findings(repo).into_iter().map(|(n, ..)| n).collect(),
        }
    }

    /// Runs the command doctor names for each finding it did not have before the operation,
    /// until it has none (at most three rounds): whatever a kill leaves behind, doctor names,
    /// and its command clears.
    fn settle(&self, repo: &Repo, step: Step) {
        for _ in 0..3 {
            let new: Vec<_> = doctor_findings(repo)
                .into_iter()
                .filter(|(n, ..)| !self.before.contains(n))
                .collect();
            if new.is_empty() {
                return;
            }
            for (name, detail, hint) in &new {
                run_hint(repo, step, name, detail, hint);
            }
        }
        let left: Vec<_> = doctor_findings(repo)
            .into_iter()
            .filter(|(n, ..)| !self.before.contains(n))
            .collect();
        assert!(
            left.is_empty(),
            "{step}: doctor's commands do not clear {left:?}"
        );
    }
}

/// `vnx status --json`'s object for `id` once it is no longer running or queued (up to 60 s),
/// or `None` when the ledger has no such dispatch.
fn settled_or_absent(repo: &Repo, id: &str) -> Option<serde_json::Value> {
    let mut last = None;
    for _ in 0..600 {
        let r = run(repo.vnx().args(["status", "--json"]));
        let all: Vec<serde_json::Value> = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
        last = all.into_iter().find(|d| d["dispatch_id"] == id);
        match &last {
            Some(s)
                if ["running", "queued", "blocked"]
                    .contains(&s["status"].as_str().unwrap_or("")) => {}
            _ => return last,
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    last
}

/// The same, for a dispatch that must be on the ledger.
fn settled(repo: &Repo, id: &str) -> serde_json::Value {
    settled_or_absent(repo, id).unwrap_or_else(|| panic!("{id} is not in vnx status"))
}

/// `vnx status --json`'s object for dispatch `id`.
fn status_of(repo: &Repo, id: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["status", "--json"]));
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
    all.into_iter()
        .find(|d| d["dispatch_id"] == id)
        .unwrap_or_else(|| panic!("{id} is not in vnx status"))
}

/// Whether `commit` is reachable from any branch of the repository at `root`.
fn on_some_branch(root: &Path, repo: &Repo, commit: &str) -> bool {
    let out = repo.env.git(&[
        "-C",
        &root.to_string_lossy(),
        "branch",
        "-a",
        "--contains",
        commit,
    ]);
    !out.trim().is_empty()
}
