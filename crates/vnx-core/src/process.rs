//! The one place vnx starts processes: short commands (git, tmux) run to completion with
//! captured output, and workers started in their own process group and stopped gracefully
//! (TERM to the group, a grace period, then KILL). Arguments are always an argv, never a shell
//! string, and variables that would redirect git are never inherited.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use process_wrap::std::{ChildWrapper, CommandWrap, ProcessGroup};

/// Variables that point git at another repository, index or object store. A parent that runs
/// vnx from a git hook sets some of them; inherited, they would make every git call in a
/// worktree act on the wrong repository.
pub const GIT_REDIRECT_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_QUARANTINE_PATH",
];

/// The settings every git vnx runs gets on its command line, where they outrank every config
/// file. A worker can write config git reads: a nested repository's own `.git/config` (a clean
/// filter, an fsmonitor, hooks), read by any git that looks inside a submodule, as `git
/// status` and `git diff` do to call it dirty. So vnx's git runs no hook, asks no fsmonitor,
/// never recurses into submodules, and compares a submodule only by the commit its gitlink
/// names (`dirty`: a moved gitlink still shows, nothing runs inside). The few commands that
/// look inside a submodule whatever the config says (`git add`, `git worktree remove` without
/// `--force`) are never run on a worktree holding one (`worktree`'s nested-repository check).
/// The settings travel to every git process git itself starts (`GIT_CONFIG_PARAMETERS`).
pub const GIT_HARDENING: &[&str] = &[
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "submodule.recurse=false",
    "diff.ignoreSubmodules=dirty",
    "status.submoduleSummary=false",
    "diff.submodule=short",
];

/// Variables that name vnx's own secrets (the signing key's path). A supervisor gets them from
/// its dispatcher; nothing vnx starts — a worker least of all — inherits them.
pub const PRIVATE_VARS: &[&str] = &["VNX_CHECKPOINT_KEY", "VNX_RELAYED_KEY"];

/// A command to run: program, arguments, working directory and extra environment.
#[derive(Clone, Debug)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    env_removed: Vec<OsString>,
    env_clear: bool,
    timeout: Option<Duration>,
    stdin: Option<PathBuf>,
    stdin_bytes: Option<std::sync::Arc<[u8]>>,
    max_output: Option<usize>,
}

impl Cmd {
    /// A command running `program` (a name looked up on `PATH`, or a path), with no
    /// arguments, in the caller's directory.
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            env_removed: Vec::new(),
            env_clear: false,
            timeout: None,
            stdin: None,
            stdin_bytes: None,
            max_output: None,
        }
    }

    /// `git` as vnx runs it: running no program a worker could have chosen ([`GIT_HARDENING`]).
    /// A hook is a program anyone who could write `.git/hooks/` chose, a worker among them;
    /// vnx's own git commands (worktrees, commits, merges, pushes) never run one. The hooks
    /// `vnx init` installs guard a person's `git merge` and `git push`, which vnx's own checks
    /// replace.
    pub fn git() -> Cmd {
        let mut cmd = Cmd::new("git");
        for setting in GIT_HARDENING {
            cmd = cmd.args(["-c", setting]);
        }
        cmd
    }

    /// Adds one argument, passed as is (never through a shell).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments, in order, each passed as is.
    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Runs the command in `dir`.
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Sets one environment variable for the command, on top of the scrubbed environment.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Leaves one variable of this process's environment out of the command's (unless
    /// [`Cmd::env`] sets it).
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Cmd {
        self.env_removed.push(key.as_ref().to_owned());
        self
    }

    /// Gives [`run`] the command's stdin from this file (else stdin is closed).
    pub fn stdin_file(mut self, path: impl AsRef<Path>) -> Cmd {
        self.stdin = Some(path.as_ref().to_owned());
        self
    }

    /// Gives [`run`] the command's stdin from these bytes, written on a thread of their own
    /// (a body that must not be an argument: another party's text).
    pub fn stdin_bytes(mut self, bytes: impl Into<std::sync::Arc<[u8]>>) -> Cmd {
        self.stdin_bytes = Some(bytes.into());
        self
    }

    /// Starts the command with none of this process's environment: only what [`Cmd::env`]
    /// sets (still scrubbed of the git-redirecting and private variables).
    pub fn env_clear(mut self) -> Cmd {
        self.env_clear = true;
        self
    }

    /// Replaces this process with the command (`execve`: the same pid and process group,
    /// so a tmux pane's signals still reach it). Returns only if that failed.
    pub fn exec(&self) -> ProcessError {
        use std::os::unix::process::CommandExt;
        spawn_error(self, self.command().exec())
    }

    /// Kills the command (its whole group) if it runs longer than this.
    pub fn timeout(mut self, limit: Duration) -> Cmd {
        self.timeout = Some(limit);
        self
    }

    /// [`Cmd::timeout`], unless the command has a limit already (a longer wait its caller
    /// chose).
    pub fn timeout_unless_set(mut self, limit: Duration) -> Cmd {
        self.timeout.get_or_insert(limit);
        self
    }

    /// Keeps at most `bytes` of each of [`run`]'s stdout and stderr; the rest is read and
    /// dropped (so the command never stalls on a full pipe). For commands whose output
    /// another party wrote (a forge's text through `gh`): it cannot grow vnx's memory.
    pub fn max_output(mut self, bytes: usize) -> Cmd {
        self.max_output = Some(bytes);
        self
    }

    /// `program arg…` for messages.
    pub fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "the one place a std::process::Command is made"
    )]
    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        if self.env_clear {
            c.env_clear();
        }
        if let Some(dir) = &self.cwd {
            c.current_dir(dir);
            // What a shell's `cd` would leave: a `PWD` inherited from elsewhere names another
            // directory.
            c.env("PWD", dir);
        }
        // git must never stop to ask for credentials or an editor.
        c.env("GIT_TERMINAL_PROMPT", "0");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let removed = self.env_removed.iter().map(OsString::as_os_str);
        let scrubbed = GIT_REDIRECT_VARS.iter().chain(PRIVATE_VARS).map(OsStr::new);
        for var in scrubbed.chain(removed) {
            if !self.env.iter().any(|(k, _)| k == var) {
                c.env_remove(var);
            }
        }
        c
    }
}

/// A finished command.
#[derive(Clone, Debug)]
pub struct Output {
    /// How it exited.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
}

impl Output {
    /// Stdout as text without the trailing newline.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim_end().to_owned()
    }

    /// Itself when the command (shown as `command`) succeeded; else
    /// [`ProcessError::Failed`] with its status and trimmed stderr.
    pub fn ok(self, command: String) -> Result<Output, ProcessError> {
        if self.status.success() {
            return Ok(self);
        }
        Err(ProcessError::Failed {
            command,
            status: self.status.to_string(),
            stderr: String::from_utf8_lossy(&self.stderr).trim().to_owned(),
        })
    }
}

/// Why a command could not be run, or failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program is not on `PATH`.
    #[error("`{program}` was not found on PATH")]
    NotFound {
        /// The program's name, as given.
        program: String,
    },
    /// The program exists but could not be started.
    #[error("could not start `{program}`")]
    Spawn {
        /// The program's name, as given.
        program: String,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// It ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command line, for the message.
        command: String,
        /// How it exited, in words.
        status: String,
        /// What it wrote to stderr, trimmed.
        stderr: String,
    },
    /// It ran past its timeout and its process group was killed.
    #[error("`{command}` did not finish within {seconds} s and was killed")]
    TimedOut {
        /// The command line, for the message.
        command: String,
        /// The timeout it had, in seconds.
        seconds: u64,
    },
}

impl ProcessError {
    /// What libgit2 said of `what`, as a failed command.
    pub fn libgit2(what: String, message: &str) -> ProcessError {
        ProcessError::Failed {
            command: what,
            status: "libgit2".into(),
            stderr: message.to_owned(),
        }
    }
}

fn spawn_error(cmd: &Cmd, source: io::Error) -> ProcessError {
    let program = cmd.program.to_string_lossy().into_owned();
    if source.kind() == io::ErrorKind::NotFound {
        ProcessError::NotFound { program }
    } else {
        ProcessError::Spawn { program, source }
    }
}

/// Spawns `wrap`, trying again for about a second while its program is busy being written
/// (`ETXTBSY`). A binary just replaced (a CLI updated by its package manager, a hook vnx just
/// wrote) is busy while any process still holds it open for writing, which includes a child
/// another thread forked in that instant and has not yet exec'd: the state passes by itself.
fn spawn_wrapped(wrap: &mut CommandWrap) -> io::Result<Box<dyn ChildWrapper>> {
    let mut pause = Duration::from_millis(5);
    for _ in 0..8 {
        match wrap.spawn() {
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(pause);
                pause *= 2;
            }
            other => return other,
        }
    }
    wrap.spawn()
}

/// Runs a command to completion with stdin closed (or from its [`Cmd::stdin_file`] or
/// [`Cmd::stdin_bytes`]), capturing its output.
pub fn run(cmd: &Cmd) -> Result<Output, ProcessError> {
    let stdin = match (&cmd.stdin, &cmd.stdin_bytes) {
        (Some(path), _) => Stdio::from(std::fs::File::open(path).map_err(|e| spawn_error(cmd, e))?),
        (None, Some(_)) => Stdio::piped(),
        (None, None) => Stdio::null(),
    };
    let mut wrap = CommandWrap::from(cmd.command());
    wrap.command_mut()
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own group, so a timeout takes whatever it started down with it.
    wrap.wrap(ProcessGroup::leader());
    let mut child = spawn_wrapped(&mut wrap).map_err(|e| spawn_error(cmd, e))?;
    if let (Some(mut pipe), Some(bytes)) = (child.stdin().take(), cmd.stdin_bytes.clone()) {
        // A command that stops reading closes the pipe: the write fails and the thread ends.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    // Drain both pipes on threads so a chatty command cannot fill one and stall.
    let out = drain(child.stdout().take(), cmd.max_output);
    let err = drain(child.stderr().take(), cmd.max_output);
    let pidfd = cmd.timeout.and_then(|_| pidfd_of(child.as_ref()));
    let status = match cmd.timeout {
        None => child.wait().map_err(|e| spawn_error(cmd, e))?,
        Some(limit) => match wait_until(
            child.as_mut(),
            pidfd.as_ref(),
            Instant::now() + limit,
            false,
        )
        .map_err(|e| spawn_error(cmd, e))?
        {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ProcessError::TimedOut {
                    command: cmd.display(),
                    seconds: limit.as_secs(),
                });
            }
        },
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// Reads `pipe` to its end on a thread, keeping at most `limit` bytes of it.
fn drain(
    pipe: Option<impl Read + Send + 'static>,
    limit: Option<usize>,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            match limit {
                None => {
                    let _ = p.read_to_end(&mut buf);
                }
                Some(n) => {
                    let _ = (&mut p).take(n as u64).read_to_end(&mut buf);
                    let _ = io::copy(&mut p, &mut io::sink());
                }
            }
        }
        buf
    })
}

/// Runs a command and requires success; returns its stdout as text.
pub fn run_ok(cmd: &Cmd) -> Result<String, ProcessError> {
    Ok(run(cmd)?.ok(cmd.display())?.text())
}

#[cfg(target_os = "linux")]
#[expect(unsafe_code, reason = "pre_exec runs a closure between fork and exec")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and only makes the prctl(2) system
    // call (through rustix, which neither allocates nor takes locks).
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(io::Error::from)
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// Makes the child, once it leads its own process group, the foreground group of the
/// terminal on its stdin before it execs — so a TUI never reads the keyboard from the
/// background. The parent does the same after the spawn (as a shell does), whichever is first.
#[expect(unsafe_code, reason = "pre_exec runs a closure between fork and exec")]
fn take_terminal(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec (after std's setpgid) and only calls
    // signal(2), getpid(2) and tcsetpgrp(3) (an ioctl), all async-signal-safe; it allocates
    // nothing and takes no locks. SIGTTOU is ignored only around the call and restored to its
    // default before exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGTTOU, libc::SIG_IGN);
            let result = libc::tcsetpgrp(0, libc::getpid());
            libc::signal(libc::SIGTTOU, libc::SIG_DFL);
            if result == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Replaces this process with `cmd` (its terminal included), for interactive commands such as
/// `tmux attach`; returns only if that fails.
pub fn exec(cmd: &Cmd) -> io::Error {
    use std::os::unix::process::CommandExt;
    cmd.command().exec()
}

/// Holds back (`true`) or lets through (`false`) SIGHUP, SIGINT and SIGTERM for the calling
/// thread. Held-back signals wait, pending, until let through; the mask is kept across
/// `exec` and inherited by threads and children made meanwhile. A supervisor holds them back
/// until its handlers are in place, so a cancel that arrives while it starts (or re-executes
/// itself) is recorded rather than killing it.
#[expect(unsafe_code, reason = "sigemptyset and pthread_sigmask through libc")]
pub fn hold_stop_signals(hold: bool) -> io::Result<()> {
    let how = if hold {
        libc::SIG_BLOCK
    } else {
        libc::SIG_UNBLOCK
    };
    // SAFETY: the set is initialised by sigemptyset before use, and pthread_sigmask only
    // reads it; no old mask is asked for.
    let errno = unsafe {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        for signal in [libc::SIGHUP, libc::SIGINT, libc::SIGTERM] {
            libc::sigaddset(set.as_mut_ptr(), signal);
        }
        libc::pthread_sigmask(how, set.as_ptr(), std::ptr::null_mut())
    };
    match errno {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Makes process group `pgid` the foreground group of the terminal `tty`, as a shell does for
/// a job: a TUI in a background group is stopped by SIGTTIN the moment it reads the keyboard.
/// SIGTTOU, which the kernel sends a background caller of `tcsetpgrp`, is ignored for the
/// call.
#[expect(
    unsafe_code,
    reason = "SIGTTOU is ignored around tcsetpgrp through libc::signal"
)]
pub fn set_foreground(tty: impl std::os::fd::AsFd, pgid: u32) -> io::Result<()> {
    let pid = pid_of(pgid)?;
    // SAFETY: SIG_IGN and SIG_DFL install no handler code; the disposition is restored right
    // after the call.
    unsafe {
        libc::signal(libc::SIGTTOU, libc::SIG_IGN);
    }
    let result = rustix::termios::tcsetpgrp(tty, pid);
    // SAFETY: as above.
    unsafe {
        libc::signal(libc::SIGTTOU, libc::SIG_DFL);
    }
    result.map_err(io::Error::from)
}

/// This process's parent, process group and session, as the PID namespace of
/// `std::process::id()` sees them. An id is `None` (rather than 0) for a process outside that
/// namespace, as in a container whose runner kept its own session: the calls return 0 there,
/// which typed pid wrappers reject (rustix's `Pid` is non-zero, and asserts it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessIds {
    /// The parent process.
    pub ppid: Option<u32>,
    /// The process group.
    pub pgid: Option<u32>,
    /// The session.
    pub sid: Option<u32>,
}

impl ProcessIds {
    /// Reads them for this process.
    #[expect(unsafe_code, reason = "getppid, getpgrp and getsid through libc")]
    pub fn read() -> ProcessIds {
        // SAFETY: getppid(2), getpgrp(2) and getsid(2) (for this process, `0`) take no
        // pointers, touch no memory and cannot fail in a way that matters here.
        let (ppid, pgid, sid) = unsafe { (libc::getppid(), libc::getpgrp(), libc::getsid(0)) };
        ProcessIds {
            ppid: visible(ppid),
            pgid: visible(pgid),
            sid: visible(sid),
        }
    }
}

/// A process id from the kernel: 0 (outside this PID namespace) and errors (-1) are `None`.
fn visible(id: libc::pid_t) -> Option<u32> {
    u32::try_from(id).ok().filter(|&v| v > 0)
}

/// Sends SIGTERM to one process (a dispatch's supervisor, which then stops its worker's
/// group and records the end).
pub fn terminate(pid: u32) -> io::Result<()> {
    rustix::process::kill_process(pid_of(pid)?, rustix::process::Signal::TERM)
        .map_err(io::Error::from)
}

/// A process (or group) id as rustix takes it; 0 is not one.
fn pid_of(id: u32) -> io::Result<rustix::process::Pid> {
    rustix::process::Pid::from_raw(id as i32)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))
}

/// This process's own process group; `None` when its leader lives outside this PID namespace.
pub fn own_process_group() -> Option<u32> {
    ProcessIds::read().pgid
}

/// A pidfd of `child`, readable the moment it exits; `None` on a kernel without them. Opened
/// once per child, before it can be reaped (its pid cannot be reused while it is unreaped).
fn pidfd_of(child: &dyn ChildWrapper) -> Option<std::os::fd::OwnedFd> {
    let pid = rustix::process::Pid::from_raw(child.id() as i32)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
}

/// Waits for a child, whose pidfd is `pidfd`, until it exits or `deadline` passes (`None`);
/// `signals` ends the wait early (`None`) when this thread catches a signal, so its caller
/// looks at once at what the handler set.
fn wait_until(
    child: &mut dyn ChildWrapper,
    pidfd: Option<&std::os::fd::OwnedFd>,
    deadline: Instant,
    signals: bool,
) -> io::Result<Option<ExitStatus>> {
    // Without a pidfd (an old kernel), look with a doubling pause.
    let Some(pidfd) = pidfd else {
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(Some(status));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    };
    // The pidfd turns readable the moment the process exits: the wait wakes then, and only
    // then is the child reaped (a wait that times out costs one poll, no `wait4`).
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = rustix::event::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [rustix::event::PollFd::new(
            pidfd,
            rustix::event::PollFlags::IN,
        )];
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            // Not readable: still running.
            Ok(0) if Instant::now() >= deadline => return Ok(None),
            Ok(0) => {}
            Ok(_) => {
                if let Some(status) = child.try_wait()? {
                    return Ok(Some(status));
                }
            }
            Err(rustix::io::Errno::INTR) if signals => return child.try_wait(),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// A process started as the leader of its own process group.
pub struct Group {
    child: Box<dyn ChildWrapper>,
    /// The leader's pidfd (see [`pidfd_of`]).
    pidfd: Option<std::os::fd::OwnedFd>,
}

/// How a group was stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It exited within the grace period after SIGTERM.
    Terminated(ExitStatus),
    /// It ignored SIGTERM and was killed with SIGKILL.
    Killed(ExitStatus),
}

impl Group {
    /// Starts `cmd` as a process-group leader; `configure` sets its stdio. On Linux the
    /// leader is also killed if the process that started it dies (`PR_SET_PDEATHSIG`), so a
    /// supervisor killed outright does not leave its worker running.
    pub fn spawn(cmd: &Cmd, configure: impl FnOnce(&mut Command)) -> Result<Group, ProcessError> {
        Group::start(cmd, configure, false)
    }

    /// Starts `cmd` like [`Group::spawn`] with the terminal on its stdin: its group becomes
    /// the terminal's foreground process group before it runs.
    pub fn spawn_in_terminal(cmd: &Cmd) -> Result<Group, ProcessError> {
        Group::start(cmd, |_| {}, true)
    }

    fn start(
        cmd: &Cmd,
        configure: impl FnOnce(&mut Command),
        terminal: bool,
    ) -> Result<Group, ProcessError> {
        let mut wrap = CommandWrap::from(cmd.command());
        configure(wrap.command_mut());
        die_with_parent(wrap.command_mut());
        if terminal {
            take_terminal(wrap.command_mut());
        }
        wrap.wrap(ProcessGroup::leader());
        let child = spawn_wrapped(&mut wrap).map_err(|e| spawn_error(cmd, e))?;
        let pidfd = pidfd_of(child.as_ref());
        Ok(Group { child, pidfd })
    }

    /// The leader's pid, which is also the group id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The leader's stdin pipe, once (when it was piped).
    pub fn stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.stdin().take()
    }

    /// The leader's stdout pipe, once (when it was piped).
    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout().take()
    }

    /// The leader's stderr pipe, once (when it was piped).
    pub fn stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.stderr().take()
    }

    /// Sends SIGCONT to the group (a member stopped by SIGTTIN before it became the
    /// terminal's foreground group goes on).
    pub fn resume(&self) -> io::Result<()> {
        rustix::process::kill_process_group(pid_of(self.pid())?, rustix::process::Signal::CONT)
            .map_err(io::Error::from)
    }

    /// Sends SIGINT to the group: a CLI's own interrupt, as Ctrl-C in its terminal would,
    /// so it ends its turn keeping its session (a budget reached, ADR 0094).
    pub fn interrupt(&self) -> io::Result<()> {
        rustix::process::kill_process_group(pid_of(self.pid())?, rustix::process::Signal::INT)
            .map_err(io::Error::from)
    }

    /// Waits for the leader to exit.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait()
    }

    /// Waits for the leader until `deadline`; `None` if it is still running.
    pub fn wait_until(&mut self, deadline: Instant) -> io::Result<Option<ExitStatus>> {
        wait_until(self.child.as_mut(), self.pidfd.as_ref(), deadline, false)
    }

    /// Waits for the leader like [`Group::wait_until`], and also ends the wait (`None`) when
    /// this thread catches a signal, so a caller whose handler only sets a flag (a cancel)
    /// looks at it at once rather than at the deadline.
    pub fn wait_or_signal(&mut self, deadline: Instant) -> io::Result<Option<ExitStatus>> {
        wait_until(self.child.as_mut(), self.pidfd.as_ref(), deadline, true)
    }

    /// Stops the whole group: SIGTERM, up to `grace` to exit, then SIGKILL.
    pub fn stop(&mut self, grace: Duration) -> io::Result<Stopped> {
        if let Some(status) = self.child.try_wait()? {
            // The leader is gone, but what it started may not be.
            let _ = self.child.signal(libc::SIGKILL);
            return Ok(Stopped::Terminated(status));
        }
        let _ = self.child.signal(libc::SIGTERM);
        if let Some(status) = self.wait_until(Instant::now() + grace)? {
            let _ = self.child.signal(libc::SIGKILL);
            return Ok(Stopped::Terminated(status));
        }
        self.child.kill()?;
        Ok(Stopped::Killed(self.child.wait()?))
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "a test checks the group from outside with sh"
)]
mod tests;
