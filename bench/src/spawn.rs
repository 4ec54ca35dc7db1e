//! Timed child processes: the command lines to run, the small `--spawn-helper` process that
//! spawns and reaps them, and the `wait4` rusage that gives each child's own peak RSS.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::Instant;

use crate::timing::Timing;
use crate::{Result, note};

/// A command line to run as a child process.
pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
}

/// One finished child process.
pub struct Proc {
    pub secs: f64,
    pub rss_kib: u64,
    /// How it failed, if it did.
    status: std::result::Result<(), String>,
}

impl Cmd {
    pub fn new(program: impl Into<PathBuf>) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<S: AsRef<OsStr>>(self, args: impl IntoIterator<Item = S>) -> Cmd {
        args.into_iter().fold(self, Cmd::arg)
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        c
    }

    pub fn display(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    fn argv(&self) -> Result<Vec<String>> {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|a| {
                a.to_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("argument {a:?} is not UTF-8").into())
            })
            .collect()
    }

    /// Runs the command once through the spawn helper: wall time from spawn to reaped, and the
    /// child's peak RSS.
    pub fn run(&self, sp: &mut Spawner) -> Result<Proc> {
        let proc = sp.run(&self.argv()?)?;
        if let Err(status) = proc.status {
            // Run it again here to show what went wrong.
            let out = self.command().stdin(Stdio::null()).output()?;
            return Err(format!(
                "`{}` failed ({status}): {}{}",
                self.display(),
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        Ok(proc)
    }

    /// One warm-up run, then `runs` timed runs.
    pub fn time(&self, sp: &mut Spawner, runs: usize) -> Result<Timing> {
        note(&format!("timing `{}`", self.display()));
        self.run(sp)?;
        let mut secs = Vec::with_capacity(runs);
        let mut rss = 0;
        for _ in 0..runs {
            let p = self.run(sp)?;
            secs.push(p.secs);
            rss = rss.max(p.rss_kib);
        }
        Ok(Timing {
            secs,
            rss_kib: Some(rss),
        })
    }
}

/// Child processes are started by a helper: a fresh, small `vnx-bench --spawn-helper` process.
/// A child's `ru_maxrss` starts at the peak RSS of the process that spawned it (Linux records
/// the old address space's high-water mark at `exec`), so spawning from this process, which
/// holds ledgers in memory, would hide the child's own figure. The helper also does the timing,
/// so the pipe round trip is not counted.
pub struct Spawner {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The helper's own peak RSS: the floor under every child's figure.
    pub hwm_kib: u64,
}

impl Spawner {
    pub fn start() -> Result<Spawner> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--spawn-helper")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(BufReader::new);
        let stdout = stdout.ok_or("the spawn helper has no stdout")?;
        Ok(Spawner {
            child,
            stdin,
            stdout,
            hwm_kib: 0,
        })
    }

    fn run(&mut self, argv: &[String]) -> Result<Proc> {
        let stdin = self.stdin.as_mut().ok_or("the spawn helper is closed")?;
        writeln!(stdin, "{}", serde_json::to_string(argv)?)?;
        stdin.flush()?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err("the spawn helper exited".into());
        }
        let reply: serde_json::Value = serde_json::from_str(&line)?;
        if let Some(e) = reply["error"].as_str() {
            return Err(format!("cannot run {}: {e}", argv[0]).into());
        }
        self.hwm_kib = self
            .hwm_kib
            .max(reply["helper_hwm_kib"].as_u64().unwrap_or(0));
        let status = if reply["success"].as_bool() == Some(true) {
            Ok(())
        } else {
            Err(reply["status"].as_str().unwrap_or("?").to_owned())
        };
        Ok(Proc {
            secs: reply["secs"]
                .as_f64()
                .ok_or("the spawn helper sent no time")?,
            rss_kib: reply["rss_kib"].as_u64().unwrap_or(0),
            status,
        })
    }

    pub fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        self.child.wait()?;
        Ok(())
    }
}

/// The spawn helper: reads one JSON argv per line, runs it with null stdio, and answers with
/// one JSON line (wall time, exit status, peak RSS).
pub fn helper_main() -> Result<()> {
    let mut out = io::stdout().lock();
    for line in io::stdin().lock().lines() {
        let argv: Vec<String> = serde_json::from_str(&line?)?;
        let reply = match spawn_and_wait(&argv) {
            Ok((secs, status, rss_kib)) => serde_json::json!({
                "secs": secs,
                "success": status.success(),
                "status": status.to_string(),
                "rss_kib": rss_kib,
                "helper_hwm_kib": own_hwm_kib(),
            }),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        writeln!(out, "{reply}")?;
        out.flush()?;
    }
    Ok(())
}

fn spawn_and_wait(argv: &[String]) -> Result<(f64, ExitStatus, u64)> {
    let (program, args) = argv.split_first().ok_or("empty command line")?;
    let start = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let (status, rss_kib) = wait_child(child.id())?;
    Ok((start.elapsed().as_secs_f64(), status, rss_kib))
}

/// This process's peak RSS (`VmHWM`) in KiB.
fn own_hwm_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Reaps child `pid` alone with `wait4`, which reports that child's own peak RSS (KiB).
fn wait_child(pid: u32) -> io::Result<(ExitStatus, u64)> {
    wait_child_usage(pid).map(|(status, rss, _)| (status, rss))
}

/// Reaps child `pid` alone with `wait4`: its exit status, its own peak RSS (KiB) and the CPU
/// time it used, user and system, in microseconds (the kernel's accounting, to the
/// microsecond, where `/usr/bin/time` prints 10 ms steps).
#[expect(unsafe_code, reason = "wait4 and a zeroed rusage through libc")]
pub(crate) fn wait_child_usage(pid: u32) -> io::Result<(ExitStatus, u64, f64)> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all zero bytes are valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own unreaped child (its `Child` is never waited on) and writes
        // only into the two locals, which outlive the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    Ok((
        ExitStatus::from_raw(status),
        u64::try_from(usage.ru_maxrss).unwrap_or(0),
        us(usage.ru_utime) + us(usage.ru_stime),
    ))
}
