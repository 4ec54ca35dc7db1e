//! An answer to a blocked worker's prompt as a durable operation in named steps (ADR 0105):
//! who decided what is recorded before the answer is given (`dispatch_answering`, and a marker
//! under `.vnx-data/answers/`), then the answer is given, then `dispatch_answered` records it.
//! An answer killed between the first and the last is concluded by the next command that reads
//! dispatch state, once the worker went on past the prompt (it had the answer); while the
//! worker still waits on that prompt, the next `vnx approve` or `vnx deny` gives it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::dispatch::state::{DispatchState, State};
use crate::ids::DispatchId;
use crate::ledger::attest::{self, Attestor};
use crate::ledger::json::{self, Value};
use crate::ledger::{LedgerError, tail};
use crate::receipts::{self, DispatchAnswered, DispatchAnswering, Kind as _, RequestFrom};

/// The marker of an answer under way, beside the answers' files.
const MARKER: &str = "intent";

/// The marker of dispatch `id`'s answer under way: `.vnx-data/answers/<id>.intent`.
fn marker(data_dir: &Path, id: &DispatchId) -> PathBuf {
    super::answer::answer_path(data_dir, id).with_extension(MARKER)
}

/// The lock an answer to dispatch `id` holds from before its intent until its
/// `dispatch_answered` is on the ledger, and a conclusion takes before it records one: never
/// two records of one answer. Outside the dispatch directory, so a dispatch that runs in a
/// place (whose directory is there) is answered the same way.
fn lock_path(data_dir: &Path, id: &DispatchId) -> PathBuf {
    super::answer::answer_path(data_dir, id).with_extension("lock")
}

/// Holds the answering lock of dispatch `id` (waiting at most `patience` for another answer).
pub fn hold(
    data_dir: &Path,
    id: &DispatchId,
    patience: std::time::Duration,
) -> std::io::Result<fs::File> {
    let path = lock_path(data_dir, id);
    if let Some(dir) = path.parent() {
        crate::files::private_dir(dir)?;
    }
    lock_within(&path, patience)
}

/// Takes the lock `path` of an answer, waiting at most `patience` while another answer to
/// the same dispatch holds it.
pub(super) fn lock_within(path: &Path, patience: std::time::Duration) -> std::io::Result<fs::File> {
    let end = std::time::Instant::now() + patience;
    loop {
        if let Some(held) = crate::files::lock_file(path, false)? {
            return Ok(held);
        }
        if std::time::Instant::now() >= end {
            return Err(std::io::Error::other(
                "another answer to this dispatch is being given (its lock stayed held)",
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Records `intent` before its answer is given: the marker, then the signed receipt (step
/// `answer:intent_appended`).
pub fn announce(
    data_dir: &Path,
    ledger: &Path,
    attestor: &Attestor,
    intent: &DispatchAnswering,
) -> Result<(), super::answer::AnswerError> {
    let path = marker(data_dir, &intent.dispatch_id);
    let io = |source| super::answer::AnswerError::Io {
        path: path.clone(),
        source,
    };
    crate::files::write_atomic_private(&path, intent.dispatch_id.as_str().as_bytes(), true)
        .map_err(io)?;
    attestor.record(ledger, intent)?;
    crate::steps::reached(crate::steps::answer::INTENT_APPENDED);
    Ok(())
}

/// The answer of dispatch `id` is recorded (or was not given): its marker goes.
pub fn settled(data_dir: &Path, id: &DispatchId) {
    let _ = fs::remove_file(marker(data_dir, id));
}

/// The dispatches with an answer under way (a marker), as their markers name them.
pub fn under_way(data_dir: &Path) -> Vec<DispatchId> {
    let Ok(entries) = fs::read_dir(super::answer::answers_dir(data_dir)) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| {
            let id = name.strip_suffix(&format!(".{MARKER}"))?;
            DispatchId::parse(id).ok()
        })
        .collect()
}

/// The last `dispatch_answering` of dispatch `id` that no `dispatch_answered` followed, as a
/// trusted key signed it.
fn dangling(
    ledger: &Path,
    id: &DispatchId,
    trusted: &[[u8; 32]],
) -> Result<Option<DispatchAnswering>, LedgerError> {
    let (lines, _) = tail::last_lines(ledger, usize::MAX, |l| {
        memchr::memmem::find(l, id.as_str().as_bytes()).is_some()
            && memchr::memmem::find(l, b"\"dispatch_answer").is_some()
    })?;
    let mut open = None;
    for raw in lines {
        let Some(o) = json::object_of_line(&raw) else {
            continue;
        };
        if o.get("dispatch_id").and_then(Value::as_str) != Some(id.as_str())
            || !attest::check(&o, trusted).is_valid()
        {
            continue;
        }
        match o.get("event_type").and_then(Value::as_str) {
            Some(DispatchAnswering::EVENT) => {
                open = receipts::read::<DispatchAnswering>(&o).map(|r| r.receipt);
            }
            Some(DispatchAnswered::EVENT) => open = None,
            _ => {}
        }
    }
    Ok(open)
}

/// Whether `state` still waits on the prompt `intent` answers: blocked, by that very
/// `dispatch_blocked`.
fn still_waits(state: &DispatchState, intent: &DispatchAnswering) -> bool {
    state.state == State::Blocked
        && intent.blocked_seq.is_some()
        && state.proof.as_ref().and_then(|p| p.seq) == intent.blocked_seq
}

/// What concluding the answers under way needs.
pub struct Concluding<'a> {
    /// The project's data directory.
    pub data_dir: &'a Path,
    /// The ledger.
    pub ledger: &'a Path,
    /// Signs what is recorded.
    pub attestor: &'a Attestor,
    /// The keys whose receipts are trusted.
    pub trusted: &'a [[u8; 32]],
}

/// [`conclude`], the dispatches read now (only when an answer is under way: a command that
/// reads dispatch state calls this every time).
pub fn conclude_now(
    c: &Concluding<'_>,
    tmux: &crate::tmux::Tmux,
) -> Result<Vec<DispatchAnswered>, LedgerError> {
    if under_way(c.data_dir).is_empty() || !c.ledger.exists() {
        return Ok(Vec::new());
    }
    conclude(c, &crate::dispatch::view::list(c.ledger, tmux)?)
}

/// Concludes each answer under way whose worker went on past its prompt (it had the answer):
/// its `dispatch_answered`, recorded now from its intent. One another command still gives is
/// left to it (its lock is held); one whose worker still waits is left to the next `vnx
/// approve` or `vnx deny`. `states`: the dispatches as read now.
pub fn conclude(
    c: &Concluding<'_>,
    states: &[DispatchState],
) -> Result<Vec<DispatchAnswered>, LedgerError> {
    let mut out = Vec::new();
    for id in under_way(c.data_dir) {
        let Ok(Some(_held)) = crate::files::lock_file(&lock_path(c.data_dir, &id), false) else {
            continue;
        };
        let Some(intent) = dangling(c.ledger, &id, c.trusted)? else {
            settled(c.data_dir, &id);
            continue;
        };
        let state = states.iter().find(|s| s.id == id);
        if state.is_some_and(|s| still_waits(s, &intent)) {
            continue;
        }
        let receipt = answered_from(&intent);
        c.attestor.record(c.ledger, &receipt)?;
        settled(c.data_dir, &id);
        out.push(receipt);
    }
    Ok(out)
}

/// The `dispatch_answered` an intent's answer, given and never recorded, comes to (an answer
/// just given sets how it was given over it).
pub(super) fn answered_from(intent: &DispatchAnswering) -> DispatchAnswered {
    DispatchAnswered {
        dispatch_id: intent.dispatch_id.clone(),
        answer: intent.answer,
        by: intent.by.clone(),
        source: intent.source.clone(),
        tool: intent.tool.clone(),
        command: intent.command.clone(),
        via: intent.via,
        keys: None,
        message: intent.message.clone(),
        request_from: Some(
            if intent.source == crate::dispatch::supervise::live::SCREEN {
                RequestFrom::Screen
            } else {
                RequestFrom::WorkerHook
            },
        ),
        pane_dialog: None,
        concluded: Some(
            "recorded by a later command: the command that gave the answer ended before it \
             recorded it, and the worker went on past its prompt"
                .to_owned(),
        ),
        extra: Default::default(),
    }
}
