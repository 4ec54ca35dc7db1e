//! `.worktreeinclude`: git-ignored files (such as `.env`) a worker needs, copied from the main
//! checkout into each new worktree. Receipts record each path and its SHA-256, never its
//! contents. No symlink is ever followed, on either side: every path is opened one component
//! at a time with `O_NOFOLLOW`, so a symlinked directory in the main checkout copies nothing
//! from outside the repository (it is skipped), and a symlink in the new worktree (a branch may
//! track `.env` as one) refuses the dispatch rather than write through it.

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use sha2::{Digest, Sha256};

use super::DispatchError;

/// The file listing what to copy, at the repository root.
pub const FILE: &str = ".worktreeinclude";

/// One file to copy.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Included {
    /// Relative to the repository root.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// Whether `name` matches a pattern with `*` wildcards (within one path component).
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, rest)) => name.strip_prefix(head).is_some_and(|tail| {
            // Try every character boundary of the tail (file names need not be ASCII).
            tail.char_indices()
                .map(|(i, _)| i)
                .chain([tail.len()])
                .any(|i| matches(rest, &tail[i..]))
        }),
    }
}

fn bad(line: usize, why: &str) -> DispatchError {
    DispatchError::BadInclude {
        line,
        reason: why.into(),
    }
}

/// Reads `.worktreeinclude` and lists the git-ignored files it names. Lines are paths relative
/// to the root (`*` matches within a file name; a trailing `/` takes a directory's files);
/// `#` starts a comment. Files git tracks are already in every worktree and are skipped.
pub fn resolve(root: &Path) -> Result<Vec<Included>, DispatchError> {
    let list = root.join(FILE);
    let text = match fs::read_to_string(&list) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(DispatchError::Io { path: list, source }),
    };
    let repo = git2::Repository::open(root).map_err(|e| bad(0, e.message()))?;
    let mut found: Vec<PathBuf> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let rel = Path::new(line.trim_end_matches('/'));
        if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(bad(
                n + 1,
                "paths must stay inside the repository (no `..`, no `/`)",
            ));
        }
        let (dir, name) = match (rel.parent(), rel.file_name()) {
            (Some(dir), Some(name)) => (dir, name.to_string_lossy().into_owned()),
            _ => continue,
        };
        // Through real directories only: a symlinked one may point outside the repository.
        if open_dirs(root, dir, false).is_err() {
            continue;
        }
        let Ok(entries) = fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if !matches(&name, &file_name) {
                continue;
            }
            let path = dir.join(&file_name);
            let meta = fs::symlink_metadata(root.join(&path));
            match meta {
                Ok(m) if m.is_file() => found.push(path),
                Ok(m) if m.is_dir() && line.ends_with('/') => {
                    collect_dir(root, &path, &mut found);
                }
                _ => {}
            }
        }
    }
    found.sort();
    found.dedup();
    let mut out = Vec::new();
    for path in found {
        // Only ignored files: tracked ones are in the worktree already, and untracked,
        // unignored ones would make it dirty.
        if !repo.status_should_ignore(&path).unwrap_or(false) {
            continue;
        }
        let full = root.join(&path);
        let data = match read_beneath(root, &path) {
            Ok((data, _)) => data,
            // A symlink (or one on the way) is not copied.
            Err(e) if is_symlink_error(&e) => continue,
            Err(source) => return Err(DispatchError::Io { path: full, source }),
        };
        out.push(Included {
            path: path.to_string_lossy().into_owned(),
            sha256: hex::encode(Sha256::digest(&data)),
            bytes: data.len() as u64,
        });
    }
    Ok(out)
}

fn collect_dir(root: &Path, dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(root.join(dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = dir.join(entry.file_name());
        match fs::symlink_metadata(root.join(&path)) {
            Ok(m) if m.is_file() => found.push(path),
            Ok(m) if m.is_dir() => collect_dir(root, &path, found),
            _ => {}
        }
    }
}

/// Whether opening failed on a symlink (`O_NOFOLLOW` gives `ELOOP`; a symlink where a
/// directory must be, `ENOTDIR`).
fn is_symlink_error(e: &io::Error) -> bool {
    matches!(
        rustix::io::Errno::from_io_error(e),
        Some(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)
    )
}

/// Opens `base/rel` as a directory, component by component, following no symlink; with
/// `create`, makes the missing ones.
fn open_dirs(base: &Path, rel: &Path, create: bool) -> io::Result<OwnedFd> {
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut fd = rustix::fs::open(base, dir_flags, Mode::empty())?;
    for c in rel.components() {
        let Component::Normal(name) = c else {
            return Err(io::Error::from(rustix::io::Errno::INVAL));
        };
        if create {
            match rustix::fs::mkdirat(&fd, name, Mode::from_raw_mode(0o777)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
        fd = rustix::fs::openat(&fd, name, dir_flags | OFlags::NOFOLLOW, Mode::empty())?;
    }
    Ok(fd)
}

/// Reads the regular file `root/rel` without following a symlink; its data and mode bits.
fn read_beneath(root: &Path, rel: &Path) -> io::Result<(Vec<u8>, u32)> {
    let (parent, name) = split(rel)?;
    let dir = open_dirs(root, parent, false)?;
    let fd = rustix::fs::openat(
        &dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    let stat = rustix::fs::fstat(&fd)?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(io::Error::other("not a regular file"));
    }
    let mut data = Vec::new();
    fs::File::from(fd).read_to_end(&mut data)?;
    Ok((data, stat.st_mode & 0o7777))
}

fn split(rel: &Path) -> io::Result<(&Path, &std::ffi::OsStr)> {
    match (rel.parent(), rel.file_name()) {
        (Some(p), Some(n)) => Ok((p, n)),
        _ => Err(io::Error::from(rustix::io::Errno::INVAL)),
    }
}

/// Writes `data` to `worktree/rel` with `mode`, creating directories as needed and following
/// no symlink.
fn write_beneath(worktree: &Path, rel: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let (parent, name) = split(rel)?;
    let dir = open_dirs(worktree, parent, true)?;
    let fd = rustix::fs::openat(
        &dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )?;
    let stat = rustix::fs::fstat(&fd)?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(io::Error::other("not a regular file"));
    }
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
    fs::File::from(fd).write_all(data)
}

/// Copies the files into a worktree, checking each still has the recorded hash. Nothing is
/// read or written through a symlink: one in the worktree's way refuses the copy.
pub fn copy(root: &Path, worktree: &Path, files: &[Included]) -> Result<(), DispatchError> {
    for f in files {
        let rel = Path::new(&f.path);
        let from = root.join(rel);
        let to = worktree.join(rel);
        let (data, mode) = read_beneath(root, rel).map_err(|source| DispatchError::Io {
            path: from.clone(),
            source,
        })?;
        if hex::encode(Sha256::digest(&data)) != f.sha256 {
            return Err(DispatchError::Io {
                path: from,
                source: std::io::Error::other("changed while the dispatch was being set up"),
            });
        }
        write_beneath(worktree, rel, &data, mode).map_err(|source| {
            if is_symlink_error(&source) {
                DispatchError::IncludeSymlink { path: to.clone() }
            } else {
                DispatchError::Io {
                    path: to.clone(),
                    source,
                }
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards_match_within_a_name() {
        assert!(matches(".env", ".env"));
        assert!(matches(".env*", ".env.local"));
        assert!(matches("*.pem", "dev.pem"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("*.pem", "dev.pem.bak"));
        assert!(!matches(".env", ".envrc"));
        assert!(matches("*é*", "café.txt"));
        assert!(!matches("*ü", "café"));
    }
}
