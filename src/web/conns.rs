//! The connections `vnx serve` keeps, served by hyper's HTTP/1 connection on the tokio
//! runtime: at most a bound well under the process's open-file limit (room is kept for the
//! ledger, git and the processes an action starts); past it, a new connection takes the place
//! of the one idle longest (no request of it being answered), or is closed when every one is
//! busy. A client has [`Limits::wait`] to send a request's head (and, kept alive, its next
//! one) and its body, and a response that waits on a client that reads nothing for
//! [`Limits::write_stall`] ends its connection. So slow or silent clients cannot hold the
//! server's files or its answers to others.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Files kept free for everything but connections: the ledger and its index, git's objects,
/// the pipes of the processes an action starts, the terminal.
const RESERVED_FILES: u64 = 64;
/// The most connections, whatever the file limit.
const MOST: usize = 1024;
/// The most bytes of a request's body (a form: an answer, a comment, a note).
pub const MAX_BODY: usize = 1 << 20;

/// How long clients may keep the server waiting, and how many it keeps.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections kept at once.
    pub connections: usize,
    /// How long a client has to send a request's head (the first, or the next on a
    /// connection kept alive) and, separately, its body.
    pub wait: Duration,
    /// How long a response may wait on a client that reads none of it.
    pub write_stall: Duration,
}

impl Limits {
    /// The limits of this process: connections under its open-file limit, clients given
    /// `wait`.
    pub fn of_this_process(wait: Duration) -> Limits {
        let files = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(u64::MAX);
        Limits {
            connections: connections_under(files),
            wait,
            write_stall: wait * 3,
        }
    }
}

/// The connections kept under an open-file limit of `files`: half of what the reserve
/// leaves, at least 4 and at most `MOST`.
pub fn connections_under(files: u64) -> usize {
    let half = files.saturating_sub(RESERVED_FILES) / 2;
    usize::try_from(half).unwrap_or(MOST).clamp(4, MOST)
}

/// The local address a request reached the server at (one of the machine's addresses).
#[derive(Clone, Copy, Debug)]
pub struct Reached(pub SocketAddr);

/// One connection kept: since when no request of it is being answered, how many are, and
/// how to end it.
struct Slot {
    idle_since: Instant,
    busy: u32,
    close: Arc<tokio::sync::Notify>,
}

/// The connections kept, by number.
#[derive(Default)]
struct Kept {
    slots: Mutex<HashMap<u64, Slot>>,
}

impl Kept {
    /// Room for connection `n`: `Some` (its close signal) when there was room, or when the
    /// connection idle longest was told to close for it; `None` when every one is busy.
    fn admit(&self, n: u64, most: usize) -> Option<Arc<tokio::sync::Notify>> {
        let mut slots = self.slots.lock().ok()?;
        if slots.len() >= most {
            let idlest = (slots.iter())
                .filter(|(_, s)| s.busy == 0)
                .min_by_key(|(_, s)| s.idle_since)
                .map(|(n, _)| *n)?;
            if let Some(gone) = slots.remove(&idlest) {
                gone.close.notify_one();
            }
        }
        let close = Arc::new(tokio::sync::Notify::new());
        slots.insert(
            n,
            Slot {
                idle_since: Instant::now(),
                busy: 0,
                close: Arc::clone(&close),
            },
        );
        Some(close)
    }

    fn busy(&self, n: u64, by: i32) {
        if let Ok(mut slots) = self.slots.lock()
            && let Some(s) = slots.get_mut(&n)
        {
            s.busy = s.busy.saturating_add_signed(by);
            if s.busy == 0 {
                s.idle_since = Instant::now();
            }
        }
    }

    fn gone(&self, n: u64) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.remove(&n);
        }
    }
}

/// Marks a connection busy while one of its requests is answered.
struct Busy {
    kept: Arc<Kept>,
    n: u64,
}

impl Busy {
    fn new(kept: &Arc<Kept>, n: u64) -> Busy {
        kept.busy(n, 1);
        Busy {
            kept: Arc::clone(kept),
            n,
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.kept.busy(self.n, -1);
    }
}

/// Serves `router` on `listener` within `limits` until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let kept = Arc::new(Kept::default());
    let mut next = 0u64;
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            // Out of files or the like: a moment for connections to end, then on.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        next += 1;
        let n = next;
        // Every connection kept busy: this one is closed at once (dropped).
        let Some(close) = kept.admit(n, limits.connections) else {
            continue;
        };
        let local = stream.local_addr().unwrap_or(peer);
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            (peer, local),
            router.clone(),
            limits,
            (Arc::clone(&kept), n),
            close,
        ));
    }
}

/// One connection served until it ends, its time runs out, or it is told to close.
async fn connection(
    stream: TcpStream,
    (peer, local): (SocketAddr, SocketAddr),
    router: Router,
    limits: Limits,
    (kept, n): (Arc<Kept>, u64),
    close: Arc<tokio::sync::Notify>,
) {
    let io = hyper_util::rt::TokioIo::new(Stalls::new(stream, limits.write_stall));
    let busy_kept = Arc::clone(&kept);
    let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(Reached(local));
        let busy = Busy::new(&busy_kept, n);
        let mut router = router.clone();
        async move {
            let answered = tower_service::Service::call(&mut router, req.map(Body::new)).await;
            drop(busy);
            answered
        }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.wait)
        .serve_connection(io, service);
    tokio::select! {
        _ = served => {}
        () = close.notified() => {}
    }
    kept.gone(n);
}

/// Reads a request's body whole, in [`Limits::wait`] and at most [`MAX_BODY`] bytes, before
/// anything answers it (a form is small; a client that sends it slowly or never is turned
/// away, not waited for).
pub async fn body_in_time(
    axum::extract::State(wait): axum::extract::State<Duration>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let read = tokio::time::timeout(wait, axum::body::to_bytes(body, MAX_BODY)).await;
    match read {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request's body is too large or was cut off\n",
        )
            .into_response(),
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            "the request's body did not arrive in time\n",
        )
            .into_response(),
    }
}

/// A connection's stream whose writes fail once one waited `stall` on a client that reads
/// nothing.
struct Stalls {
    stream: TcpStream,
    stall: Duration,
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Stalls {
    fn new(stream: TcpStream, stall: Duration) -> Stalls {
        Stalls {
            stream,
            stall,
            waiting: None,
        }
    }

    /// `polled` of a write, given up once it stayed pending for `stall`.
    fn in_time<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.waiting = None;
            return polled;
        }
        let stall = self.stall;
        let waiting = (self.waiting).get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        match waiting.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing of the response",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Stalls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stalls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.in_time(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.in_time(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_stay_well_under_the_file_limit() {
        assert_eq!(connections_under(1024), 480);
        assert_eq!(connections_under(128), 32);
        assert_eq!(connections_under(10), 4);
        assert_eq!(connections_under(u64::MAX), MOST);
    }

    #[test]
    fn a_new_connection_takes_the_place_of_the_one_idle_longest_never_a_busy_one() {
        let kept = Kept::default();
        let first = kept.admit(1, 2).unwrap();
        let _second = kept.admit(2, 2).unwrap();
        kept.busy(2, 1);
        // Full: the idle one (1) goes, told to close.
        assert!(kept.admit(3, 2).is_some());
        let told = first.notified();
        tokio::pin!(told);
        assert!(
            told.as_mut().enable(),
            "the connection idle longest was told to close"
        );
        assert!(!kept.slots.lock().unwrap().contains_key(&1));
        // Now 2 is busy and 3 idle: 3 goes for 4; with 2 and 4 both busy, 5 is refused.
        assert!(kept.admit(4, 2).is_some());
        kept.busy(4, 1);
        assert!(kept.admit(5, 2).is_none());
        kept.busy(2, -1);
        assert!(kept.admit(5, 2).is_some());
    }
}
