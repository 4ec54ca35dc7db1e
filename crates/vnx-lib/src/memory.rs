//! A coding CLI's memory, kept with its dispatch until a person promotes it (ADR 0126). A
//! CLI that keeps memory its later sessions load (one CLI's auto memory is shared by every
//! worktree of a repository) is pointed at its dispatch's own folder, seeded with the
//! project's memory for that CLI: the files of the last attested `memory_promoted` of it.
//! What the worker writes there stays there; `vnx memory promote` makes it the project's, a
//! signed receipt that holds the whole memory, so a later dispatch loads only what a person
//! promoted and never a file a worker placed anywhere.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::ids::DispatchId;
use crate::ledger::attest::{self, Attestor};
use crate::ledger::{LedgerError, json, tail};
use crate::receipts::{self, MemoryFile, MemoryPromoted};

/// The memory folder's name in a dispatch's directory.
pub const DIR: &str = "memory";
/// At most this many files of a worker's memory folder are read.
pub const MAX_FILES: usize = 32;
/// A file over this size in a worker's memory folder is passed over.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;
/// The longest `memory_promoted` line a launch reads through its hint.
const MAX_LINE: usize = 4 << 20;
/// What every `memory_promoted` line holds.
const NEEDLE: &[u8] = b"\"memory_promoted\"";

/// Why memory could not be read or promoted.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The ledger could not be read or appended to.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The dispatch's worker wrote nothing the project's memory lacks.
    #[error("dispatch {id} proposes no memory: its folder holds nothing new")]
    Nothing {
        /// The dispatch.
        id: DispatchId,
    },
    /// A file named is not among what the dispatch proposes.
    #[error("dispatch {id} proposes no memory file {name:?}")]
    NotProposed {
        /// The dispatch.
        id: DispatchId,
        /// The name given.
        name: String,
    },
    /// A CLI named that keeps no memory vnx manages.
    #[error("{provider} keeps no memory vnx manages")]
    NoMemory {
        /// The name given.
        provider: String,
        /// The CLIs that do.
        clis: Vec<String>,
    },
    /// A lesson named to drop is not in the project's memory of that CLI.
    #[error("the project's memory of {provider} has no file {name:?}")]
    NotKept {
        /// The CLI.
        provider: String,
        /// The name given.
        name: String,
    },
    /// A dispatch's memory folder could not be made or seeded.
    #[error("could not write {}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl MemoryError {
    /// What a person can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            MemoryError::Nothing { .. } => {
                Some("`vnx memory list` lists what dispatches propose".into())
            }
            MemoryError::NotProposed { id, .. } => {
                Some(format!("`vnx memory show {id}` lists what it proposes"))
            }
            MemoryError::NoMemory { clis, .. } => Some(format!("these do: {}", clis.join(", "))),
            MemoryError::NotKept { .. } => {
                Some("`vnx memory list` lists the project's memory".into())
            }
            MemoryError::Ledger(_) | MemoryError::Write { .. } => None,
        }
    }
}

/// The memory folder of the dispatch whose directory is `dispatch_dir`.
pub fn dir(dispatch_dir: &Path) -> PathBuf {
    dispatch_dir.join(DIR)
}

/// The project's memory of `provider`: the last `memory_promoted` of it on `ledger` that
/// vnx signed under a `trusted` key (`None`: nothing was ever promoted).
pub fn promoted(
    ledger: &Path,
    trusted: &[[u8; 32]],
    provider: &str,
) -> Result<Option<MemoryPromoted>, LedgerError> {
    if !ledger.exists() {
        return Ok(None);
    }
    if let Some(hinted) = hinted(ledger, trusted, provider) {
        return Ok(Some(hinted));
    }
    let lines = tail::numbered_lines_containing(ledger, NEEDLE)?;
    Ok((lines.iter().rev()).find_map(|(_, raw)| of_line(raw, trusted, provider)))
}

/// The receipt of `raw` when it is a `memory_promoted` of `provider` a `trusted` key signed.
fn of_line(raw: &[u8], trusted: &[[u8; 32]], provider: &str) -> Option<MemoryPromoted> {
    let fields = json::object_of_line(raw)?;
    if !attest::check(&fields, trusted).is_valid() {
        return None;
    }
    let read = receipts::read::<MemoryPromoted>(&fields)?;
    (read.receipt.provider == provider).then_some(read.receipt)
}

/// Where the offset of the last `memory_promoted` of `provider` is kept beside `ledger`, so a
/// launch reads that line, not the ledger. A hint only: the line it points at is checked as a
/// scan checks it; a missing or wrong one means a scan; the most a changed one can do is point
/// at an earlier promotion of the same CLI.
fn hint_path(ledger: &Path, provider: &str) -> PathBuf {
    ledger.with_file_name(format!("memory-{provider}.at"))
}

/// The promotion the hint points at, when it checks out.
fn hinted(ledger: &Path, trusted: &[[u8; 32]], provider: &str) -> Option<MemoryPromoted> {
    use std::os::unix::fs::FileExt;
    let text = crate::files::read_bounded(&hint_path(ledger, provider), 32).ok()?;
    let offset: u64 = std::str::from_utf8(&text).ok()?.trim().parse().ok()?;
    let file = crate::ledger::open_for_reading(ledger).ok()?;
    let mut buf = vec![0u8; MAX_LINE];
    let n = file.read_at(&mut buf, offset).ok()?;
    let end = memchr::memchr(b'\n', &buf[..n])?;
    of_line(&buf[..end], trusted, provider)
}

/// Makes a dispatch's memory folder `dir` (private) and writes `files` into it: the memory
/// its CLI starts with.
pub fn seed(dir: &Path, files: &[MemoryFile]) -> Result<(), MemoryError> {
    let err = |path: &Path| {
        let path = path.to_owned();
        move |source| MemoryError::Write { path, source }
    };
    crate::files::private_dir(dir).map_err(err(dir))?;
    for f in files.iter().filter(|f| plain_name(&f.name)) {
        let path = dir.join(&f.name);
        crate::files::write_private(&path, f.text.as_bytes()).map_err(err(&path))?;
    }
    Ok(())
}

/// Seeds `folder`, the memory folder of a dispatch of CLI `provider`: the project's memory of
/// it (read under the keys `attestor`'s ledger trusts), and for a follow-up what the chain's
/// worker wrote before (`earlier`, the memory folder of its first dispatch), which stays with
/// its chain.
pub fn seed_dispatch(
    ledger: &Path,
    attestor: &Attestor,
    provider: &str,
    folder: &Path,
    earlier: Option<&Path>,
) -> Result<(), MemoryError> {
    let trusted =
        attest::trusted_keys(ledger, attestor).unwrap_or_else(|_| vec![attestor.public_key()]);
    let mut files = promoted(ledger, &trusted, provider)?.map_or_else(Vec::new, |p| p.files);
    if let Some(earlier) = earlier {
        let theirs = written(earlier).0;
        files.retain(|f| !theirs.iter().any(|t| t.name == f.name));
        files.extend(theirs);
    }
    seed(folder, &files)
}

/// What a worker left in its memory folder `dir`: each regular file with a plain name
/// (never through a link, never a FIFO, at most [`MAX_FILE_BYTES`], UTF-8), by name, and
/// the names of what was passed over.
pub fn written(dir: &Path) -> (Vec<MemoryFile>, Vec<String>) {
    let (mut files, mut passed) = (Vec::new(), Vec::new());
    let is_dir = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
    let Some(entries) = is_dir.then(|| std::fs::read_dir(dir).ok()).flatten() else {
        return (files, passed);
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let text = (plain_name(&name) && files.len() < MAX_FILES)
            .then(|| crate::files::read_bounded(&dir.join(&name), MAX_FILE_BYTES).ok())
            .flatten()
            .and_then(|b| String::from_utf8(b).ok());
        match text {
            Some(text) => files.push(file(name, text)),
            None => passed.push(name),
        }
    }
    (files, passed)
}

/// What a dispatch proposes: the files of `written` whose text the project's memory (`kept`)
/// does not hold under that name.
pub fn proposed(written: Vec<MemoryFile>, kept: &[MemoryFile]) -> Vec<MemoryFile> {
    written
        .into_iter()
        .filter(|w| {
            !kept
                .iter()
                .any(|k| k.name == w.name && k.sha256 == w.sha256)
        })
        .collect()
}

/// What a promotion or a drop changes, and who asks.
pub struct Change<'a> {
    /// The project's ledger.
    pub ledger: &'a Path,
    /// Signs the receipt.
    pub attestor: &'a Attestor,
    /// The keys the project's memory is read under.
    pub trusted: &'a [[u8; 32]],
    /// The CLI whose memory changes.
    pub provider: &'a str,
    /// Who asks.
    pub by: &'a str,
    /// What they said.
    pub note: Option<&'a str>,
}

/// Promotes what dispatch `id` proposes (its memory folder `dir`; only the files `only` names
/// when it names any) into the project's memory of its CLI: a signed `memory_promoted`
/// holding the whole memory after it, a promoted file replacing the one of its name.
pub fn promote(
    c: &Change<'_>,
    id: &DispatchId,
    dir: &Path,
    only: &[String],
) -> Result<MemoryPromoted, MemoryError> {
    let mut kept = promoted(c.ledger, c.trusted, c.provider)?.map_or_else(Vec::new, |p| p.files);
    let proposed = proposed(written(dir).0, &kept);
    if let Some(name) = only
        .iter()
        .find(|n| !proposed.iter().any(|p| &p.name == *n))
    {
        return Err(MemoryError::NotProposed {
            id: id.clone(),
            name: name.clone(),
        });
    }
    let taken: Vec<MemoryFile> = proposed
        .into_iter()
        .filter(|p| only.is_empty() || only.contains(&p.name))
        .collect();
    if taken.is_empty() {
        return Err(MemoryError::Nothing { id: id.clone() });
    }
    let changed = taken.iter().map(|f| f.name.clone()).collect();
    kept.retain(|k| !taken.iter().any(|t| t.name == k.name));
    kept.extend(taken);
    kept.sort_by(|a, b| a.name.cmp(&b.name));
    record(c, Some(id.clone()), changed, kept)
}

/// Drops the file `name` from the project's memory of the CLI: a signed `memory_promoted`
/// holding what is left.
pub fn drop_file(c: &Change<'_>, name: &str) -> Result<MemoryPromoted, MemoryError> {
    let mut kept = promoted(c.ledger, c.trusted, c.provider)?.map_or_else(Vec::new, |p| p.files);
    let before = kept.len();
    kept.retain(|k| k.name != name);
    if kept.len() == before {
        return Err(MemoryError::NotKept {
            provider: c.provider.to_owned(),
            name: name.to_owned(),
        });
    }
    record(c, None, vec![name.to_owned()], kept)
}

fn record(
    c: &Change<'_>,
    dispatch_id: Option<DispatchId>,
    changed: Vec<String>,
    files: Vec<MemoryFile>,
) -> Result<MemoryPromoted, MemoryError> {
    let receipt = MemoryPromoted {
        provider: c.provider.to_owned(),
        dispatch_id,
        changed,
        files,
        by: c.by.to_owned(),
        note: c.note.map(str::to_owned),
        extra: Default::default(),
    };
    let appended = c.attestor.record(c.ledger, &receipt)?;
    if let Some(at) = appended.lines.last() {
        // Best effort: without it the next launch scans the ledger.
        let hint = hint_path(c.ledger, c.provider);
        let _ = crate::files::write_atomic_private(&hint, at.offset.to_string().as_bytes(), false);
    }
    Ok(receipt)
}

/// A memory file of `name` holding `text`.
pub fn file(name: String, text: String) -> MemoryFile {
    let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    MemoryFile { name, sha256, text }
}

/// A name that is one plain file in the folder: letters, digits, `.`, `-`, `_`, not hidden.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_folder_is_read_without_links_fifos_or_odd_names() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("MEMORY.md"), "- a lesson\n").unwrap();
        std::fs::write(d.path().join(".hidden"), "x").unwrap();
        std::fs::write(
            d.path().join("big.md"),
            vec![b'a'; MAX_FILE_BYTES as usize + 1],
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("link.md")).unwrap();
        nix_fifo(&d.path().join("fifo.md"));
        let (files, passed) = written(d.path());
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].name, "MEMORY.md");
        assert_eq!(passed, [".hidden", "big.md", "fifo.md", "link.md"]);
        // A folder that is a link is not read at all.
        let l = d.path().join("linked");
        std::os::unix::fs::symlink(d.path(), &l).unwrap();
        assert!(written(&l).0.is_empty());
    }

    #[test]
    fn only_what_the_project_lacks_is_proposed() {
        let kept = vec![file("MEMORY.md".into(), "old".into())];
        let written = vec![
            file("MEMORY.md".into(), "old".into()),
            file("topic.md".into(), "new".into()),
        ];
        let p = proposed(written, &kept);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "topic.md");
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "a test makes a FIFO with mkfifo(1)"
    )]
    fn nix_fifo(path: &Path) {
        let made = std::process::Command::new("mkfifo").arg(path).status();
        assert!(made.unwrap().success());
    }
}
