//! `vnx resume`: continues the dispatches whose worker was interrupted (a reboot, a crash, a
//! killed supervisor), each in a recorded follow-up in its worktree and its CLI's session.

use std::process::ExitCode;

use vnx::actions::follow_up::FollowUp;
use vnx::actions::resume::{self, Todo};
use vnx::dispatch::queue::paused::Scope;
use vnx::ids::DispatchId;

use super::CliError;
use super::util::context::desk_in;
use super::util::error::Exit;
use super::util::launch::Started;
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
/// A dispatch named that waits out its provider's usage limit (`limited`), or that a pause
/// stopped (`paused`), is continued at once, in its session, by its own supervisor, without
/// waiting for the reset or the pause's end.
///
/// `--to NAME` moves a dispatch named that waits out its provider's usage limit to another
/// CLI instead (`--to` alone: the first of its role's `on_limit:` that no limit holds): a
/// signed `dispatch_failover` names both providers and who moved it, its supervisor ends it
/// `cancelled` (its worktree and branch kept), and a follow-up on that CLI continues it in its
/// worktree, in a new session of that CLI, with that CLI's default model, told its assignment
/// and that the earlier worker stopped at its usage limit; the gates judge its work as any
/// other's. Only a `limited` dispatch moves (2 otherwise); a move interrupted before its
/// follow-up started is finished by the same command again.
///
/// With no ID, every pause `vnx pause` set is lifted first (`--provider`, `--role` or
/// `--place` lifts that one only): what waited in the queue starts, and each paused worker is
/// continued in its session by its supervisor. After opening the laptop, `vnx resume`.
///
/// With no ID, every lost dispatch of the project; `--dry-run` says what would be done and
/// changes nothing. Exits 0 when each was continued or recovered (or none was lost, or it
/// was continued already), 1 when one could not be, 2 for an id never dispatched or never
/// interrupted, 3 when recording failed.
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx resume --dry-run\n  $ vnx resume D-1a2b3c4d5e6f --to kimi"
)]
pub struct Args {
    /// Only these dispatches (ids or their starts) [default: every lost one]
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// Say what would be done; change nothing
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
    /// With no ID, lift only the pause of this provider (`vnx pause --provider`)
    #[arg(long, value_name = "NAME", group = "scope", conflicts_with = "ids")]
    provider: Option<String>,
    /// With no ID, lift only the pause of this role
    #[arg(long, value_name = "NAME", group = "scope", conflicts_with = "ids")]
    role: Option<String>,
    /// With no ID, lift only the pause of this place (a host's name, or `here`)
    #[arg(long, value_name = "NAME", group = "scope", conflicts_with = "ids")]
    place: Option<String>,
    /// Move each ID, waiting out its usage limit, to this provider's CLI [default: the first
    /// of its role's `on_limit` that no limit holds]
    #[arg(
        long,
        value_name = "NAME",
        num_args = 0..=1,
        default_missing_value = "",
        requires = "ids",
        conflicts_with_all = ["dry_run", "close_only"]
    )]
    to: Option<String>,
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
    let socket = args.tmux.tmux_socket.clone();
    if let Some(to) = &args.to {
        let to = Some(to.clone()).filter(|t| !t.is_empty());
        return move_each(&project, &ids, to, socket);
    }
    if ids.is_empty() && !args.close_only && !args.dry_run {
        lift_pauses(&project, socket.clone(), &args)?;
    }
    let (todo, left) = desk_in(&project, socket.clone(), None, |desk| {
        Ok(resume::plan(desk, &ids)?)
    })?;
    for l in &left {
        say!("{}", l.line());
    }
    if todo.is_empty() {
        if ids.is_empty() {
            say!("no interrupted dispatches: none is lost");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = Out::new();
    if args.dry_run {
        for t in &todo {
            let s = t.state();
            out.line(&format!(
                "{}  {} {}  {}",
                s.id,
                escape(s.provider.as_deref().unwrap_or("")),
                escape(s.model.as_deref().unwrap_or("-")),
                t.would()
            ))?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut worst = Exit::Ok;
    for t in &todo {
        // A dispatch lost on a host is closed there first: a host that still runs it (it was
        // only out of reach for a while) refuses, and then nothing is closed here.
        if !args.close_only
            && let Todo::Continue(s) = t
            && let Some(host) = s.place.place()
            && let Err(e) = close_on_host(&project, &s.id, host)
        {
            worst = worst.max(e.exit_status());
            let _ = e.report();
            continue;
        }
        let result = desk_in(&project, socket.clone(), None, |desk| {
            if args.close_only {
                if let Todo::Continue(s) = t {
                    resume::close(desk, &s.id).map_err(|e| {
                        CliError::from(e).context(format!("could not close {}", s.id))
                    })?;
                    say!("{}  interrupted: closed for a resume", s.id);
                }
                return Ok(None);
            }
            resume_one(desk, t)
        });
        // Each continued by a follow-up of its own, started outside the desk it was closed at.
        let result = result.and_then(|next| match next {
            Some(s) => follow(&project, &s, socket.as_deref()),
            None => Ok(()),
        });
        if let Err(e) = result {
            out.flush()?;
            worst = worst.max(e.exit_status());
            let _ = e.report();
        }
    }
    out.flush()?;
    Ok(worst.into())
}

/// Does what a resume does to one dispatch at `desk`; the dispatch then to continue in a
/// follow-up, if any.
fn resume_one(desk: &vnx::actions::Desk<'_>, todo: &Todo) -> Result<Option<DispatchId>, CliError> {
    let s = todo.state();
    let (provider, model) = (
        escape(s.provider.as_deref().unwrap_or("")),
        escape(s.model.as_deref().unwrap_or("-")),
    );
    match todo {
        Todo::Recover(state) => {
            let r = vnx::actions::recover::one(desk, state)?;
            say!(
                "{}  its worker reported before it was lost: recorded {} (recovered)",
                r.dispatch_id,
                r.status
            );
            return Ok(None);
        }
        Todo::Continue(_) => {
            resume::close(desk, &s.id)
                .map_err(|e| CliError::from(e).context(format!("could not close {}", s.id)))?;
            match s.place.place() {
                Some(host) => say!(
                    "{}  interrupted on {host}: closed; continuing it there",
                    s.id
                ),
                None => say!(
                    "{}  interrupted: closed; continuing it in its worktree ({provider} {model})",
                    s.id
                ),
            }
        }
        Todo::Now(_) => {
            resume::continue_now(desk, &s.id)?;
            let waits = match s.state {
                vnx::dispatch::view::State::Paused => "is paused",
                _ => "waits out a usage limit",
            };
            say!(
                "{}  {waits}: its supervisor continues it now, in its session",
                s.id
            );
            return Ok(None);
        }
        Todo::Finish(_) => say!(
            "{}  closed by a resume that stopped before its follow-up: continuing it in its \
             worktree ({provider} {model})",
            s.id
        ),
    }
    Ok(Some(s.id.clone()))
}

/// Moves each of `ids`, waiting out a usage limit, to provider `to` (`None`: the next its
/// role names), each continued there by a follow-up: the library's `Action::Move`.
fn move_each(
    project: &vnx::project::Project,
    ids: &[DispatchId],
    to: Option<String>,
    socket: Option<String>,
) -> Result<ExitCode, CliError> {
    super::util::pending::finish_pending(project);
    let (overrides, override_reasons) = settings::constraint_overrides();
    let acting = vnx::actions::act::Settings {
        anchoring: settings::anchoring(),
        overrides,
        override_reasons,
    };
    let mut worst = Exit::Ok;
    let mut out = Out::new();
    for id in ids {
        let action = vnx::actions::act::Action::Move(id.clone(), to.clone());
        let done = desk_in(project, socket.clone(), None, |desk| {
            Ok(vnx::actions::act::act(desk, &action, &acting)?)
        });
        match done {
            Ok(done) => {
                say!("{}", escape(&done.line()));
                if let Some(next) = done.follow_up() {
                    out.line(next.as_str())?;
                }
            }
            Err(e) => {
                out.flush()?;
                worst = worst.max(e.exit_status());
                let _ = e.report();
            }
        }
    }
    out.flush()?;
    Ok(worst.into())
}

/// Lifts the pauses `vnx pause` set (every one, or the scope the flags name), says what that
/// continues, and starts what waited in the queue (ADR 0119).
fn lift_pauses(
    project: &vnx::project::Project,
    socket: Option<String>,
    args: &Args,
) -> Result<(), CliError> {
    let named = args.provider.is_some() || args.role.is_some() || args.place.is_some();
    let scope = match named {
        true => Some(
            Scope::of_first(
                args.provider.as_deref(),
                args.role.as_deref(),
                args.place.as_deref(),
            )
            .map_err(|e| CliError::usage(e.to_string()))?,
        ),
        false => None,
    };
    let lifted = desk_in(project, socket.clone(), None, |desk| {
        Ok(vnx::actions::pause::lift(desk, scope.as_ref())?)
    })?;
    for p in &lifted.ended {
        say!("lifted: {}", p.describe());
    }
    for id in &lifted.continuing {
        say!("{id}  was paused: its supervisor continues it, in its session");
    }
    for p in &lifted.standing {
        say!(
            "still in effect: {} (`vnx resume` with no flag lifts it)",
            p.describe()
        );
    }
    if !lifted.ended.is_empty() {
        super::util::drain::recover_queue_here(socket, true);
    }
    Ok(())
}

/// Closes dispatch `id` on its host with the host's own `vnx resume --close-only` (one
/// closed there already is left as it is; one the host still runs is refused).
fn close_on_host(
    project: &vnx::project::Project,
    id: &DispatchId,
    host: &vnx::place_name::PlaceName,
) -> Result<(), CliError> {
    let line = ["resume".to_owned(), "--close-only".into(), id.to_string()];
    let code = super::util::remote::on_host(project, host, &line, std::slice::from_ref(id))?;
    if code != ExitCode::SUCCESS {
        return Err(CliError::new(format!(
            "{id} could not be closed on its host {host}, so nothing was closed here"
        ))
        .with_hint(format!(
            "when the host says it still runs {id}, its link was only out of reach: `vnx wait \
             {id}` follows it there; otherwise `vnx resume {id}` tries again"
        )));
    }
    Ok(())
}

/// Starts the follow-up that continues dispatch `id`, which a resume closed (on its host
/// first, for a dispatch that ran on one), there or here.
fn follow(
    project: &vnx::project::Project,
    id: &DispatchId,
    tmux_socket: Option<&str>,
) -> Result<(), CliError> {
    let asked = FollowUp {
        title: Some(format!("resume {id}")),
        instruction: vnx::dispatch::resume::instruction(&project.data_dir(), id),
        ..FollowUp::of(id.clone())
    };
    let started = Started {
        detach: true,
        ..Started::default()
    };
    super::util::follow::start(project, &asked, &started, tmux_socket.map(str::to_owned))
        .map(|_| vnx::steps::reached(vnx::steps::resume::CONTINUED))
        .map_err(|e| {
            e.context(format!(
                "{id} was closed but not continued (`vnx resume {id}` tries again)"
            ))
        })
}
