//! Resolves settings from flags, the environment and the current repository, so that the
//! library receives plain values.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// An environment variable, as the OS holds it: the CLI's one reader of the environment (the
/// library never reads it).
#[expect(
    clippy::disallowed_methods,
    reason = "the CLI's one reader of the environment"
)]
pub fn env(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name)
}

/// An environment variable set to something: `None` when unset or empty.
pub fn env_set(name: &str) -> Option<std::ffi::OsString> {
    env(name).filter(|v| !v.is_empty())
}

/// An environment variable as text; `None` when unset or not UTF-8.
pub fn env_text(name: &str) -> Option<String> {
    env(name).and_then(|v| v.into_string().ok())
}

/// Runs this program again with `args`, in this process's place, in the environment the
/// file at `file` hands over (taken: the file is removed), and nothing else of this one's:
/// how a process tmux starts (a detached watcher, a credential relay's keeper) gets the
/// environment of the command that started it. Returns only when that failed; `what` names
/// the process in the error.
pub fn exec_in_handed_env(file: &std::path::Path, args: &[String], what: &str) -> CliError {
    let env = match vnx::env_file::take(file) {
        Ok(env) => env.unwrap_or_default(),
        Err(e) => return CliError::from_error(&e),
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return CliError::from_error(&e),
    };
    let mut cmd = vnx::process::Cmd::new(exe).env_clear();
    for (k, v) in &env {
        cmd = cmd.env(k, v);
    }
    let e = cmd.args(args).exec();
    CliError::from_error(&e).context(format!("could not start {what}"))
}

/// Every environment variable.
#[expect(
    clippy::disallowed_methods,
    reason = "the CLI's one reader of the environment"
)]
pub fn env_all() -> std::env::VarsOs {
    std::env::vars_os()
}

use clap::Args;

use crate::cli::CliError;

/// Where the ledger is.
#[derive(Args, Clone, Debug)]
pub struct LedgerArg {
    /// The ledger file [default: $VNX_LEDGER, else .vnx-data/state/t0_receipts.ndjson in the
    /// current repository]
    #[arg(long, value_name = "PATH")]
    pub ledger: Option<PathBuf>,
}

impl LedgerArg {
    /// The ledger named by the flag or `$VNX_LEDGER`, else the project's (if there is one).
    pub fn resolve_in(&self, project: Option<&vnx::project::Project>) -> Option<PathBuf> {
        self.ledger
            .clone()
            .or_else(|| env_set("VNX_LEDGER").map(PathBuf::from))
            .or_else(|| project.map(|p| p.ledger()))
    }

    /// The ledger named by the flag or `$VNX_LEDGER`, else the current repository's.
    pub fn resolve(&self) -> Result<PathBuf, CliError> {
        if let Some(p) = self.resolve_in(None) {
            return Ok(p);
        }
        project()
            .map(|p| p.ledger())
            .map_err(|e| e.with_hint("pass --ledger PATH or set VNX_LEDGER"))
    }
}

/// Worker threads for verification.
pub fn threads(flag: Option<usize>) -> usize {
    flag.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1)
}

/// The checkpoint signing key: `--key`, `$VNX_CHECKPOINT_KEY`, else
/// `$XDG_CONFIG_HOME/vnx/checkpoint.key` (default `~/.config`).
pub fn key_path(flag: Option<PathBuf>) -> Result<PathBuf, CliError> {
    if let Some(p) = flag.or_else(|| env_set("VNX_CHECKPOINT_KEY").map(PathBuf::from)) {
        return Ok(p);
    }
    let config = env_set("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env_set("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| {
            CliError::new(
                "cannot place the checkpoint key: neither XDG_CONFIG_HOME nor HOME is set",
            )
            .with_hint("pass --key PATH")
        })?;
    Ok(config.join("vnx").join("checkpoint.key"))
}

/// Who runs this command, as receipts name a person: `$USER`, else `$LOGNAME`, else the
/// account name of this process's user (a container or a service sets neither variable),
/// else `uid N`.
pub fn user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| env(v)?.into_string().ok())
        .find(|u| !u.is_empty())
        .or_else(account_name)
        .unwrap_or_else(|| format!("uid {}", rustix::process::getuid().as_raw()))
}

/// The name the password database gives this process's real user id.
#[expect(unsafe_code, reason = "getpwuid_r(3) fills a caller-owned buffer")]
fn account_name() -> Option<String> {
    let uid = rustix::process::getuid().as_raw();
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: `pwd` and `buf` outlive the call, `buf.len()` is the buffer's true size, and
    // `found` is only read when getpwuid_r says it points at `pwd`, whose `pw_name` then
    // points into `buf`, still alive while it is copied out.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found);
        if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(pwd.pw_name).to_str().ok()?;
        (!name.is_empty()).then(|| name.to_owned())
    }
}

/// Where the CLIs keep their state (and their session files) as this command's environment
/// says: for a dispatch launched before vnx recorded its dispatcher's.
pub fn session_homes() -> vnx::provider::session::Homes {
    vnx::provider::session::Homes::of(|name| env(name).map(PathBuf::from), None)
}

/// `--tmux-socket NAME`, as each command that reaches dispatches' panes takes it.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TmuxSocket {
    /// tmux socket name for dispatches whose start records none [default:
    /// $VNX_TMUX_SOCKET, else vnx]
    #[arg(long, value_name = "NAME")]
    pub tmux_socket: Option<String>,
}

/// `--base REF` and `--remote NAME`: what a preserved dispatch's work must have landed on, or
/// been pushed to, to be released (`worktree-release`, `tidy`).
#[derive(clap::Args, Clone, Debug)]
pub struct Landing {
    /// What "landed" is measured against, in the main checkout
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    pub base: String,
    /// The remote a pushed branch must be on, exactly
    #[arg(long, value_name = "NAME", default_value = "origin")]
    pub remote: String,
}

/// The tmux socket name: `--tmux-socket`, `$VNX_TMUX_SOCKET`, else `vnx`.
pub fn tmux_socket(flag: Option<String>) -> String {
    flag.or_else(|| env_text("VNX_TMUX_SOCKET").filter(|v| !v.is_empty()))
        .unwrap_or_else(|| vnx::tmux::DEFAULT_SOCKET.to_owned())
}

/// The user's home directory (`$HOME`, when absolute).
pub fn home() -> Option<PathBuf> {
    env("HOME").map(PathBuf::from).filter(|p| p.is_absolute())
}

/// What this machine offers a sandboxed worker, from the environment.
pub fn machine() -> vnx::sandbox::Machine {
    let dir = |name: &str| env(name).map(PathBuf::from).filter(|p| p.is_absolute());
    let state_vars = vnx::provider::cli::CLIS
        .iter()
        .flat_map(|c| c.state_paths())
        .filter_map(|p| p.var)
        .filter_map(|v| dir(v).map(|p| (v.to_owned(), p)))
        .collect();
    vnx::sandbox::Machine {
        bwrap: find_program("bwrap"),
        home: home(),
        runtime_dir: dir("XDG_RUNTIME_DIR"),
        path: env("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .filter(|d| d.is_absolute())
                    .collect()
            })
            .unwrap_or_default(),
        state_vars,
    }
}

/// Finds a program on `$PATH` (an executable regular file).
pub fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let path = env("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The governed repository around the current directory.
pub fn project() -> Result<vnx::project::Project, CliError> {
    // Found once per directory: a command may ask several times, and each discovery opens
    // the repository (its configuration files read again).
    static FOUND: std::sync::Mutex<Option<(PathBuf, vnx::project::Project)>> =
        std::sync::Mutex::new(None);
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::from_error(&e).with_hint("run from an existing directory"))?;
    let mut found = FOUND
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((dir, project)) = &*found
        && *dir == cwd
    {
        return Ok(project.clone());
    }
    let project = vnx::project::Project::discover(&cwd).ok_or_else(|| {
        CliError::new(format!("{} is not inside a git repository", cwd.display()))
            .with_hint("run inside the repository to dispatch in (after `vnx init`)")
    })?;
    *found = Some((cwd, project.clone()));
    Ok(project)
}

/// A per-user cache directory: `$XDG_CACHE_HOME/vnx`, else `~/.cache/vnx`.
pub fn user_cache_dir() -> Option<PathBuf> {
    env_set("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env_set("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|dir| dir.join("vnx"))
}

/// Constraint overrides: the `<KEY>` of every `VNX_OVERRIDE_<KEY>` set to exactly `1`, and the
/// non-empty `VNX_OVERRIDE_<KEY>_REASON` values by `<KEY>`.
pub fn constraint_overrides() -> (BTreeSet<String>, BTreeMap<String, String>) {
    let mut keys = BTreeSet::new();
    let mut reasons = BTreeMap::new();
    for (name, value) in env_all() {
        let Some(key) = name
            .to_str()
            .and_then(|n| n.strip_prefix("VNX_OVERRIDE_"))
            .filter(|k| !k.is_empty())
        else {
            continue;
        };
        if value == "1" {
            keys.insert(key.to_owned());
        }
        if let (Some(key), Some(reason)) = (key.strip_suffix("_REASON"), value.to_str())
            && !key.is_empty()
            && !reason.trim().is_empty()
        {
            reasons.insert(key.to_owned(), reason.to_owned());
        }
    }
    (keys, reasons)
}

/// The attestor that signs the receipts vnx writes itself, with the local key (the checkpoint
/// key, see [`key_path`]), created on first use.
pub fn attestor(flag: Option<PathBuf>) -> Result<vnx::ledger::attest::Attestor, CliError> {
    let path = key_path(flag)?;
    let (key, _) = vnx::ledger::checkpoint::CheckpointKey::load_or_create(&path)
        .map_err(|e| CliError::from(e).context("cannot load the key that signs vnx's receipts"))?;
    Ok(vnx::ledger::attest::Attestor::new(&key))
}

/// The attestor, and the keys whose attestations count for `ledger`: the attestor's own and
/// those `.vnx/checkpoint-keys` lists.
pub fn attestation(
    flag: Option<PathBuf>,
    ledger: &std::path::Path,
) -> Result<(vnx::ledger::attest::Attestor, Vec<[u8; 32]>), CliError> {
    let attestor = attestor(flag)?;
    let trusted = vnx::ledger::attest::trusted_keys(ledger, &attestor)?;
    Ok((attestor, trusted))
}

/// Where checkpoint witnesses are kept: `$VNX_WITNESS_DIR`, else
/// `$XDG_STATE_HOME/vnx/witness` (default `~/.local/state`); `None` when neither HOME nor
/// XDG_STATE_HOME is set.
pub fn witness_dir() -> Option<PathBuf> {
    if let Some(p) = env_set("VNX_WITNESS_DIR") {
        return Some(PathBuf::from(p));
    }
    env_set("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| env_set("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .map(|d| d.join("vnx").join("witness"))
}

/// How the ledger is anchored after gates ran: hashed on every CPU, witnessed in
/// [`witness_dir`].
pub fn anchoring() -> vnx::actions::gate::Anchoring {
    vnx::actions::gate::Anchoring {
        threads: threads(None),
        witness_dir: witness_dir(),
    }
}

/// Whether the environment allows colour: `NO_COLOR` unset or empty, `TERM` not `dumb`.
pub fn colour_allowed() -> bool {
    env("NO_COLOR").is_none_or(|v| v.is_empty()) && env("TERM").is_none_or(|t| t != "dumb")
}

/// The width tables fit: `COLUMNS` when set to a number, else the terminal's when stdout is
/// one; `None` (no limit) for a pipe or file.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if let Some(n) = env_text("COLUMNS").and_then(|c| c.trim().parse::<usize>().ok())
        && n > 0
    {
        return Some(n);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    rustix::termios::tcgetwinsize(std::io::stdout())
        .ok()
        .map(|size| usize::from(size.ws_col))
        .filter(|w| *w > 0)
}

/// Whether this process is a dispatch's worker in the project at `root` (its ledger at
/// `ledger`), and whose: as the library's guard decides it from this process's real
/// ancestry (the supervisor it descends from), its environment and its directory
/// (`vnx::actions::guard::worker_of`).
pub(crate) fn acting_worker(
    root: &std::path::Path,
    ledger: &std::path::Path,
) -> Result<Option<vnx::actions::guard::Worker>, CliError> {
    use vnx::actions::guard;
    let seen = guard::Surroundings {
        dispatch_id: env_set("VNX_DISPATCH_ID").map(|v| v.to_string_lossy().into_owned()),
        worktree: env_set("VNX_WORKTREE").map(PathBuf::from),
        cwd: std::env::current_dir()
            .ok()
            .map(|d| d.canonicalize().unwrap_or(d)),
        ancestors: guard::ancestry::of_this_process(),
    };
    let root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
    Ok(guard::worker_of(&root, ledger, &seen)?)
}
