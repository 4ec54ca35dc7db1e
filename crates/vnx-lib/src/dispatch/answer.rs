//! `vnx approve` / `vnx deny`: a blocked worker's permission prompt answered from outside its
//! pane, through the CLI's own mechanism where it has one, and recorded. A CLI's permission
//! hook may return a decision (its module's `answering_hook`); vnx's hook waits for an answer
//! file in `.vnx-data/answers/` (outside the worktree and the dispatch directory, which the
//! worker may write without asking) and returns it. A prompt such a hook waits on is answered
//! at once, the pane only glanced at for the dialog a CLI may show meanwhile (another shows
//! none until its hook returned). For a CLI without such a hook the key its prompt
//! takes is typed into the pane, once the dialog shows, and again while the pane shows it
//! unchanged; each CLI's keys and the line its dialog shows are its module's
//! (`provider::cli`, `pane_dialog`, with why its hook cannot answer), a
//! declared TUI's its `interactive.dialog:` in the config (`provider::dialog`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::dispatch::view::{DispatchState, State};
use crate::ids::DispatchId;
use crate::ledger::LedgerError;
use crate::ledger::attest::Attestor;
use crate::provider::ProviderName;
use crate::provider::cli;
use crate::provider::dialog::Dialog;
use crate::receipts::{
    AnsweredVia, DispatchAnswered, DispatchAnswering, PermissionAnswer, WaitingFor,
};
use crate::tmux::Tmux;

/// Whether `event` is a hook whose prompt a waiting hook can answer (its CLI's
/// [`Hooks::answering`](cli::hook::Hooks::answering)).
pub fn waits_for_answer(event: &str) -> bool {
    cli::hooks_of_event(event).and_then(|h| h.answering()) == Some(event)
}
/// The answers' directory in the data directory.
const ANSWERS: &str = "answers";
/// How often a waiting hook, and `vnx approve` waiting for it, look again.
const POLL: Duration = Duration::from_millis(200);
/// An answer file larger than this is not read.
const MAX_ANSWER: u64 = 64 * 1024;

/// What `vnx approve`/`vnx deny` leaves for a waiting hook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerFile {
    /// The signal file (its name) of the prompt answered.
    pub request: String,
    /// The answer.
    pub answer: PermissionAnswer,
    /// What the worker is told with a denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Why a prompt could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The dispatch does not wait for a permission decision.
    #[error("dispatch {id} is {status}: no permission prompt waits for an answer")]
    NothingPending {
        /// The dispatch.
        id: String,
        /// What it is instead.
        status: String,
    },
    /// It plans (ADR 0092): a planning turn changes nothing, so what its worker asks to do
    /// is not approved; it is denied, or the worker's plan is approved once it ends.
    #[error(
        "dispatch {id} is planning: a planning turn changes nothing, so its prompt ({what}) \
         is refused, not approved"
    )]
    WhilePlanning {
        /// The dispatch.
        id: String,
        /// What its worker asked (worker text: escape it).
        what: String,
    },
    /// Its CLI has no way to be answered from outside (a declared provider without a
    /// `dialog:`).
    #[error("dispatch {id}'s provider {provider} cannot be answered from outside its pane")]
    Unsupported {
        /// The dispatch.
        id: String,
        /// Its provider.
        provider: String,
    },
    /// The keys were typed into the pane, and it stayed as it was each time.
    #[error("dispatch {id}'s pane did not change after {keys} was typed {tries} times")]
    NotTaken {
        /// The dispatch.
        id: String,
        /// The keys typed.
        keys: String,
        /// How many times.
        tries: u32,
    },
    /// The pane could not be reached.
    #[error("could not type into dispatch {id}'s pane: {why}")]
    Unreachable {
        /// The dispatch.
        id: String,
        /// What tmux said.
        why: String,
    },
    /// The answer file could not be written.
    #[error("could not write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The receipt could not be appended.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl AnswerError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            AnswerError::NothingPending { id, .. } => Some(format!(
                "`vnx wait --until-blocked {id}` returns once it asks; `vnx status {id}` shows it"
            )),
            AnswerError::WhilePlanning { id, .. } => Some(format!(
                "deny it (`vnx deny {id}`) and the worker goes on planning; its plan is \
                 approved once its turn ends"
            )),
            AnswerError::Unsupported { id, .. }
            | AnswerError::Unreachable { id, .. }
            | AnswerError::NotTaken { id, .. } => {
                Some(format!("answer it in the pane: vnx attach {id}"))
            }
            AnswerError::Io { .. } | AnswerError::Ledger(_) => None,
        }
    }
}

/// Where the answer to dispatch `id`'s prompt goes.
pub fn answer_path(data_dir: &Path, id: &DispatchId) -> PathBuf {
    answers_dir(data_dir).join(format!("{id}.json"))
}

/// The answers' directory: `.vnx-data/answers`.
pub fn answers_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(ANSWERS)
}

/// The lock an answer to the dispatch of `dispatch_dir` holds from the moment the worker may
/// get it until its receipt is on the ledger.
const ANSWERING_LOCK: &str = "answering.lock";

/// Takes the answering lock of the dispatch of `dispatch_dir`: another answer to it waits its
/// turn, for [`ANSWERING_PATIENCE`] at most (the worker can write its dispatch directory and
/// hold the lock; it is never waited on for ever, nor followed as a link or opened as a FIFO).
fn hold_answers(dispatch_dir: &Path) -> Result<fs::File, AnswerError> {
    let path = dispatch_dir.join(ANSWERING_LOCK);
    super::answering::lock_within(&path, ANSWERING_PATIENCE)
        .map_err(|source| AnswerError::Io { path, source })
}

/// How long an answer waits for another one to the same dispatch.
const ANSWERING_PATIENCE: Duration = Duration::from_secs(30);

/// Waits (at most `patience`) while an answer to the dispatch of `dispatch_dir` is being
/// given, so that the worker's end is recorded after the answer it went on with. Nothing
/// waits when no answer was ever given to it; a lock held longer (the worker can write its
/// dispatch directory) only delays the end.
pub fn wait_for_answers(dispatch_dir: &Path, patience: Duration) {
    let path = dispatch_dir.join(ANSWERING_LOCK);
    if fs::symlink_metadata(&path).is_err() {
        return;
    }
    let end = Instant::now() + patience;
    loop {
        match crate::files::lock_file(&path, false) {
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(50)),
            _ => return,
        }
    }
}

/// The data directory a dispatch directory (`<data>/dispatches/<id>`) belongs to, and its id.
fn data_dir_of(dispatch_dir: &Path) -> Option<(&Path, DispatchId)> {
    let id = DispatchId::parse(dispatch_dir.file_name()?.to_str()?).ok()?;
    Some((dispatch_dir.parent()?.parent()?, id))
}

/// Run by the hook of prompt `request` (a signal file's name in `dispatch_dir`): waits up to
/// `wait` for `vnx approve`/`vnx deny` to answer it, and takes the answer. Gives up early
/// when the worker went on (a later tool ran, the turn ended, or another prompt came: a
/// person answered in the pane), and when nothing holds the dispatch's lock any more (its
/// supervisor ended or died: no answer will be taken for it).
pub fn wait_for_answer(dispatch_dir: &Path, request: &str, wait: Duration) -> Option<AnswerFile> {
    let (data, id) = data_dir_of(dispatch_dir)?;
    let path = answer_path(data, &id);
    let end = Instant::now() + wait;
    loop {
        if let Some(answer) = read_answer(&path).filter(|a| a.request == request) {
            // Taken: `vnx approve` sees the file gone and knows the hook answered.
            return fs::remove_file(&path).is_ok().then_some(answer);
        }
        if Instant::now() >= end
            || went_on_after(dispatch_dir, request)
            || !crate::dispatch::liveness::locked(dispatch_dir)
        {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

fn read_answer(path: &Path) -> Option<AnswerFile> {
    let data = crate::files::read_bounded(path, MAX_ANSWER).ok()?;
    serde_json::from_slice(&data).ok()
}

/// Whether a signal later than `request` shows the worker went on past its prompt.
fn went_on_after(dispatch_dir: &Path, request: &str) -> bool {
    let went_on: Vec<String> = cli::all_hooks()
        .flat_map(|h| h.went_on())
        .map(|event| format!("-{event}.json"))
        .collect();
    signal_names(dispatch_dir).iter().any(|name| {
        name.as_str() > request && went_on.iter().any(|end| name.ends_with(end.as_str()))
    })
}

fn signal_names(dispatch_dir: &Path) -> Vec<String> {
    let dir = dispatch_dir.join(crate::dispatch::supervise::signals::SIGNALS);
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// What answering needs besides the dispatch.
pub struct Answering<'a> {
    /// The ledger.
    pub ledger: &'a Path,
    /// The project's data directory (`.vnx-data`).
    pub data_dir: &'a Path,
    /// The tmux server for a dispatch whose start records none.
    pub fallback: &'a Tmux,
    /// Signs the receipt.
    pub attestor: &'a Attestor,
    /// Who answers.
    pub by: &'a str,
    /// How long a waiting hook has to take the answer before the pane is used instead.
    pub hook_wait: Duration,
    /// For a dispatch that runs in a place (a host, a container, a pod): gives the answer
    /// there, by the place's own vnx (the front end's library action makes it).
    pub place: Option<&'a GiveInPlace<'a>>,
}

/// Gives an answer (and a denial's message) to a dispatch in the place it runs in; what went
/// wrong, in words.
pub type GiveInPlace<'a> = dyn Fn(PermissionAnswer, Option<&str>) -> Result<(), String> + 'a;

/// How an answer reached the worker's CLI here: through its hook or by keys in its pane.
struct Given {
    via: AnsweredVia,
    keys: Option<String>,
    pane_dialog: Option<String>,
}

/// The prompt dispatch `state` waits on, when `answer` may be given to it: the reason it
/// may not otherwise (nothing waits; an approval while it plans). Every front end asks this
/// before it offers an answer.
pub fn answerable(
    state: &DispatchState,
    answer: PermissionAnswer,
) -> Result<&crate::receipts::DispatchBlocked, AnswerError> {
    let pending = match (&state.state, &state.blocked) {
        (State::Blocked, Some(b)) if b.waiting_for == WaitingFor::Permission => b,
        _ => {
            return Err(AnswerError::NothingPending {
                id: state.id.to_string(),
                status: state.status.to_owned(),
            });
        }
    };
    if state.planning && answer == PermissionAnswer::Approve {
        let what = (pending.command.clone())
            .or_else(|| pending.tool.clone())
            .unwrap_or_else(|| "its request".to_owned());
        return Err(AnswerError::WhilePlanning {
            id: state.id.to_string(),
            what,
        });
    }
    Ok(pending)
}

/// Answers dispatch `state`'s pending permission prompt and records `dispatch_answered`: who
/// decides is recorded first (`dispatch_answering`, see [`answering`](super::answering)),
/// then the answer is given (here, or in the dispatch's place), then recorded.
pub fn answer(
    a: &Answering<'_>,
    state: &DispatchState,
    answer: PermissionAnswer,
    message: Option<&str>,
) -> Result<DispatchAnswered, AnswerError> {
    let pending = answerable(state, answer)?;
    let id = &state.id;
    let lock_io = |source| AnswerError::Io {
        path: answer_path(a.data_dir, id).with_extension("lock"),
        source,
    };
    let _answering = super::answering::hold(a.data_dir, id, ANSWERING_PATIENCE).map_err(lock_io)?;
    let provider = ProviderName::of(state.provider.as_deref().unwrap_or_default());
    let dispatch_dir = a.data_dir.join("dispatches").join(id);
    // Held until the answer is on the ledger: a worker that takes it and ends at once has
    // its end recorded after the answer ([`wait_for_answers`]). A place's vnx holds its own.
    let in_flight = match a.place {
        None => Some(hold_answers(&dispatch_dir)?),
        Some(_) => None,
    };
    // A prompt its CLI's waiting hook can answer, known by the signals its module names.
    let hook = (provider.cli())
        .and_then(|c| c.hooks())
        .filter(|h| h.answers(&pending.source))
        .and_then(|h| h.answering());
    let intent = DispatchAnswering {
        dispatch_id: id.clone(),
        answer,
        by: a.by.to_owned(),
        source: pending.source.clone(),
        tool: pending.tool.clone(),
        command: pending.command.clone(),
        via: match (a.place, hook) {
            (Some(_), _) => AnsweredVia::Place,
            (None, Some(_)) => AnsweredVia::Hook,
            (None, None) => AnsweredVia::Pane,
        },
        message: message.map(str::to_owned),
        blocked_seq: state.proof.as_ref().and_then(|p| p.seq),
        extra: Default::default(),
    };
    super::answering::announce(a.data_dir, a.ledger, a.attestor, &intent)?;
    let given = match a.place {
        Some(give) => give(answer, message)
            .map(|()| Given {
                via: AnsweredVia::Place,
                keys: None,
                pane_dialog: None,
            })
            .map_err(|why| AnswerError::Unreachable {
                id: id.to_string(),
                why,
            }),
        None => give_here(a, state, pending, hook, answer, message),
    };
    // Nothing given: nothing is to be concluded (the intent stays, unanswered).
    let given = given.inspect_err(|_| super::answering::settled(a.data_dir, id))?;
    crate::steps::reached(crate::steps::answer::GIVEN);
    let receipt = DispatchAnswered {
        via: given.via,
        keys: given.keys,
        pane_dialog: given.pane_dialog,
        concluded: None,
        ..super::answering::answered_from(&intent)
    };
    a.attestor.record(a.ledger, &receipt)?;
    super::answering::settled(a.data_dir, id);
    drop(in_flight);
    if receipt.via == AnsweredVia::Pane && answer == PermissionAnswer::Deny {
        let (tmux, session) = state.session_on(a.fallback);
        end_cancelled_turn(&tmux, &session, &provider, &dispatch_dir, &receipt);
    }
    Ok(receipt)
}

/// Gives the answer to dispatch `state`'s prompt `pending` here: through its CLI's waiting
/// `hook`, when it has one that takes it, else by the keys its dialog takes, typed into its
/// pane.
fn give_here(
    a: &Answering<'_>,
    state: &DispatchState,
    pending: &crate::receipts::DispatchBlocked,
    hook: Option<&str>,
    answer: PermissionAnswer,
    message: Option<&str>,
) -> Result<Given, AnswerError> {
    let provider = ProviderName::of(state.provider.as_deref().unwrap_or_default());
    let dispatch_dir = a.data_dir.join("dispatches").join(&state.id);
    // The request (tool, command) is what a hook call in the worker's dispatch said, which the
    // worker can make itself; what vnx can look at is the pane, where the CLI draws its
    // dialog. Its lines go into the receipt beside the request, or nothing when none shows.
    let (tmux, session) = state.session_on(a.fallback);
    let dialog = if pending.source == crate::dispatch::supervise::live::SCREEN {
        start_on_pane(&provider, &tmux, &session).or_else(|| dialog_of(&provider, a.data_dir))
    } else {
        dialog_of(&provider, a.data_dir)
    };
    let findable = dialog.as_ref();
    let look =
        |wait| findable.and_then(|d| dialog_on_pane(&tmux, &session, d, wait).ok().flatten());
    // A waiting hook is answered at once: a CLI may show no dialog until its hook returned
    // (then no dialog is waited for); one that shows it meanwhile has it on the pane now.
    if let Some(event) = hook {
        let pane_dialog = look(Duration::ZERO);
        if answer_by_hook(a, &state.id, &dispatch_dir, event, answer, message)? {
            return Ok(Given {
                via: AnsweredVia::Hook,
                keys: None,
                pane_dialog,
            });
        }
    }
    let keys = dialog
        .as_ref()
        .map(|d| d.keys(answer))
        .filter(|k| !k.is_empty())
        .ok_or_else(|| AnswerError::Unsupported {
            id: state.id.to_string(),
            provider: provider.to_string(),
        })?;
    // Keys answer the dialog: it is waited for (a hook that gave up leaves it up).
    let pane_dialog = look(DIALOG_TIMING.show);
    // The dialog was waited for above: when it did not show, it is not waited for again.
    let timing = DialogTiming {
        show: (pane_dialog.as_ref()).map_or(Duration::ZERO, |_| DIALOG_TIMING.show),
        ..DIALOG_TIMING
    };
    let typed = match findable {
        Some(d) => type_keys(&tmux, &session, &|s| d.shows(s), &keys, &timing),
        None => tmux.send_keys(&session, &keys).map(|()| true),
    };
    let taken = typed.map_err(|e| AnswerError::Unreachable {
        id: state.id.to_string(),
        why: crate::dispatch::error_chain(&e),
    })?;
    // Nothing on the screen moved: no answer is recorded that the worker never got.
    if !taken {
        return Err(AnswerError::NotTaken {
            id: state.id.to_string(),
            keys: keys.join(" "),
            tries: DIALOG_TIMING.tries,
        });
    }
    Ok(Given {
        via: AnsweredVia::Pane,
        keys: Some(keys.join(" ")),
        pane_dialog,
    })
}

/// How long a denial's cancellation of the turn is waited for on the pane.
const CANCELLED_SHOWS_WITHIN: Duration = Duration::from_secs(10);

/// After a denial typed into the pane of a CLI whose turn that cancels (it idles at its input
/// and no end-of-turn hook fires: [`CodingCli::denial_ends_turn`](cli::CodingCli::denial_ends_turn)),
/// waits for the pane to show it and writes the hook signal its supervisor ends the turn on,
/// the denial as the worker's last message: the dispatch then needs input, as it would had
/// the worker stopped to ask. Nothing when the pane never shows it (the worker went on).
fn end_cancelled_turn(
    tmux: &Tmux,
    session: &str,
    provider: &ProviderName,
    dispatch_dir: &Path,
    denied: &DispatchAnswered,
) {
    let Some(cli) = provider.cli() else {
        return;
    };
    let what = asked(denied.tool.as_deref(), denied.command.as_deref())
        .unwrap_or_else(|| "the request".into());
    let mut said = format!("{} denied {what} (vnx deny)", denied.by);
    if let Some(m) = &denied.message {
        said.push_str(": ");
        said.push_str(m);
    }
    let Some(end) = cli.denial_ends_turn(&said) else {
        return;
    };
    let until = Instant::now() + CANCELLED_SHOWS_WITHIN;
    loop {
        let shown = tmux
            .capture(session)
            .is_ok_and(|screen| screen.lines().any(|l| l.contains(end.shows)));
        if shown {
            // The worker can write its dispatch directory: never through a link it made.
            let signals = dispatch_dir.join(crate::dispatch::supervise::signals::SIGNALS);
            if !signals.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                return;
            }
            let _ = crate::dispatch::supervise::signals::write_hook(
                dispatch_dir,
                end.event,
                end.payload,
            );
            return;
        }
        if Instant::now() >= until {
            return;
        }
        std::thread::sleep(DIALOG_POLL);
    }
}

/// What a prompt asked to do, in words: its tool and its command, those it names.
pub(crate) fn asked(tool: Option<&str>, command: Option<&str>) -> Option<String> {
    let what: Vec<&str> = [tool, command].into_iter().flatten().collect();
    (!what.is_empty()).then(|| what.join(" "))
}

/// The permission dialog of `provider`'s TUI: its module's, for a built-in CLI; for a
/// declared one, the `interactive.dialog:` the project's config declares now (none when the
/// config does not load).
fn dialog_of(provider: &ProviderName, data_dir: &Path) -> Option<Dialog> {
    if let Some(cli) = provider.cli() {
        return Dialog::of_cli(cli);
    }
    let config = crate::project::Project::at(data_dir.parent()?)
        .load_config()
        .ok()?;
    let lane = config
        .providers
        .get(provider.name())?
        .interactive
        .as_ref()?;
    Dialog::declared(lane.tui.dialog.as_ref()?).ok()
}

/// The dialog built-in `provider`'s TUI shows before its first turn, when `session`'s pane
/// shows one now.
fn start_on_pane(provider: &ProviderName, tmux: &Tmux, session: &str) -> Option<Dialog> {
    let dialogs = Dialog::start_of(provider.cli()?);
    let screen = tmux.capture(session).ok()?;
    dialogs.into_iter().find(|d| d.shows(&screen))
}

/// The permission dialog `session`'s pane shows, once it shows (waiting up to `wait`): the
/// non-blank lines around its line ([`crate::provider::dialog::around`]). `None` when no
/// dialog showed. What the pane shows is drawn by the CLI, though a process of the worker
/// writing to its terminal could draw there too.
pub fn dialog_on_pane(
    tmux: &Tmux,
    session: &str,
    dialog: &Dialog,
    wait: Duration,
) -> Result<Option<String>, crate::tmux::TmuxError> {
    let screen = screen_once(tmux, session, &|s| dialog.shows(s), wait)?;
    Ok(dialog.seen(&screen).map(|s| s.lines))
}

/// `session`'s pane once `shows` tells it on the screen, or as it is after `wait`.
fn screen_once(
    tmux: &Tmux,
    session: &str,
    shows: &dyn Fn(&str) -> bool,
    wait: Duration,
) -> Result<String, crate::tmux::TmuxError> {
    let end = Instant::now() + wait;
    let mut screen = tmux.capture(session)?;
    while !shows(&screen) && Instant::now() < end {
        std::thread::sleep(DIALOG_POLL);
        screen = tmux.capture(session)?;
    }
    Ok(screen)
}

/// How long [`type_keys`] waits for each step.
#[derive(Clone, Copy, Debug)]
pub struct DialogTiming {
    /// For the dialog to show before the keys are typed anyway.
    pub show: Duration,
    /// For the pane to change after the keys were typed, before they are typed again.
    pub take: Duration,
    /// How many times the keys are typed at most.
    pub tries: u32,
}

/// What `vnx approve` and `vnx deny` use.
pub const DIALOG_TIMING: DialogTiming = DialogTiming {
    show: Duration::from_secs(5),
    take: Duration::from_millis(1500),
    tries: 3,
};

/// How often the pane is read while waiting.
const DIALOG_POLL: Duration = Duration::from_millis(100);

/// Types `keys`, in order, into the permission dialog of `session`'s pane, once `shows` tells
/// it on the screen, and makes sure the dialog took them. A CLI may draw its dialog before
/// it reads keys (seen on one CLI, whose `pane_dialog` says so: a key typed at once was lost
/// and the dispatch ran into its deadline). The keys are typed again only while the pane is
/// exactly as it was when they were typed: any change (the dialog gone, the tool's output, a
/// next dialog) means they were taken, and a next dialog is never answered with this one's
/// keys. Whether the pane changed.
pub fn type_keys(
    tmux: &Tmux,
    session: &str,
    shows: &dyn Fn(&str) -> bool,
    keys: &[&str],
    timing: &DialogTiming,
) -> Result<bool, crate::tmux::TmuxError> {
    let screen = screen_once(tmux, session, shows, timing.show)?;
    for _ in 0..timing.tries.max(1) {
        tmux.send_keys(session, keys)?;
        let take_end = Instant::now() + timing.take;
        loop {
            std::thread::sleep(DIALOG_POLL);
            match tmux.capture(session) {
                Ok(now) if now != screen => return Ok(true),
                Ok(_) => {}
                // The worker took the keys, ended its turn and its pane closed (a last
                // session takes its tmux server with it): nothing is left to read.
                Err(_) if !tmux.has_session(session) => return Ok(true),
                Err(e) => return Err(e),
            }
            if Instant::now() >= take_end {
                break;
            }
        }
    }
    Ok(false)
}

/// Leaves the answer for the newest prompt's waiting hook; whether the hook took it in time
/// (if not, the file is taken back).
fn answer_by_hook(
    a: &Answering<'_>,
    id: &DispatchId,
    dispatch_dir: &Path,
    event: &str,
    answer: PermissionAnswer,
    message: Option<&str>,
) -> Result<bool, AnswerError> {
    let suffix = format!("-{event}.json");
    let Some(request) = signal_names(dispatch_dir)
        .into_iter()
        .filter(|n| n.ends_with(&suffix))
        .max()
    else {
        return Ok(false);
    };
    let path = answer_path(a.data_dir, id);
    let io_err = |source| AnswerError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        crate::files::private_dir(dir).map_err(io_err)?;
    }
    let file = AnswerFile {
        request,
        answer,
        message: message.map(str::to_owned),
    };
    let data = serde_json::to_vec(&file).expect("answers serialize");
    crate::files::write_atomic_private(&path, &data, false).map_err(io_err)?;
    let end = Instant::now() + a.hook_wait;
    while Instant::now() < end {
        if fs::symlink_metadata(&path).is_err() {
            return Ok(true);
        }
        std::thread::sleep(POLL);
    }
    // Not taken: no hook waits (it gave up, or the CLI asked differently).
    Ok(fs::remove_file(&path).is_err())
}

#[cfg(test)]
mod tests;
