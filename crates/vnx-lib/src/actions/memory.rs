//! The project's memory of each coding CLI and what dispatches propose for it (`vnx
//! memory`): a person reads what a worker wrote to its memory folder, then promotes it (or
//! part of it) to the project's, or drops a lesson from it; each a signed `memory_promoted`.

use super::{ActionError, Desk};
use crate::ids::DispatchId;
use crate::memory::{self, Change};
use crate::receipts::{MemoryFile, MemoryPromoted};

/// What one dispatch's worker wrote to its memory that the project's memory lacks.
#[derive(Clone, Debug)]
pub struct Proposal {
    /// The dispatch.
    pub id: DispatchId,
    /// Its CLI.
    pub provider: String,
    /// The files it proposes, by name.
    pub files: Vec<MemoryFile>,
    /// What its folder holds that was not read (a link, a FIFO, too large, an odd name).
    pub passed_over: Vec<String>,
}

/// The names of the CLIs that keep memory ([`crate::provider::cli::CodingCli::keeps_memory`]).
pub fn clis() -> impl Iterator<Item = &'static str> {
    (crate::provider::cli::CLIS.iter())
        .filter(|c| c.keeps_memory())
        .map(|c| c.name())
}

/// The project's memory of each CLI that has one, in the CLIs' order.
pub fn kept(desk: &Desk<'_>) -> Result<Vec<MemoryPromoted>, ActionError> {
    let mut out = Vec::new();
    for provider in clis() {
        out.extend(memory::promoted(desk.ctx.ledger, desk.trusted, provider)?);
    }
    Ok(out)
}

/// What each dispatch proposes, oldest first; dispatches that propose nothing are left out.
pub fn proposals(desk: &Desk<'_>) -> Result<Vec<Proposal>, ActionError> {
    let kept = kept(desk)?;
    let mut out = Vec::new();
    for state in desk.states()? {
        let Some(provider) = state
            .provider
            .as_deref()
            .filter(|p| clis().any(|c| c == *p))
        else {
            continue;
        };
        let p = read(desk, &state.id, provider, &kept);
        if !p.files.is_empty() || !p.passed_over.is_empty() {
            out.push(p);
        }
    }
    Ok(out)
}

/// What dispatch `id` proposes (nothing, for a CLI that keeps no memory).
pub fn proposal(desk: &Desk<'_>, id: &DispatchId) -> Result<Proposal, ActionError> {
    let states = desk.states()?;
    let state = Desk::named(&states, std::slice::from_ref(id))?[0];
    let provider = state.provider.clone().unwrap_or_default();
    Ok(read(desk, id, &provider, &kept(desk)?))
}

/// Promotes what dispatch `id` proposes (only the files `only` names, when it names any).
pub fn promote(
    desk: &Desk<'_>,
    id: &DispatchId,
    only: &[String],
    note: Option<&str>,
) -> Result<MemoryPromoted, ActionError> {
    let states = desk.states()?;
    let state = Desk::named(&states, std::slice::from_ref(id))?[0];
    let provider = state.provider.as_deref().unwrap_or_default();
    let dir = folder(desk, id, provider);
    Ok(memory::promote(
        &change(desk, provider, note),
        id,
        &dir,
        only,
    )?)
}

/// Drops the file `name` from the project's memory of `provider` (refused for a CLI that
/// keeps no memory vnx manages).
pub fn drop_file(
    desk: &Desk<'_>,
    provider: &str,
    name: &str,
    note: Option<&str>,
) -> Result<MemoryPromoted, ActionError> {
    if !clis().any(|c| c == provider) {
        return Err(memory::MemoryError::NoMemory {
            provider: provider.to_owned(),
            clis: clis().map(str::to_owned).collect(),
        }
        .into());
    }
    Ok(memory::drop_file(&change(desk, provider, note), name)?)
}

fn change<'a>(desk: &'a Desk<'a>, provider: &'a str, note: Option<&'a str>) -> Change<'a> {
    Change {
        ledger: desk.ctx.ledger,
        attestor: desk.ctx.attestor,
        trusted: desk.trusted,
        provider,
        by: desk.by,
        note,
    }
}

fn read(desk: &Desk<'_>, id: &DispatchId, provider: &str, kept: &[MemoryPromoted]) -> Proposal {
    let (written, passed_over) = memory::written(&folder(desk, id, provider));
    let theirs = kept.iter().find(|k| k.provider == provider);
    Proposal {
        id: id.clone(),
        provider: provider.to_owned(),
        files: memory::proposed(written, theirs.map_or(&[][..], |k| &k.files)),
        passed_over,
    }
}

/// The memory folder of dispatch `id` of CLI `provider`.
fn folder(desk: &Desk<'_>, id: &DispatchId, provider: &str) -> std::path::PathBuf {
    let root = &desk.ctx.project.root;
    crate::provider::cli::memory_folder(provider, &crate::dispatch::dir_of(root, id), root)
}
