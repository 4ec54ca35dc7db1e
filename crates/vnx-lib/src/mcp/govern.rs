//! The governance questions `vnx mcp` answers, without writing: the newest receipts, the
//! ledger's verification, a dispatch's gate results, whether it can merge (`merge --check`'s
//! conditions), the provider constraints, and the recorded spend with the budgets' standing.

use serde::Serialize;

use super::evidence::{self, Cited, Evidence};
use super::read::{LIMITS, bounded, check_id, detail_of_id};
use super::{McpError, Settings};
use crate::dispatch::settled::Embedded;
use crate::ledger::summary::Summary;
use crate::ledger::tail;

/// The newest `limit` receipts (of one dispatch, of one event type), as the ledger holds them.
pub fn tail_receipts(
    s: &Settings,
    limit: Option<u64>,
    dispatch_id: Option<&str>,
    event_type: Option<&str>,
) -> Result<serde_json::Value, McpError> {
    let n = bounded(limit, 20, LIMITS.receipts, "limit")? as usize;
    if let Some(id) = dispatch_id {
        check_id(id)?;
    }
    if let Some(e) = event_type {
        let mut b = e.bytes();
        let ok = e.len() <= 64
            && matches!(b.next(), Some(b'a'..=b'z'))
            && b.all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_'));
        if !ok {
            return Err(McpError::bad(format!(
                "{:?} is not an event type (lower case letters, digits and _)",
                e.chars().take(80).collect::<String>()
            )));
        }
    }
    let (lines, _) = evidence::or_none(tail::last_lines(&s.ledger, n, |l| {
        Summary::of(l).matches(dispatch_id, event_type)
    }))?;
    let cited = lines.iter().map(|l| Cited::of(None, l)).collect();
    let receipts: Vec<Embedded> = lines.iter().map(|l| Embedded::of(l)).collect();
    evidence::answer(
        serde_json::json!({ "receipts": receipts }),
        Evidence::new(&s.ledger, cited)?,
    )
}

/// The ledger's verification, as `vnx audit-chain verify --json` prints it.
pub fn verify_ledger(s: &Settings, strict: bool) -> Result<serde_json::Value, McpError> {
    if std::fs::symlink_metadata(&s.ledger).is_err() {
        // Deleted, when checkpoints say it existed: that never passes.
        let deleted = crate::ledger::checkpoint::missing_ledger_was_deleted(
            &s.ledger,
            s.witness_dir.as_deref(),
        );
        return evidence::answer(
            serde_json::json!({
                "ledger": s.ledger,
                "missing": true,
                "passed": !strict && deleted.is_none(),
                "reason": deleted,
            }),
            Evidence::default(),
        );
    }
    let (report, _) = evidence::verify(s, 1000)?;
    let fails = !report.status.is_ok()
        || (strict
            && (report.status == crate::ledger::ChainStatus::Unchained
                || report.torn_tail.is_some()
                || report.checkpoints.is_empty()));
    let value = serde_json::json!({
        "ledger": s.ledger,
        "verified": report.status.is_ok(),
        "strict": strict,
        "passed": !fails,
        "report": report,
    });
    evidence::answer(value, Evidence::new(&s.ledger, Vec::new())?)
}

/// A dispatch's gates: those its role requires, each gate's newest signed result, the newest
/// gate report (GO or HOLD), and the receipts about it no trusted key signed.
pub fn gates(s: &Settings, id: &str) -> Result<serde_json::Value, McpError> {
    let id = &check_id(id)?;
    let d = detail_of_id(s, id)?;
    let trusted = evidence::trusted_keys(s)?;
    let ev = crate::evidence::Evidence::read(&s.ledger, id, &trusted)?;
    let required = crate::config::load(&crate::project::Project::at(&s.root).config_path())
        .map_err(|e| e.to_string())
        .and_then(|config| crate::gate::required_gates(&config, ev.role(), ev.asked_gates()));
    #[derive(Serialize)]
    struct Result_ {
        gate: String,
        status: &'static str,
        head_commit: String,
        run: String,
        contract_hash: String,
        reason: Option<String>,
        seq: Option<u64>,
        line_sha256: String,
    }
    let mut results: Vec<Result_> = Vec::new();
    for r in &ev.results {
        results.retain(|x| x.gate != r.receipt.gate);
        results.push(Result_ {
            gate: r.receipt.gate.clone(),
            status: r.receipt.status.name(),
            head_commit: r.receipt.head_commit.to_string(),
            run: r.receipt.run.clone(),
            contract_hash: r.receipt.contract_hash.clone(),
            reason: r
                .receipt
                .failure_reason
                .clone()
                .or_else(|| r.receipt.reason.clone()),
            seq: r.seq(),
            line_sha256: r.line.line_sha256.clone(),
        });
    }
    let (lines, _) = evidence::or_none(tail::last_lines(&s.ledger, 1, |l| {
        Summary::of(l).matches(Some(id.as_str()), Some("gate_report"))
    }))?;
    let report = lines.into_iter().next();
    let report_attested = report.as_ref().map(|l| {
        crate::ledger::json::object_of_line(l)
            .is_some_and(|o| crate::ledger::attest::check(&o, &trusted).is_valid())
    });
    let value = serde_json::json!({
        "dispatch_id": id,
        "role": d.state.role,
        "head_commit": ev.head(),
        "required": required.as_ref().ok(),
        "required_error": required.as_ref().err(),
        "results": results,
        "report": report.as_deref().map(Embedded::of),
        "report_attested": report_attested,
        "unattested": ev.unattested_lines(),
    });
    let mut cited: Vec<Cited> = evidence::about(&s.ledger, std::slice::from_ref(id))?
        .into_iter()
        .filter(|c| {
            matches!(
                c.event_type.as_deref(),
                Some(
                    "dispatch_started"
                        | "dispatch_completed"
                        | "dispatch_corrected"
                        | "gate_request"
                        | "gate_result"
                        | "gate_report"
                )
            )
        })
        .collect();
    cited.sort_by_key(|c| c.line);
    evidence::answer(value, Evidence::new(&s.ledger, cited)?)
}

/// Whether a dispatch can merge now: `vnx merge ID --check --json`'s entry, checked without
/// the queue's lock and with `git merge-tree`'s objects kept out of the repository.
pub fn merge_readiness(s: &Settings, id: &str) -> Result<serde_json::Value, McpError> {
    let id = &check_id(id)?;
    detail_of_id(s, id)?;
    let trusted = evidence::trusted_keys(s)?;
    // A directory of its own per check (checks may run at once), emptied afterwards.
    static CHECKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let scratch = s.scratch.join(format!("objects-{id}-{n}"));
    let io = |source| McpError::Io {
        path: scratch.clone(),
        source,
    };
    crate::files::private_dir(&scratch).map_err(io)?;
    let reading = crate::merge::Reading {
        root: &s.root,
        ledger: &s.ledger,
        key: s.key.as_deref(),
        threads: s.threads,
        witness_dir: s.witness_dir.as_deref(),
        trusted_keys: &trusted,
        scratch_objects: Some(&scratch),
    };
    let entry = crate::merge::readiness(&reading, id);
    let _ = std::fs::remove_dir_all(&scratch);
    // Gone once no other check uses it.
    let _ = std::fs::remove_dir(&s.scratch);
    let value = match entry {
        Ok(entry) => serde_json::to_value(&entry).map_err(|e| McpError::Session {
            what: format!("could not render the merge check: {e}"),
        })?,
        Err(crate::merge::MergeError::AlreadyMerged { commit, .. }) => serde_json::json!({
            "dispatch_id": id,
            "result": "merged",
            "merge_commit": commit,
        }),
        Err(crate::merge::MergeError::UnknownDispatch { .. }) => {
            return Err(McpError::UnknownDispatch { id: id.to_string() });
        }
        Err(source) => {
            return Err(McpError::Merge {
                id: id.to_string(),
                source: Box::new(source),
            });
        }
    };
    evidence::answer(value, Evidence::of_dispatch(&s.ledger, id)?)
}

/// `provider_constraints.yaml` as vnx reads it (`vnx constraints list --json`).
pub fn constraints(s: &Settings) -> Result<serde_json::Value, McpError> {
    let path = s.root.join(crate::constraints::FILE);
    let value = match crate::constraints::load(&path) {
        Ok(loaded) => serde_json::json!({
            "file": path,
            "sha256": loaded.sha256,
            "constraints": loaded
                .constraints
                .iter()
                .map(crate::constraints::listing::json)
                .collect::<Vec<_>>(),
        }),
        Err(crate::constraints::LoadError::Missing { .. }) => {
            serde_json::json!({ "file": path, "missing": true, "constraints": [] })
        }
        Err(e) => return Err(Box::new(e).into()),
    };
    evidence::answer(value, Evidence::new(&s.ledger, Vec::new())?)
}

/// The tokens the receipts recorded, grouped `by` (provider, model, role, day or dispatch),
/// from `since` (a UTC day), and where each budget stands (`vnx cost --json`).
pub fn cost(
    s: &Settings,
    by: Option<&str>,
    since: Option<&str>,
) -> Result<serde_json::Value, McpError> {
    use crate::cost::{self, GroupBy};
    let by = by.unwrap_or("provider");
    let Some(group) = GroupBy::parse(by) else {
        return Err(McpError::bad(format!(
            "cannot group by {by:?}: give one of {}",
            GroupBy::NAMES.join(", ")
        )));
    };
    let since = since
        .map(|d| {
            d.parse::<jiff::civil::Date>()
                .map_err(|e| McpError::bad(format!("{d:?} is not a day like 2026-11-01: {e}")))
        })
        .transpose()?;
    let constraints = s.root.join(crate::constraints::FILE);
    let (entries, budgets) =
        cost::spend(&s.ledger, &constraints, since, jiff::Timestamp::now())?.map_err(Box::new)?;
    let ids: std::collections::BTreeSet<&str> =
        entries.iter().map(|e| e.dispatch_id.as_str()).collect();
    let lines = evidence::or_none(tail::numbered_lines(&s.ledger, |l| {
        memchr::memmem::find(l, b"dispatch_completed").is_some()
    }))?;
    let cited = (lines.iter())
        .map(|(n, l)| Cited::of(Some(*n), l))
        .filter(|c| {
            c.event_type.as_deref() == Some("dispatch_completed")
                && c.dispatch_id.as_deref().is_some_and(|d| ids.contains(d))
        })
        .collect();
    evidence::answer(
        serde_json::json!({
            "by": by,
            "groups": cost::summarize(&entries, group),
            "budgets": budgets,
        }),
        Evidence::new(&s.ledger, cited)?,
    )
}
