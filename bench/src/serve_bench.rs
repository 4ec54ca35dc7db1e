//! The web page's reads at scale (part of benchmark 10): `vnx serve` started on the project,
//! a device paired as a phone would pair, then its list page and one dispatch's page asked
//! for over loopback HTTP, each timed from the request's first byte sent to the response's
//! last byte read (what a browser's navigation waits for, minus drawing); and the list page
//! asked for by 50 devices at once against one alone (`--serve-only`).

use std::io::{BufRead, BufReader, Read as _, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::Result;
use crate::dispatch_bench::BenchRepo;
use crate::reads_bench::Read;
use crate::timing::{Lat, micros};

/// Times the list page and `id`'s page, `runs` times each after one warm-up.
pub fn time_pages(repo: &BenchRepo, vnx: &Path, id: &str, runs: usize) -> Result<Vec<Read>> {
    crate::note("timing the web page's list and a dispatch's page");
    let mut server = Server::start(repo, vnx)?;
    let cookie = server.pair()?;
    let mut reads = Vec::new();
    for (name, path) in [
        ("`vnx serve`: the list page", "/".to_owned()),
        ("`vnx serve`: a dispatch's page", format!("/d/{id}")),
    ] {
        let mut us = Vec::new();
        for i in 0..=runs {
            let t = Instant::now();
            let (status, bytes) = server.get(&path, &cookie)?;
            if status != 200 {
                return Err(format!("GET {path}: status {status}").into());
            }
            if i > 0 {
                us.push(micros(t));
            }
            if bytes < 200 {
                return Err(format!("GET {path}: only {bytes} bytes").into());
            }
        }
        reads.push(Read {
            name: name.into(),
            lat: Lat::new(us),
            rss_kib: server.rss_kib(),
            cpu: None,
        });
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
    Ok(reads)
}

/// The list page asked for alone, `runs` times after a warm-up, then by `clients` devices at
/// once, `rounds` times: each request's latency, and the median of each.
pub fn bench_concurrency(
    repo: &BenchRepo,
    vnx: &Path,
    clients: usize,
    runs: usize,
    rounds: usize,
) -> Result<Concurrency> {
    crate::note(&format!("timing the list page alone and {clients} at once"));
    let mut server = Server::start(repo, vnx)?;
    let cookie = server.pair()?;
    let mut alone = Vec::new();
    for i in 0..=runs {
        let t = Instant::now();
        let (status, _) = server.get("/", &cookie)?;
        if status != 200 {
            return Err(format!("GET /: status {status}").into());
        }
        if i > 0 {
            alone.push(micros(t));
        }
    }
    let mut together = Vec::new();
    for _ in 0..rounds {
        let start = std::sync::Barrier::new(clients);
        // Each client's latency, or what went wrong (as text: it crosses threads).
        let timed: Vec<std::result::Result<f64, String>> = std::thread::scope(|scope| {
            let asks: Vec<_> = (0..clients)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        let t = Instant::now();
                        match server.get("/", &cookie) {
                            Ok((200, _)) => Ok(micros(t)),
                            Ok((status, _)) => Err(format!("GET /: status {status}")),
                            Err(e) => Err(e.to_string()),
                        }
                    })
                })
                .collect();
            asks.into_iter()
                .map(|a| a.join().unwrap_or_else(|_| Err("a client panicked".into())))
                .collect()
        });
        for t in timed {
            together.push(t?);
        }
    }
    let rss_kib = server.rss_kib();
    let _ = server.child.kill();
    let _ = server.child.wait();
    Ok(Concurrency {
        clients,
        alone: Lat::new(alone),
        together: Lat::new(together),
        rss_kib,
    })
}

/// The list page alone and asked for by many at once.
pub struct Concurrency {
    clients: usize,
    alone: Lat,
    together: Lat,
    rss_kib: u64,
}

impl Concurrency {
    pub fn render(&self, dispatches: usize) -> String {
        let ms = |us: f64| format!("{:.1} ms", us / 1000.0);
        let row = |name: String, l: &Lat| {
            format!(
                "| {name} | {} | {} | {} | {} |\n",
                l.0.len(),
                ms(l.p(50.0)),
                ms(l.p(90.0)),
                ms(l.max())
            )
        };
        format!(
            "\n### `vnx serve`: the list page alone and {n} at once ({dispatches} dispatches)\n\n\
             | Requests | count | p50 | p90 | max |\n|---|---:|---:|---:|---:|\n{}{}\n\
             Server's peak RSS: {} MB.\n",
            row("one at a time".to_owned(), &self.alone),
            row(format!("{} at once", self.clients), &self.together),
            self.rss_kib / 1024,
            n = self.clients,
        )
    }
}

struct Server {
    child: Child,
    addr: String,
    code: String,
}

impl Server {
    fn start(repo: &BenchRepo, vnx: &Path) -> Result<Server> {
        let mut child = repo
            .cmd(vnx)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let (mut addr, mut code) = (String::new(), String::new());
        while addr.is_empty() || code.is_empty() {
            let line = lines.next().ok_or("vnx serve ended before it listened")??;
            if let Some(rest) = line.split("listening on http://").nth(1) {
                addr = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
            if let Some(rest) = line.split("type the code ").nth(1) {
                code = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
        }
        // Its later lines are read and dropped, so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Server { child, addr, code })
    }

    fn pair(&self) -> Result<String> {
        let body = format!("code={}&name=bench", self.code);
        let head = format!(
            "POST /pair HTTP/1.1\r\nHost: {a}\r\nOrigin: http://{a}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len(),
            a = self.addr
        );
        let raw = self.exchange(&head)?;
        let cookie = raw
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .and_then(|c| c.split(';').next())
            .ok_or_else(|| format!("pairing failed: {raw}"))?;
        Ok(cookie.to_owned())
    }

    fn get(&self, path: &str, cookie: &str) -> Result<(u16, usize)> {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        let raw = self.exchange(&head)?;
        let status = raw
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((status, raw.len()))
    }

    fn exchange(&self, request: &str) -> Result<String> {
        let mut s = TcpStream::connect(&self.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        s.write_all(request.as_bytes())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        Ok(String::from_utf8_lossy(&raw).into_owned())
    }

    /// The server's peak RSS so far (`VmHWM`).
    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
            })
            .unwrap_or(0)
    }
}
