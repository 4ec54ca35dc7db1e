//! Stacked pull requests: the pull request of a dispatch of `--after` whose one dependency
//! has not merged yet is opened on that dependency's branch (pushed at the head the
//! dependent's start recorded, so the forge shows only the dependent's own work) and says
//! so in vnx's words; once the dependency's pull request merged, it is retargeted onto the
//! branch it merges into (a signed `pr_opened` of action `retargeted`); `vnx pr merge ID
//! --stack` merges a stack from its bottom, each pull request behind its own conditions.
//! What the stack is comes only from the ledger: the dependencies a signed start recorded
//! and the signed receipts of their pull requests.

use super::history::History;
use super::{Context, Forge, ForgeError};
use crate::evidence::Evidence;
use crate::ids::{CommitId, DispatchId};
use crate::receipts::{PrAction, PrOpened};

/// The most pull requests a stack holds (a chain is a handful).
const MAX_STACK: usize = 64;

/// The dependency a dispatch's pull request stacks on: one that has not merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parent {
    /// The dependency.
    pub id: DispatchId,
    /// Its branch (`dispatch/<id>`, its chain's first's).
    pub branch: String,
    /// The head of its work the dependent started from.
    pub head: CommitId,
    /// Its pull request, once one was opened: number and address.
    pub pr: Option<(u64, String)>,
}

/// The dependency dispatch `ev`'s pull request stacks on, merging into `base_ref`: the one
/// of the dependencies its (chain's first) start recorded whose head `base_ref` does not hold
/// and whose pull request is not recorded merged; `None` when each merged. Refused when
/// several have not (a pull request has one base): merge them first.
pub fn parent(
    ctx: &Context<'_>,
    id: &DispatchId,
    ev: &Evidence,
    base_ref: &str,
) -> Result<Option<Parent>, ForgeError> {
    let (ledger, trusted) = (ctx.reading.ledger, ctx.reading.trusted_keys);
    let Some(deps) = crate::merge::after::recorded(ledger, trusted, ev)? else {
        return Ok(None);
    };
    let root = ctx.reading.root;
    let mut open = Vec::new();
    for d in &deps.on {
        if crate::merge::after::holds(root, base_ref, &d.head_commit) {
            continue;
        }
        let dep = Evidence::read(ledger, &d.dispatch_id, trusted)?;
        let Some(branch) = dep.started.map(|s| s.receipt.branch) else {
            continue;
        };
        let history = History::read(ledger, &branch, trusted)?;
        let current = history.current();
        if current.is_some_and(|o| history.merged_as(o.number).is_some()) {
            continue;
        }
        open.push(Parent {
            id: d.dispatch_id.clone(),
            branch,
            head: d.head_commit.clone(),
            pr: current.map(|o| (o.number, o.url.clone())),
        });
    }
    match open.len() {
        0 => Ok(None),
        1 => Ok(open.pop()),
        _ => Err(ForgeError::StackedOnSeveral {
            id: id.clone(),
            dependencies: (open.iter())
                .map(|p| p.id.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Whether `branch` is the branch of one of the dependencies dispatch `ev` recorded (a base
/// a stacked pull request of it may still have).
pub fn is_dependency_branch(
    ctx: &Context<'_>,
    ev: &Evidence,
    branch: &str,
) -> Result<bool, ForgeError> {
    let (ledger, trusted) = (ctx.reading.ledger, ctx.reading.trusted_keys);
    let Some(deps) = crate::merge::after::recorded(ledger, trusted, ev)? else {
        return Ok(false);
    };
    for d in &deps.on {
        let dep = Evidence::read(ledger, &d.dispatch_id, trusted)?;
        if dep.started.is_some_and(|s| s.receipt.branch == branch) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The lines a stacked pull request's description adds, in vnx's words.
pub fn note(parent: &Parent, id: &DispatchId) -> String {
    let on = match &parent.pr {
        Some((n, _)) => format!("#{n} (dispatch `{}`)", parent.id),
        None => format!("dispatch `{}`", parent.id),
    };
    format!(
        "\nStacked on {on}: this pull request's base is `{}`, so it shows only this \
         dispatch's work. Merge that first; vnx retargets this one onto its base when it \
         merges (`vnx pr merge {id} --stack` merges the stack in order).\n",
        parent.branch
    )
}

/// Moves pull request `opened`'s base onto `base` (its parent merged) and records it: a
/// signed `pr_opened` of action `retargeted`, naming the new base.
pub fn retarget(
    ctx: &Context<'_>,
    forge: &Forge,
    opened: &PrOpened,
    base: &str,
) -> Result<PrOpened, ForgeError> {
    let gh = &forge.gh;
    let n = opened.number.to_string();
    gh.run(["pr", "edit", &n, "--repo", gh.repo(), "--base", base])?;
    let receipt = PrOpened {
        base: base.to_owned(),
        action: PrAction::Retargeted,
        by: ctx.by.map(str::to_owned),
        ..opened.clone()
    };
    ctx.record(&receipt)?;
    Ok(receipt)
}

/// The stack under dispatch `id`, bottom first, `id` last: each dispatch's parent (see
/// [`parent`]) down to one that stacks on none.
pub fn chain(ctx: &Context<'_>, id: &DispatchId) -> Result<Vec<DispatchId>, ForgeError> {
    let (ledger, trusted) = (ctx.reading.ledger, ctx.reading.trusted_keys);
    let mut out = vec![id.clone()];
    while out.len() < MAX_STACK {
        let at = out.last().expect("the stack holds its top");
        let ev = Evidence::read(ledger, at, trusted)?;
        let Some(base_ref) = ev.started.as_ref().map(|s| s.receipt.base_ref.clone()) else {
            break;
        };
        match parent(ctx, at, &ev, &base_ref)? {
            Some(p) if !out.contains(&p.id) => out.push(p.id),
            _ => break,
        }
    }
    out.reverse();
    Ok(out)
}

/// Merges the stack under dispatch `id` from its bottom (`vnx pr merge ID --stack`): each
/// pull request behind its own conditions, retargeted onto its base once the one below
/// merged; each merge is `told` as it lands. The first refusal stops it, the ones below
/// merged and recorded.
pub fn merge(
    ctx: &Context<'_>,
    forge: &Forge,
    config: &crate::config::Config,
    id: &DispatchId,
    method: Option<crate::receipts::PrMergeMethod>,
    told: &dyn Fn(&super::merge::Merged),
) -> Result<Vec<super::merge::Merged>, ForgeError> {
    let mut done = Vec::new();
    for at in chain(ctx, id)? {
        let merged = super::merge::merge(ctx, forge, config, &at, method)?;
        told(&merged);
        done.push(merged);
    }
    Ok(done)
}

/// Retargets pull request `opened` (its latest `pr_opened`) onto the branch its dispatch
/// merges into when it is still based on a dependency's branch and that dependency merged
/// (`vnx pr watch`'s pass, for a parent a person merged on the forge); `None` when nothing
/// was due.
pub fn retarget_if_parent_merged(
    ctx: &Context<'_>,
    forge: &Forge,
    opened: &PrOpened,
) -> Result<Option<PrOpened>, ForgeError> {
    let (ledger, trusted) = (ctx.reading.ledger, ctx.reading.trusted_keys);
    let id = &opened.dispatch_id;
    let ev = Evidence::read(ledger, id, trusted)?;
    let Some(base_ref) = ev.started.as_ref().map(|s| s.receipt.base_ref.clone()) else {
        return Ok(None);
    };
    let wanted = super::base_branch(None, &base_ref);
    if opened.base == wanted
        || !is_dependency_branch(ctx, &ev, &opened.base)?
        || parent(ctx, id, &ev, &base_ref)?.is_some()
    {
        return Ok(None);
    }
    retarget(ctx, forge, opened, &wanted).map(Some)
}
