//! `vnx pr watch`: the project's open pull requests watched and reacted to as
//! `forge.reactions` says (ADR 0093), a pass per refresh through the library's
//! `actions::react::pass`, then the issues of `forge.issues` through `actions::issues::pass`;
//! in the foreground, one pass (`--once`), or in a tmux session of its
//! own on vnx's socket (`--detach`, stopped with `--stop`). A lock file under `.vnx-data/`
//! keeps it to one watcher per project.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use vnx::actions::react::{self, Watch};

use crate::cli::CliError;
use crate::cli::util::context::desk_in;
use crate::cli::util::forge::Setup;
use crate::cli::util::output::{Out, escape, say};

/// Watch the project's pull requests and react as forge.reactions says
///
/// One pass per forge.refresh_seconds over the open pull requests of dispatches whose role
/// has reactions (forge.reactions, roles.<role>.reactions), each read through the forge cache
/// (at most one gh call per pull request per refresh). On failing checks or changes
/// requested it starts the fix follow-up `vnx pr fix` would, at most `retries` times per pull
/// request; then it escalates: the dispatch waits for you, with why, and your notify command
/// runs once. On an approved pull request whose checks all pass it merges as `vnx pr merge`
/// would (merge: true), or tells you it is ready. Nothing happens to a pull request whose
/// head is not the one vnx recorded, or while a follow-up of it still runs. Each reaction is
/// a signed `pr_reaction` (`pr_escalated`) written before it acts, so a restarted watcher
/// neither repeats nor skips one. It prints a line per reaction; `--once` prints one per pull
/// request, what it did or why it did nothing.
///
/// Only the reviews and comments of authors the project trusts (forge.trusted_associations:
/// by default GitHub's OWNER, MEMBER and COLLABORATOR) are quoted to a fix or move a
/// reaction: changes requested by outsiders alone start no fix, and their words are named as
/// left out.
///
/// With forge.issues (a label or an assignee), each pass also takes the open issues they name
/// as dispatches (only those opened by the repository's owners, members and collaborators
/// unless forge.issues.authors is any), tells each issue vnx took its pull request and how
/// its dispatch ended, once each, and stops a dispatch whose issue was closed; each a signed
/// issue_* receipt.
///
/// One watcher per project: a second is refused while one runs. `--detach` runs it in a tmux
/// session of its own on vnx's socket; `vnx pr watch --stop` stops that one.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx pr watch --once")]
pub struct WatchArgs {
    /// Make one pass, then exit
    #[arg(long, conflicts_with_all = ["detach", "stop"])]
    once: bool,
    /// Run in a tmux session of its own, one per project, and return
    #[arg(long, conflicts_with = "stop")]
    detach: bool,
    /// Stop the project's detached watcher
    #[arg(long)]
    stop: bool,
    /// Print each pull request's reaction as a JSON line
    #[arg(long)]
    json: bool,
    /// Seconds between passes [default: forge.refresh_seconds]
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    interval: Option<u64>,
    /// The environment a detached watcher takes (written by --detach)
    #[arg(long, value_name = "FILE", hide = true)]
    env_file: Option<PathBuf>,
    #[command(flatten)]
    tmux: crate::cli::util::settings::TmuxSocket,
}

pub(super) fn run(args: WatchArgs) -> Result<ExitCode, CliError> {
    if let Some(file) = &args.env_file {
        return started_detached(&args, file);
    }
    let setup = Setup::new(&[])?;
    let project = setup.project.clone();
    let socket = crate::cli::util::settings::tmux_socket(args.tmux.tmux_socket.clone());
    let tmux = vnx::tmux::Tmux::new(&socket);
    let session = session_name(&project.root);
    if args.stop {
        if tmux.has_session(&session) {
            tmux.kill_session(&session)
                .map_err(|e| CliError::from_error(&e))?;
            say!("stopped the watcher (tmux session {session} on socket {socket})");
        } else {
            say!("no detached watcher runs for this project");
        }
        return Ok(crate::cli::util::error::Exit::Ok.into());
    }
    let lock_path = project.data_dir().join("forge").join("watch.lock");
    let _ = vnx::files::private_dir(&project.data_dir().join("forge"));
    if args.detach {
        return detach(&args, &project, &tmux, &session, &lock_path);
    }
    let Some(_lock) = vnx::files::lock_file(&lock_path, false)
        .map_err(|e| CliError::from_error(&e).context("could not take the watcher's lock"))?
    else {
        return Err(already_running(&session, &socket));
    };
    let interval = args
        .interval
        .unwrap_or_else(|| crate::cli::util::pr_watch::refresh_seconds(&project).unwrap_or(30));
    let mut out = Out::new();
    let mut passes = 0u64;
    loop {
        let (outcomes, issues) = desk_in(&project, args.tmux.tmux_socket.clone(), None, |desk| {
            setup.within(|ctx, forge, config| {
                let w = Watch {
                    forge_ctx: ctx,
                    forge,
                    config,
                    now: now(),
                };
                let reacted = react::pass(desk, &w)?;
                Ok((reacted, issues_pass(desk, &w)))
            })
        })?;
        // A failed issues pass ends `--once`; a running watcher says so and goes on.
        let issues = match issues {
            Ok(issues) => issues,
            Err(e) if !args.once => {
                say!(
                    "warning: the issues pass failed: {}",
                    escape(&e.to_string())
                );
                Vec::new()
            }
            Err(e) => return Err(e.into()),
        };
        passes += 1;
        note_pass(&project, passes);
        for o in &outcomes {
            if args.json {
                out.json(o)?;
            } else if o.acted() || args.once {
                // One pass says of each pull request what it did or why not.
                out.line(&escape(&o.line()))?;
            }
        }
        if args.once && !args.json && outcomes.is_empty() {
            out.line(react::NOTHING_TO_WATCH)?;
        }
        for o in &issues {
            if args.json {
                out.json(o)?;
            } else {
                out.line(&escape(&o.line()))?;
            }
        }
        if args.once {
            return Ok(crate::cli::util::error::Exit::Ok.into());
        }
        std::thread::sleep(Duration::from_secs(interval));
    }
}

/// The issues pass of `forge.issues` (issue 72): the issues vnx follows told what is new and
/// released once closed, then the open issues its label or assignee names taken, each as a
/// dispatch of `forge.issues.role` (else `defaults.role`) with the defaults' worker.
fn issues_pass(
    desk: &vnx::actions::Desk<'_>,
    w: &Watch<'_>,
) -> Result<Vec<vnx::actions::issues::Outcome>, vnx::actions::ActionError> {
    let intake = vnx::actions::issues::Intake {
        forge_ctx: w.forge_ctx,
        forge: w.forge,
        config: w.config,
    };
    let role = (w.config.forge.as_ref()).and_then(|f| f.issues.role.clone());
    let request = || {
        let named = vnx::config::Named {
            role: role.clone(),
            ..Default::default()
        };
        let asked = vnx::dispatch::Request::of(String::new());
        vnx::actions::start::asked(&w.config.defaults, named, false, asked)
    };
    vnx::actions::issues::pass(desk, &intake, &request)
}

/// Notes the passes made so far and when the last ended, in `.vnx-data/forge/watch.json`
/// (what a person or a test reads to know the watcher is alive).
fn note_pass(project: &vnx::project::Project, passes: u64) {
    let path = project.data_dir().join("forge").join("watch.json");
    let text = serde_json::json!({"pid": std::process::id(), "passes": passes, "at": now()});
    let _ = vnx::files::write_atomic_private(&path, text.to_string().as_bytes(), false);
}

fn already_running(session: &str, socket: &str) -> CliError {
    CliError::verdict("a watcher already runs for this project").with_hint(format!(
        "one watcher per project; a detached one runs in tmux session {session} on socket \
         {socket}: `vnx pr watch --stop` stops it"
    ))
}

/// Seconds since the epoch.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// The tmux session of the project at `root`'s detached watcher: `vnx-watch-` and a
/// stable hash of the path (FNV-1a).
fn session_name(root: &Path) -> String {
    vnx::tmux::session_for("watch", root)
}

/// Starts the watcher in its own tmux session: this command's environment handed on through
/// a private file (never on argv), as a dispatch's supervisor takes it.
fn detach(
    args: &WatchArgs,
    project: &vnx::project::Project,
    tmux: &vnx::tmux::Tmux,
    session: &str,
    lock_path: &Path,
) -> Result<ExitCode, CliError> {
    let held = vnx::files::lock_file(lock_path, false)
        .map_err(|e| CliError::from_error(&e))?
        .is_none();
    if held || tmux.has_session(session) {
        return Err(already_running(session, tmux.socket()));
    }
    let env: Vec<(std::ffi::OsString, std::ffi::OsString)> =
        crate::cli::util::settings::env_all().collect();
    let file = project.data_dir().join("forge").join("watch.env");
    let _ = std::fs::remove_file(&file);
    vnx::env_file::write(&file, &vnx::env_file::handed_on(&env)).map_err(|e| {
        CliError::from_error(&e).context("could not write the watcher's environment")
    })?;
    let exe = std::env::current_exe().map_err(|e| CliError::from_error(&e))?;
    let mut argv: Vec<std::ffi::OsString> = vec![
        exe.into(),
        "pr".into(),
        "watch".into(),
        "--env-file".into(),
        file.into(),
        "--tmux-socket".into(),
        tmux.socket().into(),
    ];
    if let Some(i) = args.interval {
        argv.extend(["--interval".into(), i.to_string().into()]);
    }
    tmux.new_session(session, &project.root, &[], &argv)
        .map_err(|e| CliError::from_error(&e).context("could not start the watcher's session"))?;
    say!(
        "watching in tmux session {session} on socket {}; `vnx pr watch --stop` stops it",
        tmux.socket()
    );
    Ok(crate::cli::util::error::Exit::Ok.into())
}

/// The detached watcher's start: its environment taken from the file `--detach` wrote, then
/// `vnx pr watch` run in it in this process's place.
fn started_detached(args: &WatchArgs, file: &Path) -> Result<ExitCode, CliError> {
    let mut argv = vec!["pr".to_owned(), "watch".to_owned()];
    if let Some(s) = &args.tmux.tmux_socket {
        argv.extend(["--tmux-socket".to_owned(), s.clone()]);
    }
    if let Some(i) = args.interval {
        argv.extend(["--interval".to_owned(), i.to_string()]);
    }
    Err(crate::cli::util::settings::exec_in_handed_env(
        file,
        &argv,
        "the watcher",
    ))
}
