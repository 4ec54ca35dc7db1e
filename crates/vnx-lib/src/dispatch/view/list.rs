//! Every dispatch's state, projected from the records folded in one forward pass over the
//! ledger (queued, started, blocked, completed, corrected, merged, released), with the tmux
//! sessions that are alive deciding which unfinished ones are lost.

use crate::ids::DispatchId;
use crate::place_name::PlaceName;
use std::collections::BTreeMap;
use std::path::Path;

use crate::dispatch::fold::{
    Cite, CiteReader, DispatchRecord, ReadOptions, Records, Verified, Want,
};
use crate::ledger::attest::Attestor;
use crate::ledger::{LedgerError, VerifyReport};
use crate::tmux::Tmux;

use super::{
    DispatchState, Proof, State, VerifiedFrom, mark_positions, mark_verified, mark_verified_from,
};

/// The tmux sessions alive on each socket dispatches were started on, listed once per
/// socket. A dispatch whose start records no socket is looked for on the fallback. On a
/// socket whose server does not answer, every session counts as alive: its silence is no
/// proof a dispatch was lost. The processes' working directories, which keep a dispatch
/// without a session alive, are likewise read once, when first asked for.
#[derive(Debug)]
pub struct Sessions {
    fallback: String,
    by_socket: std::cell::RefCell<BTreeMap<String, Option<Vec<String>>>>,
    cwds: std::cell::OnceCell<Vec<(u32, std::path::PathBuf)>>,
}

impl Sessions {
    /// Sessions of the sockets dispatches name, `fallback` for those that name none.
    pub fn new(fallback: &Tmux) -> Sessions {
        Sessions {
            fallback: fallback.socket().to_owned(),
            by_socket: Default::default(),
            cwds: std::cell::OnceCell::new(),
        }
    }

    /// Whether `session` lives on `socket` (or the fallback).
    pub fn has(&self, socket: Option<&str>, session: &str) -> bool {
        let socket = socket.unwrap_or(&self.fallback).to_owned();
        let mut cache = self.by_socket.borrow_mut();
        cache
            .entry(socket.clone())
            .or_insert_with(|| Tmux::new(socket).sessions())
            .as_ref()
            .is_none_or(|live| live.iter().any(|s| s == session))
    }

    /// Whether dispatch `id`, whose worktree is `worktree`, lives without its session: its
    /// lock is held or a process works inside its worktree (as `lookup` decides it for one
    /// dispatch, see `liveness`).
    fn alive_without_session(&self, id: &DispatchId, worktree: Option<&str>) -> bool {
        use crate::dispatch::liveness;
        let Some(wt) = worktree.map(Path::new) else {
            return false;
        };
        let Some(dir) = liveness::dispatch_dir_of(wt, id) else {
            return false;
        };
        if liveness::locked(&dir) {
            return true;
        }
        let Ok(wt) = std::fs::canonicalize(wt) else {
            return false;
        };
        self.cwds
            .get_or_init(liveness::process_cwds)
            .iter()
            .any(|(_, cwd)| cwd.starts_with(&wt))
    }
}

/// Every dispatch on the ledger, in start order; each dispatch's session is looked for on
/// the socket its start recorded (`tmux` for one that recorded none).
pub fn list(ledger: &Path, tmux: &Tmux) -> Result<Vec<DispatchState>, LedgerError> {
    list_with(ledger, &Sessions::new(tmux))
}

/// Every dispatch on the ledger, in start order, given the tmux sessions that are alive.
pub fn list_with(ledger: &Path, live: &Sessions) -> Result<Vec<DispatchState>, LedgerError> {
    states_of(ledger, &Records::read(ledger)?, live)
}

/// The dispatches that run on a remote host and have not ended, with their hosts (a remote
/// dispatch's state does not depend on this machine's tmux). Those that started on a host
/// are known from the read index at `index` when it is current, else from the lines that
/// name a host; then only those dispatches' own lines are read closely.
pub fn remote_live(
    ledger: &Path,
    index: Option<(&Path, &Attestor)>,
) -> Result<Vec<(DispatchId, PlaceName)>, LedgerError> {
    // The read index, while the ledger is unchanged since it was written, says which
    // dispatches started on a host.
    let indexed = index.and_then(|(path, attestor)| {
        let opened = crate::dispatch::fold::index::current(path, attestor, ledger)?;
        Some(
            opened
                .entries()
                .filter(|e| e.hosted && e.open)
                .map(|e| e.id.clone())
                .collect::<Vec<DispatchId>>(),
        )
    });
    let hosted;
    let ids: Vec<&str> = match &indexed {
        Some(ids) => ids.iter().map(DispatchId::as_str).collect(),
        None => {
            // A dispatch on a host is started by a receipt re-attested from it, with a
            // `remote` member naming the host.
            hosted = Records::read_only(ledger, &["\"remote\""])?;
            hosted
                .by_id
                .values()
                .filter(|r| r.start.as_ref().is_some_and(|s| !s.place.is_here()))
                .map(|r| r.id.as_str())
                .collect()
        }
    };
    with_hosts(ledger, &ids, |_, s| s.state.is_live())
}

/// Of the dispatches `ids`, those `keep` takes (by their record and state), each with its
/// host (one with none is left out).
fn with_hosts(
    ledger: &Path,
    ids: &[&str],
    keep: impl Fn(&DispatchRecord, &DispatchState) -> bool,
) -> Result<Vec<(DispatchId, PlaceName)>, LedgerError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let records = Records::read_only(ledger, ids)?;
    Ok(records
        .listed()
        .into_iter()
        .filter(|r| ids.contains(&r.id.as_str()))
        .filter_map(|r| {
            let s = &r.listed.as_ref()?.state;
            Some((s.id.clone(), s.place.place()?.clone())).filter(|_| keep(r, s))
        })
        .collect())
}

/// The dispatches given up on with their hosts (`remote_lost`, not found running since), and
/// each one's host: a catch-up with that host asks after them too, so that one its host still
/// runs is live again. The read index, while the ledger is unchanged since it was written,
/// says whether any dispatch ever started on a host: with none, the ledger is not read.
pub fn remote_given_up(
    ledger: &Path,
    index: Option<(&Path, &Attestor)>,
) -> Result<Vec<(DispatchId, PlaceName)>, LedgerError> {
    let none_hosted = index.is_some_and(|(path, attestor)| {
        crate::dispatch::fold::index::current(path, attestor, ledger)
            .is_some_and(|opened| !opened.entries().any(|e| e.hosted))
    });
    if none_hosted {
        return Ok(Vec::new());
    }
    let lost = Records::read_only(ledger, &["\"remote_lost\""])?;
    let ids: Vec<&str> = lost.by_id.keys().map(DispatchId::as_str).collect();
    with_hosts(ledger, &ids, |r, s| {
        r.remote_lost.is_some() && s.state == State::Lost
    })
}

/// The listed dispatches of `records` (folded from `ledger`), in start order, given the
/// tmux sessions that are alive; each one's proof is read back from the ledger.
pub fn states_of(
    ledger: &Path,
    records: &Records,
    live: &Sessions,
) -> Result<Vec<DispatchState>, LedgerError> {
    let listed = records.listed();
    if listed.is_empty() {
        return Ok(Vec::new());
    }
    let reader = CiteReader::open(ledger)?;
    listed
        .into_iter()
        .map(|r| project(&reader, records, r, (live, ledger)))
        .collect()
}

/// What a verified read of the dispatches' states gives.
#[derive(Debug, Default)]
pub struct StatesRead {
    /// The states of the dispatches wanted (and maybe others), in start order, each proof
    /// marked verified or not, and each queued one's position.
    pub states: Vec<DispatchState>,
    /// How many dispatches the ledger lists in all.
    pub listed: usize,
    /// Whether any dispatch is a best-of candidate.
    pub grouped: bool,
    /// The record of the dispatch asked for, when `want` named one id.
    pub record: Option<DispatchRecord>,
    /// The verification (`None` when the ledger could not be verified).
    pub report: Option<VerifyReport>,
}

/// The states of the dispatches `want` names (and maybe others), each proof marked verified
/// or not against `o`'s trusted keys (and what the verdict rests on: a verification in this
/// read, or the read index), each queued one's position from the queue in `data_dir`, and
/// the record of the one id wanted. Read through the read index (ADR 0045) when `o` names
/// one; no ledger, no states.
pub fn read_states(
    ledger: &Path,
    data_dir: &Path,
    o: &ReadOptions<'_>,
    want: Want<'_>,
    tmux: &Tmux,
) -> Result<StatesRead, LedgerError> {
    if !ledger.exists() {
        return Ok(StatesRead::default());
    }
    let read = crate::dispatch::fold::read_verified(ledger, o, want)?;
    let (grouped, listed, report) = (read.any_grouped(), read.listed(), read.report.clone());
    let record = match want {
        Want::Ids([id]) | Want::IdsInPlay([id]) => read.records().get(id).cloned(),
        _ => None,
    };
    let from = VerifiedFrom::of_read(read.from_index);
    let mut states = into_states_verified(ledger, read, &Sessions::new(tmux))?;
    mark_positions(&mut states, &crate::dispatch::queue::places(data_dir));
    if let Some(report) = &report {
        mark_verified(&mut states, report, Some(o.trusted));
        mark_verified_from(&mut states, from);
    }
    Ok(StatesRead {
        states,
        listed,
        grouped,
        record,
        report,
    })
}

/// The listed dispatches of a verified read, in start order, given the tmux sessions that
/// are alive; each one's proof is what its line says of itself (its signature already
/// judged), read back only when the read does not have it.
pub fn into_states_verified(
    ledger: &Path,
    mut v: Verified,
    live: &Sessions,
) -> Result<Vec<DispatchState>, LedgerError> {
    let mut listed: Vec<(usize, Cite, DispatchState)> = std::mem::take(&mut v.stored.records.by_id)
        .into_values()
        .filter_map(|r| r.listed)
        .map(|l| (l.order, l.proof, l.state))
        .collect();
    listed.sort_by_key(|(order, _, _)| *order);
    let listed = listed.into_iter().map(|(_, cite, s)| (cite, s)).collect();
    project_verified(ledger, &v, listed, live)
}

/// Each state marked lost or not and given its proof, from what the read knows of the
/// proving lines (read back only when it does not).
fn project_verified(
    ledger: &Path,
    v: &Verified,
    listed: Vec<(Cite, DispatchState)>,
    live: &Sessions,
) -> Result<Vec<DispatchState>, LedgerError> {
    if listed.is_empty() {
        return Ok(Vec::new());
    }
    let first_signed = v.records().first_signed;
    let facts = v.proofs();
    let mut reader = None;
    let mut out = Vec::with_capacity(listed.len());
    let read_end = v.records().offset;
    for (cite, mut s) in listed {
        lost_unless_alive(&mut s, live, (ledger, read_end));
        s.proof = Some(match facts.get(&cite.line) {
            Some(f) => Proof {
                event_type: f.event_type.clone(),
                line: f.line,
                seq: f.seq,
                line_sha256: hex::encode(f.line_sha256),
                attested: f.attested,
                bytes: Vec::new(),
                // Judged already: `mark_verified` keeps the verdict.
                signing: false,
            },
            None => {
                if reader.is_none() {
                    reader = Some(CiteReader::open(ledger)?);
                }
                let reader = reader.as_ref().expect("opened above");
                let signing = first_signed.is_some_and(|f| f <= cite.line);
                Proof::of(cite.line, reader.read(cite)?, signing)
            }
        });
        s.status = s.shown();
        out.push(s);
    }
    Ok(out)
}

/// Of `states` (every listed dispatch's, or those a partial read decoded, in start order;
/// `listed` dispatches in all), the open ones (unfinished or waiting for a person) and the
/// `n` started last, and how many of the listed ones that leaves out.
pub fn recent(states: Vec<DispatchState>, n: usize, listed: usize) -> (Vec<DispatchState>, usize) {
    let newest = states.len().saturating_sub(n);
    let kept: Vec<DispatchState> = states
        .into_iter()
        .enumerate()
        .filter(|(i, s)| *i >= newest || s.open())
        .map(|(_, s)| s)
        .collect();
    let older = listed.saturating_sub(kept.len());
    (kept, older)
}

/// Marks a live dispatch lost when neither its session nor anything else of it lives. A
/// remote dispatch lives on its host: only a `remote_lost` makes it lost here.
///
/// The ledger was read (up to `read_end`) before the sessions were looked at: a supervisor
/// that appended its dispatch's end meanwhile and then exited took its session with it. So a
/// dispatch is lost only when nothing naming it was appended since the read.
fn lost_unless_alive(s: &mut DispatchState, live: &Sessions, (ledger, read_end): (&Path, u64)) {
    if s.state.is_live()
        && s.place.is_here()
        && !s
            .session
            .as_ref()
            .is_some_and(|n| live.has(s.tmux_socket.as_deref(), n))
        && !live.alive_without_session(&s.id, s.worktree.as_deref())
        && !named_since(ledger, read_end, &s.id)
    {
        s.state = State::Lost;
        s.blocked = None;
        s.background = None;
    }
}

/// The most a read looks through past its end for a dispatch's late lines: what is appended
/// between a read and its look at the sessions is a few lines.
const LATE_BYTES: u64 = 16 << 20;

/// Whether a line appended to `ledger` after byte `read_end` names `id` (more than
/// [`LATE_BYTES`] appended since counts as naming it: a lost dispatch is then found lost by
/// the next read).
fn named_since(ledger: &Path, read_end: u64, id: &DispatchId) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = crate::ledger::open_for_reading(ledger) else {
        return false;
    };
    if file.seek(SeekFrom::Start(read_end)).is_err() {
        return false;
    }
    let mut late = Vec::new();
    match file.take(LATE_BYTES + 1).read_to_end(&mut late) {
        Ok(n) if n as u64 > LATE_BYTES => true,
        Ok(_) => memchr::memmem::find(&late, id.as_str().as_bytes()).is_some(),
        Err(_) => false,
    }
}

/// A record as `status` shows it.
fn project(
    reader: &CiteReader,
    records: &Records,
    r: &DispatchRecord,
    (live, ledger): (&Sessions, &Path),
) -> Result<DispatchState, LedgerError> {
    let Some(l) = &r.listed else {
        return Ok(DispatchState::blank(r.id.clone(), State::Lost));
    };
    let mut s = l.state.clone();
    lost_unless_alive(&mut s, live, (ledger, records.offset));
    let signing = records.first_signed.is_some_and(|f| f <= l.proof.line);
    s.proof = Some(Proof::of(l.proof.line, reader.read(l.proof)?, signing));
    s.status = s.shown();
    Ok(s)
}
