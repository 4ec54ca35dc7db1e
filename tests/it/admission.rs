//! Machine resources admitted like slots (issue 71): a local dispatch below a floor of
//! `admission:` (here a memory floor no machine meets, rather than memory eaten) waits in the
//! queue with the shortfall as its reason, holding nothing, and starts once the floor is
//! lowered and a command drains the queue; doctor reports the headroom; the section's errors
//! point at their line; a worker's memory limit holds it (through util-linux's `prlimit`).

use crate::common::{Repo, completion, configure, run, run_script_worker};
use crate::pause::state_of;

/// The config's text with `from` replaced by `to`, committed.
fn reconfigure(repo: &Repo, from: &str, to: &str) {
    let path = repo.env.path().join(".vnx/config.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
    repo.env
        .git(&["commit", "-q", "-am", "reconfigure admission"]);
}

#[test]
fn a_dispatch_below_a_memory_floor_waits_and_starts_when_the_floor_holds() {
    let repo = Repo::new();
    configure(&repo, "admission:\n  min_free_memory_mb: 100000000\n");
    let r = repo.dispatch("commit", &["--instruction", "x", "--detach"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = v["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(v["state"], "queued", "{v}");
    // Said with why, and who starts it.
    assert!(
        r.stderr.contains("waits for room: ") && r.stderr.contains(" free memory, needs 97656"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("`vnx wait {id}`")),
        "{}",
        r.stderr
    );
    let queued = repo.receipts(&id);
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0]["event_type"], "queue_decision");
    assert_eq!(queued[0]["decision"], "queued");
    assert_eq!(queued[0]["capacity"], 0, "no concurrency limit");
    let reason = queued[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("waits for room: "), "{reason}");
    // Still below the floor: status drains and leaves it queued, showing why; nothing made.
    let s = state_of(&repo, &id);
    assert_eq!(s["status"], "queued", "{s}");
    assert_eq!(s["reason"], reason, "{s}");
    assert!(
        !repo
            .env
            .path()
            .join(".vnx-data/dispatches")
            .join(&id)
            .exists()
    );
    assert!(
        !repo
            .env
            .path()
            .join(format!(".vnx-data/worktrees/dispatch-{id}"))
            .exists()
    );
    // The floor lowered, `vnx wait` drains the queue: it starts and ends done.
    reconfigure(
        &repo,
        "min_free_memory_mb: 100000000",
        "min_free_memory_mb: 1",
    );
    let r = run(repo.vnx().args(["wait", &id, "--json", "--timeout", "60"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(completion(&r)["status"], "done");
    let admitted = repo
        .events("queue_decision")
        .into_iter()
        .find(|d| d["dispatch_id"] == id.as_str() && d["decision"] == "admitted")
        .expect("admitted");
    assert!(
        admitted["reason"]
            .as_str()
            .unwrap()
            .contains("this machine has room"),
        "{admitted}"
    );
    repo.verify_ok();
}

#[test]
fn a_dispatch_the_floors_admit_starts_at_once() {
    let repo = Repo::new();
    configure(
        &repo,
        "admission:\n  min_free_memory_mb: 1\n  min_free_disk_mb: 1\n",
    );
    let r = repo.dispatch("commit", &["--instruction", "x", "--detach"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert!(v.get("state").is_none(), "started, not queued: {v}");
    let id = v["dispatch_id"].as_str().unwrap();
    assert!(
        repo.events("queue_decision").is_empty(),
        "no queue without a wait"
    );
    let r = run(repo.vnx().args(["wait", id, "--json", "--timeout", "60"]));
    assert_eq!(completion(&r)["status"], "done", "{}", r.stderr);
}

#[test]
fn doctor_reports_the_headroom_against_the_floors() {
    let repo = Repo::new();
    let check = |repo: &Repo| {
        let r = run(repo.vnx().args(["doctor", "--json"]));
        let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "admission")
            .cloned()
            .unwrap_or_else(|| panic!("no admission check: {report}"))
    };
    let c = check(&repo);
    assert_eq!(c["status"], "pass", "{c}");
    let detail = c["detail"].as_str().unwrap();
    for part in [
        " free memory (floor 1 GB), ",
        " free disk (floor 2 GB), load ",
        " per core (no max)",
    ] {
        assert!(detail.contains(part), "{detail}");
    }
    configure(
        &repo,
        "admission:\n  min_free_disk_mb: 1000000000\n  max_load_per_core: 4\n",
    );
    let c = check(&repo);
    assert_eq!(c["status"], "warn", "{c}");
    let detail = c["detail"].as_str().unwrap();
    assert!(detail.contains("(max 4)"), "{detail}");
    assert!(detail.contains("below a floor ("), "{detail}");
    assert!(detail.contains("free disk, needs 976562.5 GB)"), "{detail}");
    assert!(c["hint"].as_str().unwrap().contains("`admission:`"), "{c}");
}

#[test]
fn admission_errors_point_at_their_line_and_column() {
    let repo = Repo::new();
    let path = repo.env.path().join(".vnx/config.yaml");
    let lines = std::fs::read_to_string(&path).unwrap().lines().count();
    configure(&repo, "admission:\n  max_load_per_core: -1\n");
    let r = repo.dispatch("commit", &["--instruction", "x", "--detach"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    let at = format!(
        "config.yaml:{}:22: admission.max_load_per_core must be",
        lines + 2
    );
    assert!(r.stderr.contains(&at), "{at}\n{}", r.stderr);
    reconfigure(&repo, "max_load_per_core: -1", "worker_processes: 0");
    let r = repo.dispatch("commit", &["--instruction", "x", "--detach"]);
    assert!(
        r.stderr
            .contains("admission.worker_processes must be between 1 and"),
        "{}",
        r.stderr
    );
}

/// Whether util-linux's `prlimit` runs here.
fn has_prlimit() -> bool {
    std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The `limits` the dispatch's start records.
fn started_limits(repo: &Repo, id: &str) -> serde_json::Value {
    let receipts = repo.receipts(id);
    let started = receipts
        .iter()
        .find(|x| x["event_type"] == "dispatch_started");
    started.unwrap()["limits"].clone()
}

#[test]
fn a_worker_cannot_take_more_memory_than_its_limit() {
    if !has_prlimit() {
        eprintln!("skipped: prlimit (util-linux) is not installed, so no limit can hold");
        return;
    }
    let repo = Repo::new();
    let out = repo.env.dir.path().join("dd.out");
    // dd asks for a 100 MB buffer: more than the 64 MB the worker may take.
    let script = format!(
        "dd if=/dev/zero of=/dev/null bs=100M count=1 2>{err}; echo $? >{rc}\n\
         dd if=/dev/zero of=/dev/null bs=1M count=1 2>/dev/null; echo $? >>{rc}\n",
        err = out.with_extension("err").display(),
        rc = out.display()
    );
    let more = "admission:\n  worker_memory_mb: 64\n";
    let id = run_script_worker(&repo, "greedy", &script, more);
    assert_eq!(
        started_limits(&repo, &id),
        serde_json::json!({"memory_mb": 64, "enforced_by": "prlimit"})
    );
    let rc = std::fs::read_to_string(&out).unwrap();
    let err = std::fs::read_to_string(out.with_extension("err")).unwrap();
    // The 100 MB buffer is refused; 1 MB is not.
    assert_eq!(rc, "1\n0\n", "{err}");
    assert!(err.contains("memory exhausted"), "{err}");
}

/// `worker_processes` is the worker's RLIMIT_NPROC, read back from its own `/proc` (root,
/// as these tests run, is not bound by it, so the limit itself is what is checked).
#[test]
fn a_worker_runs_under_its_process_limit() {
    if !has_prlimit() {
        eprintln!("skipped: prlimit (util-linux) is not installed, so no limit can hold");
        return;
    }
    let repo = Repo::new();
    let out = repo.env.dir.path().join("limits.out");
    let script = format!(
        "grep 'Max processes' /proc/self/limits >{}\n",
        out.display()
    );
    let more = "admission:\n  worker_processes: 77\n";
    let id = run_script_worker(&repo, "counted", &script, more);
    assert_eq!(
        started_limits(&repo, &id),
        serde_json::json!({"processes": 77, "enforced_by": "prlimit"})
    );
    let line = std::fs::read_to_string(&out).unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[2..4], ["77", "77"], "soft and hard: {line}");
}
