//! The dispatches' states as `status` and `show` read them: through the read index, each
//! proof marked verified or not, a warning said when the ledger does not verify.

use vnx::dispatch::fold::Want;
use vnx::dispatch::view::{self, DispatchState};
use vnx::tmux::Tmux;

use crate::cli::CliError;
use crate::cli::util::settings;

/// What a read of the dispatches gives `status` and `show`.
pub(crate) struct Read {
    /// The states of the dispatches wanted (and maybe others), in start order, each proof
    /// marked verified or not.
    pub(crate) states: Vec<DispatchState>,
    /// How many dispatches the ledger lists in all.
    pub(crate) listed: usize,
    /// Whether any dispatch is a best-of candidate.
    pub(crate) grouped: bool,
    /// The record of the dispatch asked for.
    pub(crate) record: Option<vnx::dispatch::fold::DispatchRecord>,
}

/// The states of the dispatches `want` names (and maybe others), each proof marked
/// verified or not (a warning said when the ledger does not verify), and the record of the
/// one id wanted. Read through the read index (ADR 0045) when it holds.
pub(crate) fn verified_states(
    project: &vnx::project::Project,
    tmux: &Tmux,
    want: Want<'_>,
) -> Result<Read, CliError> {
    use vnx::dispatch::fold::{self, ReadOptions};
    let ledger = project.ledger();
    if !ledger.exists() {
        return Ok(Read {
            states: Vec::new(),
            listed: 0,
            grouped: false,
            record: None,
        });
    }
    let (attestor, trusted) = match settings::attestation(None, &ledger) {
        Ok((a, keys)) => (Some(a), keys),
        Err(_) => (None, Vec::new()),
    };
    let key = settings::key_path(None).ok();
    let witness = settings::witness_dir();
    let index = fold::index::path_in(&project.data_dir());
    let options = ReadOptions {
        index: Some(&index),
        attestor: attestor.as_ref(),
        trusted: &trusted,
        key: key.as_deref(),
        witness_dir: witness.as_deref(),
        threads: settings::threads(None),
        max_violations: 10_000,
        write: true,
    };
    let read = fold::read_verified(&ledger, &options, want)?;
    let grouped = read.any_grouped();
    let listed = read.listed();
    let record = match want {
        Want::Ids([id]) => read.records().get(id).cloned(),
        _ => None,
    };
    let report = read.report.clone();
    // What the verdict rests on: a verification in this read, or the read index.
    let from = view::VerifiedFrom::of_read(read.from_index);
    let mut states = view::into_states_verified(&ledger, read, &view::Sessions::new(tmux))?;
    if !states.is_empty()
        && let Some(report) = &report
    {
        view::mark_verified(&mut states, report, Some(&trusted));
        view::mark_verified_from(&mut states, from);
        if !report.status.is_ok() {
            let line = report.violations.iter().map(|v| v.line).min().unwrap_or(0);
            crate::cli::util::output::say!("{}", unverified_warning(line));
        }
    }
    Ok(Read {
        states,
        listed,
        grouped,
        record,
    })
}

/// What `status` and `show` say when the ledger does not verify.
pub(crate) fn unverified_warning(line: u64) -> String {
    format!(
        "warning: the ledger does not verify from line {line} (see `vnx audit-chain verify`): \
         a done, merged or released it records from there on shows as unverified"
    )
}
