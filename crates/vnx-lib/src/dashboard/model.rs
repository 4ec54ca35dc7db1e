//! What the dashboard shows, read from the ledger, tmux and the dispatch directories: every
//! dispatch in the order a person acts on them, its last line of activity, and whether the
//! ledger verifies.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::dispatch::detail::{self, Detail};
use crate::dispatch::view::{self, DispatchState, Sessions, State};
use crate::ledger::{LedgerError, VerifyReport};
use crate::provider::transcript;
use crate::tmux::Tmux;

/// One dispatch as a row of the list.
#[derive(Clone, Debug)]
pub struct Row {
    /// Its state, proof and all (see [`view::list`]).
    pub state: DispatchState,
    /// Its last line of activity: the pane's last line while it runs, else why it ended or
    /// its log's last line; control characters removed.
    pub activity: String,
    /// The files it changed that another running or unmerged dispatch changed too, in a
    /// line (the conflict radar's, `radar::Radar::line`), control characters removed.
    pub overlaps: Option<String>,
}

impl Row {
    /// Which group it sorts into: 0 waits for a person (blocked, stalled, needs input or
    /// lost, and not settled since: [`DispatchState::waiting`]), 1 runs or is queued for a
    /// slot, 2 finished (expired in the queue, and settled lost ones, included).
    pub fn group(&self) -> u8 {
        match self.state.state {
            _ if self.state.waiting() => 0,
            State::Running | State::Queued => 1,
            _ => 2,
        }
    }
}

/// How the ledger stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// No ledger yet.
    Missing,
    /// It verifies (lines read).
    Verified(u64),
    /// It does not, from this line on.
    Broken {
        /// The first violation's line.
        line: u64,
        /// What is wrong there.
        detail: String,
    },
    /// Not checked (the caller could not run a verification).
    Unchecked,
}

/// Everything the dashboard shows at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The dispatches, waiting ones first, then running, then finished; newest first in
    /// each group.
    pub rows: Vec<Row>,
    /// How the ledger stands.
    pub health: Health,
    /// When this was read (ages are measured from it).
    pub now: jiff::Timestamp,
    /// Dispatches that ended before the ones listed, not listed.
    pub older: usize,
}

/// Where the dashboard reads from.
#[derive(Clone, Debug)]
pub struct Sources {
    /// The main checkout's root.
    pub root: PathBuf,
    /// The ledger.
    pub ledger: PathBuf,
    /// The tmux server dispatches start on when their start records none.
    pub tmux: Tmux,
}

impl Snapshot {
    /// Reads every dispatch, with the verification report the caller made and the keys
    /// whose signatures count (`None`: not checked; see [`view::mark_verified`]).
    pub fn load(
        src: &Sources,
        report: Option<&VerifyReport>,
        trusted: Option<&[[u8; 32]]>,
    ) -> Result<Snapshot, LedgerError> {
        let now = jiff::Timestamp::now();
        if !src.ledger.exists() {
            return Ok(Snapshot {
                rows: Vec::new(),
                health: Health::Missing,
                now,
                older: 0,
            });
        }
        let live = Sessions::new(&src.tmux);
        let states = view::list_with(&src.ledger, &live)?;
        let radar = crate::radar::scan(&src.root, &states, &mut crate::radar::Cache::default());
        Ok(Snapshot::of(src, states, &radar, report, trusted))
    }

    /// The snapshot of `states` (as [`view::list`] made them), with the verification report
    /// and trusted keys they are judged against.
    fn of(
        src: &Sources,
        mut states: Vec<DispatchState>,
        radar: &crate::radar::Radar,
        report: Option<&VerifyReport>,
        trusted: Option<&[[u8; 32]]>,
    ) -> Snapshot {
        let now = jiff::Timestamp::now();
        let data = src.root.join(crate::project::DATA_DIR);
        view::mark_positions(&mut states, &crate::dispatch::queue::places(&data));
        let health = match report {
            None => Health::Unchecked,
            Some(r) => {
                view::mark_verified(&mut states, r, trusted);
                match r.violations.iter().min_by_key(|v| v.line) {
                    _ if r.status.is_ok() => Health::Verified(r.lines),
                    Some(v) => Health::Broken {
                        line: v.line,
                        detail: v.detail.clone(),
                    },
                    None => Health::Broken {
                        line: 0,
                        detail: "the ledger does not verify".into(),
                    },
                }
            }
        };
        let mut rows: Vec<Row> = states
            .into_iter()
            .map(|state| Row {
                activity: activity(&state, &src.root, &src.tmux),
                overlaps: radar.line(&state.id).map(|l| one_line(&l)),
                state,
            })
            .collect();
        // Newest first within each group; start order is the ledger's, so reverse it first.
        rows.reverse();
        rows.sort_by_key(Row::group);
        Snapshot {
            rows,
            health,
            now,
            older: 0,
        }
    }

    /// Whether anything runs (then the dashboard refreshes ages and the pane each second;
    /// otherwise it waits for a change and uses no CPU).
    pub fn any_live(&self) -> bool {
        self.rows.iter().any(|r| r.state.state.is_live())
    }
}

/// How many dispatches started last the dashboard lists besides the open ones (unfinished
/// or waiting for a person).
pub const RECENT: usize = 200;

/// What the dashboard reloads through: the dispatches' records and the ledger's
/// verification (ADR 0045), read through the read index: the open dispatches and the
/// [`RECENT`] started last are decoded, and only the lines appended since the index are
/// folded (the prefix it covers is digested again unless the ledger's stamp shows it
/// unchanged).
#[derive(Debug)]
pub struct Reloader {
    key: Option<PathBuf>,
    witness_dir: Option<PathBuf>,
    threads: usize,
    radar: crate::radar::Cache,
}

/// How long the dashboard shows a worktree's uncommitted files before it reads them again.
const RADAR_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

impl Reloader {
    /// Reloads with this machine's signing key and witness directory (when it has them),
    /// verifying with `threads` hashing threads.
    pub fn new(key: Option<PathBuf>, witness_dir: Option<PathBuf>, threads: usize) -> Reloader {
        Reloader {
            key,
            witness_dir,
            threads,
            radar: crate::radar::Cache::fresh_for(RADAR_FRESH),
        }
    }

    /// Everything the dashboard shows, read now. A ledger that cannot be verified leaves
    /// the states unchecked; a key that cannot be loaded leaves no signature trusted (and
    /// no index used).
    pub fn reload(&mut self, src: &Sources) -> Result<Snapshot, LedgerError> {
        if !src.ledger.exists() {
            return Snapshot::load(src, None, None);
        }
        let read = self.read(src)?;
        let radar = crate::radar::scan(&src.root, &read.states, &mut self.radar);
        let (states, older) = view::recent(read.states, RECENT, read.listed);
        let mut snapshot = Snapshot::of(
            src,
            states,
            &radar,
            read.report.as_ref(),
            Some(&read.trusted),
        );
        snapshot.older = older;
        Ok(snapshot)
    }

    /// The files dispatch `id` shares with other dispatches in play, in a line (as a row's
    /// [`Row::overlaps`]), read as [`Reloader::reload`] reads, without the rows' activity.
    pub fn overlaps(&mut self, src: &Sources, id: &crate::ids::DispatchId) -> Option<String> {
        let read = self.read(src).ok()?;
        let radar = crate::radar::scan(&src.root, &read.states, &mut self.radar);
        radar.line(id).map(|l| one_line(&l))
    }

    /// One dispatch whole, its state and receipts read through the read index as
    /// [`Reloader::reload`] reads (the web page's dispatch): `None` when the ledger never
    /// started it.
    pub fn detail(
        &self,
        src: &Sources,
        id: &crate::ids::DispatchId,
    ) -> Result<Option<crate::dispatch::detail::Detail>, LedgerError> {
        use crate::dispatch::fold::{self, Want};
        let (attestor, trusted) = self.keys(src);
        let data_dir = src.root.join(crate::project::DATA_DIR);
        let index = fold::index::path_in(&data_dir);
        let options = self.options(&index, attestor.as_ref(), &trusted);
        let want = Want::Ids(std::slice::from_ref(id));
        let read = view::read_states(&src.ledger, &data_dir, &options, want, &src.tmux)?;
        let Some(state) = read.states.into_iter().find(|s| s.id == *id) else {
            return Ok(None);
        };
        let receipts = read.record.map(|r| r.receipts).unwrap_or_default();
        let graph = crate::dispatch::queue::after::lines_alone(&src.ledger, &data_dir, &state);
        let mut d = crate::dispatch::detail::of_record(&src.ledger, state, &receipts)?;
        d.graph = graph;
        Ok(Some(d))
    }

    /// The attested evidence of dispatch `id`, its lines read through the read index
    /// ([`crate::dispatch::fold::lines_about`]): what a page shows of its gates' results.
    pub fn evidence(
        &self,
        src: &Sources,
        id: &crate::ids::DispatchId,
    ) -> Result<crate::evidence::Evidence, LedgerError> {
        use crate::dispatch::fold;
        let (attestor, trusted) = self.keys(src);
        let index = fold::index::path_in(&src.root.join(crate::project::DATA_DIR));
        let options = self.options(&index, attestor.as_ref(), &trusted);
        let lines = fold::lines_about(&src.ledger, &options, id)?;
        Ok(crate::evidence::Evidence::of_lines(&lines, id, &trusted))
    }

    /// This machine's signing key as an attestor, and the keys the ledger's signatures are
    /// trusted from.
    fn keys(&self, src: &Sources) -> (Option<crate::ledger::attest::Attestor>, Vec<[u8; 32]>) {
        let attestor = self
            .key
            .as_deref()
            .and_then(|k| crate::ledger::checkpoint::CheckpointKey::load_or_create(k).ok())
            .map(|(k, _)| crate::ledger::attest::Attestor::new(&k));
        let trusted = attestor
            .as_ref()
            .and_then(|a| crate::ledger::attest::trusted_keys(&src.ledger, a).ok())
            .unwrap_or_default();
        (attestor, trusted)
    }

    /// How the dashboard reads through the index at `index`, writing it when it changed.
    fn options<'a>(
        &'a self,
        index: &'a std::path::Path,
        attestor: Option<&'a crate::ledger::attest::Attestor>,
        trusted: &'a [[u8; 32]],
    ) -> crate::dispatch::fold::ReadOptions<'a> {
        crate::dispatch::fold::ReadOptions {
            index: Some(index),
            attestor,
            trusted,
            key: self.key.as_deref(),
            witness_dir: self.witness_dir.as_deref(),
            threads: self.threads,
            max_violations: 10_000,
            write: true,
        }
    }

    /// The open dispatches' and the recent ones' states, verified through the read index.
    fn read(&self, src: &Sources) -> Result<Reading, LedgerError> {
        use crate::dispatch::fold::{self, Want};
        let (attestor, trusted) = self.keys(src);
        let index = fold::index::path_in(&src.root.join(crate::project::DATA_DIR));
        let options = self.options(&index, attestor.as_ref(), &trusted);
        let read = fold::read_verified(&src.ledger, &options, Want::Recent(RECENT))?;
        let listed = read.listed();
        let report = read.report.clone();
        let from = view::VerifiedFrom::of_read(read.from_index);
        let live = Sessions::new(&src.tmux);
        let mut states = view::into_states_verified(&src.ledger, read, &live)?;
        if report.is_some() {
            view::mark_verified_from(&mut states, from);
        }
        Ok(Reading {
            states,
            listed,
            report,
            trusted,
        })
    }
}

/// What a reload read: the states, how many the ledger lists, the verification and the
/// trusted keys.
struct Reading {
    states: Vec<DispatchState>,
    listed: usize,
    report: Option<VerifyReport>,
    trusted: Vec<[u8; 32]>,
}

/// The last line of activity of a dispatch.
fn activity(s: &DispatchState, root: &Path, tmux: &Tmux) -> String {
    if let (State::Queued, Some(why)) = (s.state, &s.held) {
        return one_line(&format!("held: {why}"));
    }
    if let (State::Queued, false) = (s.state, s.after.is_empty()) {
        return format!("after {}", crate::dispatch::queue::after::list(&s.after));
    }
    if let (State::Queued, Some(q)) = (s.state, &s.queue) {
        let by = q
            .start_by
            .as_ref()
            .map(|t| format!(", start by {t}"))
            .unwrap_or_default();
        return match q.position {
            Some(n) => format!("queued #{n} for a slot (priority {}{by})", q.priority),
            None => "leaving the queue".into(),
        };
    }
    if s.state.is_live() {
        if let Some(b) = &s.blocked {
            return format!("waits for {}", b.describe());
        }
        if let Some(b) = &s.background {
            return format!("waiting on {}", b.describe());
        }
        if let Some(l) = &s.limited {
            return one_line(&l.describe());
        }
        if let Some(p) = &s.paused {
            return one_line(&p.describe());
        }
        if let Some(text) = pane(s, tmux)
            && !shows_events(&text)
        {
            return last_line(&text);
        }
    }
    if let (true, Some(q)) = (s.waiting(), s.question.as_deref()) {
        return format!(
            "{}: {}",
            s.question_label(),
            transcript::question(q, transcript::QUESTION_CHARS)
        );
    }
    if let (true, Some(e)) = (s.waiting(), &s.escalated) {
        return format!(
            "needs you: pull request #{}: {}",
            e.number,
            transcript::question(&e.why, transcript::QUESTION_CHARS)
        );
    }
    if let (Some(a), None) = (&s.accepted, &s.landed) {
        let note = a
            .note
            .as_deref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default();
        return one_line(&format!(
            "accepted by {} (ended {}){note}",
            a.by, a.previous_status
        ));
    }
    if let Some(reason) = &s.reason {
        return one_line(reason);
    }
    let log = crate::dispatch::worker_log(root, &s.id);
    let (tail, cut) = tail_bytes(&log, 8 << 10);
    transcript::last_line(&tail, cut).unwrap_or_default()
}

/// The pane of a running dispatch, with its colours (ANSI escapes).
pub fn pane(s: &DispatchState, fallback: &Tmux) -> Option<String> {
    let session = s.session.as_deref()?;
    let tmux = s
        .tmux_socket
        .as_deref()
        .map_or_else(|| fallback.clone(), Tmux::new);
    tmux.capture_styled(session).ok()
}

/// What the preview shows of a dispatch: its live pane, else the end of its worker's log.
pub fn preview(s: &DispatchState, root: &Path, tmux: &Tmux) -> String {
    if s.state.is_live()
        && let Some(text) = pane(s, tmux)
        && !shows_events(&text)
    {
        return text;
    }
    let log = crate::dispatch::worker_log(root, &s.id);
    if log.is_file() {
        // The worker's events as a transcript, from the first whole line of the tail.
        let (tail, cut) = tail_bytes(&log, 64 << 10);
        let tail = match tail.iter().position(|&b| b == b'\n') {
            Some(at) if cut => &tail[at + 1..],
            _ => &tail[..],
        };
        transcript::render(tail).join("\n")
    } else {
        format!("(no log at {}: not written yet, or pruned)", log.display())
    }
}

/// Whether a pane shows a headless worker's JSON events (which its log renders as a
/// transcript) rather than a terminal UI.
fn shows_events(pane: &str) -> bool {
    pane.lines()
        .any(|l| plain(l).trim_start().starts_with("{\"type\""))
}

/// The dispatch whole, for the diff and receipts views, from the state the list has
/// (verified), without listing every dispatch again.
pub fn detail_of(src: &Sources, s: &DispatchState) -> Option<Detail> {
    detail::of(&src.ledger, s.clone()).ok()
}

/// The last `max` bytes of a file, and whether they start past its beginning (mid-line,
/// perhaps).
fn tail_bytes(path: &Path, max: u64) -> (Vec<u8>, bool) {
    // Only a regular file, not through a link: never a FIFO or device that would block the
    // dashboard.
    let Ok(mut f) = crate::files::open_hostile(path) else {
        return (Vec::new(), false);
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(max)));
    let mut buf = Vec::new();
    let _ = f.take(max).read_to_end(&mut buf);
    (buf, len > max)
}

/// The last line with something printable on it, without escapes or control characters.
fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .map(|l| plain(l).trim().to_owned())
        .find(|l| !l.is_empty())
        .unwrap_or_default()
}

fn one_line(text: &str) -> String {
    plain(text.lines().next().unwrap_or_default())
}

/// Each line of `text` made [`plain`], the line breaks kept.
pub fn plain_lines(text: &str) -> String {
    text.lines().map(|l| plain(l) + "\n").collect()
}

/// `text` without ANSI escape sequences and control characters.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            match chars.next() {
                // CSI: parameters and intermediates up to a final byte.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC and other strings: up to BEL or ST.
                Some(']' | 'P' | '_' | '^') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            }
        } else if c == '\t' {
            out.push(' ');
        } else if !c.is_control() && !is_bidi_control(c) {
            out.push(c);
        }
    }
    out
}

/// The invisible characters that reorder text (a right-to-left override can make a line
/// read as something else).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_drops_escapes_and_controls() {
        assert_eq!(plain("\u{1b}[1;31mred\u{1b}[0m ok"), "red ok");
        assert_eq!(plain("a\u{1b}]0;title\u{7}b"), "ab");
        assert_eq!(plain("a\u{1b}]8;;x\u{1b}\\b\rc\u{8}"), "abc");
        assert_eq!(last_line("one\ntwo\n\n  \n"), "two");
        assert_eq!(plain("abc\u{202e}fed"), "abcfed");
    }

    #[test]
    fn a_settled_lost_or_needs_input_dispatch_no_longer_waits() {
        use crate::dispatch::view::Landed;
        use crate::receipts::DispatchStatus;
        let row = |state: State, landed: Option<Landed>, continued: bool| {
            let mut s =
                DispatchState::blank(crate::ids::DispatchId::parse("D-00000001").unwrap(), state);
            s.landed = landed;
            s.continued_by =
                continued.then(|| crate::ids::DispatchId::parse("D-00000002").unwrap());
            Row {
                state: s,
                activity: String::new(),
                overlaps: None,
            }
            .group()
        };
        let asks = State::Ended(DispatchStatus::NeedsInput);
        assert_eq!(row(asks, None, false), 0);
        assert_eq!(row(asks, None, true), 2, "a follow-up answered it");
        assert_eq!(row(asks, Some(Landed::Released), false), 2, "cleaned");
        assert_eq!(row(asks, Some(Landed::Merged), false), 2);
        assert_eq!(row(State::Lost, None, false), 0);
        assert_eq!(row(State::Lost, Some(Landed::Released), false), 2);
        assert_eq!(row(State::Lost, None, true), 2);
        assert_eq!(row(State::Blocked, None, false), 0);
        assert_eq!(row(State::Stalled, None, false), 0);
        assert_eq!(row(State::Running, None, false), 1);
        assert_eq!(row(State::Queued, None, false), 1);
        let cancelled = State::Ended(DispatchStatus::Cancelled);
        assert_eq!(row(cancelled, None, false), 2);
    }
}
