//! The pull requests `status`, `show`, `wait`, the dashboard and the web page show: the shared
//! forge cache read through `vnx::forge::watch` (at most one `gh` call per pull request per
//! `forge.refresh_seconds`, a short timeout, the cached state marked stale when the forge
//! fails), with this command's `gh` and keys.

use std::collections::BTreeMap;

use vnx::forge::Forge;
use vnx::forge::watch::{self, Mode, PrStatus};
use vnx::ids::DispatchId;

use crate::cli::util::forge::{Setup, gh_program};

/// The mode the flags ask for: `--no-forge` never calls `gh`, `--refresh` reads now.
pub(crate) fn mode(no_forge: bool, refresh: bool) -> Mode {
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
/// reached shows the cached state, marked stale. The reading is the library's
/// (`forge::watch::read_now`); this resolves what it reads through.
pub(crate) fn read(
    project: &vnx::project::Project,
    dispatches: &[(DispatchId, String)],
    mode: Mode,
) -> BTreeMap<DispatchId, PrStatus> {
    let ledger = project.ledger();
    if dispatches.is_empty() || !ledger.exists() {
        return BTreeMap::new();
    }
    let Some(setup) = reader(project, ledger) else {
        return BTreeMap::new();
    };
    setup.within(|ctx, forge, config| watch::read_now(ctx, forge, config, dispatches, mode))
}

/// What [`read`] reads through: the project's forge as a reader reaches it
/// (`forge::watch::reading`) and this command's keys; `None` without a forge that resolves.
fn reader(project: &vnx::project::Project, ledger: std::path::PathBuf) -> Option<Setup> {
    let config = project.load_config().ok()?;
    let reading = watch::reading(&config)?;
    let forge = Forge::resolve(&project.root, &reading, gh_program()).ok()?;
    Setup::with(project.clone(), Vec::new(), config, forge, ledger).ok()
}

/// How often the project's pull requests may be read from the forge
/// (`forge.refresh_seconds`); `None` when the project has no `forge:` section.
pub(crate) fn refresh_seconds(project: &vnx::project::Project) -> Option<u64> {
    watch::refresh_seconds(&project.load_config().ok()?)
}

/// The branch of each of `ids` the ledger started (the library's `forge::watch::branches`),
/// through the read index when this command's keys authenticate it.
pub(crate) fn branches(
    project: &vnx::project::Project,
    ids: &[DispatchId],
) -> Vec<(DispatchId, String)> {
    use vnx::dispatch::fold::{self, ReadOptions};
    let ledger = project.ledger();
    if ids.is_empty() || !ledger.exists() {
        return Vec::new();
    }
    let attestation = super::settings::attestation(None, &ledger).ok();
    let key = super::settings::key_path(None).ok();
    let witness = super::settings::witness_dir();
    let index = fold::index::path_in(&project.data_dir());
    let options = attestation.as_ref().map(|(attestor, trusted)| ReadOptions {
        index: Some(&index),
        attestor: Some(attestor),
        trusted,
        key: key.as_deref(),
        witness_dir: witness.as_deref(),
        threads: super::settings::threads(None),
        max_violations: 0,
        write: false,
    });
    watch::branches(&ledger, options.as_ref(), ids)
}
