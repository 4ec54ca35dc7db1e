//! A blocked worker's prompt answered for a dispatch that runs in a place (issue 69): `vnx
//! approve` of a dispatch on an ssh host, in a container and in a pod is given there by the
//! place's own vnx and recorded here (who decided, first), and the dispatch goes on to done.
//! A merge keeps a container's volume while a follow-up's work is only there, and `vnx accept`
//! brings that work here, from an ssh host and a pod as from a container.
//! The container and pod run the stand-in CLIs in an image of the worker image with them
//! (`#[ignore]`d: podman and mmdebstrap, which `bin/test --all` installs).

use crate::common::container::{
    FreshPlace, container_of, exists, fakes_image, remove_volume, repo_with_container_host,
};
use crate::common::{Fakes, Remote, Repo, completion, configure, gate_check, run, wait_for};

/// What the stand-in claude does in its TUI: it asks before `git commit`, then reports.
const ASKING: &str =
    "@fake write a.txt hi\n@fake commit add a\n@fake run vnx report --status done --summary a";

#[test]
fn a_prompt_of_a_dispatch_on_a_host_is_answered_there_and_recorded_here() {
    let fakes = Fakes::new();
    let path = fakes.path().into_string().expect("PATH is UTF-8");
    let logs = fakes.log_dir().display().to_string();
    let remote =
        Remote::with_login(|_, _| vec![("PATH".into(), path), ("VNX_FAKE_LOG_DIR".into(), logs)]);
    let id = "D-b0b1b2b3b4b5";
    blocked_on(&remote.repo, "box", id);
    approved_there_and_done(&remote.repo, id);
}

/// `vnx approve` of blocked dispatch `id` of `repo`, given by its place: both receipts here,
/// and the dispatch done.
fn approved_there_and_done(repo: &Repo, id: &str) {
    let r = run(repo.vnx().args(["approve", id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("by its place's vnx, where it runs"),
        "{}",
        r.stdout
    );
    let ledger = std::fs::read_to_string(crate::common::ledger_path(repo)).unwrap();
    let events: Vec<serde_json::Value> = (ledger.lines())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["dispatch_id"] == id)
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|v| v["event_type"].as_str())
        .filter(|e| e.starts_with("dispatch_answer"))
        .collect();
    assert_eq!(kinds, ["dispatch_answering", "dispatch_answered"]);
    let answered = events
        .iter()
        .find(|v| v["event_type"] == "dispatch_answered")
        .unwrap();
    assert_eq!(answered["via"], "place", "{answered:#}");
    let done = run(repo.vnx().args(["wait", id, "--json"]));
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert!(done.stdout.contains("\"done\""), "{}", done.stdout);
    repo.verify_ok();
}

/// Starts the asking stand-in claude as dispatch `id` on `host` of `repo`, detached, and
/// waits until it blocks.
fn blocked_on(repo: &Repo, host: &str, id: &str) {
    let r = run(repo
        .vnx()
        .args(["run", "--agent", "implementer", "--provider", "claude"])
        .args(["--lane", "interactive", "--deadline", "120", "--detach"])
        .args(["--host", host, "--id", id, ASKING]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let blocked = || {
        let s = run(repo.vnx().args(["status", id, "--json"]));
        s.stdout.contains("\"blocked\"")
    };
    assert!(wait_for(blocked), "{id} blocks on {host}");
}

/// A repository with one place kind, `hosts_yaml`, whose workers run in the stand-ins' image.
fn repo_with(hosts_yaml: &str) -> Repo {
    let repo = Repo::new();
    repo.env.git(&["config", "user.name", "t"]);
    repo.env.git(&["config", "user.email", "t@example.com"]);
    configure(
        &repo,
        &format!("{hosts_yaml}roles:\n  implementer: {{gates: []}}\n"),
    );
    repo
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_prompt_of_a_dispatch_in_a_container_is_answered_there_and_recorded_here() {
    let image = fakes_image();
    let repo = repo_with(&format!(
        "hosts:\n  box:\n    container: {{image: \"{image}\"}}\n    capacity: 2\n"
    ));
    let id = "D-c0c1c2c3c4c5";
    let _fresh = FreshPlace::named(container_of(id));
    blocked_on(&repo, "box", id);
    approved_there_and_done(&repo, id);
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_prompt_of_a_dispatch_in_a_pod_is_answered_there_and_recorded_here() {
    let image = fakes_image();
    let repo = repo_with(&format!(
        "hosts:\n  cluster:\n    kubernetes:\n      kubectl: {}\n      namespace: agents\n      \
         image: \"{image}\"\n    capacity: 2\n",
        crate::kubernetes_place::STAND_IN
    ));
    let id = "D-d0d1d2d3d4d5";
    // Its claim (kept for a follow-up until a merge) goes, so the id is free for a rerun.
    let _fresh = FreshPlace::named(crate::kubernetes_place::object_of(id));
    blocked_on(&repo, "cluster", id);
    approved_there_and_done(&repo, id);
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_merge_keeps_the_volume_while_a_follow_up_left_work_only_there_until_it_is_accepted() {
    let repo = repo_with_container_host();
    let r = repo.dispatch(
        "commit",
        &["--host", "box", "--instruction", "add the demo output"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let name = container_of(&id);
    // A follow-up leaves its work uncommitted, on the volume only.
    let f = run(repo.vnx().args([
        "follow-up",
        &id,
        "--json",
        "--model",
        "fail",
        "--instruction",
        "more, left uncommitted",
    ]));
    let follow = completion(&f);
    let follow_id = follow["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(follow["teardown_class"], "dirty", "{follow:#}");
    // Merging the first dispatch keeps the place, and says whose work keeps it.
    let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{} {report:#}", r.stderr);
    let merged = run(repo.vnx().args(["merge", &id]));
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
    assert!(
        merged.stderr.contains(&format!(
            "kept box.{id}: the work of {follow_id} is only there"
        )),
        "{}",
        merged.stderr
    );
    assert!(exists("volume", &name), "volume {name} was removed");
    // Accepted, the follow-up's work comes here (committed in its place by its vnx), and its
    // merge removes the place.
    let a = run(repo.vnx().args(["accept", &follow_id, "--json"]));
    assert_eq!(a.code, 0, "{}{}", a.stdout, a.stderr);
    let accepted: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    assert_ne!(
        accepted["head_commit"], follow["head_commit"],
        "{accepted:#}"
    );
    let (r, report) = gate_check(&repo, &follow_id);
    assert_eq!(r.code, 0, "{} {report:#}", r.stderr);
    let merged = run(repo.vnx().args(["merge", &follow_id]));
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
    assert!(
        merged
            .stderr
            .contains(&format!("removed box.{id}: its work is merged")),
        "{}",
        merged.stderr
    );
    assert!(!exists("volume", &name), "volume {name} still exists");
}

/// `vnx accept` of a dispatch of `repo` that failed on `host` with its work left uncommitted
/// there: its place's vnx commits it, its branch comes here with the work, and the dispatch
/// reads done; its id.
fn left_work_is_accepted_from(repo: &Repo, host: &str) -> String {
    let r = run(repo.dispatch_cmd("fail").args([
        "--json",
        "--host",
        host,
        "--instruction",
        "half done",
    ]));
    let failed = completion(&r);
    let id = failed["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert_eq!(failed["teardown_class"], "dirty", "{failed:#}");
    let a = run(repo.vnx().args(["accept", &id, "--json"]));
    assert_eq!(a.code, 0, "{}{}", a.stdout, a.stderr);
    let accepted: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    assert_ne!(
        accepted["head_commit"], failed["head_commit"],
        "{accepted:#}"
    );
    assert!(!repo.on_branch(&id, "demo-output.txt").is_empty());
    let s = run(repo.vnx().args(["status", &id, "--json"]));
    assert!(s.stdout.contains("\"done\""), "{}", s.stdout);
    repo.verify_ok();
    id
}

#[test]
fn work_left_on_a_host_is_accepted_from_there() {
    let remote = Remote::new();
    left_work_is_accepted_from(&remote.repo, "box");
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn work_left_in_a_pod_is_accepted_from_there() {
    let image = crate::common::container::worker_image();
    let repo = repo_with(&format!(
        "hosts:\n  cluster:\n    kubernetes:\n      kubectl: {}\n      namespace: agents\n      \
         image: \"{image}\"\n    capacity: 2\n",
        crate::kubernetes_place::STAND_IN
    ));
    let id = left_work_is_accepted_from(&repo, "cluster");
    remove_volume(&crate::kubernetes_place::object_of(&id));
}
