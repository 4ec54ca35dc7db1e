//! `vnx pr`: dispatches' pull requests with the real `gh` against the scripted GitHub API and
//! a real `git push` to a bare repository (`common::forge`): opened and updated, checks
//! failing then passing, a review, merged on the forge with every step signed in the ledger;
//! and every error: gh missing or logged out, no remote, a push rejected, a pull request
//! closed meanwhile, a merge refused by branch protection, the forge unreachable or
//! rate-limited.

mod auto;
mod dashboard;
mod doctor;
mod errors;
mod fix;
mod flow;
mod index;
mod init;
mod limits;
mod night;
pub(crate) mod react;
mod release;
mod stack;
mod wait;
mod watch;

use serde_json::{Value, json};

use crate::common::forge::ScriptedForge;
use crate::common::{Repo, Run, committed, configure, gate_check, run};

/// The config a forge test appends: a gate the demo worker passes, and the forge.
pub(crate) const FORGE: &str = "gates:\n\
    \x20 tests: {kind: command, argv: [sh, -c, 'test -f demo-output.txt']}\n\
    roles:\n\
    \x20 implementer: {gates: [tests]}\n\
    forge:\n\
    \x20 kind: github\n\
    \x20 remote: origin\n\
    \x20 merge_method: squash\n";

/// A repository on the scripted forge with one done, gated dispatch: (repo, forge, id, head).
pub(crate) fn gated() -> (Repo, ScriptedForge, String, String) {
    let repo = Repo::new();
    configure(&repo, FORGE);
    let forge = ScriptedForge::for_repo(&repo);
    let id = committed(&repo, "implementer");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{report:#}");
    let head = repo.env.git(&["rev-parse", &format!("dispatch/{id}")]);
    (repo, forge, id, head.trim().to_owned())
}

/// `vnx pr ARGS…` in `repo` with gh's environment.
pub(crate) fn pr(repo: &Repo, forge: &ScriptedForge, args: &[&str]) -> Run {
    let mut cmd = forge.vnx(repo);
    cmd.arg("pr").args(args);
    run(cmd)
}

/// `vnx pr ARGS… --json`, parsed (the last JSON line).
pub(crate) fn pr_json(repo: &Repo, forge: &ScriptedForge, args: &[&str]) -> (Run, Value) {
    let mut all = args.to_vec();
    all.push("--json");
    let r = pr(repo, forge, &all);
    let v = r
        .stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    (r, v)
}

/// A check on pull request `number`'s head.
pub(crate) fn check(forge: &ScriptedForge, number: u64, name: &str, conclusion: &str, log: &str) {
    forge.control(
        "checks",
        Some(json!({"pr": number, "name": name, "conclusion": conclusion, "log": log})),
    );
}
