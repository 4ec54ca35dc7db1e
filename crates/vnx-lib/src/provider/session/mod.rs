//! An interactive worker's own session file, per CLI: its TUI writes nothing to `worker.log`
//! while it runs, but claude, codex and gemini each append the session to a file of their
//! own. Where the CLIs keep their state as the dispatching command's environment says
//! ([`Homes`], recorded in the dispatch's spec and its signed start), which file is a
//! dispatch's (`locate`: the session vnx named for it, ADR 0052, else the session's working
//! directory is the dispatch's worktree, written since the dispatch started, never merely the
//! newest file), following it as a transcript ([`Follower`]), the token usage it records
//! (`usage`), and which session ids a CLI could have written ([`valid_id`]).
//!
//! Session files are written by the worker's CLI, so they are hostile input like every file a
//! worker can write: opened without following a link and without blocking on a FIFO, only
//! regular files, read in bounded amounts, rendered with control characters escaped
//! ([`crate::provider::transcript`]). What they say is informational only: nothing read here
//! decides a merge.

use std::ffi::OsStr;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::transcript::Transcript;

mod locate;
mod usage;

pub use locate::claude_project_dir;
pub use usage::{MAX_USAGE_LINE, usage};

/// The most bytes of a session file read in one go by a [`Follower`].
const MAX_READ: u64 = 4 << 20;

/// Where the CLIs keep their state, as the environment of the command that dispatched a
/// worker says (the worker runs in that environment).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Homes {
    /// claude's config dir: `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude: Option<PathBuf>,
    /// codex's home: `$CODEX_HOME`, else `~/.codex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codex: Option<PathBuf>,
    /// gemini's: `$GEMINI_CLI_HOME/.gemini`, else `~/.gemini`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gemini: Option<PathBuf>,
    /// A sandboxed dispatch's own place for its CLI's sessions, which its sandbox shows where
    /// the CLI keeps them ([`Cli::sessions_in`]): what is there only this dispatch's chain
    /// wrote. `None`: they are in the CLI's home, shared with every other dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<PathBuf>,
}

impl Homes {
    /// The homes an environment names: `var` looks a variable up (absolute paths only count),
    /// `home` is the home directory when the environment names none.
    pub fn of(var: impl Fn(&str) -> Option<PathBuf>, home: Option<PathBuf>) -> Homes {
        let var = |name: &str| var(name).filter(|p| p.is_absolute());
        let home = var("HOME").or(home);
        Homes {
            claude: var("CLAUDE_CONFIG_DIR").or_else(|| Some(home.as_ref()?.join(".claude"))),
            codex: var("CODEX_HOME").or_else(|| Some(home.as_ref()?.join(".codex"))),
            gemini: var("GEMINI_CLI_HOME")
                .or_else(|| home.clone())
                .map(|h| h.join(".gemini")),
            sessions: None,
        }
    }

    /// The homes named by an environment of names and values.
    pub fn of_env(
        env: &[(std::ffi::OsString, std::ffi::OsString)],
        home: Option<PathBuf>,
    ) -> Homes {
        Homes::of(
            |name| {
                env.iter()
                    .find(|(k, _)| k == OsStr::new(name))
                    .map(|(_, v)| PathBuf::from(v))
            },
            home,
        )
    }
}

/// The longest session id another provider's (a declared CLI's) may be.
const MAX_OTHER_ID: usize = 128;

/// Whether `id` is a session id `provider`'s CLI could have written, by that CLI's own format:
/// claude's and gemini's session ids and codex's thread ids are UUIDs, hyphenated (seen on
/// claude 2.1.197, codex 0.169 and gemini 0.61, `tests/support/fixtures/`); a declared
/// provider's is a word of ASCII letters, digits and `._:-` of at most 128 bytes that starts
/// with a letter or digit. Ids are read from what a worker can write (hook payloads, its
/// output, session files): one that fails this is neither recorded nor resumed, so it can
/// never reach a CLI's argv as an option.
pub fn valid_id(provider: &str, id: &str) -> bool {
    match Cli::of(provider) {
        Some(_) => is_uuid(id),
        None => {
            id.len() <= MAX_OTHER_ID
                && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        }
    }
}

/// A UUID in its hyphenated form (`8-4-4-4-12` hex digits), as the CLIs write them.
fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A fresh session id for a CLI that lets vnx choose it (claude's `--session-id`): a random
/// (version 4) UUID.
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
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

impl Homes {
    /// The homes as `dispatch_started` records them.
    pub fn recorded(&self) -> crate::receipts::CliHomes {
        let s = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
        crate::receipts::CliHomes {
            claude: s(&self.claude),
            codex: s(&self.codex),
            gemini: s(&self.gemini),
            sessions: s(&self.sessions),
        }
    }

    /// The homes a `dispatch_started` recorded (absolute paths only count).
    pub fn from_recorded(r: &crate::receipts::CliHomes) -> Homes {
        let p = |s: &Option<String>| s.as_ref().map(PathBuf::from).filter(|p| p.is_absolute());
        Homes {
            claude: p(&r.claude),
            codex: p(&r.codex),
            gemini: p(&r.gemini),
            sessions: p(&r.sessions),
        }
    }

    /// The CLI's home: its config or state directory.
    pub fn of_cli(&self, cli: Cli) -> Option<&Path> {
        match cli {
            Cli::Claude => self.claude.as_deref(),
            Cli::Codex => self.codex.as_deref(),
            Cli::Gemini => self.gemini.as_deref(),
        }
    }

    /// Where `cli`'s sessions are: the dispatch's own place, else where its home keeps them.
    pub fn sessions_of(&self, cli: Cli) -> Option<PathBuf> {
        match &self.sessions {
            Some(own) => Some(own.clone()),
            None => Some(cli.sessions_in(self.of_cli(cli)?)),
        }
    }
}

/// A CLI whose TUI keeps a session file vnx can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cli {
    /// claude: `<config>/projects/<cwd, munged>/<session>.jsonl`.
    Claude,
    /// codex: `<home>/sessions/YYYY/MM/DD/rollout-<time>-<session>.jsonl`.
    Codex,
    /// gemini: `<home>/tmp/<project>/chats/session-<time>-<id>.jsonl`.
    Gemini,
}

impl Cli {
    /// The CLI of a built-in provider's name.
    pub fn of(provider: &str) -> Option<Cli> {
        match provider {
            "claude" => Some(Cli::Claude),
            "codex" => Some(Cli::Codex),
            "gemini" => Some(Cli::Gemini),
            _ => None,
        }
    }

    /// Its name, as providers are named.
    pub fn name(self) -> &'static str {
        match self {
            Cli::Claude => "claude",
            Cli::Codex => "codex",
            Cli::Gemini => "gemini",
        }
    }

    /// The directory under its `home` that holds every session it keeps (and nothing vnx
    /// reads besides): what a sandboxed dispatch's own session place stands in for.
    pub fn sessions_in(self, home: &Path) -> PathBuf {
        home.join(match self {
            Cli::Claude => "projects",
            Cli::Codex => "sessions",
            Cli::Gemini => "tmp",
        })
    }

    /// A renderer of its session file.
    pub fn transcript(self) -> Transcript {
        match self {
            Cli::Claude => Transcript::claude_session(),
            Cli::Codex => Transcript::codex_rollout(),
            Cli::Gemini => Transcript::gemini_session(),
        }
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
        let sessions = self.homes.sessions_of(self.cli)?;
        Some(match self.cli {
            Cli::Claude => locate::claude_project_in(&sessions, &self.cwd),
            Cli::Codex | Cli::Gemini => sessions,
        })
    }
}

/// Follows a dispatch's session file as a transcript: each [`Follower::poll`] looks for the
/// file (a new one, when the CLI started another session, is rendered from its start) and
/// renders what was appended since.
#[derive(Debug)]
pub struct Follower {
    wanted: Wanted,
    current: Option<(PathBuf, std::fs::File, u64)>,
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
        if found.is_some() && found.as_deref() != self.path() {
            let opened =
                found.and_then(|p| Some((p.clone(), crate::files::open_hostile(&p).ok()?, 0)));
            if opened.is_some() {
                self.current = opened;
                self.render = self.wanted.cli.transcript();
            }
        }
        let Some((_, file, offset)) = &mut self.current else {
            return (Vec::new(), 0);
        };
        let mut buf = Vec::new();
        let _ = file.seek(SeekFrom::Start(*offset));
        let n = file.take(MAX_READ).read_to_end(&mut buf).unwrap_or(0) as u64;
        *offset += n;
        (self.render.feed(&buf), n)
    }

    /// The lines held back for more (a last line without its newline).
    pub fn finish(self) -> Vec<String> {
        self.render.finish()
    }
}

/// Renders a whole session file, line by line as `each` takes them; streamed, so memory stays
/// bounded by the renderer's line cap whatever the file holds.
pub fn render_each(cli: Cli, path: &Path, mut each: impl FnMut(String)) -> std::io::Result<()> {
    let mut t = cli.transcript();
    stream(path, |chunk| t.feed(chunk).into_iter().for_each(&mut each))?;
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
/// chunk's, whatever the file's size or lines.
fn stream(path: &Path, mut each: impl FnMut(&[u8])) -> std::io::Result<()> {
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
mod tests;
