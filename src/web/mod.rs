//! (cargo feature `serve`) `vnx serve`'s HTTP side: axum on a tokio runtime of its own, its
//! connections bounded and timed (`conns`), the routes (`pages`, the pairing and
//! guard of `auth`, the HTML of `html`), the server-sent events that tell an open page the
//! ledger changed, and the page's stylesheet and script, built into the binary. The reading
//! and acting are the library's and the shared actions' (`cli/util/acts`), called on the
//! blocking pool; requests that arrive while the dispatches are read share the next read.

pub mod auth;
pub mod conns;
pub mod html;
pub mod links;
pub mod list;
pub mod pages;
pub mod plans;
pub mod shots;

use std::collections::{BTreeMap, HashMap};

use crate::action::{Action, Outcome};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use vnx::access::{DeviceStore, Pairing};
use vnx::dashboard::{Reloader, Snapshot, Sources};
use vnx::dispatch::state::DispatchState;
use vnx::forge::watch::{Mode, PrStatus};
use vnx::ids::DispatchId;

/// A form's fields.
pub type Form = axum::extract::Form<HashMap<String, String>>;

/// How often the ledger is looked at for a change.
const POLL: Duration = Duration::from_millis(250);

/// What the server was started with.
pub struct Settings {
    /// The project.
    pub project: vnx::project::Project,
    /// Where dispatches' panes are.
    pub tmux: vnx::tmux::Tmux,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Host names the server answers for besides loopback's and the address a request
    /// reached it at (`serve.url`'s, `--host`'s, the machine's name), lower case.
    pub hosts: Vec<String>,
    /// How long a client may keep it waiting (a request's head, its body, the next
    /// request on a connection kept alive).
    pub client_wait: Duration,
    /// Whether the device cookie is marked `Secure` (the page is reached over https).
    pub secure_cookie: bool,
    /// The person who runs the server (receipts name them with the device).
    pub user: String,
    /// The signing key, witness directory and hashing threads the list is verified with.
    pub key: Option<PathBuf>,
    /// The checkpoint witness directory.
    pub witness: Option<PathBuf>,
    /// Hashing threads.
    pub threads: usize,
    /// The config's `serve:` section (where notices go, how long their links last).
    pub serve: vnx::config::ServeConfig,
}

/// Does an action as the named person and device.
pub type Act = dyn Fn(&Action, &str) -> Outcome + Send + Sync;
/// The pull requests of dispatches (id, branch), read in a mode.
pub type Prs =
    dyn Fn(&[(DispatchId, String)], Mode) -> BTreeMap<DispatchId, PrStatus> + Send + Sync;

/// Runs a function at the project's desk as the named person and device (`None`: the user).
pub type WithDesk = dyn Fn(
        Option<&str>,
        &mut dyn FnMut(&vnx::actions::Desk<'_>) -> Result<(), String>,
    ) -> Result<(), String>
    + Send
    + Sync;

/// What the server asks of the command that started it: what only the command line can do,
/// as it reads its own settings.
pub struct Calls {
    /// Does an action as the named person and device (as receipts name them).
    pub act: Box<Act>,
    /// The pull requests of dispatches (id, branch), through the forge cache.
    pub prs: Box<Prs>,
    /// Starts what the queue can start, before a read (as every reading command does).
    pub drain: Box<dyn Fn() + Send + Sync>,
    /// Says a line at the server's terminal.
    pub say: Box<dyn Fn(&str) + Send + Sync>,
    /// The project's desk, for what has no [`Action`] (a link followed, comments read).
    pub desk: Box<WithDesk>,
}

/// The server's state, shared by every request.
pub struct App {
    sources: Sources,
    data_dir: PathBuf,
    serve: vnx::config::ServeConfig,
    devices: DeviceStore,
    pairing: Mutex<Pairing>,
    reloader: Mutex<Reloader>,
    reads: Reads,
    hosts: Vec<String>,
    secure_cookie: bool,
    user: String,
    changes: tokio::sync::watch::Sender<u64>,
    calls: Calls,
}

impl App {
    /// Says a line at the server's terminal.
    pub fn say(&self, line: &str) {
        (self.calls.say)(line);
    }

    /// Whether the server answers for `host` (no port), asked on a connection that reached
    /// it at `reached`: loopback's names, the address reached (an address of this machine
    /// the server listens on), and the names it was given.
    fn answers_for(&self, host: &str, reached: Option<std::net::IpAddr>) -> bool {
        let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1");
        let address = host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| Some(ip) == reached);
        loopback || address || self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// How receipts name who acted from device `p`.
    fn by(&self, p: &auth::Paired) -> String {
        format!("{} via {} (vnx serve)", self.user, p.device.label())
    }

    /// Tells open pages something changed.
    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// The list page's body, `draw`n from the dispatches as the dashboard reads them, read
    /// since the last change this server knows of (an action it did, a change of the ledger
    /// it saw) and after this call began unless the read running now began after that
    /// change: by this call, or by the one read that others waiting with it share (one read
    /// and drawing at a time; the device's anti-forgery value is left as
    /// [`list::CSRF_MARK`] for each request to put in).
    fn listed(&self, draw: impl FnOnce(&Snapshot) -> String) -> Result<Arc<String>, String> {
        let changes = *self.changes.borrow();
        self.reads.after_now(changes, || {
            (self.calls.drain)();
            let mut reloader = self.reloader.lock().map_err(|e| e.to_string())?;
            let snapshot = reloader.reload(&self.sources).map_err(|e| e.to_string())?;
            drop(reloader);
            Ok(Arc::new(draw(&snapshot)))
        })
    }

    /// The files dispatch `id` shares with other running or unmerged dispatches, in a line.
    fn overlaps(&self, id: &DispatchId) -> Option<String> {
        let mut reloader = self.reloader.lock().ok()?;
        reloader.overlaps(&self.sources, id)
    }

    /// The spend of the graph descending from dispatch `id` (it, its follow-ups and what
    /// started after it), and how many dispatches it holds; `None` when it cannot be read.
    fn graph_cost(&self, id: &DispatchId) -> Option<(vnx::cost::Spend, usize)> {
        vnx::cost::of_graph(&self.sources.ledger, std::slice::from_ref(id)).ok()
    }

    /// One dispatch whole, read through the read index as the list is.
    fn detail(&self, id: &DispatchId) -> Result<Option<vnx::dispatch::detail::Detail>, String> {
        let reloader = self.reloader.lock().map_err(|e| e.to_string())?;
        (reloader.detail(&self.sources, id)).map_err(|e| e.to_string())
    }

    /// The pull requests of `states`, as the forge cache holds them (no `gh` call): a line
    /// each.
    fn prs<'a>(
        &self,
        states: impl Iterator<Item = &'a DispatchState>,
    ) -> HashMap<DispatchId, String> {
        let wanted: Vec<(DispatchId, String)> = states
            .filter_map(|s| Some((s.id.clone(), s.branch.clone()?)))
            .collect();
        (self.calls.prs)(&wanted, Mode::Cached)
            .into_iter()
            .map(|(id, pr)| (id, pr.line()))
            .collect()
    }

    /// The pull request of one dispatch, read through the forge cache (at most one `gh`
    /// call per refresh interval).
    fn pr_of(&self, s: &DispatchState) -> Option<PrStatus> {
        let wanted = [(s.id.clone(), s.branch.clone()?)];
        (self.calls.prs)(&wanted, Mode::Auto).remove(&s.id)
    }
}

/// What was read (and drawn) last.
type Read = Result<Arc<String>, String>;

/// The reads of the dispatches: one at a time; a caller that arrives while one runs shares
/// it when no change was known since it began, else waits for the next, which it shares
/// with everyone else who waited.
#[derive(Default)]
struct Reads {
    state: Mutex<ReadState>,
    done: Condvar,
}

#[derive(Default)]
struct ReadState {
    /// Reads begun so far.
    begun: u64,
    /// Whether one runs now, and the count of changes known when it began.
    running: Option<u64>,
    /// The last read that ended: its number and what it read.
    last: Option<(u64, Read)>,
}

impl ReadState {
    /// The number of the read a call at the `changes`-th change known takes: the one running
    /// when it began at that count, else the next.
    fn wanted(&self, changes: u64) -> u64 {
        match self.running {
            Some(at) if at == changes => self.begun,
            _ => self.begun + 1,
        }
    }
}

impl Reads {
    /// What `read` reads, from a read that began after the `changes`-th change known, and
    /// after this call began unless the one running began at the same count.
    fn after_now(&self, changes: u64, read: impl FnOnce() -> Read) -> Read {
        let poisoned = |e: std::sync::PoisonError<_>| format!("a read failed before: {e}");
        let mut state = self.state.lock().map_err(poisoned)?;
        let wanted = state.wanted(changes);
        loop {
            if let Some((n, last)) = &state.last
                && *n >= wanted
            {
                return last.clone();
            }
            if state.running.is_none() {
                state.running = Some(changes);
                state.begun += 1;
                let n = state.begun;
                drop(state);
                let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
                    .unwrap_or_else(|_| Err("reading the dispatches panicked".to_owned()));
                let mut state = self.state.lock().map_err(poisoned)?;
                state.running = None;
                state.last = Some((n, read.clone()));
                self.done.notify_all();
                return read;
            }
            state = self.done.wait(state).map_err(poisoned)?;
        }
    }
}

/// Makes a new pairing code, the one the terminal shows.
pub fn new_pairing() -> Result<Pairing, vnx::access::AccessError> {
    Pairing::new(jiff::Timestamp::now())
}

/// The running server's handle: the address it listens on, a way to make a new pairing
/// code.
#[derive(Clone)]
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    app: Arc<App>,
}

impl Running {
    /// Replaces the pairing code with `pairing`.
    pub fn set_pairing(&self, pairing: Pairing) {
        if let Ok(mut p) = self.app.pairing.lock() {
            *p = pairing;
        }
    }
}

/// Binds the listener and serves until `stop` resolves; `ready` is told the address and
/// handle first (before any request is taken).
pub fn run(
    settings: Settings,
    pairing: Pairing,
    calls: Calls,
    ready: impl FnOnce(&Running),
) -> std::io::Result<()> {
    // One thread for the connections: everything that reads or acts runs on the blocking
    // pool (tokio's multi-threaded scheduler would make every vnx process load libm, ADR
    // 0049).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let limits = conns::Limits::of_this_process(settings.client_wait);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        let (changes, _) = tokio::sync::watch::channel(0u64);
        let app = Arc::new(App {
            sources: Sources {
                root: settings.project.root.clone(),
                ledger: settings.project.ledger(),
                tmux: settings.tmux.clone(),
            },
            devices: DeviceStore::in_data_dir(&settings.project.data_dir()),
            data_dir: settings.project.data_dir(),
            serve: settings.serve,
            pairing: Mutex::new(pairing),
            reads: Reads::default(),
            reloader: Mutex::new(Reloader::new(
                settings.key,
                settings.witness,
                settings.threads,
            )),
            hosts: settings.hosts,
            secure_cookie: settings.secure_cookie,
            user: settings.user,
            changes,
            calls,
        });
        watch_ledger(Arc::clone(&app));
        ready(&Running {
            addr,
            app: Arc::clone(&app),
        });
        let router = Router::new()
            .route("/", get(list::list))
            .route("/d/{id}", get(pages::dispatch).post(pages::act))
            .route("/d/{id}/shots/{gate}/{n}", get(pages::shot))
            .route("/events", get(events))
            .route("/pair", get(auth::pair_page).post(auth::pair))
            .route("/l/{token}", get(links::look).post(links::act))
            .route("/static/app.css", get(css))
            .route("/static/app.js", get(js))
            .layer(axum::middleware::from_fn_with_state(
                limits.wait,
                conns::body_in_time,
            ))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&app),
                auth::guard,
            ))
            .with_state(app);
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        conns::serve(listener, router, limits, stop).await;
        Ok(())
    })
}

/// Watches the ledger (its length and time) on a thread of its own, tells open pages when it
/// changed and posts the notices then due.
fn watch_ledger(app: Arc<App>) {
    let ledger = app.sources.ledger.clone();
    std::thread::spawn(move || {
        let seen = |p: &std::path::Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.len(), m.modified().ok()))
        };
        let mut last = seen(&ledger);
        links::send_notices(&app);
        loop {
            std::thread::sleep(POLL);
            let now = seen(&ledger);
            if now != last {
                last = now;
                app.changed();
                links::send_notices(&app);
            }
        }
    });
}

/// The server-sent events an open page listens to: `change` when the ledger changed.
async fn events(
    _: auth::Paired,
    axum::extract::State(app): axum::extract::State<Arc<App>>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = app.changes.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let n = *rx.borrow_and_update();
        Some((Ok(Event::default().event("change").data(n.to_string())), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn css() -> Response {
    asset("text/css", include_str!("assets/app.css"))
}

async fn js() -> Response {
    asset("text/javascript", include_str!("assets/app.js"))
}

fn asset(kind: &'static str, text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_running_since_the_last_change_is_shared_and_one_after_a_change_is_not() {
        let running = |at, begun| ReadState {
            begun,
            running: at,
            last: None,
        };
        // The read running (number 3) began at change 7.
        assert_eq!(running(Some(7), 3).wanted(7), 3, "shared");
        assert_eq!(running(Some(7), 3).wanted(8), 4, "a change since: the next");
        assert_eq!(
            running(None, 3).wanted(7),
            4,
            "none running: a read of its own"
        );
        // One after another, each call reads anew: nothing is kept past its read.
        let reads = Reads::default();
        let read = |what: &str| reads.after_now(1, || Ok(Arc::new(what.to_owned())));
        assert_eq!(read("one").unwrap().as_str(), "one");
        assert_eq!(read("two").unwrap().as_str(), "two");
    }
}
