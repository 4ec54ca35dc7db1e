//! The whole verification `audit-chain verify` makes, and `status`, `show` and the dashboard
//! rely on: the chain, the checkpoints anchored in the ledger's repository (with the keys it
//! trusts and this machine's witness), and the merge commits whose `VNX-Receipt` trailer
//! names a receipt the ledger no longer holds.

use std::path::Path;

use crate::checkpoint::{self, CheckpointError};
use crate::mirror::{self, Mirrors};
use crate::trailers;
use crate::verify::{VerifyOptions, VerifyReport, Violation, ViolationKind, verify_keeping};

/// Verifies the ledger at `path` in full; `local_key` and `witness_dir` are this machine's
/// signing key and witness directory, when it has them. Also says whether checkpoints were
/// anchored.
pub fn verify_anchored(
    path: &Path,
    mut options: VerifyOptions,
    local_key: Option<&Path>,
    witness_dir: Option<&Path>,
) -> Result<(VerifyReport, bool), CheckpointError> {
    let anchored = match checkpoint::anchoring(path, local_key, witness_dir)? {
        Some(anchoring) => {
            options.checkpoints = anchoring.checkpoints;
            options.trusted_keys = anchoring.trusted_keys;
            options.rolled_back = anchoring.rolled_back;
            true
        }
        None => false,
    };
    // The hosts' mirrored lines are picked out during the verify's one pass over the file.
    let needles = [mirror::NEEDLE, crate::dependencies::NEEDLE];
    let (mut report, kept) = verify_keeping(path, &options, &needles)?;
    if anchored {
        orphaned_trailers(path, &mut report)?;
    }
    let (after, kept): (Vec<_>, Vec<_>) = (kept.into_iter())
        .partition(|k| memchr::memmem::find(&k.bytes, crate::dependencies::NEEDLE).is_some());
    crate::dependencies::check(path, &after, &options.trusted_keys, &mut report)
        .map_err(CheckpointError::from)?;
    let mirrors = Mirrors::from_lines(kept.into_iter().map(|k| (k.number, k.bytes)));
    remote_segments(path, &mirrors, &mut report)?;
    Ok((report, anchored))
}

/// Adds a violation for each problem in the hosts' mirrored chain segments (and the host
/// checkpoints fetched into `refs/vnx/hosts/<name>/checkpoint`).
fn remote_segments(
    path: &Path,
    mirrors: &Mirrors,
    report: &mut VerifyReport,
) -> Result<(), CheckpointError> {
    if mirrors.lines.is_empty() && mirrors.origins.is_empty() {
        return Ok(());
    }
    let mut host_checkpoints = Vec::new();
    if let Ok(anchor) = checkpoint::Anchor::discover(path) {
        let hosts: std::collections::BTreeSet<&str> = mirrors
            .lines
            .iter()
            .map(|m| m.receipt.host.as_str())
            .collect();
        for host in hosts {
            let reference = checkpoint::host_checkpoint_ref(host);
            for cp in anchor.list_ref(&reference, None).unwrap_or_default() {
                if cp.signature_ok {
                    host_checkpoints.push((host.to_owned(), cp.lines, hex::encode(cp.head)));
                }
            }
        }
    }
    for violation in mirror::check(mirrors, &host_checkpoints) {
        report.add(violation);
    }
    Ok(())
}

/// Adds a violation for each merge commit on `HEAD`'s history whose `VNX-Receipt` trailer
/// names a receipt the ledger no longer holds (a cut or rolled-back ledger).
fn orphaned_trailers(path: &Path, report: &mut VerifyReport) -> Result<(), CheckpointError> {
    let Ok(anchor) = checkpoint::Anchor::discover(path) else {
        return Ok(());
    };
    let trailers = trailers::merge_trailers(anchor.root());
    for (commit, hash) in trailers::orphaned_trailers(path, &trailers)? {
        report.add(Violation::new(
            report.lines,
            ViolationKind::MergeTrailerOrphaned,
            format!(
                "merge commit {} names receipt {hash} (VNX-Receipt), which is not on the ledger",
                commit.get(..12).unwrap_or(&commit)
            ),
        ));
    }
    Ok(())
}
