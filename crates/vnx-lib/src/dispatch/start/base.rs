//! Where a dispatch works: a new one on `dispatch/<id>` in a worktree of its own from its
//! base, which is resolved (the default, `HEAD`, only from a clean, attached main checkout,
//! whose state is read on a thread of its own beside the planning); a follow-up where the
//! dispatch it continues worked.

use std::path::PathBuf;

use crate::dispatch::{DispatchError, Request};
use crate::ids::{CommitId, DispatchId};
use crate::worktree::Repo;

/// Starts reading the main checkout's state on a thread of `scope`, when the base is HEAD
/// (a read of the whole checkout, the longest before the worktree is made), on a libgit2
/// handle of its own.
pub(super) fn read_checkout<'scope>(
    repo: &Repo,
    req: &Request,
    scope: &'scope std::thread::Scope<'scope, '_>,
) -> Option<ReadingCheckout<'scope>> {
    (req.continues.is_none() && req.base_ref == "HEAD").then(|| {
        let apart = repo.apart();
        scope.spawn(move || apart.checkout_state())
    })
}

/// Where the dispatch works: a new one on `dispatch/<id>` in its own worktree from its base
/// (the main checkout's state kept when the base is HEAD); a follow-up where the dispatch it
/// continues worked. Its base commit and name, worktree, branch and that state.
pub(super) fn placement(
    repo: &Repo,
    req: &Request,
    id: &DispatchId,
    main_state: Option<ReadingCheckout<'_>>,
) -> Result<
    (
        CommitId,
        String,
        PathBuf,
        String,
        Option<crate::worktree::CheckoutState>,
    ),
    DispatchError,
> {
    Ok(match &req.continues {
        None => {
            let (commit, base_ref, state) = resolve_base(repo, &req.base_ref, main_state)?;
            let worktree = repo.worktrees_dir().join(format!("dispatch-{id}"));
            (commit, base_ref, worktree, format!("dispatch/{id}"), state)
        }
        Some(c) => (
            c.started.base_commit.clone(),
            c.started.base_ref.clone(),
            PathBuf::from(&c.started.worktree),
            c.started.branch.clone(),
            None,
        ),
    })
}

/// The base commit, and the base as recorded: the branch it names (`refs/heads/…`; `vnx
/// merge` merges back into it), else the ref as given. The default base, `HEAD`, is the main
/// checkout as committed: refused when that is not what the dispatcher is looking at (the
/// state read is returned, the "before" of the supervisor's isolation check).
fn resolve_base(
    repo: &Repo,
    base_ref: &str,
    reading: Option<ReadingCheckout<'_>>,
) -> Result<(CommitId, String, Option<crate::worktree::CheckoutState>), DispatchError> {
    let mut read = None;
    if base_ref == "HEAD" {
        let state = match reading {
            Some(r) => r.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            None => repo.checkout_state(),
        }?;
        if state.detached {
            return Err(DispatchError::DetachedBase);
        }
        if !state.changed.is_empty() {
            return Err(DispatchError::DirtyBase {
                count: state.changed.len(),
            });
        }
        read = Some(state);
    }
    let base_commit = repo.resolve(base_ref)?;
    let recorded = repo
        .branch_ref(base_ref)
        .unwrap_or_else(|| base_ref.to_owned());
    Ok((base_commit, recorded, read))
}

/// The main checkout's state, being read on another thread.
pub(super) type ReadingCheckout<'s> = std::thread::ScopedJoinHandle<
    's,
    Result<crate::worktree::CheckoutState, crate::worktree::WorktreeError>,
>;
