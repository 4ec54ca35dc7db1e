//! The acting process's real ancestry, read from `/proc`: each of its ancestors' pid, the
//! dispatch whose supervisor it is (this vnx binary running `__supervise
//! …/dispatches/<id>/spec.json`, started in its tmux pane with `VNX_DISPATCH_ID=<id>`), the
//! dispatch its environment names, and its working directory. A process cannot choose its ancestors: a worker's every process
//! descends from its dispatch's supervisor while that runs, whatever variables it unset or
//! set and wherever it went. What a worker starts can only be below that supervisor, so the
//! outermost supervisor among the ancestors is the real one.
//!
//! `/proc` is read as hostile input (a worker's processes are among those read): at most
//! 64 ancestors (`MAX_DEPTH`), each one's `stat`, `cmdline` and `environ` read bounded, never
//! through a link.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The most ancestors looked at.
const MAX_DEPTH: usize = 64;
/// The most of a `stat` or `cmdline` read.
const MAX_SMALL: u64 = 64 * 1024;
/// The most of an `environ` read (the kernel takes a few MiB of environment at most).
const MAX_ENVIRON: u64 = 8 << 20;
/// The variable a dispatch's supervisor and worker carry.
const ID_VAR: &[u8] = b"VNX_DISPATCH_ID=";

/// One ancestor of the acting process, as `/proc` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ancestor {
    /// Its pid.
    pub pid: u32,
    /// The dispatch it supervises: it runs `vnx __supervise` on a dispatch's spec, its
    /// environment naming the same dispatch.
    pub supervises: Option<String>,
    /// The dispatch its environment names (`VNX_DISPATCH_ID`).
    pub dispatch_id: Option<String>,
    /// Its working directory.
    pub cwd: Option<PathBuf>,
}

/// The ancestors of this process, its parent first, up to the first process of its PID
/// namespace (or the first that cannot be read).
pub fn of_this_process() -> Vec<Ancestor> {
    let me = exe_of("self");
    let mut out = Vec::new();
    let mut pid = parent_of(std::process::id());
    while let Some(p) = pid.filter(|p| *p > 0) {
        if out.len() >= MAX_DEPTH {
            break;
        }
        out.push(ancestor(p, me));
        if p == 1 {
            break;
        }
        pid = parent_of(p);
    }
    out
}

/// The file (device and inode) process `pid` (or `self`) runs.
fn exe_of(pid: &str) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(format!("/proc/{pid}/exe")).ok()?;
    Some((meta.dev(), meta.ino()))
}

/// Process `pid` as an [`Ancestor`]; a supervisor only when it runs `me`, this vnx binary.
fn ancestor(pid: u32, me: Option<(u64, u64)>) -> Ancestor {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let dispatch_id = environ_id(&dir.join("environ"));
    let supervises = supervised(&dir.join("cmdline"))
        .filter(|id| Some(id) == dispatch_id.as_ref())
        .filter(|_| me.is_some() && exe_of(&pid.to_string()) == me);
    Ancestor {
        pid,
        supervises,
        dispatch_id,
        cwd: std::fs::read_link(dir.join("cwd")).ok(),
    }
}

/// Opens a `/proc` file to read, never through a link.
fn open(path: &Path) -> Option<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()
}

/// The parent of process `pid` (`stat`'s fourth field, counted after the command's last `)`).
fn parent_of(pid: u32) -> Option<u32> {
    let mut text = Vec::new();
    open(Path::new(&format!("/proc/{pid}/stat")))?
        .take(MAX_SMALL)
        .read_to_end(&mut text)
        .ok()?;
    let text = String::from_utf8_lossy(&text);
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// The dispatch a `vnx __supervise <spec>` command line supervises: the name of its spec's
/// directory (`dispatches/<id>/spec.json`).
fn supervised(cmdline: &Path) -> Option<String> {
    let mut text = Vec::new();
    open(cmdline)?.take(MAX_SMALL).read_to_end(&mut text).ok()?;
    let mut args = text.split(|b| *b == 0);
    let _vnx = args.next()?;
    if args.next()? != b"__supervise" {
        return None;
    }
    let spec = Path::new(std::str::from_utf8(args.next()?).ok()?);
    if spec.file_name()? != "spec.json" {
        return None;
    }
    let dir = spec.parent()?;
    (dir.parent()?.file_name()? == "dispatches").then_some(())?;
    Some(dir.file_name()?.to_str()?.to_owned())
}

/// The value of `VNX_DISPATCH_ID` in an `environ` file, read in pieces (a variable cut by the
/// bound is not seen; an entry longer than any id is read through, not kept).
fn environ_id(path: &Path) -> Option<String> {
    use std::io::BufRead;
    let file = open(path)?;
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, file.take(MAX_ENVIRON));
    let mut entry = Vec::new();
    loop {
        entry.clear();
        if (&mut reader).take(4096).read_until(0, &mut entry).ok()? == 0 {
            return None;
        }
        if entry.pop() != Some(0) {
            reader.skip_until(0).ok()?;
            continue;
        }
        if let Some(id) = entry.strip_prefix(ID_VAR) {
            return Some(String::from_utf8_lossy(id).into_owned());
        }
    }
}
