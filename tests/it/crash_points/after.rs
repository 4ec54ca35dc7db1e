//! A dependency's supervisor killed right after its completion is on the ledger, before it
//! drains the queue (`conclude:completed_appended`): the dispatch waiting for it (`--after`)
//! has not started, and the next command that reads dispatch state starts it from the
//! dependency's head, as the dead supervisor would have.

use super::Kill;
use crate::common::{Repo, run};

#[test]
fn a_dependent_left_by_a_killed_supervisor_is_started_by_the_next_command() {
    let repo = Repo::new();
    let go = repo.env.path().join("go");
    let kill = Kill::at(&repo, vnx::steps::conclude::COMPLETED_APPENDED);
    let dep = "D-00000af1";
    let mut cmd = repo.dispatch_cmd("commit");
    cmd.args(["--instruction", "first", "--detach", "--id", dep])
        .env("VNX_DEMO_GO", &go);
    let r = run(kill.arm(cmd));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let mut cmd = repo.dispatch_cmd("commit");
    cmd.args([
        "--instruction",
        "second",
        "--detach",
        "--json",
        "--after",
        dep,
    ])
    .env("VNX_DEMO_OUTPUT", "second.txt");
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let queued: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(queued["state"], "queued", "{queued}");
    let dependent = queued["dispatch_id"].as_str().unwrap().to_owned();
    std::fs::write(&go, "").unwrap();
    kill.wait_reached();
    kill.check_ledger(&repo);
    let started = |repo: &Repo| {
        (repo.events("dispatch_started").iter()).any(|r| r["dispatch_id"] == *dependent)
    };
    assert!(!started(&repo), "nothing drained the queue after the kill");
    // The rerun: any command that reads dispatch state.
    let r = run(repo.vnx().args(["status"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(started(&repo), "{}{}", r.stdout, r.stderr);
    let w = run(repo.vnx().args(["wait", &dependent, "--timeout", "120"]));
    assert_eq!(w.code, 0, "{}{}", w.stdout, w.stderr);
    let head = (repo.receipts(dep).into_iter())
        .rfind(|r| r["event_type"] == "dispatch_completed")
        .unwrap()["head_commit"]
        .clone();
    let start = (repo.receipts(&dependent).into_iter())
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap();
    assert_eq!(start["base_commit"], head, "{start:#}");
    repo.verify_ok();
}
