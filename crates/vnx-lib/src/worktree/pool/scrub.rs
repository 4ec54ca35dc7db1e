//! A checkout given back to its pool scrubbed (its admin directory emptied but for what git
//! needs, tracked files reset to HEAD, everything untracked or ignored removed but the
//! cache directories) and proven clean before anyone can take it again (ADR 0028).

use std::fs::{self};
use std::path::{Path, PathBuf};

use crate::process;

use super::{IN_PROGRESS, NotPooled, Pool, admin_dir, foreign_git, strict_git};

/// Files of a worktree's git admin directory kept when it is scrubbed; anything else there
/// (reflogs, messages, `ORIG_HEAD`, per-worktree refs and config) is the previous user's.
const ADMIN_KEPT: [&str; 5] = ["HEAD", "index", "commondir", "gitdir", "locked"];

/// A process (its pid) whose working directory, root or an open file is inside `dir`: a
/// checkout something still uses is never pooled.
fn user_of(dir: &Path) -> Option<u32> {
    let dir = fs::canonicalize(dir).ok()?;
    let inside = |link: PathBuf| fs::read_link(link).is_ok_and(|t| t.starts_with(&dir));
    for e in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let p = e.path();
        if inside(p.join("cwd")) || inside(p.join("root")) {
            return Some(pid);
        }
        if let Ok(fds) = fs::read_dir(p.join("fd"))
            && fds.flatten().any(|fd| inside(fd.path()))
        {
            return Some(pid);
        }
    }
    None
}

impl Pool {
    /// Brings a checkout back to its HEAD and the cache directories: the admin directory
    /// emptied but for what git needs, the index rebuilt from HEAD, tracked files that differ
    /// rewritten (a dispatch's have none, its classification said so; a gate's runs are
    /// scratch), untracked and ignored files removed but the cache directories. A cache
    /// directory that is not a real directory (a symlink could point anywhere) goes.
    pub(super) fn scrub(&self, path: &Path) -> Result<(), NotPooled> {
        let run = |cmd| process::run_ok(&cmd).map_err(self.repo.git_err(path));
        let admin = self.admin_of(path)?;
        // Everything in the admin directory but what git needs goes; the index is rebuilt
        // from HEAD, so the proof compares contents, not stat data someone could have set.
        for e in fs::read_dir(&admin).map_err(self.io(&admin))?.flatten() {
            let name = e.file_name();
            if ADMIN_KEPT.iter().any(|k| name == *k) {
                continue;
            }
            let p = e.path();
            let _ = if p.is_dir() && !p.is_symlink() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
        let index = admin.join("index");
        let _ = fs::remove_file(&index);
        run(strict_git(path).args(["read-tree", "HEAD"]))?;
        // Hashes each file against HEAD and keeps the stat data of those that match (exit 1
        // names the ones that differ), so the reset below rewrites only those.
        let _ = process::run(&strict_git(path).args(["update-index", "-q", "--refresh"]));
        run(strict_git(path).args(["reset", "--quiet", "--hard"]))?;
        for keep in &self.keep {
            let p = path.join(keep);
            if let Ok(meta) = p.symlink_metadata()
                && !meta.is_dir()
            {
                fs::remove_file(&p).map_err(self.io(&p))?;
            }
        }
        let mut clean = strict_git(path).args(["clean", "-ffdxq"]);
        for keep in &self.keep {
            clean = clean.arg("-e").arg(format!("/{keep}/"));
        }
        run(clean)?;
        Ok(())
    }

    /// The checkout's git admin directory, when its `.git` file names the one git registered
    /// for it in this repository (a worker could point it at a repository of its own).
    fn admin_of(&self, path: &Path) -> Result<PathBuf, NotPooled> {
        let unclean = |why: &str| NotPooled::Unclean {
            path: path.to_owned(),
            why: why.to_owned(),
        };
        if let Some(why) = foreign_git(&self.repo.common_dir, path) {
            return Err(unclean(why));
        }
        let admin = admin_dir(path).ok_or_else(|| unclean("no .git file"))?;
        let admin = fs::canonicalize(&admin).map_err(|_| unclean("its .git names nothing"))?;
        Ok(admin)
    }

    /// Proves a pooled checkout clean: HEAD detached, no operation under way, no index entry
    /// hidden from `git status` (assume-unchanged, skip-worktree), and `git status` with
    /// ignored files shows nothing outside the cache directories. Returns its commit.
    pub(super) fn prove(&self, path: &Path) -> Result<String, NotPooled> {
        let unclean = |why: String| NotPooled::Unclean {
            path: path.to_owned(),
            why,
        };
        let admin = self.admin_of(path)?;
        if let Some(busy) = IN_PROGRESS.iter().find(|f| admin.join(f).exists()) {
            return Err(unclean(format!("an operation is under way ({busy})")));
        }
        if let Some(pid) = user_of(path) {
            return Err(unclean(format!("process {pid} still uses it")));
        }
        let head = crate::files::read_bounded(&admin.join("HEAD"), 4096)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let head = head.trim();
        if head.len() < 40 || !head.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unclean(format!("HEAD is not detached ({head})")));
        }
        let run = |cmd| process::run_ok(&cmd).map_err(self.repo.git_err(path));
        // Every tracked file's content against the index (hashed where its stat data is not
        // the index's own): exit 1 names a file that differs.
        run(strict_git(path).args(["update-index", "-q", "--refresh"]))
            .map_err(|e| unclean(format!("a tracked file differs from HEAD: {e}")))?;
        let flags = run(strict_git(path).args(["ls-files", "-v"]))?;
        if let Some(hidden) = flags.lines().find(|l| !l.starts_with("H ")) {
            return Err(unclean(format!(
                "an index entry is hidden from status: {hidden}"
            )));
        }
        let status = run(strict_git(path).args([
            "status",
            "--porcelain=v1",
            "--ignored=matching",
            "--untracked-files=all",
        ]))?;
        for line in status.lines() {
            let file = line.get(3..).unwrap_or(line).trim_matches('"');
            let cached = matches!(line.get(..3), Some("?? " | "!! "))
                && self.keep.iter().any(|k| {
                    file == k
                        || file
                            .strip_prefix(k.as_str())
                            .is_some_and(|r| r.starts_with('/'))
                });
            if !cached {
                return Err(unclean(format!("`git status` shows {line}")));
            }
        }
        Ok(head.to_owned())
    }
}
