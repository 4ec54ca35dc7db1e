//! `vnx show`: one dispatch whole, its worker's log, or its diff.

use std::io::{Read, Seek, SeekFrom, Write};
use std::process::ExitCode;
use std::time::Duration;

use vnx::dispatch::detail::{self, Detail};
use vnx::dispatch::view;
use vnx::ids::DispatchId;
use vnx::provider::{session, transcript};
use vnx::tmux::Tmux;

use super::CliError;
use super::util::output::{Out, escape, paint, say};
use super::util::settings;

/// Show one dispatch: its state and reason, provider, model, lane, role, branch, base, head,
/// teardown, timings, tokens, log, gates, merge and receipts; or its log; or its diff
#[derive(clap::Args)]
#[command(
    after_long_help = "Examples:\n  $ vnx show D-1a2b3c4d5e6f\n  $ vnx show D-1a2b3c4d5e6f --log --follow\n  $ vnx show D-1a2b3c4d5e6f --log --raw\n  $ vnx show D-1a2b3c4d5e6f --diff --stat"
)]
pub struct Args {
    /// The dispatch (an id, or its start: `D-3f2a`, `3f2a`)
    #[arg(value_name = "ID")]
    id: String,
    /// Print the worker's log instead (of a dispatch on a remote host: read there, over ssh)
    #[arg(long, conflicts_with = "diff")]
    log: bool,
    /// With --log: keep printing what the worker writes until the dispatch ends
    #[arg(long, short = 'f', requires = "log")]
    follow: bool,
    /// With --log: the worker's output as it wrote it (its CLI's JSON events), not the
    /// transcript made of them
    #[arg(long, requires = "log")]
    raw: bool,
    /// Print its changes against its base instead (committed and uncommitted)
    #[arg(long)]
    diff: bool,
    /// With --diff: a summary of the changed files
    #[arg(long, requires = "diff")]
    stat: bool,
    /// Print as JSON (see docs/json.md)
    #[arg(long, conflicts_with_all = ["log", "diff"])]
    json: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
    /// Read its pull request from the forge now, however fresh its cached read
    #[arg(long, conflicts_with = "no_forge")]
    refresh: bool,
    /// Show its pull request as last read, never calling gh
    #[arg(long)]
    no_forge: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, mut ids) = super::util::ids::project_for(std::slice::from_ref(&args.id))?;
    let id = ids.remove(0);
    super::util::drain::recover_queue_here(args.tmux.tmux_socket.clone(), true);
    super::util::hosts::catch_up_warning(&project, Some(std::slice::from_ref(&id)));
    let tmux = Tmux::new(settings::tmux_socket(args.tmux.tmux_socket.clone()));
    let ledger = project.ledger();
    let read = super::util::states::verified_states(
        &project,
        &tmux,
        vnx::dispatch::fold::Want::Ids(std::slice::from_ref(&id)),
    )?;
    let Some(state) = read.states.into_iter().find(|s| s.id == id) else {
        return Err(CliError::usage(format!("unknown dispatch {id}"))
            .with_hint("`vnx status` lists the dispatches on the ledger"));
    };
    let record = read.record;
    let receipts = record
        .as_ref()
        .map(|r| r.receipts.clone())
        .unwrap_or_default();
    // Only a best-of candidate has a group (reading them is a pass of its own).
    let grouped = record
        .as_ref()
        .and_then(|r| r.start.as_ref())
        .is_some_and(|s| s.grouped);
    let membership = |ledger: &std::path::Path, id: &DispatchId| {
        grouped.then(|| super::util::groups::membership(ledger, id))?
    };
    let graph = vnx::dispatch::queue::after::lines_alone(&ledger, &project.data_dir(), &state);
    let d = detail::Detail {
        graph,
        ..detail::of_record(&ledger, state, &receipts)?
    };
    // Its pull request, read through the shared forge cache (only for the whole view).
    let pr = match (&d.state.branch, args.log || args.diff) {
        (Some(branch), false) => super::util::pr_watch::read(
            &project,
            &[(id.clone(), branch.clone())],
            super::util::pr_watch::mode(args.no_forge, args.refresh),
        )
        .remove(&id),
        _ => None,
    };
    let mut out = Out::new();
    if args.json {
        // The dispatch, and its best-of group (null when it is not a candidate).
        let mut value = serde_json::to_value(&d)
            .map_err(|e| CliError::from_error(&e).context("could not render the dispatch"))?;
        if let Some(o) = value.as_object_mut() {
            let group = membership(&ledger, &id);
            o.insert(
                "group".into(),
                serde_json::to_value(group).unwrap_or_default(),
            );
            if let Some(pr) = &pr {
                o.insert("pr".into(), serde_json::to_value(pr).unwrap_or_default());
            }
            let comments = review_comments(&project, &tmux, &d)?;
            o.insert(
                "review_comments".into(),
                serde_json::to_value(comments).unwrap_or_default(),
            );
        }
        out.json(&value)?;
    } else if args.log {
        if let Some(place) = super::util::hosts::place_of(&project, &id)? {
            // Its log is on its host: read there.
            return super::util::remote_log::show(place.as_ref(), &id, args.follow, args.raw);
        }
        if !args.raw
            && let Some(wanted) = session_wanted(&d, &project)
            && session_log(&d, wanted, args.follow, &ledger, &tmux)?
        {
            return Ok(ExitCode::SUCCESS);
        }
        log(&d, args.follow, args.raw, &ledger, &tmux)?;
    } else if args.diff {
        let text = detail::diff(&project.root, &d, args.stat).map_err(|e| {
            CliError::from_error(&e).with_hint("is git on PATH and the repository intact?")
        })?;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
    } else {
        whole(&mut out, &d)?;
        if let Some(m) = membership(&ledger, &id) {
            out.line(&format!("  {:<10} {}", "group", m.describe(&id)))?;
        }
        for l in &d.graph {
            out.line(&format!("  {:<10} {}", "graph", escape(l)))?;
        }
        if let Some(pr) = &pr {
            pr_block(&mut out, pr)?;
        }
        let comments = review_comments(&project, &tmux, &d)?;
        if !comments.is_empty() {
            out.line("  review comments:")?;
            for c in &comments {
                for line in super::util::lines::review_comment(c) {
                    out.line(&format!("    {line}"))?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Its review comments (`vnx review`), each with whether it is stale and the follow-up that
/// addressed it; none when no key is here to check their signatures.
fn review_comments(
    project: &vnx::project::Project,
    tmux: &Tmux,
    d: &Detail,
) -> Result<Vec<vnx::review::Comment>, CliError> {
    let ledger = project.ledger();
    let Ok(attestor) = settings::attestor(None) else {
        return Ok(Vec::new());
    };
    let trusted = vnx::ledger::attest::trusted_keys(&ledger, &attestor)?;
    let states = || vnx::dispatch::view::list(&ledger, tmux);
    Ok(vnx::review::shown(
        &project.root,
        &ledger,
        d,
        &trusted,
        states,
    )?)
}

/// Its pull request: number and address, state, head against the recorded one, each check,
/// the review decision and the new reviews and comments (who, and their first line), every
/// forge text escaped.
fn pr_block(out: &mut Out, pr: &vnx::forge::watch::PrStatus) -> Result<(), CliError> {
    let esc = |t: &str| escape(t).into_owned();
    for (i, (key, value)) in crate::shown::pr_lines(pr, esc).into_iter().enumerate() {
        match i {
            0 => out.line(&format!("  {key:<10} {value}"))?,
            _ => out.line(&format!("    {key:<8} {value}"))?,
        };
    }
    Ok(())
}

/// The dispatch as `key: value` lines.
fn whole(out: &mut Out, d: &Detail) -> Result<(), CliError> {
    let s = &d.state;
    let dash = |v: Option<&str>| v.unwrap_or("-").to_owned();
    out.styled(&format!(
        "{}  {}",
        escape(s.id.as_str()),
        paint(s.status, s.status)
    ))?;
    let mut field = |key: &str, value: String| out.line(&format!("  {key:<10} {value}"));
    if let Some(title) = s.title.as_deref().filter(|t| !t.is_empty()) {
        field("title", title.to_owned())?;
    }
    if let Some(reason) = &s.reason {
        field("reason", reason.clone())?;
    }
    if let Some(q) = s.question.as_deref().filter(|_| s.status == "needs_input") {
        // The whole question, line by line, each made safe to print.
        for (i, line) in q.trim().lines().enumerate() {
            field(
                if i == 0 { s.question_label() } else { "" },
                transcript::clean(line),
            )?;
        }
    }
    if let Some(e) = s.escalated.as_ref().filter(|_| s.waiting()) {
        // `vnx pr watch` gave up on its pull request (ADR 0093).
        field(
            "needs you",
            format!(
                "pull request #{} ({}): {}",
                e.number,
                e.rule,
                escape(&e.why)
            ),
        )?;
    }
    if let Some((_, sha)) = s.plan_waiting() {
        // What `vnx approve --plan-sha256` binds a decision to (ADR 0092).
        field("plan hash", format!("sha256 {sha}"))?;
        field(
            "decide",
            format!(
                "vnx approve {id} (carries it out) or vnx deny {id} --message TEXT (plans again)",
                id = s.id
            ),
        )?;
    }
    if let Some(b) = &s.budget {
        field("budget", b.line())?;
    }
    if let Some(d) = &s.dismissed {
        field("dismissed", super::util::lines::dismissed_line(d))?;
    }
    if let Some(a) = &s.accepted {
        field("accepted", super::util::lines::accepted_line(a))?;
    }
    if let Some(by) = &d.cancelled_by {
        field("cancelled", format!("asked by {}", escape(by)))?;
    }
    for denial in &d.denials {
        field("denied", escape(denial).into_owned())?;
    }
    if d.cli_denials > 0 {
        field(
            "refused",
            format!(
                "{} tool call{} refused by the worker's CLI (`vnx show {} --log`)",
                d.cli_denials,
                if d.cli_denials == 1 { "" } else { "s" },
                s.id
            ),
        )?;
    }
    if let Some(b) = s.background.as_ref().filter(|_| s.state.is_live()) {
        field("waiting on", b.describe())?;
    }
    if let Some(b) = &s.blocked {
        field("waits for", b.describe())?;
        if b.waiting_for == vnx::receipts::WaitingFor::Permission {
            field("", super::util::lines::REQUEST_IS_THE_HOOKS.to_owned())?;
        }
    }
    if let Some(q) = &s.queue {
        let line = match s.place.place().map(|p| p.host()) {
            Some(vnx::place_name::ANY) => "hosts' queue (waiting for any host)".to_owned(),
            Some(host) => format!("hosts' queue (waiting for host {host})"),
            None => format!("{} queue", s.provider.as_deref().unwrap_or("-")),
        };
        field("queue", queue_place(&line, q))?;
    }
    field(
        "worker",
        format!(
            "{} {} ({} lane, {} posture)",
            dash(s.provider.as_deref()),
            dash(s.model.as_deref()),
            dash(d.lane.as_deref()),
            dash(d.permission.as_deref())
        ),
    )?;
    field("role", dash(s.role.as_deref()))?;
    if let Some(place) = s.place.place() {
        // Its worktree, session and log are there (`vnx attach`, `vnx show --log`).
        field("host", escape(&place.to_string()).into_owned())?;
    }
    if let Some(evidence) = s.evidence() {
        field("proof", evidence)?;
    }
    field(
        "branch",
        format!(
            "{} from {} ({})",
            dash(s.branch.as_deref()),
            dash(d.base_ref.as_deref()),
            short(d.base_commit.as_ref().map(|i| i.as_str()))
        ),
    )?;
    field("head", short(s.head_commit.as_ref().map(|i| i.as_str())))?;
    let mut teardown = s.teardown_class.map_or("-", |t| t.name()).to_owned();
    if let Some(c) = &d.accepted_commit {
        // The kept worktree's work, committed by vnx when a person accepted it.
        teardown.push_str(&format!(
            ", then committed by vnx on acceptance ({}, {} file{})",
            crate::shown::short(&c.commit),
            c.files_total,
            if c.files_total == 1 { "" } else { "s" }
        ));
    }
    field("teardown", teardown)?;
    field(
        "started",
        format!(
            "{}{}",
            dash(s.started_at.as_deref()),
            d.duration_seconds
                .map(|t| format!(", ran {t:.1} s"))
                .unwrap_or_default()
        ),
    )?;
    if let Some(u) = &d.token_usage {
        let from = d
            .token_usage_source
            .map(|f| format!(" (from {})", f.describe()))
            .unwrap_or_default();
        field(
            "tokens",
            format!("{} in, {} out{from}", u.input_tokens, u.output_tokens),
        )?;
    }
    field("log", dash(s.worker_log.as_deref()))?;
    if let Some(wt) = s
        .worktree
        .as_deref()
        .filter(|w| std::path::Path::new(w).exists())
    {
        field("worktree", wt.to_owned())?;
    }
    if let Some(c) = &s.continues {
        field("continues", c.to_string())?;
    }
    for c in &d.conflicts {
        // What the merge queue refused, and what followed it (a follow-up, `--rebase` or not).
        let seq = c.seq.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let next = s.continued_by.as_ref().map_or_else(
            || format!("; `vnx follow-up {} --rebase` resolves it", s.id),
            |f| format!("; followed by {f}"),
        );
        field(
            "conflict",
            format!(
                "merging into {} at {} conflicted in {} (merge_dequeued, line {seq}){next}",
                escape(&c.base_ref),
                short(Some(c.base_tip.as_str())),
                escape(&c.paths.join(", ")),
            ),
        )?;
    }
    if let Some(r) = &d.rebase {
        let answers = r
            .dequeued_seq
            .map(|n| format!(", answering the conflict at line {n}"))
            .unwrap_or_default();
        let left = if r.conflicts.is_empty() {
            "no conflicts".to_owned()
        } else {
            format!("conflicts left in {}", escape(&r.conflicts.join(", ")))
        };
        field(
            "rebase",
            format!(
                "vnx merged {} at {} into the branch before the worker started: {left}{answers}",
                escape(&r.base_ref),
                short(Some(r.base_commit.as_str())),
            ),
        )?;
    }
    if let Some(c) = &s.continued_by {
        field("followed by", c.to_string())?;
    }
    for g in &d.gates {
        let why = super::util::lines::why(g.reason.as_deref());
        field(
            "gate",
            format!(
                "{} {} at {}{why}",
                g.gate,
                g.status,
                short(Some(g.head_commit.as_str()))
            ),
        )?;
    }
    field(
        "merged",
        d.merge_commit
            .as_ref()
            .map(|i| i.as_str())
            .map_or_else(|| "no".to_owned(), |m| format!("yes, {}", short(Some(m)))),
    )?;
    out.line("  receipts:")?;
    for r in &d.receipts {
        out.line(&format!("    {r}"))?;
    }
    Ok(())
}

fn short(commit: Option<&str>) -> String {
    commit.map_or_else(|| "-".to_owned(), |c| c.chars().take(12).collect())
}

/// Prints the worker's log as a transcript (or `raw`, as written; control characters
/// escaped either way); with `follow`, goes on printing what is appended until the dispatch
/// ends.
fn log(
    d: &Detail,
    follow: bool,
    raw: bool,
    ledger: &std::path::Path,
    tmux: &Tmux,
) -> Result<(), CliError> {
    // Where vnx writes the log, never a path a receipt names (a forged one could name a FIFO
    // or a terminal), and only a regular file.
    let path = vnx::dispatch::worker_log(&settings::project()?.root, &d.state.id);
    if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
        return Err(
            CliError::new(format!("{} is not a regular file", path.display()))
                .with_hint("vnx writes worker logs as regular files: look at what replaced it"),
        );
    }
    // Opened without following a link or blocking, should it be swapped after the check.
    let mut file = vnx::files::open_hostile(&path).map_err(|e| {
        CliError::new(format!("could not open {}", path.display()))
            .with_cause(&e)
            .with_hint("`vnx prune` removes old dispatch directories, and a launch that failed leaves none")
    })?;
    let mut stdout = std::io::stdout().lock();
    let mut buf = Vec::new();
    let mut offset = 0u64;
    let mut transcript = (!raw).then(transcript::Transcript::new);
    loop {
        buf.clear();
        let _ = file.seek(SeekFrom::Start(offset));
        let n = file.read_to_end(&mut buf).unwrap_or(0);
        offset += n as u64;
        if n > 0 {
            match &mut transcript {
                // The renderer escapes control characters and bounds each line.
                Some(t) => print(&mut stdout, t.feed(&buf)),
                None => {
                    let text = String::from_utf8_lossy(&buf);
                    let _ =
                        stdout.write_all(super::util::output::escape_keep_lines(&text).as_bytes());
                    let _ = stdout.flush();
                }
            }
        }
        let done = !follow || (!live(ledger, tmux, &d.state.id)? && n == 0);
        if done {
            if let Some(t) = transcript.take() {
                print(&mut stdout, t.finish());
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Prints `lines` (made safe to print already) and flushes them.
fn print(stdout: &mut impl Write, lines: Vec<String>) {
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
}

/// Whether dispatch `id` still runs.
fn live(ledger: &std::path::Path, tmux: &Tmux, id: &DispatchId) -> Result<bool, CliError> {
    Ok(view::list(ledger, tmux)?
        .into_iter()
        .any(|s| s.id == *id && s.state.is_live()))
}

/// Which session file an interactive worker's CLI keeps, where it keeps one vnx reads (its
/// TUI writes nothing to `worker.log` until the end); `None` for another lane or CLI.
fn session_wanted(d: &Detail, project: &vnx::project::Project) -> Option<session::Wanted> {
    let s = &d.state;
    if d.lane.as_deref() != Some("interactive") {
        return None;
    }
    let since: jiff::Timestamp = s.started_at.as_deref()?.parse().ok()?;
    let provider = s.provider.as_deref()?;
    Some(session::Wanted {
        // A declared TUI's session files as the project's config declares them.
        cli: session::Cli::of(provider).or_else(|| {
            Some(session::Cli::declared(
                provider,
                &declared_session(project, provider)?,
            ))
        })?,
        // As the dispatching command's environment said, recorded in the signed start (never
        // the dispatch directory's `spec.json`, which its worker can write); else as this
        // command's environment says.
        homes: d
            .cli_homes
            .as_ref()
            .map(session::Homes::from_recorded)
            .unwrap_or_else(settings::session_homes),
        cwd: std::path::PathBuf::from(s.worktree.as_deref()?),
        since: since.into(),
        // The session vnx chose or resumed for it, else the one its completion recorded.
        session_id: d
            .started_session_id
            .clone()
            .or_else(|| d.session_id.clone())
            .filter(|id| session::valid_id(provider, id)),
    })
}

/// Where a declared TUI writes its session files, as the project's config says now.
fn declared_session(
    project: &vnx::project::Project,
    provider: &str,
) -> Option<vnx::provider::declared::DeclaredSession> {
    let config = project.load_config().ok()?;
    let lane = config.providers.get(provider)?.interactive.as_ref()?;
    lane.tui.session.clone()
}

/// Prints an interactive worker's session file as a transcript: what it holds, or with
/// `follow` what it gets until the dispatch ends. `false` when there is none to print (then
/// the worker's log is printed as usual).
fn session_log(
    d: &Detail,
    wanted: session::Wanted,
    follow: bool,
    ledger: &std::path::Path,
    tmux: &Tmux,
) -> Result<bool, CliError> {
    let s = &d.state;
    let cli = wanted.cli.name().to_owned();
    let mut stdout = std::io::stdout().lock();
    if !follow || !live(ledger, tmux, &s.id)? {
        let Some(path) = wanted.find() else {
            return Ok(false);
        };
        // Its name is partly the worker's CLI's to choose: escaped.
        say!("{cli}'s session file {}", escape(&path.to_string_lossy()));
        // Streamed: a worker could have made the file as large as vnx reads.
        session::render_each(wanted.cli, &path, |line| print(&mut stdout, vec![line])).map_err(
            |e| CliError::new(format!("could not read {}", path.display())).with_cause(&e),
        )?;
        return Ok(true);
    }
    let place = wanted
        .looked_in()
        .map(|p| format!(" in {}", escape(&p.to_string_lossy())))
        .unwrap_or_default();
    say!(
        "following {cli}'s session file{place} (`vnx attach {}` shows its screen)",
        s.id
    );
    let mut follower = session::Follower::new(wanted);
    loop {
        let (lines, n) = follower.poll();
        print(&mut stdout, lines);
        if n == 0 && !live(ledger, tmux, &s.id)? {
            // What the CLI wrote last, as it ended.
            let (lines, _) = follower.poll();
            print(&mut stdout, lines);
            print(&mut stdout, follower.finish());
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Where a queued dispatch waits (in `line`: `demo queue`, `hosts' queue (…)`), in words.
fn queue_place(line: &str, q: &vnx::dispatch::view::QueueInfo) -> String {
    let at = match q.position {
        Some(n) => format!("position {n} in the {line}"),
        None => format!("left the {line}"),
    };
    let by = q
        .start_by
        .as_ref()
        .map(|t| format!(", start by {t}"))
        .unwrap_or_default();
    format!(
        "{at} (priority {}, {} slot(s){by}; queued {})",
        q.priority,
        q.capacity,
        q.queued_at.as_deref().unwrap_or("-")
    )
}
