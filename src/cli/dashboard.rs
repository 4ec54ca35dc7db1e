//! `vnx dashboard`: the live dashboard's terminal and event loop. It sleeps until a key, a
//! change to the ledger or an open dispatch's directory (the only ones it watches), or (only
//! while something runs) the next second; actions run in the background, the library's
//! (`vnx::actions`) where there is one, else vnx's own command,
//! and the hosts of remote dispatches are caught up with on a thread of their own.

#[cfg(not(feature = "dashboard"))]
use std::process::ExitCode;

#[cfg(not(feature = "dashboard"))]
use super::CliError;

/// A live, full-screen view of every dispatch of the project
///
/// Lists the dispatches (those waiting for you first, kept in view at any terminal size,
/// then running, then finished) with state, age, provider and model, title, tokens and last
/// activity; shows the selected one's live pane, its diff or its receipts, each state with
/// the receipt that proves it, and each one's pull request (a badge before its title, the
/// `show` block in the receipts view) when the project has a forge; and marks the header red
/// when the ledger does not verify.
/// Keys: ↑↓ select, Enter/a attach (detach with the tmux prefix and d to come back), f
/// follow up, p approve and n deny a blocked one's prompt, d accept an ended one's work
/// as done (committing what its worker left uncommitted), i dismiss its question, c cancel, g gate check, m merge, r release, x
/// clean (each that decides something asks first), Tab or 1 2 3 switch the view, PgUp/PgDn
/// scroll, ? every key, q quit.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx dashboard")]
pub struct Args {
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

#[cfg(feature = "dashboard")]
pub use live::run;

/// This build has no dashboard (`bin/demo`'s first build leaves it out): says how to get one.
#[cfg(not(feature = "dashboard"))]
pub fn run(_: Args) -> Result<ExitCode, CliError> {
    Err(super::util::error::left_out("dashboard"))
}

/// The dashboard itself (feature `dashboard`, on by default).
#[cfg(feature = "dashboard")]
mod live {
    use std::collections::BTreeSet;
    use std::io::IsTerminal;
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;
    use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
    use std::time::Duration;

    use notify::{RecursiveMode, Watcher};
    use ratatui::DefaultTerminal;
    use ratatui::crossterm::event::{self, Event, KeyEventKind};
    use vnx::dashboard::{Snapshot, Sources};

    use crate::tui::{self, Action, App, Effect, Outcome};
    use vnx::dispatch::view::State;
    use vnx::ids::DispatchId;
    use vnx::tmux::Tmux;

    use crate::cli::CliError;
    use crate::cli::util::settings;

    use super::Args;

    enum Ev {
        Input(Event),
        Changed,
        Done(Outcome),
        /// Something to say in the footer (a host out of reach, or back).
        Note(String),
        /// The pull requests as the forge reader last read them.
        Prs(Prs),
    }

    /// The pull request of each dispatch that has one.
    type Prs = std::collections::BTreeMap<DispatchId, vnx::forge::watch::PrStatus>;

    pub fn run(args: Args) -> Result<ExitCode, CliError> {
        let project = crate::cli::util::ids::project_for(&[])?.0;
        if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
            return Err(
                CliError::usage("the dashboard needs a terminal, and this is not one").with_hint(
                    "`vnx status` prints the same list as a table (`--json` for scripts)",
                ),
            );
        }
        let vnx = std::env::current_exe()
            .map_err(|e| CliError::new(format!("cannot find vnx's own binary: {e}")))?;
        let src = Sources {
            root: project.root.clone(),
            ledger: project.ledger(),
            tmux: Tmux::new(settings::tmux_socket(args.tmux.tmux_socket)),
        };
        let mut app = App::new(load(&src)?);
        tui::load_content(&mut app, &src);

        let (tx, rx) = mpsc::channel();
        let mut watches = Watches::new(&project.data_dir(), tx.clone());
        let (ack, acked) = mpsc::channel::<()>();
        read_input(tx.clone(), acked);
        let hosts = catch_up_hosts(tx.clone());
        let forge = read_prs(&project, tx.clone());
        forge.want(&app.snapshot);

        let mut terminal = ratatui::init();
        let result = event_loop(
            &mut terminal,
            &mut app,
            &src,
            &vnx,
            (&tx, &rx, &ack),
            (&hosts, &forge),
            &mut watches,
        );
        ratatui::restore();
        result.map(|()| ExitCode::SUCCESS)
    }

    fn load(src: &Sources) -> Result<Snapshot, vnx::ledger::LedgerError> {
        // A reload drains the queue too (silently: the screen is the dashboard's).
        crate::cli::util::drain::recover_queue_here(Some(src.tmux.socket().to_owned()), false);
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
        (hosts, forge): (&SyncSender<()>, &ForgeReader),
        watches: &mut Watches,
    ) -> Result<(), CliError> {
        // An event read while coalescing a burst of changes, handled next.
        let mut next: Option<Ev> = None;
        loop {
            app.tick(jiff::Timestamp::now());
            // Remote dispatches shown live (or waiting for a host): their hosts are caught up
            // with, at most one catch-up at a time, off this thread.
            if app.snapshot.rows.iter().any(|r| {
                !r.state.place.is_here()
                    && (r.state.state.is_live() || r.state.state == State::Queued)
            }) {
                let _ = hosts.try_send(());
            }
            // The open dispatches' directories watched, the ended ones' let go.
            watches.follow(&app.snapshot);
            // The forge reader reads the pull requests of the rows shown now.
            forge.want(&app.snapshot);
            terminal
                .draw(|f| tui::ui::draw(f, app))
                .map_err(|e| CliError::new(format!("cannot draw the dashboard: {e}")))?;
            // Asleep until something happens; a reload each second only while something runs
            // (or a change could go unwatched); else a wake only when an age shown turns or a
            // message goes stale, to draw again without reading anything.
            let live = app.snapshot.any_live() || watches.polls();
            let turn = if live { Some(1) } else { app.next_change() };
            let got = match next.take() {
                Some(ev) => Ok(ev),
                None => turn.map_or_else(
                    || rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    |s| rx.recv_timeout(Duration::from_secs(u64::try_from(s).unwrap_or(1).max(1))),
                ),
            };
            let ev = match got {
                Ok(ev) => Some(ev),
                Err(RecvTimeoutError::Timeout) if live => None,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
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
                Some(Ev::Note(note)) => app.say(note),
                Some(Ev::Prs(prs)) => app.prs = prs,
                Some(Ev::Done(outcome)) => {
                    app.running.retain(|a| a != &outcome.action);
                    app.say(outcome.message());
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
                        Effect::Run(action) => start(action, app, tx),
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
            Err(e) => app.say(format!("cannot read the ledger now: {e}")),
        }
        tui::load_content(app, src);
        Ok(())
    }

    /// Carries an action out on a thread of its own (the library's action, as its command
    /// does it); its outcome comes back as an event.
    fn start(action: Action, app: &mut App, tx: &Sender<Ev>) {
        app.running.push(action.clone());
        app.message = None;
        app.said_at = None;
        let tx = tx.clone();
        std::thread::spawn(move || {
            let outcome = crate::cli::util::acts::act(&action, None);
            let _ = tx.send(Ev::Done(outcome));
        });
    }

    /// Hands the terminal to `vnx attach ID` and takes it back when tmux detaches.
    fn attach(
        terminal: &mut DefaultTerminal,
        vnx: &Path,
        root: &Path,
        id: &DispatchId,
        app: &mut App,
    ) {
        use vnx::process::{Cmd, Group};
        ratatui::restore();
        let cmd = Cmd::new(vnx).args(["attach", id.as_str()]).cwd(root);
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
        app.say(match outcome {
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
                let results =
                    crate::cli::util::hosts::catch_up(&project, None, Duration::from_secs(1));
                if crate::cli::util::hosts::freed(&results) {
                    crate::cli::util::drain::recover_queue_here(None, false);
                }
                for (host, result) in results {
                    let note = match result {
                        Ok(_) if down.remove(&host) => {
                            format!("host {host} answers again: caught up")
                        }
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

    /// What the dashboard's forge reader reads: the rows with a branch, as last shown.
    #[derive(Default)]
    struct ForgeReader {
        /// Where the rows go (`None`: no forge).
        to: Option<Sender<Vec<(DispatchId, String)>>>,
        /// The rows last sent.
        sent: std::cell::RefCell<Vec<(DispatchId, String)>>,
    }

    impl ForgeReader {
        /// Hands the reader the rows of `snapshot` when they changed (it reads them at once,
        /// each pull request still read from the forge at most once per interval).
        fn want(&self, snapshot: &Snapshot) {
            let Some(to) = &self.to else {
                return;
            };
            let rows: Vec<(DispatchId, String)> = snapshot
                .rows
                .iter()
                .filter_map(|r| Some((r.state.id.clone(), r.state.branch.clone()?)))
                .collect();
            let mut sent = self.sent.borrow_mut();
            if *sent != rows {
                let _ = to.send(rows.clone());
                *sent = rows;
            }
        }
    }

    /// Reads the pull requests of the rows shown through the shared forge cache on a thread of
    /// its own: when the rows change, and then once per `forge.refresh_seconds` (each pull
    /// request read from the forge at most once per interval, whoever else reads it:
    /// `vnx::forge::watch`), and sends what it read when it changed. Drawing never reads the
    /// forge, and a slow forge never holds a frame up. Nothing runs without a `forge:` section.
    fn read_prs(project: &vnx::project::Project, tx: Sender<Ev>) -> ForgeReader {
        let Some(refresh) = crate::cli::util::pr_watch::refresh_seconds(project) else {
            return ForgeReader::default();
        };
        let (to, rows_rx) = mpsc::channel::<Vec<(DispatchId, String)>>();
        let project = project.clone();
        std::thread::spawn(move || {
            // Nothing to read before the first rows.
            let Ok(mut rows) = rows_rx.recv() else {
                return;
            };
            let mut last: Option<Prs> = None;
            loop {
                let prs = crate::cli::util::pr_watch::read(
                    &project,
                    &rows,
                    vnx::forge::watch::Mode::Auto,
                );
                let same = last.as_ref().is_some_and(|l| {
                    l.len() == prs.len()
                        && l.iter().zip(&prs).all(|((a, x), (b, y))| {
                            a == b && x.line() == y.line() && x.read_at == y.read_at
                        })
                });
                if !same {
                    if tx.send(Ev::Prs(prs.clone())).is_err() {
                        return;
                    }
                    last = Some(prs);
                }
                match rows_rx.recv_timeout(Duration::from_secs(refresh)) {
                    Ok(newer) => {
                        rows = newer;
                        // Only the newest rows count.
                        while let Ok(newer) = rows_rx.try_recv() {
                            rows = newer;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        });
        ForgeReader {
            to: Some(to),
            ..ForgeReader::default()
        }
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

    /// The most open dispatches whose directories the dashboard watches. Beyond them an open
    /// dispatch is not watched and shows by the second's tick (it runs, so the dashboard wakes
    /// each second anyway): the dashboard holds at most `1 + MAX_WATCHED_OPEN` inotify watches,
    /// whatever the history.
    const MAX_WATCHED_OPEN: usize = 64;

    /// What the dashboard watches: what can change. The ledger's directory (an append, or a
    /// ledger replaced or created: every state, queue place and gate result is a receipt
    /// there), and the directory of each open dispatch (its worker's log), each on its own and
    /// not into its subdirectories; an ended dispatch's directory is let go. Never a directory
    /// per dispatch on record: at 50,000 dispatches a recursive watch of `dispatches/` held
    /// about 96,000 watches (the user's limit, `fs.inotify.max_user_watches`, shared with every
    /// editor and build watcher) and took seconds to set up.
    struct Watches {
        /// `None` when the platform cannot watch (the dashboard then updates on keys and each
        /// second).
        watcher: Option<notify::RecommendedWatcher>,
        /// Whether the ledger's directory is watched.
        ledger: bool,
        /// `.vnx-data/dispatches`.
        dispatches: PathBuf,
        /// The open dispatches whose directories are watched.
        open: BTreeSet<DispatchId>,
        /// Whether an open dispatch is left unwatched (over the cap, or its watch refused).
        unwatched: bool,
    }

    impl Watches {
        /// Watches the ledger's directory under `data` (`.vnx-data`), made when missing; a
        /// change sends [`Ev::Changed`].
        fn new(data: &Path, tx: Sender<Ev>) -> Watches {
            let watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
                if e.is_ok_and(|e| !matches!(e.kind, notify::EventKind::Access(_))) {
                    let _ = tx.send(Ev::Changed);
                }
            })
            .ok();
            let mut watches = Watches {
                watcher,
                ledger: false,
                dispatches: data.join("dispatches"),
                open: BTreeSet::new(),
                unwatched: false,
            };
            let state = data.join("state");
            let _ = std::fs::create_dir_all(&state);
            if let Some(w) = &mut watches.watcher {
                watches.ledger = w.watch(&state, RecursiveMode::NonRecursive).is_ok();
            }
            watches
        }

        /// Watches the directories of the open dispatches of `snapshot` (the first
        /// [`MAX_WATCHED_OPEN`]) and lets go of those that ended.
        fn follow(&mut self, snapshot: &Snapshot) {
            let open = snapshot
                .rows
                .iter()
                .filter(|r| r.state.state.is_live() && r.state.place.is_here())
                .map(|r| &r.state.id);
            self.follow_ids(open);
        }

        fn follow_ids<'a>(&mut self, open: impl Iterator<Item = &'a DispatchId>) {
            let Some(watcher) = &mut self.watcher else {
                return;
            };
            let wanted: BTreeSet<&DispatchId> = open.collect();
            let ended: Vec<DispatchId> = self
                .open
                .iter()
                .filter(|id| !wanted.contains(id))
                .cloned()
                .collect();
            for id in ended {
                let _ = watcher.unwatch(&self.dispatches.join(id.as_str()));
                self.open.remove(&id);
            }
            self.unwatched = false;
            for id in wanted {
                if self.open.contains(id) {
                    continue;
                }
                let dir = self.dispatches.join(id.as_str());
                // Only a real directory (a dispatch directory is the worker's to write: a link
                // there is not followed), and no more than the cap.
                let is_dir = std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir());
                if self.open.len() < MAX_WATCHED_OPEN
                    && is_dir
                    && watcher.watch(&dir, RecursiveMode::NonRecursive).is_ok()
                {
                    self.open.insert(id.clone());
                } else {
                    self.unwatched = true;
                }
            }
        }

        /// Whether a change could go unseen by the watches (no watcher, no watch of the
        /// ledger, or an open dispatch unwatched): then the dashboard wakes each second.
        fn polls(&self) -> bool {
            self.watcher.is_none() || !self.ledger || self.unwatched
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn open_dispatches_are_watched_up_to_the_cap_and_let_go_when_they_end() {
            let data = tempfile::tempdir().unwrap();
            let ids: Vec<DispatchId> = (0..MAX_WATCHED_OPEN + 6)
                .map(|n| DispatchId::parse(&format!("D-{n:08x}")).unwrap())
                .collect();
            for id in &ids {
                std::fs::create_dir_all(data.path().join("dispatches").join(id.as_str())).unwrap();
            }
            let (tx, _rx) = mpsc::channel();
            let mut watches = Watches::new(data.path(), tx);
            assert!(watches.ledger && !watches.polls(), "the ledger's directory");
            // More open than the cap: the cap is watched, the rest left to the tick.
            watches.follow_ids(ids.iter());
            assert_eq!(watches.open.len(), MAX_WATCHED_OPEN);
            assert!(watches.polls());
            // Most ended: their directories let go, the others watched, no tick needed.
            watches.follow_ids(ids[60..].iter());
            assert_eq!(watches.open, ids[60..].iter().cloned().collect());
            assert!(!watches.polls());
            // A dispatch directory that is a link is not followed.
            let link = DispatchId::parse("D-ffffffff").unwrap();
            std::os::unix::fs::symlink(
                data.path(),
                data.path().join("dispatches").join(link.as_str()),
            )
            .unwrap();
            watches.follow_ids(std::iter::once(&link));
            assert!(watches.open.is_empty() && watches.polls());
            watches.follow_ids(std::iter::empty());
            assert!(watches.open.is_empty() && !watches.polls());
        }
    }
}
