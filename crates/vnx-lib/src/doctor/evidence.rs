//! The evidence: the ledger verifies and extends its last checkpoint (the same checkpoints and
//! trusted keys `audit-chain verify` uses), and the signing key is present, private and
//! outside the repository.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::check::{Check, Status, count};
use crate::ledger::checkpoint::{self, CheckpointKey};
use crate::ledger::verify::CheckpointResult;
use crate::ledger::{ChainStatus, VerifyOptions};

/// `ledger` and `checkpoint`.
pub(super) fn ledger(
    path: &Path,
    key_path: Option<&Path>,
    witness_dir: Option<&Path>,
    threads: usize,
) -> Vec<Check> {
    const NAME: &str = "ledger";
    if !path.exists() && path.symlink_metadata().is_err() {
        return vec![Check::pass(
            NAME,
            format!("no receipts yet ({} does not exist)", path.display()),
        )];
    }
    // A local key that cannot be read (its own check names why) must not stop the ledger from
    // being verified: fall back to the committed key list alone.
    let (anchored, anchor_error, key_path) =
        match checkpoint::anchoring(path, key_path, witness_dir) {
            Ok(a) => (a, None, key_path),
            Err(e) => (
                checkpoint::anchoring(path, None, witness_dir)
                    .ok()
                    .flatten(),
                Some(e),
                None,
            ),
        };
    let options = VerifyOptions {
        threads,
        max_violations: 1,
        ..VerifyOptions::default()
    };
    // The verification `audit-chain verify` makes (merge trailers and hosts' segments
    // included), so that doctor never calls a ledger fine that it calls broken.
    let report = match crate::audit::verify_anchored(path, options, key_path, witness_dir) {
        Ok((r, _)) => r,
        Err(e) => {
            let hint = e.hint().unwrap_or_else(|| "check the ledger file".into());
            return vec![Check::fail(NAME, e.to_string(), hint)];
        }
    };
    let lines = count(report.lines as usize, "line", "lines");
    let ledger = if let Some(v) = report.violations.first() {
        let more = report.violations_total.saturating_sub(1);
        Check::fail(
            NAME,
            format!(
                "broken: {}{}",
                v.describe(),
                if more > 0 {
                    format!(" (and {more} more)")
                } else {
                    String::new()
                }
            ),
            "run `vnx audit-chain verify` to see every violation; the ledger is evidence, so \
             find out who changed it before anything else",
        )
    } else if let Some(t) = &report.torn_tail {
        Check::warn(
            NAME,
            format!(
                "{}, {lines}; torn tail at line {} (an interrupted append, not tampering)",
                report.status.as_str(),
                t.line
            ),
            "nothing to do: the next append moves the fragment aside and records it",
        )
    } else if report.status == ChainStatus::Unchained && report.lines > 0 {
        Check::warn(
            NAME,
            format!("unchained: {lines} without hash links"),
            "run `vnx audit-chain seal` to chain what follows",
        )
    } else {
        Check::pass(
            NAME,
            format!("{}, {lines} ({})", report.status.as_str(), path.display()),
        )
    };
    // The checkpoints `pick` selects, as `ID (line N), …`.
    let named = |pick: fn(&CheckpointResult) -> bool| {
        let named: Vec<String> = report
            .checkpoints
            .iter()
            .filter(|c| pick(c))
            .map(|c| format!("{} (line {})", c.id, c.lines))
            .collect();
        named.join(", ")
    };
    let checkpoint = match (&anchored, report.checkpoints.last()) {
        (None, _) if let Some(e) = &anchor_error => Check::fail(
            "checkpoint",
            format!("could not read the checkpoints: {e}"),
            e.hint()
                .unwrap_or_else(|| "run `vnx audit-chain verify` for details".into()),
        ),
        (None, _) => Check::warn(
            "checkpoint",
            "the ledger lies outside any git repository, so no checkpoint can anchor it",
            "keep the ledger inside the governed repository (the default)",
        ),
        (Some(_), Some(last)) if last.ok && report.checkpoints.iter().all(|c| c.ok) => Check::pass(
            "checkpoint",
            format!(
                "extends checkpoint {} (line {}; {} anchored)",
                last.id,
                last.lines,
                report.checkpoints.len()
            ),
        ),
        (Some(_), Some(_))
            if report
                .checkpoints
                .iter()
                .filter(|c| !c.ok)
                .all(|c| c.untrusted) =>
        {
            Check::fail(
                "checkpoint",
                format!(
                    "checkpoint {} is signed by a key this repository does not trust",
                    named(|c| c.untrusted)
                ),
                "if the key is yours (another machine, CI), add its public key to \
                 .vnx/checkpoint-keys; if not, someone else signed a checkpoint of this \
                 ledger: `vnx audit-chain verify` names the key",
            )
        }
        (Some(_), Some(_)) => Check::fail(
            "checkpoint",
            format!("the ledger does not extend checkpoint {}", named(|c| !c.ok)),
            "the ledger was cut, rewritten or forked after it was checkpointed; run `vnx \
             audit-chain verify` and restore it from a copy that extends the checkpoint",
        ),
        (Some(_), None) if report.lines == 0 => {
            Check::pass("checkpoint", "none yet; nothing to checkpoint")
        }
        (Some(_), None) => Check::warn(
            "checkpoint",
            "none yet: a cut or rewritten ledger would go unnoticed",
            "run `vnx audit-chain checkpoint`",
        ),
    };
    let checkpoint = match (&anchor_error, checkpoint) {
        (Some(e), c) if c.status != Status::Fail => Check {
            detail: format!("{}; checked without the local key ({e})", c.detail),
            ..c
        },
        (_, c) => c,
    };
    vec![ledger, checkpoint]
}

/// The checkpoint signing key: present, readable by its owner only, outside the repository.
pub(super) fn key(path: Option<&Path>, root: Option<&Path>) -> Check {
    const NAME: &str = "signing key";
    let Some(path) = path else {
        return Check::warn(
            NAME,
            "cannot place the key: neither XDG_CONFIG_HOME nor HOME is set",
            "set VNX_CHECKPOINT_KEY to where the key should live",
        );
    };
    if path.symlink_metadata().is_err() {
        return Check::warn(
            NAME,
            format!(
                "none at {} yet; created by the first dispatch or checkpoint",
                path.display()
            ),
            "run `vnx audit-chain checkpoint` once the ledger has receipts",
        );
    }
    let loaded = CheckpointKey::load(path);
    if let Err(e) = loaded {
        let hint = e.hint().unwrap_or_else(|| {
            format!(
                "move {} aside; `vnx audit-chain checkpoint` makes a new one",
                path.display()
            )
        });
        return Check::fail(NAME, e.to_string(), hint);
    }
    if let Some(root) = root {
        let inside = path.starts_with(root)
            || std::fs::canonicalize(path).is_ok_and(|p| p.starts_with(root));
        if inside {
            return Check::fail(
                NAME,
                format!(
                    "{} lies inside the repository {}",
                    path.display(),
                    root.display()
                ),
                "keep the key outside every worktree (XDG_CONFIG_HOME/vnx by default) and \
                 never commit it",
            );
        }
    }
    let mode = std::fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o777);
    Check::pass(NAME, format!("{} (mode {mode:o})", path.display()))
}

/// `data_dir`: vnx can write where it keeps its runtime data — a scratch file is created and
/// removed in the ledger's directory, and the ledger (if any) opens for appending. A read-only
/// or replaced `.vnx-data` would otherwise only show when a dispatch's completion is lost.
pub(super) fn writable(ledger: &Path) -> Check {
    const NAME: &str = "data_dir";
    let dir = ledger.parent().unwrap_or(Path::new("."));
    let scratch = dir.join(format!(".vnx-doctor-{}", std::process::id()));
    let tried = crate::files::write_private(&scratch, b"")
        .and_then(|()| std::fs::remove_file(&scratch))
        .map_err(|e| (dir.to_owned(), e))
        .and_then(|()| {
            if ledger.exists() {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new()
                    .append(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(ledger)
                    .map(drop)
                    .map_err(|e| (ledger.to_owned(), e))
            } else {
                Ok(())
            }
        });
    match tried {
        Ok(()) => Check::pass(NAME, format!("{} is writable", dir.display())),
        Err((path, e)) => Check::fail(
            NAME,
            format!("cannot write {}: {e}", path.display()),
            "receipts cannot be appended, so dispatches would lose their completion: make the \
             directory writable (and a directory), or free space",
        ),
    }
}
