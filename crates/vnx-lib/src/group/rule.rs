//! The rule that picks a group's winner (ADR 0029), as a pure function of the candidates'
//! evidence: only a candidate that qualified (its dispatch done on attested evidence, every
//! required gate passed — the caller marks the others disqualified, with the reason) can
//! win; among those, a passed review with fewer non-blocking findings ranks first, then the
//! smaller change (lines added and removed, then files touched), then the order the
//! candidates were given, then the dispatch id. Every candidate gets its rank and a reason.

use std::cmp::Ordering;

use crate::receipts::{CandidateEvidence, CandidateVerdict};

/// The rule's name, as `group_decision` records it.
pub const RULE: &str = "best-of/1: done and gates passed, then review, then smaller change, \
                        then order given";

/// What the rule compares, best first: review tier and findings, change lines and files,
/// then the order given and the dispatch id (which make it total and deterministic).
fn key(c: &CandidateEvidence) -> (u8, u64, u64, u64, u32, &str) {
    let (tier, findings) = match &c.review {
        Some(r) if r.passed => (0, r.findings),
        None => (1, 0),
        Some(r) => (2, r.findings),
    };
    let (lines, files) = c
        .change
        .map_or((u64::MAX, u64::MAX), |s| (s.lines, s.files));
    (
        tier,
        findings,
        lines,
        files,
        c.index,
        c.dispatch_id.as_str(),
    )
}

fn change_text(c: &CandidateEvidence) -> String {
    match c.change {
        Some(s) => format!("{} line(s) in {} file(s)", s.lines, s.files),
        None => "an unknown change size (no diff statistics)".into(),
    }
}

fn review_text(c: &CandidateEvidence) -> String {
    match &c.review {
        Some(r) if r.passed => format!("review passed with {} finding(s)", r.findings),
        Some(_) => "review did not pass".into(),
        None => "no review gate".into(),
    }
}

/// Why `loser` ranks below `winner`: the first measure that differs.
fn why_lost(loser: &CandidateEvidence, winner: &CandidateEvidence) -> String {
    let (l, w) = (key(loser), key(winner));
    let ahead = &winner.dispatch_id;
    if (l.0, l.1) != (w.0, w.1) {
        format!(
            "gates passed, but {ahead}'s {} beats its {}",
            review_text(winner),
            review_text(loser)
        )
    } else if (l.2, l.3) != (w.2, w.3) {
        format!(
            "gates passed, but its change is larger: {} against {ahead}'s {}",
            change_text(loser),
            change_text(winner)
        )
    } else {
        format!(
            "tied with {ahead} on gates, review and change size ({}); {ahead} was given \
             first (candidate {} before {})",
            change_text(loser),
            winner.index,
            loser.index
        )
    }
}

/// Ranks the qualified candidates (those not already [`CandidateVerdict::Disqualified`]), marks
/// the first the winner and the others lost, each with its reason; returns the winner and
/// why, in words (or why there is none).
pub fn apply(candidates: &mut [CandidateEvidence]) -> (Option<crate::ids::DispatchId>, String) {
    let mut order: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].verdict != CandidateVerdict::Disqualified)
        .collect();
    order.sort_by(|&a, &b| key(&candidates[a]).cmp(&key(&candidates[b])));
    let Some(&first) = order.first() else {
        for c in candidates.iter_mut() {
            c.rank = None;
        }
        return (
            None,
            format!(
                "no winner: none of the {} candidate(s) completed done with every required \
                 gate passed",
                candidates.len()
            ),
        );
    };
    let winner = candidates[first].clone();
    for (rank, &i) in order.iter().enumerate() {
        let c = &mut candidates[i];
        c.rank = Some(rank as u32 + 1);
        if i == first {
            c.verdict = CandidateVerdict::Won;
        } else {
            c.verdict = CandidateVerdict::Lost;
            c.reason = why_lost(c, &winner);
        }
    }
    let runner_up = order.get(1).map(|&i| &candidates[i]);
    let tie = runner_up.is_some_and(|r| {
        let (a, b) = (key(r), key(&winner));
        (a.0, a.1, a.2, a.3).cmp(&(b.0, b.1, b.2, b.3)) == Ordering::Equal
    });
    let reason = format!(
        "done, every required gate passed, {}, {}{}; first of {} qualified candidate(s)",
        review_text(&winner),
        change_text(&winner),
        if tie { " (tied, and given first)" } else { "" },
        order.len()
    );
    candidates[first].reason = reason.clone();
    (Some(winner.dispatch_id), reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipts::{CandidateEntry, ChangeSize, ReviewStanding};

    fn candidate(index: u32, lines: u64, review: Option<u64>) -> CandidateEvidence {
        CandidateEvidence {
            index,
            dispatch_id: crate::ids::DispatchId::parse(&format!("D-{index}")).unwrap(),
            provider: "demo".into(),
            model: None,
            entry: CandidateEntry::Launched,
            status: None,
            completion: None,
            head_commit: None,
            gate_run: None,
            gate_decision: None,
            gate_report: None,
            gates: Vec::new(),
            review: review.map(|findings| ReviewStanding {
                passed: true,
                gates: 1,
                findings,
            }),
            change: Some(ChangeSize { lines, files: 1 }),
            verdict: CandidateVerdict::Lost,
            rank: None,
            reason: String::new(),
        }
    }

    fn disqualified(mut c: CandidateEvidence) -> CandidateEvidence {
        c.verdict = CandidateVerdict::Disqualified;
        c.reason = "gate `tests`: fail".into();
        c
    }

    #[test]
    fn the_smaller_change_wins_among_the_qualified() {
        let mut cs = vec![
            disqualified(candidate(1, 1, None)),
            candidate(2, 9, None),
            candidate(3, 4, None),
        ];
        let (winner, reason) = apply(&mut cs);
        assert_eq!(winner.as_ref().map(|i| i.as_str()), Some("D-3"));
        assert!(reason.contains("4 line(s)"), "{reason}");
        assert_eq!(cs[0].verdict, CandidateVerdict::Disqualified);
        assert_eq!(cs[0].rank, None);
        assert_eq!(cs[0].reason, "gate `tests`: fail", "kept as given");
        assert_eq!(
            (cs[1].verdict, cs[1].rank),
            (CandidateVerdict::Lost, Some(2))
        );
        assert!(cs[1].reason.contains("larger"), "{}", cs[1].reason);
        assert_eq!(
            (cs[2].verdict, cs[2].rank),
            (CandidateVerdict::Won, Some(1))
        );
    }

    #[test]
    fn review_comes_before_size_and_order_breaks_ties() {
        let mut cs = vec![candidate(1, 1, Some(3)), candidate(2, 50, Some(0))];
        assert_eq!(apply(&mut cs).0.as_ref().map(|i| i.as_str()), Some("D-2"));
        assert!(cs[0].reason.contains("review"), "{}", cs[0].reason);
        let mut cs = vec![candidate(1, 5, None), candidate(2, 5, None)];
        let (winner, reason) = apply(&mut cs);
        assert_eq!(winner.as_ref().map(|i| i.as_str()), Some("D-1"));
        assert!(reason.contains("tied"), "{reason}");
        assert!(cs[1].reason.contains("given first"), "{}", cs[1].reason);
        // The order given decides, not the position in the slice.
        let mut cs = vec![candidate(2, 5, None), candidate(1, 5, None)];
        assert_eq!(apply(&mut cs).0.as_ref().map(|i| i.as_str()), Some("D-1"));
    }

    #[test]
    fn an_unknown_size_ranks_last_and_nobody_qualified_is_no_winner() {
        let mut unknown = candidate(1, 0, None);
        unknown.change = None;
        let mut cs = vec![unknown, candidate(2, 1000, None)];
        assert_eq!(apply(&mut cs).0.as_ref().map(|i| i.as_str()), Some("D-2"));
        let mut cs = vec![
            disqualified(candidate(1, 1, None)),
            disqualified(candidate(2, 1, None)),
        ];
        let (winner, reason) = apply(&mut cs);
        assert_eq!(winner, None);
        assert!(reason.starts_with("no winner"), "{reason}");
        assert!(
            cs.iter()
                .all(|c| c.verdict == CandidateVerdict::Disqualified)
        );
    }
}
