//! tmux on a private socket: one session per dispatch, started with an explicit environment and
//! an argv (never a shell string), so a person can watch or take over with `vnx attach`. Every
//! call is bounded in time: a server that does not answer (stopped, not dead) is remembered
//! for a while, its sessions are taken to be alive (nothing is called lost for its silence),
//! and callers can say so ([`silent_sockets`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::process::{self, Cmd, ProcessError};

/// How long one tmux call may take; a server that needs longer does not answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long starting a session may take (a fresh server starts first, on a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server that did not answer is left alone before it is asked again.
const SILENCE_KEPT: Duration = Duration::from_secs(30);

/// The sockets whose server did not answer, and when it was last asked (this process's).
static SILENT: Mutex<BTreeMap<String, Instant>> = Mutex::new(BTreeMap::new());

fn silent(socket: &str) -> bool {
    SILENT
        .lock()
        .map(|m| m.get(socket).is_some_and(|t| t.elapsed() < SILENCE_KEPT))
        .unwrap_or(false)
}

fn mark_silent(socket: &str) {
    if let Ok(mut m) = SILENT.lock() {
        m.insert(socket.to_owned(), Instant::now());
    }
}

/// The sockets whose tmux server did not answer within [`CALL_TIMEOUT`] during this process
/// (a stopped server): what they said of their sessions is not known.
pub fn silent_sockets() -> Vec<String> {
    SILENT
        .lock()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The socket name vnx uses unless told otherwise (`tmux -L vnx`).
pub const DEFAULT_SOCKET: &str = "vnx";

/// A tmux server reached through a named socket (`-L`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tmux {
    socket: String,
}

/// Where a new session's pane is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Pane {
    /// The session's name (`vnx-<id>` for a dispatch).
    pub session: String,
    /// `%N`.
    pub pane_id: String,
    /// The pid of the pane's first process.
    pub pid: u32,
    /// How many times the server shut down under the start before it took (see
    /// [`Tmux::new_session`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub server_restarts: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Why a tmux command failed.
#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    /// A session name tmux would read as a target pattern.
    #[error("tmux session name {name:?} must be letters, digits, `_` and `-`")]
    BadName {
        /// The name refused.
        name: String,
    },
    /// tmux could not be run, or exited unsuccessfully.
    #[error("tmux (socket {socket}) failed")]
    Tmux {
        /// The private socket (`tmux -L`) the command was for.
        socket: String,
        /// How running tmux failed.
        #[source]
        source: ProcessError,
    },
    /// The server did not answer in time (stopped, or wedged), now or a moment ago.
    #[error("the tmux server on socket {socket} does not answer")]
    NotAnswering {
        /// The socket.
        socket: String,
    },
    /// tmux succeeded but printed something vnx cannot read (a pane id, a pid).
    #[error("tmux printed something unexpected: {output:?}")]
    Unexpected {
        /// What it printed.
        output: String,
    },
}

impl TmuxError {
    /// What to do about it, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            TmuxError::Tmux {
                source: ProcessError::NotFound { .. },
                ..
            } => Some("install tmux (e.g. `apt-get install tmux`)".into()),
            TmuxError::NotAnswering { socket } => Some(format!(
                "its workers may still run; look at the server's process (stopped? `kill -CONT` \
                 it), or `tmux -L {socket} kill-server` and `vnx resume` what it ran"
            )),
            _ => None,
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `name` when it is a [`valid_name`], else [`TmuxError::BadName`].
fn checked_name(name: &str) -> Result<&str, TmuxError> {
    if valid_name(name) {
        return Ok(name);
    }
    Err(TmuxError::BadName {
        name: name.to_owned(),
    })
}

impl Tmux {
    /// tmux on the private socket `socket` (`tmux -L socket`).
    pub fn new(socket: impl Into<String>) -> Tmux {
        Tmux {
            socket: socket.into(),
        }
    }

    /// The socket's name.
    pub fn socket(&self) -> &str {
        &self.socket
    }

    fn cmd(&self) -> Cmd {
        Cmd::new("tmux").args(["-L", &self.socket])
    }

    /// Whether the server answered its last call (or has not been asked yet).
    pub fn answers(&self) -> bool {
        !silent(&self.socket)
    }

    /// Runs `cmd` bounded by `limit`; a server that does not answer is remembered.
    fn output(&self, cmd: Cmd, limit: Duration) -> Result<process::Output, TmuxError> {
        if silent(&self.socket) {
            return Err(TmuxError::NotAnswering {
                socket: self.socket.clone(),
            });
        }
        match process::run(&cmd.timeout(limit)) {
            Ok(out) => Ok(out),
            Err(ProcessError::TimedOut { .. }) => {
                mark_silent(&self.socket);
                Err(TmuxError::NotAnswering {
                    socket: self.socket.clone(),
                })
            }
            Err(source) => Err(TmuxError::Tmux {
                socket: self.socket.clone(),
                source,
            }),
        }
    }

    fn run(&self, cmd: Cmd) -> Result<String, TmuxError> {
        self.run_within(cmd, CALL_TIMEOUT)
    }

    fn run_within(&self, cmd: Cmd, limit: Duration) -> Result<String, TmuxError> {
        let shown = cmd.display();
        let out = self.output(cmd, limit)?;
        let out = out.ok(shown).map_err(|source| TmuxError::Tmux {
            socket: self.socket.clone(),
            source,
        })?;
        Ok(out.text())
    }

    /// Starts a detached session running `argv` in `cwd`. The variables in `env` are set in
    /// the session explicitly, so a server started earlier with another environment does not
    /// leak its own into the pane.
    pub fn new_session(
        &self,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        argv: &[OsString],
    ) -> Result<Pane, TmuxError> {
        checked_name(name)?;
        let mut cmd = self
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                "200",
                "-y",
                "50",
                "-c",
            ])
            .arg(cwd)
            .args(["-P", "-F", "#{pane_id} #{pane_pid}"]);
        for (k, v) in env {
            cmd = cmd.arg("-e").arg(format!("{k}={v}"));
        }
        // With more than one argument tmux executes the command directly, without a shell.
        let cmd = cmd.arg("--").args(argv);
        // A server whose last session just ended shuts down; a client that connects in that
        // moment fails with "server exited unexpectedly" and nothing was created (the server
        // it reached is gone, and the session with it). Starting again (a fresh server) is
        // then safe, for as long as one start may take: under load (a burst of launches, a
        // busy machine) the server can be caught shutting down many times over. Nothing
        // else is asked of the server meanwhile: a slow answer would not say the session
        // exists.
        let started = std::time::Instant::now();
        let mut attempt = 0u32;
        let out = loop {
            match self.run_within(cmd.clone(), START_TIMEOUT) {
                Err(TmuxError::Tmux {
                    source: ProcessError::Failed { stderr, .. },
                    ..
                }) if stderr.contains("server exited unexpectedly")
                    && started.elapsed() < START_TIMEOUT =>
                {
                    attempt += 1;
                    let backoff = (1u64 << attempt.min(8)).min(250);
                    std::thread::sleep(std::time::Duration::from_millis(backoff));
                }
                other => break other?,
            }
        };
        let mut parts = out.split_whitespace();
        let (Some(pane_id), Some(pid)) = (parts.next(), parts.next().and_then(|p| p.parse().ok()))
        else {
            return Err(TmuxError::Unexpected { output: out });
        };
        Ok(Pane {
            session: name.to_owned(),
            pane_id: pane_id.to_owned(),
            pid,
            server_restarts: attempt,
        })
    }

    /// Whether a session of that name exists; for a server that does not answer, yes (its
    /// silence is no proof the session ended, and nothing may be called lost for it).
    pub fn has_session(&self, name: &str) -> bool {
        valid_name(name)
            && match self.output(
                self.cmd().args(["has-session", "-t", &format!("={name}")]),
                CALL_TIMEOUT,
            ) {
                Ok(o) => o.status.success(),
                Err(TmuxError::NotAnswering { .. }) => true,
                Err(_) => false,
            }
    }

    /// Kills a session; a session that is already gone is not an error.
    pub fn kill_session(&self, name: &str) -> Result<(), TmuxError> {
        if !self.has_session(name) {
            return Ok(());
        }
        self.run(self.cmd().args(["kill-session", "-t", &format!("={name}")]))
            .map(drop)
    }

    /// Names of all sessions on this socket (none when no server runs; `None` when the
    /// server does not answer: which sessions live is not known).
    pub fn sessions(&self) -> Option<Vec<String>> {
        let cmd = self.cmd().args(["list-sessions", "-F", "#{session_name}"]);
        match self.output(cmd, CALL_TIMEOUT) {
            Ok(out) if out.status.success() => {
                Some(out.text().lines().map(str::to_owned).collect())
            }
            Err(TmuxError::NotAnswering { .. }) => None,
            _ => Some(Vec::new()),
        }
    }

    /// The visible text of a session's pane.
    pub fn capture(&self, name: &str) -> Result<String, TmuxError> {
        self.run(
            self.cmd()
                .args(["capture-pane", "-p", "-t", &format!("={name}:")]),
        )
    }

    /// The visible text of a session's pane with its colours and attributes (ANSI escapes).
    pub fn capture_styled(&self, name: &str) -> Result<String, TmuxError> {
        self.run(
            self.cmd()
                .args(["capture-pane", "-e", "-p", "-t", &format!("={name}:")]),
        )
    }

    /// The visible screen of a pane (by its id).
    pub fn capture_pane(&self, pane: &str) -> Result<String, TmuxError> {
        self.run(self.cmd().args(["capture-pane", "-p", "-t", pane]))
    }

    /// A pane's whole history and screen (`%N` pane id), joined lines.
    pub fn capture_history(&self, pane: &str) -> Result<String, TmuxError> {
        self.run(
            self.cmd()
                .args(["capture-pane", "-p", "-J", "-S", "-", "-t", pane]),
        )
    }

    /// Types `keys` (tmux key names: `1`, `y`, `Escape`) into a session's pane, as a person
    /// at its terminal would.
    pub fn send_keys(&self, name: &str, keys: &[&str]) -> Result<(), TmuxError> {
        self.run(
            self.cmd()
                .args(["send-keys", "-t", &format!("={}:", checked_name(name)?)])
                .args(keys.iter().copied()),
        )
        .map(drop)
    }

    /// The pid of the process a session's pane runs (for a dispatch: its supervisor).
    pub fn pane_pid(&self, session: &str) -> Option<u32> {
        self.pane_format(session, "#{pane_pid}")?.parse().ok()
    }

    /// The id (`%N`) of a session's pane.
    pub fn pane_id(&self, session: &str) -> Option<String> {
        self.pane_format(session, "#{pane_id}")
            .filter(|id| id.starts_with('%'))
    }

    /// `format` expanded for a session's pane, when tmux knows the session.
    fn pane_format(&self, session: &str, format: &str) -> Option<String> {
        let session = checked_name(session).ok()?;
        self.display(&format!("={session}:"), format)
    }

    /// `format` expanded for `target`, when tmux knows it.
    fn display(&self, target: &str, format: &str) -> Option<String> {
        let cmd = (self.cmd()).args(["display-message", "-p", "-t", target, format]);
        let out = self.output(cmd, CALL_TIMEOUT).ok()?;
        out.status.success().then(|| out.text().trim().to_owned())
    }

    /// When the window of a pane (`%N` pane id) last had output, in seconds since the epoch.
    pub fn window_activity(&self, pane: &str) -> Option<u64> {
        self.display(pane, "#{window_activity}")?.parse().ok()
    }

    /// Stops the whole server on this socket (tests and cleanup).
    pub fn kill_server(&self) {
        let _ = self.output(self.cmd().arg("kill-server"), CALL_TIMEOUT);
    }

    /// The command that attaches a terminal to a session.
    pub fn attach_cmd(&self, name: &str) -> Cmd {
        self.cmd()
            .args(["attach-session", "-t", &format!("={name}")])
    }

    /// Attaching to session `name` from inside another tmux (the one `$TMUX` names, which
    /// the returned command reaches): a popup of that tmux, 90 % of its window, running the
    /// attach with `$TMUX` unset, and closing when it ends. Keys in a popup go to its
    /// program, so this server's own `C-b d` detaches, where an attach nested in a pane would
    /// need `C-b C-b d`. `title` is the popup's border title. (tmux 3.2 or later.)
    pub fn popup_attach_cmd(&self, name: &str, title: &str) -> Cmd {
        Cmd::new("tmux")
            .args([
                "display-popup",
                "-E",
                "-w",
                "90%",
                "-h",
                "90%",
                "-T",
                title,
                "--",
            ])
            .args(["env", "-u", "TMUX", "tmux", "-L", &self.socket])
            .args(["attach-session", "-t", &format!("={name}")])
    }
}

/// The long-lived vnx processes [`session_for`] names sessions for: a project's pull-request
/// watcher, a place's credential relay keeper.
const SERVICES: [&str; 2] = ["watch", "keys"];

/// Whether the session `name` is one of [`session_for`]'s (not a dispatch's).
pub fn is_service_session(name: &str) -> bool {
    (SERVICES.iter()).any(|what| name.starts_with(&format!("vnx-{what}-")))
}

/// The session of a long-lived vnx process for the path `of` (a project's watcher, a place's
/// credential relay): `vnx-WHAT-` and a stable hash of the path (FNV-1a, 48 bits).
pub fn session_for(what: &str, of: &Path) -> String {
    debug_assert!(SERVICES.contains(&what), "{what} is not in SERVICES");
    use std::os::unix::ffi::OsStrExt;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in of.as_os_str().as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("vnx-{what}-{:012x}", h & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::{is_service_session, session_for};
    use std::path::Path;

    #[test]
    fn a_service_session_is_named_per_path_and_never_taken_for_a_dispatchs() {
        let keys = session_for("keys", Path::new("/p/.vnx-data/remote/keys/box.D-1"));
        assert_eq!(
            keys,
            session_for("keys", Path::new("/p/.vnx-data/remote/keys/box.D-1"))
        );
        assert_ne!(
            keys,
            session_for("keys", Path::new("/p/.vnx-data/remote/keys/box.D-2"))
        );
        assert!(keys.starts_with("vnx-keys-") && keys.len() == "vnx-keys-".len() + 12);
        assert!(is_service_session(&keys));
        assert!(is_service_session(&session_for("watch", Path::new("/p"))));
        assert!(!is_service_session("vnx-D-6b3y000000h0"));
    }
}
