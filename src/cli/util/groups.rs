//! A best-of-N group as several commands use it: deciding it (`vnx group decide`, and
//! `best-of` once its candidates ended), and which group a dispatch belongs to (`status`,
//! `show`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use vnx::dispatch::view;
use vnx::gate::{Context, Event};
use vnx::ids::{DispatchId, GroupId};
use vnx::receipts::{CandidateVerdict, GroupCandidate, GroupDecision};
use vnx::tmux::Tmux;

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

/// Waits for the group's launched candidates, runs their gates, records the decision and
/// prints it; exit 0 with a winner, 1 without.
pub(crate) fn decide(
    project: &vnx::project::Project,
    tmux: &Tmux,
    group_id: &GroupId,
    json: bool,
) -> Result<ExitCode, CliError> {
    let ledger = project.ledger();
    let (attestor, trusted_keys) = settings::attestation(None, &ledger)?;
    let group = vnx::group::read(&ledger, group_id, &trusted_keys)?;
    let launched: Vec<DispatchId> = group
        .candidates()
        .into_iter()
        .filter(|c| c.entry == vnx::receipts::CandidateEntry::Launched)
        .map(|c| c.dispatch_id)
        .collect();
    if !launched.is_empty() {
        say!(
            "group {group_id}: waiting for {} candidate(s): {}",
            launched.len(),
            launched
                .iter()
                .map(DispatchId::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        );
        view::wait(&ledger, &launched, tmux, false)?;
    }
    let vnx_bin = std::env::current_exe()
        .map_err(|e| CliError::from_error(&e).with_hint("could not find vnx's own binary"))?;
    let on_event = |event: Event<'_>| {
        if let Event::Finished { outcome } = event {
            say!("{}", crate::cli::util::lines::finished(outcome))
        }
    };
    let ctx = Context {
        attestor: &attestor,
        trusted_keys: &trusted_keys,
        root: &project.root,
        ledger: &ledger,
        vnx: &vnx_bin,
        find_program: &settings::find_program,
        on_event: &on_event,
    };
    let on_gates = |c: &GroupCandidate| {
        say!(
            "candidate {} ({}): running the role's gates",
            c.index,
            c.dispatch_id
        )
    };
    let decision = vnx::group::decide(&ctx, group_id, &on_gates)?;
    anchor(&ledger);
    let mut out = Out::new();
    if json {
        out.json(&decision)?;
    } else {
        render(&mut out, &decision)?;
    }
    Ok(match decision.winner {
        Some(_) => Exit::Ok.into(),
        None => Exit::No.into(),
    })
}

/// Checkpoints the ledger, so the evidence just recorded is anchored for `vnx merge`; a
/// failure is a warning.
fn anchor(ledger: &Path) {
    let anchored = settings::key_path(None)
        .map_err(|_| "neither XDG_CONFIG_HOME nor HOME is set for the signing key".to_owned())
        .and_then(|key| {
            vnx::merge::anchor(
                ledger,
                &key,
                settings::threads(None),
                settings::witness_dir().as_deref(),
            )
            .map_err(|e| e.to_string())
        });
    if let Err(why) = anchored {
        say!(
            "warning: could not checkpoint the ledger: {why}\nhint: `vnx merge` needs a \
             checkpoint; run `vnx audit-chain checkpoint`"
        );
    }
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
