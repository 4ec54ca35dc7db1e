//! `.worktreeinclude`: git-ignored files (such as `.env`) a worker needs, copied from the main
//! checkout into each new worktree. Receipts record each path and its SHA-256, never its
//! contents. No symbolic link is followed on either side: a source reached through a link
//! (which may point outside the repository) is refused, and a worktree path holding a link
//! (a branch may track `.env` as one) is never written through.

use std::fs;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::dispatch::{DispatchError, io_err};

/// The file listing what to copy, at the repository root.
pub const FILE: &str = ".worktreeinclude";

/// One file to copy.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Included {
    /// Relative to the repository root.
    pub path: String,
    /// SHA-256 of its contents when copied.
    pub sha256: String,
    /// Its size in bytes.
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
    let text = match crate::files::open_untrusted(&list, 1).and_then(|f| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(f, 1 << 20), &mut text).map(|_| text)
    }) {
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
        if let Some(link) = first_symlink(root, dir) {
            return Err(bad(
                n + 1,
                &format!(
                    "`{}` is a symbolic link; only files inside the repository are copied",
                    link.display()
                ),
            ));
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
        let data = read_nofollow(&full).map_err(io_err(&full))?;
        out.push(Included {
            path: path.to_string_lossy().into_owned(),
            sha256: hex::encode(Sha256::digest(&data)),
            bytes: data.len() as u64,
        });
    }
    Ok(out)
}

/// The first component of `rel` (below `root`) that is a symbolic link, if any.
fn first_symlink(root: &Path, rel: &Path) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    for c in rel.components() {
        path.push(c);
        if fs::symlink_metadata(root.join(&path)).is_ok_and(|m| m.file_type().is_symlink()) {
            return Some(path);
        }
    }
    None
}

/// Writes a new file at `rel` below `worktree` without following any symbolic link: each
/// directory is opened with `O_NOFOLLOW` (and made if missing), and the file is created with
/// `O_EXCL`, so an existing path — a link a branch tracks included — is refused, not written
/// through.
fn write_beneath(worktree: &Path, rel: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    use rustix::fs::{Mode, OFlags, mkdirat, openat};
    let dir_flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY;
    let mut dir = openat(rustix::fs::CWD, worktree, dir_flags, Mode::empty())?;
    let (parents, name) = match (rel.parent(), rel.file_name()) {
        (Some(p), Some(n)) => (p, n),
        _ => return Err(std::io::Error::other("not a file path")),
    };
    for c in parents.components() {
        let Component::Normal(part) = c else {
            return Err(std::io::Error::other("not a plain relative path"));
        };
        match mkdirat(&dir, part, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        dir = openat(&dir, part, dir_flags, Mode::empty())?;
    }
    let fd = openat(
        &dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode & 0o777),
    )?;
    let mut file = fs::File::from(fd);
    std::io::Write::write_all(&mut file, data)?;
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode & 0o7777))
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

/// The contents of a file to copy, read as [`copy`] reads them (for the egress scan).
pub(crate) fn read(root: &Path, f: &Included) -> std::io::Result<Vec<u8>> {
    read_nofollow(&root.join(&f.path))
}

/// Reads a regular file without following a link at its last component or blocking on a FIFO.
fn read_nofollow(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut data = Vec::new();
    f.read_to_end(&mut data)?;
    Ok(data)
}

/// Copies the files into a worktree, checking each still has the recorded hash.
pub fn copy(root: &Path, worktree: &Path, files: &[Included]) -> Result<(), DispatchError> {
    for f in files {
        let from = root.join(&f.path);
        let to = worktree.join(&f.path);
        let data = read_nofollow(&from).map_err(io_err(&from))?;
        if hex::encode(Sha256::digest(&data)) != f.sha256 {
            let changed = std::io::Error::other("changed while the dispatch was being set up");
            return Err(io_err(&from)(changed));
        }
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &fs::symlink_metadata(&from)
                .map_err(io_err(&from))?
                .permissions(),
        );
        write_beneath(worktree, Path::new(&f.path), &data, mode).map_err(io_err(&to))?;
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
