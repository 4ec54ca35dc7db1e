//! What a CLI's hooks are made of, shared by the CLIs' modules: the shell command each hook
//! runs (`vnx __hook EVENT --dir DISPATCH_DIR`, quoted), a command hook's JSON, the time a CLI
//! gives one, TOML strings for `-c` overrides, and what a hook's signal can say. Which hooks a
//! CLI gets is its module's; the hooks of the engine two CLIs share are one type
//! ([`EngineHooks`]). Also what a launch hands a CLI's module to write its hooks' files
//! ([`Launch`]), the placing of a settings file in a worktree without replacing the
//! repository's ([`place_file`], [`InWorktree`]) and the recording of its trust in a JSON file
//! of the CLI's home ([`place_trusted`], [`edit_json`], [`recorded_home`]).

use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::receipts::kinds::HookKind;
use crate::receipts::{BackgroundTask, PermissionAnswer, Placed, WaitingFor};

/// What a dispatch's launch hands a CLI's module to write the files its hooks need: the
/// invocation's hooks and argv, the commands given to its allow mechanism, vnx's binary and
/// the dispatch's directory.
#[derive(Clone, Copy, Debug)]
pub struct Launch<'a> {
    /// The hooks the invocation installs.
    pub hooks: &'a HookKind,
    /// The invocation's argv.
    pub argv: &'a [String],
    /// The command prefixes given to the CLI's own allow mechanism.
    pub allowed_commands: &'a [String],
    /// vnx's own binary, which the hooks run.
    pub vnx: &'a Path,
    /// The dispatch's directory.
    pub dispatch_dir: &'a Path,
}

impl Launch<'_> {
    /// The settings file `file` in the dispatch's directory, for a launch that gives the CLI
    /// its hooks `turn_end`: what `settings` makes of vnx's binary and the dispatch's
    /// directory, as JSON.
    pub fn settings_file(
        &self,
        turn_end: &HookKind,
        file: &'static str,
        settings: fn(&Path, &Path) -> Value,
    ) -> Vec<(&'static str, Vec<u8>)> {
        if self.hooks != turn_end {
            return Vec::new();
        }
        let value = settings(self.vnx, self.dispatch_dir);
        vec![(
            file,
            serde_json::to_vec_pretty(&value).expect("settings serialize"),
        )]
    }
}

/// How a CLI's hooks live in a dispatch's worktree, for a CLI that reads them only there and
/// only where it trusts them ([`Hooks::in_worktree`]): the hooks that go there, the trust
/// file in its home, placing them with their trust, and taking that trust away again.
#[derive(Debug)]
pub struct WorktreeHooks {
    /// The end-of-turn hooks a launch gives it that live in the worktree.
    pub turn_end: HookKind,
    /// The provider whose home holds its trust file.
    pub home: &'static str,
    /// Its trust file in that home.
    pub trust_in: fn(&Path) -> PathBuf,
    /// Places its hooks in a worktree (they run vnx's binary for the dispatch's directory)
    /// and records their trust in the trust file, if given.
    pub place: fn(&Path, &Path, &Path, Option<&Path>) -> io::Result<InWorktree>,
    /// Takes the trust recorded for a project out of the trust file.
    pub forget: fn(&Path, &Path) -> io::Result<()>,
}

/// What a CLI's module did with its hooks in a dispatch's worktree.
#[derive(Debug)]
pub enum InWorktree {
    /// Its hooks have no file in the worktree (or they are not this CLI's).
    Nothing,
    /// It placed a file (removed before the worktree is classified), and whether it recorded
    /// its hooks as trusted in the trust file it was given.
    Placed {
        /// The file placed.
        placed: Placed,
        /// Whether the trust file now records them (to be undone at the end).
        trusted: bool,
    },
    /// The worktree has such a file of its own: the hooks cannot be given (their turns end
    /// unseen; completion rests on the report and the exit).
    NoPlace,
}

/// Writes `data` as `dir/file` in the worktree (making `dir` when missing); `None` when the
/// worktree already has that file (the repository's own is never touched). The file is made
/// new, never through a link.
pub fn place_file(
    worktree: &Path,
    dir: &str,
    file: &str,
    data: &[u8],
) -> io::Result<Option<Placed>> {
    let dir: PathBuf = worktree.join(dir);
    let path = dir.join(file);
    if std::fs::symlink_metadata(&path).is_ok() {
        return Ok(None);
    }
    let made_dir = match std::fs::create_dir(&dir) {
        Ok(()) => Some(dir.clone()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => None,
        Err(e) => return Err(e),
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| io::Write::write_all(&mut f, data))?;
    Ok(Some(Placed {
        path,
        sha256: hex::encode(Sha256::digest(data)),
        made_dir,
    }))
}

/// The hooks' file a CLI's module `placed` in the worktree ([`place_file`]; `None`: the
/// worktree has such a file of its own, [`InWorktree::NoPlace`]), and the worktree (its real
/// path) recorded as trusted in the trust file `trust`, if given, by `set`.
pub fn place_trusted(
    worktree: &Path,
    placed: Option<Placed>,
    trust: Option<&Path>,
    set: impl FnOnce(&Path, &Path) -> io::Result<()>,
) -> InWorktree {
    let Some(placed) = placed else {
        return InWorktree::NoPlace;
    };
    let project = worktree
        .canonicalize()
        .unwrap_or_else(|_| worktree.to_owned());
    let trusted = trust.is_some_and(|file| set(file, &project).is_ok());
    InWorktree::Placed { placed, trusted }
}

/// Edits the JSON object in a CLI's `file` (its trust, in its home; made when missing, read
/// up to `max` bytes), the CLI's other entries kept: `edit` changes it and says whether it
/// did (unchanged, the file is not written). A file that is not a JSON object, or a link, is
/// left alone (an error). Concurrent dispatches take turns by a lock file beside it.
/// `comments`: the CLI writes `//` comment lines at its top, kept as they are, and a newline
/// at its end.
pub fn edit_json(
    file: &Path,
    max: u64,
    comments: bool,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>) -> io::Result<bool>,
) -> io::Result<()> {
    let Some(dir) = file.parent() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no directory"));
    };
    std::fs::create_dir_all(dir)?;
    let mut lock_name = file.as_os_str().to_owned();
    lock_name.push(".vnx-lock");
    let _lock = crate::files::lock_file(Path::new(&lock_name), true)?;
    let (header, parsed) = match crate::files::read_bounded(file, max) {
        Ok(data) if comments => {
            let text = String::from_utf8_lossy(&data);
            let (header, body) = split_header(&text);
            (header.to_owned(), serde_json::from_str::<Value>(body))
        }
        Ok(data) => (String::new(), serde_json::from_slice::<Value>(&data)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            (String::new(), Ok(Value::Object(Default::default())))
        }
        Err(e) => return Err(e),
    };
    let Ok(Value::Object(mut all)) = parsed else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a JSON object",
        ));
    };
    if !edit(&mut all)? {
        return Ok(());
    }
    let mut data = header.into_bytes();
    data.extend(serde_json::to_vec_pretty(&all).expect("JSON values serialize"));
    if comments {
        data.push(b'\n');
    }
    crate::files::write_atomic_private(file, &data, false)
}

/// The `//` comment lines at the top of a JSON file, kept as they are, and the JSON after
/// them.
pub(crate) fn split_header(text: &str) -> (&str, &str) {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if !(trimmed.starts_with("//") || trimmed.is_empty()) {
            break;
        }
        at += line.len();
    }
    text.split_at(at)
}

/// The home of `provider`'s CLI a dispatch's signed start recorded (absolute), for a start
/// that installed its hooks `turn_end`: where the launch recorded their trust. `None` for any
/// other start, and for one recorded before starts named the CLIs' homes.
pub fn recorded_home(
    started: &crate::receipts::DispatchStarted,
    turn_end: &HookKind,
    provider: &str,
) -> Option<PathBuf> {
    if started.hooks != *turn_end {
        return None;
    }
    let home = PathBuf::from(started.cli_homes.as_ref()?.homes.get(provider)?);
    home.is_absolute().then_some(home)
}

/// Quotes a string for POSIX `sh` (single quotes; `'` becomes `'\''`). Hook commands are shell
/// strings by the CLIs' design; vnx only ever puts its own binary path and the dispatch
/// directory in them, and quotes both.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The shell command a hook given as a shell string runs.
pub fn hook_command(vnx: &Path, event: &str, dispatch_dir: &Path) -> String {
    format!(
        "{} __hook {event} --dir {}",
        sh_quote(&vnx.to_string_lossy()),
        sh_quote(&dispatch_dir.to_string_lossy())
    )
}

/// Seconds a CLI gives one of vnx's hooks (a CLI that reads `timeout` in milliseconds gets
/// the same time in its unit).
pub const HOOK_TIMEOUT_SECS: u64 = 30;

/// Seconds a CLI gives vnx's permission hook, which waits that long (less a
/// margin) for `vnx approve`/`vnx deny` while the prompt shows in the pane.
pub const PERMISSION_HOOK_TIMEOUT_SECS: u64 = 600;

/// A command hook as the JSON settings of a CLI take it.
pub fn command_hook(command: String, timeout: u64) -> serde_json::Value {
    serde_json::json!([{ "hooks": [{ "type": "command", "command": command, "timeout": timeout }] }])
}

/// A TOML basic string (what a `-c key=value` override parses).
pub fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What one of a CLI's hook signals says about its worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookSays {
    /// It waits for a person: for what, the tool, the command (or file) and the CLI's own
    /// message, each non-empty as the payload gave it (the caller bounds them).
    Waiting {
        /// What it waits for.
        waiting_for: WaitingFor,
        /// The tool that asks.
        tool: Option<String>,
        /// The command (or file) it asks about.
        command: Option<String>,
        /// The CLI's own words.
        message: Option<String>,
    },
    /// It goes on: a tool ran, a turn ended.
    GoesOn,
    /// Nothing about waiting or going on.
    Nothing,
}

/// What a TUI shows when a denial cancelled its turn, and the hook signal vnx writes for it
/// (see [`CodingCli::denial_ends_turn`](super::CodingCli::denial_ends_turn)).
#[derive(Clone, Debug, PartialEq)]
pub struct DenialEnd {
    /// A line its screen shows once the turn was cancelled.
    pub shows: &'static str,
    /// The hook event that ends its turn.
    pub event: &'static str,
    /// That hook's payload, with the denial as the last message.
    pub payload: serde_json::Value,
}

/// Which thread of the worker's a turn-end signal is from, for a CLI whose end-of-turn hook
/// also fires for threads of its own (a title's): the thread, and whether its input was the
/// dispatch's prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnThread {
    /// The thread's id.
    pub id: String,
    /// Whether the thread's input held the dispatch's prompt.
    pub prompted: bool,
}

/// The non-empty string at `path` in a hook's payload.
pub fn payload_text(v: &Value, path: &[&str]) -> Option<String> {
    let cur = path.iter().try_fold(v, |cur, key| cur.get(key))?;
    cur.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// A `PermissionRequest` hook's payload, the shape two CLIs' hooks engines send: `tool_name`,
/// and `tool_input`'s command or file.
pub fn permission_request(p: &Value) -> HookSays {
    HookSays::Waiting {
        waiting_for: WaitingFor::Permission,
        tool: payload_text(p, &["tool_name"]),
        command: payload_text(p, &["tool_input", "command"])
            .or_else(|| payload_text(p, &["tool_input", "file_path"])),
        message: None,
    }
}

/// A `Notification` hook's payload in the same engines' shape: waiting on a permission
/// prompt when its `notification_type` is `permission_prompt`, with its message; any other
/// notification (an idle prompt after a turn) says nothing.
pub fn notification(p: &Value) -> HookSays {
    if payload_text(p, &["notification_type"]).as_deref() == Some("permission_prompt") {
        HookSays::Waiting {
            waiting_for: WaitingFor::Permission,
            tool: None,
            command: None,
            message: payload_text(p, &["message"]),
        }
    } else {
        HookSays::Nothing
    }
}

/// What a `PermissionRequest` hook of the same engines prints for a person's answer: the
/// `hookSpecificOutput.decision` they read. An allow runs the tool; a deny's message (the
/// person's, or a default one) is the tool's error the model gets.
pub fn permission_decision(answer: PermissionAnswer, message: Option<String>) -> Value {
    let decision = match answer {
        PermissionAnswer::Approve => serde_json::json!({"behavior": "allow"}),
        PermissionAnswer::Deny => serde_json::json!({
            "behavior": "deny",
            "message": message.unwrap_or_else(|| "A person denied this with `vnx deny`.".to_owned()),
        }),
    };
    serde_json::json!({
        "hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}
    })
}

/// The hooks vnx gives a CLI whose hooks engine is the one two CLIs share, each named by the
/// event `vnx __hook` takes for it: `Stop` ends a turn (with its `last_assistant_message`);
/// `PermissionRequest` comes as a tool waits for a person, with the tool and its input, and
/// waits itself for `vnx approve`/`deny`, printing the decision the CLI reads
/// ([`permission_decision`]); `Notification` of type `permission_prompt` says the worker
/// waits (any other says nothing); `PostToolUse` and `Stop` say it goes on.
#[derive(Debug)]
pub struct EngineHooks {
    /// Its events: `Stop`'s, `Notification`'s, `PermissionRequest`'s and `PostToolUse`'s.
    pub events: &'static [&'static str; 4],
    /// The events that show the worker went on past a prompt ([`Hooks::went_on`]).
    pub went_on: &'static [&'static str],
    /// Whether a prompt its `Notification` names is one its permission hook can answer (it
    /// comes while that hook waits, not once the hook gave up).
    pub notified_answers: bool,
    /// Whether its `Stop` hook names the background work still running
    /// ([`background_tasks`]).
    pub background: bool,
}

impl EngineHooks {
    /// Its `PermissionRequest` hook's event.
    fn permission(&self) -> &'static str {
        self.events[2]
    }
}

impl Hooks for EngineHooks {
    fn events(&self) -> &'static [&'static str] {
        self.events
    }

    fn says(&self, event: &str, p: &Value) -> HookSays {
        let [stop, notified, permission, post] = *self.events;
        if event == permission {
            permission_request(p)
        } else if event == notified {
            notification(p)
        } else if event == post || event == stop {
            HookSays::GoesOn
        } else {
            HookSays::Nothing
        }
    }

    fn message<'p>(&self, payload: &'p Value) -> Option<&'p str> {
        payload.get("last_assistant_message")?.as_str()
    }

    fn decision(
        &self,
        event: &str,
        answer: PermissionAnswer,
        message: Option<String>,
    ) -> Option<Value> {
        (event == self.permission()).then(|| permission_decision(answer, message))
    }

    fn answering(&self) -> Option<&'static str> {
        Some(self.permission())
    }

    fn answers(&self, source: &str) -> bool {
        source == self.permission() || (self.notified_answers && source == self.events[1])
    }

    fn went_on(&self) -> &'static [&'static str] {
        self.went_on
    }

    fn once_per_prompt(&self, event: &str) -> bool {
        event == self.permission()
    }

    fn background(&self, event: &str, payload: &Value) -> Option<(Vec<BackgroundTask>, u32)> {
        (self.background && event == self.events[0])
            .then(|| background_tasks(payload))
            .flatten()
    }
}

/// The hooks vnx gives a CLI (its own hook mechanism, never the screen): what each of their
/// signals says, where they are placed and trusted, and the one that waits for a person's
/// answer. A capability a CLI's module implements once, in its `hooks.rs` (or gives as a
/// value of a shared type there, [`EngineHooks`]); `CodingCli::hooks` hands it out. Every
/// payload is the worker's CLI's: hostile.
pub trait Hooks: Sync {
    /// The events of the hooks vnx gives it, as `vnx __hook` takes them (signal files and
    /// receipts name them so).
    fn events(&self) -> &'static [&'static str];

    /// What one of its hook signals (`event`, as `vnx __hook` names it, and the payload the
    /// CLI gave the hook) says about its worker, from the CLI's own hooks, never the screen.
    fn says(&self, event: &str, payload: &Value) -> HookSays;

    /// The session (or thread) id one of its hook signals names; `turn_end`: the signal that
    /// ended the turn. By default the payload's `session_id`.
    fn session<'p>(&self, _event: &str, payload: &'p Value, _turn_end: bool) -> Option<&'p str> {
        payload.get("session_id")?.as_str()
    }

    /// The last assistant message its end-of-turn hook's payload carries.
    fn message<'p>(&self, _payload: &'p Value) -> Option<&'p str> {
        None
    }

    /// Which of its threads a turn end is from, for a CLI whose end-of-turn hook also fires
    /// for threads of its own (only the dispatch's thread ends its turn); `None`: every turn
    /// end is the dispatch's.
    fn turn_thread(&self, _payload: &Value, _prompt_arg: &str) -> Option<TurnThread> {
        None
    }

    /// How its hooks live in a dispatch's worktree, for a CLI that reads them only there;
    /// `None`: they live elsewhere.
    fn in_worktree(&self) -> Option<&'static WorktreeHooks> {
        None
    }

    /// Where it reads its hooks' trust for a project, in its homes, when it asks before it
    /// runs a project's hooks: the launch records vnx's hooks there.
    fn trust_file(&self, homes: &super::session::Homes) -> Option<PathBuf> {
        let w = self.in_worktree()?;
        homes.get(w.home).map(w.trust_in)
    }

    /// The trust file a dispatch's signed start locates (see [`Hooks::trust_file`]),
    /// for recovery: only for a start that installed its hooks.
    fn recorded_trust(&self, started: &crate::receipts::DispatchStarted) -> Option<PathBuf> {
        let w = self.in_worktree()?;
        recorded_home(started, &w.turn_end, w.home).map(|home| (w.trust_in)(&home))
    }

    /// Places its hooks in a dispatch's worktree, when the launch gives it hooks that live
    /// there, and records them as trusted in `trust` (from [`Hooks::trust_file`]); without a
    /// place for them its turns end unseen.
    fn place(
        &self,
        launch: &Launch<'_>,
        worktree: &Path,
        trust: Option<&Path>,
    ) -> std::io::Result<InWorktree> {
        match self.in_worktree() {
            Some(w) if *launch.hooks == w.turn_end => {
                (w.place)(worktree, launch.vnx, launch.dispatch_dir, trust)
            }
            _ => Ok(InWorktree::Nothing),
        }
    }

    /// Takes the trust [`Hooks::place`] recorded for `project` out of `file` again
    /// (best effort).
    fn forget_trust(&self, file: &Path, project: &Path) {
        if let Some(w) = self.in_worktree() {
            let _ = (w.forget)(file, project);
        }
    }

    /// What its hook `event` prints for it to read a person's answer (`vnx approve`/`deny`,
    /// with the deny's message), where that hook waits for one; `None` where none does.
    fn decision(
        &self,
        _event: &str,
        _answer: PermissionAnswer,
        _message: Option<String>,
    ) -> Option<Value> {
        None
    }

    /// The event of its hook that waits for a person's answer (`vnx approve`/`deny`) while
    /// its prompt shows, and prints it (see [`Hooks::decision`]); `None` where no
    /// hook of its can answer.
    fn answering(&self) -> Option<&'static str> {
        None
    }

    /// Whether a prompt its signal `source` (a hook's event) showed is one its answering
    /// hook can answer.
    fn answers(&self, _source: &str) -> bool {
        false
    }

    /// The events of its hooks that show the worker went on past a prompt (a tool ran, the
    /// turn ended, another prompt came): a waiting hook gives up, a person answered in the
    /// pane.
    fn went_on(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether it sends `event` once for each prompt it shows, so a second one while the
    /// worker is blocked by the first is a new prompt (the first was answered unseen).
    fn once_per_prompt(&self, _event: &str) -> bool {
        false
    }

    /// The background work (shells, sub-agents) its end-of-turn hook `event` says still
    /// runs as the turn ends, at most [`BackgroundTask::MAX_TASKS`] with how many more;
    /// `None` where its hooks say nothing of background work (ADR 0096). The supervisor
    /// does not conclude on a turn end that names some.
    fn background(&self, _event: &str, _payload: &Value) -> Option<(Vec<BackgroundTask>, u32)> {
        None
    }
}

/// The running entries of a hook payload's `background_tasks` (`[{id, type, status,
/// description, command}]`, as the engine's `Stop` hook carries them where it names them),
/// each text cut, at most [`BackgroundTask::MAX_TASKS`], with how many more ran; an entry
/// whose status is not `running` has ended. `None` when the payload has no such list.
pub fn background_tasks(payload: &Value) -> Option<(Vec<BackgroundTask>, u32)> {
    let list = payload.get("background_tasks")?.as_array()?;
    let text = |v: Option<&Value>| super::stream::task_text(v.and_then(Value::as_str));
    let running = list.iter().filter(|t| {
        t.get("status")
            .and_then(Value::as_str)
            .is_none_or(|s| s == "running")
    });
    let mut tasks = Vec::new();
    let mut more = 0u32;
    for t in running {
        if tasks.len() == BackgroundTask::MAX_TASKS {
            more = more.saturating_add(1);
            continue;
        }
        let mut what = text(t.get("description"));
        if what.is_empty() {
            what = text(t.get("command"));
        }
        tasks.push(BackgroundTask {
            id: text(t.get("id")),
            kind: text(t.get("type")),
            what,
        });
    }
    Some((tasks, more))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A signal of `event` with `payload` as `vnx __hook` records it, for the hooks' tests.
    pub(crate) fn signal(
        event: &str,
        payload: Value,
    ) -> crate::dispatch::supervise::signals::HookSignal {
        crate::dispatch::supervise::signals::HookSignal {
            event: event.into(),
            received_at: "2026-11-22T00:00:00Z".into(),
            payload,
        }
    }

    /// What the supervisor makes of dispatch `D-1`'s signals from `now` on, for the hooks' tests:
    /// answered with `answer_with`, stalled after `stall_after`.
    pub(crate) fn live(
        answer_with: &str,
        stall_after: Option<std::time::Duration>,
        now: std::time::Instant,
    ) -> crate::dispatch::supervise::live::Live {
        let id = crate::ids::DispatchId::parse("D-1").unwrap();
        crate::dispatch::supervise::live::Live::new(&id, answer_with.into(), stall_after, now)
    }

    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "a test runs the quoting through a real sh"
    )]
    fn quoting_survives_the_shell() {
        for s in ["plain", "it's", "a b\"c$d`e\\f", "'", "", "new\nline"] {
            let out = std::process::Command::new("sh")
                .args(["-c", &format!("printf %s {}", sh_quote(s))])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), s);
        }
    }
}
