//! `vnx resume`: continues the dispatches whose worker was interrupted (a reboot, a crash, a
//! killed supervisor), each in a recorded follow-up in its worktree and its CLI's session.

use std::process::ExitCode;

use vnx::dispatch::resume;
use vnx::dispatch::state::{DispatchState, State};
use vnx::dispatch::supervise::recover::{self, Recovery};
use vnx::dispatch::view;
use vnx::ids::DispatchId;
use vnx::receipts::DispatchStatus;
use vnx::tmux::Tmux;
use vnx::worktree::Repo;

use super::CliError;
use super::util::error::Exit;
use super::util::output::{Out, escape, say};
use super::util::settings;

/// Continue the dispatches a reboot or a crash interrupted
///
/// After the machine restarted (or crashed, or a supervisor was killed), every dispatch
/// whose worker was running reads `lost`: its supervisor died before it recorded an end.
/// `vnx resume` lists them and continues each where it stopped: it closes the interrupted
/// dispatch with a signed completion that says so, then starts a follow-up (`vnx follow-up
/// ID --detach`) in the same worktree, with the same provider, model, role and lane, resuming
/// its CLI's session where the CLI keeps one; the follow-up is told what happened and given
/// the task as it was assigned. A lost dispatch whose worker had already reported is not
/// resumed: its end is recorded from the sealed report, as `vnx recover` does. Nothing is
/// removed: the worktree and branch stay as the worker left them.
///
/// A resume stopped between its close and the follow-up (killed, or the follow-up failed to
/// launch) is finished by the next: `vnx resume ID` (or with no ID) starts the follow-up of a
/// dispatch a resume closed and nothing continued, and of a resumed dispatch whose follow-up
/// was lost in turn, continues that one; one whose follow-up runs or ended is said so, as
/// is one whose end a recovery recorded from its worker's report.
///
/// With no ID, every lost dispatch of the project; `--dry-run` says what would be done and
/// changes nothing. Exits 0 when each was continued or recovered (or none was lost, or it
/// was continued already), 1 when one could not be, 2 for an id never dispatched or never
/// interrupted, 3 when recording failed.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx resume --dry-run")]
pub struct Args {
    /// Only these dispatches (ids or their starts) [default: every lost one]
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// Say what would be done; change nothing
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
    /// Only close each (as a resume does), starting no follow-up: how the dispatching
    /// machine has a host close a remote dispatch it then continues itself
    #[arg(long, hide = true)]
    close_only: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, ids) = if args.ids.is_empty() {
        (settings::project()?, Vec::new())
    } else {
        crate::cli::util::ids::project_for(&args.ids)?
    };
    let ledger = project.ledger();
    let tmux = Tmux::new(settings::tmux_socket(args.tmux.tmux_socket.clone()));
    let states = if ledger.exists() {
        view::list(&ledger, &tmux)?
    } else {
        Vec::new()
    };
    // Dispatches an earlier resume closed: continued, or not yet when it was killed between
    // its close and the follow-up's launch.
    let closes = if states
        .iter()
        .any(|s| s.state == State::Ended(DispatchStatus::Cancelled))
    {
        let trusted = trusted_keys(&ledger)?;
        resume::closed_for_resume(&ledger, &states, &trusted)?
    } else {
        Vec::new()
    };
    let unfollowed: Vec<&DispatchId> = closes
        .iter()
        .filter(|(_, next)| next.is_none())
        .map(|(id, _)| id)
        .collect();
    let mut chosen: Vec<DispatchState> = Vec::new();
    if ids.is_empty() {
        chosen.extend(
            states
                .iter()
                .filter(|s| s.state == State::Lost || unfollowed.contains(&&s.id))
                .cloned(),
        );
    } else {
        for s in vnx::actions::Desk::named(&states, &ids)? {
            if s.state == State::Lost || unfollowed.contains(&&s.id) {
                chosen.push(s.clone());
                continue;
            }
            let resumed = closes
                .iter()
                .any(|(id, next)| *id == s.id && next.is_some());
            match resume::chain_end(&states, &s.id).filter(|_| resumed) {
                // Its follow-up was lost in turn: that one is what is left to continue.
                Some(end) if end.state == State::Lost => chosen.push(end.clone()),
                Some(end) => say!(
                    "{}  resumed already: {} continues it ({})",
                    s.id,
                    end.id,
                    end.state.name()
                ),
                None if matches!(s.state, State::Ended(_))
                    && resume::recovered(&ledger, &s.id, &trusted_keys(&ledger)?)? =>
                {
                    say!(
                        "{}  recorded already from its worker's report (recovered): {}",
                        s.id,
                        s.state.name()
                    );
                }
                None => {
                    return Err(CliError::usage(format!(
                        "dispatch {} is {}, not lost: nothing interrupted it",
                        s.id,
                        s.state.name()
                    ))
                    .with_hint(format!("`vnx status {}` shows it", s.id)));
                }
            }
        }
    }
    let data_dir = project.data_dir();
    let interrupted = resume::interrupted(&data_dir, &chosen);
    let half_done: Vec<&DispatchState> = chosen
        .iter()
        .filter(|s| unfollowed.contains(&&s.id))
        .collect();
    if interrupted.is_empty() && half_done.is_empty() {
        if chosen.is_empty() && !ids.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        say!("no interrupted dispatches: none is lost");
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = Out::new();
    if args.dry_run {
        for i in &interrupted {
            let what = if i.reported {
                format!(
                    "its worker reported before it was lost: would record its end (`vnx recover {}`)",
                    i.id
                )
            } else {
                format!(
                    "interrupted: would close it and continue it in a follow-up in its worktree \
                     (`vnx follow-up {} --detach`)",
                    i.id
                )
            };
            out.line(&format!(
                "{}  {} {}  {what}",
                i.id,
                escape(&i.provider),
                escape(i.model.as_deref().unwrap_or("-"))
            ))?;
        }
        for s in &half_done {
            out.line(&format!(
                "{}  {} {}  closed by a resume that stopped before its follow-up: would start \
                 it in its worktree (`vnx follow-up {} --detach`)",
                s.id,
                escape(s.provider.as_deref().unwrap_or("")),
                escape(s.model.as_deref().unwrap_or("-")),
                s.id
            ))?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let (attestor, trusted) = settings::attestation(None, &ledger)?;
    if args.close_only {
        for i in interrupted.iter().filter(|i| !i.reported) {
            resume::close(&ledger, &i.id, &attestor)
                .map_err(|e| CliError::from(e).context(format!("could not close {}", i.id)))?;
            say!("{}  interrupted: closed for a resume", i.id);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let repo = Repo::for_project(&project)?;
    let config = project.load_config()?;
    let mut worst = Exit::Ok;
    let mut note = |result: Result<(), CliError>, out: &mut Out| -> Result<(), CliError> {
        if let Err(e) = result {
            out.flush()?;
            worst = worst.max(e.exit_status());
            let _ = e.report();
        }
        Ok(())
    };
    for i in &interrupted {
        let state = chosen.iter().find(|s| s.id == i.id).expect("chosen");
        let result = if let Some(host) = state.host.as_deref() {
            // A remote dispatch: closed here, closed on its host (where it is lost too), and
            // continued there by a follow-up started from here (each step redone by a rerun).
            resume::close(&ledger, &i.id, &attestor)
                .map_err(|e| CliError::from(e).context(format!("could not close {}", i.id)))
                .and_then(|_| {
                    say!(
                        "{}  interrupted on {host}: closed; continuing it there",
                        i.id
                    );
                    follow_remote(
                        &project,
                        host,
                        &data_dir,
                        &i.id,
                        args.tmux.tmux_socket.as_deref(),
                    )
                })
        } else if i.reported {
            let recovery = Recovery {
                repo: &repo,
                ledger: &ledger,
                trusted: &trusted,
                attestor: &attestor,
                config: &config,
            };
            recover::recover(&recovery, state)
                .map(|r| {
                    say!(
                        "{}  its worker reported before it was lost: recorded {} (recovered)",
                        r.dispatch_id,
                        r.status
                    );
                })
                .map_err(CliError::from)
        } else {
            resume::close(&ledger, &i.id, &attestor)
                .map_err(|e| CliError::from(e).context(format!("could not close {}", i.id)))
                .and_then(|_| {
                    say!(
                        "{}  interrupted: closed; continuing it in its worktree ({} {})",
                        i.id,
                        escape(&i.provider),
                        escape(i.model.as_deref().unwrap_or("-"))
                    );
                    follow(&data_dir, &i.id, args.tmux.tmux_socket.as_deref())
                })
        };
        note(result, &mut out)?;
    }
    for s in &half_done {
        say!(
            "{}  closed by a resume that stopped before its follow-up: continuing it in its \
             worktree ({} {})",
            s.id,
            escape(s.provider.as_deref().unwrap_or("")),
            escape(s.model.as_deref().unwrap_or("-"))
        );
        let result = match s.host.as_deref() {
            Some(host) => follow_remote(
                &project,
                host,
                &data_dir,
                &s.id,
                args.tmux.tmux_socket.as_deref(),
            ),
            None => follow(&data_dir, &s.id, args.tmux.tmux_socket.as_deref()),
        };
        note(result, &mut out)?;
    }
    out.flush()?;
    Ok(worst.into())
}

/// The keys whose signatures the ledger's receipts are judged by.
fn trusted_keys(ledger: &std::path::Path) -> Result<Vec<[u8; 32]>, CliError> {
    Ok(settings::attestation(None, ledger)?.1)
}

/// Has the host of remote dispatch `id` close it too (its own `vnx resume --close-only`: a
/// dispatch already closed there is left as it is), then starts the follow-up that continues
/// it there.
fn follow_remote(
    project: &vnx::project::Project,
    host: &str,
    data_dir: &std::path::Path,
    id: &DispatchId,
    tmux_socket: Option<&str>,
) -> Result<(), CliError> {
    let config = project.load_config()?;
    let host = vnx::remote::host(&config.hosts, host)?.clone();
    let line = ["resume".to_owned(), "--close-only".into(), id.to_string()];
    let code = super::util::remote::on_host(project, &host, &line, &[id.to_string()])?;
    if code != ExitCode::SUCCESS {
        return Err(CliError::new(format!(
            "{id} was closed here but its host {} could not close it (`vnx resume {id}` tries \
             again)",
            host.name
        )));
    }
    follow(data_dir, id, tmux_socket)
}

/// Starts the follow-up that continues dispatch `id`, which `vnx resume` closed.
fn follow(
    data_dir: &std::path::Path,
    id: &DispatchId,
    tmux_socket: Option<&str>,
) -> Result<(), CliError> {
    let asked = super::util::follow::Asked {
        id: id.clone(),
        new_id: None,
        title: format!("resume {id}"),
        instruction: Ok(resume::instruction(data_dir, id)),
        detach: true,
        json: false,
        tmux_socket: tmux_socket.map(str::to_owned),
    };
    super::util::follow::follow_asked(asked)
        .map(|_| vnx::steps::reached(vnx::steps::resume::CONTINUED))
        .map_err(|e| {
            e.context(format!(
                "{id} was closed but not continued (`vnx resume {id}` tries again)"
            ))
        })
}
