//! Releasing preserved dispatches' worktrees and branches (`vnx worktree-release`, the
//! dashboard's `r`), discarding their work (`vnx clean`, `x`) and tidying every settled one
//! (`vnx tidy`, `t`): what is preserved read first ([`Preserved`], [`tidy`]), which a front
//! end shows and may ask about, then carried out, each dispatch recorded by a signed
//! `worktree_released`.

use std::path::PathBuf;

use super::remote::PlaceRemoved;
use super::{ActionError, Desk};
use crate::ids::DispatchId;
use crate::release::tidy::Tidy;
use crate::release::{self, Class, Item, Options, Plan};
use crate::worktree::Repo;

/// The preserved dispatches of the project as they stand now, and what releasing them does.
pub struct Preserved {
    repo: Repo,
    options: Options,
    /// Each preserved dispatch, classified, with what releasing it does.
    pub plan: Plan,
}

impl Preserved {
    /// Reads them: what "landed" is measured against (`base`, a ref of the main checkout),
    /// the remote a pushed branch must be on exactly, and the ledger receipts are read from
    /// and written to.
    pub fn read(
        desk: &Desk<'_>,
        ledger: PathBuf,
        base: &str,
        remote: &str,
    ) -> Result<Preserved, ActionError> {
        let (repo, options) = open(desk, ledger, base, remote)?;
        let plan = release::plan(&repo, &options, desk.ctx.tmux)?;
        Ok(Preserved {
            repo,
            options,
            plan,
        })
    }

    /// Keeps only the dispatches `ids` names (none named: all of them); one named that has
    /// nothing preserved is [`ActionError::NotPreserved`].
    pub fn only(&mut self, ids: &[DispatchId]) -> Result<(), ActionError> {
        self.named(ids)?;
        if !ids.is_empty() {
            self.plan.items.retain(|i| ids.contains(&i.dispatch_id));
        }
        Ok(())
    }

    /// Releases what is landed or pushed, each recorded (the plan then says what was done);
    /// the places vnx made for those dispatches removed with them.
    pub fn release(&mut self, desk: &Desk<'_>) -> Result<Vec<PlaceRemoved>, ActionError> {
        release::apply(&self.repo, &mut self.plan, &self.options, desk.ctx.attestor)?;
        done_places(desk, &self.plan.items)
    }

    /// The dispatches whose work discarding takes: those `ids` names and those of `classes`
    /// (by name), never one that did not start; one named that has nothing preserved is
    /// [`ActionError::NotPreserved`].
    pub fn to_discard(
        &self,
        ids: &[DispatchId],
        classes: &[String],
    ) -> Result<Vec<Item>, ActionError> {
        self.named(ids)?;
        Ok(self
            .plan
            .items
            .iter()
            .filter(|i| i.class != Class::Unstarted)
            .filter(|i| ids.contains(&i.dispatch_id) || classes.iter().any(|c| c == i.class.name()))
            .cloned()
            .collect())
    }

    /// Discards `items`' work (from [`Preserved::to_discard`]), whatever it holds, each
    /// recorded; each item then says what was done. The places vnx made for those
    /// dispatches go with it.
    pub fn discard(
        &self,
        desk: &Desk<'_>,
        items: &mut [Item],
    ) -> Result<Vec<PlaceRemoved>, ActionError> {
        release::discard(&self.repo, items, &self.options, desk.ctx.attestor)?;
        done_places(desk, items)
    }

    /// Refuses a dispatch named that has nothing preserved.
    fn named(&self, ids: &[DispatchId]) -> Result<(), ActionError> {
        match ids
            .iter()
            .find(|id| !self.plan.items.iter().any(|i| i.dispatch_id == **id))
        {
            Some(id) => Err(ActionError::NotPreserved { id: id.clone() }),
            None => Ok(()),
        }
    }
}

/// The tidy pass over every preserved dispatch, each read with its follow-up chain's latest
/// state (`release::tidy`), measured against `base` and `remote`, and over the places vnx
/// made that no dispatch needs any more (a cancelled dispatch's volume); with `apply`, what it
/// releases released and those places removed (unlanded work is kept, and says so).
pub fn tidy(desk: &Desk<'_>, base: &str, remote: &str, apply: bool) -> Result<Tidy, ActionError> {
    let (repo, options) = open(desk, desk.ctx.ledger.to_owned(), base, remote)?;
    let mut found = release::tidy::plan(&repo, &options, desk.ctx.tmux)?;
    if apply {
        release::tidy::apply(&repo, &mut found, &options, desk.ctx.attestor)?;
    }
    (found.places, found.unlisted) = super::remote::left_places(desk, apply)?;
    Ok(found)
}

/// The places vnx made for the dispatches of `items` that were released or discarded,
/// removed.
fn done_places(desk: &Desk<'_>, items: &[Item]) -> Result<Vec<PlaceRemoved>, ActionError> {
    let done = items
        .iter()
        .filter(|i| (i.done.as_ref()).is_some_and(|d| d.skipped.is_none() && d.error.is_none()));
    super::remote::remove_places(desk, done.map(|i| &i.dispatch_id))
}

/// The project's repository, and what "landed" and "pushed" are measured against.
fn open(
    desk: &Desk<'_>,
    ledger: PathBuf,
    base: &str,
    remote: &str,
) -> Result<(Repo, Options), ActionError> {
    let repo = Repo::for_project(desk.ctx.project).map_err(release::ReleaseError::from)?;
    let options = Options {
        base: base.to_owned(),
        remote: remote.to_owned(),
        ledger,
        trusted_keys: desk.trusted.to_vec(),
    };
    Ok((repo, options))
}

/// The line that says what became of one item once released or discarded (`did`: what was
/// done to it, `released`, `discarded`); one left alone is kept, and says why.
pub fn done_line(item: &Item, did: &str) -> String {
    let Some(done) = &item.done else {
        return format!("kept: {}", item.reason);
    };
    match (&done.skipped, &done.error) {
        (Some(why), _) => format!("kept: {why}"),
        (None, Some(e)) => format!("failed: {e}"),
        (None, None) => format!(
            "{did} (receipt line {})",
            done.receipt_seq
                .map_or_else(|| "-".into(), |n| n.to_string())
        ),
    }
}
