//! An interactive worker's own session file: its TUI writes nothing to `worker.log` while it
//! runs, but a CLI may append the session to a file of its own (its module says where,
//! `CodingCli::sessions`). Where the CLIs keep their state as the dispatching command's
//! environment says ([`Homes`], recorded in the dispatch's spec and its signed start), which
//! file is a dispatch's (`locate`: the session vnx named for it, ADR 0052, else the session's
//! working directory is the dispatch's worktree, written since the dispatch started, never
//! merely the newest file), following it as a transcript ([`Follower`]), the token usage it
//! records (`usage`), and which session ids a CLI could have written ([`valid_id`]).
//!
//! Session files are written by the worker's CLI, so they are hostile input like every file a
//! worker can write: opened without following a link and without blocking on a FIFO, only
//! regular files, read in bounded amounts, rendered with control characters escaped
//! ([`crate::provider::transcript`]). What they say is informational only: nothing read here
//! decides a merge.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::cli::session::SessionStore;
use super::cli::{self, CodingCli, Provider};
use super::declared::DeclaredSession;
use super::transcript::Transcript;

mod declared;
mod live;
mod locate;
mod usage;

pub use super::cli::session::Homes;
pub use live::LiveUsage;
pub use usage::{MAX_USAGE_LINE, SessionRead, read_usage, usage};

/// The most bytes of a session file read in one go by a [`Follower`].
const MAX_READ: u64 = 4 << 20;

impl Homes {
    /// The homes an environment names: `var` looks a variable up (absolute paths only count),
    /// `home` is the home directory when the environment names none. Each CLI's module says
    /// which variables name its home (`CodingCli::home`).
    pub fn of(var: impl Fn(&str) -> Option<PathBuf>, home: Option<PathBuf>) -> Homes {
        let var = |name: &str| var(name).filter(|p| p.is_absolute());
        let home = var("HOME").or(home);
        Homes {
            homes: cli::CLIS
                .iter()
                .filter_map(|c| {
                    Some((
                        c.provider().name().to_owned(),
                        c.home(&var, home.as_deref())?,
                    ))
                })
                .collect(),
            sessions: None,
        }
    }

    /// The homes named by an environment of names and values.
    pub fn of_env(env: &[(OsString, OsString)], home: Option<PathBuf>) -> Homes {
        Homes::of(|name| var(env, name), home)
    }

    /// The homes as `dispatch_started` records them.
    pub fn recorded(&self) -> crate::receipts::CliHomes {
        crate::receipts::CliHomes {
            sessions: self
                .sessions
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            homes: self
                .homes
                .iter()
                .map(|(name, home)| (name.clone(), home.to_string_lossy().into_owned()))
                .collect(),
        }
    }

    /// The homes a `dispatch_started` recorded (absolute paths only count).
    pub fn from_recorded(r: &crate::receipts::CliHomes) -> Homes {
        let p = |s: &String| Some(PathBuf::from(s)).filter(|p| p.is_absolute());
        Homes {
            homes: r
                .homes
                .iter()
                .filter_map(|(name, home)| Some((name.clone(), p(home)?)))
                .collect(),
            sessions: r.sessions.as_ref().and_then(p),
        }
    }

    /// Records where a declared TUI named `provider` writes its `session` files, as its home
    /// (`~` made `home`, the dispatching environment's); nothing when that cannot be said.
    pub fn declare(&mut self, provider: &str, session: &DeclaredSession, home: Option<&Path>) {
        if let Some(dir) = session.dir_in(home) {
            self.homes.insert(provider.to_owned(), dir);
        }
    }

    /// The home directory an environment names (`HOME`, absolute), else `home`.
    pub fn home_of_env(env: &[(OsString, OsString)], home: Option<PathBuf>) -> Option<PathBuf> {
        var(env, "HOME").filter(|p| p.is_absolute()).or(home)
    }

    /// The CLI's home: its config or state directory.
    pub fn of_cli(&self, cli: &Cli) -> Option<&Path> {
        self.get(cli.name())
    }

    /// Where `cli`'s sessions are: the dispatch's own place, else where its home keeps them.
    pub fn sessions_of(&self, cli: &Cli) -> Option<PathBuf> {
        match &self.sessions {
            Some(own) => Some(own.clone()),
            None => Some(cli.sessions_in(self.of_cli(cli)?)),
        }
    }
}

/// The variable `name` of an environment of names and values.
fn var(env: &[(OsString, OsString)], name: &str) -> Option<PathBuf> {
    let (_, v) = env.iter().find(|(k, _)| k == OsStr::new(name))?;
    Some(PathBuf::from(v))
}

/// Whether `id` is a session id `provider`'s CLI could have written, by that CLI's own format
/// (its module's `SessionStore::valid_id`); a declared provider's is a word of ASCII
/// letters, digits and `._:-` of at most 128 bytes that starts with a letter or digit. Ids
/// are read from what a worker can write (hook payloads, its output, session files): one that
/// fails this is neither recorded nor resumed, so it can never reach a CLI's argv as an
/// option.
pub fn valid_id(provider: &str, id: &str) -> bool {
    cli::named(provider)
        .and_then(|c| c.sessions())
        .map_or_else(|| cli::session::valid_other_id(id), |s| s.valid_id(id))
}

/// A fresh session id for a CLI that lets vnx choose it: a random (version 4) UUID.
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No randomness: unique enough from the clock and the process (not a secret).
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b = (nanos ^ (u128::from(std::process::id()) << 96)).to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    [&h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]].join("-")
}

/// A CLI whose TUI keeps a session file vnx can read: a built-in CLI whose module hands out
/// its `SessionStore` (`CodingCli::sessions`), or a declared one whose `interactive.session:`
/// describes its files, the same capability (`declared`).
#[derive(Clone)]
pub struct Cli {
    name: String,
    module: Option<&'static dyn CodingCli>,
    store: Store,
}

#[derive(Clone)]
enum Store {
    Module(&'static dyn SessionStore),
    Declared(std::sync::Arc<declared::DeclaredSessions>),
}

impl std::fmt::Debug for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Cli").field(&self.name()).finish()
    }
}

impl PartialEq for Cli {
    fn eq(&self, other: &Cli) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Cli {}

impl Cli {
    /// The CLI of a built-in provider's name, if it keeps session files vnx reads.
    pub fn of(provider: &str) -> Option<Cli> {
        let module = cli::named(provider)?;
        Some(Cli {
            name: provider.to_owned(),
            module: Some(module),
            store: Store::Module(module.sessions()?),
        })
    }

    /// The CLI of `provider`: a built-in one's, else a declared one's whose TUI writes
    /// `declared` session files.
    pub fn for_provider(provider: &str, declared: Option<&DeclaredSession>) -> Option<Cli> {
        match Provider::parse(provider) {
            Ok(_) => Cli::of(provider),
            Err(_) => declared.map(|s| Cli::declared(provider, s)),
        }
    }

    /// A declared provider's TUI, named `provider`, that writes `session`.
    pub fn declared(provider: &str, session: &DeclaredSession) -> Cli {
        Cli {
            name: provider.to_owned(),
            module: None,
            store: Store::Declared(std::sync::Arc::new(declared::DeclaredSessions(
                session.clone(),
            ))),
        }
    }

    /// Its name, as providers are named.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its module, for a built-in CLI.
    pub fn module(&self) -> Option<&'static dyn CodingCli> {
        self.module
    }

    /// Its session files, as the capability reads them.
    pub fn store(&self) -> &dyn SessionStore {
        match &self.store {
            Store::Module(store) => *store,
            Store::Declared(store) => &**store,
        }
    }

    /// The directory under its `home` that holds every session it keeps (and nothing vnx
    /// reads besides): what a sandboxed dispatch's own session place stands in for. A
    /// declared CLI's home is its sessions' directory (recorded so at its start).
    pub fn sessions_in(&self, home: &Path) -> PathBuf {
        match self.store().dir() {
            "" => home.to_owned(),
            dir => home.join(dir),
        }
    }

    /// Whether a dispatch in `lane` takes its token usage from the session file when its
    /// output recorded none (a declared TUI's: its interactive lane).
    pub fn usage_from_session(&self, lane: super::Lane) -> bool {
        self.module.map_or(lane == super::Lane::Interactive, |m| {
            m.usage_from_session(lane)
        })
    }

    /// A renderer of its session file (one told from the file's events, as a worker's log
    /// is, when its store names none).
    pub fn transcript(&self) -> Transcript {
        self.store()
            .transcript()
            .map_or_else(Transcript::new, Transcript::of)
    }
}

/// Which session a dispatch's is.
#[derive(Clone, Debug)]
pub struct Wanted {
    /// The worker's CLI.
    pub cli: Cli,
    /// Where the CLIs keep their state for this dispatch.
    pub homes: Homes,
    /// The session's working directory: the dispatch's worktree.
    pub cwd: PathBuf,
    /// When the dispatch started: a file last written before is an older session's.
    pub since: SystemTime,
    /// The session's id, when the dispatch's hooks or receipts named it.
    pub session_id: Option<String>,
}

impl Wanted {
    /// The dispatch's session file, if its CLI wrote one (see `locate`).
    pub fn find(&self) -> Option<PathBuf> {
        locate::find(self)
    }

    /// Where its CLI keeps the sessions looked through, for a message.
    pub fn looked_in(&self) -> Option<PathBuf> {
        let sessions = self.homes.sessions_of(&self.cli)?;
        Some(self.cli.store().of_cwd(&sessions, &self.cwd))
    }
}

/// Follows a dispatch's session file as a transcript: each [`Follower::poll`] looks for the
/// file (a new one, when the CLI started another session, is rendered from its start) and
/// renders what was appended since.
#[derive(Debug)]
pub struct Follower {
    wanted: Wanted,
    /// The session followed, its file (none for a session its CLI gives as lines,
    /// `SessionStore::lines`) and how many of its bytes were rendered.
    current: Option<Following>,
    render: Transcript,
}

impl Follower {
    /// A follower that has read nothing yet.
    pub fn new(wanted: Wanted) -> Follower {
        let render = wanted.cli.transcript();
        Follower {
            wanted,
            current: None,
            render,
        }
    }

    /// The file followed, once found.
    pub fn path(&self) -> Option<&Path> {
        self.current.as_ref().map(|(p, _, _)| p.as_path())
    }

    /// The lines rendered from what was appended since the last poll, and how many bytes
    /// were read.
    pub fn poll(&mut self) -> (Vec<String>, u64) {
        let found = self.wanted.find();
        let store = self.wanted.cli.store();
        if found.is_some() && found.as_deref() != self.path() {
            let opened = found.and_then(|p| open_following(store, p));
            if opened.is_some() {
                self.current = opened;
                self.render = self.wanted.cli.transcript();
            }
        }
        let Some(following) = &mut self.current else {
            return (Vec::new(), 0);
        };
        let (buf, _) = read_on(store, following, MAX_READ);
        let n = buf.len() as u64;
        (self.render.feed(&buf), n)
    }

    /// The lines held back for more (a last line without its newline).
    pub fn finish(self) -> Vec<String> {
        self.render.finish()
    }
}

/// A session file followed as it grows: its path, its file (none for a store of rows, read
/// through the store), and how far it was read.
pub(super) type Following = (PathBuf, Option<std::fs::File>, u64);

/// Session file `path` opened to be followed from its start: never through a link, never
/// waiting on a FIFO.
pub(super) fn open_following(store: &dyn SessionStore, path: PathBuf) -> Option<Following> {
    if store.are_rows() {
        return Some((path, None, 0));
    }
    let file = crate::files::open_hostile(&path).ok()?;
    Some((path, Some(file), 0))
}

/// What the followed session appended since it was last read, at most `max` bytes (rows,
/// for a store of them), its offset moved past it; and whether it is now shorter than what
/// was read of it (cut short, or its rows gone), which only a worker does.
pub(super) fn read_on(
    store: &dyn SessionStore,
    following: &mut Following,
    max: u64,
) -> (Vec<u8>, bool) {
    let (path, file, offset) = following;
    let mut buf = Vec::new();
    let mut shrank = false;
    match file {
        Some(file) => {
            shrank = file.metadata().is_ok_and(|m| m.len() < *offset);
            if !shrank {
                let _ = file.seek(SeekFrom::Start(*offset));
                let _ = file.take(max).read_to_end(&mut buf);
            }
        }
        // What it gives later begins with what it gave before: the rest is new.
        None => {
            if let Some(Ok(lines)) = store.lines(path) {
                let from = usize::try_from(*offset).unwrap_or(usize::MAX);
                shrank = lines.len() < from;
                let end = lines
                    .len()
                    .min(from.saturating_add(usize::try_from(max).unwrap_or(usize::MAX)));
                buf = lines.get(from..end).unwrap_or_default().to_vec();
            }
        }
    }
    *offset += buf.len() as u64;
    (buf, shrank)
}

/// Renders a whole session file, line by line as `each` takes them; streamed, so memory stays
/// bounded by the renderer's line cap whatever the file holds.
pub fn render_each(cli: Cli, path: &Path, mut each: impl FnMut(String)) -> std::io::Result<()> {
    let mut t = cli.transcript();
    stream(Some(cli.store()), path, |chunk| {
        t.feed(chunk).into_iter().for_each(&mut each)
    })?;
    t.finish().into_iter().for_each(each);
    Ok(())
}

/// Reads a whole session file and renders it (see [`render_each`]).
pub fn render(cli: Cli, path: &Path) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    render_each(cli, path, |l| lines.push(l))?;
    Ok(lines)
}

/// The largest session file read whole (for its usage, or `show --log` after the end).
pub const MAX_SESSION_BYTES: u64 = 256 << 20;

/// The bytes read from a session file at a time.
const CHUNK: usize = 1 << 20;

/// Feeds a session file's bytes to `each` in chunks of at most [`CHUNK`]: a regular file,
/// not through a link, refused when larger than [`MAX_SESSION_BYTES`]. Memory is the
/// chunk's, whatever the file's size or lines. A session its CLI gives as lines
/// (`SessionStore::lines`, bounded by its module) is fed those.
fn stream(
    store: Option<&dyn SessionStore>,
    path: &Path,
    mut each: impl FnMut(&[u8]),
) -> std::io::Result<()> {
    if let Some(lines) = store.and_then(|s| s.lines(path)) {
        lines?.chunks(CHUNK).for_each(each);
        return Ok(());
    }
    let file = crate::files::open_hostile(path)?;
    let len = file.metadata()?.len();
    if len > MAX_SESSION_BYTES {
        return Err(std::io::Error::other(format!(
            "{len} bytes, over the limit of {MAX_SESSION_BYTES}"
        )));
    }
    let mut file = file.take(MAX_SESSION_BYTES);
    let mut buf = vec![0u8; CHUNK];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => each(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
pub(crate) mod hostile;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
