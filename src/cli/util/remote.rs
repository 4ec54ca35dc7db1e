//! Remote hosts from the command line: a dispatch started on a host (`dispatch-agent
//! --host`), the host picked by free capacity (`--host any`), queued while every host it may
//! run on is at its capacity, a command run on the host a dispatch ran on, and `doctor
//! --host` (catching up with hosts is `hosts`').

use std::process::ExitCode;

use vnx::actions::remote::LinkNews;
use vnx::dispatch::queue::entry::QueuedRequest;
use vnx::dispatch::queue::{self, RemoteSubmitted, Ticket};
use vnx::dispatch::view;
use vnx::ids::DispatchId;
use vnx::place_name::PlaceName;
use vnx::project::Project;
use vnx::remote::{self, Link, RemoteRequest};
use vnx::tmux::Tmux;

use super::error::Exit;
use super::hosts::link;
use super::output::{Out, say};
use super::settings;
use crate::cli::CliError;

/// `dispatch-agent --host NAME|any` (and a remote `follow-up`): starts the dispatch on a
/// host — for a new one, the queue decides under its lock: on the host it names or, for
/// `any`, the one with the most free capacity; queued when every host it may run on is at
/// its capacity (`queue`: the request as shown while queued, and its ticket) — then prints
/// its id (`detach`) or waits for it, catching up with the host as it goes.
pub(crate) fn dispatch(
    target: &str,
    mut request: RemoteRequest,
    queue: Option<(QueuedRequest, Ticket)>,
    detach: bool,
    json: bool,
) -> Result<ExitCode, CliError> {
    let project = crate::cli::util::ids::project_for(&[])?.0;
    let config = project.load_config()?;
    if target == "any" && config.hosts.is_empty() {
        return Err(
            CliError::usage("--host any, but .vnx/config.yaml declares no hosts")
                .with_hint("declare hosts under `hosts:` (ssh, clone, capacity)"),
        );
    }
    vnx::actions::remote::with_project_sandbox(&config, &mut request);
    request.dispatcher = Some(vnx::remote::key_relay::Dispatcher {
        env: vnx::env_file::handed_on(&settings::env_all().collect::<Vec<_>>()).into(),
        vnx: std::env::current_exe().map_err(|e| CliError::from_error(&e))?,
        tmux_socket: settings::tmux_socket(None),
    });
    let ledger = project.ledger();
    let attestor = settings::attestor(None)?;
    let launched = match queue {
        // A follow-up continues in its dispatch's place, its worktree there: never queued.
        None if request.follows.is_some() => {
            let launched = crate::cli::util::context::desk_in(&project, None, None, |desk| {
                Ok(vnx::actions::remote::follow_up_on_host(desk, &request)?)
            })?;
            launched.ok_or_else(|| {
                CliError::usage(format!(
                    "{} did not run on a host",
                    request.follows.as_deref().unwrap_or_default()
                ))
            })?
        }
        None => {
            let host = remote::host(&config.hosts, target)?;
            let id = request.id.get_or_insert_with(DispatchId::fresh).clone();
            let link = Link {
                project: &project,
                ledger: &ledger,
                attestor: &attestor,
                place: super::hosts::for_dispatch(&project, host, &id)?,
            };
            remote::launch(&link, &request)?
        }
        Some((shown, ticket)) => {
            let submitted = crate::cli::util::context::with_context(None, |ctx| {
                Ok(queue::submit_remote(ctx, target, &request, shown, &ticket)?)
            })?;
            match submitted {
                RemoteSubmitted::Started(launched) => launched,
                RemoteSubmitted::Queued {
                    id,
                    position,
                    capacity,
                } => return queued(target, &id, position, capacity, detach, json),
            }
        }
    };
    let place = PlaceName::parse(&launched.host).map_err(|e| CliError::new(e.to_string()))?;
    let link = link(&project, &ledger, &attestor, &place)?;
    let host = &launched.host;
    let mut out = Out::new();
    if detach {
        if json {
            out.json(&launched)?;
        } else {
            out.line(launched.dispatch_id.as_str())?;
            say!(
                "started {} on host {} (`vnx attach {}`, `vnx wait {}`)",
                launched.dispatch_id,
                host,
                launched.dispatch_id,
                launched.dispatch_id
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    say!("dispatched {} on host {}", launched.dispatch_id, host);
    let id = launched.dispatch_id.clone();
    let ids = vec![id.clone()];
    // Long polls: the host answers the moment its ledger grows.
    vnx::actions::remote::follow_to_end(&link, &id, &mut |news| match news {
        LinkNews::Lost(e) => CliError::from(e)
            .context(format!(
                "lost the link to host {host}; the dispatch goes on there, retrying"
            ))
            .warn(),
        LinkNews::Back => say!("host {} answers again: caught up", host),
    })?;
    // Its slot on the host is free: a dispatch waiting for one starts.
    super::drain::recover_queue_here(None, true);
    let tmux = Tmux::new(settings::tmux_socket(None));
    let waited = view::wait(&ledger, &ids, &tmux, false)?;
    crate::cli::util::waiting::report(&mut out, &waited, json)
}

/// A dispatch queued for a host: its id (detached), or a wait through its start to its end.
fn queued(
    target: &str,
    id: &DispatchId,
    position: u32,
    capacity: u32,
    detach: bool,
    json: bool,
) -> Result<ExitCode, CliError> {
    let full = if target == "any" {
        format!("every host is at its capacity ({capacity} slots)")
    } else {
        format!("host {target} is at its capacity ({capacity})")
    };
    say!(
        "queued {id} at position {position}: {full}; it starts when a slot frees \
         (`vnx status {id}`, `vnx cancel {id}`)"
    );
    if !detach {
        let project = crate::cli::util::ids::project_for(&[])?.0;
        let ids = vec![id.clone()];
        let how = crate::cli::util::waiting::Waiting {
            json,
            ..Default::default()
        };
        return crate::cli::util::waiting::wait_for(&project, &ids, &how);
    }
    let provider = if json {
        view::list(
            &settings::project()?.ledger(),
            &Tmux::new(settings::tmux_socket(None)),
        )?
        .into_iter()
        .find(|s| s.id == *id)
        .and_then(|s| s.provider)
    } else {
        None
    };
    crate::cli::util::launch::print_queued(&mut Out::new(), id, provider.as_deref(), position, json)
}

/// Asks the place (`place`: a host's name, or a container's) of remote dispatches `ids` to
/// run its `vnx ARGS…` (`vnx::actions::remote::ask`); its stdout is passed through and its
/// stderr said, each escaped; its exit status is this command's.
pub(crate) fn on_host(
    project: &Project,
    place: &vnx::place_name::PlaceName,
    args: &[String],
    ids: &[DispatchId],
) -> Result<ExitCode, CliError> {
    let answered = crate::cli::util::context::desk_in(project, None, None, |desk| {
        Ok(vnx::actions::remote::ask(desk, place, args, ids)?)
    })?;
    said(place, answered)
}

/// What place `place` answered, shown: its stdout passed through and its stderr said, each
/// escaped; its exit status is this command's.
pub(crate) fn said(
    place: &vnx::place_name::PlaceName,
    answered: vnx::actions::remote::Answered,
) -> Result<ExitCode, CliError> {
    let mut o = Out::new();
    for line in answered.stdout.lines() {
        o.line(line)?;
    }
    for line in answered.stderr.lines() {
        say!("{place}: {line}");
    }
    if let Some(e) = answered.not_caught_up {
        CliError::from(e).warn();
    }
    let code = answered.status.unwrap_or(3);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(3)))
}

/// `vnx doctor --host NAME`: the host's checks as a table or JSON; exit 1 on a failure.
pub(crate) fn doctor(name: &str, json: bool) -> Result<ExitCode, CliError> {
    let project = settings::project()?;
    let config = project.load_config()?;
    let host = remote::host(&config.hosts, name)?.clone();
    let ledger = project.ledger();
    let attestor = settings::attestor(None)?;
    // A container host's checks run in a container made for them, as for a fresh dispatch.
    let place = super::hosts::for_dispatch(&project, &host, &DispatchId::fresh())?;
    let checks = remote::doctor::check(&Link {
        project: &project,
        ledger: &ledger,
        attestor: &attestor,
        place,
    });
    let mut out = Out::new();
    if json {
        out.json(&serde_json::json!({"host": host.name, "checks": checks}))?;
    } else {
        for c in &checks {
            let status = match (c.ok, c.warn) {
                (true, false) => "PASS",
                (true, true) => "WARN",
                _ => "FAIL",
            };
            out.line(&format!(
                "{status}  {:<7} {}",
                c.name,
                super::output::escape(&c.detail)
            ))?;
        }
    }
    Ok(Exit::No.when(checks.iter().any(|c| !c.ok)))
}
