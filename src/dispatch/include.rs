//! `.worktreeinclude`: git-ignored files (such as `.env`) a worker needs, copied from the main
//! checkout into each new worktree. Receipts record each path and its SHA-256, never its
//! contents.

use std::fs;
use std::path::{Component, Path, PathBuf};

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
        let data = fs::read(&full).map_err(|source| DispatchError::Io {
            path: full.clone(),
            source,
        })?;
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

/// Copies the files into a worktree, checking each still has the recorded hash.
pub fn copy(root: &Path, worktree: &Path, files: &[Included]) -> Result<(), DispatchError> {
    for f in files {
        let from = root.join(&f.path);
        let to = worktree.join(&f.path);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| DispatchError::Io { path, source }
        };
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let data = fs::read(&from).map_err(io(&from))?;
        if hex::encode(Sha256::digest(&data)) != f.sha256 {
            return Err(DispatchError::Io {
                path: from,
                source: std::io::Error::other("changed while the dispatch was being set up"),
            });
        }
        fs::write(&to, &data).map_err(io(&to))?;
        let mode = fs::metadata(&from).map_err(io(&from))?.permissions();
        fs::set_permissions(&to, mode).map_err(io(&to))?;
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
