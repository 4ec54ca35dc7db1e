//! A container a person pauses (`podman pause`) is waited for as an unreachable host is: its
//! dispatch is not lost at once, keeps its slot, and goes on once let go (issue 69). Needs
//! podman and mmdebstrap, so `#[ignore]`d; `bin/test --all` installs them and runs it.

use std::process::Command;

use crate::common::container::{container_of, remove_volume, repo_with_container_host};
use crate::common::run;
use crate::container_place::slow_on;

fn podman(args: &[&str]) {
    let out = Command::new("podman").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_paused_container_is_waited_for_not_lost() {
    let repo = repo_with_container_host();
    let id = slow_on(&repo, "box");
    let name = container_of(&id);
    podman(&["pause", &name]);
    let s = run(repo.vnx().args(["status", &id, "--json"]));
    let state: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(state[0]["status"], "running", "{state:#} {}", s.stderr);
    assert!(s.stderr.contains("paused"), "{}", s.stderr);
    assert!(repo.events("remote_lost").is_empty(), "lost while paused");
    // Let go, it is answered again and can be cancelled as any running dispatch.
    podman(&["unpause", &name]);
    let s = run(repo.vnx().args(["status", &id, "--json"]));
    let state: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(state[0]["status"], "running", "{state:#} {}", s.stderr);
    let c = run(repo.vnx().args(["cancel", &id]));
    assert_eq!(c.code, 0, "{}{}", c.stdout, c.stderr);
    assert!(repo.events("remote_lost").is_empty());
    remove_volume(&name);
}
