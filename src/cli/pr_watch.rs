//! The pull requests `status`, `show` and `wait` show: the shared forge cache read through
//! `vnx::forge::watch` (at most one `gh` call per pull request per `forge.refresh_seconds`,
//! a short timeout, the cached state marked stale when the forge fails).

use std::collections::BTreeMap;
use std::time::Duration;

use vnx::forge::Forge;
use vnx::forge::watch::{self, Mode, PrStatus, ReadOptions};
use vnx::ids::DispatchId;

/// The longest one read of the forge may hold a reader up.
const READ_TIMEOUT: u64 = 15;

/// The mode the flags ask for: `--no-forge` never calls `gh`, `--refresh` reads now.
pub(super) fn mode(no_forge: bool, refresh: bool) -> Mode {
    if no_forge {
        Mode::Cached
    } else if refresh {
        Mode::Refresh
    } else {
        Mode::Auto
    }
}

/// The pull requests of `dispatches` (id, branch) in `project`, by dispatch; empty when the
/// project has no forge or no pull request was opened. Never fails: a forge that cannot be
/// reached shows the cached state, marked stale.
pub(super) fn read(
    project: &vnx::project::Project,
    dispatches: &[(DispatchId, String)],
    mode: Mode,
) -> BTreeMap<DispatchId, PrStatus> {
    let ledger = project.ledger();
    if dispatches.is_empty() || !ledger.exists() {
        return BTreeMap::new();
    }
    let Ok(config) = project.load_config() else {
        return BTreeMap::new();
    };
    let Some(forge_config) = &config.forge else {
        return BTreeMap::new();
    };
    let mut reading = forge_config.clone();
    reading.timeout_seconds = reading.timeout_seconds.min(READ_TIMEOUT);
    let Ok(forge) = Forge::resolve(&project.root, &reading, super::pr::gh_program()) else {
        return BTreeMap::new();
    };
    let refresh = forge_config.refresh_seconds;
    let Ok(setup) = super::pr::Setup::with(project.clone(), Vec::new(), config, forge, ledger)
    else {
        return BTreeMap::new();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    setup.run(|ctx, forge, config| {
        let options = ReadOptions {
            now,
            max_age_secs: refresh,
            mode,
            notify: &config.notify,
        };
        watch::read_dispatches(ctx, forge, dispatches, &options)
    })
}

/// How often the project's pull requests may be read from the forge
/// (`forge.refresh_seconds`); `None` when the project has no `forge:` section.
pub(super) fn refresh_seconds(project: &vnx::project::Project) -> Option<u64> {
    let config = project.load_config().ok()?;
    config.forge.as_ref().map(|f| f.refresh_seconds.max(1))
}

/// The branch of each of `ids` the ledger started (one pass over the lines naming them).
pub(super) fn branches(
    project: &vnx::project::Project,
    ids: &[DispatchId],
) -> Vec<(DispatchId, String)> {
    let ledger = project.ledger();
    if ids.is_empty() || !ledger.exists() {
        return Vec::new();
    }
    let wanted: Vec<&str> = ids.iter().map(DispatchId::as_str).collect();
    let Ok(records) = vnx::dispatch::fold::Records::read_only(&ledger, &wanted) else {
        return Vec::new();
    };
    ids.iter()
        .filter_map(|id| {
            let state = &records.get(id.as_str())?.listed.as_ref()?.state;
            Some((id.clone(), state.branch.clone()?))
        })
        .collect()
}
