//! Waiting for dispatches to settle, as `vnx wait`, a foreground dispatch and a dispatch
//! queued for a host wait: each printed the moment it settles (a line, or `--json`'s object
//! with its pull request), the queue drained and remote hosts caught up with meanwhile, then,
//! when asked, each done dispatch's pull request followed; the exit says how they ended.

use std::collections::BTreeMap;
use std::process::ExitCode;

pub(crate) use vnx::dispatch::settled::settled;
use vnx::dispatch::view::{self, WaitEvent, Waited};
use vnx::forge::watch::{Mode, PrStatus};
use vnx::ids::DispatchId;
use vnx::provider::transcript;
use vnx::tmux::Tmux;

use crate::cli::CliError;
use crate::cli::util::output::{Out, escape};
use crate::cli::util::{pr_watch, settings};

/// How dispatches are waited for.
#[derive(Clone, Debug, Default)]
pub(crate) struct Waiting {
    /// One JSON object per dispatch as it settles.
    pub(crate) json: bool,
    /// Also return when a dispatch is blocked.
    pub(crate) until_blocked: bool,
    /// Then wait on each done dispatch's pull request.
    pub(crate) until_pr: Option<UntilPr>,
    /// Give up after this many seconds.
    pub(crate) timeout: Option<u64>,
    /// `--tmux-socket`.
    pub(crate) tmux_socket: Option<String>,
}

/// Waits for the dispatches `ids` of `project` as `how` says, printing each as it settles:
/// exit 0 only when every one succeeded (and, with `until_pr`, its pull request did).
pub(crate) fn wait_for(
    project: &vnx::project::Project,
    ids: &[DispatchId],
    how: &Waiting,
) -> Result<ExitCode, CliError> {
    // Pull requests are shown only when the project has a forge.
    let refresh = pr_watch::refresh_seconds(project);
    if how.until_pr.is_some() && refresh.is_none() {
        return Err(CliError::usage("--until-pr needs a forge").with_hint(
            "name the forge in .vnx/config.yaml (`forge: {kind: github, remote: origin}`)",
        ));
    }
    crate::cli::util::drain::recover_queue_here(how.tmux_socket.clone(), true);
    let tmux = Tmux::new(settings::tmux_socket(how.tmux_socket.clone()));
    let deadline = how
        .timeout
        .map(|s| std::time::Instant::now() + std::time::Duration::from_secs(s));
    let mut out = Out::new();
    let progress = Progress::new(how.json);
    let mut catching = crate::cli::util::hosts::CatchingUp::new(project);
    let mut failed = None;
    // The pull request line printed with each dispatch, not printed again by --until-pr.
    let mut shown: BTreeMap<DispatchId, String> = BTreeMap::new();
    // Each dispatch is printed the moment it settles; a lost one is held back, since a
    // supervisor that could not append its completion left it pending (appended below).
    let waited = view::wait_with(
        &project.ledger(),
        ids,
        &tmux,
        how.until_blocked,
        deadline,
        &mut |event| match event {
            WaitEvent::Settled(_, Waited::Lost) => {}
            WaitEvent::Settled(id, w) => {
                progress.clear();
                let pr = refresh.and_then(|_| pr_of(project, id));
                if let Some(pr) = &pr {
                    shown.insert(id.clone(), pr.line());
                }
                if let Err(e) =
                    report_one(&mut out, id, w, how.json, pr.as_ref()).and_then(|_| out.flush())
                {
                    failed.get_or_insert(e);
                }
            }
            WaitEvent::Quiet(pending) => {
                progress.show(pending);
                // Remote dispatches: their hosts' new receipts are caught up with.
                catching.tick(pending);
                // A queued dispatch starts even if the supervisor that should start it died.
                crate::cli::util::drain::recover_queue_here(how.tmux_socket.clone(), true);
            }
        },
    )?;
    progress.clear();
    if let Some(e) = failed {
        return Err(e);
    }
    let mut waited = waited;
    let lost: Vec<DispatchId> = waited
        .iter()
        .filter(|(_, w)| matches!(w, Waited::Lost))
        .map(|(id, _)| id.clone())
        .collect();
    if !lost.is_empty() {
        crate::cli::util::pending::finish_pending(project);
        let again = view::wait(&project.ledger(), &lost, &tmux, how.until_blocked)?;
        for (id, w) in again {
            let pr = refresh.and_then(|_| pr_of(project, &id));
            if let Some(pr) = &pr {
                shown.insert(id.clone(), pr.line());
            }
            report_one(&mut out, &id, &w, how.json, pr.as_ref())?;
            waited.insert(id, w);
        }
    }
    // An id the ledger never started is a usage error, worded as every command words it.
    let unknown: Vec<String> = waited
        .iter()
        .filter(|(_, w)| matches!(w, Waited::Unknown))
        .map(|(id, _)| id.to_string())
        .collect();
    if !unknown.is_empty() {
        out.flush()?;
        return Err(
            CliError::usage(format!("unknown dispatch {}", unknown.join(", ")))
                .with_hint("`vnx status` lists the dispatches of this project"),
        );
    }
    let (Some(what), Some(refresh)) = (how.until_pr, refresh) else {
        return Ok(verdict(&waited));
    };
    let done: Vec<DispatchId> = waited
        .iter()
        .filter(|(_, w)| w.succeeded())
        .map(|(id, _)| id.clone())
        .collect();
    let watching = Watching {
        project,
        what,
        refresh,
        deadline,
        json: how.json,
    };
    let prs_ok = watching.follow(&mut out, &done, &shown)?;
    let all_ok = prs_ok && waited.values().all(Waited::succeeded);
    Ok(crate::cli::util::error::Exit::No.when(!all_ok))
}

/// What `--until-pr` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum UntilPr {
    /// Every check done: passed (exit 0) or any failed (exit 1)
    Checks,
    /// Merged (exit 0) or closed (exit 1)
    Merged,
    /// A new review decision, review or comment: approved (exit 0) or not (exit 1)
    Review,
}

impl UntilPr {
    fn name(self) -> &'static str {
        match self {
            UntilPr::Checks => "its pull request's checks",
            UntilPr::Merged => "its pull request's merge",
            UntilPr::Review => "a review of its pull request",
        }
    }

    /// Whether the wait on a pull request first read as `first` and now read as `now` is
    /// over, and if so whether it ended well. A read that failed (`unknown`) decides nothing.
    fn decide(self, first: &PrStatus, now: &PrStatus) -> Option<bool> {
        let ended = match now.state.as_str() {
            "merged" => Some(true),
            "closed" => Some(false),
            _ => None,
        };
        match self {
            UntilPr::Checks => match now.checks_word.as_str() {
                "pass" => Some(true),
                "fail" => Some(false),
                _ => ended,
            },
            UntilPr::Merged => ended,
            UntilPr::Review => {
                let decided =
                    !now.review_decision.is_empty() && now.review_decision != first.review_decision;
                let said = now.new_comments > first.new_comments;
                if decided || said {
                    Some(now.review_decision == "APPROVED")
                } else {
                    ended
                }
            }
        }
    }
}

/// Dispatch `id`'s pull request through the shared forge cache, when it has one.
fn pr_of(project: &vnx::project::Project, id: &DispatchId) -> Option<PrStatus> {
    let branches = pr_watch::branches(project, std::slice::from_ref(id));
    pr_watch::read(project, &branches, Mode::Auto).remove(id)
}

/// A wait on dispatches' pull requests (`--until-pr`).
struct Watching<'a> {
    project: &'a vnx::project::Project,
    what: UntilPr,
    refresh: u64,
    deadline: Option<std::time::Instant>,
    json: bool,
}

impl Watching<'_> {
    /// Waits on the pull request of each of `ids`, printing each change; whether every one
    /// ended well. One without a pull request ends badly at once.
    fn follow(
        &self,
        out: &mut Out,
        ids: &[DispatchId],
        shown: &BTreeMap<DispatchId, String>,
    ) -> Result<bool, CliError> {
        // The supervisor opens a pull request after the completion, holding the dispatch's
        // lock to its end: taking it waits for that.
        for id in ids {
            let dir = self.project.data_dir().join("dispatches").join(id.as_str());
            if dir.is_dir()
                && let Ok(lock) = vnx::dispatch::liveness::hold(&dir)
            {
                drop(lock);
            }
        }
        let mut all_ok = true;
        let mut pending = pr_watch::branches(self.project, ids);
        for id in ids {
            if !pending.iter().any(|(p, _)| p == id) {
                self.none(out, id)?;
                all_ok = false;
            }
        }
        let mut seen: BTreeMap<DispatchId, (PrStatus, String)> = BTreeMap::new();
        while !pending.is_empty() {
            let prs = pr_watch::read(self.project, &pending, Mode::Auto);
            let mut still = Vec::new();
            for (id, branch) in pending {
                let Some(pr) = prs.get(&id) else {
                    self.none(out, &id)?;
                    all_ok = false;
                    continue;
                };
                let line = pr.line();
                // Printed when it changed since it was last printed (here, or as it settled).
                let (first, last) = seen
                    .get(&id)
                    .map_or((pr, shown.get(&id)), |(f, l)| (f, Some(l)));
                if last != Some(&line) {
                    self.print(out, &id, pr)?;
                }
                let first = first.clone();
                seen.insert(id.clone(), (first.clone(), line));
                match self.what.decide(&first, pr) {
                    Some(ok) => all_ok &= ok,
                    None => still.push((id, branch)),
                }
            }
            out.flush()?;
            pending = still;
            if pending.is_empty() {
                break;
            }
            let mut pause = std::time::Duration::from_secs(self.refresh);
            if let Some(d) = self.deadline {
                let left = d.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    for (id, _) in &pending {
                        out.line(&format!(
                            "{id}  still waiting for {} at --timeout",
                            self.what.name()
                        ))?;
                    }
                    return Ok(false);
                }
                pause = pause.min(left);
            }
            std::thread::sleep(pause);
        }
        Ok(all_ok)
    }

    fn print(&self, out: &mut Out, id: &DispatchId, pr: &PrStatus) -> Result<(), CliError> {
        if self.json {
            out.json(&serde_json::json!({"dispatch_id": id, "pr": pr}))?;
        } else {
            out.line(&format!("{id}  {}", escape(&pr.line())))?;
        }
        out.flush()?;
        Ok(())
    }

    fn none(&self, out: &mut Out, id: &DispatchId) -> Result<(), CliError> {
        if self.json {
            out.json(&serde_json::json!({"dispatch_id": id, "pr": null}))?;
        } else {
            out.line(&format!(
                "{id}  no pull request to wait on (`vnx pr open {id}` opens one)"
            ))?;
        }
        Ok(())
    }
}

/// The line `wait` keeps redrawing on a terminal: which dispatches are still running.
struct Progress {
    on: bool,
    started: std::time::Instant,
}

impl Progress {
    fn new(json: bool) -> Progress {
        use std::io::IsTerminal;
        Progress {
            on: !json && std::io::stderr().is_terminal(),
            started: std::time::Instant::now(),
        }
    }

    fn show(&self, pending: &[DispatchId]) {
        if !self.on {
            return;
        }
        let secs = self.started.elapsed().as_secs();
        let mut names = pending
            .iter()
            .take(4)
            .map(DispatchId::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        if pending.len() > 4 {
            names.push_str(&format!(" +{}", pending.len() - 4));
        }
        eprint!(
            "\r\x1b[2Kwaiting {}m{:02}s for {} running: {names}",
            secs / 60,
            secs % 60,
            pending.len()
        );
    }

    fn clear(&self) {
        if self.on {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Exit 0 only if every dispatch succeeded (see [`Waited::succeeded`]).
fn verdict(waited: &BTreeMap<DispatchId, Waited>) -> ExitCode {
    use crate::cli::util::error::Exit;
    if waited.values().any(|w| matches!(w, Waited::Unknown)) {
        Exit::Usage.into()
    } else {
        Exit::No.when(!waited.values().all(Waited::succeeded))
    }
}

/// Prints outcomes; exit 0 only if every dispatch succeeded (see [`Waited::succeeded`]).
pub fn report(
    out: &mut Out,
    waited: &BTreeMap<DispatchId, Waited>,
    json: bool,
) -> Result<ExitCode, CliError> {
    for (id, w) in waited {
        report_one(out, id, w, json, None)?;
    }
    Ok(verdict(waited))
}

/// How one dispatch settled and its pull request, for `--json`.
#[derive(serde::Serialize)]
struct WithPr<'a> {
    #[serde(flatten)]
    settled: vnx::dispatch::settled::Settled<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pr: Option<&'a PrStatus>,
}

/// Prints how one dispatch settled, and the state of its pull request when it has one.
fn report_one(
    out: &mut Out,
    id: &DispatchId,
    w: &Waited,
    json: bool,
    pr: Option<&PrStatus>,
) -> Result<(), CliError> {
    if json {
        out.json(&WithPr {
            settled: settled(id, w),
            pr,
        })?;
        return Ok(());
    }
    report_line(out, id, w)?;
    if let Some(pr) = pr {
        out.line(&format!("{id}  {}", escape(&pr.line())))?;
    }
    Ok(())
}

/// Prints how one dispatch settled, as a line.
fn report_line(out: &mut Out, id: &DispatchId, w: &Waited) -> Result<(), CliError> {
    match w {
        Waited::Completed(c) => {
            let r = &c.receipt;
            let line = format!(
                "{id}  {} ({})  teardown {}  {}",
                r.status,
                r.completion_signal.for_people(),
                r.teardown_class.map_or("-", |t| t.name()),
                r.failure_reason.as_deref().unwrap_or("")
            );
            out.line(line.trim_end())?;
            if r.status == vnx::receipts::DispatchStatus::NeedsInput
                && let Some(q) = r
                    .cli_events
                    .as_ref()
                    .and_then(|e| e.last_message.as_deref())
            {
                // A planning dispatch's question is its plan (ADR 0092).
                let plan = r.failure_reason.as_deref() == Some(vnx::dispatch::planned::WAITS);
                out.line(&format!(
                    "{id}  {}: {}",
                    if plan { "plan" } else { transcript::label(q) },
                    transcript::question(q, transcript::QUESTION_CHARS)
                ))?;
            }
        }
        Waited::Corrected {
            completion,
            correction,
        } => {
            let r = &completion.receipt;
            let c = correction.receipt.as_ref();
            out.line(&format!(
                "{id}  {} (corrected: the worker's {} ({}) by the phantom guard)  teardown {}  {}",
                c.map_or("failed", |c| c.status.name()),
                r.status,
                r.completion_signal.for_people(),
                r.teardown_class.map_or("-", |t| t.name()),
                c.map_or("", |c| c.reason.as_str())
            ))?;
        }
        Waited::Lost => {
            out.line(&format!(
                "{id}  lost: the supervisor ended without a completion receipt"
            ))?;
        }
        Waited::Blocked(line) => {
            let what = vnx::receipts::read_line::<vnx::receipts::DispatchBlocked>(line)
                .map(|r| format!("waits for {}", r.receipt.describe()))
                .unwrap_or_default();
            out.line(format!("{id}  blocked  {what}").trim_end())?;
        }
        Waited::Closed(_) => {
            let (verdict, why) = w.closed().unwrap_or((
                vnx::receipts::QueueVerdict::Failed,
                "its queue_decision is unreadable".into(),
            ));
            out.line(&format!("{id}  {verdict} (never started): {why}"))?;
        }
        // Said on stderr as a usage error (`unknown dispatch ID`), as every command says it.
        Waited::Unknown => {}
        Waited::StillRunning => {
            out.line(&format!("{id}  still running at --timeout"))?;
        }
    }
    Ok(())
}
