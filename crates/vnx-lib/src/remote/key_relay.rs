//! The credential relay for a worker in a place (a container, a pod, a host; ADR 0128): when
//! its host says `credentials: relay`, the place's vnx starts the dispatch with a placeholder
//! for its CLI's key and the address of a tunnel on the place's loopback, and a keeper on this
//! machine — a process of its own in a tmux session, so that it outlives a `--detach` — holds
//! the user's key, runs the relay (`provider::relay`) here, and carries the place's
//! connections to it through the place's `vnx __key-tunnel` (`key_tunnel`). One keeper per
//! place, for every dispatch there; it ends once each has ended here, or the place is gone.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Link, RemoteError};
use crate::ids::DispatchId;
use crate::process::{Cmd, Group};
use crate::provider::relay::{self, KeyVars, Route, Upstream};

/// What the process that starts a remote dispatch hands the launch for a relay: its
/// environment (where the key is), vnx's own program and the tmux server a keeper runs on.
/// Its `Debug` shows none of the environment.
#[derive(Clone, PartialEq, Eq)]
pub struct Dispatcher {
    /// The dispatching command's environment, as it is handed on
    /// ([`crate::env_file::handed_on`]).
    pub env: Arc<[(OsString, OsString)]>,
    /// vnx's program here.
    pub vnx: PathBuf,
    /// The tmux server's socket (as [`crate::tmux::Tmux::new`] takes it).
    pub tmux_socket: String,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("vnx", &self.vnx)
            .finish_non_exhaustive()
    }
}

/// What a place's keeper relays, in its directory here (no secret: the key is handed to the
/// keeper alone).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Kept {
    /// The provider whose CLI's key it relays.
    provider: String,
    /// The placeholder the workers there hold.
    placeholder: String,
    /// The provider's base URL the relay forwards to.
    upstream: String,
    /// The port its tunnel listens on in the place, once it said.
    port: Option<u16>,
    /// The dispatches it serves.
    ids: Vec<DispatchId>,
}

/// The keeper's files for `place`: under the project's `.vnx-data/remote/keys/` (three
/// levels below the data directory, as [`all_ended`] reads it).
fn dir_of(data: &Path, place: &str) -> PathBuf {
    data.join("remote").join("keys").join(place)
}

/// How long a keeper may take to have its tunnel listening in the place.
const READY_LIMIT: Duration = Duration::from_secs(60);

/// How often a keeper looks whether its dispatches have ended here.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// The CLI's key variables and the dispatching process, when dispatch `provider`'s worker in
/// the link's place has its key relayed: its host says `credentials: relay`, its CLI can be
/// relayed, and the dispatching environment holds the key. A place that gives its commands
/// the key's variable itself is refused: the worker would hold the key.
fn relayed<'a>(
    link: &Link<'_>,
    provider: &str,
    from: Option<&'a Dispatcher>,
) -> Result<Option<(KeyVars, &'a Dispatcher)>, RemoteError> {
    let host = link.place.host();
    let vars = crate::provider::cli::named(provider).and_then(|c| c.relayed_key());
    let (Some(from), Some(vars), true) = (from, vars, host.relay_credentials) else {
        return Ok(None);
    };
    if value_in(from, vars.key).is_none() {
        return Ok(None);
    }
    if link.place.gives_env().iter().any(|v| v == vars.key) {
        return Err(RemoteError::KeyGivenThere {
            host: host.name.clone(),
            var: vars.key.to_owned(),
        });
    }
    Ok(Some((vars, from)))
}

/// Refuses a dispatch whose place would give its worker the key it relays (see [`ensure`]),
/// before anything is made: what the host's configuration says (a place's own definition,
/// read as it is made, is looked at again by [`ensure`]).
pub fn check(
    link: &Link<'_>,
    provider: &str,
    from: Option<&Dispatcher>,
) -> Result<(), RemoteError> {
    relayed(link, provider, from).map(drop)
}

/// `name`'s value in the dispatching environment, set and not empty.
fn value_in(from: &Dispatcher, name: &str) -> Option<String> {
    (from.env.iter())
        .find(|(k, v)| k == name && !v.is_empty())
        .and_then(|(_, v)| v.to_str().map(str::to_owned))
}

/// The argv prefix (`env KEY=PLACEHOLDER URL=…`) the place's vnx starts dispatch `id` with
/// when its key is relayed (its host relays credentials, its CLI can be relayed, the key is
/// in the dispatching environment); empty otherwise (the place's own environment is
/// the worker's). The place's keeper is started first, or told of `id` when it runs already.
pub fn ensure(
    link: &Link<'_>,
    id: &DispatchId,
    provider: &str,
    from: Option<&Dispatcher>,
) -> Result<Vec<String>, RemoteError> {
    let Some((vars, from)) = relayed(link, provider, from)? else {
        return Ok(Vec::new());
    };
    let value = |name: &str| value_in(from, name);
    let place = link.place.name();
    let failed = |detail: String| RemoteError::KeyRelay {
        place: place.to_owned(),
        detail,
    };
    let dir = dir_of(&link.project.data_dir(), place);
    crate::files::private_dir(&dir).map_err(super::io(&dir))?;
    // Held while a keeper is looked for or started: a keeper ending looks at its dispatches
    // under it, so one told of `id` here does not end without serving it.
    let ensure_lock = dir.join("ensure.lock");
    let _ensuring = crate::files::lock_file(&ensure_lock, true).map_err(super::io(&ensure_lock))?;
    let keeper_lock = dir.join("keeper.lock");
    let idle = crate::files::lock_file(&keeper_lock, false).map_err(super::io(&keeper_lock))?;
    if idle.is_none() {
        let mut kept = read_kept(&dir).map_err(&failed)?;
        if kept.provider != provider {
            return Err(failed(format!(
                "its keeper relays {}'s key, not {provider}'s",
                kept.provider
            )));
        }
        let port = kept
            .port
            .ok_or_else(|| failed("its keeper has no tunnel".into()))?;
        kept.ids.push(id.clone());
        write_kept(&dir, &kept)?;
        return Ok(prefix(vars, &kept, port));
    }
    drop(idle);
    let (key, placeholder, upstream) = relay::stand_in(vars, &value).map_err(&failed)?;
    let kept = Kept {
        provider: provider.to_owned(),
        placeholder,
        upstream: upstream.url(),
        port: None,
        ids: vec![id.clone()],
    };
    write_kept(&dir, &kept)?;
    start_keeper(link, from, &dir, (vars.key, key)).map_err(&failed)?;
    let port = ready(link, from, &dir).map_err(&failed)?;
    Ok(prefix(vars, &kept, port))
}

/// `env KEY=PLACEHOLDER URL=…`, the relay's address as the tunnel in the place offers it.
fn prefix(vars: KeyVars, kept: &Kept, port: u16) -> Vec<String> {
    let path = Upstream::parse(&kept.upstream).map_or_else(String::new, |u| u.path);
    let url = format!("http://127.0.0.1:{port}{path}");
    std::iter::once("env".to_owned())
        .chain(
            relay::worker_env(vars, &kept.placeholder, &url)
                .into_iter()
                .map(|(k, v)| format!("{k}={v}")),
        )
        .collect()
}

fn read_kept(dir: &Path) -> Result<Kept, String> {
    let path = dir.join("kept.json");
    let data = crate::files::read_bounded(&path, 1 << 20)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&data).map_err(|e| format!("{}: {e}", path.display()))
}

fn write_kept(dir: &Path, kept: &Kept) -> Result<(), RemoteError> {
    let path = dir.join("kept.json");
    let data = serde_json::to_vec(kept).unwrap_or_default();
    crate::files::write_atomic_private(&path, &data, true).map_err(super::io(&path))
}

/// The tmux session of the keeper whose files are in `dir`.
fn session_of(dir: &Path) -> String {
    crate::tmux::session_for("keys", dir)
}

/// The variable the keeper finds the key in: one of vnx's private ones, which no command it
/// runs inherits (`process::PRIVATE_VARS`).
pub const KEY_VAR: &str = "VNX_RELAYED_KEY";

/// Starts the keeper in a tmux session of its own, with the dispatching environment (as it is
/// handed on, the key's own variable left out) and the key as [`KEY_VAR`], handed over in a
/// private file.
fn start_keeper(
    link: &Link<'_>,
    from: &Dispatcher,
    dir: &Path,
    (var, key): (&str, String),
) -> Result<(), String> {
    let mut env = from.env.to_vec();
    env.retain(|(k, _)| k != var);
    env.push((KEY_VAR.into(), key.into()));
    let file = dir.join("env");
    let _ = std::fs::remove_file(&file);
    crate::env_file::write(&file, &env).map_err(|e| format!("{e}"))?;
    let tmux = crate::tmux::Tmux::new(from.tmux_socket.clone());
    let session = session_of(dir);
    if tmux.has_session(&session) {
        let _ = tmux.kill_session(&session);
    }
    let argv: Vec<OsString> = vec![
        from.vnx.clone().into(),
        "__key-relay".into(),
        "--place".into(),
        link.place.name().into(),
        "--env-file".into(),
        file.into(),
    ];
    (tmux.new_session(&session, &link.project.root, &[], &argv))
        .map(drop)
        .map_err(|e| format!("its tmux session: {e}"))
}

/// Waits for the keeper to say its tunnel listens in the place: the port there.
fn ready(link: &Link<'_>, from: &Dispatcher, dir: &Path) -> Result<u16, String> {
    let tmux = crate::tmux::Tmux::new(from.tmux_socket.clone());
    let session = session_of(dir);
    let until = Instant::now() + READY_LIMIT;
    loop {
        if let Some(port) = read_kept(dir).ok().and_then(|k| k.port) {
            return Ok(port);
        }
        let said = || {
            let log = crate::files::read_bounded(&dir.join("log"), 64 << 10).unwrap_or_default();
            let log = String::from_utf8_lossy(&log);
            let last = log.lines().last().unwrap_or("it said nothing");
            last.chars().take(300).collect::<String>()
        };
        if !tmux.has_session(&session) {
            return Err(format!("its keeper ended: {}", said()));
        }
        if Instant::now() > until {
            let _ = tmux.kill_session(&session);
            let place = link.place.name();
            return Err(format!(
                "its tunnel into {place} did not listen within {} s: {}",
                READY_LIMIT.as_secs(),
                said()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The keeper: relays `key` for the link's place until every dispatch it serves has ended
/// here, or the place is gone. Another keeper of the place running already: `Ok` at once.
pub fn keep(link: &Link<'_>, key: String, ended: Ended) -> Result<(), RemoteError> {
    let place = link.place.name().to_owned();
    let failed = |detail: String| RemoteError::KeyRelay {
        place: place.clone(),
        detail,
    };
    let dir = dir_of(&link.project.data_dir(), &place);
    let keeper_lock = dir.join("keeper.lock");
    let Some(_keeping) =
        crate::files::lock_file(&keeper_lock, false).map_err(super::io(&keeper_lock))?
    else {
        return Ok(());
    };
    let mut kept = read_kept(&dir).map_err(&failed)?;
    let upstream = Upstream::parse(&kept.upstream)
        .ok_or_else(|| failed(format!("{} is not a URL", kept.upstream)))?;
    let log_path = dir.join("log");
    let log = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&log_path)
            .map_err(super::io(&log_path))?
    };
    let note = |what: &str| {
        use std::io::Write;
        let _ = writeln!(&log, "vnx: {what}");
    };
    let route = Route {
        placeholder: kept.placeholder.clone(),
        key,
        upstream,
        scan: crate::constraints::relay_scan(&link.project.root, &kept.provider)
            .map_err(&failed)?,
        log: log.try_clone().ok().map(std::sync::Mutex::new),
    };
    let relay = relay::serve(route).map_err(|e| failed(format!("listen: {e}")))?;
    // Opened again, backing off, for as long as a dispatch it serves may still run there.
    let mut failures = 0u32;
    loop {
        match tunnel((link, &ended), &dir, relay, kept.port) {
            Ok(port) => {
                failures = 0;
                kept.port = Some(port);
            }
            Err(why) => {
                failures += 1;
                note(&format!("the tunnel into {place}: {why}"));
            }
        }
        let ensuring = dir.join("ensure.lock");
        let held = crate::files::lock_file(&ensuring, true).map_err(super::io(&ensuring))?;
        if all_ended(&ended, &dir) {
            note("every dispatch it served has ended: the relay ends");
            return Ok(());
        }
        drop(held);
        let there = link
            .place
            .call(&["true".to_owned()], None, Duration::from_secs(30));
        if let Err(RemoteError::Gone { .. }) = there {
            note(&format!("{place} is gone: the relay ends"));
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1 << failures.min(5)));
    }
}

/// Whether a dispatch has ended here: its completion mirrored, or its place given up on (the
/// caller reads the ledger; this floor does not).
pub type Ended = std::sync::Arc<dyn Fn(&DispatchId) -> bool + Send + Sync>;

/// Whether every dispatch the keeper in `dir` serves has `ended`, or never started (its
/// record here gone with a launch undone).
fn all_ended(ended: &Ended, dir: &Path) -> bool {
    let Ok(kept) = read_kept(dir) else {
        return true;
    };
    let data = dir.ancestors().nth(3).unwrap_or(dir);
    (kept.ids.iter()).all(|id| {
        ended(id)
            || super::sync::record_path(data, id)
                .symlink_metadata()
                .is_err()
    })
}

/// One run of the place's `vnx __key-tunnel` (on `port` there, when it had one before),
/// carrying its connections to the relay on `relay` here until its channel ends or every
/// dispatch the keeper serves has ended; the port it listened on.
fn tunnel(
    (link, ended): (&Link<'_>, &Ended),
    dir: &Path,
    relay: u16,
    port: Option<u16>,
) -> Result<u16, String> {
    let args = ["__key-tunnel", "--port", &port.unwrap_or(0).to_string()].map(str::to_owned);
    let cmd: Cmd = link.place.vnx_cmd(&args);
    let mut group = Group::spawn(&cmd, |c| {
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
    })
    .map_err(|e| e.to_string())?;
    let (Some(input), Some(mut output)) = (group.stdin(), group.stdout()) else {
        let _ = group.stop(Duration::ZERO);
        return Err("no pipes".into());
    };
    let (told, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let greeted = super::key_tunnel::greeting(&mut output);
        let _ = told.send((greeted, output));
    });
    let (listening, output) = match heard.recv_timeout(READY_LIMIT) {
        Ok((Ok(p), output)) => (p, output),
        Ok((Err(e), _)) => {
            let _ = group.stop(Duration::from_secs(2));
            return Err(format!("its first line: {e}"));
        }
        Err(_) => {
            let _ = group.stop(Duration::from_secs(2));
            return Err(format!(
                "it said nothing within {} s",
                READY_LIMIT.as_secs()
            ));
        }
    };
    if port.is_some_and(|p| p != listening) {
        let _ = group.stop(Duration::from_secs(2));
        return Err(format!(
            "it listened on {listening}, not {}",
            port.unwrap_or(0)
        ));
    }
    let mut kept = read_kept(dir)?;
    kept.port = Some(listening);
    write_kept(dir, &kept).map_err(|e| e.to_string())?;
    // Ends the channel once every dispatch served has ended here.
    let pid = group.pid();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watching = Arc::clone(&done);
    let (ended, data_dir) = (std::sync::Arc::clone(ended), dir.to_path_buf());
    std::thread::spawn(move || {
        while !watching.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(LOOK_EVERY);
            if all_ended(&ended, &data_dir) {
                let _ = crate::process::terminate(pid);
                return;
            }
        }
    });
    let carried = super::key_tunnel::carry(output, input, relay);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = group.stop(Duration::from_secs(2));
    carried.map_err(|e| format!("its channel: {e}"))?;
    Ok(listening)
}
