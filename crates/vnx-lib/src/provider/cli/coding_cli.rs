//! What every built-in CLI's module implements ([`CodingCli`], ADR 0054), what it gives as
//! data ([`CliFacts`]) and what it is handed to do so (where `vnx init --mcp` registers vnx,
//! which model names may be passed), named by no CLI: the CLIs' modules take it from here,
//! and only the registry (`provider::cli`) names them.

use std::path::{Path, PathBuf};

use super::argv::{Argv, Start, Wanted};
use super::error::ProviderError;
use super::hook::{DenialEnd, Hooks, Launch};
use super::login;
use super::session::{self, SessionStore};
use super::stream::HeadlessStream;
use super::trust::{self, FolderTrust};
use crate::receipts::kinds::{Lane, Permission};
use crate::sandbox::StatePath;

/// Reads the usage limits a TUI's screen shows, each with its CLI's words.
pub type TuiLimits = fn(&str) -> Vec<crate::receipts::UsageLimit>;

/// Reads what a CLI records of its trust in a repository ([`CodingCli::folder_trust`]).
pub(crate) type FolderTrustOf = fn(Option<&Path>, &session::Homes, &Path) -> Option<FolderTrust>;

/// Makes the files a CLI's hooks need in a dispatch's directory ([`CodingCli::dispatch_files`]).
pub(crate) type DispatchFiles = fn(&Launch<'_>) -> Vec<(&'static str, Vec<u8>)>;

/// A model name vnx will pass to a CLI: no spaces, quotes or control characters.
pub fn valid_model(model: &str) -> bool {
    !model.is_empty()
        && model.len() <= 128
        && !model.starts_with('-')
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/[]".contains(&b))
}

/// Refuses a model no CLI could be given (see [`valid_model`]), `provider` naming it.
pub fn check_valid(provider: &'static str, model: Option<&str>) -> Result<(), ProviderError> {
    match model {
        Some(m) if !valid_model(m) => Err(ProviderError::BadModel {
            provider,
            model: m.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// A home of its own that vnx gives a CLI in each dispatch's directory (ADR 0126), for a CLI
/// that keeps memory in its home which nothing short of moving the whole home moves: the CLI
/// is pointed at it by `var` and keeps its state in `state` below it, seeded from the user's
/// but for its memory file `memory`, which is the dispatch's memory folder's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnHome {
    /// The variable that moves its home.
    pub var: &'static str,
    /// Its state directory below the home.
    pub state: &'static str,
    /// Its memory file in the state directory (it loads it into every session).
    pub memory: &'static str,
}

impl OwnHome {
    /// The home in the dispatch directory `dispatch_dir`.
    pub fn of(dispatch_dir: &Path) -> PathBuf {
        dispatch_dir.join("own-home")
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

/// How a CLI is given its API key and the provider's address, where both come from
/// variables the relay can stand in for (a CLI's [`CodingCli::relayed_key`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyVars {
    /// The variable that holds the key.
    pub key: &'static str,
    /// The variables that hold the provider's base URL, the one the CLI reads first first:
    /// the first set is where the relay goes, and each is the relay's in the worker's
    /// environment.
    pub base_urls: &'static [&'static str],
    /// How many of the key's last characters the placeholder ends with: what the CLI shows
    /// of a key and keeps, in its own files, to know one a person allowed (so a key allowed
    /// before is allowed through its placeholder, and the worker learns nothing its copy of
    /// those files does not already say).
    pub kept_suffix: usize,
    /// The base URL the CLI uses when that variable is not set; `None`: the key is relayed
    /// only when it is set (without it, the key goes to a service of the CLI's own that
    /// takes it in another form).
    pub default_base: Option<&'static str>,
}

/// Both lanes, for a member of [`CliFacts`] that lists the lanes something holds in.
pub const BOTH_LANES: &[Lane] = &[Lane::Headless, Lane::Interactive];

/// What a built-in CLI is as data, given once by its module ([`CodingCli::facts`]): each
/// member is what the trait's method of that name says (documented there); a CLI without a
/// capability keeps [`CliFacts::named`]'s.
#[derive(Clone, Copy)]
pub struct CliFacts {
    /// [`CodingCli::name`].
    pub name: &'static str,
    /// [`CodingCli::argv`].
    pub argv: fn(&Start<'_>) -> Result<Argv, ProviderError>,
    /// [`CodingCli::implied_by`].
    pub implied_by: fn(&str) -> bool,
    /// The lanes of [`CodingCli::prompt_on_stdin`].
    pub prompt_on_stdin: &'static [Lane],
    /// The lanes of [`CodingCli::resumes_sessions`].
    pub resumes_sessions: &'static [Lane],
    /// The lanes of [`CodingCli::chooses_session_id`].
    pub chooses_session_id: &'static [Lane],
    /// The flags of each posture of [`CodingCli::permission_flags`], the same in both lanes.
    pub permission_flags: fn(Permission) -> &'static [&'static str],
    /// [`CodingCli::plan_flags`], the same in both lanes.
    pub plan_flags: Option<&'static [&'static str]>,
    /// Whether [`CodingCli::allowed_commands`] are the commands that run unasked
    /// ([`Wanted::unasked_commands`]), given to its own allow mechanism.
    pub allows_commands: bool,
    /// [`CodingCli::turn_end_signal`].
    pub turn_end_signal: Option<&'static str>,
    /// [`CodingCli::hooks`].
    pub hooks: Option<&'static dyn Hooks>,
    /// [`CodingCli::folder_trust`].
    pub folder_trust: Option<FolderTrustOf>,
    /// [`CodingCli::dispatch_files`].
    pub dispatch_files: DispatchFiles,
    /// [`CodingCli::denial_ends_turn`].
    pub denial_ends_turn: Option<fn(&str) -> DenialEnd>,
    /// [`CodingCli::tui_limits`].
    pub tui_limits: Option<TuiLimits>,
    /// [`CodingCli::pane_dialog`].
    pub pane_dialog: Option<trust::PaneDialog>,
    /// [`CodingCli::keeps_memory`].
    pub keeps_memory: bool,
    /// The npm package whose version [`CodingCli::installed_version`] reads: its
    /// `--version` prints its package's version.
    pub npm_package: Option<&'static str>,
    /// [`CodingCli::stream`].
    pub stream: Option<&'static HeadlessStream>,
    /// [`CodingCli::mcp_config`].
    pub mcp_config: Option<McpConfig>,
    /// [`CodingCli::sessions`].
    pub sessions: Option<&'static dyn SessionStore>,
    /// [`CodingCli::state_paths`].
    pub state_paths: &'static [StatePath],
    /// [`CodingCli::login_files`].
    pub login_files: &'static [login::LoginFile],
    /// [`CodingCli::relayed_key`].
    pub relayed_key: Option<KeyVars>,
}

impl CliFacts {
    /// A CLI named `name`, its argv made by `argv`, with none of the capabilities: each other
    /// member its method's default.
    pub const fn named(
        name: &'static str,
        argv: fn(&Start<'_>) -> Result<Argv, ProviderError>,
    ) -> CliFacts {
        CliFacts {
            name,
            argv,
            implied_by: |_| false,
            prompt_on_stdin: &[],
            resumes_sessions: &[],
            chooses_session_id: &[],
            permission_flags: |_| &[],
            plan_flags: None,
            allows_commands: false,
            turn_end_signal: None,
            hooks: None,
            folder_trust: None,
            dispatch_files: |_| Vec::new(),
            denial_ends_turn: None,
            tui_limits: None,
            pane_dialog: None,
            keeps_memory: false,
            npm_package: None,
            stream: None,
            mcp_config: None,
            sessions: None,
            state_paths: &[],
            login_files: &[],
            relayed_key: None,
        }
    }
}

/// What vnx knows about one built-in coding CLI. Each method has one implementation, in the
/// CLI's module; a CLI without a capability keeps the default (no event stream, no transcript
/// of its own: its output is shown as the text it is).
pub trait CodingCli: Sync {
    /// What it is as data, which the methods of the same names hand out.
    fn facts(&self) -> &'static CliFacts;

    /// The provider this CLI is, as `--provider` and receipts name it (the registry's
    /// `provider()` of a `dyn CodingCli` is the `Provider` of that name).
    fn name(&self) -> &'static str {
        self.facts().name
    }

    /// Whether a model name (lowercased) implies this CLI when no provider is given.
    fn implied_by(&self, model: &str) -> bool {
        (self.facts().implied_by)(model)
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
        check_valid(self.name(), model)
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
        self.name()
    }

    /// The lane a dispatch runs in when none is asked for.
    fn default_lane(&self) -> Lane {
        Lane::Headless
    }

    /// Whether it takes the prompt on stdin in `lane` whatever its size: a CLI that would
    /// alter a prompt given as an argument (quote it), and reads stdin as it is.
    fn prompt_on_stdin(&self, lane: Lane) -> bool {
        self.facts().prompt_on_stdin.contains(&lane)
    }

    /// Whether it resumes a session it recorded, in `lane` (a follow-up); where it does not,
    /// a follow-up starts a new session that is told the earlier instruction.
    fn resumes_sessions(&self, lane: Lane) -> bool {
        self.facts().resumes_sessions.contains(&lane)
    }

    /// Whether vnx chooses the id of a new session it starts in `lane` (and tells it, so its
    /// session file is the only one read for the dispatch, ADR 0052).
    fn chooses_session_id(&self, lane: Lane) -> bool {
        self.facts().chooses_session_id.contains(&lane)
    }

    /// The flags a permission posture maps to in a lane (ADR 0010): `ask` and `edits` never
    /// carry a bypass.
    fn permission_flags(&self, _lane: Lane, permission: Permission) -> &'static [&'static str] {
        (self.facts().permission_flags)(permission)
    }

    /// The flags of its own plan mode in `lane` (ADR 0092): read-only, the plan its last
    /// message. `None`: it has none, and a planning dispatch runs in the `ask` posture with
    /// vnx's instruction to write a plan alone.
    fn plan_flags(&self, _lane: Lane) -> Option<&'static [&'static str]> {
        self.facts().plan_flags
    }

    /// Its argv for one dispatch, and what it writes and signals; an error for a lane it
    /// does not have.
    fn argv(&self, start: &Start<'_>) -> Result<Argv, ProviderError> {
        (self.facts().argv)(start)
    }

    /// The command prefixes given to its own allow mechanism (in the argv, or a policy file),
    /// recorded in the invocation; empty where the posture or its sandbox decides alone.
    fn allowed_commands(&self, w: &Wanted<'_>) -> Vec<String> {
        if self.facts().allows_commands {
            w.unasked_commands()
        } else {
            Vec::new()
        }
    }

    /// The completion signal a turn that its end-of-turn hook ended is recorded as (receipts
    /// spell it `…_hook`); `None` where it has no such hook.
    fn turn_end_signal(&self) -> Option<&'static str> {
        self.facts().turn_end_signal
    }

    /// The hooks vnx gives it, when it has hooks vnx uses: see [`Hooks`].
    fn hooks(&self) -> Option<&'static dyn Hooks> {
        self.facts().hooks
    }

    /// The files its hooks need in the dispatch's directory for a launch (the name relative
    /// to that directory, and the bytes); none when the launch gives it no such hooks.
    fn dispatch_files(&self, launch: &Launch<'_>) -> Vec<(&'static str, Vec<u8>)> {
        (self.facts().dispatch_files)(launch)
    }

    /// The version its `--version` prints, read from its installation without starting it
    /// (a file its package manager wrote), when it has one: what a launch records instead of
    /// waiting for the CLI's start. `None`: the launch runs `--version`.
    fn installed_version(&self, binary: &Path) -> Option<String> {
        crate::provider::version::npm_package_version(binary, self.facts().npm_package?)
    }

    /// Its TUI's permission dialog in its pane, where no hook of its can answer it: the line
    /// that shows it is up and the keys `vnx approve`/`vnx deny` type; `None` where it has
    /// no such dialog.
    fn pane_dialog(&self) -> Option<trust::PaneDialog> {
        self.facts().pane_dialog
    }

    /// When a denial typed into its TUI's dialog cancels the whole turn, so that it idles at
    /// its input and no end-of-turn hook fires: the line its screen then shows and the hook
    /// signal that ends the turn as its hook would have, `said` (the denial) as the
    /// worker's last message. `vnx deny` writes that signal once the line shows.
    fn denial_ends_turn(&self, said: &str) -> Option<DenialEnd> {
        self.facts().denial_ends_turn.map(|end| end(said))
    }

    /// Where its TUI draws a usage limit it gave up at, waiting with no end-of-turn hook
    /// (what it was seen to draw; ADR 0117): what reads each such limit on a screen, with
    /// its words. `None` where its TUI draws none (or waits a limit out by itself): its
    /// screen is then never looked at for one.
    fn tui_limits(&self) -> Option<TuiLimits> {
        self.facts().tui_limits
    }

    /// The keys that tell its TUI to go on once a limit it showed is over (tmux key names),
    /// where its limit is a dialog; `None`: vnx types a line at its input.
    fn tui_limit_keys(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// Whether it keeps memory its later sessions load in a folder vnx points at the
    /// dispatch's own ([`crate::memory`], ADR 0126): seeded with the project's memory of it;
    /// what its worker writes there stays with the dispatch until a person promotes it.
    fn keeps_memory(&self) -> bool {
        self.facts().keeps_memory
    }

    /// The home of its own each of its dispatches gives it, where it keeps memory that only
    /// moving its whole home moves ([`OwnHome`]); `None`: it runs in the user's home (or its
    /// sandbox's private copy of it).
    fn own_home(&self) -> Option<OwnHome> {
        None
    }

    /// Where a CLI that [keeps memory](Self::keeps_memory) keeps it for the dispatch whose
    /// directory is `dispatch_dir`, in the repository whose main checkout is `main_checkout`:
    /// the dispatch's memory folder unless its CLI lays its memory out below a base it is
    /// pointed at.
    fn memory_folder(&self, dispatch_dir: &Path, main_checkout: &Path) -> PathBuf {
        let _ = main_checkout;
        crate::memory::dir(dispatch_dir)
    }

    /// Its headless event stream, when it writes one vnx parses: see [`HeadlessStream`].
    fn stream(&self) -> Option<&'static HeadlessStream> {
        self.facts().stream
    }

    /// Where `vnx init --mcp` registers `vnx mcp` with it, if it takes MCP servers.
    fn mcp_config(&self) -> Option<McpConfig> {
        self.facts().mcp_config
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
        home: Option<&Path>,
        homes: &session::Homes,
        root: &Path,
    ) -> Option<FolderTrust> {
        (self.facts().folder_trust?)(home, homes, root)
    }

    /// The dialogs its TUI may show before its first turn (in a folder it does not trust,
    /// for a posture its user never accepted), which a person answers through vnx.
    fn start_dialogs(&self) -> &'static [trust::StartDialog] {
        &[]
    }

    /// The session files its TUI keeps, when vnx reads them (to follow the TUI, count its
    /// usage, read its question, resume it): see [`SessionStore`].
    fn sessions(&self) -> Option<&'static dyn SessionStore> {
        self.facts().sessions
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
        self.facts().state_paths
    }

    /// The files in the home directory that log it in, for a place whose `logins:` names it
    /// (a container, a pod): each whole or only the part that logs in, never its history,
    /// its sessions or other projects' state.
    fn login_files(&self) -> &'static [login::LoginFile] {
        self.facts().login_files
    }

    /// The variables of its API key and the provider's base URL, when it takes both from
    /// its environment in a form the credential relay can stand in for (ADR 0124); `None`
    /// where it cannot (no key, a login of another form, an address only its files name).
    fn relayed_key(&self) -> Option<KeyVars> {
        self.facts().relayed_key
    }
}
