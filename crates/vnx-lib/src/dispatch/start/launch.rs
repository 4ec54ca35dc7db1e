//! The launch: a planned dispatch made real — its directory (which claims the id), its
//! worktree with the `.worktreeinclude` files and vnx's hooks, `dispatch_started` with the
//! constraint decisions, and a tmux session whose pane runs `vnx __supervise`. A launch that
//! fails part-way undoes what it made (see [`Undo`]), and never what it did not make.

use crate::ids::DispatchId;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::dispatch::spec::recorded_argv;
use crate::dispatch::supervise::pending;
use crate::dispatch::{
    Context, DispatchError, Plan, Spec, attest_all, io_err, liveness, start::govern,
    start::include, start::workspace,
};
use crate::evidence_reach;
use crate::ledger::{Ledger, Receipt, now_utc};
use crate::provider::cli::CLIS;
use crate::provider::cli::hook::{InWorktree, Launch};
use crate::provider::hooks::HookKind;
use crate::receipts::{
    self, CompletionSignal, DispatchCompleted, DispatchStarted, DispatchStatus, IncludedFile,
};
use crate::sandbox::{QuarantineExt, ShapeExt};
use crate::worktree::{Pool, Repo, TeardownClass, Worktree};

/// What a started dispatch is.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Launched {
    /// The dispatch id.
    #[serde(rename = "dispatch_id")]
    pub id: DispatchId,
    /// The worktree the worker runs in.
    pub worktree: PathBuf,
    /// The tmux session, `vnx-<id>`.
    pub session: String,
    /// The tmux socket it runs on.
    pub tmux_socket: String,
    /// The pane running the supervisor (`%N`).
    pub pane_id: String,
    /// How many times tmux's server shut down under the session's start ("server exited
    /// unexpectedly") before it took on a fresh one.
    #[serde(skip_serializing_if = "crate::dispatch::state::is_zero")]
    pub tmux_server_restarts: u32,
    /// The directories of `worktree.copy_ignored` not copied into its worktree, and why.
    #[serde(skip)]
    pub not_copied: Vec<crate::worktree::reflink::Skipped>,
}

/// What a launch made, undone when it is dropped before [`Undo::done`]: vnx's files in the
/// worktree, the worktree and its branch while they hold nothing of a worker's (classified
/// clean), and the dispatch directory unless the start is on the ledger (then it is
/// evidence, and stays).
struct Undo<'a> {
    repo: &'a Repo,
    remote: &'a str,
    dispatch_dir: &'a Path,
    keep_dispatch_dir: bool,
    worktree: Option<Worktree>,
    placed: Vec<workspace::Placed>,
    /// The dispatch's id and the port it claimed, given back unless the start is on the
    /// ledger.
    id: &'a DispatchId,
    port: Option<u16>,
    /// The pool a worktree that holds nothing goes back to, and the entry it came from.
    pool: Option<(Pool, Option<String>)>,
    /// A sandboxed worker's git quarantine (empty: the worker never ran).
    quarantine: Option<std::path::PathBuf>,
    /// Whether the completion's space was reserved (given back if the launch fails).
    reserved: bool,
    /// The supervisor's tmux session, started beside the rest of the launch: waited for and
    /// killed if the launch fails (its supervisor, waiting on the dispatch's lock, then finds
    /// no launch to supervise).
    session: Option<Starting>,
    finished: bool,
}

/// A tmux session being started on another thread.
struct Starting {
    tmux: crate::tmux::Tmux,
    name: String,
    thread: std::thread::JoinHandle<Result<crate::tmux::Pane, crate::tmux::TmuxError>>,
}

impl Starting {
    /// The started session's pane, once `new-session` has returned.
    fn join(self) -> Result<crate::tmux::Pane, crate::tmux::TmuxError> {
        self.thread
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

impl<'a> Undo<'a> {
    fn new(plan: &'a Plan) -> Undo<'a> {
        Undo {
            repo: &plan.repo,
            remote: &plan.spec.remote,
            dispatch_dir: &plan.spec.dispatch_dir,
            keep_dispatch_dir: false,
            worktree: None,
            placed: Vec::new(),
            id: &plan.spec.id,
            port: None,
            pool: None,
            quarantine: None,
            reserved: false,
            session: None,
            finished: false,
        }
    }

    /// The launch succeeded: nothing is undone.
    fn done(mut self) {
        self.finished = true;
    }
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Some(s) = self.session.take() {
            let (tmux, name) = (s.tmux.clone(), s.name.clone());
            if s.join().is_ok() {
                let _ = tmux.kill_session(&name);
            }
        }
        workspace::remove(&self.placed);
        // The dispatcher's environment (API keys and all) was for a supervisor that never
        // took it: it goes even when the dispatch directory stays as evidence.
        let _ = fs::remove_file(crate::env_file::path_in(self.dispatch_dir));
        // A sandboxed worker's private copy of its CLI's home holds the user's login: it
        // goes even when the dispatch directory stays as evidence.
        let _ = crate::sandbox::home::remove(self.dispatch_dir);
        super::carried::forget_logins(self.dispatch_dir);
        if let Some(q) = &self.quarantine {
            let _ = fs::remove_dir_all(q);
        }
        if let Some(port) = self.port
            && !self.keep_dispatch_dir
        {
            let data = self.repo.root.join(crate::project::DATA_DIR);
            crate::dispatch::start::ports::release(&data, port, self.id);
        }
        if let Some(wt) = &self.worktree
            && let Ok(c) = wt.classify(self.remote)
            && c.class == TeardownClass::Clean
        {
            let _ = match &self.pool {
                Some((pool, entry)) => self.repo.release_with_pool(wt, &c, pool, entry.as_deref()),
                None => self.repo.release(wt, &c),
            };
        }
        if !self.keep_dispatch_dir {
            let _ = fs::remove_dir_all(self.dispatch_dir);
        }
        if self.reserved {
            let data = self.repo.root.join(crate::project::DATA_DIR);
            pending::unreserve(&data, self.id);
        }
    }
}

/// Starts a planned dispatch: worktree, dispatch directory, `dispatch_started`, and a tmux
/// session whose pane runs `vnx __supervise`. A failure undoes what was made.
pub fn launch(ctx: &Context<'_>, plan: &Plan) -> Result<Launched, DispatchError> {
    let spec = plan.spec.clone();
    // The dispatch directory claims the id: made first, and only by this run (an id in use
    // is refused without touching what is there). Its lock, held until this returns (the
    // supervisor then holds it), says the dispatch lives while the launch is under way.
    let alive = claim_dispatch_dir(&spec)?;
    // The CLI's `--version` (a node CLI's start: up to seconds when it is not cached) runs
    // beside the worktree's creation; the spec and `dispatch_started` wait for it.
    let probe = ctx.probe_version;
    std::thread::scope(|s| {
        let version = plan
            .version_of
            .as_deref()
            .map(|binary| s.spawn(move || probe(binary)));
        launch_claimed(ctx, plan, spec, alive, version)
    })
}

/// The CLI's version being probed on another thread.
type Probing<'s> = std::thread::ScopedJoinHandle<'s, Option<String>>;

/// The launch once the dispatch directory is claimed (`alive`, its lock: given up once the
/// launch is complete, or when this returns; a failure is undone while it is held).
fn launch_claimed(
    ctx: &Context<'_>,
    plan: &Plan,
    mut spec: Spec,
    alive: fs::File,
    version: Option<Probing<'_>>,
) -> Result<Launched, DispatchError> {
    let mut undo = Undo::new(plan);
    // A follow-up reopens its first dispatch's worktree: its directory says so while its
    // launch holds its lock, so doctor sees that worktree in use, not left over.
    if let Some(c) = &spec.continues {
        let path = spec
            .dispatch_dir
            .join(crate::dispatch::liveness::REOPENS_FILE);
        crate::files::write_private(&path, c.first.as_str().as_bytes()).map_err(io_err(&path))?;
    }
    // The dispatcher's environment is there before the supervisor: it takes it and restarts
    // itself in it while the worktree is being made, not after.
    if let Some(env) = ctx.env {
        let path = crate::env_file::path_in(&spec.dispatch_dir);
        crate::env_file::write(&path, &crate::env_file::handed_on(env)).map_err(io_err(&path))?;
    }
    // The supervisor's pane starts now, beside the worktree's creation (each takes several
    // milliseconds); its supervisor waits on the dispatch's lock, held here until the launch
    // is complete, and reads what the launch wrote only then.
    undo.session = Some(start_supervisor(ctx, &spec));
    // The completion's space is set aside before anything runs: a disk too full to hold it
    // refuses the dispatch now rather than lose its end later.
    let data_dir = plan.repo.root.join(crate::project::DATA_DIR);
    pending::reserve(&data_dir, &spec.id)
        .map_err(io_err(&pending::reserve_path(&data_dir, &spec.id)))?;
    undo.reserved = true;
    crate::steps::reached(crate::steps::launch::DIRECTORY_MADE);
    let (wt, fresh) = make_worktree(plan, &mut spec, &mut undo)?;
    // A follow-up that brings its branch onto the base merges it in now, before the worker
    // starts, conflicts left in the worktree for the worker to resolve.
    if let Some(rebase) = spec.continues.as_ref().and_then(|c| c.rebase.as_ref()) {
        crate::dispatch::start::rebase::apply(&wt.path, rebase)?;
        crate::steps::reached(crate::steps::rebase::BASE_MERGED);
    }
    // A worktree a follow-up found in place is left as it was (its worker's files included).
    if fresh {
        undo.worktree = Some(wt.clone());
        include::copy(&plan.repo.root, &wt.path, &spec.included)?;
    }
    let not_copied = match fresh {
        true => {
            crate::worktree::reflink::copy_ignored(&plan.repo.root, &wt.path, &spec.copy_ignored)
        }
        false => Vec::new(),
    };
    refuse_links_leading_out(&spec, &wt.path)?;
    let placed = place_hooks(&mut spec, &wt.path);
    undo.placed = spec.placed.clone();
    placed?;
    if let Some(range) = spec.port_range {
        let data = plan.repo.root.join(crate::project::DATA_DIR);
        let port = claim_port(&spec, &data, range)?;
        spec.port = Some(port);
        undo.port = Some(port);
    }
    if spec.sandbox.is_some() {
        let q = quarantine(&plan.repo, &spec.id, &spec.branch, &wt.path)?;
        undo.quarantine = Some(q.dir.clone());
        if let Some(shape) = spec.sandbox.as_mut() {
            // The worktree's git administrative directory (its index and HEAD) is the
            // worker's.
            shape.writable.push(q.admin.clone());
            shape.writable.sort();
            shape.git = Some(q.quarantine);
            shape.make_writable()?;
        }
    }
    spec.binary_version = match version {
        Some(probing) => probing
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        None => plan.version_read.clone(),
    };
    if let Some(limits) = spec.limits.as_mut() {
        crate::admission::limits::enforce(limits, crate::admission::limits::has_prlimit);
    }
    write_dispatch_dir(plan, &spec)?;
    super::carried::seed_own_home(ctx, &spec)?;
    super::carried::seed_memory(ctx, &spec)?;
    crate::steps::reached(crate::steps::launch::WORKTREE_MADE);
    // The start and its constraint decisions are one group commit, the start first: a
    // dispatch's first receipt is its `dispatch_started` (unless it was refused).
    let receipts = start_receipts(ctx, plan, &spec, &wt);
    let ledger = Ledger::new(&spec.ledger);
    let appended = ledger.append_all(&attest_all(ctx.attestor, receipts))?;
    undo.keep_dispatch_dir = true;
    crate::steps::reached(crate::steps::launch::STARTED_APPENDED);
    let started_hash = appended
        .lines
        .iter()
        .find(|l| l.event_type == <DispatchStarted as receipts::Kind>::EVENT)
        .map(|l| l.entry_hash.clone())
        .unwrap_or_default();
    // The start is on the ledger: a failure from here closes it rather than leave it open.
    let close_failed = |reason: String| {
        let failed = receipts::write(&DispatchCompleted {
            failure_reason: Some(reason),
            ..DispatchCompleted::new(
                spec.id.clone(),
                DispatchStatus::Failed,
                CompletionSignal::LaunchFailed,
            )
        });
        let _ = ledger.append(&ctx.attestor.attest(&failed, &now_utc));
    };
    let started_file = spec.dispatch_dir.join(liveness::STARTED_FILE);
    liveness::write_started(&spec.dispatch_dir, &started_hash)
        .map_err(io_err(&started_file))
        .inspect_err(|e| close_failed(e.to_string()))?;
    // The launch is complete: its supervisor, waiting on the lock in its pane, starts the
    // worker now, while tmux finishes starting the session (the client returns last).
    drop(alive);
    let (pane_id, tmux_server_restarts) = pane_of_started(&spec, undo, &close_failed)?;
    Ok(Launched {
        id: spec.id.clone(),
        worktree: wt.path.clone(),
        session: spec.session.clone(),
        tmux_socket: spec.tmux_socket.clone(),
        pane_id,
        tmux_server_restarts,
        not_copied,
    })
}

/// The pane of the supervisor's session, once tmux finished starting it, and how often its
/// server shut down under the start; the launch is then done (`undo` dismissed). A session
/// that did not start while no supervisor took the dispatch closes it (`close_failed`) and
/// undoes the launch, under the dispatch's lock taken back.
fn pane_of_started(
    spec: &Spec,
    mut undo: Undo<'_>,
    close_failed: &dyn Fn(String),
) -> Result<(String, u32), DispatchError> {
    let starting = undo.session.take().expect("the session is started first");
    let (tmux, session) = (starting.tmux.clone(), starting.name.clone());
    let mut tmux_server_restarts = 0;
    let pane_id = match starting.join() {
        Ok(pane) => {
            tmux_server_restarts = pane.server_restarts;
            pane.pane_id
        }
        Err(e) => {
            let lock = spec.dispatch_dir.join(liveness::LOCK_FILE);
            // A supervisor that ran opened the worker's log before anything else.
            let supervised = || {
                spec.dispatch_dir
                    .join("worker.log")
                    .symlink_metadata()
                    .is_ok()
            };
            match crate::files::lock_file(&lock, false) {
                // No supervisor took the dispatch (its session did not start): it is
                // closed, and what the launch made undone, under the lock taken back.
                Ok(Some(relocked)) if !supervised() => {
                    close_failed(e.to_string());
                    drop(undo);
                    drop(relocked);
                    return Err(e.into());
                }
                // Its supervisor holds it (or held it): the session came up, and the
                // dispatch runs (or ran).
                _ => match tmux.pane_id(&session) {
                    Some(id) => id,
                    None => {
                        undo.done();
                        return Err(e.into());
                    }
                },
            }
        }
    };
    undo.done();
    Ok((pane_id, tmux_server_restarts))
}

/// The dispatch's worktree: a new one (from the pool when it has one), or the worktree a
/// follow-up reopens (added again when it was gone); whether it is fresh. What the launch
/// must give back if it fails goes into `undo`.
fn make_worktree(
    plan: &Plan,
    spec: &mut Spec,
    undo: &mut Undo<'_>,
) -> Result<(Worktree, bool), DispatchError> {
    let pool = pool_of(&plan.repo, spec);
    let (wt, fresh, entry) = match &spec.continues {
        None => {
            let (wt, entry) =
                plan.repo
                    .create_from(&spec.id, spec.base_commit.as_str(), pool.as_ref())?;
            (wt, true, entry)
        }
        Some(c) => plan.repo.reopen(
            &c.first,
            &spec.branch,
            &spec.worktree,
            &spec.base_commit,
            &c.head_commit,
            pool.as_ref(),
        )?,
    };
    spec.pool_entry = entry;
    if fresh {
        undo.pool = pool.map(|p| (p, spec.pool_entry.clone()));
    }
    Ok((wt, fresh))
}

/// The start's group commit, the start first (a dispatch's first receipt is its
/// `dispatch_started`, unless it was refused), then its constraint and egress decisions.
fn start_receipts(
    ctx: &Context<'_>,
    plan: &Plan,
    spec: &Spec,
    wt: &Worktree,
) -> Vec<crate::ledger::Receipt> {
    let mut receipts = vec![started(ctx, plan, spec, wt)];
    receipts.extend(govern::decision_receipts(
        spec,
        &plan.constraints.decisions,
        &plan.constraints_sha256,
    ));
    receipts.extend(crate::dispatch::start::egress::receipt(
        spec,
        &plan.egress,
        &plan.constraints_sha256,
    ));
    receipts
}

/// Refuses an unsandboxed worker whose posture lets it edit files (`ask` and `edits`; `full`
/// lets it run anything, so a link adds nothing) in a worktree holding a link that leads out
/// of it: its CLI would write through the link (ADR 0071).
fn refuse_links_leading_out(spec: &Spec, worktree: &Path) -> Result<(), DispatchError> {
    if spec.sandbox.is_some() || spec.permission == crate::receipts::kinds::Permission::Full {
        return Ok(());
    }
    let walked = crate::worktree::links::leading_out(worktree).map_err(io_err(worktree))?;
    if walked.contained() {
        return Ok(());
    }
    Err(DispatchError::LinkLeadsOut {
        id: spec.id.to_string(),
        permission: spec.permission.name(),
        walked,
    })
}

/// A sandboxed worker's git quarantine, and its worktree's administrative directory.
struct Quarantined {
    quarantine: crate::sandbox::git::Quarantine,
    admin: std::path::PathBuf,
    dir: std::path::PathBuf,
}

/// Makes the quarantine a sandboxed worker commits into, at its branch's current commit.
fn quarantine(
    repo: &Repo,
    id: &DispatchId,
    branch: &str,
    worktree: &Path,
) -> Result<Quarantined, DispatchError> {
    let dot_git = worktree.join(".git");
    let admin = crate::worktree::pool::admin_dir(worktree)
        .and_then(|d| fs::canonicalize(d).ok())
        .filter(|d| d.parent() == Some(repo.common_dir.join("worktrees").as_path()))
        .ok_or_else(|| DispatchError::Io {
            path: dot_git.clone(),
            source: std::io::Error::other("it does not name this repository's worktree"),
        })?;
    let start = crate::process::run_ok(
        &crate::process::Cmd::git()
            .arg("-C")
            .arg(&repo.root)
            .args(["rev-parse", "--verify", "--quiet"])
            .arg(format!("refs/heads/{branch}^{{commit}}")),
    )
    .map_err(|source| crate::sandbox::SandboxError::Import { source })?;
    let dir = repo
        .root
        .join(crate::project::DATA_DIR)
        .join("quarantine")
        .join(id);
    let quarantine =
        crate::sandbox::git::Quarantine::prepare(&repo.common_dir, &dir, branch, start.trim())?;
    Ok(Quarantined {
        quarantine,
        admin,
        dir,
    })
}

/// The project's worktree pool, when the config keeps one.
pub(crate) fn pool_of(repo: &Repo, spec: &Spec) -> Option<Pool> {
    (spec.pool_size > 0).then(|| Pool::new(repo, spec.pool_size, &spec.pool_keep))
}

/// A port for the dispatch. A claim stays with its dispatch while that has not ended on the
/// ledger and its directory exists (a launch under way, a running or lost dispatch).
fn claim_port(spec: &Spec, data: &Path, range: (u16, u16)) -> Result<u16, DispatchError> {
    let open = |owner: &str| {
        // A claim's owner is text in a file: one that is not an id names no dispatch.
        let ended = DispatchId::parse(owner).ok().is_none_or(|owner| {
            crate::dispatch::view::completion(&spec.ledger, &owner)
                .ok()
                .flatten()
                .is_some()
        });
        !ended && data.join("dispatches").join(owner).is_dir()
    };
    Ok(crate::dispatch::start::ports::claim(
        data,
        range,
        &spec.id,
        spec.preferred_port,
        open,
    )?)
}

/// The `dispatch_started` receipt.
fn started(ctx: &Context<'_>, plan: &Plan, spec: &Spec, wt: &Worktree) -> Receipt {
    receipts::write(&DispatchStarted {
        dispatch_id: spec.id.clone(),
        role: spec.role.clone(),
        provider: spec.provider.to_string(),
        model: spec.model.clone(),
        lane: spec.lane,
        permission: spec.permission,
        permission_flags: spec.invocation.permission_flags.clone(),
        argv: recorded_argv(spec),
        binary: spec.invocation.argv[0].clone(),
        binary_version: spec.binary_version.clone(),
        environment: ctx
            .env
            .map(|e| crate::env_file::names(&crate::env_file::handed_on(e))),
        prompt_transport: spec.invocation.prompt_transport,
        completion: spec.invocation.completion,
        hooks: spec.invocation.hooks.clone(),
        vnx_files_placed: spec.placed.clone(),
        prompt_sha256: spec.prompt_sha256.clone(),
        instruction_sha256: hex::encode(Sha256::digest(plan.instruction.as_bytes())),
        port: spec.port,
        pooled_worktree: spec.pool_entry.clone(),
        prompt_bytes: plan.prompt.len() as u64,
        deadline_seconds: spec.deadline_secs,
        base_commit: wt.base_commit.clone(),
        base_ref: plan.base_ref.clone(),
        writes: spec.writes,
        branch: wt.branch.clone(),
        worktree: wt.path.to_string_lossy().into_owned(),
        worktree_include: spec
            .included
            .iter()
            .map(|f| IncludedFile {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
                bytes: f.bytes,
            })
            .collect(),
        tmux: format!("{}:{}", spec.tmux_socket, spec.session),
        skills: govern::skill_refs(&plan.skills),
        constraint_decisions: govern::decision_refs(&plan.constraints.decisions),
        constraints_sha256: plan.constraints_sha256.clone(),
        evidence_reach: match &spec.sandbox {
            Some(shape) => evidence_reach::measure_sandboxed(
                shape,
                ctx.vnx,
                ctx.key_path,
                &spec.ledger,
                &plan.repo.common_dir,
            ),
            None => evidence_reach::measure(ctx.key_path, &spec.ledger, &plan.repo.common_dir),
        },
        continues: spec.continues.clone(),
        after: spec.after.clone(),
        budget: spec.budget.clone(),
        project_day: spec.project_day.clone(),
        limits: spec.limits.clone(),
        started_by: ctx.by.map(str::to_owned),
        started_by_dispatch: ctx.by_worker.cloned(),
        plan: spec.plan.clone(),
        group: spec.group.clone(),
        sandbox: spec.sandbox.clone(),
        replay_of: spec.replay_of.clone(),
        remote: None,
        title: Some(plan.title.clone()).filter(|t| !t.is_empty()),
        gates: plan.gates.clone(),
        cli_homes: spec.session_homes.as_ref().map(|h| h.recorded()),
        session_id: spec.session_id.clone(),
        cli_env: spec.invocation.env.iter().cloned().collect(),
        extra: Default::default(),
    })
}

/// Starts the dispatch's tmux session on another thread; its pane runs vnx's supervisor in
/// the dispatch directory (the worktree does not exist yet).
fn start_supervisor(ctx: &Context<'_>, spec: &Spec) -> Starting {
    let argv: Vec<OsString> = vec![
        ctx.vnx.into(),
        "__supervise".into(),
        spec.dispatch_dir.join("spec.json").into(),
    ];
    let env = [
        ("VNX_DISPATCH_ID".to_owned(), spec.id.to_string()),
        // The supervisor signs with the key this dispatcher resolved, whatever environment
        // the tmux server was started with.
        (
            "VNX_CHECKPOINT_KEY".to_owned(),
            ctx.key_path.to_string_lossy().into_owned(),
        ),
    ];
    let (tmux, name, dir) = (
        ctx.tmux.clone(),
        spec.session.clone(),
        spec.dispatch_dir.clone(),
    );
    let thread = {
        let (tmux, name) = (tmux.clone(), name.clone());
        std::thread::spawn(move || tmux.new_session(&name, &dir, &env, &argv))
    };
    Starting { tmux, name, thread }
}

/// What a launch hands the CLIs' modules for their hooks' files.
fn launch_of(spec: &Spec) -> Launch<'_> {
    Launch {
        hooks: &spec.invocation.hooks,
        argv: &spec.invocation.argv,
        allowed_commands: &spec.invocation.allowed_commands,
        vnx: &spec.vnx,
        dispatch_dir: &spec.dispatch_dir,
    }
}

/// A CLI whose hooks live in the worktree places them there (its module's
/// `Hooks::place`); without a place for them its turns end unseen and completion
/// rests on the report and the exit. They are recorded as trusted in the spec's trust file
/// where the CLI asks for that; if that cannot be written, the CLI warns about them and runs
/// them anyway.
fn place_hooks(spec: &mut Spec, worktree: &Path) -> Result<(), DispatchError> {
    let trust = spec.hook_trust.take();
    for hooks in crate::provider::cli::all_hooks() {
        match hooks
            .place(&launch_of(spec), worktree, trust.as_deref())
            .map_err(io_err(worktree))?
        {
            InWorktree::Nothing => {}
            InWorktree::Placed { placed, trusted } => {
                spec.placed.push(placed);
                spec.hook_trust = trust.clone().filter(|_| trusted);
            }
            InWorktree::NoPlace => spec.invocation.hooks = HookKind::NONE,
        }
    }
    Ok(())
}

/// Creates the dispatch's directory (private), refusing an id whose directory exists, and
/// takes its liveness lock.
fn claim_dispatch_dir(spec: &Spec) -> Result<fs::File, DispatchError> {
    let dir = &spec.dispatch_dir;
    if let Some(parent) = dir.parent() {
        crate::files::private_dir(parent).map_err(io_err(parent))?;
    }
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => liveness::hold(dir).map_err(io_err(&dir.join(liveness::LOCK_FILE))),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(DispatchError::IdInUse {
            id: spec.id.to_string(),
            what: dir.clone(),
        }),
        Err(e) => Err(io_err(dir)(e)),
    }
}

fn write_dispatch_dir(plan: &Plan, spec: &Spec) -> Result<(), DispatchError> {
    let dir = &spec.dispatch_dir;
    let write = |name: &str, data: &[u8]| {
        let path = dir.join(name);
        crate::files::write_private(&path, data).map_err(io_err(&path))
    };
    write("instruction.md", plan.instruction.as_bytes())?;
    write("prompt.md", plan.prompt.as_bytes())?;
    // The files the CLI's hooks read (its settings, its policy), in the CLIs' order.
    let files: Vec<(&str, Vec<u8>)> = CLIS
        .iter()
        .flat_map(|cli| cli.dispatch_files(&launch_of(spec)))
        .collect();
    for (name, data) in files {
        if let Some(parent) = Path::new(name)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            let sub = dir.join(parent);
            crate::files::private_dir(&sub).map_err(io_err(&sub))?;
        }
        write(name, &data)?;
    }
    super::carried::carry_session(spec)?;
    // `vnx` on the worker's PATH, for the completion protocol's `vnx report`.
    let bin = dir.join("bin");
    crate::files::private_dir(&bin).map_err(io_err(&bin))?;
    std::os::unix::fs::symlink(&spec.vnx, bin.join("vnx")).map_err(io_err(&bin))?;
    let data = serde_json::to_vec_pretty(spec).expect("specs serialize");
    write("spec.json", &data)
}
