//! `vnx pr open ID`: a dispatch's recorded head pushed to the forge and its pull request
//! opened, or the branch's open one updated, then a signed `pr_opened`. Only from a ledger
//! that verifies, only for a dispatch that ended done (or whose work a person accepted), and
//! only the head its completion (or acceptance) recorded. The title is the task's (the first
//! dispatch of a follow-up chain's); the body (written to a private file `gh` reads, never an
//! argv) carries the worker's summary, the gates that passed on that head and the receipt
//! that proves it, and for a dispatch taken from an issue (`issue_taken`, its chain's
//! first's) `Closes #N.`, in vnx's words. A pull request keeps its words: a later head (a
//! follow-up's, `vnx pr fix`, `vnx resume`) is pushed and told in a comment of the same shape,
//! never by replacing the title or the description.
//!
//! Its steps (`steps::pr_open`): pushed, pull request made, receipt. A rerun after a kill
//! pushes the same head again (nothing to do), finds the branch's open pull request, comments
//! once per head (a comment carries a marker naming the dispatch and head), and records the
//! receipt.

use std::path::PathBuf;

use super::history::History;
use super::view::{self, PrState};
use super::{Context, Forge, ForgeError, base_branch, push, text};
use crate::config::Config;
use crate::evidence::Evidence;
use crate::ids::DispatchId;
use crate::merge::conditions;
use crate::receipts::merge::CompletionRef;
use crate::receipts::{PrAction, PrClosed, PrOpened};
use crate::steps;

/// What the caller asks of the pull request.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Open it as a draft (`Some(true)`), ready (`Some(false)`), or as `forge.draft` says.
    pub draft: Option<bool>,
    /// The branch to merge into; `None`: the branch the dispatch started from.
    pub base: Option<String>,
}

/// What the ledger says about a dispatch that a pull request rests on.
pub(super) struct Grounds {
    pub(super) ev: Evidence,
    pub(super) branch: String,
    pub(super) base_ref: String,
    pub(super) head: crate::ids::CommitId,
    pub(super) completion: CompletionRef,
    pub(super) gates_passed: Vec<String>,
    /// The body's lines showing its screenshots, once pushed (`shots`); empty: none.
    pub(super) shots: String,
}

/// The ledger's evidence for dispatch `id`, and vnx's conditions for a pull request (the
/// ledger verifies; the dispatch is done; with `gates`, its required gates passed on its
/// head; a dispatch of `--plan`'s chain follows an approved plan): every condition is
/// checked, and the first that fails refuses.
pub(super) fn grounds(
    ctx: &Context<'_>,
    config: &Config,
    id: &DispatchId,
    what: &'static str,
    extra: &[crate::merge::Condition],
    gates_required: bool,
) -> Result<Grounds, ForgeError> {
    let ev = Evidence::read(ctx.reading.ledger, id, ctx.reading.trusted_keys)?;
    if ev.started.is_none() && ev.unattested_start().is_none() {
        return Err(ForgeError::UnknownDispatch { id: id.clone() });
    }
    let [verifies, extends] = conditions::ledger_conditions(&ctx.reading, id)?;
    let ([done, gates], evidence) = conditions::dispatch_conditions(config, &ev, id);
    let mut all = vec![verifies];
    if gates_required {
        all.push(extends);
    }
    all.push(done);
    if gates_required {
        all.push(gates);
    }
    // A dispatch whose chain planned: its work follows an approved plan (ADR 0092).
    let (ledger, trusted) = (ctx.reading.ledger, ctx.reading.trusted_keys);
    if let Some(approved) = crate::merge::plan::check(ledger, trusted, &ev)? {
        all.push(crate::merge::Condition::of(
            crate::merge::plan::NAME,
            approved,
        ));
    }
    all.extend(extra.iter().cloned());
    let refused = |detail: String| ForgeError::Refused {
        id: id.clone(),
        what,
        detail,
        conditions: all.clone(),
    };
    if let Some(failed) = all.iter().find(|c| !c.ok) {
        return Err(refused(failed.detail.clone()));
    }
    let (Some(started), Some(head)) = (&ev.started, ev.head().cloned()) else {
        let detail = format!("the ledger records no start or no head for {id}");
        return Err(refused(detail));
    };
    let completion = match (&ev.accepted, &ev.completed) {
        (Some(a), _) => a.reference(),
        (None, Some(c)) => c.reference(),
        (None, None) => return Err(refused(format!("dispatch {id} has not completed"))),
    };
    let gates_passed = evidence
        .iter()
        .filter(|g| g.status == "pass")
        .map(|g| g.gate.clone())
        .collect();
    Ok(Grounds {
        branch: started.receipt.branch.clone(),
        base_ref: started.receipt.base_ref.clone(),
        head,
        completion,
        gates_passed,
        ev,
        shots: String::new(),
    })
}

/// The body of a dispatch's pull request (`update`: the comment telling of its new head);
/// `closes`: the issue its chain was taken from, which a new pull request says it closes, in
/// vnx's words (never the worker's, whose summary is quoted inert).
fn body(id: &DispatchId, g: &Grounds, update: bool, closes: Option<u64>) -> String {
    let summary =
        g.ev.completed
            .as_ref()
            .and_then(|c| c.receipt.report.as_ref())
            .and_then(|r| r.summary.as_deref())
            .map_or_else(
                || "(the worker left no summary)".to_owned(),
                |s| {
                    format!(
                        "The worker's summary, as it wrote it:\n\n{}",
                        text::quoted_block(s, 4000)
                    )
                },
            );
    let role = g.ev.role().unwrap_or("-");
    let gates = if g.gates_passed.is_empty() {
        "none (the role requires none, or none has passed yet)".to_owned()
    } else {
        g.gates_passed
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let line = g
        .completion
        .seq
        .map_or_else(|| "?".to_owned(), |s| s.to_string());
    let (marker, opened) = if update {
        let first =
            g.ev.started
                .as_ref()
                .and_then(|s| s.receipt.continues.as_ref())
                .map(|c| format!(", a follow-up of `{}`,", c.first))
                .unwrap_or_default();
        (
            format!("{}\n", update_marker(id, &g.head)),
            format!("Updated by vnx: dispatch `{id}`{first} pushed"),
        )
    } else {
        (String::new(), format!("Opened by vnx for dispatch `{id}`"))
    };
    let closing = closes
        .filter(|_| !update)
        .map(|n| format!("\nCloses #{n}.\n"))
        .unwrap_or_default();
    format!(
        "{marker}{summary}\n\n---\n\n{opened} (role `{role}`), head `{}`.\n\n\
         - Gates passed on this head: {gates}\n\
         - Evidence: the signed completion on ledger line {line} (sha256 `{}`); \
         `vnx audit-chain verify` checks the ledger, `vnx show {id}` shows the dispatch.\n\
         {}{closing}",
        g.head, g.completion.line_sha256, g.shots
    )
}

/// The issue dispatch `id`'s chain was taken from (`vnx run --issue`, the watcher), as the
/// ledger's attested `issue_taken` says: the chain's first dispatch's, else its own.
fn issue_of(ctx: &Context<'_>, id: &DispatchId, g: &Grounds) -> Result<Option<u64>, ForgeError> {
    let intakes = super::intake::Intakes::read(ctx.reading.ledger, ctx.reading.trusted_keys)?;
    let first = (g.ev.started.as_ref())
        .and_then(|s| s.receipt.continues.as_ref())
        .map(|c| c.first.clone());
    Ok([first.as_ref(), Some(id)]
        .into_iter()
        .flatten()
        .find_map(|d| intakes.for_dispatch(d))
        .map(|t| t.issue))
}

/// The first line of the comment telling of dispatch `id`'s head `head`: hidden where the
/// forge renders Markdown, and how a rerun knows it commented already.
fn update_marker(id: &DispatchId, head: &crate::ids::CommitId) -> String {
    format!("<!-- vnx: dispatch {id} head {head} -->")
}

/// The task's title: the one the first dispatch of `g`'s chain was given (a follow-up's own,
/// such as `vnx pr fix`'s "fix pull request #N", names the step, not the task), else
/// `vnx dispatch ID`.
fn task_title(ctx: &Context<'_>, id: &DispatchId, g: &Grounds) -> String {
    let started = g.ev.started.as_ref().map(|s| &s.receipt);
    let first = started
        .and_then(|s| s.continues.as_ref())
        .map(|c| c.first.clone());
    let first_title = first.as_ref().and_then(|f| {
        Evidence::read(ctx.reading.ledger, f, ctx.reading.trusted_keys)
            .ok()?
            .started?
            .receipt
            .title
    });
    first_title
        .or_else(|| started.and_then(|s| s.title.clone()))
        .map_or_else(
            || format!("vnx dispatch {}", first.as_ref().unwrap_or(id)),
            |t| text::line(&t, 200),
        )
}

/// The pull request of dispatch `id` opened or updated, and its `pr_opened` recorded.
pub fn open(
    ctx: &Context<'_>,
    forge: &Forge,
    config: &Config,
    id: &DispatchId,
    request: &Request,
) -> Result<PrOpened, ForgeError> {
    let mut g = grounds(ctx, config, id, "opening the pull request", &[], false)?;
    let history = History::read(ctx.reading.ledger, &g.branch, ctx.reading.trusted_keys)?;
    let gh = &forge.gh;
    // A pull request recorded before and merged or closed on the forge since is recognised
    // first, and its receipt recorded, before anything is pushed.
    let mut seen = None;
    if let Some(last) = history.current() {
        if let Some(m) = history.merged_as(last.number) {
            return Err(ForgeError::AlreadyMerged {
                id: id.clone(),
                number: m.number,
                url: m.url.clone(),
                merge_commit: m.merge_commit.to_string(),
            });
        }
        let pr = view::view(gh, last.number)?;
        match pr.state {
            PrState::Merged => {
                let m = super::merge::record_merged(ctx, forge, last, &pr, false, None)?;
                return Err(ForgeError::AlreadyMerged {
                    id: id.clone(),
                    number: m.number,
                    url: m.url,
                    merge_commit: m.merge_commit.to_string(),
                });
            }
            PrState::Closed => {
                record_closed(ctx, last, &pr, &history)?;
                return Err(ForgeError::Closed {
                    id: id.clone(),
                    number: pr.number,
                    url: pr.url,
                });
            }
            PrState::Open => {}
        }
        seen = Some(pr);
    }
    // A dispatch of `--after` whose dependency has not merged stacks on its branch.
    let stacked = match request.base {
        None => super::stack::parent(ctx, id, &g.ev, &g.base_ref)?,
        Some(_) => None,
    };
    let (remote, root) = (&forge.config.remote, ctx.reading.root);
    let timeout = std::time::Duration::from_secs(forge.config.timeout_seconds);
    if let Some(p) = &stacked {
        push::push(root, remote, &p.head, &p.branch, timeout)?;
    }
    push::push(root, remote, &g.head, &g.branch, timeout)?;
    g.shots = super::shots::push(root, (remote, gh.repo()), &g.ev, (id, &g.head), timeout)?;
    steps::reached(steps::pr_open::PUSHED);
    let base = match &stacked {
        Some(p) => p.branch.clone(),
        None => base_branch(request.base.as_deref(), &g.base_ref),
    };
    let existing = view::open_for_branch(gh, &g.branch)?;
    let (number, url, draft, action, base, body_file) = match existing {
        Some((number, url, draft)) => {
            let pr = match seen.filter(|p| p.number == number) {
                Some(p) => p,
                None => view::view(gh, number)?,
            };
            let n = number.to_string();
            // The pull request keeps its title and description; only a base asked for
            // moves it, or its stack's parent merged.
            let retarget = request.base.is_none()
                && pr.base != base
                && super::stack::is_dependency_branch(ctx, &g.ev, &pr.base)?;
            let (base, action) = match &request.base {
                _ if retarget => {
                    gh.run(["pr", "edit", &n, "--repo", gh.repo(), "--base", &base])?;
                    (base, PrAction::Retargeted)
                }
                Some(_) => {
                    gh.run(["pr", "edit", &n, "--repo", gh.repo(), "--base", &base])?;
                    (base, PrAction::Updated)
                }
                None => (pr.base.clone(), PrAction::Updated),
            };
            // A head it has not been told of yet is told in a comment, once (none when this
            // dispatch opened it and was killed before its receipt).
            let told = history
                .current()
                .is_none_or(|last| last.head_commit == g.head);
            let marker = update_marker(id, &g.head);
            let commented = pr.comments.iter().any(|c| c.body.starts_with(&marker));
            let mut body_file = None;
            if !told && !commented {
                let file = write_body(ctx, id, &body(id, &g, true, None))?;
                let args: Vec<std::ffi::OsString> = ["pr", "comment", &n, "--repo", gh.repo()]
                    .iter()
                    .map(Into::into)
                    .chain(["--body-file".into(), file.as_os_str().to_owned()])
                    .collect();
                gh.run(args)?;
                body_file = Some(file);
            }
            (number, url, draft, action, base, body_file)
        }
        None => {
            let title = task_title(ctx, id, &g);
            let closes = issue_of(ctx, id, &g)?;
            let mut text = body(id, &g, false, closes);
            if let Some(p) = &stacked {
                text.push_str(&super::stack::note(p, id));
            }
            let file = write_body(ctx, id, &text)?;
            let draft = request.draft.unwrap_or(forge.config.draft);
            let mut args: Vec<std::ffi::OsString> = [
                "pr",
                "create",
                "--repo",
                gh.repo(),
                "--head",
                &g.branch,
                "--base",
                &base,
                "--title",
                &title,
            ]
            .iter()
            .map(Into::into)
            .chain(["--body-file".into(), file.as_os_str().to_owned()])
            .collect();
            if draft {
                args.push("--draft".into());
            }
            let answer = gh.run(args)?;
            let url = answer
                .stdout
                .lines()
                .rev()
                .find(|l| l.contains("/pull/"))
                .map(str::trim)
                .unwrap_or_default()
                .to_owned();
            let number = url
                .rsplit('/')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| {
                    let detail = format!("no pull request address in {:?}", text::line(&url, 200));
                    ForgeError::unreadable("gh pr create", detail)
                })?;
            (
                number,
                text::line(&url, 300),
                draft,
                PrAction::Created,
                base,
                Some(file),
            )
        }
    };
    if let Some(file) = body_file {
        let _ = std::fs::remove_file(file);
    }
    steps::reached(steps::pr_open::PR_MADE);
    let receipt = PrOpened {
        dispatch_id: id.clone(),
        number,
        url,
        repo: forge.repo.clone(),
        remote: forge.config.remote.clone(),
        branch: g.branch,
        base,
        head_commit: g.head,
        draft,
        action,
        gates_passed: g.gates_passed,
        completion: g.completion,
        by: ctx.by.map(str::to_owned),
        extra: Default::default(),
    };
    ctx.record(&receipt)?;
    Ok(receipt)
}

/// Writes the body to a private file under `.vnx-data/forge/`.
fn write_body(ctx: &Context<'_>, id: &DispatchId, body: &str) -> Result<PathBuf, ForgeError> {
    let dir = ctx.data_dir.join("forge");
    let io = |path: &std::path::Path, source| ForgeError::Io {
        path: path.to_owned(),
        source,
    };
    crate::files::private_dir(&dir).map_err(|e| io(&dir, e))?;
    let path = dir.join(format!("body-{id}.md"));
    crate::files::write_atomic_private(&path, body.as_bytes(), false).map_err(|e| io(&path, e))?;
    Ok(path)
}

/// Records `pr_closed` for a pull request seen closed, unless it is recorded already.
pub(super) fn record_closed(
    ctx: &Context<'_>,
    opened: &PrOpened,
    pr: &view::PullRequest,
    history: &History,
) -> Result<(), ForgeError> {
    if history.closed_recorded(opened.number) {
        return Ok(());
    }
    let receipt = PrClosed {
        dispatch_id: opened.dispatch_id.clone(),
        number: opened.number,
        url: opened.url.clone(),
        repo: opened.repo.clone(),
        branch: opened.branch.clone(),
        head_commit: crate::ids::CommitId::parse(&pr.head_commit).ok(),
        extra: Default::default(),
    };
    ctx.record(&receipt)?;
    Ok(())
}
