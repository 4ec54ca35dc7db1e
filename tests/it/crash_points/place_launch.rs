//! A dispatch's launch on an ssh host (and, with podman, in a container of its own) killed at
//! each step: the place made, the record kept, the place's start made. Whatever the step, the
//! next reading command finishes the launch: a dispatch the place started is seen here (its
//! start caught up with) and reaches its end; one it never started is undone, record, pushed
//! base and the place made for it removed; nothing is left for `vnx doctor` to name, nor a
//! dispatch that runs where vnx cannot see it.

use super::{Doctor, Kill, settled_or_absent, steps_of};
use crate::common::{Remote, Repo};

/// After a kill at `step` of dispatch `id`'s launch on `host` of `repo`: the reading command
/// finishes it, as `status` and `show` see it.
fn finished(repo: &Repo, id: &str, step: vnx::steps::Step) {
    let state = settled_or_absent(repo, id);
    let record = repo
        .env
        .path()
        .join(format!(".vnx-data/remote/dispatches/{id}.json"));
    if step == vnx::steps::place_launch::STARTED_THERE {
        // Started there: seen here, to its end.
        let state = state.unwrap_or_else(|| panic!("{step}: {id} is not in vnx status"));
        assert_eq!(state["status"], "done", "{step}: {state:#}");
        let show = crate::common::run(repo.vnx().args(["show", id]));
        assert_eq!(show.code, 0, "{step}: {}{}", show.stdout, show.stderr);
    } else {
        // Never started there: undone, nothing of it left here.
        assert!(state.is_none(), "{step}: {state:?}");
        assert!(!record.exists(), "{step}: its record is left");
    }
    let launching = repo.env.path().join(".vnx-data/remote/launching");
    let left: Vec<_> = std::fs::read_dir(&launching)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{step}: launching files left: {left:?}");
}

/// The ledger verifies (when a kill left none, nothing is missing from it).
fn verified(repo: &Repo, step: vnx::steps::Step) {
    let r = crate::common::run(
        repo.vnx()
            .args(["audit-chain", "verify", "--allow-missing"]),
    );
    assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
}

#[test]
fn a_launch_on_a_host_killed_at_any_step_is_finished_by_the_next_reading_command() {
    for step in steps_of("place_launch") {
        let remote = Remote::new();
        let doctor = Doctor::before(&remote.repo);
        let kill = Kill::at(&remote.repo, step);
        let id = "D-e0e1e2e3e4e5";
        kill.run_killed(remote.dispatch_cmd("box", "commit", &["--detach", "--id", id]));
        kill.check_ledger(&remote.repo);
        finished(&remote.repo, id, step);
        doctor.settle(&remote.repo, step);
        verified(&remote.repo, step);
    }
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_launch_in_a_container_killed_at_any_step_is_finished_by_the_next_reading_command() {
    use crate::common::container::{FreshPlace, container_of, exists, repo_with_container_host};
    for step in steps_of("place_launch") {
        let repo = repo_with_container_host();
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let id = "D-f0f1f2f3f4f5";
        let _fresh = FreshPlace::named(container_of(id));
        let mut cmd = repo.dispatch_cmd("commit");
        cmd.args(["--host", "box", "--detach", "--id", id])
            .args(["--instruction", "add the demo output"]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        finished(&repo, id, step);
        let name = container_of(id);
        if step != vnx::steps::place_launch::STARTED_THERE {
            assert!(!exists("volume", &name), "{step}: its volume is left");
            assert!(!exists("container", &name), "{step}: its container is left");
        }
        doctor.settle(&repo, step);
        verified(&repo, step);
    }
}
