//! A worker runs in the environment of the command that dispatched it, not in that of vnx's
//! tmux server (shared by every project and shell of the user, and as old as the server): a
//! variable the dispatcher set is the worker's, one it unset does not come back from the
//! server, and the hand-over leaves no file behind. `dispatch_started` records the names.

use std::os::unix::fs::PermissionsExt;

use crate::common::{Repo, completion, configure, run};

#[test]
fn a_worker_sees_its_dispatchers_environment_not_the_tmux_servers() {
    let repo = Repo::new();
    let seen = repo.env.home().join("seen");
    let bin = repo.env.path().join("printenv.sh");
    std::fs::write(
        &bin,
        format!(
            "#!/bin/sh\necho \"$MYVAR ${{STALE-unset}}\" > '{}'\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        &repo,
        &format!(
            "providers:\n  printer:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n",
            bin.display()
        ),
    );
    // The server was started earlier, from another shell, with other values.
    let started = std::process::Command::new("tmux")
        .args([
            "-L",
            repo.server.0.socket(),
            "new-session",
            "-d",
            "-s",
            "old",
        ])
        .args(["sleep", "300"])
        .env("MYVAR", "old")
        .env("STALE", "x")
        .status()
        .unwrap();
    assert!(started.success());
    let mut cmd = repo.vnx();
    cmd.env("MYVAR", "new").env_remove("STALE").args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "printer",
        "--instruction",
        "print",
        "--json",
    ]);
    let r = run(cmd);
    let c = completion(&r);
    let id = c["dispatch_id"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap(),
        "new unset\n",
        "{}",
        r.stderr
    );
    let dir = repo.env.path().join(".vnx-data/dispatches").join(id);
    assert!(!dir.join("env").exists(), "the hand-over file was removed");
    let start = &repo.receipts(id)[0];
    let names: Vec<&str> = start["environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"MYVAR") && !names.contains(&"STALE"),
        "{names:?}"
    );
    assert!(
        !start.to_string().contains("\"new\""),
        "values are never recorded"
    );
}

/// A queued dispatch is started later by whichever command drains the queue; it still runs
/// in the environment of the command that asked for it.
#[test]
fn a_queued_dispatch_runs_in_the_environment_it_was_asked_for_in() {
    let repo = Repo::new();
    let seen = repo.env.home();
    let bin = repo.env.path().join("printenv.sh");
    std::fs::write(
        &bin,
        format!(
            // Each worker holds its slot until the test says go (at most a minute), so the
            // second is queued however slowly the first dispatching command ends.
            "#!/bin/sh\ni=0\nwhile [ ! -e '{0}/go' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n\
             echo \"$MYVAR\" > '{0}/seen-'\"$VNX_DISPATCH_ID\"\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        &repo,
        &format!(
            "providers:\n  printer:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\nconcurrency:\n  printer: 1\n",
            bin.display()
        ),
    );
    let dispatch = |value: &str, id: &str| {
        let mut cmd = repo.vnx();
        cmd.env("MYVAR", value).args([
            "dispatch-agent",
            "--agent",
            "implementer",
            "--provider",
            "printer",
            "--instruction",
            "print",
            "--detach",
            "--id",
            id,
        ]);
        let r = run(cmd);
        assert_eq!(r.code, 0, "{}", r.stderr);
    };
    dispatch("first", "D-00000000e001");
    dispatch("second", "D-00000000e002");
    let queued = repo.env.path().join(".vnx-data/queue/D-00000000e002.env");
    assert!(
        queued.is_file(),
        "the second waits in the queue with its environment"
    );
    std::fs::write(seen.join("go"), "").unwrap();
    let mut wait = repo.vnx();
    wait.env("MYVAR", "drainer")
        .args(["wait", "D-00000000e001", "D-00000000e002"]);
    run(wait);
    let read = |id: &str| std::fs::read_to_string(seen.join(format!("seen-{id}"))).unwrap();
    assert_eq!(read("D-00000000e001"), "first\n");
    assert_eq!(read("D-00000000e002"), "second\n");
    assert!(!queued.exists());
}
