//! One module per coding CLI behind one trait ([`CodingCli`], ADR 0054): everything vnx knows
//! about a built-in CLI lives in its module below (one per entry of [`CLIS`]), and the shared
//! code (the event parser, the transcript, the invocation, the hooks, `vnx approve`/`deny`,
//! doctor, the sandbox's plan, model checks) asks this registry
//! ([`CLIS`], [`of`], [`streaming`], [`transcript_for`]) instead of naming a CLI. What a CLI's
//! module is handed lives beside it: `argv` (what an argv is made from), `hook` (what a hook
//! is made of), `stream` (what an event parser is given), `render` (what a transcript
//! renderer writes to); `error` is why a provider cannot be used.
//!
//! What has moved so far: the models a CLI takes and implies, its argv per lane and posture,
//! prompt delivery and resuming (the prompt's transport is decided for all in
//! `provider::invocation`), its headless event stream's parser, its transcripts (of the
//! headless stream and of the session file its TUI writes), the hooks it is given and what
//! their signals say, the keys and line of its permission dialog, whether doctor probes it, where `init --mcp`
//! registers vnx with it, where it keeps its state, the files that log it in (`login`).
//! What has not (ADR 0054 lists it): doctor's folder trust, egress
//! defaults, the session files' places (`provider/session`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::receipts::kinds::{Lane, OutputFormat, Permission};
use crate::sandbox::StatePath;
use argv::{Argv, Start, Wanted};
pub use hook::DenialEnd;
use hook::{Hooks, Launch};
use render::TranscriptEvents;
use session::SessionStore;
use stream::HeadlessStream;
use trust::FolderTrust;

pub mod aider;
pub mod argv;
pub mod claude;
pub mod codex;
pub mod copilot;
pub mod demo;
mod error;
pub mod gemini;
pub mod hook;
pub mod login;
pub mod ollama;
pub mod opencode;
pub mod qwen;
pub mod render;
pub mod session;
pub mod stream;
#[cfg(test)]
pub(crate) mod testing;
pub mod trust;
pub mod usage;

pub use error::ProviderError;

/// A built-in provider, in the registry's order ([`Provider::ALL`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Anthropic's Claude Code (`claude`).
    Claude,
    /// OpenAI's Codex CLI (`codex`).
    Codex,
    /// Google's Gemini CLI (`gemini`).
    Gemini,
    /// Alibaba's Qwen Code (`qwen`).
    Qwen,
    /// opencode (`opencode`).
    Opencode,
    /// GitHub's Copilot CLI (`copilot`).
    Copilot,
    /// aider (`aider`, PyPI `aider-chat`).
    Aider,
    /// Ollama (`ollama run`), local models.
    Ollama,
    /// vnx's own offline stand-in (`vnx __demo-worker`).
    Demo,
}

impl Provider {
    /// Every built-in provider, in the registry's order.
    pub const ALL: [Provider; 9] = [
        Provider::Claude,
        Provider::Codex,
        Provider::Gemini,
        Provider::Qwen,
        Provider::Opencode,
        Provider::Copilot,
        Provider::Aider,
        Provider::Ollama,
        Provider::Demo,
    ];

    /// The provider of a dispatch that names neither a provider nor a model.
    pub const DEFAULT: Provider = Provider::Claude;

    /// Every built-in provider's name, in [`Provider::ALL`]'s order (what the config refuses
    /// to declare again).
    pub const NAMES: [&'static str; 9] = [
        "claude", "codex", "gemini", "qwen", "opencode", "copilot", "aider", "ollama", "demo",
    ];

    /// The provider as `--provider` and receipts spell it.
    pub fn name(self) -> &'static str {
        Provider::NAMES[self as usize]
    }

    /// The built-in provider `name` names.
    pub fn parse(name: &str) -> Result<Provider, ProviderError> {
        Provider::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| ProviderError::Unknown {
                name: name.to_owned(),
            })
    }

    /// The provider a model name implies (as VNX; each CLI's
    /// [`CodingCli::implied_by`]). A name that fits two CLIs is an error, not a guess.
    pub fn infer(model: &str) -> Result<Provider, ProviderError> {
        let m = model.to_ascii_lowercase();
        let found: Vec<Provider> = CLIS
            .iter()
            .filter(|cli| cli.implied_by(&m))
            .map(|cli| cli.provider())
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(ProviderError::CannotInfer {
                model: model.to_owned(),
            }),
            [first, second, ..] => Err(ProviderError::Ambiguous {
                model: model.to_owned(),
                first: first.name(),
                second: second.name(),
            }),
        }
    }

    /// Its CLI's module ([`of`]).
    pub fn cli(self) -> &'static dyn CodingCli {
        of(self)
    }

    /// Checks a model for this provider (its module's [`CodingCli::check_model`]).
    pub fn check_model(self, model: Option<&str>) -> Result<(), ProviderError> {
        of(self).check_model(model)
    }
}

/// A model name vnx will pass to a CLI: no spaces, quotes or control characters.
pub fn valid_model(model: &str) -> bool {
    !model.is_empty()
        && model.len() <= 128
        && !model.starts_with('-')
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/[]".contains(&b))
}

/// Refuses a model no CLI could be given (see [`valid_model`]).
pub fn check_valid(provider: Provider, model: Option<&str>) -> Result<(), ProviderError> {
    match model {
        Some(m) if !valid_model(m) => Err(ProviderError::BadModel {
            provider: provider.name(),
            model: m.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Where `vnx init --mcp` registers `vnx mcp` with a CLI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum McpConfig {
    /// A JSON settings file in the project (`file`, relative to its root; project scope),
    /// the server under `servers.vnx`; `stdio_type` adds `"type": "stdio"`; `no_link` is a
    /// folder of the file that must not be a link (a committed link would have the settings
    /// written wherever it points, outside the project).
    ProjectJson {
        /// The file, relative to the project's root.
        file: &'static str,
        /// The key of the servers' map.
        servers: &'static str,
        /// Whether the entry names its transport.
        stdio_type: bool,
        /// A folder of the file that must not be a link.
        no_link: Option<&'static str>,
    },
    /// `file` (a JSON file) in the CLI's home, the server under `servers.vnx` as a local
    /// command whose tools are all offered (`"type": "local"`, `"tools": ["*"]`), user scope;
    /// `unknown_home` is how an error names the home when it is not known.
    HomeJson {
        /// The file, relative to the home.
        file: &'static str,
        /// The key of the servers' map.
        servers: &'static str,
        /// The home as an error names it.
        unknown_home: &'static str,
    },
    /// `file` (a JSON file) in the user's configuration directory (`$XDG_CONFIG_HOME`, else
    /// `~/.config`), the server under `servers.vnx` as a local command given as one list
    /// (`"type": "local"`, `"command": [VNX, "mcp"]`, `"enabled": true`), user scope.
    ConfigDirJson {
        /// The file, relative to the configuration directory.
        file: &'static str,
        /// The key of the servers' map.
        servers: &'static str,
    },
    /// `file` (a `config.toml`) in the CLI's home, `[mcp_servers.vnx]`, user scope;
    /// `unknown_home` is how an error names the home when it is not known.
    HomeToml {
        /// The file, relative to the home.
        file: &'static str,
        /// The home as an error names it.
        unknown_home: &'static str,
    },
}

/// What vnx knows about one built-in coding CLI. Each method has one implementation, in the
/// CLI's module; a CLI without a capability keeps the default (no event stream, no transcript
/// of its own: its output is shown as the text it is).
pub trait CodingCli: Sync {
    /// The provider this CLI is, as `--provider` and receipts name it.
    fn provider(&self) -> Provider;

    /// Whether a model name (lowercased) implies this CLI when no provider is given.
    fn implied_by(&self, _model: &str) -> bool {
        false
    }

    /// The model aliases it resolves itself, named in the hint of a model it does not know.
    fn model_aliases(&self) -> &'static [&'static str] {
        &[]
    }

    /// The model names a shell completes for it (a few aliases; none for a CLI that takes
    /// full names only).
    fn suggested_models(&self) -> &'static [&'static str] {
        &[]
    }

    /// Checks a model for it (`None`: its own default): by default, any name vnx may pass.
    fn check_model(&self, model: Option<&str>) -> Result<(), ProviderError> {
        check_valid(self.provider(), model)
    }

    /// Whether a review gate may name it: it reads a diff and answers headless with a
    /// verdict (the demo cannot).
    fn can_review(&self) -> bool {
        true
    }

    /// Whether it is a program of its own, found on PATH, whose version and flags doctor
    /// checks (the demo is vnx itself).
    fn separate_binary(&self) -> bool {
        true
    }

    /// The program its dispatches run (found on PATH; what doctor probes): by default the
    /// provider's name.
    fn program(&self) -> &'static str {
        self.provider().name()
    }

    /// The lane a dispatch runs in when none is asked for.
    fn default_lane(&self) -> Lane {
        Lane::Headless
    }

    /// Whether it takes the prompt on stdin in `lane` whatever its size: a CLI that would
    /// alter a prompt given as an argument (quote it), and reads stdin as it is.
    fn prompt_on_stdin(&self, _lane: Lane) -> bool {
        false
    }

    /// Whether it resumes a session it recorded, in `lane` (a follow-up); where it does not,
    /// a follow-up starts a new session that is told the earlier instruction.
    fn resumes_sessions(&self, _lane: Lane) -> bool {
        false
    }

    /// Whether vnx chooses the id of a new session it starts in `lane` (and tells it, so its
    /// session file is the only one read for the dispatch, ADR 0052).
    fn chooses_session_id(&self, _lane: Lane) -> bool {
        false
    }

    /// The flags a permission posture maps to in a lane (ADR 0010): `ask` and `edits` never
    /// carry a bypass.
    fn permission_flags(&self, _lane: Lane, _permission: Permission) -> &'static [&'static str] {
        &[]
    }

    /// The flags of its own plan mode in `lane` (ADR 0092): read-only, the plan its last
    /// message. `None`: it has none, and a planning dispatch runs in the `ask` posture with
    /// vnx's instruction to write a plan alone.
    fn plan_flags(&self, _lane: Lane) -> Option<&'static [&'static str]> {
        None
    }

    /// Its argv for one dispatch, and what it writes and signals; an error for a lane it
    /// does not have.
    fn argv(&self, start: &Start<'_>) -> Result<Argv, ProviderError>;

    /// The command prefixes given to its own allow mechanism (in the argv, or a policy file),
    /// recorded in the invocation; empty where the posture or its sandbox decides alone.
    fn allowed_commands(&self, _w: &Wanted<'_>) -> Vec<String> {
        Vec::new()
    }

    /// The completion signal a turn that its end-of-turn hook ended is recorded as (receipts
    /// spell it `…_hook`); `None` where it has no such hook.
    fn turn_end_signal(&self) -> Option<&'static str> {
        None
    }

    /// The hooks vnx gives it, when it has hooks vnx uses: see [`Hooks`].
    fn hooks(&self) -> Option<&'static dyn Hooks> {
        None
    }

    /// The files its hooks need in the dispatch's directory for a launch (the name relative
    /// to that directory, and the bytes); none when the launch gives it no such hooks.
    fn dispatch_files(&self, _launch: &Launch<'_>) -> Vec<(&'static str, Vec<u8>)> {
        Vec::new()
    }

    /// The version its `--version` prints, read from its installation without starting it
    /// (a file its package manager wrote), when it has one: what a launch records instead of
    /// waiting for the CLI's start. `None`: the launch runs `--version`.
    fn installed_version(&self, _binary: &Path) -> Option<String> {
        None
    }

    /// Its TUI's permission dialog in its pane, where no hook of its can answer it: the line
    /// that shows it is up and the keys `vnx approve`/`vnx deny` type; `None` where it has
    /// no such dialog.
    fn pane_dialog(&self) -> Option<trust::PaneDialog> {
        None
    }

    /// When a denial typed into its TUI's dialog cancels the whole turn, so that it idles at
    /// its input and no end-of-turn hook fires: the line its screen then shows and the hook
    /// signal that ends the turn as its hook would have, `said` (the denial) as the
    /// worker's last message. `vnx deny` writes that signal once the line shows.
    fn denial_ends_turn(&self, _said: &str) -> Option<DenialEnd> {
        None
    }

    /// Its headless event stream, when it writes one vnx parses: see [`HeadlessStream`].
    fn stream(&self) -> Option<&'static HeadlessStream> {
        None
    }

    /// Where `vnx init --mcp` registers `vnx mcp` with it, if it takes MCP servers.
    fn mcp_config(&self) -> Option<McpConfig> {
        None
    }

    /// Its home (its config or state directory) as an environment says: `var` looks a
    /// variable up (absolute paths only), `home` is the home directory it names (or the
    /// machine's). By default the state directory a variable moves ([`StatePath::var`]):
    /// where that variable says, else in `home`. `None`: a CLI whose home vnx does not read.
    fn home(&self, var: &dyn Fn(&str) -> Option<PathBuf>, home: Option<&Path>) -> Option<PathBuf> {
        let state = self.state_paths().iter().find(|p| p.var.is_some())?;
        var(state.var?).or_else(|| Some(home?.join(state.rel)))
    }

    /// What it records of its trust in the repository at `root`, where its TUI asks once per
    /// folder before it starts there and that trust covers the worktrees under it (and vnx
    /// cannot answer for the user); `home` is the user's home, `homes` the CLIs'.
    fn folder_trust(
        &self,
        _home: Option<&Path>,
        _homes: &session::Homes,
        _root: &Path,
    ) -> Option<FolderTrust> {
        None
    }

    /// The dialogs its TUI may show before its first turn (in a folder it does not trust,
    /// for a posture its user never accepted), which a person answers through vnx.
    fn start_dialogs(&self) -> &'static [trust::StartDialog] {
        &[]
    }

    /// The session files its TUI keeps, when vnx reads them (to follow the TUI, count its
    /// usage, read its question, resume it): see [`SessionStore`].
    fn sessions(&self) -> Option<&'static dyn SessionStore> {
        None
    }

    /// Whether a dispatch in `lane` takes its token usage from the session file when its
    /// output recorded none: by default only its TUI (a headless stream carries its usage).
    fn usage_from_session(&self, lane: Lane) -> bool {
        lane == Lane::Interactive
    }

    /// Whether the egress policy exempts it by default (a constraints file without `egress:`,
    /// and the shipped file): a local model or an offline stand-in, whose prompt leaves
    /// nothing on the machine.
    fn egress_exempt(&self) -> bool {
        false
    }

    /// Files of the dispatch directory a follow-up's directory starts with, copied from the
    /// directory of the dispatch it continues when it resumes the session: the session a CLI
    /// keeps there (its chat history), for one without a session store of its own.
    fn carried_files(&self) -> &'static [&'static str] {
        &[]
    }

    /// Where the CLI keeps its own state (login, settings, sessions), relative to the home
    /// directory: what a sandboxed worker of this provider may write besides its worktree;
    /// and where its installer keeps its program, which it may read ([`StatePath::program`]).
    fn state_paths(&self) -> &'static [StatePath] {
        &[]
    }

    /// The files in the home directory that log it in, for a place whose `logins:` names it
    /// (a container, a pod): each whole or only the part that logs in, never its history,
    /// its sessions or other projects' state.
    fn login_files(&self) -> &'static [login::LoginFile] {
        &[]
    }
}

/// Every built-in CLI, in the order [`Provider::ALL`] lists them; inference reports them in
/// it.
pub static CLIS: [&dyn CodingCli; 9] = [
    &claude::Claude,
    &codex::Codex,
    &gemini::Gemini,
    &qwen::Qwen,
    &opencode::Opencode,
    &copilot::Copilot,
    &aider::Aider,
    &ollama::Ollama,
    &demo::Demo,
];

/// Every built-in CLI's own program, once each, in [`CLIS`]'s order: what a machine installs
/// (and the tests stand in for, or run for real). The demo is vnx itself; a provider run
/// through another's program (ollama, through opencode) adds none.
pub fn programs() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for cli in CLIS.iter().filter(|c| c.separate_binary()) {
        if !out.contains(&cli.program()) {
            out.push(cli.program());
        }
    }
    out
}

/// The CLI of a built-in provider.
pub fn of(provider: Provider) -> &'static dyn CodingCli {
    CLIS.iter()
        .copied()
        .find(|cli| cli.provider() == provider)
        .expect("every provider has a module in CLIS")
}

/// The CLI of the built-in provider `name` (as a dispatch's spec and receipts record it);
/// `None` for a declared provider's name.
pub fn named(name: &str) -> Option<&'static dyn CodingCli> {
    Provider::parse(name).ok().map(of)
}

/// The CLI whose hooks send `event` (as `vnx __hook` names it).
pub fn of_hook_event(event: &str) -> Option<&'static dyn CodingCli> {
    CLIS.iter()
        .copied()
        .find(|cli| cli.hooks().is_some_and(|h| h.events().contains(&event)))
}

/// Every built-in CLI's hooks, for the CLIs that have them, in [`CLIS`]'s order.
pub fn all_hooks() -> impl Iterator<Item = &'static dyn Hooks> {
    CLIS.iter().filter_map(|cli| cli.hooks())
}

/// The hooks that send `event` (as `vnx __hook` names it).
pub fn hooks_of_event(event: &str) -> Option<&'static dyn Hooks> {
    of_hook_event(event)?.hooks()
}

/// Every built-in CLI's headless stream, for the CLIs that write one, in [`CLIS`]'s order.
pub fn all_streams() -> impl Iterator<Item = &'static HeadlessStream> {
    CLIS.iter().filter_map(|cli| cli.stream())
}

/// The headless stream in `format`, if it is one vnx parses.
pub fn streaming(format: &OutputFormat) -> Option<&'static HeadlessStream> {
    all_streams().find(|s| s.format == *format)
}

/// A renderer of the log whose first recognised event is `event` (of type `kind`).
/// The streams that claim narrowly ([`HeadlessStream::claims_narrowly`]) are asked first.
pub fn transcript_for(kind: &str, event: &Value) -> Option<Box<dyn TranscriptEvents>> {
    let narrow = all_streams().filter(|s| s.claims_narrowly);
    let broad = all_streams().filter(|s| !s.claims_narrowly);
    narrow
        .chain(broad)
        .find(|s| (s.claims)(kind, event))
        .and_then(|s| s.transcript)
        .map(|transcript| transcript())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_imply_providers_and_ambiguity_is_an_error() {
        assert_eq!(Provider::infer("sonnet"), Ok(Provider::Claude));
        assert_eq!(Provider::infer("claude-opus-4-1"), Ok(Provider::Claude));
        assert_eq!(Provider::infer("gpt-5.5"), Ok(Provider::Codex));
        assert_eq!(Provider::infer("gemini-2.5-pro"), Ok(Provider::Gemini));
        assert_eq!(Provider::infer("gemma3:4b"), Ok(Provider::Ollama));
        assert!(matches!(
            Provider::infer("gpt-oss:20b"),
            Err(ProviderError::Ambiguous { .. })
        ));
        assert!(matches!(
            Provider::infer("mystery"),
            Err(ProviderError::CannotInfer { .. })
        ));
    }

    #[test]
    fn models_are_checked() {
        assert!(Provider::Demo.check_model(Some("commit")).is_ok());
        assert!(Provider::Demo.check_model(Some("sonnet")).is_err());
        assert!(Provider::Claude.check_model(Some("--evil")).is_err());
        assert!(Provider::Claude.check_model(Some("a b")).is_err());
        assert!(Provider::Claude.check_model(None).is_ok());
        assert!(Provider::Ollama.check_model(None).is_err());
        // A claude alias's typo is claude's to judge, not other CLIs'.
        assert_eq!(Provider::Gemini.check_model(Some("sonet")), Ok(()));
    }

    #[test]
    fn each_program_is_installed_once() {
        assert_eq!(
            super::programs(),
            [
                "claude", "codex", "gemini", "qwen", "opencode", "copilot", "aider"
            ]
        );
    }

    #[test]
    fn the_names_are_the_providers() {
        assert_eq!(Provider::ALL.map(Provider::name), Provider::NAMES);
        for p in Provider::ALL {
            assert_eq!(serde_json::to_value(p).unwrap(), p.name());
        }
    }

    #[test]
    fn every_provider_has_one_module_in_its_order() {
        for (provider, cli) in Provider::ALL.iter().zip(CLIS) {
            assert_eq!(cli.provider(), *provider);
        }
        assert_eq!(CLIS.len(), Provider::ALL.len());
    }

    #[test]
    fn each_streamed_format_has_one_parser() {
        for stream in all_streams() {
            let found = streaming(&stream.format).unwrap();
            assert!(std::ptr::eq(found, stream), "{:?}", stream.format);
        }
        assert!(streaming(&OutputFormat::TEXT).is_none());
    }

    #[test]
    fn each_sample_is_drawn_by_its_own_transcript() {
        // The first event of a log that a CLI's transcript claims picks the renderer
        // (`transcript_for`: the narrow claims first, then the rest in CLIS' order).
        let asked: Vec<&HeadlessStream> = all_streams()
            .filter(|s| s.claims_narrowly)
            .chain(all_streams().filter(|s| !s.claims_narrowly))
            .collect();
        let drawing = |event: &Value| {
            let kind = event["type"].as_str().unwrap_or("");
            asked
                .iter()
                .copied()
                .find(|s| (s.claims)(kind, event))
                .filter(|s| s.transcript.is_some())
        };
        let mut checked = 0;
        for stream in all_streams().filter(|s| {
            s.transcript.is_some() && !s.sample.is_empty() && !(s.parser)().reads_text()
        }) {
            let first = stream
                .sample
                .iter()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter(Value::is_object)
                .find_map(|event| drawing(&event))
                .unwrap_or_else(|| {
                    panic!("{:?}: no event of its sample is claimed", stream.format)
                });
            assert!(
                std::ptr::eq(first, stream),
                "{:?}'s sample is drawn as {:?}'s",
                stream.format,
                first.format
            );
            checked += 1;
        }
        assert!(checked >= 3, "{checked}");
    }
}
