//! A follow-up of a remote dispatch: the host continues it on the first dispatch's branch,
//! which comes back here with the follow-up's work, and the chain is gated and merged here.

use crate::common::{Remote, completion, configure, gate_check, run};

#[test]
fn a_remote_follow_up_brings_back_the_branch_it_continued() {
    let remote = Remote::new();
    let repo = &remote.repo;
    configure(
        repo,
        "gates:\n  tests: {kind: command, argv: [sh, -c, 'test -s demo-output.txt']}\n\
         roles:\n  implementer: {gates: [tests]}\n",
    );
    let r = remote.dispatch("box", "ask", &[]);
    let asked = completion(&r);
    assert_eq!(asked["status"], "needs_input", "{} {}", r.stdout, r.stderr);
    let id = asked["dispatch_id"].as_str().unwrap().to_owned();
    // A rebase brings only a local dispatch onto its base: refused before anything starts.
    let r = run(repo
        .vnx()
        .args(["follow-up", &id, "--rebase", "--instruction", "go on"]));
    assert_eq!(r.code, 2, "{} {}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "{id} ran on box: --rebase brings only a local dispatch"
        )),
        "{}",
        r.stderr
    );
    let r = run(repo
        .vnx()
        .args(["follow-up", &id, "--json", "--model", "commit"])
        .args(["--instruction", "add the demo output after all"]));
    let done = completion(&r);
    assert_eq!(done["status"], "done", "{} {}", r.stdout, r.stderr);
    assert_eq!(done["remote"]["host"], "box", "{done:#}");
    let next = done["dispatch_id"].as_str().unwrap().to_owned();
    // The follow-up worked on `dispatch/<first id>` there: that branch is here now.
    assert!(!repo.on_branch(&id, "demo-output.txt").is_empty());
    let (r, report) = gate_check(repo, &next);
    assert_eq!(r.code, 0, "{} {report:#}", r.stderr);
    let r = run(repo.vnx().args(["merge", &next]));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(repo.env.path().join("demo-output.txt").exists());
    repo.verify_ok();
}

/// `vnx status --json ID` (it catches up with the host first).
fn status(remote: &Remote, id: &str) -> serde_json::Value {
    let r = run(remote.repo.vnx().args(["status", "--json", id]));
    let list: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr));
    list[0].clone()
}

/// A host's tmux server dies under a running remote dispatch (a reboot there): the dispatch
/// reads lost here, and `vnx resume` closes it here and on its host and continues it there,
/// also when the resume was killed between its close and the rest (the rerun finishes it).
#[test]
fn a_remote_dispatch_its_host_lost_is_resumed_there_also_after_a_killed_resume() {
    let remote = Remote::new();
    let r = remote.dispatch("box", "slow", &["--detach"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    assert!(
        crate::common::wait_for(|| status(&remote, &id)["status"] == "running"),
        "{}",
        status(&remote, &id)
    );
    remote.host_tmux.0.kill_server();
    assert!(
        crate::common::wait_for(|| status(&remote, &id)["status"] == "lost"),
        "{}",
        status(&remote, &id)
    );
    // Killed right after its close here: nothing on the host yet.
    let log = tempfile::tempdir().unwrap();
    let killed = run(remote
        .repo
        .vnx()
        .env("VNX_CRASH_AT", "resume:closed")
        .env("VNX_CRASH_LOG", log.path().join("crash.log"))
        .args(["resume", &id]));
    assert_ne!(killed.code, 0, "{} {}", killed.stdout, killed.stderr);
    assert!(
        std::fs::read_to_string(log.path().join("crash.log"))
            .unwrap_or_default()
            .starts_with("resume:closed"),
        "{}",
        killed.stderr
    );
    // Doctor names the rerun; the rerun closes it on the host and continues it there.
    let doctor = run(remote.repo.vnx().args(["doctor", "--json"]));
    assert!(
        doctor.stdout.contains(&format!("`vnx resume {id}`")),
        "{}",
        doctor.stdout
    );
    let r = run(remote.repo.vnx().args(["resume", &id]));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    let host_ledger = std::fs::read_to_string(remote.host_ledger()).unwrap();
    assert!(
        host_ledger
            .lines()
            .any(|l| l.contains("\"dispatch_completed\"")
                && l.contains(&id)
                && l.contains("closed_for_resume")),
        "the host did not close {id}"
    );
    let next = remote
        .lines()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| {
            v["event_type"] == "dispatch_started" && v["continues"]["dispatch_id"] == id.as_str()
        })
        .map(|v| v["dispatch_id"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no follow-up of {id} here: {}", r.stderr));
    let s = status(&remote, &next);
    assert_eq!(s["status"], "running", "{s:#}");
    assert_eq!(s["host"], "box", "{s:#}");
    assert_eq!(run(remote.repo.vnx().args(["cancel", &next])).code, 0);
    remote.repo.verify_ok();
}
