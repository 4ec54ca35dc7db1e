//! What `audit-chain verify` checks of a dispatch that started after others (`--after`): each
//! head its signed `dispatch_started` says its base holds is the head its dependency's own
//! done completion (or a person's acceptance) recorded earlier on the ledger, under a key the
//! ledger trusts. A start that names a head no receipt of its dependency records is a
//! violation: the base would hold work nothing vouches for.

use std::collections::BTreeSet;
use std::path::Path;

use crate::LedgerError;
use crate::attest;
use crate::json::{self, Value};
use crate::receipts::{
    self, DispatchAccepted, DispatchCompleted, DispatchStarted, DispatchStatus, Kind,
};
use crate::scan::KeptLine;
use crate::verify::{VerifyReport, Violation, ViolationKind};

/// Bytes every start that names dependencies holds (the lines verification keeps for this
/// check; a queued dispatch's `queue_decision` holds them too, and is passed by).
pub const NEEDLE: &[u8] = b"\"after\":{";

/// A head some receipt vouches for: the dispatch, the head, and the receipt's `seq`.
type Vouched = (String, String, u64);

/// Adds a violation for each start among `kept` that names a dependency's head no earlier
/// done completion or acceptance of it records (attested by one of `trusted`, when the
/// ledger trusts keys).
pub fn check(
    path: &Path,
    kept: &[KeptLine],
    trusted: &[[u8; 32]],
    report: &mut VerifyReport,
) -> Result<(), LedgerError> {
    let starts: Vec<(u64, DispatchStarted, Option<u64>)> = (kept.iter())
        .filter_map(|k| {
            let fields = json::object_of_line(&k.bytes)?;
            if fields.get("event_type").and_then(Value::as_str) != Some(DispatchStarted::EVENT) {
                return None;
            }
            if !trusted.is_empty() && !attest::check(&fields, trusted).is_valid() {
                return None;
            }
            let seq = fields.get("seq").and_then(Value::as_u64);
            Some((
                k.number,
                receipts::read::<DispatchStarted>(&fields)?.receipt,
                seq,
            ))
        })
        .filter(|(_, s, _)| s.after.is_some())
        .collect();
    if starts.is_empty() {
        return Ok(());
    }
    let wanted: BTreeSet<String> = (starts.iter())
        .flat_map(|(_, s, _)| s.after.iter().flat_map(|a| &a.on))
        .map(|d| d.finished_by.as_ref().unwrap_or(&d.dispatch_id).to_string())
        .collect();
    let vouched = vouched(path, &wanted, trusted)?;
    for (number, start, seq) in &starts {
        for d in start.after.iter().flat_map(|a| &a.on) {
            let by = d.finished_by.as_ref().unwrap_or(&d.dispatch_id).as_str();
            let head = d.head_commit.as_str();
            let before = |at: u64| seq.is_none_or(|s| at < s);
            if !(vouched.iter()).any(|(id, h, at)| id == by && h == head && before(*at)) {
                report.add(Violation::new(
                    *number,
                    ViolationKind::DependencyUnproven,
                    format!(
                        "the start of {} says its base holds {}'s head {head}, but no done \
                         completion or acceptance of {by} before it records that head",
                        start.dispatch_id, d.dispatch_id
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The heads the done completions and acceptances of the dispatches `wanted` record, each
/// with its receipt's `seq` (one pass, parsing only the lines that name one of them).
fn vouched(
    path: &Path,
    wanted: &BTreeSet<String>,
    trusted: &[[u8; 32]],
) -> Result<Vec<Vouched>, LedgerError> {
    let (lines, _) = crate::tail::last_lines(path, usize::MAX, |l| {
        (wanted.iter()).any(|id| memchr::memmem::find(l, id.as_bytes()).is_some())
    })?;
    let mut out = Vec::new();
    for raw in lines {
        let Some(fields) = json::object_of_line(&raw) else {
            continue;
        };
        if !trusted.is_empty() && !attest::check(&fields, trusted).is_valid() {
            continue;
        }
        let seq = fields.get("seq").and_then(Value::as_u64).unwrap_or(0);
        if let Some(c) = receipts::read::<DispatchCompleted>(&fields).map(|r| r.receipt)
            && c.status == DispatchStatus::Done
            && let Some(head) = c.head_commit
        {
            out.push((c.dispatch_id.to_string(), head.to_string(), seq));
        } else if let Some(a) = receipts::read::<DispatchAccepted>(&fields).map(|r| r.receipt) {
            out.push((a.dispatch_id.to_string(), a.head_commit.to_string(), seq));
        }
    }
    Ok(out)
}
