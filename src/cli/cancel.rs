//! `vnx cancel ID…|--all`: stops running dispatches, or closes lost ones, with a receipt.

use std::process::ExitCode;

use vnx::dispatch::cancel::{self, Cancelled};
use vnx::dispatch::view::{self, Waited};
use vnx::tmux::Tmux;

use super::CliError;
use super::util::output::Out;
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
    /// tmux socket name for dispatches whose start records none [default:
    /// $VNX_TMUX_SOCKET, else vnx]
    #[arg(long, value_name = "NAME")]
    tmux_socket: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, ids) = crate::cli::util::ids::project_for(&args.ids)?;
    let ledger = project.ledger();
    let tmux_socket = args.tmux_socket.clone();
    super::util::drain::recover_queue_here(tmux_socket.clone());
    let tmux = Tmux::new(settings::tmux_socket(args.tmux_socket));
    let states = if ledger.exists() {
        view::list(&ledger, &tmux)?
    } else {
        Vec::new()
    };
    let mut chosen: Vec<&view::DispatchState> = if args.all {
        states
            .iter()
            .filter(|s| {
                s.state.is_live() || matches!(s.state, view::State::Lost | view::State::Queued)
            })
            .collect()
    } else {
        super::util::ids::named_dispatches(&states, &ids)?
    };
    // Queued ones first: a running one cancelled first would hand its slot to them.
    chosen.sort_by_key(|s| s.state != view::State::Queued);
    let attestor = settings::attestor(None)?;
    let mut out = Out::new();
    let mut signalled = Vec::new();
    let mut unreachable = false;
    for s in chosen {
        if let Some(host) = s.host.as_deref().filter(|_| s.state.is_live()) {
            // It runs on its host: the host's vnx cancels it there, then it is caught up.
            let config = project.load_config()?;
            let host = vnx::remote::host(&config.hosts, host)?.clone();
            let args = ["cancel".to_owned(), s.id.to_string()];
            let code = super::util::remote::on_host(&project, &host, &args, &args[1..])?;
            unreachable |= code != ExitCode::SUCCESS;
            continue;
        }
        match cancel::cancel(&ledger, &project.data_dir(), s, &tmux, &attestor)? {
            Cancelled::Signalled(pid) => {
                super::util::output::say!("{}: told its supervisor (pid {pid}) to stop", s.id);
                signalled.push(s.id.clone());
            }
            Cancelled::Closed(hash) => {
                // Its completion's space is not needed any more.
                vnx::dispatch::supervise::pending::unreserve(&project.data_dir(), &s.id);
                if args.json {
                    if let Some(line) = view::completion(&ledger, &s.id)? {
                        let w = Waited::Completed(view::Completion::of(&s.id, line));
                        out.json(&super::util::waiting::settled(&s.id, &w))?;
                    }
                } else {
                    out.line(&format!(
                        "{}  cancelled (closed lost; receipt {})",
                        s.id,
                        &hash[..12.min(hash.len())]
                    ))?;
                }
            }
            Cancelled::AlreadyEnded(status) => {
                super::util::output::say!("{}: already ended ({status}); nothing to cancel", s.id);
            }
            Cancelled::Queued => {
                let taken = super::util::context::with_context(tmux_socket.clone(), |ctx| {
                    Ok(vnx::dispatch::queue::cancel(ctx, &s.id)?)
                })?;
                if !taken {
                    // It left the queue meanwhile: it started (then it is stopped as any
                    // running one), or its wait closed.
                    let now = view::list(&ledger, &tmux)?;
                    let again = match now.iter().find(|n| n.id == s.id) {
                        Some(n) => Some(cancel::cancel(
                            &ledger,
                            &project.data_dir(),
                            n,
                            &tmux,
                            &attestor,
                        )?),
                        None => None,
                    };
                    if let Some(Cancelled::Signalled(pid)) = again {
                        super::util::output::say!(
                            "{}: started meanwhile; told its supervisor (pid {pid}) to stop",
                            s.id
                        );
                        signalled.push(s.id.clone());
                    } else {
                        super::util::output::say!("{}: no longer queued, and not running", s.id);
                        unreachable = true;
                    }
                } else if args.json {
                    let w = view::wait(&ledger, std::slice::from_ref(&s.id), &tmux, false)?;
                    for (id, w) in &w {
                        out.json(&super::util::waiting::settled(id, w))?;
                    }
                } else {
                    out.line(&format!("{}  cancelled (taken out of the queue)", s.id))?;
                }
            }
            Cancelled::Expired => {
                super::util::output::say!(
                    "{}: already ended (expired in the queue); nothing to cancel",
                    s.id
                );
            }
            Cancelled::Unreachable(why) => {
                super::util::output::say!("{}: could not cancel: {why}", s.id);
                unreachable = true;
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
    Ok(if unreachable {
        super::util::error::Exit::Failed.into()
    } else {
        super::util::error::Exit::Ok.into()
    })
}
