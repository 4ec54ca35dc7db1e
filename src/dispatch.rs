//! A dispatch, from plan to completion receipt: the plan (everything validated before disk is
//! touched), the launch (worktree, dispatch directory, `dispatch_started`, a tmux pane running
//! vnx's own supervisor), and the supervisor's work inside the pane (run the worker in its own
//! process group with a deadline, classify and release the worktree, `dispatch_completed`).

pub mod include;
pub mod view;

use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::ledger::json::{Object, Value};
use crate::ledger::receipt::is_dispatch_id;
use crate::ledger::{Ledger, LedgerError, Receipt};
use crate::process::{Cmd, Group, Stopped};
use crate::project::Project;
use crate::provider::{PROMPT, Permission, Provider, ProviderError};
use crate::tmux::{Tmux, TmuxError};
use crate::worktree::{Repo, TeardownClass, Worktree, WorktreeError};

/// Prompts longer than this go to the worker on stdin instead of as an argument (Linux caps
/// one argument at 128 KiB).
pub const MAX_PROMPT_ARG: usize = 100 * 1024;
/// Time a worker gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);

/// What a dispatcher asks for.
#[derive(Clone, Debug)]
pub struct Request {
    pub id: Option<String>,
    pub role: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub instruction: String,
    pub base_ref: String,
    pub deadline: Duration,
    pub permission: Permission,
}

/// Everything the supervisor needs, written to `dispatches/<id>/spec.json`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Spec {
    pub id: String,
    pub role: String,
    pub provider: Provider,
    pub model: Option<String>,
    pub permission: Permission,
    /// The worker's argv with `{prompt}` where the prompt goes.
    pub argv: Vec<String>,
    /// `argument` or `stdin`.
    pub prompt_transport: String,
    pub prompt_sha256: String,
    pub deadline_secs: u64,
    pub base_commit: String,
    pub worktree: PathBuf,
    pub branch: String,
    /// The main checkout and the git common directory (so the supervisor need not ask git).
    pub repo_root: PathBuf,
    pub git_common_dir: PathBuf,
    pub dispatch_dir: PathBuf,
    pub ledger: PathBuf,
    pub tmux_socket: String,
    pub session: String,
    pub remote: String,
    /// Git-ignored files copied in from `.worktreeinclude`: paths and hashes only.
    pub included: Vec<include::Included>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    #[error("{path} is not initialised for vnx")]
    NotInitialised { path: PathBuf },
    #[error("role {role:?} does not match ^[a-z][a-z0-9_-]{{0,31}}$")]
    BadRole { role: String },
    #[error(".worktreeinclude line {line}: {reason}")]
    BadInclude { line: usize, reason: String },
    #[error("the instruction is empty")]
    EmptyInstruction,
    #[error("the instruction contains a NUL byte, which no argument can carry")]
    NulInInstruction,
    #[error(
        "the main checkout has uncommitted changes to {count} tracked file(s), which a worker started from HEAD would not see"
    )]
    DirtyBase { count: usize },
    #[error("the main checkout's HEAD is detached, so HEAD names no branch to build on")]
    DetachedBase,
    #[error("worker CLI `{program}` was not found on PATH")]
    MissingCli { program: String },
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Worktree(#[from] WorktreeError),
    #[error(transparent)]
    Tmux(#[from] TmuxError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("could not write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("dispatch spec {path} is unreadable")]
    BadSpec {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl DispatchError {
    pub fn hint(&self) -> Option<String> {
        match self {
            DispatchError::NotInitialised { .. } => Some("run `vnx init` first".into()),
            DispatchError::BadRole { .. } => Some("e.g. --agent implementer".into()),
            DispatchError::DirtyBase { .. } => Some(
                "commit or stash them first, or pass --base-ref REF to start from a commit \
                 on purpose"
                    .into(),
            ),
            DispatchError::BadInclude { .. } => Some(
                "list paths relative to the repository root, one per line (`*` within a name, \
                 a trailing `/` for a directory)"
                    .into(),
            ),
            DispatchError::DetachedBase => {
                Some("check out a branch, or pass --base-ref REF explicitly".into())
            }
            DispatchError::EmptyInstruction => {
                Some("pass --instruction TEXT or --instruction-file FILE".into())
            }
            DispatchError::MissingCli { program } => Some(format!(
                "install {program}, or try the offline provider: --provider demo --model commit"
            )),
            DispatchError::Provider(e) => e.hint(),
            DispatchError::Worktree(e) => e.hint(),
            DispatchError::Tmux(e) => e.hint(),
            DispatchError::Ledger(e) => e.hint(),
            _ => None,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DispatchError + use<> {
    let path = path.to_owned();
    move |source| DispatchError::Io { path, source }
}

fn valid_role(role: &str) -> bool {
    let mut b = role.bytes();
    role.len() <= 32
        && b.next().is_some_and(|c| c.is_ascii_lowercase())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

/// A fresh dispatch id: `D-` and 8 random lowercase hex digits.
pub fn new_id() -> String {
    let mut bytes = [0u8; 4];
    // An all-zero id on a failing RNG would collide; fall back to time and pid instead.
    if getrandom::fill(&mut bytes).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        bytes = (t as u32).to_le_bytes();
    }
    format!("D-{}", hex::encode(bytes))
}

/// A validated dispatch, not yet started.
#[derive(Clone, Debug)]
pub struct Plan {
    pub spec: Spec,
    pub instruction: String,
    pub prompt: String,
    repo: Repo,
}

/// Where the pieces of a plan come from that the library does not look up itself.
pub struct Context<'a> {
    pub project: &'a Project,
    pub ledger: &'a Path,
    pub tmux: &'a Tmux,
    /// vnx's own binary (the supervisor, and the demo worker).
    pub vnx: &'a Path,
    /// Finds a program on PATH.
    pub find_program: &'a dyn Fn(&str) -> Option<PathBuf>,
}

/// Validates a request completely without touching disk (git is only asked to resolve the
/// base ref).
pub fn plan(ctx: &Context<'_>, req: &Request) -> Result<Plan, DispatchError> {
    let root = &ctx.project.root;
    if !root.join(crate::init::CONFIG).is_file() {
        return Err(DispatchError::NotInitialised { path: root.clone() });
    }
    let id = match &req.id {
        Some(id) if !is_dispatch_id(id) => {
            return Err(WorktreeError::BadId { id: id.clone() }.into());
        }
        Some(id) => id.clone(),
        None => new_id(),
    };
    if !valid_role(&req.role) {
        return Err(DispatchError::BadRole {
            role: req.role.clone(),
        });
    }
    let provider = match (&req.provider, &req.model) {
        (Some(name), _) => Provider::parse(name)?,
        (None, Some(model)) => Provider::infer(model)?,
        (None, None) => Provider::Claude,
    };
    provider.check_model(req.model.as_deref())?;
    if req.instruction.trim().is_empty() {
        return Err(DispatchError::EmptyInstruction);
    }
    if req.instruction.contains('\0') {
        return Err(DispatchError::NulInInstruction);
    }
    let mut argv = provider.headless_argv(req.model.as_deref(), req.permission, ctx.vnx);
    if provider != Provider::Demo {
        let binary = (ctx.find_program)(&argv[0]).ok_or_else(|| DispatchError::MissingCli {
            program: argv[0].clone(),
        })?;
        argv[0] = binary.to_string_lossy().into_owned();
    }
    let repo = Repo::for_project(ctx.project)?;
    if req.base_ref == "HEAD" {
        // The default base is the main checkout as committed: refuse when that is not what
        // the dispatcher is looking at.
        let state = repo.checkout_state()?;
        if state.detached {
            return Err(DispatchError::DetachedBase);
        }
        if !state.changed.is_empty() {
            return Err(DispatchError::DirtyBase {
                count: state.changed.len(),
            });
        }
    }
    let base_commit = repo.resolve(&req.base_ref)?;
    let included = include::resolve(&repo.root)?;
    let prompt = req.instruction.clone();
    let transport = if prompt.len() > MAX_PROMPT_ARG {
        // The CLIs read their prompt from stdin when it is not an argument.
        argv.retain(|a| a != PROMPT);
        "stdin"
    } else {
        "argument"
    };
    let dispatch_dir = root
        .join(crate::project::DATA_DIR)
        .join("dispatches")
        .join(&id);
    let spec = Spec {
        role: req.role.clone(),
        provider,
        model: req.model.clone(),
        permission: req.permission,
        argv,
        prompt_transport: transport.into(),
        prompt_sha256: hex::encode(Sha256::digest(prompt.as_bytes())),
        deadline_secs: req.deadline.as_secs().max(1),
        base_commit,
        worktree: repo.worktrees_dir().join(format!("dispatch-{id}")),
        branch: format!("dispatch/{id}"),
        repo_root: repo.root.clone(),
        git_common_dir: repo.common_dir.clone(),
        dispatch_dir,
        ledger: ctx.ledger.to_owned(),
        tmux_socket: ctx.tmux.socket().to_owned(),
        session: format!("vnx-{id}"),
        remote: "origin".into(),
        included,
        id,
    };
    Ok(Plan {
        spec,
        instruction: req.instruction.clone(),
        prompt,
        repo,
    })
}

fn receipt(fields: Vec<(&str, Value<'static>)>) -> Receipt {
    let mut o = Object::default();
    for (k, v) in fields {
        o.insert(k, v);
    }
    Receipt::from_object(o).expect("dispatch receipts are well-formed")
}

fn strings(items: &[String]) -> Value<'static> {
    Value::Array(items.iter().map(|s| Value::string(s.clone())).collect())
}

/// The argv as recorded: the prompt replaced by its hash.
fn recorded_argv(spec: &Spec) -> Vec<String> {
    spec.argv
        .iter()
        .map(|a| {
            if a == PROMPT {
                format!("<prompt sha256:{}>", spec.prompt_sha256)
            } else {
                a.clone()
            }
        })
        .collect()
}

/// What a started dispatch is.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Launched {
    pub id: String,
    pub worktree: PathBuf,
    pub session: String,
    pub tmux_socket: String,
    pub pane_id: String,
}

/// Starts a planned dispatch: worktree, dispatch directory, `dispatch_started`, and a tmux
/// session whose pane runs `vnx __supervise`. A failure undoes what was made.
pub fn launch(ctx: &Context<'_>, plan: &Plan) -> Result<Launched, DispatchError> {
    let spec = &plan.spec;
    let wt = plan.repo.create(&spec.id, &spec.base_commit)?;
    let undo_worktree = |repo: &Repo| {
        if let Ok(c) = wt.classify(&spec.remote)
            && c.class == TeardownClass::Clean
        {
            let _ = repo.release(&wt, &c);
        }
    };
    let written = include::copy(&plan.repo.root, &wt.path, &spec.included)
        .and_then(|()| write_dispatch_dir(plan));
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&spec.dispatch_dir);
        undo_worktree(&plan.repo);
        return Err(e);
    }
    let ledger = Ledger::new(&spec.ledger);
    let started = receipt(vec![
        ("event_type", Value::string("dispatch_started")),
        ("dispatch_id", Value::string(spec.id.clone())),
        ("role", Value::string(spec.role.clone())),
        ("provider", Value::string(spec.provider.name())),
        (
            "model",
            spec.model.clone().map_or(Value::Null, Value::string),
        ),
        ("lane", Value::string("headless")),
        (
            "permission",
            Value::string(format!("{:?}", spec.permission).to_lowercase()),
        ),
        (
            "permission_flags",
            strings(&spec.provider.permission_flags(spec.permission)),
        ),
        ("argv", strings(&recorded_argv(spec))),
        ("binary", Value::string(spec.argv[0].clone())),
        (
            "prompt_transport",
            Value::string(spec.prompt_transport.clone()),
        ),
        ("prompt_sha256", Value::string(spec.prompt_sha256.clone())),
        ("deadline_seconds", Value::int(spec.deadline_secs)),
        ("base_commit", Value::string(wt.base_commit.clone())),
        ("branch", Value::string(wt.branch.clone())),
        ("worktree", Value::string(wt.path.to_string_lossy())),
        (
            "worktree_include",
            Value::Array(
                spec.included
                    .iter()
                    .map(|f| {
                        let mut o = Object::default();
                        o.insert("path", Value::string(f.path.clone()));
                        o.insert("sha256", Value::string(f.sha256.clone()));
                        o.insert("bytes", Value::int(f.bytes));
                        Value::Object(o)
                    })
                    .collect(),
            ),
        ),
        (
            "tmux",
            Value::string(format!("{}:{}", spec.tmux_socket, spec.session)),
        ),
    ]);
    if let Err(e) = ledger.append(&started) {
        let _ = fs::remove_dir_all(&spec.dispatch_dir);
        undo_worktree(&plan.repo);
        return Err(e.into());
    }
    let argv: Vec<OsString> = vec![
        ctx.vnx.into(),
        "__supervise".into(),
        spec.dispatch_dir.join("spec.json").into(),
    ];
    let env = [("VNX_DISPATCH_ID".to_owned(), spec.id.clone())];
    match ctx.tmux.new_session(&spec.session, &wt.path, &env, &argv) {
        Ok(pane) => Ok(Launched {
            id: spec.id.clone(),
            worktree: wt.path.clone(),
            session: spec.session.clone(),
            tmux_socket: spec.tmux_socket.clone(),
            pane_id: pane.pane_id,
        }),
        Err(e) => {
            // The start is on the ledger: close it with a failure rather than leave it open.
            let _ = ledger.append(&receipt(vec![
                ("event_type", Value::string("dispatch_completed")),
                ("dispatch_id", Value::string(spec.id.clone())),
                ("status", Value::string("failed")),
                ("completion_signal", Value::string("launch_failed")),
                ("failure_reason", Value::string(e.to_string())),
            ]));
            undo_worktree(&plan.repo);
            Err(e.into())
        }
    }
}

fn write_dispatch_dir(plan: &Plan) -> Result<(), DispatchError> {
    let dir = &plan.spec.dispatch_dir;
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    fs::create_dir(dir).map_err(io_err(dir))?;
    let write = |name: &str, data: &[u8]| {
        let path = dir.join(name);
        fs::write(&path, data).map_err(io_err(&path))
    };
    write("instruction.md", plan.instruction.as_bytes())?;
    write("prompt.md", plan.prompt.as_bytes())?;
    let spec = serde_json::to_vec_pretty(&plan.spec).expect("specs serialize");
    write("spec.json", &spec)
}

/// Reads a dispatch spec.
pub fn read_spec(path: &Path) -> Result<Spec, DispatchError> {
    let data = fs::read(path).map_err(io_err(path))?;
    serde_json::from_slice(&data).map_err(|source| DispatchError::BadSpec {
        path: path.to_owned(),
        source,
    })
}

/// How a worker ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub status: String,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub duration_seconds: f64,
    pub teardown_class: Option<TeardownClass>,
}

/// The supervisor's whole job, run inside the dispatch's pane: start the worker in its own
/// process group in the worktree, copy its output to the pane and `worker.log`, stop it at
/// the deadline (TERM, grace, KILL), classify and release the worktree, and append
/// `dispatch_completed`.
/// Setting `cancel` (the CLI does on SIGHUP, SIGTERM or SIGINT) stops the worker the same way
/// and records the dispatch as `cancelled`.
pub fn supervise(
    spec: &Spec,
    pane: &Pane,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Outcome, DispatchError> {
    let started = Instant::now();
    let repo = Repo::from_parts(spec.repo_root.clone(), spec.git_common_dir.clone());
    // Isolation is checked, not assumed: the main checkout before and after the worker.
    let main_before = repo.checkout_state().ok();
    let prompt_path = spec.dispatch_dir.join("prompt.md");
    let prompt = fs::read_to_string(&prompt_path).map_err(io_err(&prompt_path))?;
    let log_path = spec.dispatch_dir.join("worker.log");
    let mut log = fs::File::create(&log_path).map_err(io_err(&log_path))?;
    let argv: Vec<String> = spec
        .argv
        .iter()
        .map(|a| {
            if a == PROMPT {
                prompt.clone()
            } else {
                a.clone()
            }
        })
        .collect();
    let cmd = Cmd::new(&argv[0])
        .args(&argv[1..])
        .cwd(&spec.worktree)
        .env("VNX_DISPATCH_ID", &spec.id);
    let stdin = if spec.prompt_transport == "stdin" {
        Some(fs::File::open(&prompt_path).map_err(io_err(&prompt_path))?)
    } else {
        None
    };
    let spawned = Group::spawn(&cmd, |c| {
        c.stdin(stdin.map_or_else(Stdio::null, Stdio::from))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    });
    let (status, exit_code, signal, reason) = match spawned {
        Err(e) => {
            let _ = writeln!(log, "vnx: {e}");
            ("failed", None, None, Some(e.to_string()))
        }
        Ok(mut group) => {
            let output = copy_output(&mut group, &log, pane);
            let deadline = started + Duration::from_secs(spec.deadline_secs);
            let mut waited = None;
            while Instant::now() < deadline && !cancel.load(std::sync::atomic::Ordering::Relaxed) {
                let step = (Instant::now() + Duration::from_millis(100)).min(deadline);
                waited = group
                    .wait_until(step)
                    .map_err(|e| io_err(&spec.worktree)(e))?;
                if waited.is_some() {
                    break;
                }
            }
            let cancelled = waited.is_none() && cancel.load(std::sync::atomic::Ordering::Relaxed);
            let (status, exit, reason) = match waited {
                Some(exit) => {
                    // The leader is gone; take down anything it left running.
                    let _ = group.stop(Duration::ZERO);
                    let status = if exit.success() { "done" } else { "failed" };
                    (status, exit, None)
                }
                None => {
                    let stopped = group.stop(GRACE).map_err(|e| io_err(&spec.worktree)(e))?;
                    let (exit, how) = match stopped {
                        Stopped::Terminated(s) => (s, "stopped with SIGTERM"),
                        Stopped::Killed(s) => (s, "ignored SIGTERM; killed with SIGKILL"),
                    };
                    if cancelled {
                        let why = format!("the supervisor was told to stop; {how}");
                        ("cancelled", exit, Some(why))
                    } else {
                        let why = format!("deadline of {} s passed; {how}", spec.deadline_secs);
                        ("timeout", exit, Some(why))
                    }
                }
            };
            output.finish();
            use std::os::unix::process::ExitStatusExt;
            (status, exit.code(), exit.signal(), reason)
        }
    };
    let duration = started.elapsed().as_secs_f64();
    let wt = Worktree {
        id: spec.id.clone(),
        path: spec.worktree.clone(),
        branch: spec.branch.clone(),
        base_commit: spec.base_commit.clone(),
    };
    let mut fields = vec![
        ("event_type", Value::string("dispatch_completed")),
        ("dispatch_id", Value::string(spec.id.clone())),
        ("status", Value::string(status)),
        (
            "completion_signal",
            Value::string(match status {
                "timeout" => "deadline",
                "cancelled" => "supervisor_signal",
                _ => "exit",
            }),
        ),
        (
            "duration_seconds",
            Value::Float((duration * 1000.0).round() / 1000.0),
        ),
        ("worker_log", Value::string(log_path.to_string_lossy())),
    ];
    if let Some(code) = exit_code {
        fields.push(("exit_code", Value::int(code)));
    }
    if let Some(sig) = signal {
        fields.push(("exit_signal", Value::int(sig)));
    }
    if let Some(reason) = reason {
        fields.push(("failure_reason", Value::string(reason)));
    }
    if let (Some(before), Ok(after)) = (&main_before, repo.checkout_state()) {
        let changed = *before != after;
        fields.push(("main_checkout_changed", Value::Bool(changed)));
        if changed {
            let mut o = Object::default();
            let head = |h: &Option<String>| h.clone().map_or(Value::Null, Value::string);
            o.insert("head_before", head(&before.head));
            o.insert("head_after", head(&after.head));
            o.insert("changed_before", strings(&before.changed));
            o.insert("changed_after", strings(&after.changed));
            fields.push(("main_checkout", Value::Object(o)));
        }
    }
    let class = match wt.classify(&spec.remote) {
        Ok(c) => {
            let action = repo.release(&wt, &c);
            fields.push((
                "teardown_class",
                Value::string(format!("{:?}", c.class).to_lowercase()),
            ));
            fields.push(("teardown_reason", Value::string(c.reason.clone())));
            fields.push(("commits", Value::int(c.commits)));
            if let Some(head) = &c.head_commit {
                fields.push(("head_commit", Value::string(head.clone())));
            }
            match action {
                Ok(a) => {
                    let mut o = Object::default();
                    o.insert("worktree_removed", Value::Bool(a.worktree_removed));
                    o.insert("branch_deleted", Value::Bool(a.branch_deleted));
                    o.insert("locked", Value::Bool(a.locked));
                    fields.push(("teardown_action", Value::Object(o)));
                }
                Err(e) => fields.push(("teardown_error", Value::string(e.to_string()))),
            }
            Some(c.class)
        }
        Err(e) => {
            fields.push(("teardown_error", Value::string(e.to_string())));
            None
        }
    };
    Ledger::new(&spec.ledger).append(&receipt(fields))?;
    Ok(Outcome {
        status: status.into(),
        exit_code,
        signal,
        duration_seconds: duration,
        teardown_class: class,
    })
}

/// Copies a worker's stdout and stderr to the log and the pane on two threads.
struct OutputCopy {
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl OutputCopy {
    fn finish(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Where the worker's output goes besides its log: the pane (the supervisor's stdout).
pub type Pane = std::sync::Arc<std::sync::Mutex<dyn Write + Send>>;

fn copy_output(group: &mut Group, log: &fs::File, pane: &Pane) -> OutputCopy {
    use std::sync::{Arc, Mutex};
    let log = Arc::new(Mutex::new(log.try_clone()));
    let pipes: Vec<Box<dyn Read + Send>> = [
        group.stdout().map(|p| Box::new(p) as Box<dyn Read + Send>),
        group.stderr().map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .collect();
    let threads = pipes
        .into_iter()
        .map(|mut pipe| {
            let log = Arc::clone(&log);
            let pane = Arc::clone(pane);
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(Ok(log)) = log.lock().as_deref_mut().map(|l| l.as_mut()) {
                        let _ = log.write_all(&buf[..n]);
                    }
                    if let Ok(mut pane) = pane.lock() {
                        let _ = pane.write_all(&buf[..n]);
                        let _ = pane.flush();
                    }
                }
            })
        })
        .collect();
    OutputCopy { threads }
}
