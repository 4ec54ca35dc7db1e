//! The pull requests `status`, `show` and `wait` show: the shared forge cache read through
//! `vnx::forge::watch` (at most one `gh` call per pull request per `forge.refresh_seconds`,
//! a short timeout, the cached state marked stale when the forge fails).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use vnx::forge::watch::{self, Mode, PrStatus, ReadOptions};
use vnx::forge::{Context, Forge};
use vnx::ids::DispatchId;

use super::settings;

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

/// `gh` as the user names it: `$VNX_GH`, else `gh` on PATH.
fn gh_program() -> PathBuf {
    settings::env("VNX_GH")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("gh"), PathBuf::from)
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
    let Ok(forge) = Forge::resolve(&project.root, &reading, gh_program()) else {
        return BTreeMap::new();
    };
    let key = settings::key_path(None).ok();
    let Ok((attestor, trusted)) = settings::attestation(key.clone(), &ledger) else {
        return BTreeMap::new();
    };
    let data = project.data_dir();
    let witness = settings::witness_dir();
    let ctx = Context {
        root: &project.root,
        ledger: &ledger,
        key: key.as_deref(),
        threads: settings::threads(None),
        witness_dir: witness.as_deref(),
        attestor: &attestor,
        trusted_keys: &trusted,
        data_dir: &data,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let options = ReadOptions {
        now,
        max_age_secs: forge_config.refresh_seconds,
        mode,
        notify: &config.notify,
    };
    watch::read_dispatches(&ctx, &forge, dispatches, &options)
}
