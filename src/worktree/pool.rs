//! The worktree pool: prepared checkouts of the project under `.vnx-data/pool/`, taken by a
//! dispatch (moved to its worktree path and switched to its branch by a checkout that
//! touches only the files that differ) or by a gate (used in place, detached at a commit),
//! and given back only when what used them left nothing behind: every untracked and ignored
//! file is removed except the configured cache directories, and the entry is proven clean
//! before it can be taken again. Why that is exact isolation: ADR 0028.
//!
//! On disk, per entry `NAME`: the checkout `NAME/` (a git worktree, HEAD detached); `NAME.ready`
//! once it is proven clean (holding its commit); `NAME.lock`, `flock`ed by whoever works on
//! it in place; `NAME.lease` while a dispatch has it (holding the path it moved to).

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use super::{Repo, Worktree, WorktreeError, git};
use crate::process;
use crate::project::DATA_DIR;

pub use crate::config::MAX_POOL_SIZE as MAX_SIZE;
pub use crate::config::cache_dir;

/// Files in a worktree's git admin directory that say an operation is under way: such a
/// worktree is never pooled.
const IN_PROGRESS: [&str; 7] = [
    "MERGE_HEAD",
    "CHERRY_PICK_HEAD",
    "REVERT_HEAD",
    "BISECT_LOG",
    "rebase-merge",
    "rebase-apply",
    "sequencer",
];

/// Git for work on a pooled checkout, with the settings a worker could have changed in the
/// shared config to make status lie pinned to git's defaults (stat data compared in full,
/// no fsmonitor or untracked cache, no stat-skipping) and no hooks run.
pub(super) fn strict_git(dir: &Path) -> crate::process::Cmd {
    git(dir).args([
        "-c",
        "core.fsmonitor=false",
        "-c",
        "core.untrackedCache=false",
        "-c",
        "core.checkStat=default",
        "-c",
        "core.trustctime=true",
        "-c",
        "core.ignoreStat=false",
        "-c",
        "core.sparseCheckout=false",
        "-c",
        "core.hooksPath=/dev/null",
    ])
}

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

/// One of the project's two pools of prepared worktrees: the dispatches' (filled ahead,
/// entries move to a dispatch and come back) and the gates' (grown by the gates themselves,
/// entries used in place). A worker's worktree never becomes a gate's: what a worker left in
/// a cache directory never reaches the evidence a gate produces.
#[derive(Clone, Debug)]
pub struct Pool {
    repo: Repo,
    dir_name: &'static str,
    size: u32,
    keep: Vec<String>,
}

/// One pooled worktree as `vnx pool status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Its name under `.vnx-data/pool/`.
    pub name: String,
    /// Where it is: in the pool, or where the dispatch that has it moved it.
    pub path: PathBuf,
    /// `idle` (proven clean, ready to take), `busy` (a gate or a clean-up works in it),
    /// `unproven` (given back or left by a crash, not yet proven clean), `lent` (a dispatch
    /// has it).
    pub state: &'static str,
    /// The commit its HEAD is at, when it is idle.
    pub commit: Option<String>,
}

/// A pooled worktree a gate uses in place; it goes back to the pool through
/// [`Pool::give_back_in_place`].
#[derive(Debug)]
pub struct InPlace {
    /// The entry's name.
    pub name: String,
    /// Its checkout, detached at the commit asked for.
    pub path: PathBuf,
    _lock: File,
}

/// Why a worktree was not given back to the pool (it is then released as without a pool).
#[derive(Debug, thiserror::Error)]
pub enum NotPooled {
    /// The pool holds as many worktrees as it may.
    #[error("the pool is full ({size} worktrees)")]
    Full {
        /// The configured size.
        size: u32,
    },
    /// Something the next user could see would survive the clean-up.
    #[error("{path} cannot be proven clean: {why}")]
    Unclean {
        /// The worktree.
        path: PathBuf,
        /// What was found.
        why: String,
    },
    /// A git step failed.
    #[error(transparent)]
    Worktree(#[from] WorktreeError),
}

impl Pool {
    /// The dispatches' pool of `repo` (`.vnx-data/pool/`) with `size` worktrees at most,
    /// keeping `keep` (cache directories, as [`cache_dir`] normalised them) between users.
    pub fn new(repo: &Repo, size: u32, keep: &[String]) -> Pool {
        Pool {
            repo: repo.clone(),
            dir_name: "pool",
            size: size.min(MAX_SIZE),
            keep: keep.to_vec(),
        }
    }

    /// The gates' pool of `repo` (`.vnx-data/gate-pool/`), the same size and cache
    /// directories as the dispatches'.
    pub fn for_gates(repo: &Repo, size: u32, keep: &[String]) -> Pool {
        Pool {
            dir_name: "gate-pool",
            ..Pool::new(repo, size, keep)
        }
    }

    /// Where its worktrees live: `.vnx-data/pool/` or `.vnx-data/gate-pool/`.
    pub fn dir(&self) -> PathBuf {
        self.repo.root.join(DATA_DIR).join(self.dir_name)
    }

    fn file(&self, name: &str, ext: &str) -> PathBuf {
        self.dir().join(format!("{name}.{ext}"))
    }

    fn io(&self, path: &Path) -> impl FnOnce(std::io::Error) -> WorktreeError + use<> {
        let path = path.to_owned();
        move |source| WorktreeError::Io { path, source }
    }

    /// The entry's in-place lock, taken without waiting: `None` while someone holds it.
    fn try_lock(&self, name: &str) -> Result<Option<File>, WorktreeError> {
        let path = self.file(name, "lock");
        crate::files::lock_file(&path, false).map_err(self.io(&path))
    }

    /// Names of the checkouts in the pool directory and of the entries lent out.
    fn names(&self) -> (Vec<String>, Vec<String>) {
        let (mut here, mut lent) = (Vec::new(), Vec::new());
        for e in fs::read_dir(self.dir()).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(n) = name.strip_suffix(".lease") {
                lent.push(n.to_owned());
            } else if !name.contains('.') && e.file_type().is_ok_and(|t| t.is_dir()) {
                here.push(name);
            }
        }
        here.sort();
        lent.sort();
        (here, lent)
    }

    /// Takes a proven-clean entry and marks it taken, under the worktree lock the caller
    /// holds: its ready mark goes, and its in-place lock is held.
    fn claim(&self) -> Result<Option<(String, File)>, WorktreeError> {
        let (here, _) = self.names();
        for name in here {
            if !self.file(&name, "ready").exists() {
                continue;
            }
            let Some(lock) = self.try_lock(&name)? else {
                continue;
            };
            let ready = self.file(&name, "ready");
            // Proven when it was given back, but idle since: a process left behind by an
            // unsandboxed worker (`setsid`) can have written into it. Proven again here, with
            // no process using it, and at the commit it was proven at, or it goes.
            let path = self.dir().join(&name);
            let proven_at = crate::files::read_bounded(&ready, 4096)
                .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
                .unwrap_or_default();
            let still = matches!(self.prove(&path), Ok(at) if at == proven_at);
            fs::remove_file(&ready).map_err(self.io(&ready))?;
            if !still {
                // Left unproven (under the worktree lock, it cannot be removed here): the
                // next `pool fill` or give-back scrubs and proves it, or removes it.
                drop(lock);
                continue;
            }
            return Ok(Some((name, lock)));
        }
        Ok(None)
    }

    /// Takes an idle worktree for dispatch `id`: moves it to the dispatch's worktree path and
    /// checks out a new branch `branch` at `base_commit` there. `None` when no idle worktree
    /// could be had (the caller makes a fresh one). The branch must not exist; the caller
    /// checked that under the worktree lock.
    pub fn take_for_dispatch(
        &self,
        id: &str,
        path: &Path,
        branch: &str,
        base_commit: &str,
    ) -> Result<Option<(Worktree, String)>, WorktreeError> {
        let switch = ["--no-track", "-b", branch, base_commit];
        let Some(name) = self.take_to(path, &switch)? else {
            return Ok(None);
        };
        let wt = Worktree {
            id: id.to_owned(),
            path: path.to_owned(),
            branch: branch.to_owned(),
            base_commit: base_commit.to_owned(),
        };
        Ok(Some((wt, name)))
    }

    /// Takes an idle worktree to `path` and checks out `branch`, which exists and is checked
    /// out nowhere (a follow-up's branch whose worktree teardown removed). Returns the entry.
    pub fn take_for_branch(
        &self,
        path: &Path,
        branch: &str,
    ) -> Result<Option<String>, WorktreeError> {
        self.take_to(path, &[branch])
    }

    /// Claims an idle entry, moves it to `path` and runs `git checkout --quiet ARGS…` there
    /// (only the files that differ change). A checkout that fails sends the entry back,
    /// unproven.
    fn take_to(&self, path: &Path, checkout: &[&str]) -> Result<Option<String>, WorktreeError> {
        let name = {
            let _lock = self.repo.lock()?;
            // `git worktree move` moves into an existing directory: never let it.
            if path.symlink_metadata().is_ok() {
                return Err(WorktreeError::PathExists {
                    path: path.to_owned(),
                });
            }
            let Some((name, _in_place)) = self.claim()? else {
                return Ok(None);
            };
            let lease = self.file(&name, "lease");
            crate::files::write_private(&lease, path.as_os_str().as_encoded_bytes())
                .map_err(self.io(&lease))?;
            let moved = process::run_ok(
                &git(&self.repo.root)
                    .args(["worktree", "move"])
                    .arg(self.dir().join(&name))
                    .arg(path),
            );
            if let Err(e) = moved {
                // Still in the pool, unproven: a tidy-up looks at it again.
                let _ = fs::remove_file(&lease);
                return Err(self.repo.git_err(path)(e));
            }
            name
        };
        let switched = process::run_ok(
            &strict_git(path)
                .args(["checkout", "--quiet"])
                .args(checkout),
        );
        if let Err(e) = switched {
            // It holds nothing of anyone's: it goes, so the caller can make a fresh one.
            {
                let _lock = self.repo.lock();
                let _ = process::run(
                    &git(&self.repo.root)
                        .args(["worktree", "remove", "--force", "--force"])
                        .arg(path),
                );
            }
            self.discard(&name);
            return Err(self.repo.git_err(path)(e));
        }
        Ok(Some(name))
    }

    /// Takes an idle worktree for a gate, detached at `commit`, in place; without an idle
    /// one, makes a new entry while the pool has room (cold this once, warm for the next
    /// gate). `None` when the pool is full and busy.
    pub fn take_in_place(&self, commit: &str) -> Result<Option<InPlace>, WorktreeError> {
        let dir = self.dir();
        crate::files::private_dir(&dir).map_err(self.io(&dir))?;
        let claim = || -> Result<Option<(String, File, bool)>, WorktreeError> {
            let _lock = self.repo.lock()?;
            match self.claim()? {
                Some((name, lock)) => Ok(Some((name, lock, false))),
                None => self.add_locked(commit),
            }
        };
        let claimed = match claim()? {
            Some(c) => Some(c),
            // Full, none idle: entries a killed gate left unproven are proven or go.
            None => {
                self.tidy();
                claim()?
            }
        };
        let Some((name, lock, new)) = claimed else {
            return Ok(None);
        };
        let path = self.dir().join(&name);
        if new && let Err(e) = self.populate(&name) {
            self.discard(&name);
            return Err(e);
        }
        let switched = process::run_ok(
            &strict_git(&path)
                .args(["checkout", "--quiet", "--detach"])
                .arg(commit),
        );
        if let Err(e) = switched {
            self.discard(&name);
            return Err(self.repo.git_err(&path)(e));
        }
        Ok(Some(InPlace {
            name,
            path,
            _lock: lock,
        }))
    }

    /// Gives back a worktree a gate used: whatever the gate left (tracked changes, builds,
    /// files) is scratch and goes, except the cache directories; an entry that cannot be
    /// proven clean afterwards is removed from the pool.
    pub fn give_back_in_place(&self, taken: InPlace) {
        let scrubbed = self
            .scrub(&taken.path)
            .and_then(|()| self.prove(&taken.path));
        match scrubbed {
            Ok(commit) => {
                let _ = crate::files::write_private(
                    &self.file(&taken.name, "ready"),
                    commit.as_bytes(),
                );
            }
            Err(_) => self.discard(&taken.name),
        }
    }

    /// Registers a new entry at `commit`, held by the caller (who then populates it), when the
    /// pool has room; under the worktree lock the caller holds. The flag says it is new.
    fn add_locked(&self, commit: &str) -> Result<Option<(String, File, bool)>, WorktreeError> {
        let (here, lent) = self.names();
        if (here.len() + lent.len()) as u32 >= self.size {
            return Ok(None);
        }
        let name = new_name();
        let Some(lock) = self.try_lock(&name)? else {
            return Ok(None);
        };
        self.add_checkout(&name, commit)?;
        Ok(Some((name, lock, true)))
    }

    /// `git worktree add --detach` of entry `name` at `commit`; the caller holds the worktree
    /// lock.
    fn add_checkout(&self, name: &str, commit: &str) -> Result<(), WorktreeError> {
        let path = self.dir().join(name);
        // Registered only: writing a big checkout's files must not hold the lock every
        // worktree step of every dispatch waits for (see `populate`).
        process::run_ok(
            &git(&self.repo.root)
                .args(["worktree", "add", "--quiet", "--no-checkout", "--detach"])
                .arg(&path)
                .arg(commit),
        )
        .map_err(self.repo.git_err(&path))?;
        Ok(())
    }

    /// Writes the files of an entry [`Pool::add_checkout`] registered, without the worktree
    /// lock (the caller holds the entry's own lock, so nobody else touches it meanwhile).
    fn populate(&self, name: &str) -> Result<(), WorktreeError> {
        let path = self.dir().join(name);
        process::run_ok(&strict_git(&path).args(["read-tree", "-u", "--reset", "HEAD"]))
            .map_err(self.repo.git_err(&path))?;
        Ok(())
    }

    /// Removes an entry whatever it holds (it is never work: only pooled checkouts).
    fn discard(&self, name: &str) {
        let path = self.dir().join(name);
        let _lock = self.repo.lock();
        let _ = process::run(
            &git(&self.repo.root)
                .args(["worktree", "remove", "--force", "--force"])
                .arg(&path),
        );
        let _ = fs::remove_dir_all(&path);
        for ext in ["ready", "lease", "lock"] {
            let _ = fs::remove_file(self.file(name, ext));
        }
    }

    /// Brings a checkout back to its HEAD and the cache directories: the admin directory
    /// emptied but for what git needs, the index rebuilt from HEAD, tracked files that differ
    /// rewritten (a dispatch's have none, its classification said so; a gate's runs are
    /// scratch), untracked and ignored files removed but the cache directories. A cache
    /// directory that is not a real directory (a symlink could point anywhere) goes.
    fn scrub(&self, path: &Path) -> Result<(), NotPooled> {
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
    fn prove(&self, path: &Path) -> Result<String, NotPooled> {
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

    /// Prepared worktrees the pool holds, lends out and may still make.
    pub fn entries(&self) -> Vec<Entry> {
        let (here, lent) = self.names();
        let mut out = Vec::new();
        for name in here {
            let path = self.dir().join(&name);
            let ready = fs::read_to_string(self.file(&name, "ready")).ok();
            let busy = matches!(self.try_lock(&name), Ok(None));
            let state = match (&ready, busy) {
                (_, true) => "busy",
                (Some(_), false) => "idle",
                (None, false) => "unproven",
            };
            out.push(Entry {
                name,
                path,
                state,
                commit: ready.map(|c| c.trim().to_owned()),
            });
        }
        for name in lent {
            let path = fs::read(self.file(&name, "lease"))
                .map(|b| PathBuf::from(String::from_utf8_lossy(&b).into_owned()))
                .unwrap_or_default();
            out.push(Entry {
                name,
                path,
                state: "lent",
                commit: None,
            });
        }
        out
    }

    /// Makes the pool whole: leases whose worktree is gone are dropped, unproven entries are
    /// scrubbed and proven (or removed), entries beyond the size are removed, then new
    /// checkouts of `commit` are made until the pool holds its size (idle plus lent).
    /// Returns how many were made. Several vnx processes may call it at once: one works, the
    /// others return at once.
    pub fn fill(&self, commit: &str) -> Result<u32, WorktreeError> {
        let dir = self.dir();
        crate::files::private_dir(&dir).map_err(self.io(&dir))?;
        let Some(_filling) = self.try_lock(".fill")? else {
            return Ok(0);
        };
        self.tidy();
        let (here, lent) = self.names();
        let held = (here.len() + lent.len()) as u32;
        let mut made = 0;
        for _ in held..self.size {
            let name = new_name();
            let path = dir.join(&name);
            // Held while it is made: a tidy-up must not take it for a crashed leftover.
            let Some(_making) = self.try_lock(&name)? else {
                continue;
            };
            {
                let _lock = self.repo.lock()?;
                self.add_checkout(&name, commit)?;
            }
            if self.populate(&name).is_err() {
                self.discard(&name);
                continue;
            }
            // Settles the index's stat data, so the first status of a user is not a full
            // re-read of every file git just wrote.
            let _ = process::run(&git(&path).args(["update-index", "-q", "--refresh"]));
            match self.prove(&path) {
                Ok(at) => {
                    let ready = self.file(&name, "ready");
                    crate::files::write_private(&ready, at.as_bytes()).map_err(self.io(&ready))?;
                    made += 1;
                }
                Err(_) => self.discard(&name),
            }
        }
        Ok(made)
    }

    /// Drops stale leases, proves unproven entries (or removes them), removes entries beyond
    /// the size and checkouts git no longer knows.
    pub fn tidy(&self) {
        if let Ok(_lock) = self.repo.lock() {
            let _ = process::run(&git(&self.repo.root).args(["worktree", "prune"]));
        }
        let (here, lent) = self.names();
        let mut still_lent = 0;
        for name in &lent {
            let lease = self.file(name, "lease");
            let path = fs::read(&lease)
                .map(|b| PathBuf::from(String::from_utf8_lossy(&b).into_owned()))
                .unwrap_or_default();
            if path.join(".git").exists() {
                still_lent += 1;
            } else {
                let _ = fs::remove_file(&lease);
            }
        }
        let mut idle = 0;
        for name in &here {
            let path = self.dir().join(name);
            let Ok(Some(lock)) = self.try_lock(name) else {
                continue;
            };
            let ready = self.file(name, "ready");
            let keep = path.join(".git").is_file()
                && idle + still_lent < self.size
                && (ready.exists()
                    || match self.scrub(&path).and_then(|()| self.prove(&path)) {
                        Ok(at) => crate::files::write_private(&ready, at.as_bytes()).is_ok(),
                        Err(_) => false,
                    });
            if keep {
                idle += 1;
            } else {
                // Removed while still held: nobody can claim it in between.
                self.discard(name);
            }
            drop(lock);
        }
        // Marker files whose checkout is gone.
        for e in fs::read_dir(self.dir()).into_iter().flatten().flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            if let Some((name, ext)) = file.rsplit_once('.')
                && matches!(ext, "ready" | "lock")
                && !name.is_empty()
                && !name.starts_with('.')
                && !self.dir().join(name).exists()
                && !self.file(name, "lease").exists()
            {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Scrubs and proves the entry `name` given back unproven, making it idle, or removes it;
    /// nothing when someone else holds it (they prove it). Returns whether it is idle now.
    pub fn prove_entry(&self, name: &str) -> bool {
        let path = self.dir().join(name);
        let Ok(Some(lock)) = self.try_lock(name) else {
            return false;
        };
        let ready = self.file(name, "ready");
        if ready.exists() {
            return true;
        }
        let proven = self
            .scrub(&path)
            .and_then(|()| self.prove(&path))
            .is_ok_and(|at| crate::files::write_private(&ready, at.as_bytes()).is_ok());
        if !proven {
            self.discard(name);
        }
        drop(lock);
        proven
    }

    /// Removes every idle entry (not one a gate or a dispatch is using). Returns how many.
    pub fn clear(&self) -> u32 {
        let (here, _) = self.names();
        let mut removed = 0;
        for name in here {
            // Removed while held, so a gate cannot claim it in between.
            if let Ok(Some(lock)) = self.try_lock(&name) {
                self.discard(&name);
                drop(lock);
                removed += 1;
            }
        }
        removed
    }
}

impl Repo {
    /// Gives a dispatch's worktree back to the pool it came from (entry `name`), or to the
    /// pool as a new entry: HEAD detached at `head` (so the dispatch branch is checked out
    /// nowhere) and moved into the pool, unproven: nobody can take it before [`Pool::tidy`]
    /// (run by [`Pool::fill`], which the supervisor calls once the completion is on the
    /// ledger) has scrubbed it and proven it clean, or removed it. The caller classified it
    /// clean, committed or pushed, so nothing of the worker's work is in it but its branch.
    /// On an error the worktree is where it was, for the caller to release as usual.
    pub fn release_to_pool(
        &self,
        pool: &Pool,
        path: &Path,
        name: &str,
        branch: &str,
        head: Option<&str>,
    ) -> Result<(), NotPooled> {
        let (here, lent) = pool.names();
        let others = here.len() + lent.iter().filter(|n| *n != name).count();
        if others as u32 >= pool.size {
            let _ = fs::remove_file(pool.file(name, "lease"));
            return Err(NotPooled::Full { size: pool.size });
        }
        let unclean = |why: String| NotPooled::Unclean {
            path: path.to_owned(),
            why,
        };
        let admin = admin_dir(path).ok_or_else(|| unclean("no git admin directory".into()))?;
        if let Some(busy) = IN_PROGRESS.iter().find(|f| admin.join(f).exists()) {
            return Err(unclean(format!("an operation is under way ({busy})")));
        }
        let dir = pool.dir();
        crate::files::private_dir(&dir).map_err(pool.io(&dir))?;
        let target = dir.join(name);
        {
            let _lock = self.lock()?;
            let detach = git(path).args(["update-ref", "--no-deref", "HEAD"]);
            let detach = match head {
                Some(h) => detach.arg(h),
                None => detach.arg("HEAD"),
            };
            process::run_ok(&detach).map_err(self.git_err(path))?;
            let moved = process::run_ok(
                &git(&self.root)
                    .args(["worktree", "move"])
                    .arg(path)
                    .arg(&target),
            );
            if let Err(e) = moved {
                // Back on its branch, for the caller to release as usual.
                self.reattach(path, branch);
                return Err(self.git_err(path)(e).into());
            }
            let _ = fs::remove_file(pool.file(name, "lease"));
        }
        Ok(())
    }
}

impl Repo {
    /// Acts on a classification as [`Repo::release`] does, except that a worktree that is not
    /// dirty goes back to `pool` (as its entry `entry`, or a new one, named in
    /// [`TeardownAction::pooled`](super::TeardownAction)) instead of being deleted, when the
    /// pool has room; it is proven clean before anyone takes it ([`Pool::prove_entry`]). Its
    /// branch is kept or deleted by the class as always. A dirty worktree leaves the pool for
    /// good.
    pub fn release_with_pool(
        &self,
        wt: &Worktree,
        c: &super::Classification,
        pool: &Pool,
        entry: Option<&str>,
    ) -> Result<super::TeardownAction, WorktreeError> {
        use super::TeardownClass;
        if c.class == TeardownClass::Dirty {
            if let Some(name) = entry {
                let _ = fs::remove_file(pool.file(name, "lease"));
            }
            return self.release(wt, c);
        }
        let name = entry.map_or_else(new_name, str::to_owned);
        if self
            .release_to_pool(pool, &wt.path, &name, &wt.branch, c.head_commit.as_deref())
            .is_err()
        {
            return self.release(wt, c);
        }
        self.after_removal(wt, c, Some(name))
    }
}

/// A worktree's git admin directory (`.git/worktrees/<name>`), from its `.git` file.
pub(crate) fn admin_dir(path: &Path) -> Option<PathBuf> {
    // The worker can replace `.git`: never read through a link or wait on a FIFO.
    let bytes = crate::files::read_bounded(&path.join(".git"), 4096).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let dir = text.strip_prefix("gitdir:")?.trim();
    Some(path.join(dir))
}

/// The most entries a worktree's admin directory may hold before vnx stops looking (git
/// keeps a dozen files there).
const MAX_ADMIN_ENTRIES: usize = 10_000;

/// Whether `admin` (a worktree's git admin directory, which a sandboxed worker can write)
/// holds anything but directories and regular files. git, run by vnx outside the sandbox,
/// writes `COMMIT_EDITMSG`, `logs/HEAD`, `index` and `HEAD` there: through a link the
/// worker planted it would write any file the user can (the ledger, `~/.bashrc`, vnx's own
/// hooks), and on a FIFO it would block.
fn admin_not_plain(admin: &Path) -> Option<&'static str> {
    let mut pending = vec![admin.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            return Some("its git admin directory cannot be read");
        };
        for entry in entries {
            seen += 1;
            if seen > MAX_ADMIN_ENTRIES {
                return Some("its git admin directory holds too many files");
            }
            let Ok(entry) = entry else {
                return Some("its git admin directory cannot be read");
            };
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(entry.path()),
                Ok(t) if t.is_file() => {}
                _ => {
                    return Some(
                        "its git admin directory holds a link, FIFO or device (planted by \
                         its worker?)",
                    );
                }
            }
        }
    }
    None
}

/// Why the checkout at `path` no longer belongs to the repository whose common directory is
/// `common_dir` (canonical), if it does not: its `.git` file, its admin directory's `gitdir`
/// and `commondir` are files a worker can write, and a git run in a checkout that names a
/// repository of the worker's own reads that repository's config (an fsmonitor, a filter)
/// and would run its commands outside any sandbox.
pub(crate) fn foreign_git(common_dir: &Path, path: &Path) -> Option<&'static str> {
    let Some(admin) = admin_dir(path).and_then(|a| fs::canonicalize(a).ok()) else {
        return Some("its .git names no git directory");
    };
    if admin.parent() != Some(common_dir.join("worktrees").as_path()) {
        return Some("its .git names another repository's directory");
    }
    if let Some(why) = admin_not_plain(&admin) {
        return Some(why);
    }
    // With `extensions.worktreeConfig` on (as `git sparse-checkout` turns it on), git reads
    // the admin directory's `config.worktree`: a worker could set an fsmonitor or a filter
    // there, run by vnx's git outside its sandbox. vnx never makes one, so one is foreign.
    if admin.join("config.worktree").symlink_metadata().is_ok() {
        return Some("its git admin directory holds a config.worktree (written by its worker?)");
    }
    let read = |name: &str| {
        crate::files::read_bounded(&admin.join(name), 4096)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let back = read("gitdir");
    let ours = fs::canonicalize(path.join(".git")).ok();
    if ours.is_none() || fs::canonicalize(back.trim()).ok() != ours {
        return Some("git's registration names another checkout");
    }
    let common = read("commondir");
    if fs::canonicalize(admin.join(common.trim())).ok().as_deref() != Some(common_dir) {
        return Some("its registration names another repository");
    }
    None
}

impl Repo {
    /// Puts a worktree detached for a move that then failed back on its branch.
    fn reattach(&self, path: &Path, branch: &str) {
        let _ = process::run(
            &git(path)
                .args(["symbolic-ref", "HEAD"])
                .arg(format!("refs/heads/{branch}")),
        );
    }
}

/// A fresh entry name: `pool-` and eight random hex digits.
fn new_name() -> String {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    format!("pool-{}", hex::encode(bytes))
}
