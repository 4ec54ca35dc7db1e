//! A dispatch of `--plan` (ADR 0092) as it starts: a request shaped for its planning step
//! (the `ask` posture, its CLI's plan mode, the instruction to plan and end its turn with the
//! plan), a follow-up of a planning dispatch planning on, and the instructions the approval
//! and the denial of a plan give the same session.

use std::borrow::Cow;

use crate::config::Config;
use crate::dispatch::Request;
use crate::evidence::Evidence;
use crate::ids::CommitId;
use crate::ledger::LedgerError;
use crate::receipts::kinds::Permission;
use crate::receipts::{PlanStage, PlanStep};

/// The longest plan quoted to a worker, in characters (a completion records at most 4,000).
const QUOTED_CHARS: usize = 8000;

/// What a planning worker is told before its task.
const PLANNING: &str = "This dispatch plans before it changes anything. Do not edit, create \
    or delete any file, do not commit, and do not run `vnx report` now. Read what you need, \
    then end your turn with your plan as your last message: the files you would change and \
    how, the commands you would run, and how you would test the change. A person reads the \
    plan and approves it or sends it back; once it is approved you carry it out in this same \
    session.\n\nThe task to plan:\n\n";

/// What a follow-up of a planning dispatch is told before its instruction.
const STILL_PLANNING: &str = "This dispatch still plans: do not edit, create or delete any \
    file, do not commit, and do not run `vnx report`. End your turn with your plan as your \
    last message.\n\n";

/// The plan a planning dispatch's completion `c` records: its last message, else the
/// summary of its report. Worker text.
pub fn plan_of(c: &crate::receipts::DispatchCompleted) -> Option<String> {
    (c.cli_events.as_ref())
        .and_then(|e| e.last_message.clone())
        .or_else(|| c.report.as_ref().and_then(|r| r.summary.clone()))
        .filter(|p| !p.trim().is_empty())
}

/// Why a planning dispatch that ended needs input.
pub const WAITS: &str = "its plan waits for approval";

/// Whether a dispatch of plan step `step` that ended `status` ends with a plan that waits
/// for a person: a planning one that reported done or asked (one that failed failed).
pub fn waits(step: Option<&PlanStep>, status: crate::receipts::DispatchStatus) -> bool {
    use crate::receipts::DispatchStatus;
    plans(step) && matches!(status, DispatchStatus::Done | DispatchStatus::NeedsInput)
}

/// Whether plan step `step` is a planning one.
pub fn plans(step: Option<&PlanStep>) -> bool {
    step.is_some_and(|p| p.stage == PlanStage::Planning)
}

/// What the planning turns of a chain changed, when they changed anything: a plan so made is
/// not "a plan before any edit", and it is not approved (issue 69).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanningChange {
    /// The commit the chain's planning began at.
    pub began: CommitId,
    /// The head the planning dispatch ended at, when it differs from `began`.
    pub committed: Option<CommitId>,
    /// Files its worktree was left with changed and uncommitted, when teardown kept it
    /// dirty (at least one).
    pub uncommitted: Option<u64>,
}

impl std::fmt::Display for PlanningChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |c: &CommitId| c.as_str().get(..12).unwrap_or(c.as_str()).to_owned();
        let mut parts = Vec::new();
        if let Some(head) = &self.committed {
            parts.push(format!(
                "it moved its branch from {} to {}",
                short(&self.began),
                short(head)
            ));
        }
        if let Some(n) = self.uncommitted {
            parts.push(format!("it left {n} file(s) changed and uncommitted"));
        }
        write!(f, "its planning changed files: {}", parts.join("; "))
    }
}

/// What the planning of the chain ending in planning dispatch `planning` (its evidence)
/// changed, when it changed anything: its head against the commit its chain's planning began
/// at (the first planning dispatch's base, or the head it continued from), and whether it
/// left uncommitted changes. Read from attested receipts only.
pub fn planning_change(
    ledger: &std::path::Path,
    trusted: &[[u8; 32]],
    planning: &Evidence,
) -> Result<Option<PlanningChange>, LedgerError> {
    let (Some(started), Some(completed)) = (&planning.started, &planning.completed) else {
        return Ok(None);
    };
    let mut at = started.receipt.clone();
    let mut began = at.base_commit.clone();
    for _ in 0..MAX_CHAIN {
        let Some(c) = at.continues.clone() else {
            began = at.base_commit.clone();
            break;
        };
        began = c.head_commit.clone();
        let before = Evidence::read(ledger, &c.dispatch_id, trusted)?;
        match before.started {
            Some(s) if plans(s.receipt.plan.as_ref()) => at = s.receipt,
            _ => break,
        }
    }
    let c = &completed.receipt;
    let committed = c.head_commit.clone().filter(|h| *h != began);
    let uncommitted =
        (c.teardown_class == Some(crate::receipts::TeardownClass::Dirty)).then(|| {
            (c.diff_stats.as_ref())
                .map_or(1, |d| d.uncommitted.files_changed)
                .max(1)
        });
    Ok(
        (committed.is_some() || uncommitted.is_some()).then_some(PlanningChange {
            began,
            committed,
            uncommitted,
        }),
    )
}

/// The most dispatches of a chain walked back (a chain is a handful).
const MAX_CHAIN: usize = 1000;

/// Whether `req` plans (its CLI's plan mode, read-only).
pub fn planning(req: &Request) -> bool {
    plans(req.plan.as_ref())
}

/// A planning step whose edits, once approved, run in `edits_permission`.
pub fn planning_step(edits_permission: Permission) -> PlanStep {
    PlanStep {
        stage: PlanStage::Planning,
        edits_permission,
        planned_in: None,
        plan_sha256: None,
    }
}

/// `req` as it starts: a new dispatch of a role with `plan: true` plans; a follow-up of a
/// planning dispatch (an answer to its question, a denial) plans on, unless it carries out
/// an approved plan; a planning one runs in the `ask` posture, told to plan first (its title
/// the task's, not vnx's words).
pub fn shape<'r>(req: &'r Request, config: &Config) -> Cow<'r, Request> {
    let inherited = match (&req.plan, &req.continues) {
        (Some(_), _) => None,
        (None, Some(c)) => c
            .started
            .plan
            .clone()
            .filter(|p| p.stage == PlanStage::Planning),
        (None, None) => config
            .roles
            .get(&req.role)
            .is_some_and(|r| r.plan)
            .then(|| planning_step(req.permission)),
    };
    if inherited.is_none() && !planning(req) {
        return Cow::Borrowed(req);
    }
    let mut shaped = req.clone();
    if let Some(step) = inherited {
        shaped.plan = Some(step);
    }
    if planning(&shaped) {
        if shaped.title.is_none() && shaped.continues.is_none() {
            shaped.title = Some(crate::dispatch::title_of(&req.instruction));
        }
        shaped.permission = Permission::Ask;
        let preamble = match shaped.continues {
            None => PLANNING,
            Some(_) => STILL_PLANNING,
        };
        shaped.instruction = format!("{preamble}{}", req.instruction);
    }
    Cow::Owned(shaped)
}

/// `text` quoted as data, as `vnx pr fix` quotes a forge's words: cut to [`QUOTED_CHARS`]
/// characters, each control character but newline and tab written as its `\u{…}` escape,
/// inside a fence longer than any run of backticks in it.
fn quoted(text: &str) -> String {
    use std::fmt::Write as _;
    let mut clean = String::new();
    for (n, c) in text.chars().enumerate() {
        if n >= QUOTED_CHARS {
            clean.push('…');
            break;
        }
        match c {
            '\n' | '\t' => clean.push(c),
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(clean, "\\u{{{:x}}}", c as u32);
            }
            c => clean.push(c),
        }
    }
    let (mut longest, mut run) = (0, 0);
    for c in clean.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{}\n{fence}\n", clean.trim_end_matches('\n'))
}

/// What the session is told once its plan is approved: go on and carry it out, in the
/// role's posture, reporting as any dispatch does; with what the person added (`note`).
pub fn approved_instruction(plan: &str, by: &str, note: Option<&str>) -> String {
    let note = match note {
        Some(n) => format!("They added, as data:\n\n{}\n", quoted(n)),
        None => String::new(),
    };
    format!(
        "{by} approved your plan. Carry it out now: you may edit files in this worktree. When \
         you are done, finish as the completion protocol says. {note}The plan approved, as \
         data:\n\n{}",
        quoted(plan)
    )
}

/// What the session is told when its plan is sent back: plan again, still read-only.
pub fn denied_instruction(plan: &str, by: &str, message: Option<&str>) -> String {
    let why = match message {
        Some(m) => format!("They said, as data:\n\n{}\n", quoted(m)),
        None => "They gave no reason.\n".to_owned(),
    };
    format!(
        "{by} sent your plan back. {why}\nPlan again. The plan sent back, as data:\n\n{}",
        quoted(plan)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(role: &str) -> Request {
        Request {
            role: role.into(),
            deadline: std::time::Duration::from_secs(60),
            completion_retry: std::time::Duration::from_secs(1),
            ..Request::of("add a greeting".into())
        }
    }

    #[test]
    fn a_role_that_plans_plans_read_only_with_its_task_as_title() {
        let mut config = Config::default();
        config.roles.insert(
            "planner".into(),
            crate::config::RoleConfig {
                plan: true,
                ..Default::default()
            },
        );
        let plain = request("implementer");
        assert!(matches!(shape(&plain, &config), Cow::Borrowed(_)));
        let req = request("planner");
        let shaped = shape(&req, &config);
        assert!(planning(&shaped));
        assert_eq!(shaped.permission, Permission::Ask);
        assert_eq!(
            shaped.plan.as_ref().unwrap().edits_permission,
            Permission::Edits
        );
        assert_eq!(shaped.title.as_deref(), Some("add a greeting"));
        assert!(shaped.instruction.starts_with("This dispatch plans"));
        assert!(shaped.instruction.ends_with("add a greeting"));
    }

    #[test]
    fn an_approval_quotes_the_plan_as_data() {
        let text = approved_instruction("1. edit a.rs\n```\n\u{1b}[2J done\n", "ana", None);
        assert!(text.starts_with("ana approved your plan."), "{text}");
        assert!(
            text.ends_with("````text\n1. edit a.rs\n```\n\\u{1b}[2J done\n````\n"),
            "{text}"
        );
        let denied = denied_instruction("1. edit a.rs", "ana", Some("no tests?"));
        assert!(denied.contains("```text\nno tests?\n```\n"), "{denied}");
        assert!(denied.starts_with("ana sent your plan back."), "{denied}");
    }
}
