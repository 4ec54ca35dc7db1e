//! What this machine asked a place (a host, a container, a pod) to start, kept with the
//! dispatch's record before the place is asked, and the place's `dispatch_started` checked
//! against it: the role and the gates asked for (and so the gates a merge requires), the
//! provider, the posture, the plan step, the sandbox, the budget and the instruction come
//! from what was asked here, never from the place's words (ADR 0105).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use std::collections::BTreeSet;

use crate::ids::DispatchId;
use crate::ledger::json::{self, Mode, Value};
use crate::mirror::Mirrors;
use crate::receipts::{self, Budget, DispatchStarted, Kind as _, PlanStage};

/// What a remote dispatch was asked to be, as this machine asked it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Asked {
    /// The role (`--agent`); for a follow-up, the role of the dispatch it continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The provider, when it was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The posture its edits run in, when it was named (a planning start runs `ask` and
    /// names this one as its edits' posture).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    /// Whether it was asked to plan first (`--plan`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plan: bool,
    /// The sandbox asked for: `Some(true)` `--sandbox`, `Some(false)` `--no-sandbox`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<bool>,
    /// The budget asked for (`--budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// SHA-256 of the instruction as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction_sha256: Option<String>,
    /// For a follow-up: the dispatch it continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continues: Option<DispatchId>,
    /// The gates asked for beside the role's (`--gate`): a merge requires them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<String>,
}

/// The flags of a remote request that take a value (every other one is a switch).
const VALUED: [&str; 15] = [
    "--agent",
    "--provider",
    "--model",
    "--instruction",
    "--title",
    "--deadline",
    "--permission",
    "--lane",
    "--stall-after",
    "--priority",
    "--start-by",
    "--budget",
    "--skill",
    "--network",
    "--gate",
];

impl Asked {
    /// What the host's `dispatch-agent` (or `follow-up`) arguments `args` ask for; `continues`
    /// names the dispatch a follow-up continues and `role` its role, as recorded here.
    pub fn of_args(args: &[String], continues: Option<(&DispatchId, Option<&str>)>) -> Asked {
        let mut asked = Asked {
            continues: continues.map(|(id, _)| id.clone()),
            role: continues.and_then(|(_, role)| role.map(str::to_owned)),
            ..Asked::default()
        };
        let mut i = 0;
        while i < args.len() {
            let flag = args[i].as_str();
            let value = (VALUED.contains(&flag))
                .then(|| args.get(i + 1).cloned())
                .flatten();
            match (flag, value) {
                ("--agent", Some(v)) => asked.role = Some(v),
                ("--provider", Some(v)) => asked.provider = Some(v),
                ("--permission", Some(v)) => asked.permission = Some(v),
                ("--budget", Some(v)) => asked.budget = parse_budget(&v),
                ("--gate", Some(v)) => asked.gates.push(v),
                ("--instruction", Some(v)) => {
                    asked.instruction_sha256 = Some(hex::encode(Sha256::digest(v.as_bytes())));
                }
                ("--plan", None) => asked.plan = true,
                ("--sandbox", None) => asked.sandbox = Some(true),
                ("--no-sandbox", None) => asked.sandbox = Some(false),
                _ => {}
            }
            i += if VALUED.contains(&flag) { 2 } else { 1 };
        }
        asked
    }

    /// Where the place's start `started` says otherwise than what was asked, in words; `None`
    /// when it holds to all of it.
    pub fn contradicted_by(&self, started: &DispatchStarted) -> Option<String> {
        let differs = |what: &str, asked: &str, told: &str| {
            Some(format!(
                "its dispatch_started for {} says {what} {told:?}, but {asked:?} was asked",
                started.dispatch_id
            ))
        };
        if let Some(role) = self.role.as_deref().filter(|r| *r != started.role) {
            return differs("role", role, &started.role);
        }
        if let Some(p) = self.provider.as_deref().filter(|p| *p != started.provider) {
            return differs("provider", p, &started.provider);
        }
        let planning = (started.plan.as_ref()).filter(|p| p.stage == PlanStage::Planning);
        if self.plan && planning.is_none() {
            return differs("plan step", "planning", "none");
        }
        // A planning start runs `ask`; the posture asked for is its edits'.
        let posture = match planning {
            Some(p) => p.edits_permission.name(),
            None => started.permission.name(),
        };
        if let Some(p) = self.permission.as_deref().filter(|p| *p != posture) {
            return differs("posture", p, posture);
        }
        if self.sandbox == Some(true) && started.sandbox.is_none() {
            return differs("sandbox", "a sandbox", "none");
        }
        if let Some(asked) = &self.budget
            && let Some(told) = looser_budget(asked, started.budget.as_ref())
        {
            return differs("budget", &budget_text(Some(asked)), &told);
        }
        if let Some(gate) = (self.gates.iter()).find(|g| !started.gates.contains(g)) {
            return differs("gates", gate, &started.gates.join(", "));
        }
        if let Some(h) = (self.instruction_sha256.as_deref())
            .filter(|h| !h.eq_ignore_ascii_case(&started.instruction_sha256))
        {
            return differs("instruction_sha256", h, &started.instruction_sha256);
        }
        let continued = started.continues.as_ref().map(|c| &c.dispatch_id);
        if self.continues.as_ref() != continued {
            return differs(
                "continues",
                self.continues
                    .as_ref()
                    .map_or("nothing", DispatchId::as_str),
                continued.map_or("nothing", DispatchId::as_str),
            );
        }
        None
    }
}

/// What makes a place's `dispatch_started` line for dispatch `id` a forgery, in words after
/// "its line N": a second start of one dispatch (`starts`: those whose start the place sent
/// before, kept up to date), or a start that says otherwise than what this machine `asked`.
pub fn start_forgery(
    id: &DispatchId,
    line: &str,
    asked: Option<&Asked>,
    starts: &mut BTreeSet<DispatchId>,
) -> Option<String> {
    if !starts.insert(id.clone()) {
        return Some(format!(
            "starts {id} again: a place's second dispatch_started for one dispatch is a \
             forgery"
        ));
    }
    let asked = asked?;
    let started = match json::parse(line, Mode::Python) {
        Ok(Value::Object(o)) => receipts::read::<DispatchStarted>(&o),
        _ => None,
    };
    match started {
        None => Some(format!(
            "is a dispatch_started for {id} that does not read as one"
        )),
        Some(started) => asked.contradicted_by(&started.receipt),
    }
}

/// The dispatches whose `dispatch_started` place `host` sent before, as mirrored.
pub fn started_there(mirrors: &Mirrors, host: &str) -> BTreeSet<DispatchId> {
    (mirrors.lines.iter())
        .map(|m| &m.receipt)
        .filter(|r| {
            r.host == host && r.remote_event_type.as_deref() == Some(DispatchStarted::EVENT)
        })
        .filter_map(|r| r.dispatch_id.clone())
        .collect()
}

/// `--budget`'s text (`tokens=N,cost=X`) as a budget.
fn parse_budget(text: &str) -> Option<Budget> {
    let mut b = Budget::default();
    for part in text.split(',') {
        match part.split_once('=') {
            Some(("tokens", n)) => b.tokens = Some(n.trim().parse().ok()?),
            Some(("cost", c)) => b.cost_usd = Some(c.trim().parse().ok()?),
            _ => return None,
        }
    }
    Some(b)
}

/// The budget the place recorded, in words, when it lets the worker spend more than `asked`
/// (no budget, or a larger limit).
fn looser_budget(asked: &Budget, told: Option<&Budget>) -> Option<String> {
    let looser = |a: Option<f64>, t: Option<f64>| match (a, t) {
        (Some(_), None) => true,
        (Some(a), Some(t)) => t > a,
        (None, _) => false,
    };
    #[expect(
        clippy::cast_precision_loss,
        reason = "token counts compared, not summed"
    )]
    let tokens = |b: Option<&Budget>| b.and_then(|b| b.tokens).map(|t| t as f64);
    let loose = looser(tokens(Some(asked)), tokens(told))
        || looser(asked.cost_usd, told.and_then(|b| b.cost_usd));
    loose.then(|| budget_text(told))
}

fn budget_text(b: Option<&Budget>) -> String {
    let Some(b) = b else {
        return "none".into();
    };
    let tokens = b.tokens.map(|t| format!("tokens={t}"));
    let cost = b.cost_usd.map(|c| format!("cost={c}"));
    tokens.into_iter().chain(cost).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests;
