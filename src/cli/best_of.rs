//! `vnx best-of`: one task to several providers or models at once, as one linked group;
//! the role's gates run on every result and the winner is picked by evidence.

use std::process::ExitCode;

use vnx::group::Candidate;

use super::CliError;
use super::util::context::with_desk;
use super::util::launch::{Task, no_role, read_instruction};
use super::util::output::{Out, say};
use super::util::settings;

/// Send one task to several providers or models at once; the winner is picked by evidence
///
/// Each --candidate PROVIDER[:MODEL] becomes a normal dispatch (its own id, worktree, branch,
/// receipts and constraint checks; a candidate a constraint refuses is recorded as one that
/// lost), and its `dispatch_started` names the group. A `group_started` receipt lists them
/// all. Without --detach, waits for every candidate, runs the role's gates on each result
/// (as `vnx gate-check`), and picks the winner by the rule of ADR 0029: done with every
/// required gate passed, then the review's verdict, then the smaller change, then the order
/// given. The `group_decision` receipt records every candidate's evidence and why it won or
/// lost. The winner merges with `vnx merge`; the others are kept until released.
///
/// Exits 0 with a winner, 1 when no candidate qualified. With --detach, prints the group id
/// and each candidate's dispatch id; `vnx group decide GROUP` decides it later (as it does
/// after a Ctrl-C, which leaves the candidates running).
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx best-of --agent implementer --instruction \"add a greeting\" \\\n        --candidate demo:commit --candidate demo:dirty"
)]
pub struct Args {
    /// The role every candidate plays (e.g. implementer); the CLIs are the candidates'
    /// providers [default: `defaults.role` in .vnx/config.yaml]
    #[arg(long, visible_alias = "role", value_name = "ROLE")]
    agent: Option<String>,
    /// A candidate: PROVIDER or PROVIDER:MODEL (2 to 8, in order: the order breaks ties); a
    /// candidate of `defaults.provider` takes `defaults.model` (when it names none) and
    /// `defaults.lane` from .vnx/config.yaml
    #[arg(long = "candidate", value_name = "PROVIDER[:MODEL]", required = true)]
    candidates: Vec<String>,
    #[command(flatten)]
    task: Task,
    /// Use this group id instead of a fresh one
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// Return once every candidate has started: print the group and candidate ids
    #[arg(long)]
    detach: bool,
    /// Print the decision (or, with --detach, the group started) as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    sandbox: super::util::launch::SandboxFlags,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let instruction = read_instruction(
        args.task.instruction.as_deref(),
        args.task.instruction_file.as_deref(),
    )?;
    let parsed = args
        .candidates
        .iter()
        .map(|c| c.parse::<Candidate>())
        .collect::<Result<Vec<_>, _>>()?;
    let (role, candidates) = with_defaults(args.agent, parsed)?;
    let template = args.task.request(role, instruction, &args.sandbox);
    let (detach, json) = (args.detach, args.json);
    with_desk(args.tmux.tmux_socket, |desk| {
        let started = vnx::group::start(
            desk.ctx,
            &template,
            &candidates,
            super::util::ids::group_id(args.group.as_deref())?,
        )?;
        for c in &started.candidates {
            if let Some(reason) = &c.reason {
                say!(
                    "candidate {} ({}) {}: {reason}",
                    c.index,
                    c.dispatch_id,
                    c.entry.name()
                );
            }
        }
        let mut out = Out::new();
        if detach {
            if json {
                out.json(&started)?;
            } else {
                out.line(started.group_id.as_str())?;
                for c in &started.candidates {
                    out.line(&format!("{}\t{}", c.dispatch_id, c.entry.name()))?;
                }
                say!(
                    "started group {} ({} of {} candidate(s) launched); decide it with `vnx \
                     group decide {}`",
                    started.group_id,
                    started.launched.len(),
                    started.candidates.len(),
                    started.group_id
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        say!(
            "started group {} ({} of {} candidate(s) launched)",
            started.group_id,
            started.launched.len(),
            started.candidates.len()
        );
        super::util::groups::decide(desk, &started.group_id, json)
    })
}

/// The role and candidates completed from `defaults:` in .vnx/config.yaml, as `vnx run`
/// completes its own (`--agent` over `defaults.role`; each candidate as a dispatch naming its
/// provider and model, see [`Candidate::filled`]).
fn with_defaults(
    agent: Option<String>,
    candidates: Vec<Candidate>,
) -> Result<(String, Vec<Candidate>), CliError> {
    let defaults = settings::project()?.load_config()?.defaults;
    let role = (agent.or_else(|| defaults.role.clone())).ok_or_else(no_role)?;
    let candidates = candidates
        .into_iter()
        .map(|c| c.filled(&defaults))
        .collect();
    Ok((role, candidates))
}
