//! What a worker CLI's own output said about its run, as `dispatch_completed` records it
//! (`cli_events`, `token_usage`): session id, model, token usage, the CLI's own verdict, the
//! last assistant message, tool calls and permission denials; and how much of its text is kept.

use serde::{Deserialize, Serialize};

/// The longest [`StreamSummary::last_message`] kept, in chars (the `…` included).
pub const LAST_MESSAGE_MAX_CHARS: usize = 4000;
/// The longest [`CliVerdict::Error`] message kept, in chars (the `…` included).
pub const ERROR_MESSAGE_MAX_CHARS: usize = 2000;

/// What a worker's stdout said about its run. Everything is optional: a CLI that died early,
/// or printed plain text, leaves most of it unset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct StreamSummary {
    /// The CLI's session (or thread) id, for resuming.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The model the CLI reported using.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Token usage (summed over turns, or as the final result reports it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The CLI's own verdict on the run, from its last result / turn event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<CliVerdict>,
    /// The last assistant message (at most [`LAST_MESSAGE_MAX_CHARS`] chars).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_message: Option<String>,
    /// Tool calls the agent made (commands, edits, searches, MCP calls, …).
    pub tool_calls: u64,
    /// Tool calls refused for lack of permission.
    pub permission_denials: u64,
    /// Agent turns (as its result reports them, or completed turns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_turns: Option<u64>,
    /// The run's cost in US dollars, when the CLI reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// JSON event lines understood.
    pub events: u64,
    /// Non-empty lines that were not a JSON object (or oversize).
    pub unparsed_lines: u64,
    /// Background work (shells, sub-agents) the worker started that still ran when its turn
    /// ended and that the CLI left unfinished as it exited: stopped, or left running where
    /// nothing says when it ends (at most [`super::BackgroundTask::MAX_TASKS`]; ADR 0096).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub background_stopped: Vec<super::BackgroundTask>,
    /// Background work the CLI said it left running as it exited, where nothing says when
    /// it ends (ADR 0099): never recorded as such. The supervisor looks for it among the
    /// processes the worker left running; it counts for nothing when vnx waited for them and
    /// saw them end, else it joins [`StreamSummary::background_stopped`].
    #[serde(skip)]
    pub background_left: Vec<super::BackgroundTask>,
    /// The usage limit the CLI said stopped it (an HTTP 429, a quota), when it said one: each
    /// CLI's module reads only what its CLI was seen to say (ADR 0117).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limit: Option<UsageLimit>,
}

/// A usage limit a CLI said it met.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct UsageLimit {
    /// What it said (at most [`ERROR_MESSAGE_MAX_CHARS`] chars).
    pub said: String,
    /// Seconds from when it said it until the limit resets, when it (or the API's text) said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resets_in_seconds: Option<u64>,
}

/// Token counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct Usage {
    /// Input (prompt) tokens.
    pub input_tokens: u64,
    /// Output (completion) tokens.
    pub output_tokens: u64,
    /// Input tokens served from the prompt cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_input_tokens: Option<u64>,
    /// Input tokens written to the prompt cache, when the CLI reports them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// All tokens, when the CLI reports a total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
}

/// The most tokens one dispatch can plausibly have used, in any one count (10^12: a
/// hundred thousand tokens a second for four months). A CLI's output or session file is
/// written where a worker can reach it, so a larger claim is refused, not recorded or
/// summed: it would otherwise exhaust every budget that counts it.
pub const MAX_PLAUSIBLE_TOKENS: u64 = 1_000_000_000_000;

impl Usage {
    /// The largest count over [`MAX_PLAUSIBLE_TOKENS`] (input and output together
    /// included), if one is; `None` when every count is plausible.
    pub fn implausible(&self) -> Option<u64> {
        [
            Some(self.input_tokens),
            Some(self.output_tokens),
            Some(self.input_tokens.saturating_add(self.output_tokens)),
            self.cached_input_tokens,
            self.cache_creation_input_tokens,
            self.total_tokens,
        ]
        .into_iter()
        .flatten()
        .filter(|n| *n > MAX_PLAUSIBLE_TOKENS)
        .max()
    }
}

/// Where a completion's token usage was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    /// The CLI's own output stream (the headless lane).
    Stream,
    /// The session file the CLI keeps (an interactive worker's TUI writes no stream).
    SessionFile,
}

impl UsageSource {
    /// The source in words.
    pub fn describe(self) -> &'static str {
        match self {
            UsageSource::Stream => "the CLI's output",
            UsageSource::SessionFile => "the CLI's session file",
        }
    }
}

/// What a worker did to the session file vnx followed for its usage while it ran (ADR 0094):
/// only a worker does it, to hide what it spent. The count read before stands, and what the
/// file holds after is counted on top of it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SessionTampering {
    /// It became shorter than what had been read of it.
    Shrank,
    /// Another file took its place (its device and inode changed).
    Replaced,
    /// It was removed.
    Deleted,
}

impl SessionTampering {
    /// In words.
    pub fn describe(self) -> &'static str {
        match self {
            SessionTampering::Shrank => "cut short",
            SessionTampering::Replaced => "replaced",
            SessionTampering::Deleted => "deleted",
        }
    }
}

/// The CLI's own verdict on its run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CliVerdict {
    /// The CLI reported success.
    Success,
    /// The CLI reported an error.
    Error {
        /// What the CLI said (at most [`ERROR_MESSAGE_MAX_CHARS`] chars).
        message: String,
    },
}

impl StreamSummary {
    /// Whether nothing at all was learned from the stream (no field set, every count zero).
    pub fn is_empty(&self) -> bool {
        let StreamSummary {
            session_id,
            model,
            usage,
            verdict,
            last_message,
            tool_calls,
            permission_denials,
            num_turns,
            cost_usd,
            events,
            unparsed_lines,
            background_stopped,
            background_left,
            usage_limit,
        } = self;
        session_id.is_none()
            && model.is_none()
            && usage.is_none()
            && verdict.is_none()
            && last_message.is_none()
            && *tool_calls == 0
            && *permission_denials == 0
            && num_turns.is_none()
            && cost_usd.is_none()
            && *events == 0
            && *unparsed_lines == 0
            && background_stopped.is_empty()
            && background_left.is_empty()
            && usage_limit.is_none()
    }
}
