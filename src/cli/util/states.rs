//! The dispatches' states as `status` and `show` read them: through the read index, each
//! proof marked verified or not, a warning said when the ledger does not verify.

use vnx::dispatch::fold::Want;
use vnx::dispatch::view::{self, StatesRead};
use vnx::tmux::Tmux;

use crate::cli::CliError;
use crate::cli::util::settings;

/// The states of the dispatches `want` names (and maybe others), each proof marked
/// verified or not (a warning said when the ledger does not verify), and the record of the
/// one id wanted. Read through the read index (ADR 0045) when it holds.
pub(crate) fn verified_states(
    project: &vnx::project::Project,
    tmux: &Tmux,
    want: Want<'_>,
) -> Result<StatesRead, CliError> {
    let ledger = project.ledger();
    if !ledger.exists() {
        return Ok(StatesRead::default());
    }
    let (attestor, trusted) = match settings::attestation(None, &ledger) {
        Ok((a, keys)) => (Some(a), keys),
        Err(_) => (None, Vec::new()),
    };
    let key = settings::key_path(None).ok();
    let witness = settings::witness_dir();
    let index = vnx::dispatch::fold::index::path_in(&project.data_dir());
    let options = vnx::dispatch::fold::ReadOptions {
        index: Some(&index),
        attestor: attestor.as_ref(),
        trusted: &trusted,
        key: key.as_deref(),
        witness_dir: witness.as_deref(),
        threads: settings::threads(None),
        max_violations: 10_000,
        write: true,
    };
    let read = view::read_states(&ledger, &project.data_dir(), &options, want, tmux)?;
    if !read.states.is_empty()
        && let Some(report) = read.report.as_ref().filter(|r| !r.status.is_ok())
    {
        let line = report.violations.iter().map(|v| v.line).min().unwrap_or(0);
        crate::cli::util::output::say!(
            "warning: the ledger does not verify from line {line} (see `vnx audit-chain \
             verify`): a done, merged or released it records from there on shows as unverified"
        );
    }
    Ok(read)
}
