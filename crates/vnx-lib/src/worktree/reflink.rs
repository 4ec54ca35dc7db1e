//! Build caches by copy-on-write (`worktree.copy_ignored`): after a new worktree is made,
//! the listed ignored directories of the main checkout (`target`, `node_modules`) are copied
//! into it with `cp -a --reflink=always`, which shares the data blocks until either side
//! writes. Never a full copy: on a filesystem without reflinks `cp` fails at the first file,
//! the partial copy is removed, and the directory is reported as skipped. No link is
//! followed: a directory reached through a link, on either side, is not copied, and links
//! inside it are copied as links (the launch's check of links leading out of the worktree
//! then sees them as any other).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::{self, Cmd};

/// The longest one directory's copy may take.
const COPY_TIME: Duration = Duration::from_secs(600);

/// The most of `cp`'s complaint kept.
const MAX_WHY: usize = 300;

/// A listed directory that was not copied, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The directory as the config names it.
    pub dir: String,
    /// Why, in words.
    pub why: String,
}

/// Copies each of `dirs` (relative paths, as `config::cache_dir` checked them) from the main
/// checkout `root` into the new worktree `worktree` by reflink; the ones it could not copy.
/// A directory the checkout lacks, or the worktree already has (a pooled worktree kept it),
/// is left alone without a word.
pub fn copy_ignored(root: &Path, worktree: &Path, dirs: &[String]) -> Vec<Skipped> {
    dirs.iter()
        .filter_map(|dir| {
            copy_one(root, worktree, Path::new(dir))
                .err()
                .map(|why| Skipped {
                    dir: dir.clone(),
                    why,
                })
        })
        .collect()
}

fn copy_one(root: &Path, worktree: &Path, rel: &Path) -> Result<(), String> {
    let src = root.join(rel);
    match walk(root, rel, false)? {
        Walk::Absent => return Ok(()),
        Walk::Dir => {}
    }
    let dst = worktree.join(rel);
    if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
        walk(worktree, parent, true)?;
    }
    if dst.symlink_metadata().is_ok() {
        return Ok(());
    }
    let cp = Cmd::new("cp")
        .args(["-a", "--reflink=always", "--"])
        .arg(&src)
        .arg(&dst)
        .timeout(COPY_TIME);
    let failed = match process::run(&cp) {
        Ok(o) if o.status.success() => return Ok(()),
        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
        Err(e) => e.to_string(),
    };
    let _ = std::fs::remove_dir_all(&dst);
    if failed.contains("clone") || failed.contains("reflink") {
        Err("this filesystem has no reflinks (copy-on-write); it is never copied in full".into())
    } else {
        let first = failed.lines().next().unwrap_or("").trim();
        Err(format!(
            "cp failed: {}",
            first.chars().take(MAX_WHY).collect::<String>()
        ))
    }
}

enum Walk {
    Absent,
    Dir,
}

/// Walks `rel` below `base` one component at a time without following a link: each must be
/// a directory (made when missing and `make`).
fn walk(base: &Path, rel: &Path, make: bool) -> Result<Walk, String> {
    let mut at = PathBuf::from(base);
    for part in rel.components() {
        at.push(part);
        match at.symlink_metadata() {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.is_symlink() => {
                return Err(format!(
                    "{} is a link; links are never followed",
                    at.display()
                ));
            }
            Ok(_) => return Err(format!("{} is not a directory", at.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && make => {
                std::fs::create_dir(&at).map_err(|e| format!("{}: {e}", at.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Walk::Absent),
            Err(e) => return Err(format!("{}: {e}", at.display())),
        }
    }
    Ok(Walk::Dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `cp --reflink=always` works in `dir` (its filesystem has reflinks).
    fn reflinks_in(dir: &Path) -> bool {
        std::fs::write(dir.join("probe"), b"x").unwrap();
        let cp = Cmd::new("cp")
            .args(["--reflink=always", "probe", "probe2"])
            .cwd(dir);
        process::run(&cp).is_ok_and(|o| o.status.success())
    }

    #[test]
    fn ignored_dirs_are_copied_by_reflink_or_skipped_never_copied_in_full() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, wt) = (tmp.path().join("root"), tmp.path().join("wt"));
        std::fs::create_dir_all(root.join("target/debug")).unwrap();
        std::fs::write(root.join("target/debug/big"), vec![7u8; 4096]).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("target/out")).unwrap();
        std::fs::create_dir_all(root.join("web")).unwrap();
        std::os::unix::fs::symlink(tmp.path(), root.join("web/node_modules")).unwrap();
        std::fs::create_dir_all(&wt).unwrap();
        let dirs = ["target", "web/node_modules", "absent"].map(String::from);
        let skipped = copy_ignored(&root, &wt, &dirs);
        // A link in the checkout is never followed.
        assert!(
            skipped
                .iter()
                .any(|s| s.dir == "web/node_modules" && s.why.contains("is a link")),
            "{skipped:?}"
        );
        if reflinks_in(tmp.path()) {
            assert_eq!(skipped.len(), 1, "{skipped:?}");
            assert_eq!(
                std::fs::read(wt.join("target/debug/big")).unwrap().len(),
                4096
            );
            // A link inside is copied as a link, not followed.
            assert!(
                wt.join("target/out")
                    .symlink_metadata()
                    .unwrap()
                    .is_symlink()
            );
        } else {
            // This filesystem has no reflinks: the skip is what can be checked here.
            let why = &skipped.iter().find(|s| s.dir == "target").unwrap().why;
            assert!(why.contains("no reflinks"), "{why}");
            assert!(!wt.join("target").exists(), "never a full copy");
        }
        // A worktree whose parent directory is a link is not written through.
        let wt2 = tmp.path().join("wt2");
        std::fs::create_dir_all(&wt2).unwrap();
        std::os::unix::fs::symlink(tmp.path(), wt2.join("web")).unwrap();
        std::fs::create_dir_all(root.join("web2/node_modules")).unwrap();
        let _ = std::fs::remove_file(root.join("web/node_modules"));
        std::fs::create_dir_all(root.join("web/node_modules")).unwrap();
        let skipped = copy_ignored(&root, &wt2, &["web/node_modules".to_owned()]);
        assert!(skipped[0].why.contains("is a link"), "{skipped:?}");
    }
}
