//! Helpers for tests that configure gates and run `vnx gate-check` on a `Repo`.

use std::path::PathBuf;

use super::{Repo, Run, completion, run};

/// Declares provider `name`, a headless worker that runs the shell `script` with its prompt
/// file, with `more` config before it (`admission:`, `worktree:`…), and dispatches it as a
/// reviewer told `instruction`, in the foreground: the dispatch's id once it ended.
pub fn run_script_worker(repo: &Repo, name: &str, script: &str, more: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let worker = repo.env.dir.path().join(name);
    std::fs::write(&worker, format!("#!/bin/sh\n{script}")).unwrap();
    std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        repo,
        &format!(
            "{more}providers:\n  {name}:\n    binary: {}\n    headless:\n      argv: \
             [\"{{prompt_file}}\"]\n      prompt: file\n      completion: exit\n    \
             permissions:\n      edits: []\n",
            worker.display()
        ),
    );
    let r = run(repo
        .vnx()
        .args(["dispatch-agent", "--agent", "reviewer", "--provider", name])
        .args(["--instruction", "do it", "--json"]));
    assert!(r.code == 0 || r.code == 1, "{}\n{}", r.stdout, r.stderr);
    completion(&r)["dispatch_id"].as_str().unwrap().to_owned()
}

/// Appends to `.vnx/config.yaml` and commits it.
pub fn configure(repo: &Repo, yaml: &str) {
    let path = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(yaml);
    std::fs::write(&path, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "configure gates"]);
}

/// Makes the `defaults:` `vnx init` wrote (role implementer, provider claude) name the demo
/// provider instead, followed by `more` (lines of the same block, e.g. `  model: commit\n`).
pub fn demo_defaults(repo: &Repo, more: &str) {
    let path = repo.env.path().join(".vnx/config.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("defaults:\n  role: implementer\n  provider: claude\n"),
        "{text}"
    );
    let text = text.replacen(
        "  provider: claude\n",
        &format!("  provider: demo\n{more}"),
        1,
    );
    std::fs::write(&path, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "demo defaults"]);
}

/// A done dispatch of the demo `commit` model in `role`: its id.
pub fn committed(repo: &Repo, role: &str) -> String {
    let r = repo.dispatch_as(role, "commit", &["--instruction", "add a greeting"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    completion(&r)["dispatch_id"].as_str().unwrap().to_owned()
}

pub fn gate_check(repo: &Repo, id: &str) -> (Run, serde_json::Value) {
    gate_check_with(repo, id, |_| {})
}

pub fn gate_check_with(
    repo: &Repo,
    id: &str,
    tweak: impl FnOnce(&mut std::process::Command),
) -> (Run, serde_json::Value) {
    let mut cmd = repo.vnx();
    cmd.args(["gate-check", id, "--json"]);
    tweak(&mut cmd);
    let r = run(cmd);
    let report = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr));
    (r, report)
}
/// The receipts file of a repo's ledger.
pub fn ledger_path(repo: &Repo) -> PathBuf {
    repo.env.path().join(".vnx-data/state/t0_receipts.ndjson")
}

/// What a worker that can write the ledger could do: append a well-chained completion of its
/// own for dispatch `id`, saying `done`, that no trusted key signed.
pub fn append_forged_done(repo: &Repo, id: &str) {
    append_forged_done_to(&ledger_path(repo), id);
}

/// [`append_forged_done`] to the ledger at `ledger` (a host's, say).
pub fn append_forged_done_to(ledger: &std::path::Path, id: &str) {
    let path = super::repo_dir().join("receipts/examples/dispatch_completed.json");
    let mut forged: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for chain in [
        "seq",
        "prev_hash",
        "prev_line_sha256",
        "vnx_attestation",
        "timestamp",
    ] {
        forged.remove(chain);
    }
    forged.insert("dispatch_id".into(), id.into());
    forged.insert("status".into(), "done".into());
    let forged = super::receipt(&serde_json::Value::Object(forged).to_string());
    vnx::ledger::Ledger::new(ledger).append(&forged).unwrap();
}

/// Appends to `ledger`, well chained, a copy of dispatch `id`'s `dispatch_started` that says
/// its role is `role`, as a worker that can write its place's ledger (root in its container)
/// would: no attestation of its own (the place's vnx signs nothing the worker writes).
pub fn append_forged_start_to(ledger: &std::path::Path, id: &str, role: &str) {
    let text = std::fs::read_to_string(ledger).unwrap();
    let start = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event_type"] == "dispatch_started" && v["dispatch_id"] == id)
        .unwrap_or_else(|| panic!("{id} has no start in {}", ledger.display()));
    let mut forged = start.as_object().unwrap().clone();
    for envelope in [
        "seq",
        "prev_hash",
        "prev_line_sha256",
        "timestamp",
        "vnx_attestation",
    ] {
        forged.remove(envelope);
    }
    forged.insert("role".into(), role.into());
    let forged = super::receipt(&serde_json::Value::Object(forged).to_string());
    vnx::ledger::Ledger::new(ledger).append(&forged).unwrap();
}
