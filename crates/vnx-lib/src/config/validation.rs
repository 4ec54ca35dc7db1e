//! Checking a parsed `.vnx/config.yaml` as a whole: `Validator::config` turns the raw schema
//! types into `Config`, each section through its own module's checks.

use serde_saphyr::Spanned;

use super::checked::{BUILTIN_PROVIDERS, Checked, Validator, q};
use super::schema::{
    Config, PoolConfig, RawConfig, RawLane, RawPool, RawProvider, RawWorktree, RoleConfig,
    WorktreeConfig,
};
use crate::provider::kinds::{Lane, OutputFormat, PromptTransport, ProviderCompletion};
use crate::provider::template::expand;
use crate::provider::{DeclaredLane, DeclaredPermissions, DeclaredProvider};

impl Validator<'_> {
    /// A number of seconds `key` gives: between 1 and the longest deadline.
    fn seconds(&self, key: &str, secs: &Spanned<i64>) -> Checked<u64> {
        self.between(key, secs, 1..=super::schema::MAX_DEADLINE_SECS)
    }

    pub(super) fn config(&self, raw: RawConfig) -> Checked<Config> {
        if let Some(v) = &raw.version
            && v.value != "1"
        {
            let msg = format!(
                "unsupported version {}; this vnx reads version 1",
                q(&v.value)
            );
            return self.err(&v.referenced, msg);
        }
        let mut config = Config::default();
        if let Some(id) = raw.project_id {
            if !super::is_project_id(&id.value) {
                let msg = format!(
                    "{} is not a valid project_id: use 2-32 lowercase letters, digits and \
                     dashes, starting with a letter",
                    q(&id.value)
                );
                return self.err(&id.referenced, msg);
            }
            config.project_id = Some(id.value);
        }
        for (name, provider) in raw.providers.map_or_else(Vec::new, |e| e.0) {
            if BUILTIN_PROVIDERS.contains(&name.value.as_str()) {
                let msg = format!(
                    "`{}` is a built-in provider; declare a new name",
                    name.value
                );
                return self.err(&name.referenced, msg);
            }
            self.name("", &name, "provider")?;
            let declared = self.provider(&name, provider)?;
            config.providers.insert(name.value, declared);
        }
        for (name, slots) in raw.concurrency.map_or_else(Vec::new, |e| e.0) {
            self.known_provider("concurrency", &name, &config.providers)?;
            let what = format!("concurrency for `{}`", name.value);
            let n = self.between(&what, &slots, 1..=256u32)?;
            config.concurrency.insert(name.value, n);
        }
        config.gates = self.gates(raw.gates, &config.providers)?;
        if let Some(argv) = raw.notify {
            if argv.value.is_empty() || argv.value[0].value.is_empty() {
                let msg = "notify must be an argv list with a program first, like \
                           [notify-send, \"vnx {id}\", \"{state}\"]"
                    .to_owned();
                return self.err(&argv.referenced, msg);
            }
            config.notify = argv.value.into_iter().map(|a| a.value).collect();
        }
        if let Some(secs) = raw.stall_after_seconds {
            config.stall_after_seconds = Some(self.seconds("stall_after_seconds", &secs)?);
        }
        if let Some(secs) = raw.background_wait_seconds {
            config.background_wait_seconds = Some(self.seconds("background_wait_seconds", &secs)?);
        }
        if let Some(secs) = raw.limit_wait_seconds {
            config.limit_wait_seconds = Some(self.seconds("limit_wait_seconds", &secs)?);
        }
        if let Some(w) = raw.worktree {
            config.worktree = self.worktree(w)?;
        }
        if let Some(queue) = raw.queue {
            config.queue = self.queue(queue, &config.providers)?;
        }
        if let Some(sandbox) = raw.sandbox {
            config.sandbox = self.sandbox(sandbox, &config.providers)?;
        }
        if let Some(hosts) = raw.hosts {
            config.hosts = self.hosts(hosts)?;
        }
        if let Some(forge) = raw.forge {
            config.forge = Some(self.forge(forge)?);
        }
        if let Some(defaults) = raw.defaults {
            config.defaults = self.defaults(defaults, &config.providers)?;
        }
        if let Some(budget) = raw.budget {
            config.budget = self.budget_config(budget)?;
        }
        if let Some(admission) = raw.admission {
            config.admission = self.admission(admission)?;
        }
        if let Some(prices) = raw.prices {
            config.prices = self.prices(prices)?;
        }
        if let Some(schedules) = raw.schedules {
            let role = config.defaults.role.as_deref();
            config.schedules = self.schedules(schedules, &config.providers, &config.hosts, role)?;
        }
        if let Some(serve) = raw.serve {
            config.serve = self.serve(serve)?;
        }
        if let Some(mcp) = raw.mcp {
            config.mcp = self.mcp(mcp)?;
        }
        for (name, role) in raw.roles.map_or_else(Vec::new, |e| e.0) {
            self.name("", &name, "role")?;
            let mut skills = Vec::new();
            for skill in role.skills.unwrap_or_default() {
                if !crate::skills::is_name(&skill.value) {
                    let msg = format!(
                        "role `{}`: {} is not a valid skill name: use 1-64 lowercase letters, \
                         digits, `-` or `_`, starting with a letter or digit",
                        name.value,
                        q(&skill.value)
                    );
                    return self.err(&skill.referenced, msg);
                }
                skills.push(skill.value);
            }
            let gates = role
                .gates
                .map(|g| self.role_gates(&name.value, g, &config.gates))
                .transpose()?;
            let allow = role.allow.map(|list| {
                self.distinct(Some(list), |command| {
                    if super::allowable(&command) {
                        return Ok(command);
                    }
                    Err(format!(
                        "role `{}`: {} cannot be an allow rule: write one command's words \
                         (letters, digits, `-_./=:,+@%`) separated by single spaces, e.g. \
                         \"cargo test\"",
                        name.value,
                        q(&command)
                    ))
                })
            });
            let allow = allow.transpose()?;
            let reactions = role
                .reactions
                .map(|r| self.reactions(r, &format!("roles.{}.reactions", name.value)))
                .transpose()?;
            let budget = role
                .budget
                .map(|b| {
                    let at = format!("roles.{}.budget", name.value);
                    // As `dispatch::budget::from::ROLE` names it.
                    self.budget(&at, b, "role")
                })
                .transpose()?;
            let mut on_limit: Vec<String> = Vec::new();
            for provider in role.on_limit.unwrap_or_default() {
                let at = format!("roles.{}.on_limit", name.value);
                self.known_provider(&at, &provider, &config.providers)?;
                if !on_limit.contains(&provider.value) {
                    on_limit.push(provider.value);
                }
            }
            config.roles.insert(
                name.value,
                RoleConfig {
                    skills,
                    gates,
                    writes: role.writes,
                    allow,
                    open_pr: role.open_pr.unwrap_or(false),
                    promote_memory: role.promote_memory.unwrap_or(false),
                    plan: role.plan.unwrap_or(false),
                    reactions,
                    budget,
                    on_limit,
                },
            );
        }
        Ok(config)
    }

    /// `worktree:`: argv lists with a program first, and a port range `LOW-HIGH` within
    /// 1024..=65535.
    fn worktree(&self, raw: RawWorktree) -> Checked<WorktreeConfig> {
        let argvs = |which: &str, list: Option<Vec<Spanned<Vec<String>>>>| {
            let mut out = Vec::new();
            for argv in list.unwrap_or_default() {
                if argv.value.first().is_none_or(|p| p.trim().is_empty()) {
                    let msg = format!(
                        "worktree.{which}: each command is an argv list with a program first, \
                         like [npm, ci]"
                    );
                    return self.err(&argv.referenced, msg);
                }
                out.push(argv.value);
            }
            Ok(out)
        };
        let mut config = WorktreeConfig {
            setup: argvs("setup", raw.setup)?,
            teardown: argvs("teardown", raw.teardown)?,
            ports: None,
            pool: PoolConfig::default(),
            copy_ignored: Vec::new(),
        };
        config.copy_ignored = self.distinct(raw.copy_ignored, |dir| {
            super::cache_dir(&dir).ok_or_else(|| {
                format!(
                    "worktree.copy_ignored: {} is not a directory inside the checkout (a \
                     relative path like target or web/node_modules, without `..` or .git)",
                    q(&dir)
                )
            })
        })?;
        if let Some(pool) = raw.pool {
            config.pool = self.pool(pool)?;
        }
        if let Some(range) = raw.ports {
            let parsed = range.value.split_once('-').and_then(|(lo, hi)| {
                let lo: u16 = lo.trim().parse().ok()?;
                let hi: u16 = hi.trim().parse().ok()?;
                (1024 <= lo && lo <= hi).then_some((lo, hi))
            });
            let Some(ports) = parsed else {
                let msg = format!(
                    "worktree.ports must be a range LOW-HIGH within 1024-65535, like \
                     41000-41999, not {}",
                    q(&range.value)
                );
                return self.err(&range.referenced, msg);
            };
            config.ports = Some(ports);
        }
        Ok(config)
    }

    /// `worktree.pool:`: a size in `0..=64` and cache directories that are plain relative
    /// paths inside the worktree (no `..`, not `.git`).
    fn pool(&self, raw: RawPool) -> Checked<PoolConfig> {
        let mut pool = PoolConfig::default();
        if let Some(size) = raw.size {
            if !(0..=super::MAX_POOL_SIZE as i64).contains(&size.value) {
                let msg = format!(
                    "worktree.pool.size must be 0 to {}, not {}",
                    super::MAX_POOL_SIZE,
                    size.value
                );
                return self.err(&size.referenced, msg);
            }
            pool.size = size.value as u32;
        }
        pool.keep = self.distinct(raw.keep, |dir| {
            super::cache_dir(&dir).ok_or_else(|| {
                format!(
                    "worktree.pool.keep: {} is not a directory inside the worktree (a relative \
                     path like target or web/node_modules, without `..` or .git)",
                    q(&dir)
                )
            })
        })?;
        Ok(pool)
    }

    /// `name`, under `section`, must be a built-in provider or one the file declares.
    pub(super) fn known_provider(
        &self,
        section: &str,
        name: &Spanned<String>,
        declared: &std::collections::BTreeMap<String, DeclaredProvider>,
    ) -> Checked<()> {
        if BUILTIN_PROVIDERS.contains(&name.value.as_str()) || declared.contains_key(&name.value) {
            return Ok(());
        }
        let msg = format!(
            "{section} names {}, which is neither a built-in provider ({}) nor one declared \
             under `providers:`",
            q(&name.value),
            BUILTIN_PROVIDERS.join(", ")
        );
        self.err(&name.referenced, msg)
    }

    fn provider(&self, name: &Spanned<String>, raw: RawProvider) -> Checked<DeclaredProvider> {
        let who = format!("provider `{}`", name.value);
        let binary = raw.binary;
        let problem = if binary.value.is_empty() {
            Some("is empty")
        } else if binary.value.contains('\0') {
            Some("contains a NUL byte")
        } else if binary.value.contains('/') && !binary.value.starts_with('/') {
            Some("is a relative path")
        } else {
            None
        };
        if let Some(problem) = problem {
            let msg = format!(
                "{who}: `binary` {problem}; give a program name looked up on PATH or an \
                 absolute path"
            );
            return self.err(&binary.referenced, msg);
        }
        let headless = raw
            .headless
            .map(|l| self.lane(&who, Lane::Headless, l))
            .transpose()?;
        let interactive = raw
            .interactive
            .map(|l| self.lane(&who, Lane::Interactive, l))
            .transpose()?;
        let default_lane = match raw.default_lane {
            Some(lane)
                if (lane.value == Lane::Headless && headless.is_none())
                    || (lane.value == Lane::Interactive && interactive.is_none()) =>
            {
                let msg = format!(
                    "{who}: `default_lane` is {0}, but no `{0}:` lane is declared",
                    lane.value.name()
                );
                return self.err(&lane.referenced, msg);
            }
            Some(lane) => lane.value,
            None if headless.is_some() => Lane::Headless,
            None if interactive.is_some() => Lane::Interactive,
            None => {
                let msg =
                    format!("{who} declares no lane; add `headless:`, `interactive:` or both");
                return self.err(&name.referenced, msg);
            }
        };
        // An argv template that must hold `{hole}` once it holds anything (`field`, `goes`
        // saying what the hole stands for).
        let holding = |field: &str,
                       hole: &'static str,
                       goes: &str,
                       raw: Option<Spanned<Vec<Spanned<String>>>>|
         -> Checked<Vec<String>> {
            let mut out = Vec::new();
            let Some(args) = raw else { return Ok(out) };
            let mut holes = 0;
            for arg in args.value {
                holes += self.template(&arg, &[hole], &format!("{who}: `{field}`"))?[hole];
                out.push(arg.value);
            }
            if holes == 0 && !out.is_empty() {
                let msg = format!("{who}: `{field}` must contain `{{{hole}}}`, where {goes} goes");
                return self.err(&args.referenced, msg);
            }
            Ok(out)
        };
        let model_args = holding("model_args", "model", "the model name", raw.model_args)?;
        let resume_args = holding("resume_args", "session", "the session id", raw.resume_args)?;
        let raw_permissions = raw.permissions.unwrap_or_default();
        let flags =
            |posture: &str, list: Option<Vec<Spanned<String>>>| -> Checked<Option<Vec<String>>> {
                let Some(list) = list else { return Ok(None) };
                let what = format!("{who}: the `{posture}` permission flags");
                let mut out = Vec::new();
                for flag in list {
                    if flag.value.is_empty() {
                        return self.err(&flag.referenced, format!("{what} contain an empty flag"));
                    }
                    self.template(&flag, &[], &what)?;
                    out.push(expand(&flag.value, &[]));
                }
                Ok(Some(out))
            };
        let permissions = DeclaredPermissions {
            ask: flags("ask", raw_permissions.ask)?,
            edits: flags("edits", raw_permissions.edits)?,
            full: flags("full", raw_permissions.full)?,
        };
        Ok(DeclaredProvider {
            binary: binary.value,
            headless,
            interactive,
            model_args,
            resume_args,
            permissions,
            default_lane,
        })
    }

    fn lane(&self, who: &str, lane: Lane, raw: RawLane) -> Checked<DeclaredLane> {
        let what = format!("{who}, {} lane", lane.name());
        let prompt = raw
            .prompt
            .as_ref()
            .map_or(PromptTransport::Argument, |p| p.value);
        if let (Lane::Interactive, Some(p)) = (lane, &raw.prompt)
            && p.value == PromptTransport::Stdin
        {
            let msg = format!(
                "{what}: `prompt: stdin` is not allowed, stdin is the terminal; use argument or file"
            );
            return self.err(&p.referenced, msg);
        }
        let output = raw
            .output
            .as_ref()
            .map_or(OutputFormat::TEXT, |o| o.value.clone());
        if let (Lane::Interactive, Some(o)) = (lane, &raw.output)
            && o.value != OutputFormat::TEXT
        {
            let msg = format!("{what}: the output is the terminal, so `output` can only be text");
            return self.err(&o.referenced, msg);
        }
        if let Some(o) = &raw.output
            && o.value != OutputFormat::TEXT
            && !crate::provider::events::parses(&o.value)
        {
            let known: Vec<String> = crate::provider::events::known()
                .iter()
                .map(|f| f.name().to_owned())
                .collect();
            let msg = format!(
                "{what}: unknown output format {}, expected one of {}",
                q(o.value.name()),
                known.join(", ")
            );
            return self.err(&o.referenced, msg);
        }
        let want = match prompt {
            PromptTransport::Argument => Some("prompt"),
            PromptTransport::File => Some("prompt_file"),
            PromptTransport::Stdin => None,
        };
        let mut found = 0;
        let mut argv = Vec::new();
        for arg in raw.argv.value {
            let counts =
                self.template(&arg, &["prompt", "prompt_file"], &format!("{what}: argv"))?;
            if let Some((stray, _)) = counts.iter().find(|&(k, n)| Some(*k) != want && *n > 0) {
                let why = match want {
                    Some(w) => format!("it takes the prompt through `{{{w}}}`"),
                    None => "the prompt arrives on stdin".into(),
                };
                let msg = format!(
                    "{what}: `prompt: {}` cannot use `{{{stray}}}`; {why}",
                    prompt.name()
                );
                return self.err(&arg.referenced, msg);
            }
            if let Some(w) = want {
                found += counts[w];
                if found > 1 {
                    let msg = format!("{what}: `{{{w}}}` must appear exactly once in argv");
                    return self.err(&arg.referenced, msg);
                }
            }
            argv.push(arg.value);
        }
        if let Some(w) = want
            && found == 0
        {
            let msg = format!(
                "{what}: `prompt: {}` needs `{{{w}}}` in argv, where the prompt goes",
                prompt.name()
            );
            return self.err(&raw.argv.referenced, msg);
        }
        let completion = raw.completion.unwrap_or(match lane {
            Lane::Headless => ProviderCompletion::Exit,
            Lane::Interactive => ProviderCompletion::Report,
        });
        // Decided from the output's verdict, which only a parsed output gives: with any
        // other, no dispatch could ever be done.
        if completion == ProviderCompletion::Output && !crate::provider::events::parses(&output) {
            let msg = format!(
                "{what}: `completion: output` is decided from an output vnx parses, and this \
                 lane's output is plain text; use exit or report"
            );
            return self.err(&raw.argv.referenced, msg);
        }
        let tui = self.tui(&what, lane, raw.dialog, raw.session)?;
        Ok(DeclaredLane {
            argv,
            prompt,
            output,
            completion,
            tui,
        })
    }
}
