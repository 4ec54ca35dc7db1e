//! `Server`: a tmux server on a private socket per test, and `wait_for`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use vnx::tmux::Tmux;

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

    /// Types `keys` into a session's pane, as a person attached to it would (tmux key names:
    /// `Enter`, `1`, …).
    pub fn send_keys(&self, session: &str, keys: &[&str]) {
        let ok = std::process::Command::new("tmux")
            .args(["-L", self.0.socket(), "send-keys", "-t"])
            .arg(format!("={session}:"))
            .args(keys)
            .status()
            .unwrap();
        assert!(ok.success(), "send-keys to {session}");
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

/// Whether `cond` holds within 10 s.
pub fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
