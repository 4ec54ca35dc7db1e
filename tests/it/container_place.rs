//! A container per dispatch (`hosts: {box: {container: …}}`), for real with podman and the
//! worker image built offline: a demo dispatch made in a fresh container, its branch and
//! receipts brought back and verified, its container and volume removed once its work is
//! here; a container killed mid-dispatch is `lost` at once, its volume (its work) kept, and
//! `resume` continues it in a new container on that volume, removed when that ends;
//! `doctor --host` checks the image in a container made for it. Needs podman and mmdebstrap,
//! so `#[ignore]`d; `bin/test --all` installs them and runs it.

use std::process::Command;

use crate::common::container::{container_of, exists, worker_image};
use crate::common::{Repo, completion, configure, run};

/// A repository whose `.vnx/config.yaml` declares the container host `box`.
fn repo_with_container_host() -> Repo {
    let image = worker_image();
    let repo = Repo::new();
    // The identity the container's clone commits with is the project's git config's.
    repo.env.git(&["config", "user.name", "t"]);
    repo.env.git(&["config", "user.email", "t@example.com"]);
    configure(
        &repo,
        &format!("hosts:\n  box:\n    container: {{image: \"{image}\"}}\n    capacity: 2\n"),
    );
    repo
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_demo_dispatch_runs_in_a_container_of_its_own_and_comes_back() {
    let repo = repo_with_container_host();
    let doctor = run(repo.vnx().args(["doctor", "--host", "box"]));
    assert_eq!(doctor.code, 0, "{}{}", doctor.stdout, doctor.stderr);
    for check in [
        "PASS  engine",
        "PASS  exec",
        "PASS  clone",
        "PASS  vnx",
        "PASS  git",
        "PASS  tmux",
    ] {
        assert!(doctor.stdout.contains(check), "{check}: {}", doctor.stdout);
    }
    let r = repo.dispatch(
        "commit",
        &["--host", "box", "--instruction", "add the demo output"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let done = completion(&r);
    let id = done["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(done["status"], "done", "{done:#}");
    assert_eq!(done["remote"]["host"], format!("box.{id}"), "{done:#}");
    // Its branch came back; the ledger, with the container's lines mirrored, verifies.
    assert!(!repo.on_branch(&id, "demo-output.txt").is_empty());
    repo.verify_ok();
    // Its work is here: the container and its volume are gone.
    let name = container_of(&id);
    assert!(!exists("container", &name), "{name} still exists");
    assert!(!exists("volume", &name), "volume {name} still exists");
    let status = run(repo.vnx().args(["status", &id, "--json"]));
    let list: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(list[0]["status"], "done", "{list:#}");
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_killed_container_is_lost_at_once_and_resumed_on_its_volume() {
    let repo = repo_with_container_host();
    let r = repo.dispatch(
        "slow",
        &[
            "--host",
            "box",
            "--detach",
            "--instruction",
            "take your time",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let started: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let id = started["dispatch_id"].as_str().unwrap().to_owned();
    let name = container_of(&id);
    assert!(exists("container", &name));
    let killed = Command::new("podman")
        .args(["kill", &name])
        .output()
        .unwrap();
    assert!(
        killed.status.success(),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let t0 = std::time::Instant::now();
    let w = run(repo.vnx().args(["wait", &id, "--json"]));
    assert_ne!(w.code, 0, "{}{}", w.stdout, w.stderr);
    assert!(w.stdout.contains("lost"), "{}{}", w.stdout, w.stderr);
    // Known as soon as the engine says so, not after the host's lost_after_seconds (3600).
    assert!(t0.elapsed().as_secs() < 120, "{:?}", t0.elapsed());
    assert!(
        exists("volume", &name),
        "its volume, and so its work, is kept"
    );
    assert!(
        repo.events("remote_lost")
            .iter()
            .any(|e| e["dispatch_id"] == id.as_str())
    );
    // `resume` continues it in a new container on the same volume: the follow-up runs there.
    let resumed = run(repo.vnx().args(["resume", &id]));
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    let state = Command::new("podman")
        .args([
            "container",
            "inspect",
            "--format",
            "{{.State.Status}}",
            &name,
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "running");
    let list = run(repo.vnx().args(["status", "--all", "--json"]));
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let follow = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["continues"] == id.as_str())
        .unwrap_or_else(|| panic!("no follow-up of {id}: {list:#}"));
    assert_eq!(follow["host"], format!("box.{id}"), "{follow:#}");
    assert_eq!(follow["status"], "running", "{follow:#}");
    // Its end, caught up with here, removes the place at last.
    let follow_id = follow["dispatch_id"].as_str().unwrap();
    let cancelled = run(repo.vnx().args(["cancel", follow_id]));
    assert_eq!(
        cancelled.code, 0,
        "{}{}",
        cancelled.stdout, cancelled.stderr
    );
    assert!(!exists("container", &name), "{name} still exists");
    assert!(!exists("volume", &name), "volume {name} still exists");
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_container_that_cannot_start_leaves_nothing_behind() {
    let repo = Repo::new();
    configure(
        &repo,
        "hosts:\n  box:\n    container: {image: \"localhost/vnx-no-such-image:test\"}\n",
    );
    let doctor = run(repo.vnx().args(["doctor", "--host", "box"]));
    assert_eq!(doctor.code, 1, "{}{}", doctor.stdout, doctor.stderr);
    assert!(doctor.stdout.contains("FAIL  engine"), "{}", doctor.stdout);
    let r = repo.dispatch(
        "commit",
        &[
            "--host",
            "box",
            "--id",
            "D-0c0c0c0c0c0c",
            "--instruction",
            "x",
        ],
    );
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("podman run"), "{}", r.stderr);
    let name = container_of("D-0c0c0c0c0c0c");
    assert!(!exists("container", &name), "{name} was left");
    assert!(!exists("volume", &name), "volume {name} was left");
    // Nothing recorded either: the id is free.
    let ledger = repo.env.path().join(".vnx-data/state/t0_receipts.ndjson");
    assert!(!ledger.exists() || repo.receipts("D-0c0c0c0c0c0c").is_empty());
}
