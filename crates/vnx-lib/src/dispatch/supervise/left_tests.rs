//! Tests of finding and stopping the processes a worker left running, on real processes.
#![expect(
    clippy::disallowed_methods,
    reason = "the tests start the processes a worker would leave, from outside vnx's Cmd"
)]

use std::process::{Child, Command, Stdio};

use super::*;

/// A `sh -c script` carrying the marks of dispatch `id` (the seal too when `sealed`).
fn spawn(id: &str, sealed: bool, script: &str) -> Child {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script])
        .env("VNX_DISPATCH_ID", id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if sealed {
        cmd.env(crate::dispatch::supervise::signals::SEAL_VAR, "s");
    }
    cmd.spawn().unwrap()
}

/// Waits (at most 10 s) until `test` holds.
fn until(test: impl Fn() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if test() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn stat_is_read_past_a_command_with_parentheses_and_spaces() {
    let text = "42 (a) b (c) S 7 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
    let s = parse_stat(text).unwrap();
    assert_eq!((s.ppid, s.start, s.gone), (7, 987_654, false));
    let zombie = "9 (x) Z 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0";
    assert!(parse_stat(zombie).unwrap().gone);
    assert!(parse_stat("9 (x").is_none());
}

#[test]
fn the_marks_need_the_dispatch_id_and_the_seal() {
    let marks = Marks::of("D-7");
    let seal = crate::dispatch::supervise::signals::SEAL_VAR;
    let env = |entries: &[String]| entries.join("\0").into_bytes();
    assert!(marks.carried_by(&env(&[
        "A=1".into(),
        format!("{seal}=x"),
        "VNX_DISPATCH_ID=D-7".into()
    ])));
    // Setup's commands: the id without the seal.
    assert!(!marks.carried_by(&env(&["VNX_DISPATCH_ID=D-7".into()])));
    // Another dispatch, or an id that only starts the same.
    assert!(!marks.carried_by(&env(&[format!("{seal}=x"), "VNX_DISPATCH_ID=D-70".into()])));
}

#[test]
fn a_command_line_is_escaped_and_cut() {
    assert_eq!(
        command_line(b"sh\0-c\0sleep 3\x1b[2J\0"),
        "sh -c sleep 3\\u{1b}[2J"
    );
    let long = vec![b'a'; 1000];
    assert!(command_line(&long).chars().count() <= BackgroundTask::MAX_TEXT);
}

#[test]
fn what_a_worker_left_is_found_but_the_clis_tree_and_unmarked_processes_are_not() {
    let id = format!("D-left{}", std::process::id());
    let marks = Marks::of(&id);
    let mut left = spawn(&id, true, "exec sleep 30");
    let mut setup = spawn(&id, false, "sleep 30");
    // A CLI whose own child runs: its tree, not left behind.
    let mut cli = spawn(&id, true, "sleep 30 & wait");
    let pids = |found: &[LeftProcess]| found.iter().map(|p| p.id.pid).collect::<Vec<_>>();
    assert!(
        until(|| find(&marks, None).len() >= 3),
        "{:?}",
        find(&marks, None)
    );
    let found = find(&marks, Some(cli.id()));
    assert_eq!(pids(&found), vec![left.id()], "{found:?}");
    assert!(found[0].command.contains("sleep 30"), "{found:?}");
    assert_eq!(found[0].task().kind, KIND);
    // A shell and the command it runs: one task, the shell's.
    let shell = find(&marks, None);
    let (listed, more) = tasks(&shell);
    assert_eq!(more, 0);
    assert!(
        listed.iter().any(|t| t.what == "sh -c sleep 30 & wait") && listed.len() + 1 == shell.len(),
        "{listed:?} of {shell:?}"
    );
    // Without the CLI: the CLI and its child too, never the one without the seal.
    let all = pids(&find(&marks, None));
    assert!(
        all.contains(&cli.id()) && !all.contains(&setup.id()),
        "{all:?}"
    );

    let stopped = stop_all(&marks, None, Duration::from_secs(2));
    assert!(stopped.len() >= 3, "{stopped:?}");
    assert!(left.wait().is_ok() && cli.wait().is_ok());
    assert!(until(|| find(&marks, None).is_empty()));
    // The unmarked one is not the worker's, and runs on.
    assert!(setup.try_wait().unwrap().is_none());
    let _ = setup.kill();
    let _ = setup.wait();
}

#[test]
fn a_marked_process_older_than_the_workers_cli_is_never_looked_at() {
    let id = format!("D-older{}", std::process::id());
    let mut older = spawn(&id, true, "exec sleep 30");
    assert!(until(|| start_of(older.id()).is_some()));
    // Clock ticks are 10 ms: the CLI starts in a later one.
    std::thread::sleep(Duration::from_millis(50));
    let mut cli = spawn(&id, true, "exec sleep 30");
    assert!(until(|| start_of(cli.id()).is_some()));
    let mut left = spawn(&id, true, "exec sleep 30");
    let marks = Marks::of_worker(&id, cli.id());
    let pids = |found: Vec<LeftProcess>| found.iter().map(|p| p.id.pid).collect::<Vec<_>>();
    assert!(until(
        || pids(find(&marks, Some(cli.id()))) == vec![left.id()]
    ));
    // Without the start time, the older one carries the marks too.
    let all = pids(find(&Marks::of(&id), Some(cli.id())));
    assert!(
        all.contains(&older.id()) && all.contains(&left.id()),
        "{all:?}"
    );
    for child in [&mut older, &mut cli, &mut left] {
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[test]
fn a_process_whose_pid_was_reused_is_never_signalled() {
    let id = format!("D-reuse{}", std::process::id());
    let mut child = spawn(&id, true, "sleep 30");
    let pid = child.id();
    assert!(until(|| start_of(pid).is_some()));
    let start = start_of(pid).unwrap();
    // The process recorded earlier had this pid and another start time: the one running
    // now is not it.
    let earlier = LeftProcess {
        id: ProcessId {
            pid,
            start: start.saturating_sub(1),
        },
        parent: 1,
        command: "sleep 30".into(),
    };
    assert!(!runs(earlier.id));
    assert!(stop(&[earlier], Duration::ZERO).is_empty());
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process was signalled"
    );
    // The same process, named right, is stopped.
    let now = LeftProcess {
        id: ProcessId { pid, start },
        parent: 1,
        command: "sleep 30".into(),
    };
    assert_eq!(stop(&[now], Duration::from_secs(2)).len(), 1);
    assert!(child.wait().is_ok());
    assert!(!runs(ProcessId { pid, start }));
}

#[test]
fn in_a_sandbox_what_the_cli_orphaned_is_left_and_the_namespace_is_not_looked_into() {
    let bwrap = std::path::Path::new("/usr/bin/bwrap");
    assert!(bwrap.exists(), "needs bubblewrap (bin/test installs it)");
    let id = format!("D-ns{}", std::process::id());
    let marks = Marks::of(&id);
    // The CLI (the namespace's pid 2, `sleep 32`) and what it orphaned there (`sleep 31`,
    // reparented to bwrap's init), as the sandbox starts a worker.
    let mut cmd = Command::new(bwrap);
    cmd.args(["--die-with-parent", "--unshare-pid", "--dev-bind", "/", "/"])
        .args(["--proc", "/proc", "--", "sh", "-c"])
        .arg("(exec sleep 31 &); exec sleep 32")
        .env("VNX_DISPATCH_ID", &id)
        .env(crate::dispatch::supervise::signals::SEAL_VAR, "s")
        .stdin(Stdio::null());
    let mut leader = cmd.spawn().unwrap();
    let orphan = || {
        let found = find(&marks, Some(leader.id()));
        found.iter().any(|p| p.command == "sleep 31") && found.len() == 1
    };
    assert!(until(orphan), "{:?}", find(&marks, Some(leader.id())));
    assert_eq!(orphaned(&marks, leader.id()).len(), 1);
    // Without the CLI: only what runs in this namespace (bwrap itself), nothing inside.
    let outside = find(&marks, None);
    assert!(
        outside
            .iter()
            .all(|p| p.command.starts_with("/usr/bin/bwrap")),
        "{outside:?}"
    );
    let _ = leader.kill();
    let _ = leader.wait();
    // bwrap's init died with it, and the kernel ended the namespace.
    assert!(until(|| orphaned(&marks, leader.id()).is_empty()));
}
