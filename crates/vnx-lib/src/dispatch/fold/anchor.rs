//! What a read index was verified against — the checkpoints' ref and this machine's
//! witness, `HEAD` (whose merge commits' trailers must name receipts on the ledger), the
//! hosts' checkpoint refs and the keys — kept in parts, and an index moved to the anchoring
//! of now by checking only what changed when that is what daily work changes: checkpoints
//! anchored on top of the ref, commits on top of `HEAD` (ADR 0045, amended). Anything else
//! (a ref moved back, another key, a host's checkpoints) is left to a whole verification.

use std::collections::BTreeMap;
use std::path::Path;

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use super::partial::Prefix;
use super::verified::ReadOptions;
use crate::ledger::LedgerError;
use crate::ledger::checkpoint::{self, Checkpoint};
use crate::ledger::verify::History;

/// The most checkpoints a read checks to move an index to a new anchoring (beyond, it
/// verifies the whole ledger).
const MOST_CHECKPOINTS: usize = 1024;

/// What a ledger's verification and its signatures' verdicts depend on besides its bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AnchorParts {
    /// Whether the ledger lies in a git repository (else nothing else counts).
    pub anchored: bool,
    /// The repository, the ledger's name in it, the keys trusted to sign checkpoints and
    /// receipts, and every host's checkpoint ref.
    pub fixed: [u8; 32],
    /// The commit the checkpoint ref names.
    pub tip: Option<[u8; 20]>,
    /// This machine's witness of the ledger's last checkpoint.
    pub witness: Option<[u8; 32]>,
    /// The commit `HEAD` names.
    pub head: Option<[u8; 20]>,
}

impl AnchorParts {
    /// The parts for the ledger at `ledger` now; `None` when they cannot be read.
    pub(super) fn now(ledger: &Path, o: &ReadOptions<'_>) -> Option<AnchorParts> {
        let inputs = checkpoint::anchoring_inputs(ledger, o.key, o.witness_dir).ok()?;
        let mut fixed = Sha256::new();
        fixed.update(b"vnx read index anchoring v3\0");
        for key in o.trusted {
            fixed.update(key);
        }
        fixed.update([0]);
        let Some(inputs) = inputs else {
            fixed.update(b"not anchored");
            return Some(AnchorParts {
                fixed: fixed.finalize().into(),
                ..AnchorParts::default()
            });
        };
        fixed.update(inputs.fixed);
        let mut head = None;
        let dir = crate::ledger::ledger_dir(ledger);
        if let Ok(repo) = git2::Repository::discover(dir) {
            head = repo.head().ok().and_then(|h| h.target()).map(oid_bytes);
            // The hosts' checkpoints judge the lines mirrored from them.
            if let Ok(refs) = repo.references_glob("refs/vnx/hosts/*") {
                let mut all: Vec<(String, Option<[u8; 20]>)> = refs
                    .flatten()
                    .map(|r| {
                        let name = r.name().unwrap_or_default().to_owned();
                        (name, r.target().map(oid_bytes))
                    })
                    .collect();
                all.sort();
                for (name, target) in all {
                    fixed.update(name.as_bytes());
                    fixed.update([0]);
                    fixed.update(target.unwrap_or_default());
                }
            }
        }
        Some(AnchorParts {
            anchored: true,
            fixed: fixed.finalize().into(),
            tip: inputs.tip,
            witness: inputs.witness,
            head,
        })
    }
}

fn oid_bytes(oid: git2::Oid) -> [u8; 20] {
    let mut b = [0u8; 20];
    b.copy_from_slice(oid.as_bytes());
    b
}

/// Whether a prefix verified clean against `from` (the lines after it still to be checked
/// as any read checks them) verifies clean against `to` as well: the same repository and
/// keys, every checkpoint anchored since signed by a trusted key and matching the ledger at
/// its line (at or after the prefix's end), the witness one of them (or unchanged), and
/// every merge commit `HEAD` gained naming a receipt on the ledger. `false` whenever only a
/// whole verification can tell.
pub(super) fn moves(
    ledger: &Path,
    o: &ReadOptions<'_>,
    from: &AnchorParts,
    to: &AnchorParts,
    at: Prefix<'_>,
) -> Result<bool, LedgerError> {
    if from.anchored != to.anchored || from.fixed != to.fixed {
        return Ok(false);
    }
    if !to.anchored {
        return Ok(from == to);
    }
    if (from.tip, from.witness) != (to.tip, to.witness) {
        if to.tip.is_none() {
            return Ok(false);
        }
        let Ok(Some(since)) =
            checkpoint::anchored_since(ledger, o.key, o.witness_dir, from.tip, MOST_CHECKPOINTS)
        else {
            return Ok(false);
        };
        let trusted = |c: &Checkpoint| {
            since.trusted_keys.is_empty() || since.trusted_keys.contains(&c.public_key)
        };
        if !since
            .checkpoints
            .iter()
            .all(|c| c.signature_ok && trusted(c))
        {
            return Ok(false);
        }
        // A witness that changed must be of a checkpoint the ref now holds (one it held
        // before no longer counts: the witness only moves forward).
        if from.witness != to.witness
            && let Some(w) = &since.witnessed
            && !since
                .checkpoints
                .iter()
                .any(|c| (c.lines, c.head, c.history) == (w.lines, w.head, w.history))
        {
            return Ok(false);
        }
        if !checkpoints_hold(ledger, &since.checkpoints, at)? {
            return Ok(false);
        }
    }
    if from.head != to.head {
        let Ok(anchor) = checkpoint::Anchor::discover(ledger) else {
            return Ok(false);
        };
        let hashes: Vec<String> =
            crate::ledger::trailers::merge_trailers_since(anchor.root(), from.head)
                .into_iter()
                .map(|(_, hash)| hash)
                .collect();
        if !crate::ledger::trailers::all_on_ledger(ledger, &hashes)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether each checkpoint states the ledger's line at its place and the history through
/// it: those at the prefix's end against what the index holds, those after it against the
/// lines read up to the last of them; one before the prefix's end cannot be told here.
fn checkpoints_hold(
    ledger: &Path,
    checkpoints: &[Checkpoint],
    at: Prefix<'_>,
) -> Result<bool, LedgerError> {
    let Some(mut history) = at.sealed.history.as_deref().and_then(History::from_bytes) else {
        return Ok(checkpoints.iter().all(|c| c.lines == 0));
    };
    let mut beyond: BTreeMap<u64, Vec<&Checkpoint>> = BTreeMap::new();
    for c in checkpoints.iter().filter(|c| c.lines > 0) {
        if c.lines < at.lines {
            return Ok(false);
        }
        if c.lines == at.lines {
            if at.sealed.end.line_hash != Some(c.head) || history.digest() != c.history {
                return Ok(false);
            }
        } else {
            beyond.entry(c.lines).or_default().push(c);
        }
    }
    let Some(&last) = beyond.keys().next_back() else {
        return Ok(true);
    };
    let mut n = at.lines;
    let mut ok = true;
    let mut first_signed = None;
    super::lines::each_checked(
        ledger,
        at.lines,
        at.offset,
        None,
        &mut first_signed,
        |line| {
            n += 1;
            let hash: [u8; 32] = Sha256::digest(line).into();
            history.update(&hash);
            for c in beyond.get(&n).into_iter().flatten() {
                ok &= c.head == hash && c.history == history.digest();
            }
            n < last
        },
        |_| {},
    )?;
    Ok(ok && n >= last)
}
