//! `vnx serve` started on a free loopback port for a test, its pairing code read off its
//! terminal, and plain HTTP/1.1 requests to it over a socket (what a browser sends, minus
//! the browser).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `vnx serve`.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    lines: mpsc::Receiver<String>,
    /// Everything it said so far.
    pub said: Vec<String>,
    /// The pairing code it showed last.
    pub code: String,
}

/// One response.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Response {
    /// The first header named `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        (self.headers.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The device cookie it sets (`vnx_device=…`).
    pub fn cookie(&self) -> Option<String> {
        let set = self.header("set-cookie")?;
        Some(set.split(';').next()?.to_owned())
    }

    /// The anti-forgery value of the page it holds.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" content=\"").expect("a page") + 21;
        self.body[at..].split('"').next().unwrap().to_owned()
    }
}

impl Server {
    /// Starts `cmd` (a `vnx` command of the project, `serve` and its flags added here).
    pub fn start(mut cmd: Command, extra: &[&str]) -> Server {
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(extra);
        Server::spawn(cmd)
    }

    /// The same, under an open-file limit of `files` (set by the shell's `ulimit -n`).
    pub fn start_with_files(vnx: Command, files: u32, extra: &[&str]) -> Server {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("ulimit -n {files} && exec \"$0\" \"$@\"")])
            .arg(vnx.get_program())
            .args(vnx.get_args())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra);
        for (k, v) in vnx.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = vnx.get_current_dir() {
            cmd.current_dir(dir);
        }
        Server::spawn(cmd)
    }

    fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vnx serve starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut server = Server {
            child,
            addr: String::new(),
            lines,
            said: Vec::new(),
            code: String::new(),
        };
        let listening = server.wait_for("listening on http://");
        server.addr = listening
            .split("http://")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        server.read_code();
        server
    }

    fn read_code(&mut self) {
        let line = self.wait_for("type the code ");
        let at = line.find("type the code ").unwrap() + 14;
        self.code = line[at..].split_whitespace().next().unwrap().to_owned();
    }

    /// The next line it says that contains `text` (panics after 30 s).
    pub fn wait_for(&mut self, text: &str) -> String {
        if let Some(l) = self.said.iter().find(|l| l.contains(text)) {
            return l.clone();
        }
        loop {
            let line = (self.lines.recv_timeout(Duration::from_secs(30)))
                .unwrap_or_else(|_| panic!("vnx serve never said {text:?}: {:?}", self.said));
            self.said.push(line.clone());
            if line.contains(text) {
                return line;
            }
        }
    }

    /// Presses Enter at its terminal: a new pairing code.
    pub fn new_code(&mut self) {
        self.said.retain(|l| !l.contains("type the code "));
        self.child.stdin.as_mut().unwrap().write_all(b"\n").unwrap();
        self.read_code();
    }

    /// Pairs a device named `name`: its cookie.
    pub fn pair(&self, name: &str) -> String {
        let r = self.post("/pair", &[("code", &self.code), ("name", name)], None, None);
        assert_eq!(r.status, 303, "{r:?}");
        r.cookie().expect("a paired device gets its cookie")
    }

    /// `GET path`.
    pub fn get(&self, path: &str, cookie: Option<&str>) -> Response {
        self.request("GET", path, cookie, &[], "")
    }

    /// `POST path` of a form, from the page's own origin unless `origin` says otherwise.
    pub fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> Response {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        let own = format!("http://{}", self.addr);
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", origin.unwrap_or(&own)),
        ];
        self.request("POST", path, cookie, &headers, &body.join("&"))
    }

    /// A pairing code tried from loopback address `from` (another client than 127.0.0.1).
    pub fn pair_from(&self, from: &str, code: &str) -> Response {
        let body = format!("code={}&name=other", encode(code));
        let own = format!("http://{}", self.addr);
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", own.as_str()),
        ];
        self.request_on(
            self.connect_from(from),
            "POST",
            "/pair",
            None,
            &headers,
            &body,
        )
    }

    /// A connection to it from loopback address `from`.
    pub fn connect_from(&self, from: &str) -> TcpStream {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let local: std::net::SocketAddr = format!("{from}:0").parse().unwrap();
        socket.bind(&local.into()).unwrap();
        let to: std::net::SocketAddr = self.addr.parse().unwrap();
        socket.connect(&to.into()).unwrap();
        socket.into()
    }

    /// Any request, with the Host header of its address unless `headers` give one.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        let s = TcpStream::connect(&self.addr).unwrap();
        self.request_on(s, method, path, cookie, headers, body)
    }

    /// A request on connection `s`.
    pub fn request_on(
        &self,
        mut s: TcpStream,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: {}\r\n", self.addr));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(c) = cookie {
            req.push_str(&format!("Cookie: {c}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        parse(&String::from_utf8_lossy(&raw))
    }

    /// Opens the server-sent events and reads until `want` arrives (panics after `wait`).
    pub fn events_until(&self, cookie: &str, want: &str, wait: Duration, between: impl FnOnce()) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(wait)).unwrap();
        let req = format!(
            "GET /events HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n",
            self.addr
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        let mut seen = String::new();
        let n = s.read(&mut buf).unwrap();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
        between();
        while !seen.contains(want) {
            let n = s
                .read(&mut buf)
                .unwrap_or_else(|e| panic!("{e}: no {want:?} in {seen}"));
            assert!(n > 0, "the stream ended: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` as the page writes it in HTML (`& < > " '` escaped).
pub fn html_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn parse(raw: &str) -> Response {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        unchunk(body)
    } else {
        body.to_owned()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}
