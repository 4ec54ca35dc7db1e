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
//!
//! The pool and taking and filling its entries are here; scrubbing a checkout and proving
//! it clean are in `pool/scrub`, a dispatch's worktree given back to the pool at teardown
//! in `pool/release`, and the checks on a worktree's git admin directory in
//! `pool/git_admin`.

use crate::ids::{CommitId, DispatchId};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use super::{Repo, Worktree, WorktreeError, git};
use crate::process;
use crate::project::DATA_DIR;

mod git_admin;
mod release;
mod scrub;

pub(crate) use git_admin::{admin_dir, foreign_git};

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
/// no untracked cache, no stat-skipping; no fsmonitor nor hooks, as for all of vnx's git).
pub(super) fn strict_git(dir: &Path) -> crate::process::Cmd {
    git(dir).args([
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
    ])
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

    /// Where a lent entry was moved to, as its lease says.
    fn lent_to(&self, name: &str) -> PathBuf {
        fs::read(self.file(name, "lease"))
            .map(|b| PathBuf::from(String::from_utf8_lossy(&b).into_owned()))
            .unwrap_or_default()
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
        id: &DispatchId,
        path: &Path,
        branch: &str,
        base_commit: &CommitId,
    ) -> Result<Option<(Worktree, String)>, WorktreeError> {
        let switch = ["--no-track", "-b", branch, base_commit.as_str()];
        let Some(name) = self.take_to(path, &switch)? else {
            return Ok(None);
        };
        let wt = Worktree {
            id: id.clone(),
            path: path.to_owned(),
            branch: branch.to_owned(),
            base_commit: base_commit.clone(),
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
            // Full, none idle: entries a killed gate left unproven are proven or go.
            None => {
                self.tidy();
                claim()?
            }
            claimed => claimed,
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
        match self
            .scrub(&taken.path)
            .and_then(|()| self.prove(&taken.path))
        {
            Ok(at) => drop(crate::files::write_private(
                &self.file(&taken.name, "ready"),
                at.as_bytes(),
            )),
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
            out.push(Entry {
                path: self.lent_to(&name),
                name,
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
            if self.lent_to(name).join(".git").exists() {
                still_lent += 1;
            } else {
                let _ = fs::remove_file(self.file(name, "lease"));
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
                    || (self.scrub(&path).and_then(|()| self.prove(&path))).is_ok_and(|at| {
                        crate::files::write_private(&ready, at.as_bytes()).is_ok()
                    }));
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

/// A fresh entry name: `pool-` and eight random hex digits.
fn new_name() -> String {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    format!("pool-{}", hex::encode(bytes))
}
