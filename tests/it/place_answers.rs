//! A blocked worker's prompt answered for a dispatch that runs in a place (issue 69): `vnx
//! approve` of a dispatch on an ssh host, in a container and in a pod is given there by the
//! place's own vnx and recorded here (who decided, first), and the dispatch goes on to done.
//! The container and pod run the stand-in CLIs in an image of the worker image with them
//! (`#[ignore]`d: podman and mmdebstrap, which `bin/test --all` installs).

use crate::common::container::fakes_image;
use crate::common::{Fakes, Remote, Repo, configure, run, wait_for};

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
    blocked_on(&repo, "box", id);
    approved_there_and_done(&repo, id);
    crate::common::container::remove_volume(&crate::common::container::container_of(id));
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
    blocked_on(&repo, "cluster", id);
    approved_there_and_done(&repo, id);
}
