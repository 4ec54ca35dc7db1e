//! `vnx serve` kept for the person: a client's wrong pairing codes close pairing to that
//! client only and a new code from the terminal opens it again, silent and slow clients are
//! timed out (a request's head, its body, a connection kept alive), many held connections
//! under a low open-file limit do not stop a paired device, a lock another process holds on
//! the devices file stops no request, and with `--expose` only the host names it was given
//! are answered.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::Repo;
use crate::common::serve::Server;

#[test]
fn wrong_codes_close_pairing_to_their_address_only_and_a_new_code_opens_it_again() {
    let repo = Repo::new();
    let mut server = Server::start(repo.vnx(), &[]);
    let code = server.code.clone();
    for _ in 0..4 {
        let r = server.pair_from("127.0.0.2", "AAAA-AAAA");
        assert_eq!(r.status, 403, "{r:?}");
        assert!(
            r.body.contains("tries left from this address"),
            "{}",
            r.body
        );
    }
    let r = server.pair_from("127.0.0.2", "AAAA-AAAA");
    assert!(
        r.body.contains("too many wrong codes from this address"),
        "{}",
        r.body
    );
    // Closed to that client, even with the right code...
    let r = server.pair_from("127.0.0.2", &code);
    assert_eq!(r.status, 403, "{r:?}");
    // ...and open to another: the code was not burnt.
    let r = server.pair_from("127.0.0.1", &code);
    assert_eq!(r.status, 303, "the code still pairs another client: {r:?}");

    // Enter at the terminal: a new code, and the client shut out may try again.
    server.new_code();
    let r = server.pair_from("127.0.0.2", &server.code.clone());
    assert_eq!(r.status, 303, "{r:?}");
}

/// Reads from `s` until the server closes it; what it sent. Panics when the server keeps it
/// open past the socket's read timeout.
fn until_closed(s: &mut TcpStream, what: &str) -> String {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return String::from_utf8_lossy(&seen).into_owned(),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            // A reset is a close too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return String::from_utf8_lossy(&seen).into_owned();
            }
            Err(e) => panic!(
                "{what}: the server kept the connection open ({e}); it sent {:?}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
}

#[test]
fn silent_and_slow_clients_are_timed_out() {
    let repo = Repo::new();
    let server = Server::start(repo.vnx(), &["--client-timeout", "1"]);
    let host = format!("Host: {}\r\n", server.addr);

    let mut silent = TcpStream::connect(&server.addr).unwrap();
    until_closed(&mut silent, "a client that sends nothing");

    let mut half_head = TcpStream::connect(&server.addr).unwrap();
    half_head
        .write_all(format!("GET / HTTP/1.1\r\n{host}").as_bytes())
        .unwrap();
    until_closed(&mut half_head, "a request whose head never ends");

    let mut half_body = TcpStream::connect(&server.addr).unwrap();
    let origin = format!("Origin: http://{}\r\n", server.addr);
    half_body
        .write_all(
            format!(
                "POST /pair HTTP/1.1\r\n{host}{origin}Content-Type: \
                 application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncode=AB"
            )
            .as_bytes(),
        )
        .unwrap();
    let said = until_closed(&mut half_body, "a request whose body never ends");
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");

    // A connection kept alive after its answer, then left idle.
    let mut idle = TcpStream::connect(&server.addr).unwrap();
    idle.write_all(format!("GET /static/app.css HTTP/1.1\r\n{host}\r\n").as_bytes())
        .unwrap();
    let said = until_closed(&mut idle, "an idle connection kept alive");
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");
}

#[test]
fn many_held_connections_under_a_low_file_limit_do_not_stop_a_paired_device() {
    let repo = Repo::new();
    // 128 files: the server keeps at most 32 connections, and its clients 60 s to speak.
    let server = Server::start_with_files(repo.vnx(), 128, &["--client-timeout", "60"]);
    let cookie = server.pair("phone");
    let held: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    let r = server.get("/", Some(&cookie));
    assert_eq!(r.status, 200, "{r:?}");
    // The server still reads the project (it has files left for it).
    assert!(r.body.contains("Needs you"), "{}", r.body);
    drop(held);
}

/// A process that holds the lock of the paired devices' file until killed: flock without a
/// fork, so the process killed is the one holding it (a forked `sleep` outlived the test
/// holding the test run's output open, and `bin/test`'s log waited 300 s for it).
struct HeldLock(std::process::Child);

impl HeldLock {
    fn on(file: &std::path::Path) -> HeldLock {
        let mut child = Command::new("flock")
            .arg("--no-fork")
            .arg(file)
            .args(["-c", "echo held; exec sleep 300"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("flock runs");
        let mut said = [0u8; 5];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut said)
            .unwrap();
        assert_eq!(&said, b"held\n");
        HeldLock(child)
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_lock_another_process_holds_on_the_devices_file_stops_no_request() {
    let repo = Repo::new();
    let server = Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    // (`vnx serve --revoke` in another terminal holds it for as long as it takes.)
    let _held = HeldLock::on(&repo.env.path().join(".vnx-data/serve/devices.lock"));
    // The device's first use since pairing is noted in the file: not waited for.
    let r = server.get("/", Some(&cookie));
    assert_eq!(r.status, 200, "{r:?}");
    let r = server.get("/static/app.css", None);
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn exposed_it_answers_only_for_the_names_it_was_given() {
    let repo = Repo::new();
    let server = Server::start(repo.vnx(), &["--expose", "--host", "Tunnel.Example"]);
    let get_as = |host: &str| {
        let headers = [("Host", host)];
        server.request("GET", "/pair", None, &headers, "")
    };
    assert_eq!(get_as("evil.example").status, 421, "another site's name");
    assert_eq!(get_as("tunnel.example:443").status, 200, "the name given");
    assert_eq!(get_as(&server.addr).status, 200, "the address reached");
    assert!(
        (server.said.iter()).any(|l| l.contains("answering for: ") && l.contains("tunnel.example")),
        "it says at its start which names it answers for: {:?}",
        server.said
    );
}
