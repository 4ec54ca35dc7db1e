//! Symbolic links in a worktree that lead out of it: a worker whose CLI edits a path through
//! one (`docs/out/notes.md`, `docs/out` → `/home/me`) writes outside the worktree though every
//! path it names is inside, and no CLI's own edit check resolves links. Found before an
//! unsandboxed worker starts; inside the sandbox everything outside the worktree is read-only
//! or hidden, so a link there reaches nothing writable.
//!
//! The tree is walked without following a link, at most [`MAX_ENTRIES`] entries, the root's
//! `.git` skipped. A link leads out when the kernel's resolution of it ends outside the root
//! (`fs::canonicalize`, which resolves chains and `..` after a link as writing through it
//! would); a dangling one when its parent does, or cannot be resolved at all.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// How many entries a walk looks at before it gives up (a tree that large cannot be vouched
/// for, and is reported as such).
pub const MAX_ENTRIES: usize = 1_000_000;

/// How many leading-out links a walk reports before it stops looking.
pub const MAX_REPORTED: usize = 20;

/// A link that leads out of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadingOut {
    /// The link, relative to the tree's root.
    pub link: PathBuf,
    /// What it holds (`fs::read_link`), as written.
    pub target: PathBuf,
}

/// What a walk found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Walked {
    /// The links that lead out, at most [`MAX_REPORTED`].
    pub leading_out: Vec<LeadingOut>,
    /// Whether the walk stopped at [`MAX_ENTRIES`] before it saw the whole tree.
    pub cut: bool,
}

impl Walked {
    /// Whether nothing in the tree was found to lead out, and the whole tree was seen.
    pub fn contained(&self) -> bool {
        self.leading_out.is_empty() && !self.cut
    }
}

/// The walk's finding in words: the links (each `link -> target`, escaped), or that the tree
/// was too large to see whole.
pub fn describe(walked: &Walked) -> String {
    let shown: Vec<String> = walked
        .leading_out
        .iter()
        .map(|l| {
            format!(
                "{} -> {}",
                l.link.display().to_string().escape_debug(),
                l.target.display().to_string().escape_debug()
            )
        })
        .collect();
    match shown.len() {
        0 => format!(
            "more than {MAX_ENTRIES} entries or one it cannot list, so links leading out of it \
             could not be ruled out"
        ),
        1 => format!("a link leading out of it ({})", shown[0]),
        n => format!("{n} links leading out of it ({})", shown.join(", ")),
    }
}

/// Walks `root` for links that lead out of it.
pub fn leading_out(root: &Path) -> std::io::Result<Walked> {
    let real_root = fs::canonicalize(root)?;
    let mut walked = Walked::default();
    let mut seen = 0usize;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            // A directory the walk cannot list cannot be written through by the worker either
            // (it runs as the same user), unless it is made listable; say it was not seen.
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                walked.cut = true;
                continue;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            seen += 1;
            if seen > MAX_ENTRIES {
                walked.cut = true;
                return Ok(walked);
            }
            let path = entry.path();
            if dir == root && entry.file_name() == ".git" {
                continue;
            }
            // `file_type` is the entry's own (lstat), never the link's target.
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_symlink() && leads_out(&path, &real_root) {
                walked.leading_out.push(LeadingOut {
                    link: path.strip_prefix(root).unwrap_or(&path).to_path_buf(),
                    target: fs::read_link(&path).unwrap_or_default(),
                });
                if walked.leading_out.len() >= MAX_REPORTED {
                    return Ok(walked);
                }
            }
        }
    }
    walked.leading_out.sort_by(|a, b| a.link.cmp(&b.link));
    Ok(walked)
}

/// Whether writing through `link` would write outside `real_root` (itself canonical).
fn leads_out(link: &Path, real_root: &Path) -> bool {
    match fs::canonicalize(link) {
        Ok(real) => !real.starts_with(real_root),
        // Dangling: a write creates the target's last component in its parent.
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let Ok(target) = fs::read_link(link) else {
                return true;
            };
            let whole = link.parent().unwrap_or(link).join(&target);
            let (Some(parent), Some(name)) = (whole.parent(), whole.file_name()) else {
                return true;
            };
            match fs::canonicalize(parent) {
                Ok(real) => !real.join(name).starts_with(real_root),
                // The parent is missing too: nothing vouches for where it would be made.
                Err(_) => true,
            }
        }
        // A loop (ELOOP) or a name too long resolves nowhere, and nothing is written
        // through it; anything else is not known to stay inside.
        Err(e) => e.raw_os_error() != Some(libc::ELOOP),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("wt");
        fs::create_dir_all(root.join("src/deep")).unwrap();
        fs::write(root.join("src/lib.rs"), "").unwrap();
        (dir, root)
    }

    fn links(root: &Path) -> Vec<String> {
        let walked = leading_out(root).unwrap();
        assert!(!walked.cut);
        walked
            .leading_out
            .iter()
            .map(|l| l.link.display().to_string())
            .collect()
    }

    #[test]
    fn links_that_stay_inside_are_fine() {
        let (_d, root) = tree();
        symlink("src", root.join("code")).unwrap();
        symlink("../lib.rs", root.join("src/deep/up")).unwrap();
        symlink("missing.rs", root.join("src/new")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        assert!(links(&root).is_empty());
        assert!(leading_out(&root).unwrap().contained());
    }

    #[test]
    fn absolute_relative_chained_and_dangling_escapes_are_found() {
        let (d, root) = tree();
        let outside = d.path().join("home");
        fs::create_dir(&outside).unwrap();
        symlink(&outside, root.join("abs")).unwrap();
        symlink("../../../home", root.join("src/deep/rel")).unwrap();
        // A link to the root itself, and `..` after it: the kernel leaves the root, though
        // the path read as text stays inside.
        symlink(".", root.join("here")).unwrap();
        symlink("here/..", root.join("src/parent")).unwrap();
        symlink("../home/new.txt", root.join("dangling")).unwrap();
        symlink("../nowhere/at/all", root.join("lost")).unwrap();
        assert_eq!(
            links(&root),
            ["abs", "dangling", "lost", "src/deep/rel", "src/parent"]
        );
    }

    #[test]
    fn the_roots_git_is_not_walked_but_a_nested_one_is() {
        let (d, root) = tree();
        fs::create_dir_all(root.join(".git")).unwrap();
        symlink(d.path(), root.join(".git/out")).unwrap();
        fs::create_dir_all(root.join("vendor/lib/.git")).unwrap();
        symlink(d.path(), root.join("vendor/lib/.git/out")).unwrap();
        assert_eq!(links(&root), ["vendor/lib/.git/out"]);
    }

    #[test]
    fn a_link_to_a_directory_is_not_walked_into() {
        let (d, root) = tree();
        let outside = d.path().join("big");
        fs::create_dir_all(outside.join("x")).unwrap();
        symlink(outside.join("x"), outside.join("x/back")).unwrap();
        symlink("src", root.join("code")).unwrap();
        assert!(links(&root).is_empty());
    }
}
