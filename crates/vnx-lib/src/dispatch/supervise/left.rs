//! Processes a worker left running (ADR 0099): every process of a dispatch's worker inherits
//! `VNX_DISPATCH_ID` and the report seal's variable from it (`worker::worker_cmd`), so the
//! processes still running that carry both, other than the CLI's own process tree and the
//! supervisor with its ancestors, are work the worker started and left behind: a command its
//! shell backgrounded (`cmd &`, `nohup cmd &`, `setsid cmd &`), a CLI's own background
//! command that runs on after it exits. The project's setup and teardown commands carry the
//! dispatch's id but not the seal, so a service setup started is never counted.
//!
//! `/proc` is hostile input: only the user's own processes are looked at, at most
//! [`MAX_PIDS`] of them, each one's `environ` and `cmdline` read at most 64 KiB (a variable
//! past that is not seen), never through a link; a process is identified by its pid and its
//! start time (`/proc/PID/stat`), and signalled through a pidfd opened before its start time
//! is checked again, so a pid reused by another process is never mistaken for it or signalled.
//!
//! What it cannot see: a process that cleared its environment (`env -i cmd &`) or dropped
//! the variables, one the user cannot read (another user's, one made undumpable), and one
//! in a PID namespace this one does not contain; one in a PID namespace below this one (a
//! container's) is never counted either, unless it is under the CLI's own process. In the
//! bubblewrap sandbox (`--unshare-pid`) the worker runs in a PID namespace of its own, which this one contains:
//! a process orphaned there is reparented to the namespace's init (bwrap), not to init, so a
//! namespace's init is followed only into its first command (namespace pid 2), and what else
//! it holds is left behind; when the CLI exits, bwrap's init exits with it and the kernel
//! kills everything left in the namespace, so in a sandbox nothing outlives the CLI, and
//! nothing is left to wait for after it exited: what a sandboxed headless CLI left is
//! looked for while it runs ([`orphaned`]), and what was seen when it exited ended with it,
//! unfinished.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::receipts::BackgroundTask;

/// The most `/proc` entries looked at in one pass.
pub(crate) const MAX_PIDS: usize = 32_768;
/// The most of a process's `environ` or `cmdline` read.
const MAX_READ: u64 = 64 * 1024;
/// The most of a `stat` or `status` file read.
const MAX_STAT: u64 = 8 * 1024;
/// The most rounds of [`stop_all`]: what a stopped process started meanwhile is found in the
/// next.
const ROUNDS: usize = 4;

/// A process as vnx names it: its pid and its start time (clock ticks after boot, field 22 of
/// `/proc/PID/stat`); a pid reused by a later process has another start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ProcessId {
    pub(crate) pid: u32,
    pub(crate) start: u64,
}

/// A process the worker left running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LeftProcess {
    pub(crate) id: ProcessId,
    /// Its parent's pid, as it was found.
    pub(crate) parent: u32,
    /// Its command line, its arguments joined by spaces, cut and escaped.
    pub(crate) command: String,
}

impl LeftProcess {
    /// As a background task of the dispatch's receipts (`kind: process`).
    pub(crate) fn task(&self) -> BackgroundTask {
        BackgroundTask {
            id: format!("pid {}", self.id.pid),
            kind: KIND.to_owned(),
            what: self.command.clone(),
        }
    }
}

/// The kind of the tasks [`LeftProcess::task`] makes.
pub(crate) const KIND: &str = "process";

/// The kind of the tasks of processes a sandboxed CLI left, which ended with it.
pub(crate) const SANDBOXED: &str = "sandboxed process";

/// What marks a worker's processes: the environment entries it gave its worker.
#[derive(Clone, Debug)]
pub(crate) struct Marks {
    /// `VNX_DISPATCH_ID=<id>`, whole.
    id: Vec<u8>,
    /// `<seal variable>=`, the start of an entry.
    seal: Vec<u8>,
    /// The start time of the worker's CLI (`/proc/PID/stat`'s ticks; 0 when unknown): every
    /// process that inherited its environment started at or after it, so an older process's
    /// environment (most of the machine's) is never read.
    since: u64,
}

impl Marks {
    /// The marks of dispatch `id`'s worker.
    pub(crate) fn of(id: &str) -> Marks {
        Marks {
            id: format!("VNX_DISPATCH_ID={id}").into_bytes(),
            seal: format!("{}=", super::signals::SEAL_VAR).into_bytes(),
            since: 0,
        }
    }

    /// The marks of a worker whose CLI is process `cli`, which runs: no process that
    /// started before it is looked at.
    pub(crate) fn of_worker(id: &str, cli: u32) -> Marks {
        Marks {
            since: start_of(cli).unwrap_or(0),
            ..Marks::of(id)
        }
    }

    /// Whether an `environ` (entries separated by NULs) carries both.
    fn carried_by(&self, environ: &[u8]) -> bool {
        let mut entries = environ.split(|b| *b == 0);
        let (mut id, mut seal) = (false, false);
        for entry in entries.by_ref() {
            id |= entry == self.id.as_slice();
            seal |= entry.starts_with(&self.seal);
            if id && seal {
                return true;
            }
        }
        false
    }
}

/// What `/proc/PID/stat` says of a process.
#[derive(Clone, Copy, Debug)]
struct Stat {
    ppid: u32,
    start: u64,
    /// Exited and not yet reaped (`Z`), or dead (`X`).
    gone: bool,
}

/// Reads at most `max` bytes of a `/proc` file, never through a link.
fn read_proc(path: &Path, max: u64) -> Option<Vec<u8>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let mut out = Vec::new();
    file.take(max).read_to_end(&mut out).ok()?;
    Some(out)
}

/// A process's `stat`: its parent, start time and whether it is gone.
fn stat(pid: u32) -> Option<Stat> {
    let text = read_proc(Path::new(&format!("/proc/{pid}/stat")), MAX_STAT)?;
    parse_stat(&String::from_utf8_lossy(&text))
}

/// `pid (comm) state ppid … starttime …`: the command may hold spaces and parentheses, so the
/// fields are counted after its last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // After the command: state (field 3), ppid (4), …, starttime (22).
    let state = *fields.first()?;
    Some(Stat {
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
        gone: matches!(state, "Z" | "X" | "x"),
    })
}

/// The start time of process `pid`, while it runs.
fn start_of(pid: u32) -> Option<u64> {
    stat(pid).filter(|s| !s.gone).map(|s| s.start)
}

/// Whether process `id` still runs (the same process: its pid and start time).
pub(crate) fn runs(id: ProcessId) -> bool {
    start_of(id.pid) == Some(id.start)
}

/// A process's pids in the PID namespaces it is in, outermost first (`status`'s `NSpid`).
fn namespace_pids(pid: &str) -> Option<Vec<u32>> {
    let text = read_proc(Path::new(&format!("/proc/{pid}/status")), MAX_STAT)?;
    let text = String::from_utf8_lossy(&text);
    let line = text.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    line.split_ascii_whitespace()
        .map(|id| id.parse().ok())
        .collect()
}

/// A process's pid in its own PID namespace, when that is not this one's.
fn namespace_pid(pid: u32) -> Option<u32> {
    let ids = namespace_pids(&pid.to_string())?;
    // One id: the process is in this namespace; nothing to tell.
    (ids.len() > 1).then(|| ids.last().copied()).flatten()
}

/// Whether process `pid` is in this process's own PID namespace (not in one below it: a
/// container's, a sandbox's).
fn in_own_namespace(pid: u32) -> bool {
    let depth = |p: &str| namespace_pids(p).map(|ids| ids.len());
    depth(&pid.to_string()).is_some_and(|d| Some(d) == depth("self"))
}

/// The user's own running processes, at most [`MAX_PIDS`] entries looked at.
fn table() -> HashMap<u32, Stat> {
    let uid = rustix::process::geteuid().as_raw();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .flatten()
        .take(MAX_PIDS)
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            // The directory's owner is the process's effective user.
            let own = e.metadata().is_ok_and(|m| m.uid() == uid);
            let stat = stat(pid).filter(|s| own && !s.gone)?;
            Some((pid, stat))
        })
        .collect()
}

/// `root` and its descendants in `table`; a PID namespace's init among them (bwrap's, in the
/// sandbox) is followed only into its first command, its namespace's pid 2: what else it
/// holds was orphaned there, left behind.
fn tree(root: u32, table: &HashMap<u32, Stat>) -> HashSet<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, s) in table {
        children.entry(s.ppid).or_default().push(*pid);
    }
    let mut seen = HashSet::from([root]);
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        let init = namespace_pid(pid) == Some(1);
        for child in children.get(&pid).into_iter().flatten() {
            if init && namespace_pid(*child) != Some(2) {
                continue;
            }
            if seen.insert(*child) {
                todo.push(*child);
            }
        }
    }
    seen
}

/// The supervisor and its ancestors: vnx's own, never the worker's.
fn own_line(table: &HashMap<u32, Stat>) -> HashSet<u32> {
    let mut line = HashSet::new();
    let mut pid = std::process::id();
    while pid > 1 && line.insert(pid) {
        match table.get(&pid) {
            Some(s) => pid = s.ppid,
            None => break,
        }
    }
    line
}

/// The processes the worker marked by `marks` left running: every running process that
/// carries its marks, but `cli`'s tree (the CLI's process while it runs, `None` once it
/// exited) and the supervisor's line; in pid order.
pub(crate) fn find(marks: &Marks, cli: Option<u32>) -> Vec<LeftProcess> {
    let table = table();
    let mut skip = own_line(&table);
    // Under the CLI's process: what a sandbox (a PID namespace of the CLI's own) holds.
    let mut under = HashSet::new();
    if let Some(cli) = cli {
        skip.extend(tree(cli, &table));
        under = descendants(cli, &table);
    }
    // A process in another PID namespace (a container's) is never the worker's left here;
    // looked at only for the few that carry the marks (reading their environment is the
    // scan's cost, and most processes are not the worker's).
    let candidates = (table.keys()).filter(|pid| !skip.contains(pid));
    let mut left = marked(marks, &table, candidates);
    left.retain(|p| under.contains(&p.id.pid) || in_own_namespace(p.id.pid));
    left
}

/// `root` and every process below it in `table`.
fn descendants(root: u32, table: &HashMap<u32, Stat>) -> HashSet<u32> {
    let mut all = HashSet::from([root]);
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        for (child, s) in table {
            if s.ppid == pid && all.insert(*child) {
                todo.push(*child);
            }
        }
    }
    all
}

/// The processes a sandboxed CLI (`leader`, bwrap) left running in its PID namespace while
/// it runs: under `leader`, outside the CLI's own tree, carrying `marks`. Cheap enough for
/// every second: only the leader's descendants are looked at. They end with the CLI.
pub(crate) fn orphaned(marks: &Marks, leader: u32) -> Vec<LeftProcess> {
    let table = table();
    let all = descendants(leader, &table);
    let cli = tree(leader, &table);
    marked(marks, &table, all.iter().filter(|pid| !cli.contains(pid)))
}

/// Those of `candidates` (running, in `table`) that carry `marks`, in pid order.
fn marked<'a>(
    marks: &Marks,
    table: &HashMap<u32, Stat>,
    candidates: impl Iterator<Item = &'a u32>,
) -> Vec<LeftProcess> {
    let mut left: Vec<LeftProcess> = candidates
        .filter_map(|pid| Some((pid, table.get(pid)?)))
        .filter(|(_, s)| s.start >= marks.since)
        .filter_map(|(pid, s)| {
            let environ = read_proc(Path::new(&format!("/proc/{pid}/environ")), MAX_READ)?;
            if !marks.carried_by(&environ) {
                return None;
            }
            let cmdline = read_proc(Path::new(&format!("/proc/{pid}/cmdline")), MAX_READ)?;
            // Read after the start time: the same process, not one that took its pid since.
            let id = ProcessId {
                pid: *pid,
                start: s.start,
            };
            runs(id).then(|| LeftProcess {
                id,
                parent: s.ppid,
                command: command_line(&cmdline),
            })
        })
        .collect();
    left.sort_by_key(|p| p.id);
    left
}

/// A `cmdline` (arguments separated by NULs) as one line: joined by spaces, control
/// characters escaped, cut to [`BackgroundTask::MAX_TEXT`] characters.
fn command_line(cmdline: &[u8]) -> String {
    let text = String::from_utf8_lossy(cmdline);
    let joined = (text.split('\0'))
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let escaped: String = (joined.chars())
        .flat_map(|c| {
            let escape = c.is_control();
            let mut out: Vec<char> = Vec::new();
            if escape {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
            out
        })
        .collect();
    crate::provider::cli::stream::truncate(&escaped, BackgroundTask::MAX_TEXT)
}

/// A process held for signalling: through a pidfd when the kernel has them, opened before
/// the start time was checked, so it names that process whatever takes its pid later.
struct Held {
    id: ProcessId,
    pidfd: Option<std::os::fd::OwnedFd>,
}

impl Held {
    /// Process `id`, if it still runs.
    fn of(id: ProcessId) -> Option<Held> {
        let pid = rustix::process::Pid::from_raw(i32::try_from(id.pid).ok()?)?;
        let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok();
        runs(id).then_some(Held { id, pidfd })
    }

    fn signal(&self, signal: rustix::process::Signal) {
        match &self.pidfd {
            Some(fd) => {
                let _ = rustix::process::pidfd_send_signal(fd, signal);
            }
            // No pidfd: checked again just before, which leaves a moment for a reuse.
            None if runs(self.id) => {
                if let Some(pid) = i32::try_from(self.id.pid)
                    .ok()
                    .and_then(rustix::process::Pid::from_raw)
                {
                    let _ = rustix::process::kill_process(pid, signal);
                }
            }
            None => {}
        }
    }
}

/// Stops `procs`: SIGTERM to each that still runs (the same process: pid and start time),
/// up to `grace` for them to end, then SIGKILL to those that did not. The processes it
/// signalled.
pub(crate) fn stop(procs: &[LeftProcess], grace: Duration) -> Vec<LeftProcess> {
    let held: Vec<(&LeftProcess, Held)> = (procs.iter())
        .filter_map(|p| Held::of(p.id).map(|h| (p, h)))
        .collect();
    for (_, h) in &held {
        h.signal(rustix::process::Signal::TERM);
    }
    let until = Instant::now() + grace;
    while held.iter().any(|(p, _)| runs(p.id)) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    for (p, h) in &held {
        if runs(p.id) {
            h.signal(rustix::process::Signal::KILL);
        }
    }
    held.into_iter().map(|(p, _)| p.clone()).collect()
}

/// Stops every process the worker marked by `marks` left running (but `cli`'s tree), in
/// rounds until none is found (at most [`ROUNDS`]): what one started while it was stopped
/// is found in the next. The processes it signalled.
pub(crate) fn stop_all(marks: &Marks, cli: Option<u32>, grace: Duration) -> Vec<LeftProcess> {
    let mut stopped: Vec<LeftProcess> = Vec::new();
    for _ in 0..ROUNDS {
        let left = find(marks, cli);
        if left.is_empty() {
            break;
        }
        for p in stop(&left, grace) {
            if !stopped.iter().any(|s| s.id == p.id) {
                stopped.push(p);
            }
        }
    }
    stopped
}

/// The tasks of `left` for a receipt, one for each process whose parent is not among them
/// (a backgrounded `sh -c '…'` and the commands it runs are one task): at most
/// [`BackgroundTask::MAX_TASKS`], and how many more there were.
pub(crate) fn tasks(left: &[LeftProcess]) -> (Vec<BackgroundTask>, u32) {
    let pids: HashSet<u32> = left.iter().map(|p| p.id.pid).collect();
    let roots: Vec<&LeftProcess> = (left.iter())
        .filter(|p| !pids.contains(&p.parent))
        .collect();
    let tasks: Vec<BackgroundTask> = (roots.iter())
        .take(BackgroundTask::MAX_TASKS)
        .map(|p| p.task())
        .collect();
    let more = u32::try_from(roots.len() - tasks.len()).unwrap_or(u32::MAX);
    (tasks, more)
}

#[cfg(test)]
#[path = "left_tests.rs"]
mod tests;
