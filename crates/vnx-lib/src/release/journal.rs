//! A release's receipt kept before the release acts: `.vnx-data/pending/release-<id>.json`
//! holds the signed `worktree_released` that vnx appends when everything planned is done,
//! with a nonce the appended receipt repeats. A release killed after it removed a worktree or
//! deleted a branch, but before its receipt, is recorded by the next `vnx worktree-release
//! --apply` ([`settle`]): what the journal planned, limited to what is found gone, and marked
//! as recorded late. A journal whose receipt reached the ledger, or whose release did
//! nothing, is removed; one no trusted key signed is never acted on (ADR 0050).

use std::path::{Path, PathBuf};

use crate::ids::DispatchId;
use crate::ledger::attest::{self, Attestor};
use crate::ledger::json::Value;
use crate::ledger::{Ledger, Receipt, now_utc, tail};
use crate::receipts::{self, WorktreeReleased};
use crate::worktree::Repo;

use super::ReleaseError;

/// The member of the journaled and the appended receipt that ties them together.
const NONCE: &str = "release_journal";
/// The largest journal read back.
const MAX_JOURNAL: u64 = 1 << 20;
/// A journal's name is this followed by the dispatch id and `.json`.
const PREFIX: &str = "release-";

/// A kept journal, removed once the release's receipt is on the ledger.
pub(super) struct Journal {
    path: PathBuf,
    nonce: String,
}

impl Journal {
    /// Keeps `planned` (the receipt of the release as planned) for dispatch `id`, signed.
    pub(super) fn keep(
        repo: &Repo,
        attestor: &Attestor,
        id: &DispatchId,
        planned: &Receipt,
    ) -> Result<Journal, ReleaseError> {
        let dir = pending_dir(repo);
        let path = dir.join(format!("{PREFIX}{id}.json"));
        let io_err = |source| ReleaseError::Journal {
            path: path.clone(),
            source,
        };
        crate::files::private_dir(&dir).map_err(io_err)?;
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| io_err(std::io::Error::other(e.to_string())))?;
        let nonce = hex::encode(nonce);
        let signed = attestor.attest(&with_nonce(planned, &nonce), &now_utc);
        let bytes = crate::ledger::json::to_canonical(&Value::Object(signed.object().clone()));
        crate::files::write_atomic_private(&path, &bytes, true).map_err(io_err)?;
        Ok(Journal { path, nonce })
    }

    /// The receipt to append for what was done: `receipt` with this journal's nonce.
    pub(super) fn mark(&self, receipt: &Receipt) -> Receipt {
        with_nonce(receipt, &self.nonce)
    }

    /// The release is recorded (or did nothing): the journal goes.
    pub(super) fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn with_nonce(receipt: &Receipt, nonce: &str) -> Receipt {
    let mut object = receipt.object().clone();
    object.insert(NONCE, Value::string(nonce));
    Receipt::from_object(object).expect("a valid receipt with one more member stays valid")
}

fn pending_dir(repo: &Repo) -> PathBuf {
    repo.root
        .join(crate::project::DATA_DIR)
        .join(crate::dispatch::supervise::pending::DIR)
}

/// Records every interrupted release a journal names (see the module's description); the
/// dispatches recorded now.
pub fn settle(
    repo: &Repo,
    ledger: &Path,
    attestor: &Attestor,
    trusted: &[[u8; 32]],
) -> Result<Vec<DispatchId>, ReleaseError> {
    let dir = pending_dir(repo);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut recorded = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name
            .strip_prefix(PREFIX)
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|i| DispatchId::parse(i).ok())
        else {
            continue;
        };
        let path = entry.path();
        if let Some(receipt) = interrupted(repo, ledger, trusted, &id, &path)? {
            let appended =
                Ledger::new(ledger).append(&attestor.attest(&receipts::write(&receipt), &now_utc));
            appended.map_err(|source| ReleaseError::Unrecorded {
                id: id.to_string(),
                source,
            })?;
            recorded.push(id);
        }
        let _ = std::fs::remove_file(&path);
    }
    Ok(recorded)
}

/// The receipt to append for the journal at `path`, or `None` when there is nothing to
/// record (forged, unreadable, already on the ledger, or nothing was done).
fn interrupted(
    repo: &Repo,
    ledger: &Path,
    trusted: &[[u8; 32]],
    id: &DispatchId,
    path: &Path,
) -> Result<Option<WorktreeReleased>, ReleaseError> {
    let Ok(bytes) = crate::files::read_bounded(path, MAX_JOURNAL) else {
        return Ok(None);
    };
    let Some(object) = crate::ledger::json::object_of_line(&bytes) else {
        return Ok(None);
    };
    if !attest::check(&object, trusted).is_valid() {
        return Ok(None);
    }
    let Some(nonce) = object.get(NONCE).and_then(Value::as_str).map(str::to_owned) else {
        return Ok(None);
    };
    let Some(planned) = receipts::read::<WorktreeReleased>(&object) else {
        return Ok(None);
    };
    if planned.receipt.dispatch_id != *id {
        return Ok(None);
    }
    let (on_ledger, _) = tail::last_lines(ledger, 1, |l| {
        memchr::memmem::find(l, nonce.as_bytes()).is_some()
    })?;
    if !on_ledger.is_empty() {
        return Ok(None);
    }
    let mut receipt = planned.receipt;
    let gone = |p: &str| std::fs::symlink_metadata(p).is_err();
    let worktree_gone = receipt.worktree.as_deref().is_some_and(gone);
    let branch_gone = receipt.branch.as_deref().is_some_and(|b| {
        git2::Repository::open(&repo.root)
            .is_ok_and(|g| g.find_branch(b, git2::BranchType::Local).is_err())
    });
    let dir_gone = receipt.dispatch_dir.as_deref().is_some_and(gone);
    let action = &mut receipt.action;
    action.worktree_removed &= worktree_gone;
    action.worktree_unlocked &= worktree_gone;
    action.branch_deleted &= branch_gone;
    action.dispatch_dir_removed &= dir_gone;
    if !action.dispatch_dir_removed {
        receipt.dispatch_dir = None;
    }
    if !(action.worktree_removed || action.branch_deleted || action.dispatch_dir_removed) {
        return Ok(None);
    }
    receipt.reason = format!(
        "{}; recorded by a later `vnx worktree-release --apply`: the release that did it was \
         interrupted before its receipt",
        receipt.reason
    );
    receipt.extra.insert(NONCE.to_owned(), nonce.into());
    Ok(Some(receipt))
}
