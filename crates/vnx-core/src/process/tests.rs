//! Unit tests of the one spawn site: ids across pid namespaces, groups, timeouts, stdin.

use super::*;

#[test]
fn ids_outside_the_pid_namespace_are_none() {
    assert_eq!(visible(0), None);
    assert_eq!(visible(-1), None);
    assert_eq!(visible(42), Some(42));
    // Reading never panics, whatever namespace the test runs in; the doctor tests run the
    // stand-ins in a namespace whose session is outside it.
    let _ = ProcessIds::read();
}

#[test]
fn git_redirecting_variables_are_removed_and_prompts_disabled() {
    let cmd = Cmd::new("git").env("EXTRA", "1").command();
    let envs: Vec<(String, Option<String>)> = cmd
        .get_envs()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.map(|v| v.to_string_lossy().into_owned()),
            )
        })
        .collect();
    for var in GIT_REDIRECT_VARS {
        assert!(
            envs.contains(&((*var).to_owned(), None)),
            "{var} is not removed"
        );
    }
    assert!(envs.contains(&("GIT_TERMINAL_PROMPT".into(), Some("0".into()))));
    assert!(envs.contains(&("EXTRA".into(), Some("1".into()))));
}

#[test]
fn a_command_run_in_a_directory_has_it_as_its_pwd() {
    let dir = tempfile::tempdir().unwrap();
    // With a cleared environment, and with the PWD this process has (another directory).
    let out = run_ok(&Cmd::new("env").cwd(dir.path()).env_clear()).unwrap();
    assert!(
        out.lines()
            .any(|l| l == format!("PWD={}", dir.path().display())),
        "{out}"
    );
    let inherited = run_ok(&Cmd::new("env").cwd(dir.path())).unwrap();
    assert!(
        inherited
            .lines()
            .any(|l| l == format!("PWD={}", dir.path().display())),
        "{inherited}"
    );
}

#[test]
fn run_captures_output_and_reports_failures_by_command() {
    let out = run(&Cmd::new("sh").args(["-c", "echo out; echo err >&2; exit 3"])).unwrap();
    assert_eq!(out.text(), "out");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    assert_eq!(out.status.code(), Some(3));
    let err = run_ok(&Cmd::new("sh").args(["-c", "echo nope >&2; exit 1"])).unwrap_err();
    assert!(
        err.to_string()
            .contains("`sh -c echo nope >&2; exit 1` failed"),
        "{err}"
    );
    assert!(err.to_string().ends_with(": nope"), "{err}");
    let err = run(&Cmd::new("vnx-no-such-program")).unwrap_err();
    assert!(matches!(err, ProcessError::NotFound { .. }), "{err}");
}

#[test]
fn a_program_busy_being_written_is_tried_again() {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("tool");
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o755)
        .open(&tool)
        .unwrap();
    writer.write_all(b"#!/bin/sh\necho written\n").unwrap();
    // While this process holds it open for writing, exec says ETXTBSY; the writer lets go
    // shortly, as a forked child that has not yet exec'd does.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(60));
        drop(writer);
    });
    let out = run(&Cmd::new(&tool)).unwrap();
    release.join().unwrap();
    assert_eq!(out.text(), "written");
}

#[test]
fn timeouts_kill_the_whole_group() {
    let started = Instant::now();
    // The shell's child sleeps too; the group kill takes both.
    let err = run(&Cmd::new("sh")
        .args(["-c", "sleep 30 & sleep 30"])
        .timeout(Duration::from_millis(200)))
    .unwrap_err();
    assert!(matches!(err, ProcessError::TimedOut { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn stop_escalates_to_kill_for_a_group_that_ignores_term() {
    let cmd = Cmd::new("sh").args(["-c", "trap '' TERM; sleep 30 & wait"]);
    let mut group = Group::spawn(&cmd, |c| {
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let pgid = group.pid() as i32;
    let stopped = group.stop(Duration::from_millis(200)).unwrap();
    assert!(matches!(stopped, Stopped::Killed(_)), "{stopped:?}");
    std::thread::sleep(Duration::from_millis(100));
    // Nothing of the group survives: kill(-pgid, 0) finds no process.
    let alive = std::process::Command::new("sh")
        .args(["-c", &format!("kill -0 -- -{pgid} 2>/dev/null")])
        .status()
        .unwrap()
        .success();
    assert!(!alive, "process group {pgid} still has members");
}

#[test]
fn stdin_bytes_reach_the_command() {
    let out = run(&Cmd::new("cat").stdin_bytes(b"{\"a\": 1}\n".to_vec())).unwrap();
    assert_eq!(out.stdout, b"{\"a\": 1}\n");
}

/// Calls nothing: a caught signal only interrupts the wait it lands in.
extern "C" fn caught(_: libc::c_int) {}

#[test]
#[expect(
    unsafe_code,
    reason = "a handler that does nothing, and a signal to one thread, through libc"
)]
fn a_caught_signal_ends_wait_or_signal_but_not_wait_until() {
    // SAFETY: the handler does nothing, so it is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGUSR2, caught as *const () as libc::sighandler_t);
    }
    let mut group = Group::spawn(&Cmd::new("sleep").arg("30"), |c| {
        c.stdin(Stdio::null()).stdout(Stdio::null());
    })
    .unwrap();
    // SAFETY: pthread_self only names the calling thread.
    let me = unsafe { libc::pthread_self() };
    let poke = move || {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            // SAFETY: `me` waits below (in this test) until this thread is joined.
            unsafe { libc::pthread_kill(me, libc::SIGUSR2) };
        })
    };
    let started = Instant::now();
    let poked = poke();
    assert_eq!(
        group
            .wait_or_signal(started + Duration::from_secs(20))
            .unwrap(),
        None
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    poked.join().unwrap();
    // A plain wait goes on to its deadline.
    let started = Instant::now();
    let poked = poke();
    let waited = group
        .wait_until(started + Duration::from_millis(600))
        .unwrap();
    assert_eq!(waited, None);
    assert!(started.elapsed() >= Duration::from_millis(600));
    poked.join().unwrap();
    // The leader's exit still ends either wait at once.
    let pgid = group.pid();
    let _ = std::process::Command::new("kill")
        .arg(pgid.to_string())
        .status();
    let started = Instant::now();
    let status = group
        .wait_or_signal(started + Duration::from_secs(20))
        .unwrap();
    assert!(status.is_some_and(|s| !s.success()));
    assert!(started.elapsed() < Duration::from_secs(10));
}
