//! `vnx pr merge ID`: the pull request of `ID`'s follow-up chain, at the head its latest
//! `pr_opened` pushed (the task's id takes the chain to a later follow-up's head). vnx's own
//! conditions first — the ledger verifies and extends its checkpoint, the dispatch is done,
//! its required gates passed on its recorded head, the pull request is open and its head on
//! the forge is that recorded head, and its checks are green — then the forge's merge
//! through `gh pr merge --match-head-commit` with the method the config names, then a signed
//! `pr_merged` with the merge commit.
//!
//! A pull request found merged on the forge (by a person, or by a `vnx pr merge` killed
//! before its receipt, step `pr_merge:merged`) is recorded as merged, with its merge commit
//! and who merged it; one found closed gets its `pr_closed`. The intent `vnx pr merge` notes
//! before it asks the forge (step `pr_merge:intent_noted`) tells whichever reads the merge
//! first — the rerun, `vnx pr show`, a reader of the forge cache, the watcher's next pass —
//! that vnx merged it (`by_vnx`, with the method it asked for).

use serde::Serialize;

use super::open::{grounds, record_closed};
use super::view::{self, PrState, PullRequest};
use super::{Context, Forge, ForgeError};
use crate::config::Config;
use crate::ids::{CommitId, DispatchId};
use crate::merge::Condition;
use crate::receipts::{PrMergeMethod, PrMerged, PrOpened};
use crate::steps;

/// The conditions `vnx pr merge` adds to a merge's own, in order.
pub const ORDER: [&str; 3] = ["pr_open", "pr_at_recorded_head", "checks_green"];

/// What `vnx pr merge` did.
#[derive(Clone, Debug, Serialize)]
pub struct Merged {
    /// The `pr_merged` receipt.
    pub receipt: PrMerged,
    /// Whether it was recorded before this run (nothing was done).
    pub recorded_before: bool,
    /// Whether this run found it merged on the forge rather than merging it.
    pub found_merged: bool,
}

/// vnx's conditions on the pull request itself.
pub fn pr_conditions(pr: &PullRequest, head: &str, require_checks: bool) -> Vec<Condition> {
    let open = match (pr.state, pr.draft) {
        (PrState::Open, false) => Ok(format!("#{} is open", pr.number)),
        (PrState::Open, true) => Err(format!(
            "#{} is a draft (`gh pr ready {}` marks it ready)",
            pr.number, pr.number
        )),
        (s, _) => Err(format!("#{} is {}", pr.number, s.name())),
    };
    let at_head = if pr.head_commit == head {
        Ok(format!("the forge's head of #{} is {head}", pr.number))
    } else {
        Err(format!(
            "the forge's head of #{} is {}, not the recorded head {head} (pushed by someone \
             else, or a later follow-up's: merge that one)",
            pr.number, pr.head_commit
        ))
    };
    let failing: Vec<&str> = pr
        .checks
        .iter()
        .filter(|c| c.state == view::CheckState::Fail)
        .map(|c| c.name.as_str())
        .collect();
    let pending: Vec<&str> = pr
        .checks
        .iter()
        .filter(|c| c.state == view::CheckState::Pending)
        .map(|c| c.name.as_str())
        .collect();
    let checks = if !failing.is_empty() {
        Err(format!(
            "check(s) failing: {} (`vnx pr fix` hands them to a follow-up)",
            failing.join(", ")
        ))
    } else if !pending.is_empty() {
        Err(format!("check(s) pending: {}", pending.join(", ")))
    } else if pr.checks.is_empty() && require_checks {
        Err(format!(
            "no checks reported on {head} (forge.require_checks: false merges without)"
        ))
    } else if pr.checks.is_empty() {
        Ok("no checks reported, and forge.require_checks is false".into())
    } else {
        Ok(format!("{} check(s) pass", pr.checks.len()))
    };
    vec![
        Condition::of(ORDER[0], open),
        Condition::of(ORDER[1], at_head),
        Condition::of(ORDER[2], checks),
    ]
}

/// Merges the pull request of dispatch `id` (method: `method`, else `forge.merge_method`).
pub fn merge(
    ctx: &Context<'_>,
    forge: &Forge,
    config: &Config,
    id: &DispatchId,
    method: Option<PrMergeMethod>,
) -> Result<Merged, ForgeError> {
    let (ev, history, opened) = super::history::of_dispatch(ctx, id)?;
    if let Some(m) = history.merged_as(opened.number) {
        return Ok(Merged {
            receipt: m.clone(),
            recorded_before: true,
            found_merged: false,
        });
    }
    // The task's id (or an earlier dispatch of its chain) stands for the chain: the pull
    // request's recorded head is the one its latest `pr_opened` pushed, a follow-up's after
    // `vnx pr fix`, as `pr fix` and `pr show` take it.
    let latest = if opened.dispatch_id == *id {
        None
    } else {
        let r = &ctx.reading;
        let l = crate::evidence::Evidence::read(r.ledger, &opened.dispatch_id, r.trusted_keys)?;
        let seq = |e: &crate::evidence::Evidence| e.started.as_ref().and_then(|s| s.seq());
        (seq(&l) > seq(&ev)).then_some(l)
    };
    let (id, ev) = match latest {
        Some(l) => (&opened.dispatch_id, l),
        None => (id, ev),
    };
    let gh = &forge.gh;
    let pr = view::view(gh, opened.number)?;
    let intent = Intent::path(ctx.data_dir, &opened);
    match pr.state {
        PrState::Merged => {
            // Merged by this command's own earlier run, killed before its receipt, when it
            // noted its intent for this head: vnx's merge, with the method it asked for.
            let receipt = record_found_merged(ctx, forge, &opened, &pr)?;
            return Ok(Merged {
                receipt,
                recorded_before: false,
                found_merged: true,
            });
        }
        PrState::Closed => {
            record_closed(ctx, &opened, &pr, &history)?;
            return Err(ForgeError::Closed {
                id: id.clone(),
                number: pr.number,
                url: pr.url,
            });
        }
        PrState::Open => {}
    }
    let head = ev.head().map(ToString::to_string).unwrap_or_default();
    let (pr, stacked) = unstacked(ctx, forge, (id, &ev), &opened, pr)?;
    let mut extra = pr_conditions(&pr, &head, forge.config.require_checks);
    extra.extend(stacked);
    let g = grounds(ctx, config, id, "merging the pull request", &extra, true)?;
    let method = method.unwrap_or(forge.config.merge_method);
    let n = pr.number.to_string();
    let flag = format!("--{}", method.name());
    let head_text = g.head.to_string();
    let args = [
        "pr",
        "merge",
        &n,
        "--repo",
        gh.repo(),
        &flag,
        "--match-head-commit",
        &head_text,
    ];
    Intent {
        head: g.head.to_string(),
        method,
    }
    .write(&intent)?;
    steps::reached(steps::pr_merge::INTENT_NOTED);
    if let Err(e) = gh.run(args) {
        let _ = std::fs::remove_file(&intent);
        return Err(match e {
            ForgeError::Gh { detail, .. } => ForgeError::MergeRefused {
                id: id.clone(),
                number: pr.number,
                detail,
            },
            other => other,
        });
    }
    steps::reached(steps::pr_merge::MERGED);
    let after = view::view(gh, pr.number)?;
    if after.state != PrState::Merged {
        return Err(ForgeError::MergeRefused {
            id: id.clone(),
            number: pr.number,
            detail: format!(
                "gh merged nothing: the pull request is {}",
                after.state.name()
            ),
        });
    }
    let receipt = record_merged(ctx, forge, &opened, &after, true, Some(method))?;
    let _ = std::fs::remove_file(&intent);
    Ok(Merged {
        receipt,
        recorded_before: false,
        found_merged: false,
    })
}

/// A pull request stacked on a dependency's branch (`--after`) merges only into its own
/// base: retargeted there once that dependency merged (and read again); while it has not,
/// the condition that refuses the merge.
fn unstacked(
    ctx: &Context<'_>,
    forge: &Forge,
    (id, ev): (&DispatchId, &crate::evidence::Evidence),
    opened: &PrOpened,
    pr: PullRequest,
) -> Result<(PullRequest, Option<Condition>), ForgeError> {
    let Some(base_ref) = ev.started.as_ref().map(|s| s.receipt.base_ref.clone()) else {
        return Ok((pr, None));
    };
    let wanted = super::base_branch(None, &base_ref);
    if pr.base == wanted || !super::stack::is_dependency_branch(ctx, ev, &pr.base)? {
        return Ok((pr, None));
    }
    if let Some(p) = super::stack::parent(ctx, id, ev, &base_ref)? {
        let why = format!(
            "#{} is stacked on {} ({}), which has not merged: merge it first (`vnx pr merge \
             {id} --stack` merges the stack in order)",
            pr.number, p.branch, p.id
        );
        return Ok((pr, Some(Condition::of(STACK, Err(why)))));
    }
    super::stack::retarget(ctx, forge, opened, &wanted)?;
    let pr = view::view(&forge.gh, opened.number)?;
    let done = format!(
        "#{} was retargeted onto {wanted}: its parent merged",
        pr.number
    );
    Ok((pr, Some(Condition::of(STACK, Ok(done)))))
}

/// The condition a stacked pull request adds: the one it was stacked on merged.
pub const STACK: &str = "stack_parent_merged";

/// What `vnx pr merge` notes before it asks the forge to merge, so that a rerun after a kill
/// between the merge and its receipt records the merge as vnx's (`by_vnx`), with its method.
/// Under `.vnx-data/pr-merges/`, which no sandboxed worker can write; removed once the
/// receipt is on the ledger, or the merge was refused.
#[derive(serde::Serialize, serde::Deserialize)]
struct Intent {
    /// The head commit vnx asked the forge to merge (`--match-head-commit`).
    head: String,
    /// The method it asked for.
    method: PrMergeMethod,
}

impl Intent {
    /// Where the intent to merge the pull request `opened` records is noted: named by the
    /// dispatch whose head it is and the number, as every reader of the merge finds it.
    fn path(data_dir: &std::path::Path, opened: &PrOpened) -> std::path::PathBuf {
        data_dir
            .join("pr-merges")
            .join(format!("{}-{}.json", opened.dispatch_id, opened.number))
    }

    fn write(&self, path: &std::path::Path) -> Result<(), ForgeError> {
        let io = |source| ForgeError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            crate::files::private_dir(dir).map_err(io)?;
        }
        let json = serde_json::to_vec(self).unwrap_or_default();
        // Durable: it must outlive a kill right after the merge it announces.
        crate::files::write_atomic_private(path, &json, true).map_err(io)
    }

    /// The intent noted at `path`, if one is there and reads as one (bounded, no link).
    fn read(path: &std::path::Path) -> Option<Intent> {
        let bytes = crate::files::read_bounded(path, 4096).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// Records `pr_merged` for `pr`, read merged on the forge and not recorded yet: vnx's own
/// merge (`by_vnx`, its method) when `vnx pr merge` noted its intent for the head that was
/// merged (a merge killed before its receipt, step `pr_merge:merged`), else a person's. The
/// intent is forgotten once the receipt is on the ledger.
pub(super) fn record_found_merged(
    ctx: &Context<'_>,
    forge: &Forge,
    opened: &PrOpened,
    pr: &PullRequest,
) -> Result<PrMerged, ForgeError> {
    let intent = Intent::path(ctx.data_dir, opened);
    let ours = Intent::read(&intent).filter(|i| i.head == pr.head_commit);
    let method = ours.as_ref().map(|i| i.method);
    let receipt = record_merged(ctx, forge, opened, pr, ours.is_some(), method)?;
    let _ = std::fs::remove_file(&intent);
    Ok(receipt)
}

/// Records `pr_merged` for `pr`, read merged on the forge.
pub(super) fn record_merged(
    ctx: &Context<'_>,
    forge: &Forge,
    opened: &PrOpened,
    pr: &PullRequest,
    by_vnx: bool,
    method: Option<PrMergeMethod>,
) -> Result<PrMerged, ForgeError> {
    let commit = |c: &str, what: &str| {
        CommitId::parse(c).map_err(|_| {
            let detail = format!("the {what} {c:?} is not a commit id");
            ForgeError::unreadable(format!("gh pr view {}", pr.number), detail)
        })
    };
    let receipt = PrMerged {
        dispatch_id: opened.dispatch_id.clone(),
        number: pr.number,
        url: pr.url.clone(),
        repo: forge.repo.clone(),
        branch: opened.branch.clone(),
        head_commit: commit(&pr.head_commit, "head")?,
        merge_commit: commit(
            pr.merge_commit.as_deref().unwrap_or_default(),
            "merge commit",
        )?,
        base: pr.base.clone(),
        method: method.unwrap_or(PrMergeMethod::Unknown),
        by_vnx,
        merged_by: pr.merged_by.clone(),
        by: ctx.by.map(str::to_owned),
        extra: Default::default(),
    };
    ctx.record(&receipt)?;
    Ok(receipt)
}
