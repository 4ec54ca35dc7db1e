//! Deciding a group: every candidate's evidence read from attested receipts (its start, its
//! completion and a correction, its diff statistics), the role's gates run on each done
//! candidate through `vnx gate-check`'s machinery, the winner picked by [`super::rule`], and
//! all of it recorded in one signed `group_decision`.

use crate::evidence::Evidence;
use crate::gate::{self, Decision};
use crate::ids::{DispatchId, GroupId};
use crate::ledger::attest;
use crate::receipts::{
    self, CandidateEntry, CandidateEvidence, CandidateVerdict, ChangeSize, GateReport,
    GateStanding, GroupCandidate, GroupDecision, LineRef, ReviewStanding,
};

use super::GroupError;
use super::read::{self, lines_with, typed};

/// Runs the gates of every done candidate of group `group_id`, picks the winner and appends
/// the `group_decision`. Candidates still running count as not done: wait for them first.
/// `on_gates` is told each candidate whose gates are about to run.
pub fn decide(
    ctx: &gate::Context<'_>,
    group_id: &GroupId,
    on_gates: &dyn Fn(&GroupCandidate),
) -> Result<GroupDecision, GroupError> {
    let group = read::read(ctx.ledger, group_id, ctx.trusted_keys)?;
    if !group.is_known() {
        return Err(GroupError::Unknown {
            id: group_id.to_string(),
            ledger: ctx.ledger.to_owned(),
        });
    }
    let mut candidates = Vec::new();
    for c in group.candidates() {
        candidates.push(evidence(ctx, group_id, &c, on_gates)?);
    }
    let (winner, reason) = super::rule::apply(&mut candidates);
    let decision = GroupDecision {
        group_id: group_id.clone(),
        rule: super::rule::RULE.to_owned(),
        winner,
        reason,
        candidates,
        extra: Default::default(),
    };
    ctx.attestor.record(ctx.ledger, &decision)?;
    Ok(decision)
}

/// One candidate's evidence: disqualified with the first reason found, or qualified (the
/// rule then says won or lost).
fn evidence(
    ctx: &gate::Context<'_>,
    group_id: &GroupId,
    c: &GroupCandidate,
    on_gates: &dyn Fn(&GroupCandidate),
) -> Result<CandidateEvidence, GroupError> {
    let id = &c.dispatch_id;
    let mut out = CandidateEvidence {
        index: c.index,
        dispatch_id: id.clone(),
        provider: c.provider.clone(),
        model: c.model.clone(),
        entry: c.entry,
        status: None,
        completion: None,
        head_commit: None,
        gate_run: None,
        gate_decision: None,
        gate_report: None,
        gates: Vec::new(),
        review: None,
        change: None,
        verdict: CandidateVerdict::Disqualified,
        rank: None,
        reason: String::new(),
    };
    let why = match c.entry {
        CandidateEntry::Refused => Some("refused by a provider constraint"),
        CandidateEntry::LaunchFailed => Some("its launch failed"),
        CandidateEntry::Launched => None,
    };
    if let Some(why) = why {
        out.reason = match &c.reason {
            Some(r) => format!("{why}: {r}"),
            None => why.to_owned(),
        };
        return Ok(out);
    }
    let ev = Evidence::read(ctx.ledger, id, ctx.trusted_keys)?;
    fill_completion(&mut out, &ev);
    if let Some(why) = disqualified(&ev, id, group_id) {
        out.reason = why;
        return Ok(out);
    }
    on_gates(c);
    let report = gate::check(ctx, id).map_err(|e| GroupError::Gate {
        id: id.to_string(),
        source: Box::new(e),
    })?;
    out.gate_run = Some(report.run.clone());
    // The gate report as the ledger holds it, attested: the decision rests on that, not on
    // what this process believes it wrote.
    let recorded = lines_with(ctx.ledger, &report.run)?
        .into_iter()
        .filter(|l| {
            l.text("event_type") == Some(<GateReport as receipts::Kind>::EVENT)
                && l.text("dispatch_id") == Some(id.as_str())
                && attest::check(&l.fields, ctx.trusted_keys).is_valid()
        })
        .filter_map(typed::<GateReport>)
        .find(|r| r.receipt.run == report.run);
    let Some(recorded) = recorded else {
        out.reason = format!(
            "no attested gate report of run {} is on the ledger",
            report.run
        );
        return Ok(out);
    };
    out.gate_report = Some(LineRef {
        seq: recorded.seq(),
        line_sha256: recorded.line.line_sha256.clone(),
    });
    out.gate_decision = Some(recorded.receipt.decision);
    out.gates = recorded
        .receipt
        .gates
        .iter()
        .map(|g| GateStanding {
            gate: g.gate.clone(),
            kind: g.kind.clone(),
            status: g.status,
            contract_hash: g.contract_hash.clone(),
        })
        .collect();
    // Review findings from the attested results the report names.
    let after = Evidence::read(ctx.ledger, id, ctx.trusted_keys)?;
    let reviews: Vec<_> = recorded
        .receipt
        .gates
        .iter()
        .filter(|g| g.kind == "review")
        .collect();
    if !reviews.is_empty() {
        let findings = reviews
            .iter()
            .filter_map(|g| {
                after
                    .results
                    .iter()
                    .rev()
                    .find(|r| r.receipt.contract_hash == g.contract_hash)
            })
            .filter_map(|r| r.receipt.finding_counts)
            .map(|n| n.major + n.minor)
            .sum();
        out.review = Some(ReviewStanding {
            passed: reviews.iter().all(|g| g.status == gate::Status::Pass),
            gates: reviews.len() as u32,
            findings,
        });
    }
    if recorded.receipt.decision != Decision::Go {
        out.reason = format!(
            "gates did not pass (HOLD): {}",
            recorded.receipt.reasons.join("; ")
        );
        return Ok(out);
    }
    out.verdict = CandidateVerdict::Lost;
    Ok(out)
}

/// The completion's status, line, head and change size, as attested.
fn fill_completion(out: &mut CandidateEvidence, ev: &Evidence) {
    if let Some(s) = &ev.started {
        out.model = s.receipt.model.clone().or(out.model.take());
    }
    let Some(done) = &ev.completed else {
        return;
    };
    let c = &done.receipt;
    out.status = Some(ev.corrected.as_ref().map_or(c.status, |k| k.receipt.status));
    out.completion = Some(LineRef {
        seq: done.seq(),
        line_sha256: done.line.line_sha256.clone(),
    });
    out.head_commit = ev.head().cloned();
    out.change = c.diff_stats.map(|d| ChangeSize {
        lines: d.committed.insertions
            + d.committed.deletions
            + d.uncommitted.insertions
            + d.uncommitted.deletions,
        files: d.committed.files_changed + d.uncommitted.files_changed,
    });
}

/// Why a candidate cannot win before its gates run: no attested start naming the group,
/// receipts vnx did not write, or a dispatch that is not done.
fn disqualified(ev: &Evidence, id: &DispatchId, group_id: &GroupId) -> Option<String> {
    let Some(started) = &ev.started else {
        return Some(format!("no attested dispatch_started for {id}"));
    };
    if started.receipt.group.as_ref().map(|g| &g.group_id) != Some(group_id) {
        return Some(format!("its start does not name group {group_id}"));
    }
    let unattested = ev.unattested_lines();
    if !unattested.is_empty() {
        return Some(format!(
            "the ledger holds {} receipt(s) about {id} that vnx did not write ({})",
            unattested.len(),
            unattested.join("; ")
        ));
    }
    ev.verdict(id).err()
}
