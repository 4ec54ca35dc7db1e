//! The governed repository as the checkpoints' anchor: `refs/vnx/checkpoints` (or a host's
//! fetched copy) read into checkpoints with their signatures checked, a new checkpoint
//! signed and committed on top of it, and its tip as the witness records it.

use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, Verifier, VerifyingKey};
use hex::FromHex;

use super::{Anchor, CHECKPOINT_REF, Checkpoint, CheckpointError, CheckpointKey, Statement};

impl Anchor {
    /// Finds the repository containing `path` (a ledger or a directory).
    pub fn discover(path: &Path) -> Result<Anchor, CheckpointError> {
        let start = if path.is_dir() {
            path
        } else {
            crate::ledger_dir(path)
        };
        let not_repo = || CheckpointError::NotInRepo {
            path: path.to_owned(),
        };
        let repo = git2::Repository::discover(start).map_err(|_| not_repo())?;
        // Checkpoints are about the main checkout's ledger, whichever worktree we are in.
        let root =
            vnx_core::main_checkout::main_root_of(Some(&repo), start).ok_or_else(not_repo)?;
        Ok(Anchor { repo, root })
    }

    /// [`Anchor::discover`], `None` when `path` lies outside any git repository.
    pub fn find(path: &Path) -> Result<Option<Anchor>, CheckpointError> {
        match Anchor::discover(path) {
            Ok(anchor) => Ok(Some(anchor)),
            Err(CheckpointError::NotInRepo { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The repository root paths are named relative to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How checkpoints name the ledger at `path`.
    pub fn ledger_name(&self, path: &Path) -> String {
        // Resolve the directory, not the file itself: a link in the ledger's place must not
        // give it another name (and so escape its checkpoints).
        let abs = match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) => fs::canonicalize(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
            .map(|d| d.join(name))
            .unwrap_or_else(|_| path.to_owned()),
            _ => path.to_owned(),
        };
        match abs.strip_prefix(&self.root) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => abs.to_string_lossy().into_owned(),
        }
    }

    fn git(&self, op: &'static str) -> impl Fn(git2::Error) -> CheckpointError + '_ {
        move |source| CheckpointError::Git {
            op,
            repo: self.root.clone(),
            source,
        }
    }

    /// The git common directory (the same from every worktree).
    pub fn common_dir(&self) -> PathBuf {
        self.repo.commondir().to_owned()
    }

    /// The checkpoint at the ref's tip, as a witness (signature included).
    pub fn tip_witness(&self) -> Option<super::witness::Witness> {
        let commit = self.tip(CHECKPOINT_REF).ok()??;
        let tree = commit.tree().ok()?;
        let file = |name: &str| -> Option<String> {
            let entry = tree.get_name(name)?;
            let blob = self.repo.find_blob(entry.id()).ok()?;
            Some(
                String::from_utf8(blob.content().to_vec())
                    .ok()?
                    .trim()
                    .to_owned(),
            )
        };
        let statement = Statement::parse(&format!("{}\n", file("checkpoint")?))?;
        Some(super::witness::Witness {
            commit: commit.id().to_string(),
            ledger: statement.ledger,
            lines: statement.lines,
            head: hex::encode(statement.head),
            history: hex::encode(statement.history),
            time: statement.time,
            public_key: file("public_key")?,
            signature: file("signature")?,
        })
    }

    /// The commit `refs/vnx/checkpoints` points at (`None` while there is none): it names,
    /// through its parents, every checkpoint [`Anchor::list`] reads, and git names each
    /// object by its content.
    pub fn checkpoint_tip(&self) -> Result<Option<git2::Oid>, CheckpointError> {
        Ok(self.tip(CHECKPOINT_REF)?.map(|c| c.id()))
    }

    /// The commit `reference` points at (`None` while there is none).
    fn tip(&self, reference: &str) -> Result<Option<git2::Commit<'_>>, CheckpointError> {
        match self.repo.find_reference(reference) {
            Ok(r) => Ok(Some(
                r.peel_to_commit().map_err(self.git("read checkpoints"))?,
            )),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(self.git("read checkpoints")(e)),
        }
    }

    /// The newest checkpoint for `ledger` (walking down from the tip only as far as it).
    pub fn newest(&self, ledger: &str) -> Result<Option<Checkpoint>, CheckpointError> {
        let mut next = self.tip(CHECKPOINT_REF)?;
        while let Some(commit) = next {
            match self.read_commit(&commit) {
                Some(cp) if cp.ledger == ledger => return Ok(Some(cp)),
                Some(_) => {}
                None => {
                    return Err(CheckpointError::NotACheckpoint {
                        commit: commit.id().to_string(),
                    });
                }
            }
            next = commit.parents().next();
        }
        Ok(None)
    }

    /// Every checkpoint for `ledger`, oldest first.
    pub fn list(&self, ledger: &str) -> Result<Vec<Checkpoint>, CheckpointError> {
        self.list_ref(CHECKPOINT_REF, Some(ledger))
    }

    /// Every checkpoint on `reference` (for `ledger`, or for any ledger), oldest first: the
    /// repository's own ref, or a remote host's fetched into `refs/vnx/hosts/<name>/`.
    pub fn list_ref(
        &self,
        reference: &str,
        ledger: Option<&str>,
    ) -> Result<Vec<Checkpoint>, CheckpointError> {
        Ok(self
            .walk(reference, ledger, None, usize::MAX)?
            .unwrap_or_default())
    }

    /// Every checkpoint for `ledger` on `refs/vnx/checkpoints` above commit `since` (`None`:
    /// all), oldest first, walking down from the tip; `None` when the tip is not `since` or a
    /// descendant of it within `most` checkpoints (the ref was moved back, or elsewhere).
    pub fn list_since(
        &self,
        ledger: &str,
        since: Option<git2::Oid>,
        most: usize,
    ) -> Result<Option<Vec<Checkpoint>>, CheckpointError> {
        self.walk(CHECKPOINT_REF, Some(ledger), since, most)
    }

    /// The checkpoints on `reference` (for `ledger`, or any) from its tip down to commit
    /// `since` or the root, oldest first; `None` when `since` is not reached within `most`.
    fn walk(
        &self,
        reference: &str,
        ledger: Option<&str>,
        since: Option<git2::Oid>,
        most: usize,
    ) -> Result<Option<Vec<Checkpoint>>, CheckpointError> {
        let mut out = Vec::new();
        let mut next = self.tip(reference)?;
        while let Some(commit) = next {
            if Some(commit.id()) == since {
                out.reverse();
                return Ok(Some(out));
            }
            if out.len() >= most {
                return Ok(None);
            }
            match self.read_commit(&commit) {
                Some(cp) if ledger.is_none_or(|l| cp.ledger == l) => out.push(cp),
                Some(_) => {}
                // Every commit on the ref is one vnx made: anything else is not "no
                // checkpoints", it is a ref someone moved.
                None => {
                    return Err(CheckpointError::NotACheckpoint {
                        commit: commit.id().to_string(),
                    });
                }
            }
            next = commit.parents().next();
        }
        out.reverse();
        Ok(since.is_none().then_some(out))
    }

    fn read_commit(&self, commit: &git2::Commit<'_>) -> Option<Checkpoint> {
        let tree = commit.tree().ok()?;
        let file = |name: &str| -> Option<Vec<u8>> {
            let entry = tree.get_name(name)?;
            Some(self.repo.find_blob(entry.id()).ok()?.content().to_vec())
        };
        let text = String::from_utf8(file("checkpoint")?).ok()?;
        let statement = Statement::parse(&text)?;
        let public_key =
            <[u8; 32]>::from_hex(String::from_utf8(file("public_key")?).ok()?.trim()).ok()?;
        let sig = <[u8; 64]>::from_hex(String::from_utf8(file("signature")?).ok()?.trim());
        let sig_ok = sig.is_ok_and(|sig| {
            VerifyingKey::from_bytes(&public_key)
                .and_then(|k| k.verify(text.as_bytes(), &Signature::from_bytes(&sig)))
                .is_ok()
        });
        let id = commit.id().to_string();
        Some(Checkpoint {
            id: id[..12].to_owned(),
            ledger: statement.ledger,
            lines: statement.lines,
            head: statement.head,
            history: statement.history,
            time: statement.time,
            public_key,
            signature_ok: sig_ok,
        })
    }

    /// Signs and anchors a new checkpoint as a commit on top of the checkpoint ref.
    pub(super) fn record(
        &self,
        key: &CheckpointKey,
        statement: &Statement,
    ) -> Result<Checkpoint, CheckpointError> {
        if key.path().starts_with(&self.root)
            || fs::canonicalize(key.path()).is_ok_and(|p| p.starts_with(&self.root))
        {
            return Err(CheckpointError::KeyInsideRepo {
                path: key.path().to_owned(),
                repo: self.root.clone(),
            });
        }
        let text = statement.body();
        let signature = key.key.sign(text.as_bytes());
        let git = self.git("write checkpoint");
        let mut tree = self.repo.treebuilder(None).map_err(&git)?;
        for (name, data) in [
            ("checkpoint", text.clone()),
            (
                "signature",
                format!("{}\n", hex::encode(signature.to_bytes())),
            ),
            ("public_key", format!("{}\n", hex::encode(key.public_key()))),
        ] {
            let blob = self.repo.blob(data.as_bytes()).map_err(&git)?;
            tree.insert(name, blob, 0o100644).map_err(&git)?;
        }
        let tree = self
            .repo
            .find_tree(tree.write().map_err(&git)?)
            .map_err(&git)?;
        let parent = match self.repo.find_reference(CHECKPOINT_REF) {
            Ok(r) => Some(r.peel_to_commit().map_err(&git)?),
            Err(_) => None,
        };
        let who = git2::Signature::now("vnx", "vnx@localhost").map_err(&git)?;
        let message = format!(
            "vnx checkpoint: {} at line {}\n\n{text}",
            statement.ledger, statement.lines
        );
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let oid = self
            .repo
            .commit(None, &who, &who, &message, &tree, &parents)
            .map_err(&git)?;
        // Compare-and-swap: a concurrent checkpoint makes this fail rather than drop one.
        match &parent {
            Some(p) => self
                .repo
                .reference_matching(CHECKPOINT_REF, oid, true, p.id(), "vnx checkpoint")
                .map_err(&git)?,
            None => self
                .repo
                .reference(CHECKPOINT_REF, oid, false, "vnx checkpoint")
                .map_err(&git)?,
        };
        let commit = self.repo.find_commit(oid).map_err(&git)?;
        self.read_commit(&commit).ok_or(CheckpointError::Git {
            op: "read back checkpoint",
            repo: self.root.clone(),
            source: git2::Error::from_str("checkpoint commit unreadable"),
        })
    }
}
