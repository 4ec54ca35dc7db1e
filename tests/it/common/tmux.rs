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
        wait_for(|| self.0.sessions().is_some_and(|s| s.is_empty()) && !self.session_starting())
    }

    /// Whether, within 10 s, no tmux server process for this socket is left (one killed, or
    /// one whose last session ended, exits a moment later: a session made meanwhile on it
    /// would be hung up with it).
    pub fn gone(&self) -> bool {
        wait_for(|| {
            let Ok(entries) = std::fs::read_dir("/proc") else {
                return true;
            };
            !entries.flatten().any(|e| {
                let server = std::fs::read_to_string(e.path().join("comm"))
                    .is_ok_and(|c| c.trim() == "tmux: server");
                server
                    && std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
                        c.split(|b| *b == 0)
                            .any(|a| a == self.0.socket().as_bytes())
                    })
            })
        })
    }

    /// Whether a `tmux new-session` on this server is still under way: a launch starts its
    /// session on another thread, and one killed meanwhile leaves that client running, so its
    /// session may appear after the launcher died (and then end by itself, as its supervisor
    /// finds the launch undone).
    pub fn session_starting(&self) -> bool {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return false;
        };
        entries.flatten().any(|e| {
            let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            // The server the first session started keeps that client's argv, not its name.
            let server = std::fs::read_to_string(e.path().join("comm"))
                .is_ok_and(|c| c.trim() == "tmux: server");
            !server
                && args.contains(&self.0.socket().as_bytes())
                && args.contains(&&b"new-session"[..])
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.0.kill_server();
        // tmux leaves its socket file behind when its server is killed: without this, every
        // test run leaves hundreds of them in the user's tmux directory.
        use std::os::unix::fs::MetadataExt;
        if let Ok(me) = std::fs::metadata("/proc/self") {
            let dir = std::env::var_os("TMUX_TMPDIR").unwrap_or_else(|| "/tmp".into());
            let socket = std::path::Path::new(&dir)
                .join(format!("tmux-{}", me.uid()))
                .join(self.0.socket());
            let _ = std::fs::remove_file(socket);
        }
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
