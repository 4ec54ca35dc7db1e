//! Running one gate's process: its own process group, output straight to files, a total
//! timeout and an optional stall timeout (no output for a while); stopped with TERM, a grace
//! period, then KILL. How it ended is data, never an error: a gate that could not run is a
//! result too.

use std::fs::File;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::process::{Cmd, Group, Stopped};

const TICK: Duration = Duration::from_millis(100);

/// How a gate's process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It exited (or was killed by a signal) on its own.
    Exited(ExitStatus),
    /// It ran past its timeout and was stopped.
    TimedOut {
        /// The timeout, in seconds.
        seconds: u64,
        /// How it was stopped (TERM, or TERM then KILL).
        how: &'static str,
    },
    /// It printed nothing for its idle timeout and was stopped.
    Stalled {
        /// The idle timeout, in seconds.
        seconds: u64,
        /// How it was stopped (TERM, or TERM then KILL).
        how: &'static str,
    },
    /// It could not be started.
    NotStarted(String),
}

impl Ended {
    /// Why a gate that ended this way did not produce a result, if it did not.
    pub fn failure(&self) -> Option<String> {
        match self {
            Ended::Exited(_) => None,
            Ended::TimedOut { seconds, how } => {
                Some(format!("did not finish within {seconds} s; {how}"))
            }
            Ended::Stalled { seconds, how } => {
                Some(format!("stalled: no output for {seconds} s; {how}"))
            }
            Ended::NotStarted(why) => Some(format!("could not start: {why}")),
        }
    }
}

/// Limits for one run.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The longest it may run.
    pub timeout: Duration,
    /// The longest it may print nothing; no limit when `None`.
    pub idle: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// Runs `cmd` with stdin from `stdin` (closed when `None`), stdout to `stdout` and stderr to
/// `stderr` (the same file when `None`), within `limits`.
pub fn run(
    cmd: &Cmd,
    stdin: Option<File>,
    stdout: &Path,
    stderr: Option<&Path>,
    limits: Limits,
) -> std::io::Result<(Ended, Duration)> {
    let started = Instant::now();
    let out = File::create(stdout)?;
    let err = match stderr {
        Some(path) => File::create(path)?,
        None => out.try_clone()?,
    };
    let spawned = Group::spawn(cmd, |c| {
        c.stdin(stdin.map_or_else(Stdio::null, Stdio::from))
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
    });
    let mut group = match spawned {
        Ok(group) => group,
        Err(e) => return Ok((Ended::NotStarted(e.to_string()), started.elapsed())),
    };
    let size = || {
        let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        len(stdout) + stderr.map_or(0, len)
    };
    let (mut seen, mut active) = (size(), Instant::now());
    let how = |stopped: Stopped| match stopped {
        Stopped::Terminated(_) => "stopped with SIGTERM",
        Stopped::Killed(_) => "ignored SIGTERM; killed with SIGKILL",
    };
    let ended = loop {
        if let Some(status) = group.wait_until(Instant::now() + TICK)? {
            // Whatever it started in its group goes with it.
            let _ = group.stop(Duration::ZERO);
            break Ended::Exited(status);
        }
        let now = size();
        if now != seen {
            (seen, active) = (now, Instant::now());
        }
        if started.elapsed() >= limits.timeout {
            let how = how(group.stop(limits.grace)?);
            break Ended::TimedOut {
                seconds: limits.timeout.as_secs(),
                how,
            };
        }
        if let Some(idle) = limits.idle
            && active.elapsed() >= idle
        {
            let how = how(group.stop(limits.grace)?);
            break Ended::Stalled {
                seconds: idle.as_secs(),
                how,
            };
        }
    };
    Ok((ended, started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(timeout: u64, idle: Option<u64>) -> Limits {
        Limits {
            timeout: Duration::from_secs(timeout),
            idle: idle.map(Duration::from_secs),
            grace: Duration::from_millis(500),
        }
    }

    #[test]
    fn exits_timeouts_stalls_and_missing_programs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let sh = |script: &str| Cmd::new("sh").args(["-c", script]);
        let (ended, _) = run(
            &sh("echo hi; echo err >&2; exit 3"),
            None,
            &out,
            None,
            limits(10, None),
        )
        .unwrap();
        assert!(matches!(ended, Ended::Exited(s) if s.code() == Some(3)));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "hi\nerr\n");
        let err = dir.path().join("err");
        run(
            &sh("echo hi; echo err >&2"),
            None,
            &out,
            Some(&err),
            limits(10, None),
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&err).unwrap(), "err\n");

        let (ended, took) = run(&sh("sleep 30"), None, &out, None, limits(1, None)).unwrap();
        assert!(
            matches!(ended, Ended::TimedOut { seconds: 1, .. }),
            "{ended:?}"
        );
        assert!(took < Duration::from_secs(10));
        let (ended, _) = run(
            &sh("echo start; sleep 30"),
            None,
            &out,
            None,
            limits(20, Some(1)),
        )
        .unwrap();
        assert!(
            matches!(ended, Ended::Stalled { seconds: 1, .. }),
            "{ended:?}"
        );
        assert!(ended.failure().unwrap().starts_with("stalled"));
        // Output keeps a slow gate alive.
        let (ended, _) = run(
            &sh("for i in 1 2 3 4; do echo $i; sleep 0.4; done"),
            None,
            &out,
            None,
            limits(20, Some(1)),
        )
        .unwrap();
        assert!(
            matches!(ended, Ended::Exited(s) if s.success()),
            "{ended:?}"
        );
        let (ended, _) = run(
            &Cmd::new("vnx-no-such-gate"),
            None,
            &out,
            None,
            limits(5, None),
        )
        .unwrap();
        assert!(
            matches!(&ended, Ended::NotStarted(why) if why.contains("not found")),
            "{ended:?}"
        );
    }
}
