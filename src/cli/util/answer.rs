//! A blocked dispatch's pending prompt answered (`vnx approve`, `vnx deny`): the library's
//! action (`vnx::actions::answer`) done at the project's desk, its receipt rendered; or, for
//! a dispatch whose plan waits, the plan approved or sent back (`vnx::actions::plan`).

use std::process::ExitCode;

use vnx::actions::{answer, plan};
use vnx::receipts::PermissionAnswer;

use crate::cli::CliError;
use crate::cli::util::output::{Out, escape, say};

/// What `vnx approve` and `vnx deny` both take.
#[derive(clap::Args)]
pub struct Answering {
    /// The dispatch id
    id: String,
    /// Print the receipt (`dispatch_answered`, or `plan_approved`/`plan_denied`) as JSON
    #[arg(long)]
    json: bool,
    /// For a plan that waits: decide only if the plan is still the one whose SHA-256 this
    /// is (`vnx show` prints it)
    #[arg(long, value_name = "HASH")]
    plan_sha256: Option<String>,
    #[command(flatten)]
    tmux: crate::cli::util::settings::TmuxSocket,
}

/// Answers the dispatch's pending prompt (`vnx approve` and `vnx deny`).
pub(crate) fn answer_one(
    args: Answering,
    decision: PermissionAnswer,
    message: Option<&str>,
) -> Result<ExitCode, CliError> {
    let (project, ids) = crate::cli::util::ids::project_for(&[args.id])?;
    let seen = args.plan_sha256.as_deref();
    let answered =
        crate::cli::util::context::desk_in(&project, args.tmux.tmux_socket, None, |desk| {
            let states = desk.states()?;
            let state = vnx::actions::Desk::named(&states, &ids[..1])?[0];
            if !plan::decides(state, seen)
                && decision == PermissionAnswer::Approve
                && message.is_some()
            {
                return Err(CliError::usage(format!(
                    "{} waits for no plan: --message goes with a plan's approval",
                    ids[0]
                ))
                .with_hint("`vnx approve ID` allows a permission prompt without one"));
            }
            let told = |t: vnx::actions::follow_up::Told| say!("{}", escape(&t.line()));
            Ok(plan::answer(desk, &ids[0], decision, message, seen, &told)?)
        })?;
    let receipt = match answered {
        plan::Answered::Prompt(receipt) => receipt,
        decided => {
            let receipt = match &decided {
                plan::Answered::Approved(d) => serde_json::to_value(&d.receipt),
                plan::Answered::Denied(d) => serde_json::to_value(&d.receipt),
                plan::Answered::Prompt(r) => serde_json::to_value(r),
            };
            let receipt = receipt.map_err(|e| CliError::from_error(&e))?;
            Out::new().recorded(args.json, &receipt, &ids[0], &[decided.line()])?;
            return Ok(crate::cli::util::error::Exit::Ok.into());
        }
    };
    let mut out = Out::new();
    if args.json {
        out.json(&receipt)?;
        return Ok(crate::cli::util::error::Exit::Ok.into());
    }
    // The whole id, not the prefix typed.
    let id = &receipt.dispatch_id;
    out.line(&format!("{id}  {}", escape(&answer::line(&receipt))))?;
    // The request is what a hook call in the worker's dispatch said; the pane is what vnx
    // could look at.
    match &receipt.pane_dialog {
        Some(dialog) => {
            out.line("  its pane showed:")?;
            for line in dialog.lines() {
                out.line(&format!("    {}", escape(line)))?;
            }
        }
        None => say!(
            "warning: no permission dialog was on {id}'s pane: {} is only what a hook call in \
             its dispatch said, which its worker can make itself (the receipt records no \
             pane_dialog)",
            answer::what(&receipt)
        ),
    }
    Ok(crate::cli::util::error::Exit::Ok.into())
}

/// Raises the budget of a dispatch stopped at it by `add` and continues it (`vnx approve ID
/// --budget +N,+$X`, `vnx::actions::budget`). Refused inside a dispatch's worker: a worker
/// never raises a budget, its own or another's.
pub(crate) fn raise_one(
    args: Answering,
    add: vnx::dispatch::budget::Raise,
) -> Result<ExitCode, CliError> {
    if args.plan_sha256.is_some() {
        return Err(CliError::usage(
            "--budget raises a budget; --plan-sha256 goes with a plan's approval".to_owned(),
        ));
    }
    let (project, ids) = crate::cli::util::ids::project_for(&[args.id])?;
    // Who acts is decided from this process's real ancestry and directory, not from a
    // variable a worker can unset (its leftover process, its variables gone, once raised
    // its own budget).
    if let Some(worker) =
        crate::cli::util::settings::acting_worker(&project.root, &project.ledger())?
    {
        return Err(
            CliError::usage(format!("{} cannot raise a budget", worker.describe()))
                .with_hint("a person raises it from outside the dispatch"),
        );
    }
    let raised =
        crate::cli::util::context::desk_in(&project, args.tmux.tmux_socket, None, |desk| {
            let told = |t: vnx::actions::follow_up::Told| say!("{}", escape(&t.line()));
            Ok(vnx::actions::budget::raise(desk, &ids[0], &add, &told)?)
        })?;
    let line = [vnx::actions::budget::line(&raised)];
    let id = &raised.receipt.dispatch_id;
    Out::new().recorded(args.json, &raised.receipt, id, &line)?;
    Ok(crate::cli::util::error::Exit::Ok.into())
}

/// `--budget`'s text on approve: tokens to add (`+N`, the `+` optional, N may end in k or
/// M), US dollars (`+$X` or `cost+X`), or both, comma-separated.
pub(crate) fn parse_raise(text: &str) -> Result<vnx::dispatch::budget::Raise, String> {
    vnx::dispatch::budget::parse_raise(text).map_err(|e| match e.hint() {
        Some(hint) => format!("{e}; {hint}"),
        None => e.to_string(),
    })
}
