//! Waiting for dispatches to settle, as `vnx wait`, a foreground dispatch and a dispatch
//! queued for a host wait, rendered: the library's wait (`vnx::actions::wait`) heard and each
//! dispatch printed the moment it settles (a line, or `--json`'s object with its pull
//! request), each change of a followed pull request, a host's lost link; its duties done with
//! this process's settings (the queue drained, hosts caught up with, pending completions
//! appended, the forge read); the exit says how they ended.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::process::ExitCode;

use vnx::actions::wait::{self, WaitEvent};
pub(crate) use vnx::dispatch::settled::settled;
use vnx::dispatch::view::Waited;
use vnx::forge::watch::{Mode, PrStatus};
use vnx::ids::DispatchId;
use vnx::provider::transcript;
use vnx::remote::{CatchUp, RemoteError};
use vnx::tmux::Tmux;

use crate::cli::CliError;
use crate::cli::util::output::{Out, escape, say};
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

/// Waits for the dispatches `ids` of `project` as `how` says (`vnx::actions::wait`), printing
/// each as it settles: exit 0 only when every one succeeded (and, with `until_pr`, its pull
/// request did).
pub(crate) fn wait_for(
    project: &vnx::project::Project,
    ids: &[DispatchId],
    how: &Waiting,
) -> Result<ExitCode, CliError> {
    let tmux = Tmux::new(settings::tmux_socket(how.tmux_socket.clone()));
    let mut front = Printing {
        project,
        tmux_socket: how.tmux_socket.clone(),
        json: how.json,
        out: Out::new(),
        progress: Progress::new(how.json),
        failed: None,
    };
    let asked = wait::Wait {
        until_blocked: how.until_blocked,
        any: false,
        until_pr: how.until_pr.map(UntilPr::of),
        timeout: how.timeout.map(std::time::Duration::from_secs),
    };
    let outcome = wait::wait(project, ids, &tmux, &asked, &mut front);
    front.progress.clear();
    if let Some(e) = front.failed {
        return Err(e);
    }
    let outcome = match outcome {
        Err(vnx::actions::ActionError::PrNeedsForge) => {
            return Err(CliError::usage("--until-pr needs a forge").with_hint(
                "name the forge in .vnx/config.yaml (`forge: {kind: github, remote: origin}`)",
            ));
        }
        outcome => outcome?,
    };
    let mut out = front.out;
    // An id the ledger never started is a usage error, worded as every command words it.
    let unknown = outcome.unknown();
    if !unknown.is_empty() {
        out.flush()?;
        let unknown: Vec<&str> = unknown.into_iter().map(DispatchId::as_str).collect();
        return Err(
            CliError::usage(format!("unknown dispatch {}", unknown.join(", ")))
                .with_hint("`vnx status` lists the dispatches of this project"),
        );
    }
    out.flush()?;
    if outcome.prs_ok.is_none() {
        return Ok(verdict(&outcome.waited));
    }
    Ok(crate::cli::util::error::Exit::No.when(!outcome.succeeded()))
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
    /// As the library takes it.
    fn of(self) -> wait::UntilPr {
        match self {
            UntilPr::Checks => wait::UntilPr::Checks,
            UntilPr::Merged => wait::UntilPr::Merged,
            UntilPr::Review => wait::UntilPr::Review,
        }
    }
}

/// The CLI's end of a wait: each dispatch and pull request printed as heard, the progress
/// line redrawn, and the duties that need this process's settings (the queue drained, hosts
/// caught up with, pending completions appended, the forge read).
struct Printing<'a> {
    project: &'a vnx::project::Project,
    tmux_socket: Option<String>,
    json: bool,
    out: Out,
    progress: Progress,
    /// The first failure to print (a closed pipe), returned once the wait is over.
    failed: Option<CliError>,
}

impl Printing<'_> {
    fn print(&mut self, event: WaitEvent<'_>) -> Result<(), CliError> {
        let out = &mut self.out;
        match event {
            WaitEvent::Settled { id, waited, pr } => {
                self.progress.clear();
                report_one(out, id, waited, self.json, pr)?;
            }
            WaitEvent::Pending(pending) => {
                self.progress.show(pending);
                return Ok(());
            }
            WaitEvent::HostLost { host, error } => {
                CliError::from(error)
                    .context(format!(
                        "lost the link to host {host}; its dispatches go on there, retrying"
                    ))
                    .warn();
                return Ok(());
            }
            WaitEvent::HostBack { host } => {
                say!("host {host} answers again: caught up");
                return Ok(());
            }
            WaitEvent::Pr { id, pr } if self.json => {
                out.json(&serde_json::json!({"dispatch_id": id, "pr": pr}))?;
            }
            WaitEvent::Pr { id, pr } => {
                out.line(&format!("{id}  {}", escape(&pr.line())))?;
            }
            WaitEvent::NoPr { id } if self.json => {
                out.json(&serde_json::json!({"dispatch_id": id, "pr": null}))?;
            }
            WaitEvent::NoPr { id } => {
                out.line(&format!(
                    "{id}  no pull request to wait on (`vnx pr open {id}` opens one)"
                ))?;
            }
            WaitEvent::PrStillWaiting { id, what } => {
                out.line(&format!(
                    "{id}  still waiting for {} at --timeout",
                    what.name()
                ))?;
            }
        }
        out.flush()?;
        Ok(())
    }
}

impl wait::Front for Printing<'_> {
    fn heard(&mut self, event: WaitEvent<'_>) -> ControlFlow<()> {
        // While dispatches settle, a failure to print is kept and the wait goes on, so each
        // is waited for to its end; once they settled, it ends the wait.
        let settling = matches!(event, WaitEvent::Settled { .. } | WaitEvent::Pending(_));
        match self.print(event) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.failed.get_or_insert(e);
                if settling {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            }
        }
    }

    fn drain(&mut self) {
        crate::cli::util::drain::recover_queue_here(self.tmux_socket.clone(), true);
    }

    fn catch_up(
        &mut self,
        pending: &[DispatchId],
        wait: std::time::Duration,
    ) -> Vec<(String, Result<CatchUp, RemoteError>)> {
        crate::cli::util::hosts::catch_up(self.project, Some(pending), wait)
    }

    fn finish_pending(&mut self) {
        crate::cli::util::pending::finish_pending(self.project);
    }

    fn branches(&mut self, ids: &[DispatchId]) -> Vec<(DispatchId, String)> {
        pr_watch::branches(self.project, ids)
    }

    fn pull_requests(
        &mut self,
        dispatches: &[(DispatchId, String)],
    ) -> BTreeMap<DispatchId, PrStatus> {
        pr_watch::read(self.project, dispatches, Mode::Auto)
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
