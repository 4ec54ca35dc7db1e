//! Notices and their signed links (ADR 0090), through the library as `vnx serve` calls it:
//! a blocked stand-in worker's notice posted with the real curl to a webhook and an ntfy
//! server (a listener made here), its approve link followed once (the worker goes on, a
//! signed `dispatch_answered`), then refused as used; a deny link for the answered request,
//! an expired and a forged link refused with nothing written; worker text that cannot break
//! the JSON; an address written in `.vnx/config.yaml`, which every worker reads, posted to
//! by `vnx serve` without links, and `vnx serve` and `vnx doctor` warning of it (ADR 0104).
//! Skipped, saying why, where curl is not installed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use vnx::actions::Desk;
use vnx::actions::link::{Peeked, Redeemed, Refusal, peek, redeem};
use vnx::notice::{self, Link, LinkAction, LinkKey, Notice};

use crate::common::serve::Server;
use crate::common::{Fakes, Repo, configure, ledger_path, run, wait_for};

/// One request the listener took: its request line, its headers, its body.
#[derive(Debug)]
pub(crate) struct Took {
    pub(crate) line: String,
    pub(crate) headers: Vec<String>,
    pub(crate) body: serde_json::Value,
}

/// A listener on 127.0.0.1 answering `status` to every request, and what it took.
pub(crate) fn listener(status: u16) -> (u16, mpsc::Receiver<Took>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                headers.push(h.trim().to_owned());
            }
            let header = |name: &str| {
                headers.iter().find_map(|h| {
                    let (k, v) = h.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
            };
            if header("expect").is_some() {
                stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
            }
            let len: usize = header("content-length").unwrap().parse().unwrap();
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let reply =
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            stream.write_all(reply.as_bytes()).unwrap();
            let body = serde_json::from_slice(&body).expect("the body is JSON");
            let _ = tx.send(Took {
                line: line.trim().to_owned(),
                headers,
                body,
            });
        }
    });
    (port, rx)
}

/// Whether curl is here; says so when it is not.
pub(crate) fn curl_here() -> bool {
    let here = std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !here {
        eprintln!("skipped: curl is not installed (Debian: apt-get install curl)");
    }
    here
}

/// Runs `f` at the desk of `repo`, as `vnx serve` would make it.
pub(crate) fn at_desk<T>(repo: &Repo, f: impl FnOnce(&Desk<'_>) -> T) -> T {
    let root = std::fs::canonicalize(repo.env.path()).unwrap();
    let project = vnx::project::Project::at(&root);
    let ledger = ledger_path(repo);
    let key_path = repo.env.home().join(".config/vnx/checkpoint.key");
    let (key, _) = vnx::ledger::checkpoint::CheckpointKey::load_or_create(&key_path).unwrap();
    let attestor = vnx::ledger::attest::Attestor::new(&key);
    let trusted = vnx::ledger::attest::trusted_keys(&ledger, &attestor).unwrap();
    let tmux = vnx::tmux::Tmux::new(repo.server.0.socket());
    let vnx_bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_vnx"));
    let machine = vnx::sandbox::Machine::default();
    let ctx = vnx::dispatch::Context {
        by: None,
        by_worker: None,
        project: &project,
        ledger: &ledger,
        tmux: &tmux,
        vnx: &vnx_bin,
        find_program: &|_| None,
        probe_version: &|_| None,
        attestor: &attestor,
        key_path: &key_path,
        machine: &machine,
        env: None,
    };
    f(&Desk {
        ctx: &ctx,
        trusted: &trusted,
        by: "phone",
        actor: None,
    })
}

/// `serve:` posting to a webhook and an ntfy topic at `port`, their addresses kept in files
/// in the test's home (outside the repository, where workers do not read them), read in as
/// `vnx serve` reads them.
fn serve(repo: &Repo, port: u16) -> vnx::config::ServeConfig {
    let text = "version: 1\nserve:\n  url: https://laptop.example:8787\n  notify:\n    - webhook: file:~/.config/vnx/hook\n    - ntfy: file:~/.config/vnx/ntfy\n";
    let mut serve = vnx::config::parse(text, std::path::Path::new("config.yaml"))
        .unwrap()
        .serve;
    let home = repo.env.home();
    std::fs::create_dir_all(home.join(".config/vnx")).unwrap();
    for (name, address) in [("hook", "hook"), ("ntfy", "vnx-test")] {
        let address = format!("http://127.0.0.1:{port}/{address}\n");
        std::fs::write(home.join(".config/vnx").join(name), address).unwrap();
    }
    for e in &mut serve.notify {
        let path = vnx::notice::address::kept_path(e, Some(&home)).unwrap();
        *e = vnx::notice::address::read_kept(e, &path, repo.env.path()).unwrap();
    }
    serve
}

fn token(url: &str) -> &str {
    url.strip_prefix("https://laptop.example:8787/l/").unwrap()
}

fn lines(repo: &Repo) -> usize {
    std::fs::read_to_string(ledger_path(repo))
        .unwrap()
        .lines()
        .count()
}

/// The worker asks to run a command holding `"}`, a newline's escape and an escape
/// character, then reports.
const ASKING: &str =
    "@fake run echo '\"}' \u{1b}[2J done\n@fake run vnx report --status done --summary a";

#[test]
fn a_notice_is_posted_and_its_approve_link_answers_once() {
    if !curl_here() {
        return;
    }
    let repo = Repo::new();
    let fakes = Fakes::new();
    let id = repo.dispatched_tui(&fakes, "claude", ASKING);
    let r = run(repo.vnx().args(["wait", "--until-blocked", &id]));
    assert_eq!(r.code, 1, "it blocks: {}{}", r.stdout, r.stderr);
    let (port, took) = listener(200);
    let serve = serve(&repo, port);
    let data = repo.env.path().join(".vnx-data");
    let key = LinkKey::load_or_create(&data).unwrap();
    let now = jiff::Timestamp::now();

    let sent = at_desk(&repo, |desk| {
        let states = desk.states().unwrap();
        let sent =
            notice::send_due(&data, &states, &serve, &key, now, Duration::from_secs(20)).unwrap();
        // Sent once: a second pass (or a restarted server) finds nothing new.
        let again = notice::due(&data, &states, &serve, &key, now).unwrap();
        assert!(again.is_empty(), "{again:?}");
        sent
    });
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].failed.is_empty(), "{:?}", sent[0].failed);
    let n = sent[0].notice.clone();
    assert_eq!(n.state, "blocked");
    let what = n.waits_for.clone().unwrap();
    assert!(what.contains("echo '\"}'"), "{what}");
    assert!(!what.chars().any(char::is_control), "{what:?}");

    let mut got: Vec<Took> = (0..2)
        .map(|_| took.recv_timeout(Duration::from_secs(20)).unwrap())
        .collect();
    got.sort_by(|a, b| a.line.cmp(&b.line));
    let (ntfy, hook) = (&got[0], &got[1]);
    assert_eq!(hook.line, "POST /hook HTTP/1.1");
    assert!(
        hook.headers
            .contains(&"Content-Type: application/json".to_owned()),
        "{:?}",
        hook.headers
    );
    // No worker text in a header.
    assert!(
        !hook.headers.iter().any(|h| h.contains("echo")),
        "{:?}",
        hook.headers
    );
    assert_eq!(hook.body["dispatch_id"], id.as_str());
    assert_eq!(hook.body["state"], "blocked");
    assert_eq!(hook.body["waits_for"], what.as_str());
    assert_eq!(
        hook.body["page"],
        format!("https://laptop.example:8787/d/{id}")
    );
    assert_eq!(hook.body["approve"], n.approve.as_deref().unwrap());
    assert_eq!(ntfy.line, "POST / HTTP/1.1");
    assert_eq!(ntfy.body["topic"], "vnx-test");
    assert_eq!(ntfy.body["message"], what.as_str());
    assert_eq!(ntfy.body["click"], hook.body["page"]);
    let actions = ntfy.body["actions"].as_array().unwrap();
    assert_eq!(actions[0]["action"], "view");
    assert_eq!(
        (
            &actions[1]["action"],
            &actions[1]["method"],
            &actions[1]["url"]
        ),
        (
            &serde_json::json!("http"),
            &serde_json::json!("POST"),
            &hook.body["approve"]
        )
    );
    assert_eq!(actions[2]["url"], hook.body["deny"]);

    let approve = token(n.approve.as_deref().unwrap()).to_owned();
    let deny = token(n.deny.as_deref().unwrap()).to_owned();
    at_desk(&repo, |desk| {
        // A GET: what it would do, nothing done.
        let before = lines(&repo);
        match peek(desk, &key, &approve, now).unwrap() {
            Peeked::Would { link, what, .. } => {
                assert_eq!(link.action, LinkAction::Approve);
                assert!(what.contains("echo"), "{what}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(lines(&repo), before);
        // An expired link and a forged one do nothing.
        let old = Link::new(
            &vnx::ids::DispatchId::parse(&id).unwrap(),
            &n.receipt,
            LinkAction::Approve,
            now - jiff::SignedDuration::from_secs(1),
        );
        let expired = redeem(desk, &key, &key.sign(&old), now).unwrap();
        assert!(
            matches!(expired, Redeemed::Refused(Refusal::Expired { .. })),
            "{expired:?}"
        );
        let mut forged = approve.clone().into_bytes();
        forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
        let forged = redeem(desk, &key, std::str::from_utf8(&forged).unwrap(), now).unwrap();
        assert_eq!(forged, Redeemed::Refused(Refusal::Forged));
        let other_key = LinkKey::from_bytes([9; 32]);
        let theirs = other_key.sign(&Link::new(
            &vnx::ids::DispatchId::parse(&id).unwrap(),
            &n.receipt,
            LinkAction::Approve,
            now + jiff::SignedDuration::from_mins(5),
        ));
        assert_eq!(
            redeem(desk, &key, &theirs, now).unwrap(),
            Redeemed::Refused(Refusal::Forged)
        );
        assert_eq!(lines(&repo), before, "nothing written");

        // The approve link answers.
        match redeem(desk, &key, &approve, now).unwrap() {
            Redeemed::Answered { link, receipt } => {
                assert_eq!(link.action, LinkAction::Approve);
                assert_eq!(receipt.by, "phone");
            }
            other => panic!("{other:?}"),
        }
        // Followed again: used.
        let again = redeem(desk, &key, &approve, now).unwrap();
        assert!(
            matches!(again, Redeemed::Refused(Refusal::AlreadyUsed { .. })),
            "{again:?}"
        );
        // The deny link of the same request: no longer waiting, and no answer written (the
        // worker, going on, may write receipts of its own meanwhile: the answers are counted
        // below).
        let late = redeem(desk, &key, &deny, now).unwrap();
        match &late {
            Redeemed::Refused(r @ Refusal::NoLongerWaiting { .. }) => {
                assert!(
                    r.says().contains("no longer waits for this request"),
                    "{}",
                    r.says()
                );
            }
            other => panic!("{other:?}"),
        }
        let answered: Vec<_> = repo
            .receipts(&id)
            .into_iter()
            .filter(|r| r["event_type"] == "dispatch_answered")
            .collect();
        assert_eq!(answered.len(), 1, "{answered:?}");
        assert_eq!(answered[0]["answer"], "approve");
        assert!(answered[0]["vnx_attestation"]["sig"].is_string(), "signed");
    });
    // The worker went on and ended.
    let r = run(repo.vnx().args(["wait", &id]));
    assert!(
        repo.receipts(&id)
            .iter()
            .any(|r| r["event_type"] == "dispatch_completed"),
        "{}{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn worker_text_cannot_break_the_json_and_a_refusal_names_the_endpoint_without_credentials() {
    if !curl_here() {
        return;
    }
    let (port, took) = listener(200);
    let hostile =
        notice::safe("x\"}, \"approve\": \"https://evil\"}\r\nX-Evil: 1\n\u{1b}]0;pwned\u{7}");
    let n = Notice {
        dispatch: vnx::ids::DispatchId::parse("D-0123456789ab").unwrap(),
        state: "needs_input",
        title: notice::safe("D-0123456789ab needs input: \"}\n\u{1b}[31m"),
        waits_for: Some(hostile.clone()),
        page: "https://laptop.example:8787/d/D-0123456789ab".into(),
        approve: None,
        deny: None,
        expires: None,
        receipt: "ab".repeat(32),
    };
    for kind in [
        "webhook: http://127.0.0.1:{port}/hook",
        "ntfy: http://127.0.0.1:{port}/t",
    ] {
        let text = format!(
            "version: 1\nserve:\n  url: https://h\n  notify:\n    - {}\n",
            kind.replace("{port}", &port.to_string())
        );
        let serve = vnx::config::parse(&text, std::path::Path::new("c"))
            .unwrap()
            .serve;
        notice::post::post(&serve.notify[0], &n, Duration::from_secs(20)).unwrap();
        let got = took.recv_timeout(Duration::from_secs(20)).unwrap();
        assert!(
            !got.headers.iter().any(|h| h.contains("Evil")),
            "{:?}",
            got.headers
        );
        let text = if kind.starts_with("webhook") {
            assert!(got.body["approve"].is_null(), "{}", got.body);
            &got.body["waits_for"]
        } else {
            &got.body["message"]
        };
        assert_eq!(text.as_str(), Some(hostile.as_str()));
        assert!(!hostile.chars().any(char::is_control), "{hostile:?}");
    }
    // An address that answers an error: the failure names it, its credentials cut.
    let (port, _took) = listener(500);
    let e = vnx::config::Endpoint {
        kind: vnx::config::EndpointKind::Webhook,
        url: format!("http://me:s3cret@127.0.0.1:{port}/hook?token=s3cret"),
        from_file: None,
    };
    let err = notice::post::post(&e, &n, Duration::from_secs(20)).unwrap_err();
    let said = format!("{err}");
    assert!(said.contains("http://…@127.0.0.1"), "{said}");
    assert!(!said.contains("s3cret"), "{said}");
}

/// The attack of issue 69: the topic written in the committed config, which a sandboxed
/// worker reads and could subscribe to, following its own approve link. `vnx serve` posts
/// the notice there without links (the page, which needs a paired device, still), and says
/// why at its start; `vnx doctor` warns, naming the file, the key and the fix.
#[test]
fn an_address_written_in_the_config_gets_notices_without_links() {
    if !curl_here() {
        return;
    }
    let (port, took) = listener(200);
    let repo = Repo::new();
    configure(
        &repo,
        &format!(
            "serve:\n  url: http://localhost:1\n  notify:\n    - webhook: http://127.0.0.1:{port}/hook\n    - ntfy: http://127.0.0.1:{port}/vnx-topic\n"
        ),
    );
    let fakes = Fakes::new();
    let id = repo.dispatched_asking_claude(&fakes);
    let blocked = || run(repo.vnx().args(["wait", "--until-blocked", &id])).code == 1;
    assert!(wait_for(blocked), "it blocks");
    let mut server = Server::start(repo.vnx(), &[]);
    let warned = server.wait_for("serve.notify[1] (`ntfy: http://127.0.0.1:");
    assert!(warned.starts_with("warning: .vnx/config.yaml "), "{warned}");
    assert!(warned.contains("no approve or deny links"), "{warned}");
    server.wait_for("hint: keep the address outside the repository");
    let mut got: Vec<Took> = (0..2)
        .map(|_| {
            took.recv_timeout(Duration::from_secs(30))
                .expect("a notice")
        })
        .collect();
    got.sort_by(|a, b| a.line.cmp(&b.line));
    let (ntfy, hook) = (&got[0], &got[1]);
    for t in [ntfy, hook] {
        let text = t.body.to_string();
        assert!(
            !text.contains("/l/"),
            "no link a worker could follow: {text}"
        );
    }
    assert_eq!(hook.body["dispatch_id"], id.as_str());
    assert_eq!(hook.body["state"], "blocked");
    assert!(hook.body["approve"].is_null() && hook.body["deny"].is_null());
    assert_eq!(hook.body["page"], format!("http://localhost:1/d/{id}"));
    let actions = ntfy.body["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0]["action"], "view");
    drop(server);
    assert!(repo.events("dispatch_answered").is_empty());

    let r = run(repo.vnx().args(["doctor"]));
    let warn = (r.stdout.lines())
        .find(|l| l.starts_with("WARN") && l.contains("serve.notify[0] (`webhook: "))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(warn.contains(".vnx/config.yaml"), "{warn}");
    assert!(
        r.stdout.contains(
            "hint: keep the address outside the repository: write it into ~/.config/vnx/ntfy"
        ),
        "{}",
        r.stdout
    );
}
