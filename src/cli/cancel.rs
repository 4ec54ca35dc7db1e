//! `vnx cancel ID…|--all`: stops running dispatches, or closes lost ones, with a receipt.

use std::process::ExitCode;

use vnx::actions::Desk;
use vnx::actions::cancel::{self, Stopped};
use vnx::dispatch::view::{self, Waited};
use vnx::tmux::Tmux;

use super::CliError;
use super::util::error::Exit;
use super::util::output::{Out, say};
use super::util::settings;

/// Cancel dispatches: stop running ones, close lost ones
///
/// A running dispatch (also blocked or stalled) is stopped the way its deadline would stop
/// it: its supervisor stops the worker's whole process group (TERM, 5 s grace, KILL),
/// classifies the teardown as usual (uncommitted work is kept in a locked worktree) and
/// records `dispatch_completed` with status cancelled. A lost dispatch (its supervisor died
/// without recording an end) is closed with a `dispatch_completed` of status cancelled, so
/// that `status` and `doctor` stop calling it lost; its worktree and branch stay for
/// `vnx worktree-release`. A queued dispatch is taken out of the queue with a
/// `queue_decision` of `cancelled`; nothing of it ever ran. A dispatch that already ended is
/// left alone.
///
/// Exits 0 when every dispatch named has ended, 2 for an id that was never dispatched, 3 when
/// a running supervisor could not be reached.
#[derive(clap::Args)]
pub struct Args {
    /// Dispatch ids, or their starts
    #[arg(
        value_name = "ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    ids: Vec<String>,
    /// Every running, blocked, stalled, lost or queued dispatch
    #[arg(long)]
    all: bool,
    /// One JSON object per dispatch as it ends, as `vnx wait --json` prints them (NDJSON)
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, ids) = crate::cli::util::ids::project_for(&args.ids)?;
    let ledger = project.ledger();
    let tmux_socket = args.tmux.tmux_socket.clone();
    super::util::drain::recover_queue_here(tmux_socket.clone(), true);
    let tmux = Tmux::new(settings::tmux_socket(args.tmux.tmux_socket));
    let stopped = super::util::context::desk_in(&project, tmux_socket, None, |desk| {
        let states = desk.states()?;
        let chosen = if args.all {
            cancel::all_open(&states)
        } else {
            Desk::named(&states, &ids)?
        };
        Ok(cancel::cancel(desk, chosen)?)
    })?;
    let mut out = Out::new();
    let mut signalled = Vec::new();
    let mut unreachable = false;
    for (id, stopped) in stopped {
        match &stopped {
            Stopped::OnHost(host) => {
                // It runs on its host: the host's vnx cancels it there, then it is caught up.
                let answered = super::util::context::desk_in(&project, None, None, |desk| {
                    Ok(cancel::on_place(desk, host, &id)?)
                })?;
                let code = super::util::remote::said(host, answered)?;
                unreachable |= code != ExitCode::SUCCESS;
            }
            Stopped::Signalled(_) | Stopped::StartedMeanwhile(_) => {
                say!("{id}: {}", stopped.line());
                signalled.push(id);
            }
            Stopped::Closed(_) if args.json => {
                if let Some(line) = view::completion(&ledger, &id)? {
                    let w = Waited::Completed(view::Completion::of(&id, line));
                    out.json(&super::util::waiting::settled(&id, &w))?;
                }
            }
            Stopped::Dequeued if args.json => {
                let w = view::wait(&ledger, std::slice::from_ref(&id), &tmux, false)?;
                for (id, w) in &w {
                    out.json(&super::util::waiting::settled(id, w))?;
                }
            }
            Stopped::Closed(_) | Stopped::Dequeued => {
                out.line(&format!("{id}  {}", stopped.line()))?;
            }
            _ => {
                say!("{id}: {}", stopped.line());
                unreachable |= !stopped.as_asked();
            }
        }
    }
    if !signalled.is_empty() {
        let waited = view::wait(&ledger, &signalled, &tmux, false)?;
        for (id, w) in &waited {
            match w {
                w if args.json => {
                    out.json(&super::util::waiting::settled(id, w))?;
                    unreachable |= !matches!(w, Waited::Completed(_) | Waited::Corrected { .. });
                }
                Waited::Completed(c) | Waited::Corrected { completion: c, .. } => {
                    let r = &c.receipt;
                    out.line(&format!(
                        "{id}  {}  teardown {}",
                        r.status,
                        r.teardown_class.map_or("-", |t| t.name())
                    ))?;
                }
                _ => {
                    out.line(&format!("{id}  ended without a completion receipt"))?;
                    unreachable = true;
                }
            }
        }
    }
    Ok(Exit::Failed.when(unreachable))
}
