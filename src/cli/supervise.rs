//! `vnx __supervise SPEC` (hidden): what a dispatch's tmux pane runs; at its end it gives
//! up its slot and starts what the queue holds for the slots that are free.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use vnx::dispatch;

use super::CliError;

/// Supervise one dispatch inside its tmux pane (internal)
#[derive(clap::Args)]
pub struct Args {
    /// The dispatch's spec.json
    spec: PathBuf,
}

/// What the pane's own environment keeps over the dispatcher's: tmux's variables for the
/// pane (the terminal the worker draws on is tmux's, the directory the pane started in) and
/// what the launcher set for this dispatch.
const PANE_VARS: &[&str] = &[
    "PWD",
    "TMUX",
    "TMUX_PANE",
    "TERM",
    "TERM_PROGRAM",
    "TERM_PROGRAM_VERSION",
    "VNX_DISPATCH_ID",
    "VNX_CHECKPOINT_KEY",
];

/// When the launcher handed over the dispatching command's environment, replaces this
/// process with itself running in exactly that environment (plus [`PANE_VARS`]); the file
/// is removed first, so the second run goes on.
fn enter_dispatcher_env(args: &Args) -> Result<(), CliError> {
    let Some(dir) = args.spec.parent() else {
        return Ok(());
    };
    let path = vnx::env_file::path_in(dir);
    let env = vnx::env_file::take(&path).map_err(|e| {
        CliError::from_error(&e).context(format!(
            "could not read the dispatcher's environment from {}",
            path.display()
        ))
    })?;
    let Some(env) = env else {
        return Ok(());
    };
    let mut wanted: std::collections::BTreeMap<std::ffi::OsString, std::ffi::OsString> =
        env.into_iter().collect();
    for name in PANE_VARS {
        if let Some(v) = super::util::settings::env(name) {
            wanted.insert(name.into(), v);
        }
    }
    // A tmux server this launch started has the dispatcher's environment already: the pane
    // then runs in the wanted one, and is not started again. (`GIT_TERMINAL_PROMPT` is not
    // compared: vnx sets it to 0 for every process it starts, the tmux client included.)
    let unprompted = |mut env: std::collections::BTreeMap<_, _>| {
        env.remove(std::ffi::OsStr::new("GIT_TERMINAL_PROMPT"));
        env
    };
    if unprompted(super::util::settings::env_all().collect()) == unprompted(wanted.clone()) {
        return Ok(());
    }
    let exe = std::env::current_exe()
        .map_err(|e| CliError::from_error(&e).with_hint("could not find vnx's own binary"))?;
    let mut cmd = vnx::process::Cmd::new(exe)
        .arg("__supervise")
        .arg(&args.spec)
        .env_clear();
    for (k, v) in wanted {
        cmd = cmd.env(k, v);
    }
    Err(CliError::from_error(&cmd.exec()).context("could not restart the supervisor"))
}

/// A launch killed after it appended `dispatch_started` and before it marked itself complete
/// leaves a dispatch that started: the supervisor goes on from the start on the ledger (and
/// marks the launch complete for its re-execution). `None` when the launch was undone or
/// never reached the ledger.
fn start_of_interrupted_launch(
    spec_path: &std::path::Path,
    dir: &std::path::Path,
) -> Option<String> {
    if std::fs::symlink_metadata(dir).is_err() {
        return None;
    }
    let spec = dispatch::read_spec(spec_path).ok()?;
    let attestor = super::util::settings::attestor(None).ok()?;
    let trusted = vnx::ledger::attest::trusted_keys(&spec.ledger, &attestor).ok()?;
    let hash = dispatch::liveness::start_on_ledger(&spec.ledger, &spec.id, &trusted).ok()??;
    dispatch::liveness::write_started(dir, &hash).ok()?;
    Some(hash)
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    // A cancel that comes while the supervisor starts (`vnx cancel` right after a launch)
    // waits, held back across the re-exec below, until the handlers can record it.
    let _ = vnx::process::hold_stop_signals(true);
    // First into the dispatcher's environment (the launch wrote it before it started this
    // pane), while the launch goes on.
    enter_dispatcher_env(&args)?;
    // The pane starts while the launch is still under way: nothing else is read before it is
    // complete, and a launch that was undone leaves nothing to supervise.
    let dir = args.spec.parent().unwrap_or(std::path::Path::new("."));
    let started_hash = dispatch::liveness::await_launch(dir).map_err(|e| {
        CliError::from_error(&e).context(format!(
            "could not wait for the launch of the dispatch in {}",
            dir.display()
        ))
    })?;
    let started_hash = match started_hash {
        Some(hash) => hash,
        None => match start_of_interrupted_launch(&args.spec, dir) {
            Some(hash) => hash,
            None => return Ok(ExitCode::SUCCESS),
        },
    };
    // Closing the pane (tmux kill-session, or its server dying) sends SIGHUP: the worker is
    // stopped, and only a `vnx cancel` (its request file) makes that a recorded cancel.
    let cancel = Arc::new(AtomicBool::new(false));
    for signal in [SIGHUP, SIGTERM, SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&cancel))
            .map_err(|e| CliError::from_error(&e).context("could not install signal handlers"))?;
    }
    vnx::process::hold_stop_signals(false)
        .map_err(|e| CliError::from_error(&e).context("could not let signals through"))?;
    let spec = dispatch::read_spec(&args.spec)?;
    // The pane started in the dispatch directory, before the worktree existed.
    let _ = std::env::set_current_dir(&spec.worktree);
    // The dispatcher named the key in the session's environment (VNX_CHECKPOINT_KEY).
    let attestor = super::util::settings::attestor(None)?;
    // Held for the supervisor's whole life, its last receipt included: while it is held,
    // nothing releases the dispatch's worktree or calls it lost.
    let _alive = dispatch::liveness::hold(&spec.dispatch_dir).map_err(|e| {
        CliError::from_error(&e).context(format!(
            "could not take the dispatch lock in {}",
            spec.dispatch_dir.display()
        ))
    })?;
    // The pane may be gone already (SIGHUP): writes to it are best effort.
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "vnx: supervising {} ({})",
        spec.id,
        spec.worktree.display()
    );
    let pane: dispatch::Pane = Arc::new(Mutex::new(std::io::stdout()));
    let stdin = std::io::stdin();
    let around = dispatch::Surroundings {
        pane: &pane,
        cancel: &cancel,
        path: super::util::settings::env("PATH"),
        relay_env: (dispatch::supervise::keys::vars(&spec).into_iter())
            .filter_map(|v| Some((v.to_owned(), super::util::settings::env_text(v)?)))
            .collect(),
        tty: stdin.is_terminal().then(|| stdin.as_fd()),
        tmux_pane: super::util::settings::env_text("TMUX_PANE"),
        attestor: &attestor,
        started_hash: Some(started_hash).filter(|h| !h.is_empty()),
        after_reset: Some(&|| {
            drain_queue(&spec);
            let _ = std::env::set_current_dir(&spec.worktree);
        }),
    };
    let outcome = dispatch::supervise(&spec, &around);
    hand_over_slot(&spec);
    dispatch::after_completion(&spec);
    if outcome.is_ok() {
        super::util::open_pr::open_when_done(&spec);
    }
    let outcome = outcome?;
    let _ = writeln!(
        stdout,
        "vnx: {} {} ({}) in {:.1} s; teardown {}",
        spec.id,
        outcome.status,
        outcome.completion_signal.for_people(),
        outcome.duration_seconds,
        outcome
            .teardown_class
            .map_or("unknown".into(), |c| format!("{c:?}").to_lowercase())
    );
    Ok(ExitCode::SUCCESS)
}

/// Gives up the dispatch's slot claim (its completion is on the ledger, or could not be
/// written) and drains the queue, waiting for the queue lock: the next queued dispatches
/// start through the normal launch path, from the main checkout, on their own sessions.
fn hand_over_slot(spec: &dispatch::Spec) {
    if spec.slot_limit.is_some() {
        let data = spec.repo_root.join(vnx::project::DATA_DIR);
        dispatch::queue::finished(&data, spec.provider.name(), &spec.id);
    }
    drain_queue(spec);
}

/// Starts what the queue holds for the slots that are free (and the providers no usage
/// limit holds), waiting for the queue lock.
fn drain_queue(spec: &dispatch::Spec) {
    let data = spec.repo_root.join(vnx::project::DATA_DIR);
    if !dispatch::queue::entry::any(&data) {
        return;
    }
    // Out of the worktree (teardown may have removed it): the next launches run from the
    // main checkout.
    let _ = std::env::set_current_dir(&spec.repo_root);
    let drained = super::util::context::with_context(Some(spec.tmux_socket.clone()), |ctx| {
        Ok(dispatch::queue::recover(ctx, true)?)
    });
    let mut stdout = std::io::stdout();
    match drained {
        Ok(d) => {
            for id in &d.started {
                let _ = writeln!(stdout, "vnx: started queued dispatch {id}");
            }
            for (id, verdict, why) in &d.closed {
                let _ = writeln!(stdout, "vnx: queued dispatch {id} {verdict}: {why}");
            }
        }
        Err(e) => e.warn(),
    }
}
