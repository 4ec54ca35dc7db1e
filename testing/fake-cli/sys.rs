//! Process plumbing shared by every personality: what fd 0/1 are, reading stdin, ids and
//! timestamps, shell quoting, ignoring SIGTERM and running helper processes with a deadline.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::BorrowedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What a standard stream is connected to, as the invocation log names it.
pub fn fd_kind(fd: BorrowedFd<'_>) -> &'static str {
    if rustix::termios::isatty(fd) {
        return "tty";
    }
    let Ok(owned) = fd.try_clone_to_owned() else {
        return "closed";
    };
    let Ok(meta) = File::from(owned).metadata() else {
        return "other";
    };
    let kind = meta.file_type();
    if kind.is_char_device() {
        let null = std::fs::metadata("/dev/null").map(|m| m.rdev()).ok();
        if null == Some(meta.rdev()) {
            return "null";
        }
        "other"
    } else if kind.is_fifo() {
        "pipe"
    } else if kind.is_file() {
        "file"
    } else {
        "other"
    }
}

pub fn stdin_is_tty() -> bool {
    io::stdin().is_terminal()
}

/// Reads stdin to EOF (blocks for as long as the writer keeps it open, like the real CLIs).
pub fn read_stdin_to_end() -> String {
    let mut bytes = Vec::new();
    // A read error (e.g. EIO) just ends the input, as it does for node's stdin.
    let _ = io::stdin().lock().read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Reads stdin to EOF, but gives up with "" when nothing at all arrives within `first_byte`
/// (as a CLI may: a stdin that is neither a TTY nor ever written is not waited on).
pub fn read_stdin_unless_silent(first_byte: Duration) -> String {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = [0u8; 8192];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut bytes = match rx.recv_timeout(first_byte) {
        Ok(chunk) => chunk,
        Err(_) => return String::new(),
    };
    while let Ok(chunk) = rx.recv() {
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if getrandom::fill(&mut bytes).is_err() {
        // Never expected; fall back to something unique enough for a test double.
        let seed = Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(31);
        }
    }
    bytes
}

fn format_uuid(b: [u8; 16]) -> String {
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A random RFC 4122 version 4 UUID (the session ids of most CLIs).
pub fn uuid_v4() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    format_uuid(b)
}

/// A time-ordered version 7 UUID (some CLIs' thread ids look like this).
pub fn uuid_v7() -> String {
    let mut b = random_bytes::<16>();
    let millis = jiff::Timestamp::now().as_millisecond().max(0) as u64;
    b[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;
    format_uuid(b)
}

pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `2025-01-02T03:04:05.678Z`, the shape node's `Date.toISOString()` prints.
pub fn iso_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

pub fn millis_now() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Quotes `s` as one POSIX shell word.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `path` made absolute against `base` and cleaned of `.`/`..` without touching the disk.
pub fn absolutize(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Writes `contents` to `path` through a temporary file and a rename, so readers never see
/// a partial file.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

/// From now on SIGTERM does nothing to this process (nor to children it starts later).
#[expect(unsafe_code, reason = "libc::signal sets SIGTERM to SIG_IGN")]
pub fn ignore_sigterm() {
    // SAFETY: installing SIG_IGN for SIGTERM touches no memory of ours and has no handler
    // to race with; the previous disposition is not needed.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
}

/// Waits for `child` up to `timeout`; kills it when the deadline passes. `None` = timed out.
pub fn wait_with_deadline(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Runs a hook-like helper: `stdin_data` on its stdin, output discarded, at most `timeout`.
pub fn run_helper(mut cmd: Command, stdin_data: Option<String>, timeout: Duration) -> String {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd.stdin(if stdin_data.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return format!("spawn failed: {e}"),
    };
    if let (Some(data), Some(mut pipe)) = (stdin_data, child.stdin.take()) {
        // A thread, so a helper that never reads its stdin cannot block us.
        std::thread::spawn(move || {
            let _ = pipe.write_all(data.as_bytes());
        });
    }
    match wait_with_deadline(&mut child, timeout) {
        Some(status) => match status.code() {
            Some(code) => format!("exit {code}"),
            None => "killed by signal".to_string(),
        },
        None => format!("timed out after {}s", timeout.as_secs_f64()),
    }
}

/// Runs `sh -c command` in `cwd` with stdout and stderr merged in order, as the real CLIs'
/// shell tools report them. Returns (output, exit code; -1 when killed by a signal).
pub fn run_shell(command: &str, cwd: &Path, env: &[(String, String)]) -> (String, i32) {
    let (mut reader, writer) = match io::pipe() {
        Ok(pair) => pair,
        Err(e) => return (format!("pipe failed: {e}"), 127),
    };
    let writer2 = match writer.try_clone() {
        Ok(w) => w,
        Err(e) => return (format!("pipe failed: {e}"), 127),
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn();
    drop(cmd); // closes our copies of the write end, so EOF comes when the shell is done
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return (format!("sh: {e}"), 127),
    };
    let mut out = Vec::new();
    let _ = reader.read_to_end(&mut out);
    let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
    (String::from_utf8_lossy(&out).into_owned(), code)
}

/// A shell command run in the background (`@fake background`): `sh -c COMMAND` in `cwd`
/// with `env`, its output discarded, in its own process group (so stopping it stops what it
/// started).
pub struct BackgroundShell {
    child: Child,
    /// It ended (seen ended, or stopped).
    ended: bool,
    /// Its exit code, once it exited by itself.
    code: Option<i32>,
}

impl BackgroundShell {
    pub fn start(command: &str, cwd: &Path, env: &[(String, String)]) -> Option<Self> {
        use std::os::unix::process::CommandExt;
        let child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(cwd)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| eprintln!("vnx-fake-cli: background: {e}"))
            .ok()?;
        Some(BackgroundShell {
            child,
            ended: false,
            code: None,
        })
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        if !self.ended {
            match self.child.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    self.ended = true;
                    self.code = status.code();
                }
                Err(_) => self.ended = true,
            }
        }
        !self.ended
    }

    /// Its exit code, once it exited by itself (not stopped, not killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.code
    }

    /// Stops it and what it started.
    #[expect(unsafe_code, reason = "libc::killpg signals the shell's process group")]
    pub fn stop(&mut self) {
        if self.running() {
            let group = libc::pid_t::try_from(self.child.id()).unwrap_or(0);
            if group > 0 {
                // SAFETY: killpg only sends a signal, to the group this shell's child leads.
                unsafe {
                    libc::killpg(group, libc::SIGKILL);
                }
            }
            let _ = self.child.wait();
            self.ended = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_have_the_right_shape_and_version() {
        let v4 = uuid_v4();
        assert!(is_uuid(&v4), "{v4}");
        assert_eq!(&v4[14..15], "4");
        let v7 = uuid_v7();
        assert!(is_uuid(&v7), "{v7}");
        assert_eq!(&v7[14..15], "7");
        assert!(!is_uuid("not-a-uuid"));
    }

    #[test]
    fn absolutize_cleans_dot_dot() {
        let base = Path::new("/w/tree");
        assert_eq!(
            absolutize(base, Path::new("a/../b/./c")),
            PathBuf::from("/w/tree/b/c")
        );
        assert_eq!(absolutize(base, Path::new("../x")), PathBuf::from("/w/x"));
        assert_eq!(
            absolutize(base, Path::new("/etc/x")),
            PathBuf::from("/etc/x")
        );
    }

    #[test]
    fn shell_quote_survives_single_quotes() {
        let (out, code) = run_shell(
            &format!("printf %s {}", shell_quote("it's")),
            Path::new("/"),
            &[],
        );
        assert_eq!((out.as_str(), code), ("it's", 0));
    }
}
