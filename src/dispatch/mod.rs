//! A dispatch, from plan to launch: the plan (everything validated before disk is touched:
//! role, id, provider and lane, model, instruction, skills, base, configuration, and the
//! provider constraints, whose refusal is the plan's only write: its decisions go on the
//! ledger) and the launch (worktree, dispatch directory with the composed prompt and hook
//! settings, the constraint decisions and `dispatch_started`, a tmux pane running vnx's own
//! supervisor). The supervisor's work is in
//! `supervise`, its verdict in `outcome`.

pub mod compose;
mod govern;
pub mod include;
pub mod liveness;
pub mod outcome;
pub mod pending;
pub mod phantom;
pub mod signals;
pub mod slots;
pub mod supervise;
pub mod view;
pub mod workspace;

pub use govern::Reasons;
pub use supervise::{GRACE, Outcome, Pane, Surroundings, supervise};

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::{Config, ConfigError};
use crate::constraints::{self, Decision, Evaluation, LoadError, Overrides, Route};
use crate::evidence_reach::Reach;
use crate::ledger::attest::Attestor;
use crate::ledger::json::{Object, Value};
use crate::ledger::receipt::is_dispatch_id;
use crate::ledger::{Ledger, LedgerError, Receipt, now_utc};
use crate::project::Project;
use crate::provider::hooks::{self, HookKind};
use crate::provider::invocation::{self, declared_invocation};
use crate::provider::{Invocation, Lane, Permission, Provider, ProviderError, Wanted};
use crate::skills::{self, Skill, SkillError};
use crate::tmux::{Tmux, TmuxError};
use crate::worktree::{Repo, TeardownClass, WorktreeError};

/// The longest deadline a dispatch takes: 30 days.
pub const MAX_DEADLINE_SECS: u64 = 30 * 24 * 3600;

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
    /// The provider's default lane when `None`.
    pub lane: Option<Lane>,
    /// Skills to compose into the prompt, in order; empty: the role's defaults from
    /// `.vnx/config.yaml`.
    pub skills: Vec<String>,
    /// Constraint overrides: the `<KEY>` of each `VNX_OVERRIDE_<KEY>=1` (the id uppercased,
    /// `-` → `_`; see [`constraints::override_key`]).
    pub overrides: BTreeSet<String>,
    /// Reasons for overrides, from `VNX_OVERRIDE_<KEY>_REASON`, by `<KEY>`.
    pub override_reasons: BTreeMap<String, String>,
    /// How long the supervisor retries appending the completion before leaving it pending.
    pub completion_retry: Duration,
}

/// Everything the supervisor needs, written to `dispatches/<id>/spec.json`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Spec {
    pub id: String,
    pub role: String,
    /// A built-in or declared provider's name.
    pub provider: String,
    pub model: Option<String>,
    pub permission: Permission,
    pub lane: Lane,
    /// How the worker is started; `argv[0]` is resolved to a path.
    pub invocation: Invocation,
    /// The worker binary's `--version` (or vnx's own for the demo).
    pub binary_version: Option<String>,
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
    /// vnx's own binary (hooks, `bin/vnx` for the worker's `vnx report`).
    pub vnx: PathBuf,
    /// The provider's concurrency limit from `.vnx/config.yaml`, if any.
    pub slot_limit: Option<u32>,
    /// Files vnx put in the worktree for the worker, removed before classification.
    #[serde(default)]
    pub placed: Vec<workspace::Placed>,
    /// Whether the role is expected to change files (the phantom guard, `phantom`).
    #[serde(default)]
    pub writes: bool,
    /// Seconds the supervisor retries appending the completion (see `pending`).
    #[serde(default = "default_completion_retry")]
    pub completion_retry_secs: u64,
}

fn default_completion_retry() -> u64 {
    30
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
    #[error("dispatch id {id} is in use: {what} exists")]
    IdInUse { id: String, what: PathBuf },
    #[error("a deadline of {secs} s is outside 1..={MAX_DEADLINE_SECS} s")]
    BadDeadline { secs: u64 },
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
    Config(#[from] ConfigError),
    #[error(transparent)]
    Constraints(#[from] LoadError),
    #[error(transparent)]
    Skill(#[from] SkillError),
    #[error("{}", govern::refusal_message(.id, .refusals))]
    Refused {
        id: String,
        refusals: Vec<Decision>,
        #[source]
        reasons: govern::Reasons,
    },
    #[error("constraint `{constraint}` pinned model {model:?}, which the provider does not take")]
    PinnedModel {
        constraint: String,
        model: String,
        #[source]
        source: ProviderError,
    },
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
            DispatchError::IdInUse { .. } => {
                Some("leave out --id to get a fresh one; `vnx status` lists the ids in use".into())
            }
            DispatchError::EmptyInstruction => {
                Some("pass --instruction TEXT or --instruction-file FILE".into())
            }
            DispatchError::MissingCli { program } => Some(format!(
                "install {program}, or try the offline provider: --provider demo --model commit"
            )),
            DispatchError::Provider(e) => e.hint(),
            DispatchError::Config(e) => e.hint(),
            DispatchError::Constraints(e) => e.hint(),
            DispatchError::Skill(e) => e.hint(),
            DispatchError::Refused { refusals, .. } => Some(govern::refusal_hint(refusals)),
            DispatchError::PinnedModel { .. } => Some(
                "pass --model, or narrow the constraint's required_route with `provider:`".into(),
            ),
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

/// What already uses dispatch id `id`, if anything: its directory, its worktree or its branch.
fn id_in_use(root: &Path, repo: &Repo, id: &str) -> Option<PathBuf> {
    let dir = root
        .join(crate::project::DATA_DIR)
        .join("dispatches")
        .join(id);
    let worktree = repo.worktrees_dir().join(format!("dispatch-{id}"));
    for path in [dir, worktree] {
        if path.symlink_metadata().is_ok() {
            return Some(path);
        }
    }
    let branch = format!("dispatch/{id}");
    git2::Repository::open(&repo.root)
        .is_ok_and(|r| r.find_branch(&branch, git2::BranchType::Local).is_ok())
        .then(|| PathBuf::from(format!("refs/heads/{branch}")))
}

/// A validated dispatch, not yet started.
#[derive(Clone, Debug)]
pub struct Plan {
    pub spec: Spec,
    pub instruction: String,
    pub prompt: String,
    /// The base as recorded: the branch it names (`refs/heads/…`; `vnx merge` merges back
    /// into it), else the ref as given.
    pub base_ref: String,
    /// The skills composed into the prompt.
    pub skills: Vec<Skill>,
    /// What the provider constraints decided (none refused).
    pub constraints: Evaluation,
    /// SHA-256 of the constraints file that decided.
    pub constraints_sha256: String,
    repo: Repo,
}

/// Where the pieces of a plan come from that the library does not look up itself.
pub struct Context<'a> {
    pub project: &'a Project,
    pub ledger: &'a Path,
    pub tmux: &'a Tmux,
    /// vnx's own binary (the supervisor, the hooks, and the demo worker).
    pub vnx: &'a Path,
    /// Finds a program on PATH.
    pub find_program: &'a dyn Fn(&str) -> Option<PathBuf>,
    /// `program --version` (cached by the caller as it likes).
    pub probe_version: &'a dyn Fn(&Path) -> Option<String>,
    /// Signs the receipts the dispatch writes.
    pub attestor: &'a Attestor,
    /// The signing key's path, handed to the supervisor (which signs the completion).
    pub key_path: &'a Path,
}

/// A provider as the plan resolved it.
enum Resolved {
    Builtin(Provider),
    Declared(String, Box<crate::config::DeclaredProvider>),
}

fn resolve_provider(req: &Request, config: &Config) -> Result<Resolved, DispatchError> {
    let resolved = match (&req.provider, &req.model) {
        (Some(name), _) => match Provider::parse(name) {
            Ok(p) => Resolved::Builtin(p),
            Err(e) => match config.providers.get(name) {
                Some(def) => Resolved::Declared(name.clone(), Box::new(def.clone())),
                None => return Err(e.into()),
            },
        },
        (None, Some(model)) => Resolved::Builtin(Provider::infer(model)?),
        (None, None) => Resolved::Builtin(Provider::Claude),
    };
    Ok(resolved)
}

impl Resolved {
    /// Checks the model the dispatch will run with (the demo's names its behaviour).
    fn check_model(&self, model: Option<&str>) -> Result<(), ProviderError> {
        match self {
            Resolved::Builtin(p) => p.check_model(model),
            Resolved::Declared(name, _) => crate::provider::check_declared_model(name, model),
        }
    }
}

/// Validates a request completely without touching disk (git is only asked to resolve the
/// base ref), then lets the provider constraints judge it. A refusal is the one write: the
/// decisions go on the ledger as `constraint_decision` receipts, and nothing else is made.
pub fn plan(ctx: &Context<'_>, req: &Request) -> Result<Plan, DispatchError> {
    let root = &ctx.project.root;
    // Only a missing file means "not initialised"; anything else there is loaded and its
    // error says what it is (a directory, a link).
    if ctx.project.config_path().symlink_metadata().is_err() {
        return Err(DispatchError::NotInitialised { path: root.clone() });
    }
    let config = ctx.project.load_config()?;
    let repo = Repo::for_project(ctx.project)?;
    let id = match &req.id {
        Some(id) if !is_dispatch_id(id) => {
            return Err(WorktreeError::BadId { id: id.clone() }.into());
        }
        Some(id) => match id_in_use(root, &repo, id) {
            Some(what) => {
                return Err(DispatchError::IdInUse {
                    id: id.clone(),
                    what,
                });
            }
            None => id.clone(),
        },
        // A random id that happens to be taken is drawn again.
        None => std::iter::repeat_with(new_id)
            .take(64)
            .find(|id| id_in_use(root, &repo, id).is_none())
            .unwrap_or_else(new_id),
    };
    if !valid_role(&req.role) {
        return Err(DispatchError::BadRole {
            role: req.role.clone(),
        });
    }
    let resolved = resolve_provider(req, &config)?;
    if req.instruction.trim().is_empty() {
        return Err(DispatchError::EmptyInstruction);
    }
    let deadline_secs = req.deadline.as_secs();
    if !(1..=MAX_DEADLINE_SECS).contains(&deadline_secs) {
        return Err(DispatchError::BadDeadline {
            secs: deadline_secs,
        });
    }
    if req.instruction.contains('\0') {
        return Err(DispatchError::NulInInstruction);
    }
    let (provider_name, lane) = match &resolved {
        Resolved::Builtin(p) => (p.name().to_owned(), req.lane.unwrap_or(p.default_lane())),
        Resolved::Declared(name, def) => (name.clone(), req.lane.unwrap_or(def.default_lane)),
    };
    // Skills: those named, else the role's defaults.
    let skill_names = match (req.skills.is_empty(), config.roles.get(&req.role)) {
        (true, Some(role)) => role.skills.clone(),
        _ => req.skills.clone(),
    };
    let skills = skills::load_all(root, &skill_names)?;
    // The constraints judge the route; a pin may fill in the model.
    let constraints = constraints::load(&root.join(constraints::FILE))?;
    let evaluation = constraints::evaluate(
        &constraints,
        &Route {
            provider: &provider_name,
            model: req.model.as_deref(),
            role: &req.role,
            lane,
            permission: req.permission,
        },
        &Overrides {
            keys: req.overrides.clone(),
            reasons: req.override_reasons.clone(),
        },
    );
    let model = evaluation.model.clone();
    // A model a pin filled in that the provider cannot take is the constraint's fault.
    let pinned = |source: ProviderError| match &evaluation.pinned_by {
        Some(constraint)
            if matches!(
                source,
                ProviderError::BadModel { .. } | ProviderError::NoModelArgs { .. }
            ) =>
        {
            DispatchError::PinnedModel {
                constraint: constraint.clone(),
                model: model.clone().unwrap_or_default(),
                source,
            }
        }
        _ => source.into(),
    };
    resolved.check_model(model.as_deref()).map_err(pinned)?;
    let dispatch_dir = root
        .join(crate::project::DATA_DIR)
        .join("dispatches")
        .join(&id);
    let invoke = |prompt_len: usize| {
        let wanted = Wanted {
            lane,
            model: model.as_deref(),
            permission: req.permission,
            prompt_len,
            vnx: ctx.vnx,
            dispatch_dir: &dispatch_dir,
            git_common_dir: &repo.common_dir,
        };
        match &resolved {
            Resolved::Builtin(p) => p.invocation(&wanted),
            Resolved::Declared(name, def) => declared_invocation(name, def, &wanted),
        }
    };
    // The completion protocol the prompt states depends on the invocation, whose transport
    // depends on the prompt's length: decide the protocol first.
    let completion = invoke(0).map_err(pinned)?.completion;
    let prompt = compose::compose(&id, &req.role, &req.instruction, completion, &skills);
    let mut invocation = invoke(prompt.len()).map_err(pinned)?;
    let binary = match &resolved {
        Resolved::Builtin(Provider::Demo) => ctx.vnx.to_owned(),
        _ => {
            let program = &invocation.argv[0];
            let found = if program.contains('/') {
                let p = PathBuf::from(program);
                p.is_file().then_some(p)
            } else {
                (ctx.find_program)(program)
            };
            found.ok_or_else(|| DispatchError::MissingCli {
                program: program.clone(),
            })?
        }
    };
    invocation.argv[0] = binary.to_string_lossy().into_owned();
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
    let base_ref = repo
        .branch_ref(&req.base_ref)
        .unwrap_or_else(|| req.base_ref.clone());
    let included = include::resolve(&repo.root)?;
    let spec = Spec {
        role: req.role.clone(),
        slot_limit: config.concurrency.get(&provider_name).copied(),
        provider: provider_name,
        model: model.clone(),
        permission: req.permission,
        lane,
        // A declared provider may be any script: running it with `--version` could do
        // anything, so only the built-in CLIs are probed.
        binary_version: match &resolved {
            Resolved::Builtin(_) => (ctx.probe_version)(&binary),
            Resolved::Declared(..) => None,
        },
        invocation,
        prompt_sha256: hex::encode(Sha256::digest(prompt.as_bytes())),
        deadline_secs,
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
        vnx: ctx.vnx.to_owned(),
        placed: Vec::new(),
        writes: phantom::writes(&req.role, &config),
        completion_retry_secs: req.completion_retry.as_secs(),
        id,
    };
    let refusals: Vec<Decision> = evaluation.refusals().into_iter().cloned().collect();
    if !refusals.is_empty() {
        // The dispatch does not run; its decisions are the only thing written.
        let receipts = govern::decision_receipts(&spec, &evaluation.decisions, &constraints.sha256);
        Ledger::new(&spec.ledger).append_all(&attest_all(ctx.attestor, receipts))?;
        let reasons = refusals
            .iter()
            .map(|d| format!("{}: {}", d.constraint_id, d.reason))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(DispatchError::Refused {
            id: spec.id,
            refusals,
            reasons: govern::Reasons(reasons),
        });
    }
    Ok(Plan {
        spec,
        instruction: req.instruction.clone(),
        prompt,
        base_ref,
        skills,
        constraints: evaluation,
        constraints_sha256: constraints.sha256,
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

/// Signs receipts (see [`Attestor::attest`]).
fn attest_all(attestor: &Attestor, receipts: Vec<Receipt>) -> Vec<Receipt> {
    receipts
        .iter()
        .map(|r| attestor.attest(r, &now_utc))
        .collect()
}

fn strings(items: &[String]) -> Value<'static> {
    Value::Array(items.iter().map(|s| Value::string(s.clone())).collect())
}

/// The argv as recorded: the prompt replaced by its hash.
fn recorded_argv(spec: &Spec) -> Vec<String> {
    let hash = format!("<prompt sha256:{}>", spec.prompt_sha256);
    let file = spec.dispatch_dir.join("prompt.md");
    let mut argv: Vec<String> = spec.invocation.argv[1..]
        .iter()
        .map(|a| invocation::expand(a, &hash, &file.to_string_lossy()))
        .collect();
    argv.insert(0, spec.invocation.argv[0].clone());
    argv
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
    let mut spec = plan.spec.clone();
    // The dispatch directory claims the id: made first, and only by this run (an id in use
    // is refused without touching what is there). Its lock, held until this returns (the
    // supervisor then holds it), says the dispatch lives while the launch is under way.
    let _alive = claim_dispatch_dir(&spec)?;
    let wt = match plan.repo.create(&spec.id, &spec.base_commit) {
        Ok(wt) => wt,
        Err(e) => {
            let _ = fs::remove_dir_all(&spec.dispatch_dir);
            return Err(e.into());
        }
    };
    let undo_worktree = |repo: &Repo, placed: &[workspace::Placed]| {
        workspace::remove(placed);
        if let Ok(c) = wt.classify(&plan.spec.remote)
            && c.class == TeardownClass::Clean
        {
            let _ = repo.release(&wt, &c);
        }
    };
    let written = include::copy(&plan.repo.root, &wt.path, &spec.included)
        .and_then(|()| place_hooks(&mut spec, &wt.path))
        .and_then(|()| write_dispatch_dir(plan, &spec));
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&spec.dispatch_dir);
        undo_worktree(&plan.repo, &spec.placed);
        return Err(e);
    }
    let ledger = Ledger::new(&spec.ledger);
    let started = receipt(vec![
        ("event_type", Value::string("dispatch_started")),
        ("dispatch_id", Value::string(spec.id.clone())),
        ("role", Value::string(spec.role.clone())),
        ("provider", Value::string(spec.provider.clone())),
        (
            "model",
            spec.model.clone().map_or(Value::Null, Value::string),
        ),
        ("lane", Value::string(spec.lane.name())),
        ("permission", Value::string(spec.permission.name())),
        (
            "permission_flags",
            strings(&spec.invocation.permission_flags),
        ),
        ("argv", strings(&recorded_argv(&spec))),
        ("binary", Value::string(spec.invocation.argv[0].clone())),
        (
            "binary_version",
            spec.binary_version
                .clone()
                .map_or(Value::Null, Value::string),
        ),
        (
            "prompt_transport",
            Value::string(spec.invocation.prompt_transport.name()),
        ),
        (
            "completion",
            outcome::ledger_value(&spec.invocation.completion),
        ),
        ("hooks", outcome::ledger_value(&spec.invocation.hooks)),
        ("vnx_files_placed", outcome::ledger_value(&spec.placed)),
        ("prompt_sha256", Value::string(spec.prompt_sha256.clone())),
        (
            "instruction_sha256",
            Value::string(hex::encode(Sha256::digest(plan.instruction.as_bytes()))),
        ),
        ("prompt_bytes", Value::int(plan.prompt.len() as u64)),
        ("deadline_seconds", Value::int(spec.deadline_secs)),
        ("base_commit", Value::string(wt.base_commit.clone())),
        ("base_ref", Value::string(plan.base_ref.clone())),
        ("writes", Value::Bool(spec.writes)),
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
        ("skills", govern::skills_value(&plan.skills)),
        (
            "constraint_decisions",
            govern::decisions_value(&plan.constraints.decisions),
        ),
        (
            "constraints_sha256",
            Value::string(plan.constraints_sha256.clone()),
        ),
        (
            "evidence_reach",
            outcome::ledger_value(&Reach::measure(
                ctx.key_path,
                &spec.ledger,
                &plan.repo.common_dir,
            )),
        ),
    ]);
    // The start and its constraint decisions are one group commit, the start first: a
    // dispatch's first receipt is its `dispatch_started` (unless it was refused).
    let mut receipts = vec![started];
    receipts.extend(govern::decision_receipts(
        &spec,
        &plan.constraints.decisions,
        &plan.constraints_sha256,
    ));
    if let Err(e) = ledger.append_all(&attest_all(ctx.attestor, receipts)) {
        let _ = fs::remove_dir_all(&spec.dispatch_dir);
        undo_worktree(&plan.repo, &spec.placed);
        return Err(e.into());
    }
    let argv: Vec<OsString> = vec![
        ctx.vnx.into(),
        "__supervise".into(),
        spec.dispatch_dir.join("spec.json").into(),
    ];
    let env = [
        ("VNX_DISPATCH_ID".to_owned(), spec.id.clone()),
        // The supervisor signs with the key this dispatcher resolved, whatever environment
        // the tmux server was started with.
        (
            "VNX_CHECKPOINT_KEY".to_owned(),
            ctx.key_path.to_string_lossy().into_owned(),
        ),
    ];
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
            let failed = receipt(vec![
                ("event_type", Value::string("dispatch_completed")),
                ("dispatch_id", Value::string(spec.id.clone())),
                ("status", Value::string("failed")),
                ("completion_signal", Value::string("launch_failed")),
                ("failure_reason", Value::string(e.to_string())),
            ]);
            let _ = ledger.append(&ctx.attestor.attest(&failed, &now_utc));
            undo_worktree(&plan.repo, &spec.placed);
            Err(e.into())
        }
    }
}

/// Gemini's hooks go in the worktree; without a place for them its turns end unseen and
/// completion rests on the report and the exit.
fn place_hooks(spec: &mut Spec, worktree: &Path) -> Result<(), DispatchError> {
    if spec.invocation.hooks == HookKind::GeminiAfterAgent {
        match workspace::place_gemini_hooks(worktree, &spec.vnx, &spec.dispatch_dir)
            .map_err(io_err(worktree))?
        {
            Some(placed) => spec.placed.push(placed),
            None => spec.invocation.hooks = HookKind::None,
        }
    }
    Ok(())
}

/// Creates the dispatch's directory (private), refusing an id whose directory exists, and
/// takes its liveness lock.
fn claim_dispatch_dir(spec: &Spec) -> Result<fs::File, DispatchError> {
    let dir = &spec.dispatch_dir;
    if let Some(parent) = dir.parent() {
        crate::project::private_dir(parent).map_err(io_err(parent))?;
    }
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => liveness::hold(dir).map_err(io_err(&dir.join(liveness::LOCK_FILE))),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(DispatchError::IdInUse {
            id: spec.id.clone(),
            what: dir.clone(),
        }),
        Err(e) => Err(io_err(dir)(e)),
    }
}

fn write_dispatch_dir(plan: &Plan, spec: &Spec) -> Result<(), DispatchError> {
    let dir = &spec.dispatch_dir;
    let write = |name: &str, data: &[u8]| {
        let path = dir.join(name);
        crate::project::write_private(&path, data).map_err(io_err(&path))
    };
    write("instruction.md", plan.instruction.as_bytes())?;
    write("prompt.md", plan.prompt.as_bytes())?;
    let settings = match spec.invocation.hooks {
        HookKind::ClaudeStop => Some((
            "claude-settings.json",
            hooks::claude_settings(&spec.vnx, dir),
        )),
        HookKind::GeminiAfterAgent | HookKind::CodexNotify | HookKind::None => None,
    };
    if let Some((name, value)) = settings {
        let hooks_dir = dir.join("hooks");
        crate::project::private_dir(&hooks_dir).map_err(io_err(&hooks_dir))?;
        let data = serde_json::to_vec_pretty(&value).expect("settings serialize");
        write(&format!("hooks/{name}"), &data)?;
    }
    // `vnx` on the worker's PATH, for the completion protocol's `vnx report`.
    let bin = dir.join("bin");
    crate::project::private_dir(&bin).map_err(io_err(&bin))?;
    std::os::unix::fs::symlink(&spec.vnx, bin.join("vnx")).map_err(io_err(&bin))?;
    let data = serde_json::to_vec_pretty(spec).expect("specs serialize");
    write("spec.json", &data)
}

/// Reads a dispatch spec.
pub fn read_spec(path: &Path) -> Result<Spec, DispatchError> {
    let data = fs::read(path).map_err(io_err(path))?;
    serde_json::from_slice(&data).map_err(|source| DispatchError::BadSpec {
        path: path.to_owned(),
        source,
    })
}
