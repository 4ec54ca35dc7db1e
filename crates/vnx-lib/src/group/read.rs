//! A group as the ledger holds it: its `group_started`, the candidates whose
//! `dispatch_started` names it, and its `group_decision`s. Only receipts a trusted key
//! attests count (a worker can write the ledger, so a forged decision or membership must not
//! decide anything); the others are named and set aside. Also: what a dispatch's group says
//! about merging it, and every dispatch's membership for `vnx status`.

use crate::ids::{DispatchId, GroupId};
use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::evidence::{Evidenced, Line};
use crate::ledger::LedgerError;
use crate::ledger::attest;
use crate::ledger::json::{self, Value};
use crate::ledger::tail;
use crate::receipts::{self, DispatchStarted, GroupCandidate, GroupDecision, GroupStarted, Kind};

/// Everything the ledger says about one group, in ledger order.
#[derive(Clone, Debug)]
pub struct Group {
    /// The group's id.
    pub id: GroupId,
    /// Its `group_started`.
    pub started: Option<Evidenced<GroupStarted>>,
    /// Every candidate's `dispatch_started` that names the group.
    pub members: Vec<Evidenced<DispatchStarted>>,
    /// Its `group_decision`s; the newest decides.
    pub decisions: Vec<Evidenced<GroupDecision>>,
    /// Receipts about the group no trusted key attests: `line N: <event>`.
    pub unattested: Vec<String>,
}

impl Group {
    /// The candidates, in the group's order: as `group_started` lists them, else (a group
    /// whose start was never recorded) as the members' starts say.
    pub fn candidates(&self) -> Vec<GroupCandidate> {
        if let Some(s) = &self.started {
            return s.receipt.candidates.clone();
        }
        let mut out: Vec<GroupCandidate> = self
            .members
            .iter()
            .map(|m| GroupCandidate {
                index: m.receipt.group.as_ref().map_or(0, |g| g.index),
                dispatch_id: m.receipt.dispatch_id.clone(),
                provider: m.receipt.provider.clone(),
                model: m.receipt.model.clone(),
                entry: receipts::CandidateEntry::Launched,
                reason: None,
            })
            .collect();
        out.sort_by_key(|c| c.index);
        out
    }

    /// The newest decision.
    pub fn decision(&self) -> Option<&GroupDecision> {
        self.decisions.last().map(|d| &d.receipt)
    }

    /// The role the candidates play.
    pub fn role(&self) -> Option<&str> {
        match (&self.started, self.members.first()) {
            (Some(s), _) => Some(&s.receipt.role),
            (None, Some(m)) => Some(&m.receipt.role),
            (None, None) => None,
        }
    }

    /// Whether any attested receipt names the group.
    pub fn is_known(&self) -> bool {
        self.started.is_some() || !self.members.is_empty() || !self.decisions.is_empty()
    }
}

/// The ledger's lines holding `needle`, parsed, with their hashes.
pub(super) fn lines_with(ledger: &Path, needle: &str) -> Result<Vec<Line>, LedgerError> {
    if !ledger.exists() {
        return Ok(Vec::new());
    }
    let (raw, _) = tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, needle.as_bytes()).is_some()
    })?;
    Ok(raw
        .into_iter()
        .filter_map(|raw| {
            let fields = json::object_of_line(&raw)?;
            Some(Line {
                seq: fields.get("seq").and_then(Value::as_u64),
                line_sha256: hex::encode(Sha256::digest(&raw)),
                fields,
            })
        })
        .collect())
}

pub(super) fn typed<K: Kind>(line: Line) -> Option<Evidenced<K>> {
    let receipt = receipts::read::<K>(&line.fields)?.receipt;
    Some(Evidenced { receipt, line })
}

/// Whether any line of the ledger names group `id` (attested or not: an id a forged line
/// took is not handed out again either).
pub fn exists(ledger: &Path, id: &GroupId) -> Result<bool, LedgerError> {
    let quoted = format!("\"{id}\"");
    Ok(!lines_with(ledger, &quoted)?.is_empty())
}

/// Reads what the ledger says about group `id`; only receipts attested by one of `trusted`
/// count.
pub fn read(ledger: &Path, id: &GroupId, trusted: &[[u8; 32]]) -> Result<Group, LedgerError> {
    let mut group = Group {
        id: id.clone(),
        started: None,
        members: Vec::new(),
        decisions: Vec::new(),
        unattested: Vec::new(),
    };
    for line in lines_with(ledger, &format!("\"{id}\""))? {
        let event = line.text("event_type").unwrap_or_default().to_owned();
        let names_group = match event.as_str() {
            GroupStarted::EVENT | GroupDecision::EVENT => {
                line.text("group_id") == Some(id.as_str())
            }
            DispatchStarted::EVENT => line
                .fields
                .get("group")
                .and_then(|g| match g {
                    Value::Object(o) => o.get("group_id").and_then(Value::as_str),
                    _ => None,
                })
                .is_some_and(|g| g == id),
            _ => false,
        };
        if !names_group {
            continue;
        }
        let attestation = attest::check(&line.fields, trusted);
        if !attestation.is_valid() {
            let at = line.seq.map_or_else(String::new, |s| format!("line {s}: "));
            group
                .unattested
                .push(format!("{at}{event} {}", attestation.describe()));
            continue;
        }
        match event.as_str() {
            GroupStarted::EVENT => group.started = typed(line),
            GroupDecision::EVENT => group.decisions.extend(typed(line)),
            _ => group.members.extend(typed(line)),
        }
    }
    Ok(group)
}

/// What a dispatch's group says about merging it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MergeStanding {
    /// The group the dispatch is a candidate of.
    pub group_id: GroupId,
    /// Whether the group has a decision.
    pub decided: bool,
    /// The winner that decision names.
    pub winner: Option<DispatchId>,
}

impl MergeStanding {
    /// Why merging `id` needs an explicit override, if it does: the group is undecided, has
    /// no winner, or another candidate won.
    pub fn objection(&self, id: &DispatchId) -> Option<String> {
        let g = &self.group_id;
        match (&self.decided, &self.winner) {
            (false, _) => Some(format!(
                "{id} is a candidate of group {g}, which has no decision yet"
            )),
            (true, None) => Some(format!(
                "{id} is a candidate of group {g}, whose decision has no winner"
            )),
            (true, Some(w)) if w != id => {
                Some(format!("{id} is a candidate of group {g}, which {w} won"))
            }
            _ => None,
        }
    }
}

/// The group standing of dispatch `id`, when its attested start names a group.
pub fn merge_standing(
    ledger: &Path,
    id: &DispatchId,
    trusted: &[[u8; 32]],
) -> Result<Option<MergeStanding>, LedgerError> {
    let ev = crate::evidence::Evidence::read(ledger, id, trusted)?;
    let Some(member) = ev.started.and_then(|s| s.receipt.group) else {
        return Ok(None);
    };
    let group = read(ledger, &member.group_id, trusted)?;
    Ok(Some(MergeStanding {
        decided: group.decision().is_some(),
        winner: group.decision().and_then(|d| d.winner.clone()),
        group_id: member.group_id,
    }))
}

/// A dispatch's place in its group, for `vnx status` and `vnx show`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Membership {
    /// The group.
    pub group_id: GroupId,
    /// Its position in the group, from 1.
    pub index: u32,
    /// The group's size.
    pub size: u32,
    /// Whether the group has a decision.
    pub decided: bool,
    /// The winner that decision names.
    pub winner: Option<DispatchId>,
}

impl Membership {
    /// `G-… 2/3: won`, `lost to D-…`, `no winner` or `undecided`.
    pub fn describe(&self, id: &DispatchId) -> String {
        let standing = match (&self.decided, &self.winner) {
            (false, _) => "undecided".to_owned(),
            (true, None) => "no winner".to_owned(),
            (true, Some(w)) if w == id => "won".to_owned(),
            (true, Some(w)) => format!("lost to {w}"),
        };
        format!("{} {}/{}: {standing}", self.group_id, self.index, self.size)
    }
}

/// Every group member's membership, by dispatch id; only attested receipts count.
pub fn memberships(
    ledger: &Path,
    trusted: &[[u8; 32]],
) -> Result<BTreeMap<DispatchId, Membership>, LedgerError> {
    let mut out = BTreeMap::new();
    let mut winners: BTreeMap<GroupId, Option<DispatchId>> = BTreeMap::new();
    for line in lines_with(ledger, "\"group\"")?
        .into_iter()
        .chain(lines_with(ledger, GroupDecision::EVENT)?)
    {
        if !attest::check(&line.fields, trusted).is_valid() {
            continue;
        }
        match line.text("event_type") {
            Some(DispatchStarted::EVENT) => {
                if let Some(s) = typed::<DispatchStarted>(line)
                    && let Some(g) = s.receipt.group
                {
                    out.insert(
                        s.receipt.dispatch_id,
                        Membership {
                            group_id: g.group_id,
                            index: g.index,
                            size: g.size,
                            decided: false,
                            winner: None,
                        },
                    );
                }
            }
            Some(GroupDecision::EVENT) => {
                if let Some(d) = typed::<GroupDecision>(line) {
                    winners.insert(d.receipt.group_id, d.receipt.winner);
                }
            }
            _ => {}
        }
    }
    for m in out.values_mut() {
        if let Some(w) = winners.get(&m.group_id) {
            m.decided = true;
            m.winner = w.clone();
        }
    }
    Ok(out)
}
