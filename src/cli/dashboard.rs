//! `vnx dashboard`: the live dashboard's terminal and event loop. It sleeps until a key, a
//! change to the ledger or a dispatch directory, or (only while something runs) the next
//! second; actions run vnx's own commands in the background, and the hosts of remote
//! dispatches are caught up with on a thread of their own.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::Duration;

use notify::Watcher;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use vnx::dashboard::{Snapshot, Sources};

use crate::tui::{self, Action, App, Effect, Outcome};
use vnx::dispatch::view::State;
use vnx::tmux::Tmux;

use super::CliError;
use super::settings;

/// A live, full-screen view of every dispatch of the project
///
/// Lists the dispatches (those waiting for you first, then running, then finished) with
/// state, age, provider and model, role, tokens and last activity; shows the selected one's
/// live pane, its diff or its receipts, each state with the receipt that proves it; and
/// marks the header red when the ledger does not verify. Keys: ↑↓ select, Enter/a attach
/// (detach with the tmux prefix and d to come back), f follow up, p approve and n deny a
/// blocked one's prompt, d accept an ended one's committed work, c cancel, g gate check,
/// m merge, r release, x clean (the ones that can lose work or decide something ask first),
/// Tab or 1 2 3 switch the view, PgUp/PgDn scroll, q quit.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx dashboard")]
pub struct Args {
    /// tmux socket name [default: $VNX_TMUX_SOCKET, else vnx]
    #[arg(long, value_name = "NAME")]
    tmux_socket: Option<String>,
}

enum Ev {
    Input(Event),
    Changed,
    Done(Outcome),
    /// Something to say in the footer (a host out of reach, or back).
    Note(String),
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let project = settings::project()?;
    settings::finish_pending(&project);
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(
            CliError::usage("the dashboard needs a terminal, and this is not one")
                .with_hint("`vnx status` prints the same list as a table (`--json` for scripts)"),
        );
    }
    let vnx = std::env::current_exe()
        .map_err(|e| CliError::new(format!("cannot find vnx's own binary: {e}")))?;
    let src = Sources {
        root: project.root.clone(),
        ledger: project.ledger(),
        tmux: Tmux::new(settings::tmux_socket(args.tmux_socket)),
    };
    let mut app = App::new(load(&src)?);
    tui::load_content(&mut app, &src);

    let (tx, rx) = mpsc::channel();
    let _watcher = watch(&project.data_dir(), tx.clone());
    let (ack, acked) = mpsc::channel::<()>();
    read_input(tx.clone(), acked);
    let hosts = catch_up_hosts(tx.clone());

    let mut terminal = ratatui::init();
    let result = event_loop(
        &mut terminal,
        &mut app,
        &src,
        &vnx,
        (&tx, &rx, &ack),
        &hosts,
    );
    ratatui::restore();
    result.map(|()| ExitCode::SUCCESS)
}

fn load(src: &Sources) -> Result<Snapshot, vnx::ledger::LedgerError> {
    // A reload drains the queue too (silently: the screen is the dashboard's).
    super::drain::recover_queue_here_saying(Some(src.tmux.socket().to_owned()), false);
    RELOADER.with(|r| r.borrow_mut().reload(src))
}

thread_local! {
    /// What the dashboard reloads through, with this machine's key and witness (the event
    /// loop runs on one thread).
    static RELOADER: std::cell::RefCell<vnx::dashboard::Reloader> =
        std::cell::RefCell::new(vnx::dashboard::Reloader::new(
            settings::key_path(None).ok(),
            settings::witness_dir(),
            settings::threads(None),
        ));
}

type Channels<'a> = (&'a Sender<Ev>, &'a Receiver<Ev>, &'a Sender<()>);

fn event_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    src: &Sources,
    vnx: &Path,
    (tx, rx, ack): Channels<'_>,
    hosts: &SyncSender<()>,
) -> Result<(), CliError> {
    // An event read while coalescing a burst of changes, handled next.
    let mut next: Option<Ev> = None;
    loop {
        // Remote dispatches shown live (or waiting for a host): their hosts are caught up
        // with, at most one catch-up at a time, off this thread.
        if app.snapshot.rows.iter().any(|r| {
            r.state.host.is_some() && (r.state.state.is_live() || r.state.state == State::Queued)
        }) {
            let _ = hosts.try_send(());
        }
        terminal
            .draw(|f| tui::ui::draw(f, app))
            .map_err(|e| CliError::new(format!("cannot draw the dashboard: {e}")))?;
        // Asleep until something happens; a tick each second only while something runs.
        let ev = if let Some(ev) = next.take() {
            Some(ev)
        } else if app.snapshot.any_live() {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(ev) => Some(ev),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        } else {
            match rx.recv() {
                Ok(ev) => Some(ev),
                Err(_) => return Ok(()),
            }
        };
        match ev {
            None | Some(Ev::Changed) => {
                // A burst of writes is one change: wait for 30 ms of quiet, but no more than
                // a quarter second in all, so a worker that writes without pause still shows.
                let until = std::time::Instant::now() + Duration::from_millis(250);
                loop {
                    let quiet = Duration::from_millis(30)
                        .min(until.saturating_duration_since(std::time::Instant::now()));
                    match rx.recv_timeout(quiet) {
                        Ok(Ev::Changed) if std::time::Instant::now() < until => continue,
                        Ok(Ev::Changed) | Err(_) => {}
                        Ok(other) => next = Some(other),
                    }
                    break;
                }
                refresh(app, src)?;
            }
            Some(Ev::Note(note)) => app.message = Some(note),
            Some(Ev::Done(outcome)) => {
                app.running.retain(|a| a != &outcome.action);
                app.message = Some(outcome.message());
                refresh(app, src)?;
            }
            Some(Ev::Input(Event::Key(key))) => {
                let effect = if key.kind == KeyEventKind::Press {
                    app.key(key)
                } else {
                    Effect::None
                };
                match effect {
                    Effect::Quit => return Ok(()),
                    Effect::None => {}
                    Effect::Reload => tui::load_content(app, src),
                    Effect::Run(Action::Attach(id)) => {
                        attach(terminal, vnx, &src.root, &id, app);
                        refresh(app, src)?;
                    }
                    Effect::Run(action) => start(action, vnx, &src.root, app, tx),
                }
                // Only now may the input thread read the keyboard again (after an attach,
                // tmux had it).
                let _ = ack.send(());
            }
            Some(Ev::Input(_)) => {
                let _ = ack.send(());
            }
        }
    }
}

/// Reads everything again. A ledger that cannot be read now (being replaced, say) keeps
/// the last picture on screen and says why in the footer.
fn refresh(app: &mut App, src: &Sources) -> Result<(), CliError> {
    match load(src) {
        Ok(snapshot) => app.update(snapshot),
        Err(e) => app.message = Some(format!("cannot read the ledger now: {e}")),
    }
    tui::load_content(app, src);
    Ok(())
}

/// Runs an action's command on a thread of its own; its outcome comes back as an event.
fn start(action: Action, vnx: &Path, root: &Path, app: &mut App, tx: &Sender<Ev>) {
    app.running.push(action.clone());
    app.message = None;
    let (vnx, root, tx) = (vnx.to_owned(), root.to_owned(), tx.clone());
    std::thread::spawn(move || {
        let _ = tx.send(Ev::Done(tui::run_action(&vnx, &root, &action)));
    });
}

/// Hands the terminal to `vnx attach ID` and takes it back when tmux detaches.
fn attach(terminal: &mut DefaultTerminal, vnx: &Path, root: &Path, id: &str, app: &mut App) {
    use vnx::process::{Cmd, Group};
    ratatui::restore();
    let cmd = Cmd::new(vnx).args(["attach", id]).cwd(root);
    let outcome = Group::spawn_in_terminal(&cmd).map(|mut group| {
        let _ = vnx::process::set_foreground(std::io::stdin(), group.pid());
        let _ = group.resume();
        group.wait()
    });
    if let Some(own) = vnx::process::own_process_group() {
        let _ = vnx::process::set_foreground(std::io::stdin(), own);
    }
    // The terminal back (raw, alternate screen); the one panic hook `ratatui::init`
    // installed still restores it.
    let _ = ratatui::crossterm::terminal::enable_raw_mode();
    let _ = ratatui::crossterm::execute!(
        std::io::stdout(),
        ratatui::crossterm::terminal::EnterAlternateScreen
    );
    let _ = terminal.clear();
    app.message = Some(match outcome {
        Ok(Ok(status)) if status.success() => format!("back from {id}"),
        Ok(Ok(_)) => format!("could not attach to {id}: it has no running pane"),
        Ok(Err(e)) => format!("attach {id}: {e}"),
        Err(e) => format!("attach {id}: {e}"),
    });
}

/// Catches up with the hosts of remote dispatches on a thread of its own, once per request
/// (a host may be slow or out of reach: the screen never waits for it). What it appends
/// wakes the ledger's watcher; a dispatch that ended on its host drains the queue; a host
/// lost or back is said in the footer.
fn catch_up_hosts(tx: Sender<Ev>) -> SyncSender<()> {
    let (want, wanted) = mpsc::sync_channel::<()>(1);
    std::thread::spawn(move || {
        let Ok(project) = settings::project() else {
            return;
        };
        let mut down = std::collections::BTreeSet::new();
        while wanted.recv().is_ok() {
            let results = super::remote::catch_up(&project, None, Duration::from_secs(1));
            if super::remote::freed(&results) {
                super::drain::recover_queue_here_saying(None, false);
            }
            for (host, result) in results {
                let note = match result {
                    Ok(_) if down.remove(&host) => format!("host {host} answers again: caught up"),
                    Err(e) if down.insert(host.clone()) => format!(
                        "host {host} is out of reach ({e}); its dispatches go on there, retrying"
                    ),
                    _ => continue,
                };
                if tx.send(Ev::Note(note)).is_err() {
                    return;
                }
            }
        }
    });
    want
}

/// Reads the keyboard on a thread of its own; after each event it waits for the loop's
/// go-ahead, so that it never reads keys meant for an attached tmux.
fn read_input(tx: Sender<Ev>, go_on: Receiver<()>) {
    std::thread::spawn(move || {
        while let Ok(ev) = event::read() {
            if tx.send(Ev::Input(ev)).is_err() || go_on.recv().is_err() {
                return;
            }
        }
    });
}

/// Watches the ledger's directory and the dispatch and gate directories; `None` when the
/// platform cannot (the dashboard then updates on keys and, while something runs, each
/// second).
fn watch(data: &Path, tx: Sender<Ev>) -> Option<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        if e.is_ok_and(|e| !matches!(e.kind, notify::EventKind::Access(_))) {
            let _ = tx.send(Ev::Changed);
        }
    })
    .ok()?;
    let dirs: [PathBuf; 3] = [
        data.join("state"),
        data.join("dispatches"),
        data.join(vnx::gate::GATES_DIR),
    ];
    for dir in dirs {
        let _ = std::fs::create_dir_all(&dir);
        let _ = watcher.watch(&dir, notify::RecursiveMode::Recursive);
    }
    Some(watcher)
}
