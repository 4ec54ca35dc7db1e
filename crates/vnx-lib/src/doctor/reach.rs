//! Who could forge or tamper with the evidence: whether a worker can reach the signing key,
//! the ledger and the checkpoint ref (`evidence_reach`), and whether the ledger holds
//! receipts of the kinds vnx signs that no trusted key attests (`attestations`).

use std::path::Path;

use super::Check;
use crate::evidence_reach;
use crate::ledger::attest::{self, Attestor};
use crate::ledger::checkpoint::{self, Anchor, CheckpointError, CheckpointKey};

/// `evidence_reach`: a WARN while workers can reach the evidence (today, always: they run
/// unsandboxed as the user).
pub(super) fn reach(key: Option<&Path>, ledger: Option<&Path>, root: &Path) -> Check {
    const NAME: &str = "evidence_reach";
    let (Some(key), Some(ledger)) = (key, ledger) else {
        return Check::warn(
            NAME,
            "cannot tell: no signing key path or no ledger could be named",
            "set HOME (or XDG_CONFIG_HOME) so the key has a place",
        );
    };
    let common_dir = git2::Repository::open(root)
        .map(|r| r.commondir().to_owned())
        .unwrap_or_else(|_| root.join(".git"));
    let reach = evidence_reach::measure(key, ledger, &common_dir);
    if reach.out_of_reach() {
        return Check::pass(NAME, reach.describe());
    }
    Check::warn(
        NAME,
        reach.describe(),
        "vnx detects what such a worker does (unattested receipts, a cut or rewritten ledger, a \
         moved checkpoint ref) but cannot prevent a worker that reads the key from forging \
         evidence; review what you merge, and push refs/vnx/checkpoints where workers cannot \
         force-push",
    )
}

/// `attestations`: every receipt of a kind vnx signs is attested by a trusted key.
pub(super) fn attestations(ledger: &Path, key: Option<&Path>) -> Check {
    const NAME: &str = "attestations";
    if !ledger.is_file() {
        return Check::pass(NAME, "no receipts yet");
    }
    let trusted = match trusted(ledger, key) {
        Ok(t) => t,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot read the trusted keys: {e}"),
                e.hint()
                    .unwrap_or_else(|| "check .vnx/checkpoint-keys".into()),
            );
        }
    };
    match attest::unattested(ledger, &trusted) {
        Ok(found) if found.is_empty() => Check::pass(
            NAME,
            "every receipt of a kind vnx writes is attested by a trusted key",
        ),
        Ok(found) => {
            let first: Vec<String> = found
                .iter()
                .take(3)
                .map(|u| {
                    format!(
                        "line {}: {}{} {}",
                        u.seq.map_or("?".into(), |s| s.to_string()),
                        u.event_type,
                        u.dispatch_id
                            .as_deref()
                            .map(|d| format!(" for {d}"))
                            .unwrap_or_default(),
                        u.problem
                    )
                })
                .collect();
            let more = found.len().saturating_sub(first.len());
            Check::fail(
                NAME,
                format!(
                    "{} receipt(s) claim to be vnx's but are not attested: {}{}",
                    found.len(),
                    first.join("; "),
                    if more > 0 {
                        format!(" (and {more} more)")
                    } else {
                        String::new()
                    }
                ),
                "something other than vnx wrote them (a worker, or a copy of vnx with another \
                 key): `vnx receipts tail --dispatch ID` shows them; merges ignore them and \
                 refuse the dispatches they name; a key of yours goes in .vnx/checkpoint-keys",
            )
        }
        Err(e) => Check::fail(
            NAME,
            e.to_string(),
            e.hint().unwrap_or_else(|| "check the ledger file".into()),
        ),
    }
}

/// The local key (if it exists; doctor creates nothing) and the listed keys.
pub(super) fn trusted(ledger: &Path, key: Option<&Path>) -> Result<Vec<[u8; 32]>, CheckpointError> {
    let local = match key {
        Some(path) => CheckpointKey::load(path)?,
        None => None,
    };
    match local {
        Some(k) => attest::trusted_keys(ledger, &Attestor::new(&k)),
        None => match Anchor::discover(ledger) {
            Ok(anchor) => checkpoint::trusted_keys(&anchor, None),
            Err(CheckpointError::NotInRepo { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        },
    }
}
