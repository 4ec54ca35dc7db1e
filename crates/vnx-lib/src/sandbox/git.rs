//! How a sandboxed worker commits without being able to touch anything else in the
//! repository: a quarantine, as git's own `receive-pack` keeps pushed objects apart until it
//! accepts them. Inside the sandbox the repository's object directory is the quarantine's
//! (new objects land there; the real ones are read through an alternate mounted read-only),
//! and the directory holding its branch holds only its branch. The rest of `.git` is read-only,
//! so a worker can neither delete an object, nor move `main`, another dispatch's branch or
//! `refs/vnx/`. After the worker ends, vnx imports the quarantine's objects through
//! `git index-pack` (which checks every object's hash) and moves the branch with
//! `git update-ref` from the commit it recorded, so a worker's commit arrives as if it had been
//! made outside, and nothing a worker wrote there is trusted before git has checked it.

use std::fs;
use std::path::{Path, PathBuf};

pub use crate::receipts::Quarantine;

use super::SandboxError;
use crate::process::{self, Cmd};

/// What vnx does with a dispatch's [`Quarantine`], which is receipt data (inside the
/// sandbox's shape): makes it, mounts it, and imports what the worker left in it.
pub trait QuarantineExt {
    /// Makes the quarantine for `branch` (at `start`) of the repository whose common git
    /// directory is `common`, in `dir`.
    fn prepare(
        common: &Path,
        dir: &Path,
        branch: &str,
        start: &str,
    ) -> Result<Quarantine, SandboxError>;

    /// The mounts that put the quarantine in place, in order: `(source, target, writable)`.
    fn mounts(&self) -> [(PathBuf, PathBuf, bool); 4];

    /// Brings the worker's objects into the repository (each checked by `git index-pack`)
    /// and moves its branch to where the worker left it. Returns the branch's commit when the
    /// worker moved it. The quarantine is removed once everything is in; on an error it stays,
    /// with whatever the worker made.
    fn import(&self, repo_root: &Path) -> Result<Option<String>, SandboxError>;
}

impl QuarantineExt for Quarantine {
    fn prepare(
        common: &Path,
        dir: &Path,
        branch: &str,
        start: &str,
    ) -> Result<Quarantine, SandboxError> {
        let format = process::run(&git(common).args(["config", "extensions.refStorage"]))
            .map(|o| o.text())
            .unwrap_or_default();
        if !format.is_empty() && format != "files" {
            return Err(SandboxError::RefFormat {
                path: common.to_owned(),
                format,
            });
        }
        let (parent, leaf) = match branch.rsplit_once('/') {
            Some((p, l)) => (format!("/{p}"), l),
            None => (String::new(), branch),
        };
        let refs = common.join(format!("refs/heads{parent}"));
        let logs = common.join(format!("logs/refs/heads{parent}"));
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| SandboxError::Io { path, source }
        };
        for d in [&refs, &logs] {
            fs::create_dir_all(d).map_err(io(d))?;
        }
        let _ = fs::remove_dir_all(dir);
        for sub in ["objects/info", "objects/pack", "base", "refs", "logs"] {
            let d = dir.join(sub);
            fs::create_dir_all(&d).map_err(io(&d))?;
        }
        let alternates = dir.join("objects/info/alternates");
        fs::write(&alternates, format!("{}\n", dir.join("base").display()))
            .map_err(io(&alternates))?;
        let tip = dir.join("refs").join(leaf);
        fs::write(&tip, format!("{start}\n")).map_err(io(&tip))?;
        Ok(Quarantine {
            dir: dir.to_owned(),
            objects: common.join("objects"),
            refs,
            logs,
            branch: branch.to_owned(),
            start: start.to_owned(),
        })
    }

    fn mounts(&self) -> [(PathBuf, PathBuf, bool); 4] {
        [
            (self.objects.clone(), self.dir.join("base"), false),
            (self.dir.join("objects"), self.objects.clone(), true),
            (self.dir.join("refs"), self.refs.clone(), true),
            (self.dir.join("logs"), self.logs.clone(), true),
        ]
    }

    fn import(&self, repo_root: &Path) -> Result<Option<String>, SandboxError> {
        let failed = |source| SandboxError::Import { source };
        // What the worker wrote about alternates goes: only the quarantine's own objects are
        // read from here on.
        let info = self.dir.join("objects/info");
        match fs::symlink_metadata(&info) {
            Ok(m) if m.is_dir() => {
                for f in ["alternates", "http-alternates"] {
                    let _ = fs::remove_file(info.join(f));
                }
            }
            Ok(_) => {
                let _ = fs::remove_file(&info);
            }
            Err(_) => {}
        }
        let quarantined = |cmd: Cmd| cmd.env("GIT_OBJECT_DIRECTORY", self.dir.join("objects"));
        let listed = process::run_ok(&quarantined(git(repo_root).args([
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname)",
        ])))
        .map_err(failed)?;
        if !listed.trim().is_empty() {
            let list = self.dir.join("import.list");
            let io = |source| SandboxError::Io {
                path: list.clone(),
                source,
            };
            fs::write(&list, format!("{}\n", listed.trim())).map_err(io)?;
            let base = self.dir.join("import");
            let name = process::run_ok(
                &quarantined(git(repo_root).arg("pack-objects").arg(&base)).stdin_file(&list),
            )
            .map_err(failed)?;
            let pack = self.dir.join(format!("import-{}.pack", name.trim()));
            process::run_ok(
                &git(repo_root)
                    .args(["index-pack", "--stdin", "--strict"])
                    .stdin_file(&pack),
            )
            .map_err(failed)?;
        }
        let moved = move_branch(self, repo_root)?;
        let _ = fs::remove_dir_all(&self.dir);
        Ok(moved)
    }
}

/// The branch's file inside the quarantine.
fn tip_file(q: &Quarantine) -> PathBuf {
    let leaf = q.branch.rsplit('/').next().unwrap_or(&q.branch);
    q.dir.join("refs").join(leaf)
}

/// Moves the branch to the commit the worker left in the quarantine, if it moved it.
fn move_branch(q: &Quarantine, repo_root: &Path) -> Result<Option<String>, SandboxError> {
    let what = || format!("refs/heads/{}", q.branch);
    let tip = match fs::symlink_metadata(tip_file(q)) {
        Ok(m) if m.is_file() => fs::read_to_string(tip_file(q)).unwrap_or_default(),
        // The worker deleted its branch (or made it something else): the branch stays
        // where it was, and its commits stay reachable from the worktree's HEAD.
        _ => return Ok(None),
    };
    let tip = tip.trim();
    if tip == q.start {
        return Ok(None);
    }
    let hex = tip.len() >= 40 && tip.bytes().all(|b| b.is_ascii_hexdigit());
    let kind = hex
        .then(|| process::run(&git(repo_root).args(["cat-file", "-t", tip])).ok())
        .flatten()
        .filter(|o| o.status.success())
        .map(|o| o.text());
    if kind.as_deref() != Some("commit") {
        return Err(SandboxError::BadTip {
            what: what(),
            value: tip.chars().take(80).collect(),
        });
    }
    process::run_ok(&git(repo_root).args([
        "update-ref",
        "-m",
        "vnx: the sandboxed worker's commits",
        &what(),
        tip,
        &q.start,
    ]))
    .map_err(|source| SandboxError::Import { source })?;
    Ok(Some(tip.to_owned()))
}

fn git(dir: &Path) -> Cmd {
    Cmd::git().arg("-C").arg(dir)
}
