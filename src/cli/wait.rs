//! `vnx wait`: blocks until dispatches have completion receipts.

use std::collections::BTreeMap;
use std::process::ExitCode;
use vnx::ids::DispatchId;

pub(super) use vnx::dispatch::settled::settled;
use vnx::dispatch::view::{self, WaitEvent, Waited};
use vnx::tmux::Tmux;

use super::CliError;
use super::output::Out;
use super::settings;

/// Wait for dispatches to complete
///
/// Exits 0 when every dispatch completed with status done, 1 otherwise (failed, needs input,
/// timed out, cancelled, its supervisor was lost, the phantom guard corrected a `done` of a
/// writing role that changed nothing, the id was never dispatched, or, with
/// --until-blocked, it is blocked). With --json each dispatch prints one object: its
/// `dispatch_id`, its `status`, and the receipts that settled it as the ledger holds them
/// (`completion`, the phantom guard's `correction`, or `blocked`).
#[derive(clap::Args)]
pub struct Args {
    /// Dispatch ids, or their starts
    #[arg(required = true, value_name = "ID")]
    ids: Vec<String>,
    /// One JSON object per dispatch as it settles (NDJSON)
    #[arg(long)]
    json: bool,
    /// Also return when a dispatch is blocked: its worker waits for a permission answer
    /// (give it with `vnx approve ID` or `vnx deny ID`)
    #[arg(long)]
    until_blocked: bool,
    /// Give up after this many seconds; the dispatches still running are printed as such
    /// (exit 1)
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// tmux socket name [default: $VNX_TMUX_SOCKET, else vnx]
    #[arg(long, value_name = "NAME")]
    tmux_socket: Option<String>,
}

impl Args {
    /// `vnx wait [--json] IDS…`, as another command waits.
    pub(super) fn of(ids: Vec<String>, json: bool) -> Args {
        Args {
            ids,
            json,
            until_blocked: false,
            timeout: None,
            tmux_socket: None,
        }
    }
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    for id in &args.ids {
        super::error::check_dispatch_id(id)?;
    }
    let project = settings::project()?;
    settings::finish_pending(&project);
    let ids = super::error::dispatch_ids(&project, &args.ids)?;
    super::drain::recover_queue_here(args.tmux_socket.clone());
    let tmux = Tmux::new(settings::tmux_socket(args.tmux_socket.clone()));
    let deadline = args
        .timeout
        .map(|s| std::time::Instant::now() + std::time::Duration::from_secs(s));
    let mut out = Out::new();
    let progress = Progress::new(args.json);
    let mut catching = super::remote::CatchingUp::new(&project);
    let mut failed = None;
    // Each dispatch is printed the moment it settles; a lost one is held back, since a
    // supervisor that could not append its completion left it pending (appended below).
    let waited = view::wait_with(
        &project.ledger(),
        &ids,
        &tmux,
        args.until_blocked,
        deadline,
        &mut |event| match event {
            WaitEvent::Settled(_, Waited::Lost) => {}
            WaitEvent::Settled(id, w) => {
                progress.clear();
                if let Err(e) = report_one(&mut out, id, w, args.json).and_then(|_| out.flush()) {
                    failed.get_or_insert(e);
                }
            }
            WaitEvent::Quiet(pending) => {
                progress.show(pending);
                // Remote dispatches: their hosts' new receipts are caught up with.
                catching.tick(pending);
                // A queued dispatch starts even if the supervisor that should start it died.
                super::drain::recover_queue_here(args.tmux_socket.clone());
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
        settings::finish_pending(&project);
        let again = view::wait(&project.ledger(), &lost, &tmux, args.until_blocked)?;
        for (id, w) in again {
            report_one(&mut out, &id, &w, args.json)?;
            waited.insert(id, w);
        }
    }
    Ok(verdict(&waited))
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
    if waited.values().all(Waited::succeeded) {
        super::error::Exit::Ok.into()
    } else {
        super::error::Exit::No.into()
    }
}

/// Prints outcomes; exit 0 only if every dispatch succeeded (see [`Waited::succeeded`]).
pub fn report(
    out: &mut Out,
    waited: &BTreeMap<DispatchId, Waited>,
    json: bool,
) -> Result<ExitCode, CliError> {
    for (id, w) in waited {
        report_one(out, id, w, json)?;
    }
    Ok(verdict(waited))
}

/// Prints how one dispatch settled.
fn report_one(out: &mut Out, id: &str, w: &Waited, json: bool) -> Result<(), CliError> {
    {
        match w {
            w if json => {
                out.json(&settled(id, w))?;
            }
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
                    out.line(&format!(
                        "{id}  {}: {}",
                        vnx::provider::transcript::label(q),
                        vnx::provider::transcript::question(
                            q,
                            vnx::provider::transcript::QUESTION_CHARS
                        )
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
            Waited::Unknown => {
                out.line(&format!(
                    "{id}  unknown: never dispatched here (no dispatch_started on the ledger)"
                ))?;
            }
            Waited::StillRunning => {
                out.line(&format!("{id}  still running at --timeout"))?;
            }
        }
    }
    Ok(())
}
