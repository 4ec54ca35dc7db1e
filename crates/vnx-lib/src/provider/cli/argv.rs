//! What a built-in CLI's argv is made from, shared by the CLIs' modules and
//! `provider::invocation`: the dispatch's wishes ([`Wanted`]), what is decided for every CLI
//! before its own argv ([`Start`]), the argv a CLI's module returns ([`Argv`]), the prompt's
//! placeholders and the escaping of literals.

use std::path::Path;

use crate::receipts::kinds::{
    HookKind, Lane, OutputFormat, Permission, PromptTransport, ProviderCompletion,
};

/// The placeholder for the prompt text in an argv template.
pub const PROMPT: &str = "{prompt}";
/// The placeholder for the prompt file's path in an argv template.
pub const PROMPT_FILE: &str = "{prompt_file}";
/// Prompts longer than this do not travel as an argument (Linux caps one argument at
/// 128 KiB): headless CLIs read them on stdin, TUIs are pointed at the prompt file.
pub const MAX_PROMPT_ARG: usize = 100 * 1024;

/// What a worker may always run without asking, where its CLI has an allow mechanism: the
/// completion protocol.
const REPORT_COMMAND: &str = "vnx report";

/// What an invocation depends on besides the provider.
#[derive(Clone, Copy, Debug)]
pub struct Wanted<'a> {
    /// Headless or interactive.
    pub lane: Lane,
    /// The model; the CLI's default when `None`.
    pub model: Option<&'a str>,
    /// The permission posture.
    pub permission: Permission,
    /// The prompt's length in bytes.
    pub prompt_len: usize,
    /// vnx's own binary (hooks, the demo worker).
    pub vnx: &'a Path,
    /// The dispatch directory (hook settings, prompt file, report).
    pub dispatch_dir: &'a Path,
    /// The CLI session to resume (a follow-up); `None`: a new session. An id checked by
    /// [`crate::provider::session::valid_id`], and passed so it cannot read as an option.
    pub resume: Option<&'a str>,
    /// A new session's id chosen by vnx, for a CLI that takes one (a TUI's `--session-id`),
    /// so the session file read for the dispatch is the one its worker's
    /// CLI wrote (ADR 0052); ignored when resuming.
    pub session: Option<&'a str>,
    /// Command prefixes the role allows without asking (`roles.<role>.allow`), given to
    /// the CLI's own allow mechanism in the `edits` posture; `vnx report` always is.
    pub allow: &'a [String],
    /// Whether it plans (a dispatch of `--plan` before its plan is approved, ADR 0092): its
    /// CLI's plan mode where it has one, else the `ask` posture (`permission`).
    pub plan: bool,
}

impl Wanted<'_> {
    /// The command prefixes the worker may run unasked: `vnx report`, then, in the `edits`
    /// posture, the role's (`ask` asks for everything else; `full` allows everything).
    pub fn allowed_commands(&self) -> Vec<&str> {
        let mut out = vec![REPORT_COMMAND];
        if self.permission == Permission::Edits {
            out.extend(
                self.allow
                    .iter()
                    .map(String::as_str)
                    .filter(|c| *c != REPORT_COMMAND),
            );
        }
        out
    }

    /// `FLAG RULE` for each of [`Wanted::allowed_commands`], its rule made by `rule`: the
    /// allow flags of a CLI that takes its flag repeated.
    pub fn allow_flags(&self, flag: &str, rule: impl Fn(&str) -> String) -> Vec<String> {
        (self.allowed_commands().into_iter())
            .flat_map(|c| [flag.to_owned(), literal(&rule(c))])
            .collect()
    }

    /// The command prefixes given to a CLI's own allow mechanism, which asks for the rest:
    /// [`Wanted::allowed_commands`] in the postures that ask, none in `full` (where everything
    /// runs unasked).
    pub fn unasked_commands(&self) -> Vec<String> {
        match self.permission {
            Permission::Ask | Permission::Edits => self
                .allowed_commands()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            Permission::Full => Vec::new(),
        }
    }
}

/// The placeholder for the session a continuation resumes, given as [`Wanted::resume`] when
/// the id is known only after the worker ran (a worker continued after a usage limit, ADR
/// 0117): the argv keeps it as a template hole, filled in as `session`.
pub const SESSION_HOLE: &str = "{session}";

/// `s` as a template literal: its braces escaped.
pub fn literal(s: &str) -> String {
    s.replace('{', "{{").replace('}', "}}")
}

/// `&str`s as owned strings.
pub fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// What is decided for every built-in CLI before its own argv (the prompt's transport, the
/// posture's flags, the dispatch directory as a template literal); its module's
/// [`CodingCli::argv`](super::CodingCli::argv) builds the rest from it.
#[derive(Clone, Debug)]
pub struct Start<'a> {
    /// What the dispatch asks for.
    pub w: Wanted<'a>,
    /// Whether the prompt is too large to be an argument.
    pub large: bool,
    /// The dispatch directory, as a template literal.
    pub dir: String,
    /// vnx's own binary, as a template literal.
    pub vnx: String,
    /// The flags the posture maps to for this CLI in the lane.
    pub perms: Vec<String>,
    /// How the prompt reaches the worker.
    pub transport: PromptTransport,
    /// The prompt's argument: its placeholder, a line pointing a TUI at the prompt file, or
    /// empty when it goes on stdin.
    pub prompt_arg: String,
}

impl Start<'_> {
    /// `FLAG MODEL` when a model is asked for.
    pub fn model(&self, flag: &str) -> Vec<String> {
        self.w
            .model
            .map(|m| vec![flag.to_owned(), literal(m)])
            .unwrap_or_default()
    }

    /// `FLAG=ID`, one word, when resuming: whatever the id, an option parser (Commander,
    /// yargs) reads it as the option's value, never as an option of its own.
    pub fn resume(&self, flag: &str) -> Vec<String> {
        self.resumed()
            .map(|s| vec![format!("{}={s}", literal(flag))])
            .unwrap_or_default()
    }

    /// The session resumed, as a template word: the id as a literal, or the
    /// [`SESSION_HOLE`] that a continuation fills in once the session is known.
    pub fn resumed(&self) -> Option<String> {
        self.w.resume.map(|s| match s {
            SESSION_HOLE => s.to_owned(),
            _ => literal(s),
        })
    }

    /// `FLAG=ID`, one word, for a new session whose id vnx chose (none when resuming).
    pub fn session(&self, flag: &str) -> Vec<String> {
        match (self.w.resume, self.w.session) {
            (None, Some(id)) => vec![literal(&format!("{flag}={id}"))],
            _ => Vec::new(),
        }
    }
}

/// A built-in CLI's argv, and what it writes and signals.
#[derive(Clone, Debug)]
pub struct Argv {
    /// The argv template.
    pub argv: Vec<String>,
    /// What its stdout is.
    pub output: OutputFormat,
    /// What ends the dispatch successfully.
    pub completion: ProviderCompletion,
    /// The end-of-turn hook vnx installs for it.
    pub hooks: HookKind,
    /// Variables set for the worker only (a CLI whose posture or model is configuration,
    /// not flags), recorded in the signed start; they override the dispatching
    /// environment's.
    pub env: Vec<(String, String)>,
}

impl Argv {
    /// The argv of a CLI whose dispatch the worker's report ends, with no variables of its
    /// own: headless it writes `stream` and is given no hooks, its TUI writes text and is
    /// given `turn_end`.
    pub fn reported(
        argv: Vec<String>,
        lane: Lane,
        stream: OutputFormat,
        turn_end: HookKind,
    ) -> Argv {
        let headless = lane == Lane::Headless;
        Argv {
            argv,
            output: if headless { stream } else { OutputFormat::TEXT },
            completion: ProviderCompletion::Report,
            hooks: if headless { HookKind::NONE } else { turn_end },
            env: Vec::new(),
        }
    }
}
