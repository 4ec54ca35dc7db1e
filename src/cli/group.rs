//! `vnx group show` and `vnx group decide`: a best-of-N group's candidates and winner, and
//! deciding it (waiting for its candidates, running each one's gates, picking the winner,
//! recording the `group_decision`, `vnx::actions::group`). `vnx best-of` decides through the same
//! action.

use std::process::ExitCode;
use vnx::ids::GroupId;

use vnx::dispatch::view;
use vnx::receipts::{GroupCandidate, GroupDecision};
use vnx::tmux::Tmux;

use super::CliError;
use super::util::groups::{candidate_name, decide, verdict_name};
use super::util::output::{Out, say};
use super::util::settings;

/// Show or decide a best-of-N group
#[derive(clap::Subcommand)]
pub enum Command {
    Show(ShowArgs),
    Decide(DecideArgs),
}

/// Show a group: its candidates, their states, and the winner if it is decided
///
/// Reads the group's attested receipts: `group_started`, the candidates' `dispatch_started`
/// (each names the group), and the newest `group_decision`.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx group show G-1a2b3c4d5e6f --json")]
pub struct ShowArgs {
    /// The group id (`vnx best-of` prints it)
    #[arg(value_name = "GROUP")]
    group: String,
    /// Print the group as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

/// Decide a group: wait for its candidates, run each one's gates, pick and record the winner
///
/// The rule (ADR 0029): only a candidate whose dispatch is done (on attested receipts) with
/// every gate its role requires passed can win; among those, a passed review with fewer
/// findings ranks first, then the smaller change (lines, then files, from the completion's
/// diff statistics), then the order the candidates were given. Records a `group_decision`
/// with every candidate's evidence and checkpoints the ledger. Deciding again appends a new
/// decision; the newest counts.
///
/// Exits 0 when there is a winner, 1 when no candidate qualified.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx group decide G-1a2b3c4d5e6f --json")]
pub struct DecideArgs {
    /// The group id
    #[arg(value_name = "GROUP")]
    group: String,
    /// Print the decision receipt as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

pub fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Show(a) => show(a),
        Command::Decide(a) => {
            let group = check_group_id(&a.group)?;
            super::util::context::with_desk(a.tmux.tmux_socket, |desk| decide(desk, &group, a.json))
        }
    }
}

fn check_group_id(id: &str) -> Result<GroupId, CliError> {
    GroupId::parse(id).map_err(|_| {
        CliError::usage(format!("{id:?} is not a group id"))
            .with_hint("a group id looks like G-1a2b3c4d5e6f; `vnx best-of` prints it")
    })
}

/// A group as `vnx group show --json` prints it.
#[derive(serde::Serialize)]
struct Shown<'a> {
    group_id: &'a str,
    role: Option<&'a str>,
    candidates: Vec<ShownCandidate>,
    winner: Option<&'a str>,
    decision: Option<&'a GroupDecision>,
    unattested: &'a [String],
}

#[derive(serde::Serialize)]
struct ShownCandidate {
    #[serde(flatten)]
    candidate: GroupCandidate,
    state: Option<&'static str>,
}

fn show(a: ShowArgs) -> Result<ExitCode, CliError> {
    let group_id = check_group_id(&a.group)?;
    let project = super::util::ids::project_for(&[])?.0;
    let ledger = project.ledger();
    let (_, trusted) = settings::attestation(None, &ledger)?;
    let group = vnx::group::read(&ledger, &group_id, &trusted)?;
    if !group.is_known() {
        return Err(CliError::usage(format!("unknown group {}", a.group))
            .with_hint("`vnx best-of` prints the group id it starts"));
    }
    let tmux = Tmux::new(settings::tmux_socket(a.tmux.tmux_socket));
    let states = view::list(&ledger, &tmux)?;
    let decision = group.decision();
    let shown = Shown {
        group_id: group.id.as_str(),
        role: group.role(),
        candidates: group
            .candidates()
            .into_iter()
            .map(|c| ShownCandidate {
                state: states
                    .iter()
                    .find(|s| s.id == c.dispatch_id)
                    .map(|s| s.status),
                candidate: c,
            })
            .collect(),
        winner: decision.and_then(|d| d.winner.as_ref().map(|i| i.as_str())),
        decision,
        unattested: &group.unattested,
    };
    for line in &group.unattested {
        say!("warning: ignored a receipt vnx did not write: {line}");
    }
    let mut out = Out::new();
    if a.json {
        out.json(&shown)?;
        return Ok(ExitCode::SUCCESS);
    }
    out.line(&format!(
        "{}  role {}  {}",
        shown.group_id,
        shown.role.unwrap_or("-"),
        match (decision, shown.winner) {
            (None, _) => "undecided".to_owned(),
            (Some(_), None) => "no winner".to_owned(),
            (Some(_), Some(w)) => format!("winner {w}"),
        }
    ))?;
    for c in &shown.candidates {
        let judged = decision.and_then(|d| {
            d.candidates
                .iter()
                .find(|e| e.dispatch_id == c.candidate.dispatch_id)
        });
        out.line(&format!(
            "  {} {:<16} {:<20} {:<13} {}",
            c.candidate.index,
            c.candidate.dispatch_id,
            candidate_name(&c.candidate.provider, c.candidate.model.as_deref()),
            c.state.unwrap_or(c.candidate.entry.name()),
            judged.map_or(String::new(), |e| format!(
                "{}: {}",
                verdict_name(e.verdict),
                e.reason
            ))
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
