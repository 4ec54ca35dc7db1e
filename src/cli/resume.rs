//! `vnx resume`: continues the dispatches whose worker was interrupted (a reboot, a crash, a
//! killed supervisor), each in a recorded follow-up in its worktree and its CLI's session.

use std::process::ExitCode;

use clap::Parser;
use vnx::dispatch::resume;
use vnx::dispatch::supervise::recover::{self, Recovery};
use vnx::dispatch::view;
use vnx::tmux::Tmux;
use vnx::worktree::Repo;

use super::CliError;
use super::error::Exit;
use super::output::{Out, escape, say};
use super::settings;

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
/// With no ID, every lost dispatch of the project; `--dry-run` says what would be done and
/// changes nothing. Exits 0 when each was continued or recovered (or none was lost), 1 when
/// one could not be, 2 for an id never dispatched or not lost, 3 when recording failed.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx resume --dry-run")]
pub struct Args {
    /// Only these dispatches (ids or their starts) [default: every lost one]
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// Say what would be done; change nothing
    #[arg(long)]
    dry_run: bool,
    /// tmux socket name [default: $VNX_TMUX_SOCKET, else vnx]
    #[arg(long, value_name = "NAME")]
    tmux_socket: Option<String>,
}

/// `vnx follow-up`'s arguments, parsed as its command line would be.
#[derive(Parser)]
#[command(name = "vnx follow-up", no_binary_name = true)]
struct FollowUpLine {
    #[command(flatten)]
    args: super::follow_up::Args,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, ids) = if args.ids.is_empty() {
        (settings::project()?, Vec::new())
    } else {
        settings::project_for(&args.ids)?
    };
    let ledger = project.ledger();
    let tmux = Tmux::new(settings::tmux_socket(args.tmux_socket.clone()));
    let states = if ledger.exists() {
        view::list(&ledger, &tmux)?
    } else {
        Vec::new()
    };
    let chosen: Vec<&vnx::dispatch::state::DispatchState> = if ids.is_empty() {
        states.iter().collect()
    } else {
        let named = super::error::named_dispatches(&states, &ids)?;
        if let Some(s) = named
            .iter()
            .find(|s| s.state != vnx::dispatch::state::State::Lost)
        {
            return Err(CliError::usage(format!(
                "dispatch {} is {}, not lost: nothing interrupted it",
                s.id,
                s.state.name()
            ))
            .with_hint(format!("`vnx status {}` shows it", s.id)));
        }
        named
    };
    let chosen: Vec<_> = chosen.into_iter().cloned().collect();
    let data_dir = project.data_dir();
    let interrupted = resume::interrupted(&data_dir, &chosen);
    if interrupted.is_empty() {
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
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let (attestor, trusted) = settings::attestation(None, &ledger)?;
    let repo = Repo::for_project(&project)?;
    let config = project.load_config()?;
    let mut worst = Exit::Ok;
    for i in &interrupted {
        let state = chosen.iter().find(|s| s.id == i.id).expect("chosen");
        let result = if i.reported {
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
            continue_interrupted(
                &ledger,
                &data_dir,
                &attestor,
                i,
                args.tmux_socket.as_deref(),
            )
        };
        if let Err(e) = result {
            out.flush()?;
            worst = worst.max(e.exit_status());
            let _ = e.report();
        }
    }
    out.flush()?;
    Ok(worst.into())
}

/// Closes interrupted dispatch `i` and starts the follow-up that continues it.
fn continue_interrupted(
    ledger: &std::path::Path,
    data_dir: &std::path::Path,
    attestor: &vnx::ledger::attest::Attestor,
    i: &resume::Interrupted,
    tmux_socket: Option<&str>,
) -> Result<(), CliError> {
    resume::close(ledger, &i.id, attestor)
        .map_err(|e| CliError::from(e).context(format!("could not close {}", i.id)))?;
    say!(
        "{}  interrupted: closed; continuing it in its worktree ({} {})",
        i.id,
        escape(&i.provider),
        escape(i.model.as_deref().unwrap_or("-"))
    );
    let mut line: Vec<String> = vec![
        i.id.to_string(),
        "--detach".into(),
        "--title".into(),
        format!("resume {}", i.id),
        "--instruction".into(),
        resume::instruction(data_dir, &i.id),
    ];
    if let Some(socket) = tmux_socket {
        line.extend(["--tmux-socket".into(), socket.to_owned()]);
    }
    let parsed = FollowUpLine::try_parse_from(&line)
        .map_err(|e| CliError::new(format!("could not continue {}", i.id)).with_cause(&e))?;
    super::follow_up::run(parsed.args)
        .map(|_| ())
        .map_err(|e| e.context(format!("{} was closed but not continued", i.id)))
}
