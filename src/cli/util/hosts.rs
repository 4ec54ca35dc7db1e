//! Remote hosts as reading commands meet them: the link to a host, the host a dispatch ran
//! on, and catching up with the hosts whose dispatches `status`, `show`, `wait` (whose
//! library wait says when) and the dashboard show, only warning when a host is out of reach
//! (a lost link is neither a failure nor a loss).

use std::collections::BTreeMap;

use vnx::dispatch::queue;
use vnx::dispatch::view;
use vnx::ids::DispatchId;
use vnx::ledger::attest::Attestor;
use vnx::place_name::PlaceName;
use vnx::project::Project;
use vnx::remote::{self, Link, Place};

use crate::cli::CliError;
use crate::cli::util::settings;

/// The link to the place named `place` (a host's name, or a dispatch's container's) for
/// this project.
pub(crate) fn link<'a>(
    project: &'a Project,
    ledger: &'a std::path::Path,
    attestor: &'a Attestor,
    place: &PlaceName,
) -> Result<Link<'a>, CliError> {
    let config = project.load_config()?;
    Ok(Link {
        project,
        ledger,
        attestor,
        place: open(project, &config.hosts, place)?,
    })
}

/// Catches up with every host that runs a live dispatch of this project (among `only`, when
/// given); each host's outcome.
pub(crate) fn catch_up(
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
    let mut by_host: BTreeMap<PlaceName, Vec<DispatchId>> = BTreeMap::new();
    // Only the dispatches on hosts are read closely (not every dispatch's state).
    let attestor = settings::attestor(None).ok();
    let index = vnx::dispatch::fold::index::path_in(&project.data_dir());
    let hosted = view::remote_live(&ledger, attestor.as_ref().map(|a| (index.as_path(), a)));
    for (id, h) in hosted.unwrap_or_default() {
        if everyone || only.is_none_or(|ids| ids.contains(&id)) {
            by_host.entry(h).or_default().push(id);
        }
    }
    // A dispatch given up on with its host is asked after when that host is caught up with
    // anyway, or when it is named: live again if its host still runs it.
    let mut given_up: BTreeMap<PlaceName, Vec<remote::GivenUp>> = BTreeMap::new();
    let indexed = attestor.as_ref().map(|a| (index.as_path(), a));
    for (id, h) in view::remote_given_up(&ledger, indexed).unwrap_or_default() {
        if by_host.contains_key(&h) || only.is_some_and(|ids| ids.contains(&id)) {
            let since = view::remote_lost_at(&ledger, &id).ok().flatten();
            by_host.entry(h.clone()).or_default();
            given_up.entry(h).or_default().push((id, since));
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
        let result = open(project, &config.hosts, &name)
            .map(|place| Link {
                project,
                ledger: &ledger,
                attestor: &attestor,
                place,
            })
            .and_then(|link| {
                let lost = given_up.get(&name).map_or(&[][..], Vec::as_slice);
                remote::catch_up_asking(&link, &ids, lost, wait)
            });
        out.push((name.to_string(), result));
    }
    out
}

/// [`catch_up`] for a reading command: a host out of reach is a warning. A dispatch that
/// ended on its host frees a slot there: the queue is drained again.
pub(crate) fn catch_up_warning(project: &Project, only: Option<&[DispatchId]>) {
    let results = catch_up(project, only, std::time::Duration::ZERO);
    let drain = freed(&results);
    for (host, result) in results {
        if let Ok(c) = &result {
            for id in &c.found {
                super::output::say!(
                    "{id} runs again on host {host}: given up on when the host was out of \
                     reach, it answers again and runs it still"
                );
            }
        }
        if let Err(e) = result {
            CliError::from(e)
                .context(format!(
                    "could not catch up with host {host}; showing what was last known"
                ))
                .warn();
        }
    }
    if drain {
        super::drain::recover_queue_here(None, true);
    }
}

/// Whether a catch-up saw a dispatch end on its host (a slot freed there).
pub(crate) fn freed(results: &[(String, Result<remote::CatchUp, remote::RemoteError>)]) -> bool {
    results.iter().any(|(_, r)| {
        r.as_ref().is_ok_and(|c| {
            !c.lost.is_empty()
                || c.translated
                    .iter()
                    .any(|(_, event)| event == "dispatch_completed")
        })
    })
}

/// The place a remote dispatch runs in, when `id` runs on a host.
pub(crate) fn place_of(
    project: &Project,
    id: &vnx::ids::DispatchId,
) -> Result<Option<Box<dyn Place>>, CliError> {
    let ledger = project.ledger();
    let Some(name) = ledger
        .exists()
        .then(|| view::remote_of(&ledger, id))
        .flatten()
    else {
        return Ok(None);
    };
    let config = project.load_config()?;
    Ok(Some(open(project, &config.hosts, &name)?))
}

/// What this machine gives the places it makes ([`remote::place::Here`]), owned.
pub(crate) struct HereOwned {
    data_dir: std::path::PathBuf,
    home: Option<std::path::PathBuf>,
    key: Option<std::path::PathBuf>,
}

impl HereOwned {
    /// This project's data directory, the user's home and the signing key's path.
    pub(crate) fn of(project: &Project) -> HereOwned {
        HereOwned {
            data_dir: project.data_dir(),
            home: super::settings::home(),
            key: super::settings::key_path(None).ok(),
        }
    }

    /// As the library takes it.
    pub(crate) fn here(&self) -> remote::place::Here<'_> {
        remote::place::Here {
            data_dir: &self.data_dir,
            home: self.home.as_deref(),
            key: self.key.as_deref(),
        }
    }
}

/// The place named `name` among `hosts`, made from this machine (see
/// [`remote::place::Here`]).
pub(crate) fn open(
    project: &Project,
    hosts: &std::collections::BTreeMap<String, vnx::config::HostConfig>,
    name: &PlaceName,
) -> Result<Box<dyn remote::place::Place>, remote::RemoteError> {
    remote::kinds::open(hosts, name, HereOwned::of(project).here())
}

/// The place dispatch `id` runs in on `host`, made from this machine.
pub(crate) fn for_dispatch(
    project: &Project,
    host: &vnx::config::HostConfig,
    id: &vnx::ids::DispatchId,
) -> Result<Box<dyn remote::place::Place>, remote::RemoteError> {
    remote::kinds::for_dispatch(host, id, HereOwned::of(project).here())
}

/// The places this project's hosts hold that vnx made for dispatches with no record here
/// (see `vnx::remote::orphans`), and a note for each host that could not list them; nothing,
/// without asking any engine, when the config names no host that makes a place per dispatch.
pub(crate) fn orphans(
    project: &Project,
    states: &[vnx::dispatch::view::DispatchState],
) -> (Vec<remote::orphans::Found>, Vec<String>) {
    let Ok(config) = project.load_config() else {
        return (Vec::new(), Vec::new());
    };
    if !config.hosts.values().any(remote::kinds::per_dispatch) {
        return (Vec::new(), Vec::new());
    }
    let here = HereOwned::of(project);
    let (found, failed) = remote::orphans::orphans(&config.hosts, here.here(), |place| {
        vnx::dispatch::view::place_left_over(states, place)
    });
    let notes = failed
        .into_iter()
        .map(|(host, e)| {
            format!("note: the places of host `{host}` could not be listed (so none is shown): {e}")
        })
        .collect();
    (found, notes)
}

/// An orphan, in a line: what it is, why no dispatch needs it, and that its work is kept.
pub(crate) fn orphan_line(found: &remote::orphans::Found) -> String {
    let whose = match found.ended {
        None => format!(
            "made for dispatch {}, which has no record here",
            found.dispatch_id
        ),
        Some(status) => format!(
            "made for dispatch {}, whose dispatches there all ended (the last {status})",
            found.dispatch_id
        ),
    };
    format!(
        "{}  {}: {whose}; its work is kept",
        found.host,
        found.objects.join(", ")
    )
}

/// What became of a place vnx tried to remove (`vnx clean --orphans`, `vnx tidy --yes`), in
/// a line.
pub(crate) fn cleared_line(place: &remote::orphans::Cleared) -> String {
    let host = &place.found.host;
    match (&place.removed, &place.error) {
        (Some(remote::orphans::Removed::All), _) => {
            format!("removed {host}: nothing there was work not here")
        }
        (Some(remote::orphans::Removed::RunnerOnly { kept }), _) => match place.found.ended {
            Some(_) => format!(
                "stopped {host}; its storage is kept: {kept} (`vnx accept {}` brings it here)",
                place.found.dispatch_id
            ),
            None => format!(
                "stopped {host}; its storage is kept: {kept} (fetch what you need from it, \
                 then remove it with the engine)"
            ),
        },
        (None, e) => format!(
            "could not remove {host}: {}",
            e.as_deref().unwrap_or("it was not tried")
        ),
    }
}
