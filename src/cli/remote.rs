//! Remote hosts from the command line: a dispatch started on a host (`dispatch-agent
//! --host`), the host picked by free capacity (`--host any`), queued while every host it may
//! run on is at its capacity, and catching up with the hosts whose dispatches a reading
//! command shows (`status`, `show`, `wait`), only warning when a host is out of reach: a lost
//! link is neither a failure nor a loss.

use std::collections::BTreeMap;
use std::process::ExitCode;
use vnx::ids::DispatchId;

use vnx::config::HostConfig;
use vnx::dispatch::queue::entry::QueuedRequest;
use vnx::dispatch::queue::{self, RemoteSubmitted, Ticket};
use vnx::dispatch::view;
use vnx::ledger::attest::Attestor;
use vnx::project::Project;
use vnx::remote::{self, Link, RemoteRequest, Ssh};
use vnx::tmux::Tmux;

use super::CliError;
use super::output::{Out, say};
use super::settings;

/// The link to `host` for this project.
pub(super) fn link<'a>(
    project: &'a Project,
    ledger: &'a std::path::Path,
    attestor: &'a Attestor,
    host: &HostConfig,
) -> Result<Link<'a>, CliError> {
    Ok(Link {
        project,
        ledger,
        attestor,
        ssh: Ssh::new(host, &project.data_dir())?,
    })
}

/// `dispatch-agent --host NAME|any` (and a remote `follow-up`): starts the dispatch on a
/// host — for a new one, the queue decides under its lock: on the host it names or, for
/// `any`, the one with the most free capacity; queued when every host it may run on is at
/// its capacity (`queue`: the request as shown while queued, and its ticket) — then prints
/// its id (`detach`) or waits for it, catching up with the host as it goes.
pub(super) fn dispatch(
    target: &str,
    mut request: RemoteRequest,
    queue: Option<(QueuedRequest, Ticket)>,
    detach: bool,
    json: bool,
) -> Result<ExitCode, CliError> {
    let project = settings::project()?;
    settings::finish_pending(&project);
    let config = project.load_config()?;
    if target == "any" && config.hosts.is_empty() {
        return Err(
            CliError::usage("--host any, but .vnx/config.yaml declares no hosts")
                .with_hint("declare hosts under `hosts:` (ssh, clone, capacity)"),
        );
    }
    // A sandbox this project's config asks for by default is asked for on the host too, as
    // is its network, whatever the host's own config says (a follow-up keeps its
    // dispatch's, there as here).
    let chosen = |flag: &str| {
        let a = &request.args;
        // The instruction is the one free text among them.
        (0..a.len()).any(|i| a[i] == flag && (i == 0 || a[i - 1] != "--instruction"))
    };
    if request.follows.is_none() && !chosen("--sandbox") && !chosen("--no-sandbox") {
        request.args.push(
            if config.sandbox.enabled {
                "--sandbox"
            } else {
                "--no-sandbox"
            }
            .to_owned(),
        );
    }
    let ledger = project.ledger();
    let attestor = settings::attestor(None)?;
    let launched = match queue {
        // A follow-up continues its dispatch's worktree there: never queued.
        None => {
            let host = remote::host(&config.hosts, target)?.clone();
            remote::launch(&link(&project, &ledger, &attestor, &host)?, &request)?
        }
        Some((shown, ticket)) => {
            let submitted = super::dispatch_agent::with_context(None, |ctx| {
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
    let host = remote::host(&config.hosts, &launched.host)?.clone();
    let link = link(&project, &ledger, &attestor, &host)?;
    let mut out = Out::new();
    if detach {
        if json {
            out.json(&launched)?;
        } else {
            out.line(&launched.dispatch_id)?;
            say!(
                "started {} on host {} (`vnx attach {}`, `vnx wait {}`)",
                launched.dispatch_id,
                host.name,
                launched.dispatch_id,
                launched.dispatch_id
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    say!("dispatched {} on host {}", launched.dispatch_id, host.name);
    let id = launched.dispatch_id.clone();
    let ids = vec![id.clone()];
    // Long polls: the host answers the moment its ledger grows.
    let mut down = false;
    while view::completion(&ledger, &id)?.is_none() && !view::remote_lost(&ledger, &id)? {
        match remote::catch_up_waiting(&link, &[id.to_string()], std::time::Duration::from_secs(2))
        {
            Ok(_) if down => {
                down = false;
                say!("host {} answers again: caught up", host.name);
            }
            Ok(_) => {}
            Err(e) => {
                if !down {
                    CliError::from(e)
                        .context(format!(
                            "lost the link to host {}; the dispatch goes on there, retrying",
                            host.name
                        ))
                        .warn();
                }
                down = true;
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    }
    // Its slot on the host is free: a dispatch waiting for one starts.
    super::drain::recover_queue_here(None);
    let tmux = Tmux::new(settings::tmux_socket(None));
    let waited = view::wait(&ledger, &ids, &tmux, false)?;
    super::wait::report(&mut out, &waited, json)
}

/// A dispatch queued for a host: its id (detached), or a wait through its start to its end.
fn queued(
    target: &str,
    id: &str,
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
        return super::wait::run(super::wait::Args::of(vec![id.to_owned()], json));
    }
    let provider = if json {
        view::list(
            &settings::project()?.ledger(),
            &Tmux::new(settings::tmux_socket(None)),
        )?
        .into_iter()
        .find(|s| s.id == id)
        .and_then(|s| s.provider)
    } else {
        None
    };
    super::dispatch_agent::print_queued(&mut Out::new(), id, provider.as_deref(), position, json)
}

/// Catching up with the hosts of remote dispatches while a command waits for them: at most
/// once a second, saying once when a host's link is lost and when it is back.
pub(super) struct CatchingUp<'a> {
    project: &'a Project,
    last: Option<std::time::Instant>,
    down: std::collections::BTreeSet<String>,
}

impl<'a> CatchingUp<'a> {
    pub(super) fn new(project: &'a Project) -> CatchingUp<'a> {
        CatchingUp {
            project,
            last: None,
            down: Default::default(),
        }
    }

    /// How long a host may hold a catch-up waiting for its next line.
    const LONG_POLL: std::time::Duration = std::time::Duration::from_millis(1000);

    /// Catches up with the hosts of those of `pending` that run remotely.
    pub(super) fn tick(&mut self, pending: &[DispatchId]) {
        if self
            .last
            .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1))
        {
            return;
        }
        self.last = Some(std::time::Instant::now());
        let results = catch_up(self.project, Some(pending), Self::LONG_POLL);
        for (host, result) in results {
            match result {
                Ok(_) => {
                    if self.down.remove(&host) {
                        say!("host {host} answers again: caught up");
                    }
                }
                Err(e) => {
                    if self.down.insert(host.clone()) {
                        CliError::from(e)
                            .context(format!(
                                "lost the link to host {host}; its dispatches go on there, \
                                 retrying"
                            ))
                            .warn();
                    }
                }
            }
        }
    }
}

/// Catches up with every host that runs a live dispatch of this project (among `only`, when
/// given); each host's outcome.
pub(super) fn catch_up(
    project: &Project,
    only: Option<&[DispatchId]>,
    wait: std::time::Duration,
) -> Vec<(String, Result<remote::CatchUp, remote::RemoteError>)> {
    let ledger = project.ledger();
    if !ledger.exists() {
        return Vec::new();
    }
    // While dispatches wait for a host, every host's end of a dispatch frees a slot for
    // them: every host running one is caught up with.
    let everyone = queue::remote::any_waiting(&project.data_dir());
    let mut by_host: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Only the dispatches on hosts are read closely (not every dispatch's state).
    let attestor = settings::attestor(None).ok();
    let index = vnx::dispatch::fold::index::path_in(&project.data_dir());
    let hosted = view::remote_live(&ledger, attestor.as_ref().map(|a| (index.as_path(), a)));
    for (id, h) in hosted.unwrap_or_default() {
        if everyone || only.is_none_or(|ids| ids.contains(&id)) {
            by_host.entry(h).or_default().push(id.into_string());
        }
    }
    if by_host.is_empty() {
        return Vec::new();
    }
    let (Ok(config), Ok(attestor)) = (project.load_config(), settings::attestor(None)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, ids) in by_host {
        let result = remote::host(&config.hosts, &name)
            .and_then(|h| {
                Ok(Link {
                    project,
                    ledger: &ledger,
                    attestor: &attestor,
                    ssh: Ssh::new(h, &project.data_dir())?,
                })
            })
            .and_then(|link| remote::catch_up_waiting(&link, &ids, wait));
        out.push((name, result));
    }
    out
}

/// [`catch_up`] for a reading command: a host out of reach is a warning. A dispatch that
/// ended on its host frees a slot there: the queue is drained again.
pub(super) fn catch_up_warning(project: &Project, only: Option<&[DispatchId]>) {
    let results = catch_up(project, only, std::time::Duration::ZERO);
    let drain = freed(&results);
    for (host, result) in results {
        if let Err(e) = result {
            CliError::from(e)
                .context(format!(
                    "could not catch up with host {host}; showing what was last known"
                ))
                .warn();
        }
    }
    if drain {
        super::drain::recover_queue_here(None);
    }
}

/// Whether a catch-up saw a dispatch end on its host (a slot freed there).
pub(super) fn freed(results: &[(String, Result<remote::CatchUp, remote::RemoteError>)]) -> bool {
    results.iter().any(|(_, r)| {
        r.as_ref().is_ok_and(|c| {
            !c.lost.is_empty()
                || c.translated
                    .iter()
                    .any(|(_, event)| event == "dispatch_completed")
        })
    })
}

/// The host config of a remote dispatch, when `id` runs on one.
pub(super) fn host_of(project: &Project, id: &str) -> Result<Option<HostConfig>, CliError> {
    let ledger = project.ledger();
    let Some(name) = ledger
        .exists()
        .then(|| view::remote_of(&ledger, id))
        .flatten()
    else {
        return Ok(None);
    };
    let config = project.load_config()?;
    Ok(Some(remote::host(&config.hosts, &name)?.clone()))
}

/// Runs `vnx ARGS…` on the host of a remote dispatch and then catches up with it; the host's
/// stdout is passed through, its stderr too.
pub(super) fn on_host(
    project: &Project,
    host: &HostConfig,
    args: &[String],
    ids: &[String],
) -> Result<ExitCode, CliError> {
    let ledger = project.ledger();
    let attestor = settings::attestor(None)?;
    let link = link(project, &ledger, &attestor, host)?;
    let out = link
        .ssh
        .run(link.ssh.vnx(args), std::time::Duration::from_secs(120))?;
    let mut o = Out::new();
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        o.line(line)?;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    for line in err.lines() {
        say!("{host}: {line}", host = host.name);
    }
    if let Err(e) = remote::catch_up(&link, ids) {
        CliError::from(e).warn();
    }
    let code = out.status.code().unwrap_or(3);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(3)))
}

/// `vnx doctor --host NAME`: the host's checks as a table or JSON; exit 1 on a failure.
pub(super) fn doctor(name: &str, json: bool) -> Result<ExitCode, CliError> {
    let project = settings::project()?;
    let config = project.load_config()?;
    let host = remote::host(&config.hosts, name)?.clone();
    let ledger = project.ledger();
    let attestor = settings::attestor(None)?;
    let link = link(&project, &ledger, &attestor, &host)?;
    let checks = remote::doctor::check(&link);
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
    Ok(if checks.iter().all(|c| c.ok) {
        ExitCode::SUCCESS
    } else {
        super::error::Exit::No.into()
    })
}
