//! The bubblewrap sandbox a worker can run in: the shape of its filesystem (what it may write,
//! what it may only read, what it cannot see), its network, and the `bwrap` argv that builds
//! it. The worker writes its worktree, its dispatch directory and a private copy of its CLI's
//! state (`home`); the system,
//! toolchains and the main checkout are read-only; the home directory, `/tmp`, the user's
//! runtime directory and the project's data directory (but for the dispatch's own directories
//! in it) are empty. Its commits go to a quarantine (`git`) that vnx imports
//! after it ends; `probe` says whether bubblewrap works here; `relay` carries loopback ports
//! into a sandbox without a network. The decision is in `adr/0032-bubblewrap-sandbox.md`.

pub mod git;
pub mod home;
pub mod probe;
pub mod relay;
mod venv;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use crate::receipts::{Network, PrivateHome, SessionPlace, Shape};
pub use git::QuarantineExt;

/// What the machine a dispatch starts on offers the sandbox, resolved by the caller (the
/// library reads no environment).
#[derive(Clone, Debug, Default)]
pub struct Machine {
    /// `bwrap` found on `PATH`, if it is there.
    pub bwrap: Option<PathBuf>,
    /// The home directory (`HOME`).
    pub home: Option<PathBuf>,
    /// The user's runtime directory (`XDG_RUNTIME_DIR`: agent sockets, keyrings).
    pub runtime_dir: Option<PathBuf>,
    /// The directories of `PATH`, in order.
    pub path: Vec<PathBuf>,
    /// The variables that move a CLI's state directory (a CLI module's `StatePath::var`)
    /// that are set, by name.
    pub state_vars: BTreeMap<String, PathBuf>,
}

/// The sandbox one dispatch asks for (the config's `sandbox:` and the dispatch's flags).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Network on or off.
    pub network: Network,
    /// Loopback ports of this machine a sandbox without a network may still reach (relayed).
    pub loopback: Vec<u16>,
    /// More paths the worker may read (absolute; `~/` already expanded).
    pub read_only: Vec<PathBuf>,
    /// More paths the worker may write (absolute; `~/` already expanded).
    pub writable: Vec<PathBuf>,
    /// Whether the worker keeps the forge's credentials ([`FORGE_CREDENTIALS`]).
    pub forge_credentials: bool,
    /// The variable of the CLI's key the credential relay stands in for
    /// ([`Shape::relayed_keys`]), and the other CLIs' key variables the worker then does not
    /// get.
    pub relayed: Option<(String, Vec<String>)>,
}

/// The variables that hand a worker the user's forge account: `gh`'s and the GitHub API's
/// tokens, and where `gh` keeps its login. With them a sandboxed worker (its network on) could
/// merge its own pull request around `vnx pr merge`'s conditions; it gets none unless the
/// config's `sandbox.forge_credentials` says so.
pub const FORGE_CREDENTIALS: &[&str] = &[
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "GH_CONFIG_DIR",
];

/// The inputs of a dispatch's shape that are not settings.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    /// The main checkout.
    pub repo_root: &'a Path,
    /// The worker's worktree.
    pub worktree: &'a Path,
    /// The dispatch directory (prompt, signals, report, `bin/`, `tmp/`).
    pub dispatch_dir: &'a Path,
    /// The project's data directory (`.vnx-data/`), which holds every dispatch's.
    pub data_dir: &'a Path,
    /// vnx's own binary (the worker's `vnx report` and hooks).
    pub vnx: &'a Path,
    /// The worker's binary, resolved.
    pub worker: &'a Path,
    /// The CLI's state paths: where its provider keeps login, settings and sessions.
    pub state: &'a [StatePath],
    /// The dispatch's own place for its CLI's sessions, shown where the CLI keeps them.
    pub sessions: Option<&'a SessionPlace>,
}

/// Where a CLI keeps state it must keep across runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatePath {
    /// Relative to the home directory.
    pub rel: &'static str,
    /// The variable that moves it when set (`TOOL_HOME`).
    pub var: Option<&'static str>,
    /// A directory, or a file (shown only when it exists).
    pub dir: bool,
    /// Whether the worker may write it: then it writes a private copy, seeded with the real
    /// one's top-level files and gone after it ends (`home`); a configuration file the
    /// worker must not change (so a later run outside the sandbox is not one it configured)
    /// is shown read-only.
    pub writable: bool,
}

impl StatePath {
    const fn new(rel: &'static str, var: Option<&'static str>, dir: bool, writable: bool) -> Self {
        StatePath {
            rel,
            var,
            dir,
            writable,
        }
    }

    /// A state directory.
    pub const fn dir(rel: &'static str, var: Option<&'static str>) -> StatePath {
        StatePath::new(rel, var, true, true)
    }

    /// A directory its installer keeps the CLI's program in (shown read-only when it
    /// exists).
    pub const fn program(rel: &'static str) -> StatePath {
        StatePath::new(rel, None, true, false)
    }

    /// A state file.
    pub const fn file(rel: &'static str) -> StatePath {
        StatePath::new(rel, None, false, true)
    }

    /// A configuration file, shown read-only when it exists.
    pub const fn config(rel: &'static str) -> StatePath {
        StatePath::new(rel, None, false, false)
    }
}

/// Why a sandbox cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// `bwrap` is not on `PATH`.
    #[error("a sandboxed dispatch needs bubblewrap, and `bwrap` is not on PATH")]
    NoBubblewrap,
    /// `bwrap` is there but cannot make a sandbox.
    #[error("bubblewrap ({program}) cannot make a sandbox on this machine: {reason}")]
    Unusable {
        /// The `bwrap` binary.
        program: PathBuf,
        /// What it said.
        reason: String,
    },
    /// The repository keeps its refs in a format the quarantine cannot hold.
    #[error(
        "{path}: a sandboxed worker needs files-backed refs, and this repository uses {format}"
    )]
    RefFormat {
        /// The git common directory.
        path: PathBuf,
        /// The ref storage it uses.
        format: String,
    },
    /// The project's data directory is a link: the sandbox hides the data directory by its
    /// path, and a link's target would stay in sight (or, inside a hidden directory, leave the
    /// dispatch's own directories nowhere to be mounted).
    #[error("{path} is a link, and a sandboxed worker must not see where it leads")]
    LinkedDataDir {
        /// The data directory.
        path: PathBuf,
    },
    /// A path the sandbox needs could not be made or read.
    #[error("could not prepare {path} for the sandbox")]
    Io {
        /// The path.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A git step of the quarantine failed.
    #[error("could not bring the sandboxed worker's commits into the repository")]
    Import {
        /// What failed.
        #[source]
        source: crate::process::ProcessError,
    },
    /// The worker left its branch at something that is not a commit id.
    #[error("the sandboxed worker left {what} as {value:?}, which is not a commit id")]
    BadTip {
        /// The ref or file.
        what: String,
        /// What it held (escaped by the caller when shown).
        value: String,
    },
}

impl SandboxError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            SandboxError::NoBubblewrap => Some(
                "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf \
                 install bubblewrap), or dispatch without --sandbox; `vnx doctor` checks it"
                    .into(),
            ),
            SandboxError::Unusable { .. } => Some(
                "bubblewrap needs unprivileged user namespaces (or a setuid bwrap); check \
                 kernel.unprivileged_userns_clone, user.max_user_namespaces and AppArmor's \
                 userns restriction, or dispatch without --sandbox"
                    .into(),
            ),
            SandboxError::RefFormat { .. } => {
                Some("dispatch this repository without --sandbox".into())
            }
            SandboxError::LinkedDataDir { path } => Some(format!(
                "make {} a directory again (move what it links to back), or dispatch without \
                 --sandbox",
                path.display()
            )),
            _ => None,
        }
    }
}

/// The name of the project's data directory (`DATA_DIR` of the project module, which this
/// module cannot name: it is above it). A hidden directory of that name is made read-only once
/// what is inside it is mounted; `threat_model` measures that a worker cannot write it.
const DATA_DIR_NAME: &str = ".vnx-data";

/// Directories under a hidden one that `PATH` and the usual toolchain managers put programs
/// in; shown read-only when they exist.
const TOOLCHAINS: &[&str] = &[
    ".cargo",
    ".rustup",
    ".local/bin",
    ".nvm",
    ".volta",
    ".pyenv",
    ".bun",
    ".deno",
    ".sdkman",
    "go",
];

/// What vnx does with a sandbox's [`Shape`], which is receipt data (`dispatch_started` and
/// `gate_result` record it): plans it for a dispatch, builds its `bwrap` argv, makes its
/// writable directories, and narrows it for a gate.
pub trait ShapeExt {
    /// The shape of one dispatch's sandbox. Paths that do not exist are left out (a CLI's state
    /// it has not made yet lives in the empty home and goes with the sandbox).
    fn plan(
        machine: &Machine,
        wanted: &Wanted,
        place: &Place<'_>,
        version: Option<String>,
    ) -> Result<Shape, SandboxError>;

    /// The `bwrap` argv that runs `command` in this sandbox. It stays in the caller's process
    /// group (and, for a TUI, its terminal), so vnx's graceful stop reaches the worker; bwrap
    /// dies with its parent, and the PID namespace takes everything the worker started with it.
    fn wrap(&self, command: &[OsString]) -> Vec<OsString>;

    /// Makes the writable directories that are missing, private, and the private copies of
    /// the CLI's state, seeded with the user's login and settings (`home`).
    fn make_writable(&self) -> Result<(), SandboxError>;

    /// The same sandbox for a gate of the dispatch it was made for (ADR 0032): what the worker
    /// saw read-only and what was hidden from it stay so, and so does its network; the only
    /// writable path is the gate's `checkout` (not the worktree, the dispatch directory, the
    /// CLI's state or `sandbox.writable`). No quarantine (a gate commits nothing), no
    /// relayed loopback ports, and no credential relay: its relayed key is withheld.
    fn for_gate(&self, checkout: &Path) -> Shape;

    /// Whether the worker's loopback ports must be relayed (no network, ports listed or a
    /// credential relay to reach).
    fn relays(&self) -> bool;
}

impl ShapeExt for Shape {
    fn plan(
        machine: &Machine,
        wanted: &Wanted,
        place: &Place<'_>,
        version: Option<String>,
    ) -> Result<Shape, SandboxError> {
        let program = machine.bwrap.clone().ok_or(SandboxError::NoBubblewrap)?;
        let mut hidden: Vec<PathBuf> = ["/tmp", "/var/tmp", "/home", "/root"]
            .into_iter()
            .map(PathBuf::from)
            .collect();
        hidden.extend(machine.home.clone());
        hidden.extend(machine.runtime_dir.clone());
        hidden.retain(|p| p.is_absolute() && p.is_dir());
        let mut hidden = minimal(hidden);
        let under_hidden = |p: &Path| hidden.iter().any(|h| p.starts_with(h));

        let home = machine.home.as_deref();
        let mut read_only = vec![place.repo_root.to_owned(), place.vnx.to_owned()];
        read_only.push(narrowed(
            install_root(place.worker),
            place.worker,
            &hidden,
            home,
        ));
        // A Python CLI in a virtual environment runs on the interpreter that made it.
        read_only
            .extend(venv::venv_base(place.worker).filter(|base| !too_wide(base, &hidden, home)));
        if let Some(home) = home {
            read_only.extend(TOOLCHAINS.iter().map(|t| home.join(t)));
        }
        // A PATH entry that would show the home directory (or an ancestor of it, or a
        // credentials directory) is left out: the worker's own binary is shown above.
        read_only.extend(
            machine
                .path
                .iter()
                .map(|d| tool_root(d, home))
                .filter(|d| !too_wide(d, &hidden, home)),
        );
        read_only.extend(wanted.read_only.iter().cloned());
        read_only.retain(|p| p.is_absolute() && p.exists() && under_hidden(p));

        // The worktree and the dispatch directory are made before the sandbox starts, and the
        // private copies of the CLI's state seeded (see [`Shape::make_writable`]); a state
        // file is copied when it exists, a configuration file shown read-only.
        let mut writable = Vec::new();
        let mut state = Vec::new();
        let mut config = Vec::new();
        for s in place.state {
            let path = match s.var.and_then(|v| machine.state_vars.get(v)) {
                Some(moved) => Some(moved.clone()),
                None => machine.home.as_ref().map(|h| h.join(s.rel)),
            };
            let path = path.filter(|p| s.dir || p.is_file());
            if s.writable {
                state.extend(path.map(|p| (s, p)));
            } else {
                config.extend(path);
            }
        }
        read_only.extend(config.into_iter().filter(|p| under_hidden(p)));
        let shared: Vec<PathBuf> = wanted
            .writable
            .iter()
            .filter(|p| p.exists())
            .cloned()
            .collect();
        let homes = home::plan(&state, place.dispatch_dir, &shared, place.sessions);
        writable.extend(shared);
        writable.retain(|p| p.is_absolute());
        writable.extend([place.worktree.to_owned(), place.dispatch_dir.to_owned()]);
        let writable = minimal(writable);
        let mut read_only = minimal(read_only);
        // The project's data directory holds every dispatch's: other dispatches' environments
        // (API keys) in `queue/ID.env` and `dispatches/ID/env`, their reports and signals, the
        // ledger, the answers to permission prompts. It is hidden too (after [`minimal`], which
        // would drop it inside a hidden home); what of it is this dispatch's is shown again
        // inside it (its worktree and dispatch directory above, its quarantine's mounts, its
        // relay directory read-only). See [`Shape::wrap`] for the order that makes it so.
        let data = place.data_dir.to_owned();
        if data.symlink_metadata().is_ok_and(|m| m.is_symlink()) {
            return Err(SandboxError::LinkedDataDir { path: data });
        }
        if data.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            if wanted.network == Network::Off
                && !(wanted.loopback.is_empty() && wanted.relayed.is_none())
                && let Some(id) = place.dispatch_dir.file_name()
            {
                read_only.push(relay::dir(&data, Path::new(id)));
            }
            hidden.push(data);
        }
        Ok(Shape {
            kind: "bubblewrap".into(),
            program,
            version,
            network: wanted.network,
            loopback: if wanted.network == Network::Off {
                wanted.loopback.clone()
            } else {
                Vec::new()
            },
            writable,
            read_only,
            hidden,
            git: None,
            sessions: place
                .sessions
                .filter(|s| s.dir.is_absolute() && s.shown_at.is_absolute())
                .cloned(),
            withheld_env: FORGE_CREDENTIALS
                .iter()
                .filter(|_| !wanted.forge_credentials)
                .map(|v| (*v).to_owned())
                .chain(wanted.relayed.iter().flat_map(|(_, others)| others.clone()))
                .collect(),
            homes,
            relayed_keys: wanted.relayed.iter().map(|(key, _)| key.clone()).collect(),
        })
    }

    fn wrap(&self, command: &[OsString]) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![self.program.clone().into_os_string()];
        let mut push = |items: &[&dyn AsRef<std::ffi::OsStr>]| {
            a.extend(items.iter().map(|i| i.as_ref().to_owned()));
        };
        push(&[&"--die-with-parent", &"--unshare-pid", &"--unshare-ipc"]);
        push(&[&"--unshare-uts", &"--unshare-cgroup-try"]);
        if self.network == Network::Off {
            push(&[&"--unshare-net"]);
        }
        push(&[
            &"--ro-bind",
            &"/",
            &"/",
            &"--dev",
            &"/dev",
            &"--proc",
            &"/proc",
        ]);
        // Parents before what is inside them, whatever the kind: a hidden directory inside a
        // path shown (the data directory inside the main checkout) is hidden after it is
        // shown, and what is shown inside a hidden one (the main checkout inside the home
        // directory, the dispatch's own directories inside the data directory) after it is
        // hidden. At the same depth a path is hidden first. A read-only path that is gone by
        // now (the relay directory before the supervisor makes it) is left out.
        // The private copies of the CLI's state are bound where it keeps it, its configuration
        // files (read-only) inside them after them, and the session place over the CLI's
        // sessions directory inside its state directory after that.
        let mut mounts: Vec<(&PathBuf, &PathBuf, &str)> = Vec::new();
        mounts.extend(self.hidden.iter().map(|p| (p, p, "--tmpfs")));
        mounts.extend(self.read_only.iter().map(|p| (p, p, "--ro-bind-try")));
        mounts.extend(self.writable.iter().map(|p| (p, p, "--bind")));
        mounts.extend(self.homes.iter().map(|h| (&h.copy, &h.shown_at, "--bind")));
        mounts.extend(
            self.sessions
                .iter()
                .map(|s| (&s.dir, &s.shown_at, "--bind")),
        );
        let kind = |k: &str| {
            ["--tmpfs", "--ro-bind-try", "--bind"]
                .iter()
                .position(|x| *x == k)
        };
        mounts.sort_by_key(|(_, p, k)| (p.components().count(), kind(k), p.as_os_str().to_owned()));
        for (from, to, k) in mounts {
            if k == "--tmpfs" {
                push(&[&k, to]);
            } else {
                push(&[&k, from, to]);
            }
        }
        if let Some(q) = &self.git {
            for (from, to, writable) in q.mounts() {
                push(&[&if writable { "--bind" } else { "--ro-bind" }, &from, &to]);
            }
        }
        // The data directory's tmpfs is made read-only once everything inside it is mounted
        // (only it: what is bound inside stays as it was), so a worker cannot make it look
        // like a place it writes.
        for h in self
            .hidden
            .iter()
            .filter(|h| h.file_name() == Some(std::ffi::OsStr::new(DATA_DIR_NAME)))
        {
            push(&[&"--remount-ro", h]);
        }
        for var in [
            "SSH_AUTH_SOCK",
            "GPG_AGENT_INFO",
            "DBUS_SESSION_BUS_ADDRESS",
        ] {
            push(&[&"--unsetenv", &var]);
        }
        for var in &self.withheld_env {
            push(&[&"--unsetenv", var]);
        }
        push(&[&"--"]);
        a.extend(command.iter().cloned());
        a
    }

    fn make_writable(&self) -> Result<(), SandboxError> {
        let sessions = self.sessions.iter().flat_map(|s| [&s.dir, &s.shown_at]);
        // Where a private copy of a state directory is bound: bwrap makes it inside a hidden
        // directory, vnx anywhere else (a state directory its variable moves out of the home).
        let hidden = |p: &Path| self.hidden.iter().any(|h| p.starts_with(h));
        let mount_points = self
            .homes
            .iter()
            .filter(|h| h.dir && !hidden(&h.shown_at))
            .map(|h| &h.shown_at);
        for path in self.writable.iter().chain(sessions).chain(mount_points) {
            if path.symlink_metadata().is_err() {
                crate::files::private_dir(path).map_err(|source| SandboxError::Io {
                    path: path.clone(),
                    source,
                })?;
            }
        }
        home::seed(&self.homes)
    }

    fn for_gate(&self, checkout: &Path) -> Shape {
        Shape {
            writable: vec![checkout.to_owned()],
            loopback: Vec::new(),
            git: None,
            sessions: None,
            homes: Vec::new(),
            // No relay serves a gate: the key its worker only had a placeholder for is
            // withheld from what the gate runs (code the worker wrote).
            withheld_env: [&self.withheld_env[..], &self.relayed_keys[..]].concat(),
            relayed_keys: Vec::new(),
            ..self.clone()
        }
    }

    fn relays(&self) -> bool {
        self.network == Network::Off && !(self.loopback.is_empty() && self.relayed_keys.is_empty())
    }
}

/// What of a `PATH` directory must be visible for its programs to run: a version manager's
/// `bin/` or `shims/` needs the manager's whole directory (`~/.pyenv/shims` runs
/// `~/.pyenv/versions/…`); the home directory and `~/.local` are never shown whole.
fn tool_root(dir: &Path, home: Option<&Path>) -> PathBuf {
    let managed = matches!(
        dir.file_name().and_then(|n| n.to_str()),
        Some("bin" | "shims")
    );
    match dir.parent() {
        Some(parent)
            if managed
                && Some(parent) != home
                && home.is_none_or(|h| parent != h.join(".local"))
                && parent.components().count() > 2 =>
        {
            parent.to_owned()
        }
        _ => dir.to_owned(),
    }
}

/// Paths without those inside another one of the list.
fn minimal(mut paths: Vec<PathBuf>) -> Vec<PathBuf> {
    paths.sort();
    paths.dedup();
    let all = paths.clone();
    paths.retain(|p| !all.iter().any(|q| q != p && p.starts_with(q)));
    paths
}

/// Directories under the home directory that hold credentials: never shown to a worker,
/// whatever PATH or an installation's layout says.
const CREDENTIALS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".password-store",
    ".config",
    ".netrc",
    ".git-credentials",
];

/// Whether showing `path` would show what the sandbox hides: a hidden path itself or one of
/// its ancestors (the home directory, `/`, `/home`), or a credentials directory in the home.
pub fn too_wide(path: &Path, hidden: &[PathBuf], home: Option<&Path>) -> bool {
    hidden.iter().any(|h| h.starts_with(path))
        || home.is_some_and(|h| {
            h.starts_with(path) || CREDENTIALS.iter().any(|c| path.starts_with(h.join(c)))
        })
}

/// The installation root of `binary`, or something narrower when showing it would show the
/// home directory (a CLI installed directly in `$HOME`, or with `npm i` run there): the
/// `node_modules` directory of an npm install, else the binary alone.
fn narrowed(root: PathBuf, binary: &Path, hidden: &[PathBuf], home: Option<&Path>) -> PathBuf {
    if !too_wide(&root, hidden, home) {
        return root;
    }
    let modules = root.join("node_modules");
    let real = binary.canonicalize().unwrap_or_else(|_| binary.to_owned());
    if real.starts_with(&modules) && !too_wide(&modules, hidden, home) {
        modules
    } else {
        real
    }
}

/// What of a worker's installation must be visible for `binary` to run: for a program in an
/// npm tree, the directory holding its outermost `node_modules` (the package and its
/// dependencies); for one in a Python virtual environment, the environment; otherwise the
/// directory of the resolved binary.
pub fn install_root(binary: &Path) -> PathBuf {
    let real = binary.canonicalize().unwrap_or_else(|_| binary.to_owned());
    let mut prefix = PathBuf::new();
    for c in real.components() {
        if c.as_os_str() == "node_modules" {
            return prefix;
        }
        prefix.push(c);
    }
    if let Some(venv) = venv::venv_of(&real) {
        return venv;
    }
    real.parent().map_or(real.clone(), Path::to_owned)
}

/// A path from the config: `~/…` is under `home`; anything else must be absolute.
pub fn expand(path: &str, home: Option<&Path>) -> Option<PathBuf> {
    match path.strip_prefix("~/") {
        Some(rest) => home.map(|h| h.join(rest)),
        None if path == "~" => home.map(Path::to_owned),
        None => Some(PathBuf::from(path)).filter(|p| p.is_absolute()),
    }
}

#[cfg(test)]
mod tests;
