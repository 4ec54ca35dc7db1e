//! One gate, start to end: its request (written and hashed), the `gate_request` receipt, a
//! throwaway checkout of the head, the command or the reviewer run in it, the result and
//! report files, and the `gate_result` receipt. A sandboxed dispatch's command runs in its
//! sandbox, its reviewer outside any checkout (ADR 0032).

use crate::ids::{CommitId, DispatchId};
use std::ffi::OsString;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::review::{self, RECEIPT_FINDINGS, RECEIPT_MESSAGE_CHARS};
use super::run::{self, Ended, Limits};
use super::{Context, Event, Exit, GateError, GateOutcome, Status, io_err};
use crate::config::{Config, GateDef, GateKind};
use crate::evidence::{contract_hash, sha256_of};
use crate::process::{self, Cmd};
use crate::provider::events::{EventParser, LAST_MESSAGE_MAX_CHARS};
use crate::provider::invocation::{self, declared_invocation};
use crate::provider::{Lane, OutputFormat, Permission, PromptTransport, Provider, Wanted};
use crate::receipts::{self, GateRequest, GateResult};
use crate::sandbox::{Shape, ShapeExt};
use crate::worktree::{Pool, Repo};

/// What every gate of one run shares.
pub(super) struct Shared<'a> {
    pub ctx: &'a Context<'a>,
    pub config: &'a Config,
    pub repo: &'a Repo,
    pub id: &'a DispatchId,
    pub run: &'a str,
    pub run_dir: &'a Path,
    pub head: &'a CommitId,
    pub base: &'a CommitId,
    pub branch: &'a str,
    pub instruction_sha256: Option<&'a str>,
    /// Set when `head` is a merge result of the merge queue (see `on_merge`).
    pub on_merge: Option<&'a receipts::OnMerge>,
    /// The sandbox the dispatch's worker ran in, as its attested `dispatch_started` records
    /// it: its gates run what the worker wrote, so they run in the same shape (see
    /// [`Shape::for_gate`]).
    pub sandbox: Option<&'a Shape>,
    /// The port the dispatch was given (`VNX_PORT`), which a screenshots gate's preview
    /// takes when it is free.
    pub port: Option<u16>,
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn signal_name(n: i32) -> String {
    let name = match n {
        1 => "HUP",
        2 => "INT",
        6 => "ABRT",
        9 => "KILL",
        11 => "SEGV",
        13 => "PIPE",
        15 => "TERM",
        _ => return format!("SIG{n}"),
    };
    format!("SIG{name}")
}

/// How a process that did not succeed ended, in words.
fn how_ended(st: &std::process::ExitStatus) -> String {
    match st.code() {
        Some(code) => format!("exited with status {code}"),
        None => format!("was killed by {}", signal_name(st.signal().unwrap_or(0))),
    }
}

fn exit_of(ended: &Ended) -> Option<Exit> {
    match ended {
        Ended::Exited(s) => Some(Exit {
            code: s.code(),
            signal: s.signal().map(signal_name),
        }),
        _ => None,
    }
}

/// Runs gate `name` and records it.
pub(super) fn run_gate(
    s: &Shared<'_>,
    name: &str,
    def: &GateDef,
) -> Result<GateOutcome, GateError> {
    let dir = s.run_dir.join(name);
    crate::files::private_dir(&dir).map_err(io_err(&dir))?;
    let definition = receipts::value::to_value(def);
    let definition_sha256 = sha256_of(&definition);
    // Why the gate cannot run even though its request was made.
    let mut unrunnable = None;
    let (request_path, request) = match &def.kind {
        GateKind::Command { .. } | GateKind::Screenshots { .. } => {
            let mut body = serde_json::json!({
                "dispatch_id": s.id,
                "gate": name,
                "head_commit": s.head,
                "timeout": def.timeout,
                "idle_timeout": def.idle_timeout,
                "workdir": workdir(s.config),
            });
            let what = serde_json::to_value(&def.kind).expect("gate kinds serialize");
            body.as_object_mut()
                .expect("an object")
                .extend(what.as_object().expect("an object").clone());
            body["pass"] = match def.kind {
                GateKind::Screenshots { .. } => {
                    "the preview listened on VNX_PORT and Chromium left an image of every \
                     path at every size"
                }
                _ => "exit status 0",
            }
            .into();
            if let Some(m) = s.on_merge {
                body["on_merge"] = serde_json::to_value(m).expect("merge refs serialize");
            }
            let mut data = serde_json::to_vec_pretty(&body).expect("requests serialize");
            data.push(b'\n');
            (dir.join("request.json"), data)
        }
        GateKind::Review {
            extra_instructions, ..
        } => {
            let diff = process::run_ok(&Cmd::git().arg("-C").arg(&s.repo.root).args([
                "diff",
                "--no-color",
                "--no-ext-diff",
                s.base.as_str(),
                s.head.as_str(),
            ]))
            .unwrap_or_else(|e| {
                let why = format!("could not compute the diff: {e}");
                unrunnable = Some(why.clone());
                format!("(vnx {why})")
            });
            let task = task_text(s);
            let text = review::request(&review::RequestParts {
                dispatch_id: s.id.as_str(),
                gate: name,
                branch: s.branch,
                base_commit: s.base.as_str(),
                head_commit: s.head.as_str(),
                task: task.as_deref(),
                diff: &diff,
                extra_instructions: extra_instructions.as_deref(),
            });
            (dir.join("request.md"), text.into_bytes())
        }
    };
    fs::write(&request_path, &request).map_err(io_err(&request_path))?;
    let request_sha256 = sha256_hex(&request);
    let contract = contract_hash(s.id, name, &definition, s.head.as_str(), &request_sha256);
    s.ctx.attestor.record(
        s.ctx.ledger,
        &GateRequest {
            dispatch_id: s.id.clone(),
            gate: name.to_owned(),
            kind: def.kind.name().to_owned(),
            run: s.run.to_owned(),
            head_commit: s.head.clone(),
            base_commit: s.base.clone(),
            definition: receipts::value::to_json(&definition),
            definition_sha256: definition_sha256.clone(),
            request_path: request_path.to_string_lossy().into_owned(),
            request_sha256: request_sha256.clone(),
            contract_hash: contract.clone(),
            on_merge: s.on_merge.cloned(),
            extra: Default::default(),
        },
    )?;
    crate::steps::reached(crate::steps::gate::REQUEST_APPENDED);
    (s.ctx.on_event)(Event::Started {
        gate: name,
        kind: def.kind.name(),
    });

    let mut o = GateOutcome {
        gate: name.to_owned(),
        kind: def.kind.name(),
        status: Status::Error,
        reason: None,
        contract_hash: contract,
        head_commit: s.head.clone(),
        definition_sha256,
        request_sha256,
        duration_seconds: 0.0,
        argv: Vec::new(),
        exit: None,
        provider: None,
        model: None,
        session_id: None,
        verdict: None,
        finding_counts: None,
        findings: Vec::new(),
        request_path,
        output_path: dir.join("output.log"),
        result_path: dir.join("result.json"),
        report_path: dir.join("report.md"),
        dir: dir.clone(),
        worktree_removed: false,
        pooled_worktree: None,
        sandbox: None,
        screenshots: Vec::new(),
    };
    let started = Instant::now();
    let checkout = dir.join("checkout");
    if let Some(why) = unrunnable {
        o.reason = Some(why);
    } else if s.sandbox.is_some() && matches!(def.kind, GateKind::Review { .. }) {
        // A reviewer runs outside the sandbox (it needs its login in the hidden home
        // directory and the network), so it does not run in what the sandboxed worker wrote:
        // a CLI loads project settings from its working directory (hooks, MCP servers) and
        // would run them. It gets the diff in its request and works in the gate's directory;
        // no checkout is made, so none is left.
        run_there(s, name, def, &dir, &mut o);
        o.worktree_removed = true;
    } else {
        run_in_checkout(s, name, def, &checkout, &mut o);
    }
    o.duration_seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    record_result(s, &o)?;
    (s.ctx.on_event)(Event::Finished { outcome: &o });
    Ok(o)
}

/// Checks the head out (from the gates' worktree pool when the project keeps one), runs the
/// gate in it, and removes the checkout (or scrubs it back into the pool).
fn run_in_checkout(
    s: &Shared<'_>,
    name: &str,
    def: &GateDef,
    checkout: &Path,
    o: &mut GateOutcome,
) {
    let pool = &s.config.worktree.pool;
    // A sandboxed dispatch's gates never use the pool: the cache directories it keeps would
    // carry what code the worker wrote left there to the next gate, which may run unsandboxed.
    let pooled = (pool.enabled() && s.sandbox.is_none())
        .then(|| Pool::for_gates(s.repo, pool.size, &pool.keep))
        .and_then(|p| Some((p.take_in_place(s.head.as_str()).ok()??, p)));
    if let Some((taken, pool)) = pooled {
        o.pooled_worktree = Some(taken.name.clone());
        run_there(s, name, def, &taken.path, o);
        // Scrubbed back to the commit and the cache directories, or removed.
        pool.give_back_in_place(taken);
        o.worktree_removed = true;
        return;
    }
    match s.repo.add_detached(checkout, s.head.as_str()) {
        Err(e) => o.reason = Some(format!("could not check out the head: {e}")),
        Ok(()) => {
            run_there(s, name, def, checkout, o);
            o.worktree_removed = s.repo.remove_detached(checkout).is_ok();
        }
    }
}

/// Runs the gate's command, reviewer or preview in a checkout of the head.
fn run_there(s: &Shared<'_>, name: &str, def: &GateDef, checkout: &Path, o: &mut GateOutcome) {
    match &def.kind {
        GateKind::Command { argv } => command(s, name, def, argv, checkout, o),
        GateKind::Review {
            provider, model, ..
        } => reviewer(s, def, provider, model.as_deref(), checkout, o),
        GateKind::Screenshots {
            preview,
            paths,
            sizes,
            chromium,
        } => {
            let wanted = super::shots::Wanted {
                preview,
                paths,
                sizes,
                chromium: chromium.as_deref(),
            };
            let timeout = std::time::Duration::from_secs(def.timeout);
            super::shots::capture(s, &wanted, timeout, checkout, o);
        }
    }
}

/// Where a command gate runs, as its request says.
fn workdir(config: &Config) -> String {
    let pool = &config.worktree.pool;
    if !pool.enabled() {
        return "a fresh detached checkout of head_commit".into();
    }
    let keep = if pool.keep.is_empty() {
        "none".to_owned()
    } else {
        pool.keep.join(", ")
    };
    format!(
        "a detached checkout of head_commit from the gates' worktree pool (cache directories \
         kept from earlier gates: {keep}), or a fresh one"
    )
}

/// The dispatch's instruction, if it is still on disk as it was hashed at the start.
fn task_text(s: &Shared<'_>) -> Option<String> {
    let path = s
        .ctx
        .root
        .join(crate::project::DATA_DIR)
        .join("dispatches")
        .join(s.id)
        .join("instruction.md");
    let data = fs::read(path).ok()?;
    (Some(sha256_hex(&data).as_str()) == s.instruction_sha256)
        .then(|| String::from_utf8(data).ok())
        .flatten()
}

fn limits(def: &GateDef) -> Limits {
    Limits {
        timeout: std::time::Duration::from_secs(def.timeout),
        idle: def.idle_timeout.map(std::time::Duration::from_secs),
        grace: crate::dispatch::GRACE,
    }
}

fn command(
    s: &Shared<'_>,
    name: &str,
    def: &GateDef,
    argv: &[String],
    checkout: &Path,
    o: &mut GateOutcome,
) {
    o.argv = argv.to_vec();
    // Local files the project's commands may need (`.env`), as a dispatch gets them.
    let included = crate::dispatch::start::include::resolve(&s.repo.root)
        .and_then(|files| crate::dispatch::start::include::copy(&s.repo.root, checkout, &files));
    if let Err(e) = included {
        o.reason = Some(format!("could not copy the .worktreeinclude files: {e}"));
        return;
    }
    let argv_os: Vec<OsString> = argv.iter().map(OsString::from).collect();
    let program = match s.sandbox {
        None => argv_os,
        Some(shape) => {
            let shape = shape.for_gate(checkout);
            // Never run outside the sandbox: without a working bubblewrap the gate is an error.
            if let Err(e) = crate::sandbox::probe::check(Some(&shape.program)) {
                o.reason = Some(format!(
                    "the dispatch ran sandboxed, so its gates run in its sandbox, and {e}; the \
                     gate was not run outside it"
                ));
                return;
            }
            let wrapped = shape.wrap(&argv_os);
            o.sandbox = Some(shape);
            wrapped
        }
    };
    let mut cmd = Cmd::new(&program[0])
        .args(&program[1..])
        .cwd(checkout)
        .env("VNX_DISPATCH_ID", s.id)
        .env("VNX_GATE", name)
        .env("VNX_HEAD_COMMIT", s.head);
    // Out of bwrap's own environment too, which its first process keeps (`/proc/1/environ`).
    for var in o.sandbox.iter().flat_map(|s| &s.withheld_env) {
        cmd = cmd.env_remove(var);
    }
    let ended = run::run(&cmd, None, &o.output_path, None, limits(def))
        .map_or_else(|e| Ended::NotStarted(e.to_string()), |(ended, _)| ended);
    o.exit = exit_of(&ended);
    (o.status, o.reason) = match (&ended, ended.failure()) {
        (_, Some(why)) => (Status::Error, Some(why)),
        (Ended::Exited(st), None) if st.success() => (Status::Pass, None),
        (Ended::Exited(st), None) => (
            Status::Fail,
            Some(format!("`{}` {}", argv.join(" "), how_ended(st))),
        ),
        _ => (Status::Error, Some("ended in an unknown way".into())),
    };
}

fn reviewer(
    s: &Shared<'_>,
    def: &GateDef,
    provider: &str,
    model: Option<&str>,
    checkout: &Path,
    o: &mut GateOutcome,
) {
    o.provider = Some(provider.to_owned());
    o.model = model.map(str::to_owned);
    let request = match fs::read_to_string(&o.request_path) {
        Ok(r) => r,
        Err(e) => {
            o.reason = Some(format!("could not read the request back: {e}"));
            return;
        }
    };
    let wanted = Wanted {
        lane: Lane::Headless,
        model,
        permission: Permission::Ask,
        prompt_len: request.len(),
        vnx: s.ctx.vnx,
        dispatch_dir: &o.dir,
        resume: None,
        session: None,
        allow: &[],
        plan: false,
    };
    let invocation = match Provider::parse(provider) {
        Ok(p) => p.invocation(&wanted),
        Err(e) => match s.config.providers.get(provider) {
            Some(d) => declared_invocation(provider, d, &wanted),
            None => Err(e),
        },
    };
    let inv = match invocation {
        Ok(inv) => inv,
        Err(e) => {
            o.reason = Some(format!("could not build the reviewer's command: {e}"));
            return;
        }
    };
    let program = &inv.argv[0];
    let Some(binary) = (if program.contains('/') {
        Some(program.into())
    } else {
        (s.ctx.find_program)(program)
    }) else {
        o.reason = Some(format!(
            "could not start: `{program}` was not found on PATH"
        ));
        return;
    };
    let file = o.request_path.to_string_lossy().into_owned();
    let expand = |text: &str| -> Vec<String> {
        inv.argv[1..]
            .iter()
            .map(|a| invocation::expand(a, text, &file))
            .collect()
    };
    o.argv = std::iter::once(binary.to_string_lossy().into_owned())
        .chain(expand(&format!("<request sha256:{}>", o.request_sha256)))
        .collect();
    let mut cmd = Cmd::new(&binary).args(expand(&request)).cwd(checkout);
    for (k, v) in &inv.env {
        cmd = cmd.env(k, v);
    }
    let stdin = match inv.prompt_transport {
        PromptTransport::Stdin => fs::File::open(&o.request_path).ok(),
        _ => None,
    };
    let stderr = o.dir.join("stderr.log");
    let ended = run::run(&cmd, stdin, &o.output_path, Some(&stderr), limits(def))
        .map_or_else(|e| Ended::NotStarted(e.to_string()), |(ended, _)| ended);
    o.exit = exit_of(&ended);
    let output = fs::read(&o.output_path).unwrap_or_default();
    let (message, cli_error) = if inv.output == OutputFormat::TEXT {
        let text = String::from_utf8_lossy(&output).trim().to_owned();
        ((!text.is_empty()).then_some(text), None)
    } else {
        let mut parser = EventParser::new(inv.output);
        parser.feed(&output);
        let summary = parser.finish();
        o.session_id = summary.session_id.clone();
        let error = match summary.verdict {
            Some(crate::provider::events::Verdict::Error { message }) => Some(message),
            _ => None,
        };
        (summary.last_message, error)
    };
    let error = |why: String| (Status::Error, Some(why));
    (o.status, o.reason) = if let Some(why) = ended.failure() {
        error(why)
    } else if let Some(msg) = cli_error {
        error(format!("the reviewer's CLI reported an error: {msg}"))
    } else if let Ended::Exited(st) = &ended
        && !st.success()
    {
        error(format!("the reviewer {}", how_ended(st)))
    } else {
        match message {
            None => error("the reviewer returned no final message".into()),
            Some(m) if m.chars().count() >= LAST_MESSAGE_MAX_CHARS && m.ends_with('…') => {
                error(format!(
                    "the reviewer's final message is longer than {LAST_MESSAGE_MAX_CHARS} \
                     characters and was cut, so no verdict can be read from it"
                ))
            }
            Some(m) => match review::parse_answer(&m) {
                Err(why) => error(why),
                Ok(answer) => {
                    let counts = answer.counts();
                    o.verdict = Some(answer.verdict);
                    o.finding_counts = Some(counts);
                    o.findings = answer.findings;
                    let tally = format!(
                        "{} blocking, {} major, {} minor finding(s)",
                        counts.blocking, counts.major, counts.minor
                    );
                    match answer.verdict {
                        review::Verdict::Fail => (
                            Status::Fail,
                            Some(format!("the reviewer's verdict is fail ({tally})")),
                        ),
                        review::Verdict::Pass if counts.blocking > 0 => (
                            Status::Fail,
                            Some(format!("the reviewer passed it but reported {tally}")),
                        ),
                        review::Verdict::Pass => (Status::Pass, None),
                    }
                }
            },
        }
    };
}

/// Writes `result.json` and `report.md`, then appends `gate_result`.
fn record_result(s: &Shared<'_>, o: &GateOutcome) -> Result<(), GateError> {
    let result = serde_json::to_vec_pretty(o).expect("outcomes serialize");
    fs::write(&o.result_path, &result).map_err(io_err(&o.result_path))?;
    let report = report_md(s, o);
    fs::write(&o.report_path, &report).map_err(io_err(&o.report_path))?;
    let output_sha256 = fs::read(&o.output_path).ok().map(|d| sha256_hex(&d));
    let findings: Vec<review::Finding> = o
        .findings
        .iter()
        .take(RECEIPT_FINDINGS)
        .map(|f| review::Finding {
            message: review::shorten(&f.message, RECEIPT_MESSAGE_CHARS),
            ..f.clone()
        })
        .collect();
    s.ctx.attestor.record(
        s.ctx.ledger,
        &GateResult {
            dispatch_id: s.id.clone(),
            gate: o.gate.clone(),
            kind: o.kind.to_owned(),
            run: s.run.to_owned(),
            status: o.status,
            reason: o.reason.clone(),
            failure_reason: o.reason.clone().filter(|_| o.status != Status::Pass),
            contract_hash: o.contract_hash.clone(),
            head_commit: o.head_commit.clone(),
            definition_sha256: o.definition_sha256.clone(),
            request_sha256: o.request_sha256.clone(),
            duration_seconds: o.duration_seconds,
            argv: o.argv.clone(),
            exit: o.exit.clone(),
            provider: o.provider.clone(),
            model: o.model.clone(),
            session_id: o.session_id.clone(),
            verdict: o.verdict,
            finding_counts: o.finding_counts,
            findings,
            output_path: o.output_path.to_string_lossy().into_owned(),
            output_sha256,
            result_path: o.result_path.to_string_lossy().into_owned(),
            result_sha256: sha256_hex(&result),
            report_path: o.report_path.to_string_lossy().into_owned(),
            report_sha256: sha256_hex(report.as_bytes()),
            worktree_removed: o.worktree_removed,
            pooled_worktree: o.pooled_worktree.clone(),
            on_merge: s.on_merge.cloned(),
            sandbox: o.sandbox.clone(),
            screenshots: o.screenshots.clone(),
            extra: Default::default(),
        },
    )?;
    crate::steps::reached(crate::steps::gate::RESULT_APPENDED);
    Ok(())
}

/// The gate's human-readable report.
fn report_md(s: &Shared<'_>, o: &GateOutcome) -> String {
    let mut r = format!(
        "# Gate `{}` for dispatch {}\n\n\
         - status: **{}**{}\n\
         - kind: {}\n\
         - head: {}\n\
         - run: {}\n\
         - contract hash: {}\n\
         - request: {} (sha256 {})\n\
         - ran: `{}`\n\
         - duration: {:.1} s\n",
        o.gate,
        s.id,
        o.status.name(),
        o.reason
            .as_deref()
            .map(|r| format!(" — {r}"))
            .unwrap_or_default(),
        o.kind,
        o.head_commit,
        s.run,
        o.contract_hash,
        o.request_path.display(),
        o.request_sha256,
        o.argv.join(" "),
        o.duration_seconds,
    );
    if o.kind == "review" {
        r.push_str("\n## Findings\n\n");
        if o.findings.is_empty() {
            r.push_str("(none)\n");
        }
        for f in &o.findings {
            let at = match (&f.file, f.line) {
                (Some(file), Some(line)) => format!(" ({file}:{line})"),
                (Some(file), None) => format!(" ({file})"),
                _ => String::new(),
            };
            r.push_str(&format!("- [{}] {}{at}\n", f.severity, f.message));
        }
    }
    if o.kind == "screenshots" {
        r.push_str("\n## Screenshots\n\n");
        for shot in &o.screenshots {
            r.push_str(&format!(
                "- `{}` at {}x{}: {} (sha256 {}, {} bytes)\n",
                shot.path, shot.width, shot.height, shot.file, shot.sha256, shot.bytes
            ));
        }
        if o.screenshots.is_empty() {
            r.push_str("(none)\n");
        }
    }
    let output = fs::read(&o.output_path).unwrap_or_default();
    let output = String::from_utf8_lossy(&output);
    let tail: String = {
        let n = output.chars().count();
        output.chars().skip(n.saturating_sub(4000)).collect()
    };
    let fence = review::fence(&tail);
    r.push_str(&format!(
        "\n## Output (last 4000 characters of {})\n\n{fence}text\n{}\n{fence}\n",
        o.output_path.display(),
        tail.trim_end()
    ));
    r
}
