//! tmux on a private socket: sessions start with an explicit environment and an argv, and
//! nothing is left behind.

use std::ffi::OsString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use vnx::tmux::{Tmux, TmuxError};

use crate::common::TestEnv;

/// A tmux server on a socket of its own, killed when the test ends (pass or fail).
pub struct Server(pub Tmux);

impl Server {
    pub fn new() -> Server {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "vnx-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        Server(Tmux::new(name))
    }

    /// SIGKILLs the process a session's pane runs (a dispatch's supervisor): it cannot record
    /// anything.
    pub fn kill_pane_process(&self, session: &str) {
        let out = std::process::Command::new("tmux")
            .args(["-L", self.0.socket(), "display-message", "-p", "-t"])
            .arg(format!("={session}:"))
            .arg("#{pane_pid}")
            .output()
            .unwrap();
        let pid = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(!pid.is_empty(), "session {session} has no pane");
        let killed = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap();
        assert!(killed.success(), "kill -9 {pid}");
    }

    /// Whether every session has ended within 10 s: a supervisor appends its completion
    /// receipt, then exits, and only then does tmux close its session.
    pub fn sessions_end(&self) -> bool {
        wait_for(|| self.0.sessions().is_empty())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.0.kill_server();
    }
}

fn argv(parts: &[&str]) -> Vec<OsString> {
    parts.iter().map(OsString::from).collect()
}

fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
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
    assert_eq!(server.0.sessions(), ["vnx-D-1"]);
    server.0.kill_session("vnx-D-1").unwrap();
    assert!(!server.0.has_session("vnx-D-1"));
    assert!(server.0.sessions().is_empty());
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
