//! Remote hosts from the command line: a dispatch started on a host (`dispatch-agent
//! --host`), the host picked by free capacity (`--host any`), and catching up with the hosts
//! whose dispatches a reading command shows (`status`, `show`, `wait`), only warning when a
//! host is out of reach: a lost link is neither a failure nor a loss.

use std::collections::BTreeMap;
use std::process::ExitCode;

use vnx::config::HostConfig;
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

/// The host `name` names (`any`: the one with the most free capacity).
fn pick_host(project: &Project, name: &str) -> Result<HostConfig, CliError> {
    let config = project.load_config()?;
    if name != "any" {
        return Ok(remote::host(&config.hosts, name)?.clone());
    }
    let running = running_per_host(project);
    config
        .hosts
        .values()
        .filter(|h| running.get(&h.name).copied().unwrap_or(0) < h.capacity as usize)
        .max_by_key(|h| h.capacity as usize - running.get(&h.name).copied().unwrap_or(0))
        .cloned()
        .ok_or_else(|| {
            if config.hosts.is_empty() {
                CliError::usage("--host any, but .vnx/config.yaml declares no hosts")
                    .with_hint("declare hosts under `hosts:` (ssh, clone, capacity)")
            } else {
                CliError::verdict("every host runs as many dispatches as its capacity")
                    .with_hint("wait for one to finish (`vnx wait`), or name a host with --host")
            }
        })
}

/// Running remote dispatches, by host.
fn running_per_host(project: &Project) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let ledger = project.ledger();
    if !ledger.exists() {
        return out;
    }
    let tmux = Tmux::new(settings::tmux_socket(None));
    for s in view::list(&ledger, &tmux).unwrap_or_default() {
        if let Some(h) = s.host.filter(|_| s.state.is_live()) {
            *out.entry(h).or_default() += 1;
        }
    }
    out
}

/// `dispatch-agent --host NAME`: starts the dispatch on the host, then prints its id
/// (`detach`) or waits for it, catching up with the host as it goes.
pub(super) fn dispatch(
    host: &str,
    request: RemoteRequest,
    detach: bool,
    json: bool,
) -> Result<ExitCode, CliError> {
    let project = settings::project()?;
    settings::finish_pending(&project);
    let host = pick_host(&project, host)?;
    let ledger = project.ledger();
    let attestor = settings::attestor(None)?;
    let link = link(&project, &ledger, &attestor, &host)?;
    let launched = remote::launch(&link, &request)?;
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
        match remote::catch_up_waiting(&link, &ids, std::time::Duration::from_secs(2)) {
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
    let tmux = Tmux::new(settings::tmux_socket(None));
    let waited = view::wait(&ledger, &ids, &tmux, false)?;
    super::wait::report(&mut out, &waited, json)
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
    pub(super) fn tick(&mut self, pending: &[String]) {
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
    only: Option<&[String]>,
    wait: std::time::Duration,
) -> Vec<(String, Result<remote::CatchUp, remote::RemoteError>)> {
    let ledger = project.ledger();
    if !ledger.exists() {
        return Vec::new();
    }
    let tmux = Tmux::new(settings::tmux_socket(None));
    let mut by_host: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in view::list(&ledger, &tmux).unwrap_or_default() {
        if let Some(h) = &s.host
            && s.state.is_live()
            && only.is_none_or(|ids| ids.contains(&s.id))
        {
            by_host.entry(h.clone()).or_default().push(s.id.clone());
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

/// [`catch_up`] for a reading command: a host out of reach is a warning.
pub(super) fn catch_up_warning(project: &Project, only: Option<&[String]>) {
    for (host, result) in catch_up(project, only, std::time::Duration::ZERO) {
        if let Err(e) = result {
            CliError::from(e)
                .context(format!(
                    "could not catch up with host {host}; showing what was last known"
                ))
                .warn();
        }
    }
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
