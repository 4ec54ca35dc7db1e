//! The plan: a request validated completely before disk is touched (git is only asked to
//! resolve the base ref), judged by the provider constraints, and turned into the spec the
//! supervisor will run. Each step is a function named for what it checks or decides.

use crate::ids::DispatchId;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

use super::checks::{check_instruction_and_deadline, choose_id, role_and_gates};
use crate::config::Config;
use crate::constraints::{self, Constraints, Decision, Evaluation, Overrides, Route, Spending};
use crate::dispatch::supervise::phantom;
use crate::dispatch::{
    Context, DispatchError, Request, Spec, attest_all, start::compose, start::egress,
    start::govern, start::include,
};
use crate::ledger::Ledger;
use crate::provider::invocation::declared_invocation;
use crate::provider::{Invocation, Lane, Provider, ProviderError, Wanted};
use crate::skills::{self, Skill};
use crate::worktree::Repo;

/// A validated dispatch, not yet started.
#[derive(Clone, Debug)]
pub struct Plan {
    /// What the supervisor will be told.
    pub spec: Spec,
    /// The instruction, as given.
    pub instruction: String,
    /// Its title, as `dispatch_started` records it (see [`crate::dispatch::title_of`]).
    pub title: String,
    /// The gates its task asked for beside its role's, as `dispatch_started` records them.
    pub gates: Vec<String>,
    /// The composed prompt.
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
    /// What the egress policy found and did (nothing refused): `prompt` is the prompt as
    /// sent, redacted where it says so, and the files it withheld are not in the spec.
    pub egress: crate::egress::Outcome,
    /// The built-in CLI whose `--version` the launch records in `spec.binary_version`
    /// (probed there, beside the worktree's creation); `None` for a declared provider.
    pub(crate) version_of: Option<PathBuf>,
    /// The CLI's version as its installation says (`CodingCli::installed_version`), when it
    /// does: then nothing is probed.
    pub(crate) version_read: Option<String>,
    pub(crate) repo: Repo,
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
        (None, None) => Resolved::Builtin(Provider::DEFAULT),
    };
    Ok(resolved)
}

impl Resolved {
    /// Where its CLI reads its hooks' trust, in `homes` (those the start records, so
    /// recovery finds the same file).
    fn hook_trust_file(&self, homes: &crate::provider::session::Homes) -> Option<PathBuf> {
        match self {
            Resolved::Builtin(p) => crate::provider::cli::of(*p).hooks()?.trust_file(homes),
            Resolved::Declared(..) => None,
        }
    }

    /// Where its CLI keeps its state (a declared provider's: none vnx knows).
    fn state_paths(&self) -> &'static [crate::sandbox::StatePath] {
        match self {
            Resolved::Builtin(p) => p.cli().state_paths(),
            Resolved::Declared(..) => &[],
        }
    }

    /// It as the spec carries it.
    fn provider_name(&self) -> crate::provider::ProviderName {
        match self {
            Resolved::Builtin(p) => crate::provider::ProviderName::BuiltIn(*p),
            Resolved::Declared(name, _) => crate::provider::ProviderName::Declared(name.clone()),
        }
    }

    /// Its name, and the lane it runs in: `lane` when given, else its default.
    fn name_and_lane(&self, lane: Option<Lane>) -> (String, Lane) {
        match self {
            Resolved::Builtin(p) => (p.name().to_owned(), lane.unwrap_or(p.cli().default_lane())),
            Resolved::Declared(name, def) => (name.clone(), lane.unwrap_or(def.default_lane)),
        }
    }

    /// The session a follow-up resumes: the one the dispatch it continues recorded, when
    /// its CLI can resume one in `lane`.
    fn resumes<'c>(
        &self,
        lane: Lane,
        continues: Option<&'c super::follow_up::Continued>,
    ) -> Option<&'c str> {
        match (self, continues) {
            (Resolved::Builtin(p), Some(c)) if p.cli().resumes_sessions(lane) => {
                c.session_id.as_deref()
            }
            (Resolved::Declared(_, def), Some(c)) if !def.resume_args.is_empty() => {
                c.session_id.as_deref()
            }
            _ => None,
        }
    }

    /// A new session's id, for a CLI that lets vnx choose it (not when it resumes one): its
    /// session file is then the only one read for the dispatch (ADR 0052).
    fn chosen_session(&self, lane: Lane, resumed: bool) -> Option<String> {
        match self {
            Resolved::Builtin(p)
                if !resumed && crate::provider::cli::of(*p).chooses_session_id(lane) =>
            {
                Some(crate::provider::session::new_id())
            }
            _ => None,
        }
    }

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
    let config = load_config(ctx.project)?;
    // A dispatch of `--plan` (or of a role that plans) planning: read-only, told to plan.
    let req = crate::dispatch::planned::shape(req, &config);
    std::thread::scope(|scope| plan_in(ctx, &req, config, scope))
}

/// [`plan`], the ledger's answer on the id read on a thread of `scope` beside the rest.
fn plan_in<'scope, 'env>(
    ctx: &'env Context<'env>,
    req: &Request,
    config: Config,
    scope: &'scope std::thread::Scope<'scope, 'env>,
) -> Result<Plan, DispatchError> {
    let root = &ctx.project.root;
    let repo = Repo::for_project(ctx.project)?;
    let id = choose_id(req, root, &repo)?;
    let seen = read_seen(ctx, &id, scope);
    let main_state = super::base::read_checkout(&repo, req, scope);
    let gates = role_and_gates(req, &config, root)?;
    let resolved = resolve_provider(req, &config)?;
    check_instruction_and_deadline(req)?;
    let (provider_name, lane) = resolved.name_and_lane(req.lane);
    let resume = resolved.resumes(lane, req.continues.as_ref());
    let skills = skills::load_all(root, &skill_names(req, &config, root, resume.is_some()))?;
    let constraints = constraints::load(&root.join(constraints::FILE))?;
    let sandboxed = sandboxed(req, &config);
    let route = RouteFacts {
        provider: &provider_name,
        lane,
        sandboxed,
    };
    let evaluation = judge(&constraints, req, &route, ctx.ledger)?;
    let model = evaluation.model.clone();
    let pinned = |source| pinned_model(&evaluation, source);
    resolved.check_model(model.as_deref()).map_err(pinned)?;
    let dispatch_dir = crate::dispatch::dir_of(root, &id);
    let chosen_session = resolved.chosen_session(lane, resume.is_some());
    let worker = Worker {
        resolved: &resolved,
        lane,
        model: model.as_deref(),
        dispatch_dir: &dispatch_dir,
        resume,
        session: chosen_session.as_deref(),
        allow: &config.allowed_commands(&req.role),
    };
    let (prompt, invocation) = compose_prompt(ctx, req, &worker, &id, &skills).map_err(pinned)?;
    let binary = find_binary(ctx, &resolved, &invocation)?;
    let mut invocation = Ok(invocation.with_program(&binary));
    let (base_commit, base_ref, worktree, branch, main_before) =
        super::base::placement(&repo, req, &id, main_state)?;
    let mut included = include::resolve(&repo.root)?;
    let egress = egress::judge(&repo.root, &constraints, &provider_name, &prompt, &included)?;
    let prompt = match &egress.redacted_prompt {
        Some(redacted) => {
            // Its length may change how the prompt is carried.
            invocation =
                (worker.invocation(ctx, req, redacted.len())).map(|i| i.with_program(&binary));
            redacted.clone()
        }
        None => prompt,
    };
    let invocation = invocation.map_err(pinned)?;
    included.retain(|f| !egress.withheld.contains(&f.path));
    let (homes, sessions) =
        homes_and_sessions(ctx, (&resolved, &invocation), req, sandboxed, &dispatch_dir);
    let sandbox = sandboxed.then(|| {
        let place = crate::sandbox::Place {
            repo_root: &repo.root,
            worktree: &worktree,
            dispatch_dir: &dispatch_dir,
            data_dir: &repo.root.join(crate::project::DATA_DIR),
            vnx: ctx.vnx,
            worker: &binary,
            state: resolved.state_paths(),
            sessions: sessions.as_ref(),
        };
        sandbox_shape(ctx, &config, req, &provider_name, &place)
    });
    let (instruction, title) = instruction_and_title(req, &constraints, &egress, &provider_name);
    let spec = Spec {
        after: None,
        title: title.clone(),
        plan: req.plan.clone(),
        sandbox: sandbox.transpose()?,
        replay_of: req.replay_of.clone(),
        role: req.role.clone(),
        slot_limit: config.concurrency.get(&provider_name).copied(),
        provider: resolved.provider_name(),
        model: model.clone(),
        permission: req.permission,
        lane,
        binary_version: None, // probed by the launch (see `Plan::version_of`)
        continuation: continuation(ctx, req, (&worker, &invocation, &id), &binary),
        invocation,
        prompt_sha256: hex::encode(Sha256::digest(prompt.as_bytes())),
        deadline_secs: req.deadline.as_secs(),
        base_commit,
        worktree,
        branch,
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
        hook_trust: resolved.hook_trust_file(&homes),
        writes: phantom::writes(&req.role, &config),
        main_before,
        completion_retry_secs: req.completion_retry.as_secs(),
        stall_after_secs: Some(stall_after_secs(req, &config)),
        background_wait_secs: config.background_wait_seconds,
        limit_wait_secs: config.limit_wait_seconds,
        notify: config.notify.clone(),
        worktree_setup: config.worktree.setup.clone(),
        worktree_teardown: config.worktree.teardown.clone(),
        port_range: config.worktree.ports,
        pool_size: config.worktree.pool.size,
        pool_keep: config.worktree.pool.keep.clone(),
        pool_entry: None,
        session_homes: Some(homes),
        session_id: chosen_session.clone().or_else(|| resume.map(str::to_owned)),
        budget: super::limits::budget_of(ctx, req, &config, model.as_deref())?,
        project_day: super::limits::project_day(ctx, &config)?,
        prices: config.prices.clone(),
        limits: config.admission.worker_limits(),
        copy_ignored: config.worktree.copy_ignored.clone(),
        preferred_port: req.continues.as_ref().and_then(|c| c.started.port),
        port: None,
        group: None,
        continues: req.continues.as_ref().map(|c| c.record_resuming(resume)),
        id,
    };
    id_unseen(seen, &spec.id)?;
    refuse_if_judged(ctx, &spec, &evaluation, &constraints)?;
    egress::refuse_if_found(ctx, &spec, &egress, &constraints.sha256)?;
    let (version_of, version_read) = version_probe(&resolved, binary);
    Ok(Plan {
        spec,
        title,
        gates,
        instruction,
        prompt,
        base_ref,
        skills,
        constraints: evaluation,
        constraints_sha256: constraints.sha256,
        egress,
        version_of,
        version_read,
        repo,
    })
}

/// The skills a dispatch is given: those named, else the role's from the config, else the
/// shipped skill of the role's name; none for a resumed session, which has them already.
fn skill_names(req: &Request, config: &Config, root: &Path, resumed: bool) -> Vec<String> {
    let shipped = skills::available(root);
    match (req.skills.is_empty(), config.roles.get(&req.role)) {
        _ if resumed => Vec::new(),
        (true, Some(role)) if !role.skills.is_empty() => role.skills.clone(),
        (true, _) if shipped.contains(&req.role) => vec![req.role.clone()],
        _ => req.skills.clone(),
    }
}

/// Where the CLIs keep their state, as the dispatching environment says; a declared TUI's
/// session directory as that environment's home places it.
/// Where the CLIs keep their state for the worker, and, sandboxed, where its CLI's session
/// is kept in the dispatch directory `dispatch_dir` (then in `homes` too).
fn homes_and_sessions(
    ctx: &Context<'_>,
    (resolved, invocation): (&Resolved, &Invocation),
    req: &Request,
    sandboxed: bool,
    dispatch_dir: &Path,
) -> (
    crate::provider::session::Homes,
    Option<crate::sandbox::SessionPlace>,
) {
    let mut homes = homes_of(ctx, resolved, invocation);
    // A CLI given a home of its own keeps its sessions there, in the dispatch's directory.
    if let Resolved::Builtin(provider) = resolved
        && let Some(own) = provider.cli().own_home()
    {
        let home = crate::provider::cli::OwnHome::of(dispatch_dir).join(own.state);
        homes.homes.insert(provider.name().to_owned(), home);
        return (homes, None);
    }
    let sessions = sandboxed
        .then(|| session_place(resolved, &homes, req.continues.as_ref(), dispatch_dir))
        .flatten();
    homes.sessions = sessions.as_ref().map(|s| s.dir.clone());
    (homes, sessions)
}

/// Where the CLIs keep their state as the dispatching environment says.
pub(super) fn users_homes(ctx: &Context<'_>) -> crate::provider::session::Homes {
    use crate::provider::session::Homes;
    match ctx.env {
        Some(env) => Homes::of_env(env, ctx.machine.home.clone()),
        None => Homes::of(
            |name| ctx.machine.state_vars.get(name).cloned(),
            ctx.machine.home.clone(),
        ),
    }
}

fn homes_of(
    ctx: &Context<'_>,
    resolved: &Resolved,
    invocation: &Invocation,
) -> crate::provider::session::Homes {
    use crate::provider::session::Homes;
    let mut homes = users_homes(ctx);
    if let (Resolved::Declared(name, _), Some(session)) = (resolved, &invocation.tui.session) {
        let home = match ctx.env {
            Some(env) => Homes::home_of_env(env, ctx.machine.home.clone()),
            None => ctx.machine.home.clone(),
        };
        homes.declare(name, session, home.as_deref());
    }
    homes
}

/// The instruction kept beside the dispatch (gates and follow-ups read it), redacted as the
/// prompt is, and its title: given, else the follow-up's chain's, else the instruction's
/// first line, redacted as the instruction is.
fn instruction_and_title(
    req: &Request,
    constraints: &Constraints,
    egress: &crate::egress::Outcome,
    provider: &str,
) -> (String, String) {
    let instruction = egress
        .redacted_prompt
        .as_ref()
        .and_then(|_| crate::egress::redact_for(&constraints.egress, provider, &req.instruction))
        .unwrap_or_else(|| req.instruction.clone());
    let title = crate::dispatch::title_of(
        req.title
            .as_deref()
            .or_else(|| {
                req.continues
                    .as_ref()
                    .and_then(|c| c.started.title.as_deref())
            })
            .unwrap_or(&instruction),
    );
    let title = crate::egress::redact_for(&constraints.egress, provider, &title)
        .map_or(title, |t| crate::dispatch::title_of(&t));
    (instruction, title)
}

/// How the worker's version is known: its `binary` probed with `--version` by the launch, or
/// read from its installation. A declared provider may be any script (running it with
/// `--version` could do anything), so only the built-in CLIs are probed; one whose
/// installation says what its `--version` prints is not started for it.
fn version_probe(resolved: &Resolved, binary: PathBuf) -> (Option<PathBuf>, Option<String>) {
    match resolved {
        Resolved::Builtin(provider) => {
            match crate::provider::cli::of(*provider).installed_version(&binary) {
                Some(version) => (None, Some(version)),
                None => (Some(binary), None),
            }
        }
        Resolved::Declared(..) => (None, None),
    }
}

/// Whether the ledger saw dispatch `id`, read on a thread of `scope` beside the planning (a
/// pass over all of it): an id the ledger has seen stays taken (its directory, worktree and
/// branch may be gone), or receipts of two dispatches would share it.
fn read_seen<'scope>(
    ctx: &'scope Context<'_>,
    id: &DispatchId,
    scope: &'scope std::thread::Scope<'scope, '_>,
) -> Option<std::thread::ScopedJoinHandle<'scope, Result<bool, crate::ledger::LedgerError>>> {
    ctx.ledger.exists().then(|| {
        let (ledger, id) = (ctx.ledger, id.clone());
        scope.spawn(move || crate::dispatch::view::started(ledger, &id))
    })
}

/// The answer of [`read_seen`], taken before anything is written under the id.
fn id_unseen(
    seen: Option<std::thread::ScopedJoinHandle<'_, Result<bool, crate::ledger::LedgerError>>>,
    id: &DispatchId,
) -> Result<(), DispatchError> {
    let Some(seen) = seen else { return Ok(()) };
    match seen.join().unwrap_or_else(|p| std::panic::resume_unwind(p)) {
        Ok(true) => Err(DispatchError::IdOnLedger { id: id.to_string() }),
        Ok(false) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Seconds without a sign of life before the worker is reported stalled: asked for, else the
/// config's, else the default.
fn stall_after_secs(req: &Request, config: &Config) -> u64 {
    req.stall_after
        .map(|d| d.as_secs())
        .or(config.stall_after_seconds)
        .unwrap_or(crate::dispatch::spec::DEFAULT_STALL_AFTER_SECS)
}

/// Whether the worker runs sandboxed: asked for, else as the dispatch a follow-up continues
/// ran, else as the config says.
fn sandboxed(req: &Request, config: &Config) -> bool {
    (req.sandbox)
        .or_else(|| req.continues.as_ref().map(|c| c.started.sandbox.is_some()))
        .unwrap_or(config.sandbox.enabled)
}

fn load_config(project: &crate::project::Project) -> Result<Config, DispatchError> {
    if project.config_path().symlink_metadata().is_err() {
        return Err(DispatchError::NotInitialised {
            path: project.root.clone(),
        });
    }
    Ok(project.load_config()?)
}

/// What each token budget has counted so far on the ledger (read only when there are
/// budgets).
fn spending(constraints: &Constraints, ledger: &Path) -> Result<Spending, DispatchError> {
    let budgets: Vec<_> = constraints
        .constraints
        .iter()
        .filter_map(|c| match &c.rule {
            constraints::Rule::TokenBudget(b) => Some((c.id.clone(), b)),
            _ => None,
        })
        .collect();
    if budgets.is_empty() || !ledger.exists() {
        return Ok(Spending::new());
    }
    let entries = crate::cost::entries(ledger)?;
    let now = jiff::Timestamp::now();
    Ok(budgets
        .into_iter()
        .map(|(id, b)| (id, crate::cost::spent(&entries, &b.selector, b.period, now)))
        .collect())
}

/// What the plan decided about a route besides the request.
struct RouteFacts<'a> {
    provider: &'a str,
    lane: Lane,
    sandboxed: bool,
}

/// The constraints' judgement of the route, given what their budgets have counted on the
/// `ledger`; a pin may fill in the model.
fn judge(
    constraints: &Constraints,
    req: &Request,
    route: &RouteFacts<'_>,
    ledger: &Path,
) -> Result<Evaluation, DispatchError> {
    let spending = spending(constraints, ledger)?;
    Ok(constraints::evaluate(
        constraints,
        &Route {
            provider: route.provider,
            model: req.model.as_deref(),
            role: &req.role,
            lane: route.lane,
            permission: req.permission,
            sandboxed: route.sandboxed,
        },
        &Overrides {
            keys: req.overrides.clone(),
            reasons: req.override_reasons.clone(),
        },
        &spending,
    ))
}

/// A sandboxed dispatch's own place for its CLI's sessions: `sessions/` in its dispatch
/// directory, shown where the CLI keeps its sessions, so no other dispatch's worker can write
/// (or read) them and what vnx reads there as its usage and transcript is its own. A
/// follow-up takes the place its chain recorded in the signed start of the dispatch it
/// continues (the session it resumes is there); one of a dispatch that had none (it ran
/// without a sandbox) keeps the CLI's home, where that session is. A CLI whose sessions vnx
/// does not read has none.
fn session_place(
    resolved: &Resolved,
    homes: &crate::provider::session::Homes,
    continues: Option<&super::follow_up::Continued>,
    dispatch_dir: &Path,
) -> Option<crate::sandbox::SessionPlace> {
    let Resolved::Builtin(provider) = resolved else {
        return None;
    };
    let cli = crate::provider::session::Cli::of(provider.name())?;
    let dir = match continues {
        // A follow-up on another CLI starts a session of its own (`vnx resume --to`).
        None => dispatch_dir.join("sessions"),
        Some(c) if c.started.provider != provider.name() => dispatch_dir.join("sessions"),
        Some(c) => {
            let recorded = c.started.cli_homes.as_ref()?.sessions.as_deref()?;
            Some(PathBuf::from(recorded)).filter(|d| d.is_absolute())?
        }
    };
    Some(crate::sandbox::SessionPlace {
        dir,
        shown_at: cli.sessions_in(homes.of_cli(&cli)?),
    })
}

/// The sandbox of a sandboxed dispatch: bubblewrap must work here (a trial run), the config's
/// extra paths expanded, its CLI's key relayed where `sandbox.credentials` says (ADR 0124).
fn sandbox_shape(
    ctx: &Context<'_>,
    config: &Config,
    req: &Request,
    provider: &str,
    place: &crate::sandbox::Place<'_>,
) -> Result<crate::sandbox::Shape, DispatchError> {
    use crate::sandbox::{Shape, ShapeExt, Wanted, expand, probe};
    let machine = ctx.machine;
    let version = probe::check(machine.bwrap.as_deref())?;
    let home = machine.home.as_deref();
    let paths = |list: &[String]| list.iter().filter_map(|p| expand(p, home)).collect();
    let wanted = Wanted {
        network: req
            .network
            .unwrap_or_else(|| config.sandbox.network(provider)),
        loopback: config.sandbox.loopback.clone(),
        read_only: paths(&config.sandbox.read_only),
        writable: paths(&config.sandbox.writable),
        forge_credentials: config.sandbox.forge_credentials,
        relayed: (ctx.env.filter(|_| config.sandbox.relay_credentials))
            .and_then(|env| crate::provider::relay::keys_for(provider, env)),
    };
    Ok(Shape::plan(machine, &wanted, place, Some(version))?)
}

/// A model a pin filled in that the provider cannot take is the constraint's fault.
fn pinned_model(evaluation: &Evaluation, source: ProviderError) -> DispatchError {
    match &evaluation.pinned_by {
        Some(constraint)
            if matches!(
                source,
                ProviderError::BadModel { .. }
                    | ProviderError::UnknownModel { .. }
                    | ProviderError::NoModelArgs { .. }
            ) =>
        {
            DispatchError::PinnedModel {
                constraint: constraint.clone(),
                model: evaluation.model.clone().unwrap_or_default(),
                source,
            }
        }
        _ => source.into(),
    }
}

/// What the worker's invocation depends on.
struct Worker<'a> {
    resolved: &'a Resolved,
    lane: Lane,
    model: Option<&'a str>,
    dispatch_dir: &'a Path,
    resume: Option<&'a str>,
    /// A new session's id vnx chose.
    session: Option<&'a str>,
    /// The role's allowlist (`Config::allowed_commands`).
    allow: &'a [String],
}

impl Worker<'_> {
    fn invocation(
        &self,
        ctx: &Context<'_>,
        req: &Request,
        prompt_len: usize,
    ) -> Result<Invocation, ProviderError> {
        let wanted = Wanted {
            lane: self.lane,
            model: self.model,
            permission: req.permission,
            prompt_len,
            plan: crate::dispatch::planned::planning(req),
            vnx: ctx.vnx,
            dispatch_dir: self.dispatch_dir,
            resume: self.resume,
            session: self.session,
            allow: self.allow,
        };
        match self.resolved {
            Resolved::Builtin(p) => p.invocation(&wanted).map(|mut inv| {
                // A dispatch's CLI runs in the home of its own its launch seeds (a review
                // gate's, which nothing seeds, in the user's).
                if let Some(own) = p.cli().own_home() {
                    let home = crate::provider::cli::OwnHome::of(self.dispatch_dir);
                    inv.env
                        .push((own.var.to_owned(), home.to_string_lossy().into_owned()));
                }
                inv
            }),
            Resolved::Declared(name, def) => declared_invocation(name, def, &wanted),
        }
    }
}

/// How a headless worker stopped by a usage limit or a pause is continued in its session
/// (ADR 0117, ADR 0119): its invocation resuming the session left as a hole, carrying the
/// continuing prompt; `None` in a TUI, or where its CLI's argv does not change to resume.
fn continuation(
    ctx: &Context<'_>,
    req: &Request,
    (worker, invocation, id): (&Worker<'_>, &Invocation, &DispatchId),
    binary: &Path,
) -> Option<Invocation> {
    if worker.lane != Lane::Headless {
        return None;
    }
    let prompt = compose::longest_after(id, invocation.completion);
    let resuming = Worker {
        resume: Some(crate::provider::cli::argv::SESSION_HOLE),
        ..*worker
    };
    let continued = resuming.invocation(ctx, req, prompt.len()).ok()?;
    let fresh = Worker {
        resume: None,
        ..*worker
    };
    let unresumed = fresh.invocation(ctx, req, prompt.len()).ok()?;
    (continued.argv != unresumed.argv).then(|| continued.with_program(binary))
}

/// The composed prompt and the invocation that carries it. The completion protocol the
/// prompt states depends on the invocation, whose transport depends on the prompt's length:
/// the protocol is decided first.
fn compose_prompt(
    ctx: &Context<'_>,
    req: &Request,
    worker: &Worker<'_>,
    id: &DispatchId,
    skills: &[Skill],
) -> Result<(String, Invocation), ProviderError> {
    let completion = worker.invocation(ctx, req, 0)?.completion;
    let prompt = match (&req.continues, worker.resume) {
        (None, _) => compose::compose(id, &req.role, &req.instruction, completion, skills),
        (Some(c), Some(_)) => compose::compose_resumed(id, c.id(), &req.instruction, completion),
        (Some(c), None) => {
            let instruction =
                compose::follow_up_instruction(c.id(), &c.instruction, &req.instruction);
            compose::compose(id, &req.role, &instruction, completion, skills)
        }
    };
    let invocation = worker.invocation(ctx, req, prompt.len())?;
    Ok((prompt, invocation))
}

/// The worker's binary: vnx itself for the demo, else the program found on PATH (or the
/// path given).
fn find_binary(
    ctx: &Context<'_>,
    resolved: &Resolved,
    invocation: &Invocation,
) -> Result<PathBuf, DispatchError> {
    if let Resolved::Builtin(Provider::Demo) = resolved {
        return Ok(ctx.vnx.to_owned());
    }
    let program = &invocation.argv[0];
    let found = if program.contains('/') {
        let p = PathBuf::from(program);
        p.is_file().then_some(p)
    } else {
        (ctx.find_program)(program)
    };
    found.ok_or_else(|| DispatchError::MissingCli {
        program: program.clone(),
    })
}

/// A refused dispatch does not run: its constraint decisions are the only thing written.
fn refuse_if_judged(
    ctx: &Context<'_>,
    spec: &Spec,
    evaluation: &Evaluation,
    constraints: &Constraints,
) -> Result<(), DispatchError> {
    let refusals: Vec<Decision> = evaluation.refusals().into_iter().cloned().collect();
    if refusals.is_empty() {
        return Ok(());
    }
    let receipts = govern::decision_receipts(spec, &evaluation.decisions, &constraints.sha256);
    Ledger::new(&spec.ledger).append_all(&attest_all(ctx.attestor, receipts))?;
    let reasons = refusals
        .iter()
        .map(|d| format!("{}: {}", d.constraint_id, d.reason))
        .collect::<Vec<_>>()
        .join("\n");
    Err(DispatchError::Refused {
        id: spec.id.to_string(),
        refusals,
        reasons: crate::dispatch::refusal::Reasons(reasons),
    })
}
