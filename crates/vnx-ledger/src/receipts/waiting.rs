//! Receipts of a running dispatch's live state: `dispatch_blocked` when its worker waits for a
//! person (a permission prompt), `dispatch_stalled` when it has produced nothing for a while,
//! and `dispatch_resumed` when it goes on. The supervisor writes them from the CLIs' own hooks
//! and from the pane's activity; none of them ends the dispatch. `dispatch_answered` records
//! a person's `vnx approve` or `vnx deny` of a blocked worker's permission prompt;
//! `dispatch_background` when its turn ended while background work it started still runs;
//! `dispatch_limited` when its CLI stopped at a usage limit the provider imposed (ADR 0117).

use serde::{Deserialize, Serialize};

use crate::ids::DispatchId;

use super::{Extra, RemoteOrigin};

/// What a blocked worker waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitingFor {
    /// A decision on a permission prompt (run this command, write this file).
    Permission,
    /// An answer to a question, in the pane.
    Input,
}

impl WaitingFor {
    /// As receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            WaitingFor::Permission => "permission",
            WaitingFor::Input => "input",
        }
    }
}

/// `dispatch_blocked`: the worker waits for a person, as its CLI's hook said.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchBlocked {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// What it waits for.
    pub waiting_for: WaitingFor,
    /// The tool the prompt is about (`Bash`, `run_shell_command`, …), when the hook names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The command the prompt asks to run, when the hook names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The CLI's own words (`… needs your permission`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The hook event that said so (`CLI-permission-request`, `CLI-notification`, …).
    pub source: String,
    /// How to answer: the command that attaches to the worker's pane.
    pub answer_with: String,
    /// Set when the receipt was written on a remote host and re-attested here: which line of
    /// the host's ledger it came from (see [`RemoteOrigin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteOrigin>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

impl DispatchBlocked {
    /// What the worker waits for, in one line: `permission: Bash: git commit …  (answer:
    /// vnx approve D-… or vnx deny D-…)`. A permission prompt is answered without attaching;
    /// a question in the pane, or a prompt on a remote host, by attaching (`answer_with`).
    pub fn describe(&self) -> String {
        let answer = match (self.waiting_for, &self.remote) {
            (WaitingFor::Permission, None) => {
                format!("vnx approve {id} or vnx deny {id}", id = self.dispatch_id)
            }
            _ => self.answer_with.clone(),
        };
        format!("{}  (answer: {answer})", self.what())
    }

    /// What the worker waits for, without how to answer it: `permission: Bash: git commit …`
    /// (what a page that offers its own buttons shows).
    pub fn what(&self) -> String {
        let detail = match (&self.tool, &self.command) {
            (Some(t), Some(c)) => format!("{t}: {c}"),
            (Some(t), None) => t.clone(),
            (None, Some(c)) => c.clone(),
            (None, None) => self.message.clone().unwrap_or_default(),
        };
        format!("{}: {detail}", self.waiting_for.name())
    }
}

/// `dispatch_stalled`: the worker produced nothing (no output, no hook, no report) for
/// `idle_seconds`. It is not stopped: its deadline still decides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchStalled {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// How long nothing happened.
    pub idle_seconds: f64,
    /// The dispatch's stall threshold.
    pub stall_after_seconds: u64,
    /// Set when the receipt was written on a remote host and re-attested here: which line of
    /// the host's ledger it came from (see [`RemoteOrigin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteOrigin>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `dispatch_resumed`: a blocked or stalled worker goes on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchResumed {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// What it was: `blocked`, `stalled`, or `lost` (given up on with its host, which was
    /// found running it again: [`DispatchResumed::AFTER_LOST`]).
    pub after: String,
    /// How long it was so.
    pub waited_seconds: f64,
    /// What showed it going on (a hook event, `output`, `report`).
    pub source: String,
    /// Set when the receipt was written on a remote host and re-attested here: which line of
    /// the host's ledger it came from (see [`RemoteOrigin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteOrigin>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

impl DispatchResumed {
    /// [`DispatchResumed::after`] for a dispatch given up on with its host (`remote_lost`)
    /// whose host, answering again, runs it still: live again, as before it was given up on.
    pub const AFTER_LOST: &'static str = "lost";
}

/// One piece of background work a worker's CLI said still runs as its turn ended: a shell
/// command it started in the background, or a sub-agent. What the CLI's hook or event said,
/// each text cut to [`BackgroundTask::MAX_TEXT`] characters: the worker's CLI wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BackgroundTask {
    /// The CLI's id for it.
    pub id: String,
    /// What it is, as the CLI says: `shell`, `subagent`.
    pub kind: String,
    /// What it does: its description, else its command.
    pub what: String,
}

impl BackgroundTask {
    /// The longest id, kind or description kept, in characters.
    pub const MAX_TEXT: usize = 200;
    /// The most tasks a receipt keeps.
    pub const MAX_TASKS: usize = 16;
}

/// `dispatch_background`: the worker's turn ended while background work it started still
/// runs (its CLI's end-of-turn hook or events said so). It is not done: the supervisor waits
/// for that work (its CLI's next end of turn without it) before it concludes; a later
/// `dispatch_resumed` (`after: background`) says the work ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchBackground {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// What still runs (at most [`BackgroundTask::MAX_TASKS`]).
    pub tasks: Vec<BackgroundTask>,
    /// How many ran in all, when more than `tasks` lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more: Option<u32>,
    /// The hook event (or stream event) that said so.
    pub source: String,
    /// Set when the receipt was written on a remote host and re-attested here: which line of
    /// the host's ledger it came from (see [`RemoteOrigin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteOrigin>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

impl DispatchBackground {
    /// [`DispatchResumed::after`] once the background work ended.
    pub const AFTER: &'static str = "background";

    /// What it waits on, in one line: `1 background task: slow tests`.
    pub fn describe(&self) -> String {
        Self::describe_tasks(&self.tasks, self.more)
    }

    /// `tasks` (and `more` not listed) in one line: `1 background task: slow tests`.
    pub fn describe_tasks(tasks: &[BackgroundTask], more: Option<u32>) -> String {
        let n = tasks.len() + more.unwrap_or(0) as usize;
        let names: Vec<String> = tasks
            .iter()
            .map(|t| match t.kind.as_str() {
                "shell" | "" => t.what.clone(),
                kind => format!("{} ({kind})", t.what),
            })
            .collect();
        let more = match more {
            Some(m) if m > 0 => format!(", and {m} more"),
            _ => String::new(),
        };
        format!(
            "{n} background task{}: {}{more}",
            if n == 1 { "" } else { "s" },
            names.join(", ")
        )
    }
}

/// A person's answer to a permission prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PermissionAnswer {
    /// Allowed: the worker runs what it asked for (once).
    Approve,
    /// Refused: the worker is told no.
    Deny,
}

impl PermissionAnswer {
    /// As receipts spell it.
    pub fn name(self) -> &'static str {
        match self {
            PermissionAnswer::Approve => "approve",
            PermissionAnswer::Deny => "deny",
        }
    }
}

/// How an answer reached the worker's CLI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnsweredVia {
    /// The CLI's own mechanism: the decision its waiting permission hook returned.
    Hook,
    /// Keys typed into the prompt in the worker's pane, where the CLI offers nothing else.
    Pane,
    /// The place the dispatch runs in (a host, a container, a pod) answered it with its own
    /// vnx, which recorded how on its ledger.
    Place,
}

/// Where the request a person answered (`tool`, `command`) was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestFrom {
    /// A hook call in the worker's dispatch: the CLI's own, or one its worker made itself
    /// (`vnx __hook` is on its `PATH`), which vnx cannot tell apart. Only the pane's dialog
    /// (`pane_dialog`) shows what the CLI itself asked.
    WorkerHook,
    /// The CLI's permission dialog on the pane's screen, for a CLI with no hook that signals
    /// one: what the worker's terminal showed, which the worker's own output could imitate.
    Screen,
}

/// `dispatch_answering`: a person's answer to a blocked worker's permission prompt, recorded
/// before it is given, so that who decided is on the ledger whatever happens next. Its
/// `dispatch_answered` follows once the worker has the answer; an answer killed between the
/// two is concluded by the next command that reads the dispatch (the worker went on), or
/// given again by the next `vnx approve`/`vnx deny` (it still waits).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchAnswering {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// The answer about to be given.
    pub answer: PermissionAnswer,
    /// Who answers.
    pub by: String,
    /// The hook event of the prompt answered (`dispatch_blocked`'s `source`).
    pub source: String,
    /// The tool the prompt was about, when it was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The command the prompt asked to run, when it was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// How the answer is to reach the CLI.
    pub via: AnsweredVia,
    /// What the worker is told with a denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The line of the `dispatch_blocked` answered, on this ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_seq: Option<u64>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `dispatch_answered`: a person answered a blocked worker's permission prompt with
/// `vnx approve` or `vnx deny`. The worker's going on is its own `dispatch_resumed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchAnswered {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// The answer.
    pub answer: PermissionAnswer,
    /// Who answered: the user `vnx` ran as.
    pub by: String,
    /// The hook event of the prompt answered (`dispatch_blocked`'s `source`).
    pub source: String,
    /// The tool the prompt was about, when it was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The command the prompt asked to run, when it was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// How the answer reached the CLI.
    pub via: AnsweredVia,
    /// The keys typed into the pane (`via: pane`), as tmux names them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<String>,
    /// What the worker was told with a denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where `tool` and `command` were read from (absent on receipts written before vnx
    /// said: they came from the worker's hook as well).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_from: Option<RequestFrom>,
    /// The lines of the CLI's permission dialog on the worker's pane when the answer was
    /// given, as tmux showed them. Absent when no dialog was on the pane: then nothing but
    /// the worker's hook call vouches for the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pane_dialog: Option<String>,
    /// Set when a later command recorded it: the answer its `dispatch_answering` announced
    /// was given by a command killed before it recorded this, and the worker went on since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concluded: Option<String>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(waiting_for: WaitingFor) -> DispatchBlocked {
        serde_json::from_value(serde_json::json!({
            "dispatch_id": "D-0123456789ab",
            "waiting_for": waiting_for.name(),
            "tool": "Bash",
            "command": "git commit -m x",
            "source": "cli-permission-request",
            "answer_with": "vnx attach D-0123456789ab",
        }))
        .unwrap()
    }

    #[test]
    fn a_permission_prompt_names_approve_and_deny_and_a_question_attach() {
        assert_eq!(
            blocked(WaitingFor::Permission).describe(),
            "permission: Bash: git commit -m x  (answer: vnx approve D-0123456789ab or vnx deny \
             D-0123456789ab)"
        );
        assert_eq!(
            blocked(WaitingFor::Input).describe(),
            "input: Bash: git commit -m x  (answer: vnx attach D-0123456789ab)"
        );
    }
}

/// `dispatch_limited`: the worker's CLI stopped at a usage limit its provider imposed (an
/// HTTP 429, a quota): not the worker's own end. The supervisor waits for the reset, then
/// continues the worker once in the same session (ADR 0117); a `dispatch_resumed` whose
/// `after` is `limited` says it went on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DispatchLimited {
    /// The dispatch.
    pub dispatch_id: DispatchId,
    /// The provider (the CLI) whose account is limited.
    pub provider: String,
    /// What the CLI or the API said of the limit (escaped, at most
    /// [`super::cli_events::ERROR_MESSAGE_MAX_CHARS`] chars).
    pub said: String,
    /// When the limit resets, when the CLI or the API said so (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<crate::ids::Timestamp>,
    /// When vnx continues the worker: the reset, else its own wait (`limits.wait_seconds`).
    pub continues_at: crate::ids::Timestamp,
    /// How many limits this dispatch met, this one included.
    pub limit_count: u32,
    /// Set when the receipt was written on a remote host and re-attested here: which line of
    /// the host's ledger it came from (see [`RemoteOrigin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteOrigin>,
    /// Members this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Extra,
}

impl DispatchLimited {
    /// In words, as `status` shows it under the dispatch: `limited until 14:05 UTC (the
    /// reset its CLI said): …`.
    pub fn describe(&self) -> String {
        let hhmm = |t: &crate::ids::Timestamp| t.as_str().get(11..16).unwrap_or("?").to_owned();
        let whose = match &self.resets_at {
            Some(_) => "the reset its CLI said",
            None => "no reset was said; vnx's own wait",
        };
        format!(
            "limited until {} UTC ({whose}): {}",
            hhmm(&self.continues_at),
            self.said
        )
    }
}

impl DispatchResumed {
    /// [`DispatchResumed::after`] for a dispatch that waited out a usage limit.
    pub const AFTER_LIMITED: &'static str = "limited";
}
