//! Benchmark 8b, the credential relay (`--relay-only`): a model request of 32 KiB (the egress
//! benchmark's mix of text, as JSON) sent to a provider on loopback directly and through
//! `vnx::provider::relay` (the placeholder checked and replaced, the body scanned under the
//! shipped egress policy, the answer streamed back), and through the tunnel a place's worker
//! reaches it by (ADR 0128: `vnx __key-tunnel` as a process of its own, run as
//! `VNX_BENCH_TUNNEL_VIA` says, e.g. `podman exec -i CONTAINER` for a container on this
//! machine's network, its frames carried to the relay by `vnx::remote::key_tunnel::carry`),
//! interleaved; each request a new connection, as the relay takes one request per connection.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use vnx::egress::Policy;
use vnx::provider::relay::{self, Route, Scan, Upstream};

use crate::Result;
use crate::egress_bench::CHUNKS;
use crate::report::format::num;
use crate::timing::{Lat, micros};

/// The answer: a few server-sent events.
const EVENTS: &str = "event: message_start\ndata: {\"type\":\"message_start\"}\n\n\
                      event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Done.\"}}\n\n\
                      event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

/// What the relay benchmark measured, microseconds.
pub struct RelayBench {
    pub requests: usize,
    pub body: usize,
    pub direct: Lat,
    pub relayed: Lat,
    /// Relayed minus direct, pair by pair.
    pub added: Lat,
    /// Through the tunnel, and that minus direct, pair by pair; how the tunnel ran.
    pub tunnelled: Lat,
    pub tunnel_added: Lat,
    pub tunnel_via: String,
}

/// Starts the tunnel's place end (`via` then `vnx __key-tunnel --port 0`) and carries its
/// connections to the relay on `relay`: the port it listens on.
fn tunnel(via: &[String], relay: u16) -> Result<u16> {
    let vnx = std::env::current_exe()?.with_file_name("vnx");
    let mut argv: Vec<String> = via.to_vec();
    if argv.is_empty() {
        argv.push(vnx.display().to_string());
    } else {
        argv.push("vnx".to_owned());
    }
    argv.extend(["__key-tunnel", "--port", "0"].map(str::to_owned));
    let mut child = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let (input, mut output) = (
        child.stdin.take().ok_or("no stdin")?,
        child.stdout.take().ok_or("no stdout")?,
    );
    let port = vnx::remote::key_tunnel::greeting(&mut output)?;
    std::thread::spawn(move || {
        let _ = vnx::remote::key_tunnel::carry(output, input, relay);
        let _ = child.kill();
        let _ = child.wait();
    });
    Ok(port)
}

/// A provider on loopback answering every request with [`EVENTS`].
fn provider() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut buf = [0u8; 65536];
                // The head, then the body its content-length names.
                let (head_end, len) = loop {
                    let Ok(n) = s.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..i]).to_lowercase();
                        let len: usize = (head.lines())
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .map_or(0, |n| n.trim().parse().unwrap_or(0));
                        break (i + 4, len);
                    }
                };
                while got.len() < head_end + len {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{EVENTS}",
                    EVENTS.len()
                );
            });
        }
    });
    Ok(port)
}

/// One request on a new connection to `port`, its answer read to the end.
fn request(port: u16, key: &str, body: &str) -> Result<f64> {
    let start = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_nodelay(true)?;
    write!(
        s,
        "POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: {key}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    if !answer.ends_with(b"message_stop\"}\n\n") {
        return Err(format!("an answer was cut: {}", String::from_utf8_lossy(&answer)).into());
    }
    Ok(micros(start))
}

/// `runs` pairs of requests, direct and relayed, after a warm-up.
pub fn bench_relay(runs: usize) -> Result<RelayBench> {
    let port = provider()?;
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 32 << 10 {
        text.push_str(CHUNKS[i % CHUNKS.len()]);
        i += 1;
    }
    let body = serde_json::json!({"model": "m", "stream": true,
        "messages": [{"role": "user", "content": text}]})
    .to_string();
    let placeholder = relay::placeholder()?;
    let upstream = Upstream::parse(&format!("http://127.0.0.1:{port}")).ok_or("upstream")?;
    let relayed_port = relay::serve(Route {
        placeholder: placeholder.clone(),
        key: "sk-the-real-key".to_owned(),
        upstream,
        scan: Some(Scan {
            policy: Policy::shipped(&[]),
            provider: "a-hosted-cli".to_owned(),
        }),
        log: None,
    })?;
    crate::note(&format!(
        "timing {runs} model requests, direct and through the relay"
    ));
    let via: Vec<String> = std::env::var("VNX_BENCH_TUNNEL_VIA")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let tunnel_port = tunnel(&via, relayed_port)?;
    request(relayed_port, &placeholder, &body)?;
    request(tunnel_port, &placeholder, &body)?;
    let (mut direct, mut relayed, mut added) = (Vec::new(), Vec::new(), Vec::new());
    let (mut tunnelled, mut tunnel_added) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let d = request(port, "sk-the-real-key", &body)?;
        let r = request(relayed_port, &placeholder, &body)?;
        let t = request(tunnel_port, &placeholder, &body)?;
        direct.push(d);
        relayed.push(r);
        added.push(r - d);
        tunnelled.push(t);
        tunnel_added.push(t - d);
    }
    Ok(RelayBench {
        requests: runs,
        body: body.len(),
        direct: Lat::new(direct),
        relayed: Lat::new(relayed),
        added: Lat::new(added),
        tunnelled: Lat::new(tunnelled),
        tunnel_added: Lat::new(tunnel_added),
        tunnel_via: if via.is_empty() {
            "a local process".to_owned()
        } else {
            format!("`{}`", via.join(" "))
        },
    })
}

impl RelayBench {
    pub fn render(&self) -> String {
        let ms = |us: f64| num(us / 1000.0, 3);
        format!(
            "\n### 8b. Credential relay ({} model requests of {} bytes, each direct and relayed)\n\n\
             A provider on loopback answering server-sent events; through \
             `vnx::provider::relay` the placeholder is replaced and the body scanned under the \
             shipped egress policy.\n\n\
             | Run | median | p90 | max |\n|---|---:|---:|---:|\n\
             | direct | {} ms | {} ms | {} ms |\n| relayed | {} ms | {} ms | {} ms |\n\
             | added by the relay (pair by pair) | {} ms | {} ms | {} ms |\n\
             | through a place's tunnel ({}) | {} ms | {} ms | {} ms |\n\
             | added by the tunnel and the relay (pair by pair) | {} ms | {} ms | {} ms |\n",
            self.requests,
            self.body,
            ms(self.direct.p(50.0)),
            ms(self.direct.p(90.0)),
            ms(self.direct.max()),
            ms(self.relayed.p(50.0)),
            ms(self.relayed.p(90.0)),
            ms(self.relayed.max()),
            ms(self.added.p(50.0)),
            ms(self.added.p(90.0)),
            ms(self.added.max()),
            self.tunnel_via,
            ms(self.tunnelled.p(50.0)),
            ms(self.tunnelled.p(90.0)),
            ms(self.tunnelled.max()),
            ms(self.tunnel_added.p(50.0)),
            ms(self.tunnel_added.p(90.0)),
            ms(self.tunnel_added.max()),
        )
    }
}
