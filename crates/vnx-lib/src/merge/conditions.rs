//! The conditions of a merge, checked in a fixed order; every one is evaluated so that a
//! refusal can list them all, and the first that fails names the refusal.

use crate::ids::{CommitId, DispatchId};
use std::path::Path;

use serde::Serialize;

use super::{MergeError, Reading};
use crate::config::Config;
use crate::evidence::{self, Evidence};
use crate::ledger::{VerifyOptions, ViolationKind};
use crate::process::{self, Cmd};
use crate::receipts::value::to_value;
use crate::worktree::Repo;

pub use crate::receipts::GateEvidence;

/// The conditions, in the order they are checked and named; a dispatch of `--plan` has
/// [`super::plan::NAME`] after `dispatch_done`.
pub const ORDER: [&str; 7] = [
    "ledger_verifies",
    "checkpoint_extended",
    "dispatch_done",
    "branch_at_recorded_head",
    "gates_passed",
    "base_compatible",
    "main_checkout_ready",
];

/// One condition's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Condition {
    /// Its name (`ledger_verifies`, `dispatch_done`, ...), in the order checked.
    pub name: &'static str,
    /// Whether it holds.
    pub ok: bool,
    /// What was found, in words.
    pub detail: String,
}

/// What the checks found: each condition, and what a merge would use.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The dispatch to merge.
    pub dispatch_id: DispatchId,
    /// Each condition's verdict, in order.
    pub conditions: Vec<Condition>,
    /// The dispatch's role.
    pub role: Option<String>,
    /// The gates its task asked for beside its role's (`--gate`), required as the role's are.
    pub asked_gates: Vec<String>,
    /// The branch to merge, `dispatch/<id>`.
    pub branch: Option<String>,
    /// The commit to merge: the completion's head, or the head a person accepted.
    pub head_commit: Option<CommitId>,
    /// The branch to merge into (`refs/heads/…`).
    pub base_ref: Option<String>,
    /// Where the dispatch started.
    pub base_commit: Option<CommitId>,
    /// The base branch's tip now.
    pub base_tip: Option<CommitId>,
    /// Whether the base branch moved since the dispatch started.
    pub base_moved: bool,
    /// The tree `git merge-tree` expects the merge to have.
    pub merge_tree: Option<String>,
    /// The required gates' evidence.
    pub gates: Vec<GateEvidence>,
    /// The checkpoint the ledger extends.
    pub checkpoint: Option<crate::receipts::merge::CheckpointRef>,
    /// The completion receipt the dispatch ended with.
    pub completion: Option<crate::receipts::merge::CompletionRef>,
    /// The `dispatch_accepted` the head comes from, when a person accepted the work.
    pub acceptance: Option<crate::receipts::merge::CompletionRef>,
}

impl Plan {
    /// The first condition that failed, if any.
    pub fn first_failed(&self) -> Option<&Condition> {
        self.conditions.iter().find(|c| !c.ok)
    }

    /// Adds condition `name` with its outcome.
    fn push(&mut self, name: &'static str, result: Verdict) {
        self.conditions.push(Condition::of(name, result));
    }
}

/// A condition's outcome: what holds, or why not.
type Verdict = Result<String, String>;

impl Condition {
    /// Condition `name` from its outcome: what holds (`Ok`), or why not (`Err`).
    pub fn of(name: &'static str, result: Verdict) -> Condition {
        let ok = result.is_ok();
        let (Ok(detail) | Err(detail)) = result;
        Condition { name, ok, detail }
    }
}

/// Checks every condition for merging dispatch `id`.
pub(super) fn check(
    ctx: &Reading<'_>,
    config: &Config,
    repo: &Repo,
    ev: &Evidence,
    id: &DispatchId,
) -> Result<Plan, MergeError> {
    // A start whose attestation does not hold still names the branch and base (for the
    // report); `dispatch_done` refuses it.
    let (started_branch, base_ref) = match (&ev.started, ev.unattested_start()) {
        (Some(s), _) => (
            Some(s.receipt.branch.clone()),
            Some(s.receipt.base_ref.clone()),
        ),
        (None, Some(line)) => (
            line.text("branch").map(str::to_owned),
            line.text("base_ref").map(str::to_owned),
        ),
        (None, None) => (None, None),
    };
    let mut plan = Plan {
        role: ev.role().map(str::to_owned),
        asked_gates: ev.asked_gates().to_vec(),
        branch: started_branch,
        head_commit: ev.head().cloned(),
        base_ref,
        base_commit: ev.base_commit().cloned(),
        completion: ev.completed.as_ref().map(|c| c.reference()),
        acceptance: ev.accepted.as_ref().map(|a| a.reference()),
        ..empty_plan(id)
    };
    let (verifies, extends) = ledger(ctx, &mut plan)?;
    plan.push(ORDER[0], verifies);
    plan.push(ORDER[1], extends);
    plan.push(ORDER[2], done(ev, id));
    // A dispatch of `--plan` (its chain's): its work follows an approved plan (ADR 0092).
    if let Some(approved) = super::plan::check(ctx.ledger, ctx.trusted_keys, ev)? {
        plan.push(super::plan::NAME, approved);
    }
    // A dispatch of `--after`: its dependencies' work is on the base first.
    let base_ref = plan.base_ref.clone();
    if let Some(held) =
        super::after::check(ctx.ledger, ctx.trusted_keys, repo, ev, base_ref.as_deref())?
    {
        plan.push(super::after::NAME, held);
    }
    // A follow-up works on the branch of its chain's first dispatch.
    let first = ev
        .started
        .as_ref()
        .and_then(|s| s.receipt.continues.as_ref())
        .map_or(id, |c| &c.first);
    plan.push(ORDER[3], branch(repo, &plan, id, first.as_str()));
    let gates = gates(config, ev, &mut plan);
    plan.push(ORDER[4], gates);
    // A role that requires screenshots: their images, as their receipt hashed them.
    if let Some(present) = super::shots::check(config, ev) {
        plan.push(super::shots::NAME, present);
    }
    let base = base(repo, &mut plan, ctx.scratch_objects);
    plan.push(ORDER[5], base);
    plan.push(ORDER[6], checkout(repo, &plan));
    Ok(plan)
}

/// The first two conditions alone, `ledger_verifies` and `checkpoint_extended`, as a merge
/// checks them (what `vnx pr` requires of the ledger before it pushes or merges).
pub fn ledger_conditions(ctx: &Reading<'_>, id: &DispatchId) -> Result<[Condition; 2], MergeError> {
    let mut plan = empty_plan(id);
    let (verifies, extends) = ledger(ctx, &mut plan)?;
    Ok([
        Condition::of(ORDER[0], verifies),
        Condition::of(ORDER[1], extends),
    ])
}

/// `dispatch_done` and `gates_passed` as a merge checks them, with the required gates'
/// evidence for the recorded head (what `vnx pr` requires of the dispatch).
pub fn dispatch_conditions(
    config: &Config,
    ev: &Evidence,
    id: &DispatchId,
) -> ([Condition; 2], Vec<GateEvidence>) {
    let mut plan = empty_plan(id);
    plan.head_commit = ev.head().cloned();
    let done = Condition::of(ORDER[2], done(ev, id));
    let gates = Condition::of(ORDER[4], gates(config, ev, &mut plan));
    ([done, gates], plan.gates)
}

fn empty_plan(id: &DispatchId) -> Plan {
    Plan {
        dispatch_id: id.clone(),
        conditions: Vec::new(),
        role: None,
        asked_gates: Vec::new(),
        branch: None,
        head_commit: None,
        base_ref: None,
        base_commit: None,
        base_tip: None,
        base_moved: false,
        merge_tree: None,
        gates: Vec::new(),
        checkpoint: None,
        completion: None,
        acceptance: None,
    }
}

/// The chain, and the last checkpoint.
fn ledger(ctx: &Reading<'_>, plan: &mut Plan) -> Result<(Verdict, Verdict), MergeError> {
    // The verification `audit-chain verify`, `doctor`, `status` and the git hooks make:
    // the chain, the anchored checkpoints, hosts' segments and merge trailers, so that none
    // of them can disagree with this condition about the same ledger.
    let options = VerifyOptions {
        threads: ctx.threads,
        ..VerifyOptions::default()
    };
    let (report, anchoring) =
        crate::audit::verify_anchored(ctx.ledger, options, ctx.key, ctx.witness_dir)?;
    let is_checkpoint = |k: ViolationKind| {
        matches!(
            k,
            ViolationKind::CheckpointMismatch
                | ViolationKind::CheckpointTruncated
                | ViolationKind::CheckpointInvalid
        )
    };
    let (anchored, chain): (Vec<_>, Vec<_>) = report
        .violations
        .iter()
        .partition(|v| is_checkpoint(v.kind));
    let verifies = if let Some(first) = chain.first() {
        Err(format!(
            "the ledger does not verify ({} violation(s)); first {}",
            chain.len(),
            first.describe()
        ))
    } else if report.status == crate::ledger::ChainStatus::Unchained {
        Err("the ledger is not hash-chained".into())
    } else {
        Ok(format!(
            "{} ({} line(s))",
            report.status.as_str(),
            report.lines
        ))
    };
    let extends = match (anchoring, report.checkpoints.last()) {
        (false, _) => {
            Err("the ledger is outside any git repository, so no checkpoint anchors it".into())
        }
        (true, None) => Err(
            "no checkpoint anchors the ledger, so a cut or rewritten ledger would go unseen".into(),
        ),
        (true, Some(last)) => match anchored.first() {
            Some(v) => Err(format!(
                "the ledger no longer extends its checkpoints; {}",
                v.describe()
            )),
            None if !last.ok => Err(format!(
                "the ledger does not extend its last checkpoint {} at line {}",
                last.id, last.lines
            )),
            None => {
                plan.checkpoint = Some(crate::receipts::merge::CheckpointRef {
                    id: last.id.clone(),
                    lines: last.lines,
                });
                Ok(format!(
                    "extends checkpoint {} at line {} ({} line(s) now)",
                    last.id, last.lines, report.lines
                ))
            }
        },
    };
    Ok((verifies, extends))
}

fn done(ev: &Evidence, id: &DispatchId) -> Result<String, String> {
    // Receipts about the dispatch that vnx did not write are ignored as evidence; their
    // presence alone means something tried to forge it, which a person must look at.
    let unattested = ev.unattested_lines();
    if !unattested.is_empty() {
        return Err(format!(
            "the ledger holds {} receipt(s) about {id} that vnx did not write or that start it again ({}); a worker \
             may have tried to forge its evidence",
            unattested.len(),
            unattested.join("; ")
        ));
    }
    ev.verdict(id).map(|()| match &ev.accepted {
        Some(a) => format!(
            "dispatch {id} ended {} and {} accepted its work at {}",
            a.receipt.previous_status, a.receipt.by, a.receipt.head_commit
        ),
        None => format!("dispatch {id} completed done"),
    })
}

fn tip(repo: &Repo, reference: &str) -> Option<CommitId> {
    let r = git2::Repository::open(&repo.root).ok()?;
    let found = r.find_reference(reference).ok()?;
    Some(CommitId::from(found.peel_to_commit().ok()?.id()))
}

fn branch(repo: &Repo, plan: &Plan, id: &DispatchId, first: &str) -> Result<String, String> {
    let Some(head) = &plan.head_commit else {
        return Err(format!(
            "the completion receipt of {id} records no head commit"
        ));
    };
    let expected = format!("dispatch/{first}");
    let Some(branch) = plan.branch.as_deref().filter(|b| *b == expected) else {
        return Err(format!(
            "the start receipt names branch {:?}, not {expected}",
            plan.branch.as_deref().unwrap_or("")
        ));
    };
    match tip(repo, &format!("refs/heads/{branch}")) {
        None => Err(format!(
            "branch {branch} does not exist (a clean dispatch's branch is removed; a pushed \
             one lives on the remote)"
        )),
        Some(t) if &t == head && plan.acceptance.is_some() => {
            Ok(format!("{branch} is at the accepted head {head}"))
        }
        Some(t) if &t == head => Ok(format!("{branch} is at the recorded head {head}")),
        Some(t) if plan.acceptance.is_some() => Err(format!(
            "branch {branch} is at {t}, not at the head {head} that was accepted (it moved \
             after `vnx accept {id}`: look at the new commits, then accept it again)"
        )),
        Some(t) => Err(format!(
            "branch {branch} is at {t}, not at the head {head} its completion recorded (a \
             follow-up of {id} moves it: merge the latest follow-up)"
        )),
    }
}

fn gates(config: &Config, ev: &Evidence, plan: &mut Plan) -> Result<String, String> {
    let Some(head) = plan.head_commit.clone() else {
        return Err("no recorded head to have gate results for".into());
    };
    let required = crate::gate::required_gates(config, ev.role(), ev.asked_gates())?;
    let id = plan.dispatch_id.clone();
    let mut problems = Vec::new();
    for name in &required {
        let def = &config.gates[name];
        let definition = evidence::sha256_of(&to_value(def));
        let latest = ev.latest_result(name, head.as_str());
        let completed_seq = ev.completed.as_ref().and_then(|c| c.seq());
        let problem = match latest {
            None => Some(format!(
                "gate `{name}` has no result for {head} (`vnx merge {id}` runs it, as \
                 `vnx gate-check {id}` does)"
            )),
            // Gates run on what the worker left, after it ended.
            Some(r) if r.seq().is_none() || r.seq() <= completed_seq => Some(format!(
                "gate `{name}`'s result (line {}) does not come after the dispatch's completion",
                r.seq().map_or("?".into(), |s| s.to_string())
            )),
            Some(r) if r.receipt.status != crate::gate::Status::Pass => Some(format!(
                "gate `{name}`'s latest result is {}: {}",
                r.receipt.status.name(),
                r.receipt.reason.as_deref().unwrap_or("(no reason)")
            )),
            Some(r) if r.receipt.definition_sha256 != definition => Some(format!(
                "gate `{name}`'s pass is stale: its definition in .vnx/config.yaml changed \
                 after run {}",
                r.receipt.run
            )),
            Some(r) => match ev.request_of(r) {
                None => Some(format!(
                    "gate `{name}`'s result names contract {} but no request has it",
                    r.receipt.contract_hash
                )),
                Some(req)
                    if req.line.fields.get("definition").map(evidence::sha256_of)
                        != Some(definition.clone()) =>
                {
                    Some(format!(
                        "gate `{name}`'s pass is stale: it ran under another definition \
                         (run {})",
                        r.receipt.run
                    ))
                }
                Some(req) if !evidence::request_is_consistent(req, &id) => Some(format!(
                    "gate `{name}`'s request does not hash to its contract {}",
                    r.receipt.contract_hash
                )),
                Some(_) => None,
            },
        };
        plan.gates.push(GateEvidence {
            gate: name.clone(),
            status: match (&problem, latest) {
                (None, _) => "pass".into(),
                (Some(_), None) => "missing".into(),
                (Some(_), Some(r)) if r.receipt.status == crate::gate::Status::Pass => {
                    "stale".into()
                }
                (Some(_), Some(r)) => r.receipt.status.name().into(),
            },
            contract_hash: latest.map(|r| r.receipt.contract_hash.clone()),
            run: latest.map(|r| r.receipt.run.clone()),
            result_seq: latest.and_then(|r| r.seq()),
            result_line_sha256: latest.map(|r| r.line.line_sha256.clone()),
        });
        problems.extend(problem);
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(if required.is_empty() {
        "the role requires no gates (`gates: []`)".into()
    } else {
        format!("{} passed for {head}", required.join(", "))
    })
}

/// The required gates of dispatch `id` that have no current pass for its recorded head
/// (none yet, or one under a definition since changed), and the wanted ones never run for
/// it: what `vnx merge` runs itself. Empty
/// when the dispatch did not complete done, its role names no gates, or the ledger holds
/// receipts about it vnx did not write (the merge refuses those whatever the gates say).
pub fn gates_without_a_pass(config: &Config, ev: &Evidence, id: &DispatchId) -> Vec<String> {
    let Some(head) = ev.head() else {
        return Vec::new();
    };
    if ev.verdict(id).is_err() || !ev.unattested_lines().is_empty() {
        return Vec::new();
    }
    let mut plan = Plan {
        head_commit: Some(head.clone()),
        ..empty_plan(id)
    };
    let _ = gates(config, ev, &mut plan);
    let mut out: Vec<String> = (plan.gates.into_iter())
        .filter(|g| matches!(g.status.as_str(), "missing" | "stale"))
        .map(|g| g.gate)
        .collect();
    // A gate only wanted runs once for the head, for what it shows; its result holds nothing.
    let listed = crate::gate::listed_gates(config, ev.role(), ev.asked_gates());
    out.extend(
        listed
            .unwrap_or_default()
            .into_iter()
            .filter(|g| !config.gates[g].required && ev.latest_result(g, head.as_str()).is_none()),
    );
    out
}

fn base(repo: &Repo, plan: &mut Plan, scratch: Option<&Path>) -> Result<String, String> {
    let base_ref = match &plan.base_ref {
        Some(r) if r.starts_with("refs/heads/") => r.clone(),
        Some(r) => {
            return Err(format!(
                "the dispatch started from {r}, which is not a branch"
            ));
        }
        None => return Err("the start receipt records no base branch (base_ref)".into()),
    };
    let Some(tip) = tip(repo, &base_ref) else {
        return Err(format!("the base branch {base_ref} does not exist"));
    };
    plan.base_tip = Some(tip.clone());
    let (Some(head), Some(base)) = (plan.head_commit.clone(), plan.base_commit.clone()) else {
        return Err("no recorded head and base to merge".into());
    };
    let git = || Cmd::git().arg("-C").arg(&repo.root);
    let contained =
        process::run(&git().args(["merge-base", "--is-ancestor", head.as_str(), tip.as_str()]));
    if contained.is_ok_and(|o| o.status.success()) {
        return Err(format!("{base_ref} already contains {head}"));
    }
    plan.base_moved = tip != base;
    let moved = format!("{base_ref} moved from {base} to {tip}");
    match super::form::merge_tree(repo, tip.as_str(), head.as_str(), scratch)? {
        super::form::Formed::Clean(tree) => {
            plan.merge_tree = Some(tree);
            Ok(if plan.base_moved {
                format!("{moved}, and merges without conflicts")
            } else {
                format!("{base_ref} is still at {base}")
            })
        }
        super::form::Formed::Conflict(files) => Err(format!(
            "{moved}, and the merge conflicts in {}",
            files.join(", ")
        )),
    }
}

fn checkout(repo: &Repo, plan: &Plan) -> Result<String, String> {
    let root: &Path = &repo.root;
    let state = repo
        .checkout_state()
        .map_err(|e| format!("could not read the main checkout: {e}"))?;
    let on = repo.branch_ref("HEAD");
    let want = plan.base_ref.clone().unwrap_or_default();
    if state.detached || on.as_deref() != Some(want.as_str()) {
        return Err(format!(
            "the main checkout {} is on {}, not on {want}",
            root.display(),
            on.as_deref().unwrap_or("a detached HEAD")
        ));
    }
    if !state.changed.is_empty() {
        return Err(format!(
            "the main checkout has uncommitted changes to {} tracked file(s): {}",
            state.changed.len(),
            state.changed.join(", ")
        ));
    }
    Ok(format!("the main checkout is on {want} and clean"))
}
