//! One read model per dispatch: a [`DispatchRecord`] holding every fact the ledger records
//! about a dispatch (its queueing, start, live state, completion, correction, loss, landing
//! and receipts), each with the line it rests on, folded in one forward pass over typed
//! receipts. `status`, `show`, `wait`, `cancel`, the dashboard and the MCP server read it.
//!
//! The record and the fold are here; reading the ledger's lines block by block, with their
//! positions, is in `lines`.

mod anchor;
#[cfg(test)]
mod anchor_tests;
mod apply;
mod digest;
pub mod index;
mod lines;
mod partial;
pub mod stamp;
#[cfg(test)]
mod tests;
mod verified;

pub use index::Want;
pub use lines::{CiteReader, LineAt};
pub use verified::{Partial, ReadOptions, Verified, lines_about, read_indexed, read_verified};

use crate::ids::DispatchId;
use crate::place_name::Where;
use std::collections::BTreeMap;
use std::path::Path;

use crate::ledger::LedgerError;
use crate::ledger::json::{Value, object_of_line};
use crate::receipts::{self, DispatchStatus, Kind as _};
use crate::receipts::{DispatchStarted, QueueDecision, QueueVerdict, Typed};

use crate::dispatch::state::{DispatchState, Landed, QueueInfo, State};

/// Where a fact rests on the ledger: one complete line.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    borsh::BorshSerialize,
    borsh::BorshDeserialize,
)]
pub struct Cite {
    /// Its 1-based line number.
    pub line: u64,
    /// The byte offset of its first byte.
    pub offset: u64,
    /// Its length in bytes, without the newline.
    pub len: u32,
}

/// What a dispatch's start records of where it runs.
#[derive(Clone, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct Start {
    /// The `dispatch_started` line (the first: a dispatch starts once, a later one is forged).
    pub cite: Cite,
    /// The tmux socket and session it records, when it has the receipt's shape.
    pub tmux: Option<(String, String)>,
    /// Where it runs.
    pub place: crate::place_name::Where,
    /// Its worktree.
    pub worktree: Option<String>,
    /// Whether it starts a candidate of a best-of group.
    pub grouped: bool,
}

/// How the live state last changed: the last `dispatch_blocked`, `dispatch_resumed`,
/// `dispatch_stalled` or `dispatch_completed` about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub enum LiveMark {
    /// It is blocked since this line.
    Blocked(Cite),
    /// A resume, stall or completion since.
    Cleared(Cite),
}

/// Everything the ledger records about one dispatch.
#[derive(Clone, Debug, PartialEq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct DispatchRecord {
    /// The dispatch id.
    pub id: DispatchId,
    /// Its state as `status` lists it, once it was queued or started (`None` while only
    /// other receipts name it), and the line that proves it.
    pub listed: Option<Listed>,
    /// Its start, once the ledger has one.
    pub start: Option<Start>,
    /// Its last `dispatch_completed` (of whatever shape).
    pub completion: Option<Cite>,
    /// Its last `dispatch_corrected`.
    pub correction: Option<Cite>,
    /// Its first `remote_lost` since it last ran (a `dispatch_resumed` after `lost`, its host
    /// found running it again, clears it).
    pub remote_lost: Option<Cite>,
    /// Whether it is blocked now.
    pub live: Option<LiveMark>,
    /// Its last `queue_decision` that is not `admitted`, with its verdict when it reads as
    /// one.
    #[borsh(
        serialize_with = "crate::dispatch::state::ser_json",
        deserialize_with = "crate::dispatch::state::de_json"
    )]
    pub queue: Option<(Option<QueueVerdict>, Cite)>,
    /// Every receipt about it (its `dispatch_id`), in ledger order.
    pub receipts: Vec<Cite>,
    /// When the last receipt about it was written.
    pub last_activity: Option<String>,
    /// The pull-request receipts of the branch named for it (`dispatch/<id>`), whichever
    /// dispatch of its chain they are about, in ledger order (see [`PrFact`]).
    pub prs: Vec<PrFact>,
}

/// Which pull-request receipt a [`PrFact`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub enum PrEvent {
    /// `pr_opened`.
    Opened,
    /// `pr_merged`.
    Merged,
    /// `pr_closed`.
    Closed,
}

impl PrEvent {
    /// The event of `event_type`, when it is one of the pull-request receipts.
    pub fn of(event_type: &str) -> Option<PrEvent> {
        match event_type {
            receipts::PrOpened::EVENT => Some(PrEvent::Opened),
            receipts::PrMerged::EVENT => Some(PrEvent::Merged),
            receipts::PrClosed::EVENT => Some(PrEvent::Closed),
            _ => None,
        }
    }
}

/// A pull-request receipt as the read index keeps it: what it says of the pull request
/// (its number, address, head and branch) and its line, which a reader reads back and whose
/// signature it judges (a receipt no trusted key signed is no history of the pull request).
/// Kept in the record of the dispatch the branch is named for, so that one record answers
/// for a chain whose follow-ups pushed the same branch.
#[derive(Clone, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct PrFact {
    /// Which receipt.
    pub event: PrEvent,
    /// The pull request's number.
    pub number: u64,
    /// Its address.
    pub url: String,
    /// The head it names (pushed, merged, or seen when closed).
    pub head: Option<String>,
    /// The branch it names.
    pub branch: String,
    /// Its line.
    pub cite: Cite,
}

/// The dispatch a branch is named for (`dispatch/<id>`): whose record keeps the branch's
/// pull-request receipts. `None` for a branch named otherwise.
pub fn branch_owner(branch: &str) -> Option<DispatchId> {
    DispatchId::parse(branch.strip_prefix("dispatch/")?).ok()
}

/// What a pull-request line says of itself, for its branch's record.
fn pr_fact(o: &crate::ledger::json::Object<'_>, event: &str, cite: Cite) -> Option<PrFact> {
    let event = PrEvent::of(event)?;
    let text = |key| o.get(key).and_then(Value::as_str);
    Some(PrFact {
        event,
        number: o.get("number").and_then(Value::as_u64)?,
        url: text("url").unwrap_or_default().to_owned(),
        head: text("head_commit").map(str::to_owned),
        branch: text("branch")?.to_owned(),
        cite,
    })
}

/// A dispatch as `status` lists it.
#[derive(Clone, Debug, PartialEq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct Listed {
    /// Its place in start order.
    pub order: usize,
    /// Its state (liveness, proof and verification not yet decided).
    pub state: DispatchState,
    /// The line that proves its state.
    pub proof: Cite,
}

/// The kind of a line just folded, for a follower (see [`Records::apply`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A `dispatch_completed` (of whatever shape).
    Completed,
    /// A `remote_lost`.
    RemoteLost,
    /// A `dispatch_blocked`.
    Blocked,
    /// A `queue_decision` that closes the dispatch's wait.
    QueueClosed,
    /// Anything else.
    Other,
}

/// Every dispatch's record, folded from the ledger's lines so far.
#[derive(Clone, Debug, Default, PartialEq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct Records {
    /// The records, by id.
    pub by_id: BTreeMap<DispatchId, DispatchRecord>,
    /// How many dispatches are listed (queued or started).
    pub listed: usize,
    /// The first receipt of the kinds dispatches read that is signed: from there on, vnx's
    /// kinds must carry a valid signature.
    pub first_signed: Option<u64>,
    /// Complete lines folded.
    pub lines: u64,
    /// The offset just past the last complete line folded.
    pub offset: u64,
}

impl Records {
    /// Every dispatch on the ledger at `path`, in one forward pass.
    pub fn read(path: &Path) -> Result<Records, LedgerError> {
        let mut r = Records::default();
        r.extend(path)?;
        Ok(r)
    }

    /// The records of the dispatches `ids` only (and of what their receipts name), in one
    /// forward pass that only parses the lines that mention one of them.
    pub fn read_only(path: &Path, ids: &[&str]) -> Result<Records, LedgerError> {
        Records::read_only_from(path, ids, 0, 0)
    }

    /// [`Records::read_only`] from the line after the first `lines` ones, which end at byte
    /// `offset`: the records hold only what those later lines say.
    pub fn read_only_from(
        path: &Path,
        ids: &[&str],
        lines: u64,
        offset: u64,
    ) -> Result<Records, LedgerError> {
        let needles: Vec<&[u8]> = ids.iter().map(|i| i.as_bytes()).collect();
        let mut r = Records {
            lines,
            offset,
            ..Records::default()
        };
        r.fold(path, Some(&needles))?;
        Ok(r)
    }

    /// Folds the lines appended after those already folded. On an error the records are
    /// emptied: what was folded of the new lines is unknown, so they must be read again.
    pub fn extend(&mut self, path: &Path) -> Result<(), LedgerError> {
        let mut next = std::mem::take(self);
        next.fold(path, None)?;
        *self = next;
        Ok(())
    }

    /// Folds the lines after those already folded (only those holding one of `needles`,
    /// when given).
    fn fold(&mut self, path: &Path, needles: Option<&[&[u8]]>) -> Result<(), LedgerError> {
        let mut first_signed = self.first_signed;
        let (lines, offset) = lines::each(
            path,
            self.lines,
            self.offset,
            needles,
            &mut first_signed,
            |l| {
                self.apply(l);
            },
        )?;
        self.lines = lines;
        self.offset = offset;
        self.first_signed = first_signed;
        Ok(())
    }

    /// The record of dispatch `id`.
    pub fn get(&self, id: &DispatchId) -> Option<&DispatchRecord> {
        self.by_id.get(id)
    }

    /// Whether any dispatch started as a candidate of a best-of group.
    pub fn any_grouped(&self) -> bool {
        self.by_id
            .values()
            .any(|r| r.start.as_ref().is_some_and(|s| s.grouped))
    }

    /// The listed dispatches, in start order.
    pub fn listed(&self) -> Vec<&DispatchRecord> {
        let mut out: Vec<&DispatchRecord> =
            self.by_id.values().filter(|r| r.listed.is_some()).collect();
        out.sort_by_key(|r| r.listed.as_ref().map_or(0, |l| l.order));
        out
    }

    /// Every dispatch whose record [`Records::apply`] may change when it folds `line`: the
    /// one it is about and, for a follow-up's start, the dispatch it continues.
    pub fn touched_by(line: &[u8]) -> Vec<DispatchId> {
        let Some(o) = object_of_line(line) else {
            return Vec::new();
        };
        let id = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .and_then(|s| DispatchId::parse(s).ok())
        };
        let mut out: Vec<DispatchId> = id(o.get("dispatch_id")).into_iter().collect();
        // A pull-request receipt: the record of the dispatch its branch is named for.
        if o.get("event_type")
            .and_then(Value::as_str)
            .and_then(PrEvent::of)
            .is_some()
            && !out.is_empty()
        {
            out.extend(
                o.get("branch")
                    .and_then(Value::as_str)
                    .and_then(branch_owner),
            );
        }
        if o.get("event_type").and_then(Value::as_str) == Some(DispatchStarted::EVENT) {
            out.extend(id(o
                .get("continues")
                .and_then(Value::as_object)
                .and_then(|c| c.get("dispatch_id"))));
        }
        out
    }

    /// Folds one line; says which dispatch it was about and what kind it was.
    pub fn apply(&mut self, l: LineAt<'_>) -> Option<(DispatchId, Seen)> {
        let cite = l.cite();
        let o = object_of_line(l.bytes)?;
        let id = DispatchId::parse(o.get("dispatch_id").and_then(Value::as_str)?).ok()?;
        let at = o
            .get("timestamp")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let event = o.get("event_type").and_then(Value::as_str);
        // What a follower and a waiter need, whatever the shape of the line.
        let mut seen = self.note_any(&id, event, &o, at.clone(), cite);
        // A pull-request receipt goes to its branch's record (its own dispatch's, for a
        // branch not named for one).
        if let Some(fact) = event.and_then(|e| pr_fact(&o, e, cite)) {
            let owner = branch_owner(&fact.branch).unwrap_or_else(|| id.clone());
            self.record(&owner).prs.push(fact);
        }
        let typed = Typed::of(&o);
        if !matches!(typed, Typed::Other(_)) {
            self.record(&id).receipts.push(cite);
        }
        if self.apply_typed(&id, typed, event, at, cite) {
            seen = Seen::QueueClosed;
        }
        Some((id, seen))
    }

    /// Lists `id`, refused before it started, as failed for `reason` (a second refusal of
    /// it adds its reason).
    fn refused(
        &mut self,
        id: &DispatchId,
        provider: String,
        reason: String,
        at: Option<String>,
        cite: Cite,
    ) {
        let order = self.listed;
        let r = self.record(id);
        let started = r.start.is_some();
        match &mut r.listed {
            None => {
                let mut s = DispatchState::blank(id.clone(), State::Ended(DispatchStatus::Failed));
                s.provider = Some(provider);
                s.completion = Some(DispatchStatus::Failed);
                s.reason = Some(reason);
                s.ended_at = at;
                r.listed = Some(Listed {
                    order,
                    state: s,
                    proof: cite,
                });
                self.listed += 1;
            }
            Some(l) if !started && l.state.state == State::Ended(DispatchStatus::Failed) => {
                if let Some(said) = &mut l.state.reason {
                    said.push_str("; ");
                    said.push_str(&reason);
                }
            }
            Some(_) => {}
        }
    }

    fn record(&mut self, id: &DispatchId) -> &mut DispatchRecord {
        self.by_id
            .entry(id.clone())
            .or_insert_with(|| DispatchRecord {
                id: id.clone(),
                listed: None,
                start: None,
                completion: None,
                correction: None,
                remote_lost: None,
                live: None,
                queue: None,
                receipts: Vec::new(),
                last_activity: None,
                prs: Vec::new(),
            })
    }

    fn listed_mut(&mut self, id: &DispatchId) -> Option<&mut Listed> {
        self.by_id.get_mut(id)?.listed.as_mut()
    }

    /// The listed state of `id` (only while live, with `live_only`), its proof moved to
    /// `cite`.
    fn state(
        &mut self,
        id: &DispatchId,
        cite: Cite,
        live_only: bool,
    ) -> Option<&mut DispatchState> {
        let l = self.listed_mut(id)?;
        if live_only && !l.state.state.is_live() {
            return None;
        }
        l.proof = cite;
        Some(&mut l.state)
    }

    fn queue_decision(
        &mut self,
        id: &DispatchId,
        q: QueueDecision,
        at: Option<String>,
        cite: Cite,
    ) {
        let order = self.listed;
        let r = self.record(id);
        match (q.decision, &mut r.listed) {
            (QueueVerdict::Queued, None) => {
                r.listed = Some(Listed {
                    order,
                    state: queued(id.clone(), q, at),
                    proof: cite,
                });
                self.listed += 1;
            }
            // A dependency holds it: still queued, and why (`--after`).
            (QueueVerdict::Held, Some(l)) if l.state.state == State::Queued => {
                l.state.held = Some(q.reason.clone());
                l.state.reason = Some(q.reason);
                l.proof = cite;
            }
            (v, Some(l)) if v.closes() && l.state.state == State::Queued => {
                let s = &mut l.state;
                s.state = match v {
                    QueueVerdict::Expired => State::Expired,
                    QueueVerdict::Cancelled => State::Ended(DispatchStatus::Cancelled),
                    _ => State::Ended(DispatchStatus::Failed),
                };
                s.reason = Some(q.reason);
                s.ended_at = at;
                if let Some(info) = &mut s.queue {
                    info.position = None;
                }
                l.proof = cite;
            }
            _ => {}
        }
    }

    fn started(
        &mut self,
        id: &DispatchId,
        started: DispatchStarted,
        at: Option<String>,
        cite: Cite,
    ) {
        // Only the start `note_any` took: the dispatch's first (a later one is forged).
        if self
            .record(id)
            .start
            .as_ref()
            .is_some_and(|s| s.cite != cite)
        {
            return;
        }
        if let Some(c) = &started.continues
            && let Some(before) = self.listed_mut(&c.dispatch_id)
        {
            before.state.continued_by = Some(id.clone());
        }
        let next = self.listed;
        let r = self.record(id);
        r.start = Some(Start {
            cite,
            tmux: started
                .tmux
                .split_once(':')
                .map(|(a, b)| (a.to_owned(), b.to_owned())),
            place: Where::recorded(started.remote.as_ref().map(|r| r.host.as_str())),
            worktree: Some(started.worktree.clone()),
            grouped: started.group.is_some(),
        });
        let order = match &r.listed {
            Some(l) => l.order,
            None => next,
        };
        let fresh = r.listed.is_none();
        r.listed = Some(Listed {
            order,
            state: DispatchState::new(id.clone(), started, at),
            proof: cite,
        });
        if fresh {
            self.listed += 1;
        }
    }
}

/// A dispatch the ledger shows queued (no start yet).
fn queued(id: DispatchId, q: QueueDecision, at: Option<String>) -> DispatchState {
    let mut s = DispatchState::blank(id, State::Queued);
    s.place = Where::recorded(q.host.as_deref());
    s.provider = Some(q.provider);
    s.reason = Some(q.reason);
    s.after = q.after.map(|a| a.on).unwrap_or_default();
    s.queue = Some(QueueInfo {
        position: q.queue_position,
        priority: q.priority,
        start_by: q.start_by,
        capacity: q.capacity,
        queued_at: at,
    });
    s
}

impl DispatchRecord {
    /// Whether the ledger records its start.
    pub fn started(&self) -> bool {
        self.start.is_some()
    }

    /// The `dispatch_blocked` that blocks it now, if one does.
    pub fn blocked_now(&self) -> Option<Cite> {
        match self.live? {
            LiveMark::Blocked(c) => Some(c),
            LiveMark::Cleared(_) => None,
        }
    }

    /// The last `queue_decision` that is not `admitted`, when it reads as one.
    pub fn queue_state(&self) -> Option<(QueueVerdict, Cite)> {
        let (v, c) = self.queue?;
        Some((v?, c))
    }
}
