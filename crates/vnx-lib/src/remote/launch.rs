//! Starting a dispatch on a host: its vnx checked first (present, and new enough), the base
//! commit pushed to the host's `refs/vnx/incoming/<id>`, the dispatch started there by the
//! host's own `vnx dispatch-agent --detach --json` (its tmux, its supervisor, its ledger), and
//! its start caught up with here. A launch that fails leaves nothing behind: no record, no
//! pushed ref, no receipt.

use crate::ids::{CommitId, DispatchId};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::asked::Asked;
use super::sync::{self, Link, Record};
use super::{MIN_HOST_VERSION, RemoteError, parse_version};
use crate::ledger::append::now_utc;

/// What a remote dispatch asks for: the `dispatch-agent` arguments passed on to the host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteRequest {
    /// The dispatch id (a fresh one when `None`).
    pub id: Option<DispatchId>,
    /// The base as named here (`HEAD`, a branch, a commit); with `base_commit`, the base as
    /// recorded.
    pub base_ref: String,
    /// The base commit, when it was resolved already (a dispatch queued here: its base is
    /// the commit resolved when it was queued).
    pub base_commit: Option<CommitId>,
    /// The other `dispatch-agent` arguments, as the host's vnx takes them (never `--id`,
    /// `--base-ref`, `--detach` or `--json`); for a follow-up, `follow-up`'s.
    pub args: Vec<String>,
    /// The remote dispatch this one follows up (`vnx follow-up` on the host, in its worktree;
    /// nothing is pushed).
    pub follows: Option<String>,
    /// The dispatching process, for a host that relays credentials
    /// ([`super::key_relay::ensure`]); `None`: nothing is relayed.
    pub dispatcher: Option<super::key_relay::Dispatcher>,
}

/// A dispatch started on a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteLaunched {
    /// The dispatch id.
    pub dispatch_id: DispatchId,
    /// The host.
    pub host: String,
    /// `started` or `queued` (on the host's own queue).
    pub state: String,
    /// The host's answer (its `dispatch-agent --json`).
    pub remote: serde_json::Value,
}

/// How long the host may take to answer a version check or start a dispatch.
const START_LIMIT: Duration = Duration::from_secs(120);

/// Checks the host's vnx: present and at least [`MIN_HOST_VERSION`]; returns its version line.
pub fn check_vnx(link: &Link<'_>) -> Result<String, RemoteError> {
    let host = link.place.host();
    let out = link
        .place
        .vnx(&["--version".to_owned()], None, START_LIMIT)?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    match out.status.code() {
        Some(0) => {}
        Some(status @ (126 | 127)) => {
            return Err(RemoteError::VnxMissing {
                host: host.name.clone(),
                vnx: host.vnx.clone(),
                status,
                stderr,
            });
        }
        status => {
            return Err(RemoteError::Remote {
                host: host.name.clone(),
                command: format!("{} --version", host.vnx),
                status: status.unwrap_or(-1),
                stderr,
            });
        }
    }
    let found = out.text();
    match parse_version(&found) {
        Some(v) if found.starts_with("vnx ") && v >= MIN_HOST_VERSION => Ok(found),
        _ => Err(RemoteError::VnxTooOld {
            host: host.name.clone(),
            found: if found.is_empty() {
                "no version".into()
            } else {
                found
            },
        }),
    }
}

/// The base commit, and the base as recorded (the branch it names, as a local dispatch
/// records it, so that `vnx merge` merges back into it); `HEAD` must be a branch without
/// uncommitted changes to tracked files, as for a local dispatch.
pub fn resolve_base(
    project: &crate::project::Project,
    base_ref: &str,
) -> Result<(CommitId, String), RemoteError> {
    let repo = crate::worktree::Repo::for_project(project)?;
    if base_ref == "HEAD" {
        let state = repo.checkout_state()?;
        if state.detached {
            return Err(RemoteError::BadBase {
                detail: "the main checkout's HEAD is detached; name a base with --base-ref".into(),
            });
        }
        if !state.changed.is_empty() {
            return Err(RemoteError::BadBase {
                detail: format!(
                    "the main checkout has {} uncommitted change(s) to tracked files; commit \
                     them (the host gets commits only) or name a base with --base-ref",
                    state.changed.len()
                ),
            });
        }
    }
    let commit = repo.resolve(base_ref)?;
    let recorded = repo
        .branch_ref(base_ref)
        .unwrap_or_else(|| base_ref.to_owned());
    Ok((commit, recorded))
}

/// Starts `request` on the link's host (see the module's description).
pub fn launch(link: &Link<'_>, request: &RemoteRequest) -> Result<RemoteLaunched, RemoteError> {
    let host = link.place.name().to_owned();
    let data = link.project.data_dir();
    let id = request.id.clone().unwrap_or_else(DispatchId::fresh);
    // Before anything is pushed or recorded: a local dispatch or a remote one of this id
    // would have its record replaced here, or its branch collide with the one fetched back.
    let repo = crate::worktree::Repo::for_project(link.project)?;
    let record = sync::record_path(&data, &id);
    let taken = crate::worktree::id_in_use(&link.project.root, &repo, &id)
        .or_else(|| record.symlink_metadata().is_ok().then_some(record));
    if let Some(path) = taken {
        return Err(RemoteError::IdInUse {
            id: id.into_string(),
            path,
        });
    }
    // A follow-up continues its dispatch in that dispatch's place (the caller's link), made
    // again when it stopped; a new dispatch's place is made for it, and nothing half-made
    // stays when a step fails.
    let fresh = request.follows.is_none();
    let per_dispatch = fresh && super::kinds::per_dispatch(link.place.host());
    // Held until the launch ends (its start here, or what it made undone), naming its place:
    // a place found meanwhile by its labels is not an orphan, and a launch killed on the way
    // is found and finished by the next reading command ([`repair_interrupted`]).
    let _launching = LaunchingLock::take(&data, &id, link.place.name())?;
    let provider = match &request.follows {
        Some(original) => DispatchId::parse(original)
            .ok()
            .and_then(|o| sync::read_record(&data, &o))
            .and_then(|r| r.asked.and_then(|a| a.provider)),
        None => Asked::of_args(&request.args, None).provider,
    };
    let provider = provider_of(provider, &request.args);
    super::key_relay::check(link, &provider, request.dispatcher.as_ref())?;
    link.place.make(&link.project.root, fresh)?;
    crate::steps::reached(crate::steps::place_launch::PLACE_MADE);
    let unmade = |e: RemoteError| {
        if per_dispatch {
            let _ = link.place.remove();
        }
        e
    };
    // Caught up first, which checks the host's vnx (present and new enough): a first contact
    // anchors the host's chain at its last line, before the dispatch's; a host whose ledger
    // no longer extends what was mirrored is not dispatched to.
    sync::catch_up(link, &[]).map_err(unmade)?;
    if let Some(original) = &request.follows {
        return follow_up(link, request, (original, &provider), &id);
    }
    let (base_commit, base_ref) = match &request.base_commit {
        Some(commit) => (commit.clone(), request.base_ref.clone()),
        None => resolve_base(link.project, &request.base_ref).map_err(unmade)?,
    };
    let undo = |link: &Link<'_>| {
        sync::drop_base(link, &id);
        let _ = std::fs::remove_file(sync::record_path(&data, &id));
        if per_dispatch {
            let _ = link.place.remove();
        }
    };
    let pushed = sync::push_base(link, base_commit.as_str(), &id)
        .and_then(|()| link.place.seed(&super::incoming_ref(&id)));
    let record = Record {
        host: host.clone(),
        base_ref,
        base_commit,
        dispatched_at: now_utc(),
        asked: Some(Asked::of_args(&request.args, None)),
    };
    if let Err(e) = pushed.and_then(|()| sync::write_record(&data, &id, &record)) {
        undo(link);
        return Err(e);
    }
    crate::steps::reached(crate::steps::place_launch::RECORD_KEPT);
    let incoming = super::incoming_ref(&id);
    let start_args = ["dispatch-agent", "--detach", "--json", "--id", id.as_str()];
    let mut args: Vec<String> = start_args.map(String::from).to_vec();
    args.extend(["--base-ref".to_owned(), incoming]);
    args.extend(request.args.iter().cloned());
    let relayed = super::key_relay::ensure(link, &id, &provider, request.dispatcher.as_ref())
        .inspect_err(|_| undo(link))?;
    start(link, (&relayed, &args), &id, &|link| undo(link))
}

/// The provider a dispatch asked for (`--provider`), else the one its `--model` names, else
/// the default, as the place's vnx resolves it.
fn provider_of(asked: Option<String>, args: &[String]) -> String {
    let model = (args.iter().position(|a| a == "--model")).and_then(|i| args.get(i + 1));
    asked
        .or_else(|| {
            Some(
                crate::provider::Provider::infer(model?)
                    .ok()?
                    .name()
                    .to_owned(),
            )
        })
        .unwrap_or_else(|| crate::provider::Provider::DEFAULT.name().to_owned())
}

/// A launch's hold on its [`super::orphans::launching_lock`], the file (naming the place)
/// removed when it ends: its start is here by then, or what it made undone. A launch killed
/// leaves the file, unlocked.
struct LaunchingLock {
    /// Locked while it is open; closed after the file is removed.
    _held: Option<std::fs::File>,
    path: std::path::PathBuf,
}

impl LaunchingLock {
    /// Takes dispatch `id`'s launching lock, the file naming `place`.
    fn take(data: &std::path::Path, id: &DispatchId, place: &str) -> Result<Self, RemoteError> {
        let path = super::orphans::launching_lock(data, id);
        let dir = path.parent().unwrap_or(data);
        crate::files::private_dir(dir).map_err(super::io(dir))?;
        let held = crate::files::lock_file(&path, true).map_err(super::io(&path))?;
        crate::files::write_atomic_private(&path.with_extension("place"), place.as_bytes(), true)
            .map_err(super::io(&path))?;
        Ok(LaunchingLock { _held: held, path })
    }
}

impl Drop for LaunchingLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path.with_extension("place"));
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A follow-up of `original` on its host: the host continues it in its worktree (its chain's
/// `provider`).
fn follow_up(
    link: &Link<'_>,
    request: &RemoteRequest,
    (original, provider): (&str, &str),
    id: &DispatchId,
) -> Result<RemoteLaunched, RemoteError> {
    let data = link.project.data_dir();
    let record = DispatchId::parse(original).ok();
    let Some(before) = record.and_then(|o| sync::read_record(&data, &o)) else {
        return Err(RemoteError::Remote {
            host: link.place.name().to_owned(),
            command: "vnx follow-up".into(),
            status: -1,
            stderr: format!("{original} was not dispatched from here"),
        });
    };
    // The follow-up's role is its chain's, as asked here; the rest as its arguments ask.
    let role = before.asked.as_ref().and_then(|a| a.role.clone());
    let continued = DispatchId::parse(original).ok();
    let asked = continued
        .as_ref()
        .map(|o| Asked::of_args(&request.args, Some((o, role.as_deref()))));
    let record = Record {
        dispatched_at: now_utc(),
        asked,
        ..before
    };
    sync::write_record(&data, id, &record)?;
    crate::steps::reached(crate::steps::place_launch::RECORD_KEPT);
    let mut args: Vec<String> = vec![
        "follow-up".into(),
        original.into(),
        "--new-id".into(),
        id.to_string(),
        "--detach".into(),
        "--json".into(),
    ];
    args.extend(request.args.iter().cloned());
    let undo = |_: &Link<'_>| {
        let _ = std::fs::remove_file(sync::record_path(&data, id));
    };
    let relayed = super::key_relay::ensure(link, id, provider, request.dispatcher.as_ref())
        .inspect_err(|_| undo(link))?;
    start(link, (&relayed, &args), id, &undo)
}

/// Runs the host's command that starts dispatch `id` (its vnx's `args`, after the `env …`
/// prefix a relayed key gives it) and catches up with its start; `undo` removes what was
/// made here when the host refused.
fn start(
    link: &Link<'_>,
    (relayed, args): (&[String], &[String]),
    id: &DispatchId,
    undo: &dyn Fn(&Link<'_>),
) -> Result<RemoteLaunched, RemoteError> {
    let host = link.place.name().to_owned();
    // The instruction goes on stdin (`--instruction-file -`): as an argument it crosses the
    // host's shell, where one argument may not exceed 128 KiB.
    let mut args = args.to_vec();
    let stdin = match args.iter().position(|a| a == "--instruction") {
        Some(i) if i + 1 < args.len() => {
            let text = args.remove(i + 1);
            args[i] = "--instruction-file".into();
            args.insert(i + 1, "-".into());
            let dir = super::remote_dir(&link.project.data_dir());
            std::fs::create_dir_all(&dir).map_err(super::io(&dir))?;
            let path = dir.join(format!("instruction-{id}"));
            let _ = std::fs::remove_file(&path);
            crate::files::write_private(&path, text.as_bytes()).map_err(super::io(&path))?;
            Some(path)
        }
        _ => None,
    };
    // A link lost here leaves the record: the host may have started it, and a catch-up
    // finds out.
    let out = if relayed.is_empty() {
        link.place.vnx(&args, stdin.as_deref(), START_LIMIT)
    } else {
        let vnx = std::iter::once(link.place.host().vnx.clone());
        let argv: Vec<String> = (relayed.iter().cloned())
            .chain(vnx)
            .chain(args.clone())
            .collect();
        link.place.call(&argv, stdin.as_deref(), START_LIMIT)
    };
    if let Some(path) = &stdin {
        let _ = std::fs::remove_file(path);
    }
    let out = out?;
    if !out.status.success() {
        undo(link);
        return Err(RemoteError::Remote {
            host,
            command: format!("vnx {}", args.first().map_or("", String::as_str)),
            status: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    crate::steps::reached(crate::steps::place_launch::STARTED_THERE);
    let remote: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| RemoteError::BadAnswer {
            host: host.clone(),
            command: format!("vnx {} --json", args.first().map_or("", String::as_str)),
            detail: e.to_string(),
        })?;
    let state = remote
        .get("state")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("started")
        .to_owned();
    sync::catch_up(link, std::slice::from_ref(id))?;
    Ok(RemoteLaunched {
        dispatch_id: id.clone(),
        host,
        state,
        remote,
    })
}

/// A remote host's vnx's arguments: each flag that has a value, then the value, in order.
pub fn flags<'a>(given: impl IntoIterator<Item = (&'a str, Option<String>)>) -> Vec<String> {
    (given.into_iter())
        .filter_map(|(flag, value)| Some([flag.to_owned(), value?]))
        .flatten()
        .collect()
}

/// The sandbox asked for (`Some(true)`: --sandbox, `Some(false)`: --no-sandbox) and its
/// network as a remote host's vnx takes them: a sandbox asked for here is asked for there
/// (never silently dropped).
pub fn sandbox_flags(
    sandbox: Option<bool>,
    network: Option<crate::sandbox::Network>,
) -> Vec<String> {
    let sandbox = sandbox.map(|on| if on { "--sandbox" } else { "--no-sandbox" });
    let mut a: Vec<String> = sandbox.into_iter().map(str::to_owned).collect();
    a.extend(flags([("--network", network.map(|n| n.name().to_owned()))]));
    a
}
