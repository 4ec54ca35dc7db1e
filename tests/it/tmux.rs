//! tmux on a private socket: sessions start with an explicit environment and an argv, and
//! nothing is left behind; an answer typed into a pane's dialog is typed again until the
//! dialog took it, and never into the next one.

use std::ffi::OsString;

use vnx::tmux::TmuxError;

use crate::common::{Server, TestEnv, wait_for};

fn argv(parts: &[&str]) -> Vec<OsString> {
    parts.iter().map(OsString::from).collect()
}

#[test]
fn sessions_run_an_argv_with_an_explicit_environment() {
    let server = Server::new();
    let env = TestEnv::new();
    let out = env.path().join("seen");
    // The argv reaches the program byte for byte: no shell interprets it.
    let tricky = "$(touch pwned); `id` 'q' \"dq\" \\ ;|&";
    let pane = server
        .0
        .new_session(
            "vnx-D-1",
            env.path(),
            &[("VNX_DISPATCH_ID".into(), "D-1".into())],
            &argv(&[
                "sh",
                "-c",
                "printf '%s|%s|%s' \"$VNX_DISPATCH_ID\" \"$1\" \"$PWD\" > seen; sleep 30",
                "sh",
                tricky,
            ]),
        )
        .unwrap();
    assert!(pane.pane_id.starts_with('%'));
    assert!(pane.pid > 0);
    assert!(wait_for(
        || std::fs::read_to_string(&out).is_ok_and(|s| s.contains('|'))
    ));
    let seen = std::fs::read_to_string(&out).unwrap();
    let canonical = env.path().canonicalize().unwrap();
    assert_eq!(seen, format!("D-1|{tricky}|{}", canonical.display()));
    assert!(!env.path().join("pwned").exists());
    assert!(server.0.has_session("vnx-D-1"));
    assert_eq!(server.0.sessions().unwrap(), ["vnx-D-1"]);
    server.0.kill_session("vnx-D-1").unwrap();
    assert!(!server.0.has_session("vnx-D-1"));
    assert!(server.0.sessions().unwrap().is_empty());
    // Killing a session that is gone is fine.
    server.0.kill_session("vnx-D-1").unwrap();
}

#[test]
fn session_names_are_checked_and_exact() {
    let server = Server::new();
    let env = TestEnv::new();
    let err = server
        .0
        .new_session("bad:name", env.path(), &[], &argv(&["sleep", "1"]))
        .unwrap_err();
    assert!(matches!(err, TmuxError::BadName { .. }), "{err}");
    server
        .0
        .new_session("vnx-D-10", env.path(), &[], &argv(&["sleep", "30"]))
        .unwrap();
    // `has-session -t vnx-D-1` would match vnx-D-10 by prefix; vnx asks for exact names.
    assert!(!server.0.has_session("vnx-D-1"));
    assert!(server.0.has_session("vnx-D-10"));
}

#[test]
fn capture_shows_the_pane() {
    let server = Server::new();
    let env = TestEnv::new();
    server
        .0
        .new_session(
            "vnx-cap",
            env.path(),
            &[],
            &argv(&["sh", "-c", "echo hello-from-the-pane; sleep 30"]),
        )
        .unwrap();
    assert!(wait_for(|| server
        .0
        .capture("vnx-cap")
        .is_ok_and(|s| s.contains("hello-from-the-pane"))));
}

#[test]
fn sessions_start_while_the_server_shuts_down() {
    // Each session ends at once, so the server keeps exiting as the next one starts: the
    // race that made `new-session` fail with "server exited unexpectedly".
    let server = Server::new();
    let env = TestEnv::new();
    for i in 0..40 {
        server
            .0
            .new_session(
                &format!("vnx-race-{i}"),
                env.path(),
                &[],
                &argv(&["true", "x"]),
            )
            .unwrap_or_else(|e| panic!("session {i}: {e}"));
    }
}

/// A dialog in a pane, as a bash script: it shows `1. Allow once`, drops the keys typed in
/// its first `deaf` seconds (gemini 0.61 drew its dialog before it read keys), logs the key
/// it takes to `took`, clears the screen and shows the same dialog again, whose keys go to
/// `next`.
fn dialog(server: &Server, env: &TestEnv, deaf: &str) {
    let script = format!(
        "stty -echo; echo '1. Allow once'; read -r -s -t {deaf} -n 100 _; \
         read -r -s -n1 k; echo \"$k\" >> took; clear; sleep 0.5; echo '1. Allow once'; \
         while read -r -s -n1 -t 5 k; do echo \"$k\" >> next; done; sleep 30"
    );
    server
        .0
        .new_session("vnx-ask", env.path(), &[], &argv(&["bash", "-c", &script]))
        .unwrap();
}

/// A pane that shows `1. Allow once` and then does what `script` (bash) says.
fn asking(server: &Server, env: &TestEnv, script: &str) {
    let script = format!("stty -echo; echo '1. Allow once'; {script}");
    server
        .0
        .new_session("vnx-ask", env.path(), &[], &argv(&["bash", "-c", &script]))
        .unwrap();
}

/// `keys` typed into the dialog of `asking` or `dialog`: whether the pane took them.
fn typed(server: &Server, keys: &str, timing: &vnx::dispatch::answer::DialogTiming) -> bool {
    let shows = |s: &str| s.contains("1. Allow once");
    vnx::dispatch::answer::type_keys(&server.0, "vnx-ask", &shows, &[keys], timing).unwrap()
}

#[test]
fn an_answer_is_typed_again_while_the_dialog_has_not_taken_it() {
    let server = Server::new();
    let env = TestEnv::new();
    dialog(&server, &env, "1");
    let timing = vnx::dispatch::answer::DIALOG_TIMING;
    assert!(typed(&server, "1", &timing));
    assert!(wait_for(|| std::fs::read_to_string(
        env.path().join("took")
    )
    .is_ok_and(|s| s == "1\n")));
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        !env.path().join("next").exists(),
        "the next dialog got no key"
    );
}

#[test]
fn an_answer_taken_at_once_is_typed_once_and_never_into_the_next_dialog() {
    let server = Server::new();
    let env = TestEnv::new();
    dialog(&server, &env, "0.01");
    let shown = || {
        server
            .0
            .capture("vnx-ask")
            .is_ok_and(|s| s.contains("1. Allow once"))
    };
    assert!(wait_for(shown));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let timing = vnx::dispatch::answer::DIALOG_TIMING;
    assert!(typed(&server, "y", &timing));
    assert!(wait_for(|| std::fs::read_to_string(
        env.path().join("took")
    )
    .is_ok_and(|s| s == "y\n")));
    std::thread::sleep(timing.take + std::time::Duration::from_secs(1));
    assert!(
        !env.path().join("next").exists(),
        "typed once: the next dialog got no key"
    );
}

#[test]
fn a_pane_that_never_changes_is_reported_as_not_taken() {
    let server = Server::new();
    let env = TestEnv::new();
    // Shows the dialog and reads nothing: every key stays unseen.
    asking(&server, &env, "sleep 30");
    let timing = vnx::dispatch::answer::DialogTiming {
        show: std::time::Duration::from_secs(5),
        take: std::time::Duration::from_millis(300),
        tries: 2,
    };
    let taken = typed(&server, "1", &timing);
    assert!(!taken, "nothing on the screen moved");
}

#[test]
fn an_answer_that_ends_the_pane_and_its_server_was_taken() {
    let server = Server::new();
    let env = TestEnv::new();
    // Takes one key and exits: its session was the server's last, so the server goes too
    // before the screen can be read again (a worker that ends its turn on a denial).
    asking(&server, &env, "read -r -s -n1 k");
    let taken = typed(&server, "Escape", &vnx::dispatch::answer::DIALOG_TIMING);
    assert!(taken, "the pane closed on the key");
    assert!(!server.0.has_session("vnx-ask"));
}

/// `kill -SIG PID`.
fn signal(sig: &str, pid: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, pid])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig} {pid}");
}

#[test]
fn a_stopped_tmux_server_hangs_no_command_and_is_named() {
    use crate::common::{Repo, run};
    let repo = Repo::new();
    let id = repo.dispatched("slow", true);
    let socket = repo.server.0.socket().to_owned();
    let out = std::process::Command::new("tmux")
        .args(["-L", &socket, "display-message", "-p", "#{pid}"])
        .output()
        .unwrap();
    let pid = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(!pid.is_empty());
    // Stopped, not dead: a client connects and waits for an answer that never comes.
    signal("-STOP", &pid);
    let continued = scopeguard(&pid);
    // Each command is given two minutes: without bounded tmux calls it would hang there.
    let bounded = |args: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let (out, err) = (dir.path().join("out"), dir.path().join("err"));
        let mut cmd = repo.vnx();
        cmd.args(args)
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        let mut child = cmd.spawn().unwrap();
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let code = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status.code().unwrap_or(-1);
            }
            if std::time::Instant::now() > give_up {
                let _ = child.kill();
                let _ = child.wait();
                break 124;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        crate::common::Run {
            code,
            stdout: std::fs::read_to_string(&out).unwrap(),
            stderr: std::fs::read_to_string(&err).unwrap(),
        }
    };
    let status = bounded(&["status", "--json"]);
    assert_ne!(status.code, 124, "vnx status hung on a stopped tmux server");
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status.stderr.contains("does not answer"),
        "{}",
        status.stderr
    );
    let listed: serde_json::Value = serde_json::from_str(status.stdout.trim()).unwrap();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["dispatch_id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {listed:#}"));
    assert_eq!(row["status"], "running", "its silence made it lost: {row}");
    let doctor = bounded(&["doctor"]);
    assert_ne!(doctor.code, 124, "vnx doctor hung on a stopped tmux server");
    assert!(
        doctor.stdout.contains("does not answer") || doctor.stderr.contains("does not answer"),
        "{}{}",
        doctor.stdout,
        doctor.stderr
    );
    drop(continued);
    let r = run(repo.vnx().args(["cancel", &id]));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Sends SIGCONT to `pid` when dropped, so a failing test leaves no stopped server behind.
fn scopeguard(pid: &str) -> impl Drop + '_ {
    struct Cont<'a>(&'a str);
    impl Drop for Cont<'_> {
        fn drop(&mut self) {
            signal("-CONT", self.0);
        }
    }
    Cont(pid)
}
