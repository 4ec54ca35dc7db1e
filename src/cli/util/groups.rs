//! A best-of-N group as several commands show it: its decision, told and rendered as
//! `vnx group decide` and `best-of` make it (`vnx::actions::group`), and which group a
//! dispatch belongs to (`status`, `show`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use vnx::actions::group::Note;
use vnx::gate::Event;
use vnx::ids::{DispatchId, GroupId};
use vnx::receipts::{CandidateVerdict, GroupDecision};

use crate::cli::CliError;
use crate::cli::util::error::Exit;
use crate::cli::util::output::{Out, say};
use crate::cli::util::settings;

/// Every group member's membership, for `vnx status` (empty when the ledger cannot be
/// read: the table is shown without it).
pub(crate) fn memberships(ledger: &Path) -> BTreeMap<DispatchId, vnx::group::read::Membership> {
    let trusted = settings::attestation(None, ledger)
        .map(|(_, keys)| keys)
        .unwrap_or_default();
    vnx::group::read::memberships(ledger, &trusted).unwrap_or_default()
}

/// One dispatch's place in its best-of group, if it is a candidate.
pub(crate) fn membership(ledger: &Path, id: &DispatchId) -> Option<vnx::group::read::Membership> {
    memberships(ledger).remove(id)
}

/// Decides the group at `desk` (its launched candidates waited for, their gates run, the
/// decision recorded and anchored), telling each step, and prints the decision; exit 0 with a
/// winner, 1 without.
pub(crate) fn decide(
    desk: &vnx::actions::Desk<'_>,
    group_id: &GroupId,
    json: bool,
) -> Result<ExitCode, CliError> {
    let on_note = |note: Note<'_>| match note {
        Note::Waiting(ids) => say!(
            "group {group_id}: waiting for {} candidate(s): {}",
            ids.len(),
            ids.iter()
                .map(DispatchId::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Note::Gates(c) => say!(
            "candidate {} ({}): running the role's gates",
            c.index,
            c.dispatch_id
        ),
        Note::Gate(Event::Finished { outcome }) => {
            say!("{}", crate::cli::util::lines::finished(outcome))
        }
        Note::Gate(Event::Started { .. }) => {}
    };
    let decided = vnx::actions::group::decide(desk, group_id, &settings::anchoring(), &on_note)?;
    if let Err(why) = &decided.anchored {
        say!("{}", crate::cli::util::lines::unanchored(why));
    }
    let mut out = Out::new();
    if json {
        out.json(&decided.decision)?;
    } else {
        render(&mut out, &decided.decision)?;
    }
    Ok(Exit::No.when(decided.decision.winner.is_none()))
}

fn render(out: &mut Out, d: &GroupDecision) -> Result<(), CliError> {
    out.line(&format!(
        "{}  {}",
        d.group_id,
        match &d.winner {
            Some(w) => format!("winner {w}"),
            None => "no winner".to_owned(),
        }
    ))?;
    for c in &d.candidates {
        out.line(&format!(
            "  {} {:<16} {:<20} {:<12} {}",
            c.index,
            c.dispatch_id,
            candidate_name(&c.provider, c.model.as_deref()),
            verdict_name(c.verdict),
            c.reason
        ))?;
    }
    out.line(&format!("  rule: {}", d.rule))?;
    if let Some(w) = &d.winner {
        out.line(&format!(
            "  merge it with `vnx merge {w}`; the other candidates' branches stay until \
             released (`vnx worktree-release`, `vnx clean`)"
        ))?;
    }
    Ok(())
}

pub(crate) fn candidate_name(provider: &str, model: Option<&str>) -> String {
    match model {
        Some(m) => format!("{provider}:{m}"),
        None => provider.to_owned(),
    }
}

pub(crate) fn verdict_name(v: CandidateVerdict) -> &'static str {
    match v {
        CandidateVerdict::Won => "won",
        CandidateVerdict::Lost => "lost",
        CandidateVerdict::Disqualified => "disqualified",
    }
}
