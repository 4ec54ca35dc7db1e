//! The credential relay (ADR 0124): with `sandbox.credentials: relay`, a sandboxed worker
//! holds a placeholder for its CLI's key and the relay's address for the provider's, with its
//! network on and off; the provider sees the real key, a request without the placeholder is
//! refused, and the real key is nowhere the worker or a reader of the project can look, nor in
//! the dispatch's gate, which runs the worker's code in its sandbox with no relay.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::common::{Fakes, Repo, completion, configure};

pub(crate) const KEY: &str = "sk-ant-api03-the-users-real-key-0123456789abcdefghij";
const OTHER_KEY: &str = "sk-another-clis-real-key-9876543210";

/// A provider on loopback: each request's head (lowercased), and a short event stream back.
pub(crate) fn provider() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let heads = Arc::clone(&seen);
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut got = Vec::new();
            let mut byte = [0u8; 1];
            while !got.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
                got.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&got).to_lowercase();
            let len: usize = (head.lines())
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |n| n.trim().parse().unwrap());
            let mut body = vec![0u8; len];
            let _ = s.read_exact(&mut body);
            heads.lock().unwrap().push(head);
            let events = "data: hello from the provider\n\n";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{events}",
                events.len()
            );
        }
    });
    (port, seen)
}

/// What the worker runs: a request with its key, one without, and what its environment and
/// every process of its sandbox (`/proc`: environment and command line) hold.
const PROBE: &str = r#"curl -sS -H "x-api-key: $ANTHROPIC_API_KEY" -d '{}' "$ANTHROPIC_BASE_URL/v1/messages" > answer.txt 2>&1
curl -sS -o /dev/null -w '%{http_code}' -H 'x-api-key: not-the-placeholder' -d '{}' "$ANTHROPIC_BASE_URL/v1/messages" > refused.txt 2>&1
env > env.txt
for p in /proc/[0-9]*; do tr '\0' '\n' < "$p/environ"; tr '\0' ' ' < "$p/cmdline"; echo; done > procs.txt 2>/dev/null
git add answer.txt refused.txt env.txt procs.txt && git commit -qm seen
"#;

/// Every file under `dir` whose bytes hold `needle`.
pub(crate) fn holding(dir: &std::path::Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => found.extend(holding(&path, needle)),
            Ok(t) if t.is_file() => {
                let data = std::fs::read(&path).unwrap_or_default();
                if data.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(path);
                }
            }
            _ => {}
        }
    }
    found
}

#[test]
fn a_sandboxed_worker_holds_a_placeholder_and_the_provider_gets_the_key() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    std::fs::write(repo.env.path().join("probe.sh"), PROBE).unwrap();
    let gate = "env; for p in /proc/[0-9]*; do tr '\\0' '\\n' < \"$p/environ\"; done\n";
    std::fs::write(repo.env.path().join("gate.sh"), gate).unwrap();
    repo.env.git(&["add", "probe.sh", "gate.sh"]);
    configure(
        &repo,
        "sandbox:\n  credentials: relay\ngates:\n  check: {kind: command, argv: [sh, gate.sh]}\n\
         roles:\n  implementer:\n    allow: [\"sh -c\"]\n    gates: [check]\n",
    );
    let (port, seen) = provider();
    let base = format!("http://127.0.0.1:{port}");
    for (n, network) in ["on", "off"].into_iter().enumerate() {
        let id = format!("D-6b3y0000000{n}");
        let mut cmd = repo.vnx();
        cmd.env("PATH", fakes.path())
            .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
            .env("ANTHROPIC_API_KEY", KEY)
            .env("ANTHROPIC_BASE_URL", &base)
            .env("OPENAI_API_KEY", OTHER_KEY)
            .args(["dispatch-agent", "--agent", "implementer", "--json"])
            .args(["--id", &id, "--deadline", "60", "--provider", "claude"])
            .args(["--lane", "headless", "--permission", "edits", "--sandbox"])
            .args(["--network", network, "--instruction"])
            .arg(
                "probe the relay\n@fake run sh -c 'sh probe.sh'\n\
                 @fake run vnx report --status done --summary probed",
            );
        let r = crate::common::run(cmd);
        assert_eq!(completion(&r)["status"], "done", "{network}: {}", r.stderr);
        let file = |name: &str| repo.on_branch(&id, name);
        // The provider answered through the relay, with the real key; the request without
        // the placeholder never reached it.
        assert!(
            file("answer.txt").contains("hello from the provider"),
            "{network}: {}",
            file("answer.txt")
        );
        assert_eq!(file("refused.txt"), "401", "{network}");
        let log = (repo.env.path()).join(format!(".vnx-data/dispatches/{id}/worker.log"));
        let log = std::fs::read_to_string(log).unwrap();
        assert!(
            log.contains("vnx: the credential relay refused a request (401)"),
            "{network}: {log}"
        );
        let heads = std::mem::take(&mut *seen.lock().unwrap());
        assert_eq!(heads.len(), 1, "{network}: {heads:?}");
        assert!(
            heads[0].contains(&format!("x-api-key: {}\r\n", KEY.to_lowercase())),
            "{network}: {heads:?}"
        );
        assert!(!heads[0].contains("vnx-relay-"), "{network}: {heads:?}");
        // The worker's environment and every process in its sandbox hold the placeholder and
        // the relay's address, never a key of the user's.
        let env = file("env.txt");
        let procs = file("procs.txt");
        assert!(
            env.contains("ANTHROPIC_API_KEY=vnx-relay-"),
            "{network}: {env}"
        );
        assert!(
            env.contains("ANTHROPIC_BASE_URL=http://127.0.0.1:")
                && !env.contains(&format!("ANTHROPIC_BASE_URL={base}\n")),
            "{network}: {env}"
        );
        assert!(procs.contains("ANTHROPIC_API_KEY=vnx-relay-"), "{procs}");
        for text in [&env, &procs] {
            assert!(
                !text.contains(KEY) && !text.contains(OTHER_KEY),
                "{network}: {text}"
            );
        }
        // The signed start names the relayed variable and the withheld one, never a value.
        let started = repo
            .receipts(&id)
            .into_iter()
            .find(|r| r["event_type"] == "dispatch_started")
            .unwrap();
        assert_eq!(
            started["sandbox"]["relayed_keys"],
            serde_json::json!(["ANTHROPIC_API_KEY"]),
            "{started}"
        );
        assert!(
            started["sandbox"]["withheld_env"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("OPENAI_API_KEY")),
            "{started}"
        );
    }
    // The gate runs the worker's code in its sandbox, where no relay serves: it has neither key.
    let (_, report) = crate::common::gate_check_with(&repo, "D-6b3y00000000", |cmd| {
        cmd.env("ANTHROPIC_API_KEY", KEY)
            .env("OPENAI_API_KEY", OTHER_KEY);
    });
    let ran = &report["gates"][0];
    let output = std::fs::read_to_string(ran["output_path"].as_str().unwrap()).unwrap();
    assert!(output.contains("VNX_GATE=check"), "{report}\n{output}");
    assert!(
        !output.contains(KEY) && !output.contains(OTHER_KEY),
        "{output}"
    );
    // Neither key is in any file of the project's data: ledger, dispatch directories, logs.
    let data = repo.env.path().join(".vnx-data");
    for key in [KEY, OTHER_KEY] {
        assert_eq!(holding(&data, key), Vec::<std::path::PathBuf>::new());
    }
}

/// What a worker on a host runs: as [`PROBE`], without `/proc` (the ssh host stands in on
/// this machine, where every process of the test is in view; a container's and a pod's
/// probes, which have their own, are in `container_keys`).
const HOST_PROBE: &str = r#"curl -sS -H "x-api-key: $ANTHROPIC_API_KEY" -d '{}' "$ANTHROPIC_BASE_URL/v1/messages" > answer.txt 2>&1
curl -sS -o /dev/null -w '%{http_code}' -H 'x-api-key: not-the-placeholder' -d '{}' "$ANTHROPIC_BASE_URL/v1/messages" > refused.txt 2>&1
curl -sS -o /dev/null -w '%{http_code}' -H "x-api-key: $ANTHROPIC_API_KEY" -d "{\"k\":\"-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\n-----END OPENSSH PRIVATE KEY-----\"}" "$ANTHROPIC_BASE_URL/v1/messages" > secret.txt 2>&1
env > env.txt
git add answer.txt refused.txt secret.txt env.txt && git commit -qm seen
"#;

#[test]
fn a_worker_on_a_host_that_relays_credentials_holds_a_placeholder_through_a_keeper_here() {
    let fakes = Fakes::new();
    let path = fakes.path().into_string().expect("PATH is UTF-8");
    let logs = fakes.log_dir().display().to_string();
    let remote = crate::common::Remote::with_login(|_, _| {
        vec![("PATH".into(), path), ("VNX_FAKE_LOG_DIR".into(), logs)]
    });
    let repo = &remote.repo;
    remote.declare_with(
        "relayed",
        env!("CARGO_BIN_EXE_vnx"),
        "    credentials: relay\n",
    );
    std::fs::write(repo.env.path().join("probe.sh"), HOST_PROBE).unwrap();
    repo.env.git(&["add", "probe.sh"]);
    repo.env.git(&["commit", "-qm", "probe"]);
    // The host's vnx reads its own clone's configuration.
    let there = remote.clone_dir().join(".vnx/config.yaml");
    let mut config = std::fs::read_to_string(&there).unwrap();
    config.push_str("roles:\n  implementer:\n    allow: [\"sh -c\"]\n");
    std::fs::write(&there, config).unwrap();
    // doctor sees the host's vnx carry the tunnel.
    let r = crate::common::run(repo.vnx().args(["doctor", "--host", "relayed", "--json"]));
    let doctor: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let check = (doctor["checks"].as_array().unwrap().iter())
        .find(|c| c["name"] == "credential relay")
        .unwrap_or_else(|| panic!("{doctor:#}"));
    assert_eq!(check["ok"], true, "{check}");
    let (port, seen) = provider();
    let base = format!("http://127.0.0.1:{port}");
    let id = "D-6b3y000000h0";
    let mut cmd = repo.vnx();
    cmd.env("ANTHROPIC_API_KEY", KEY)
        .env("ANTHROPIC_BASE_URL", &base)
        .args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--id", id, "--deadline", "60", "--provider", "claude"])
        .args(["--lane", "headless", "--permission", "edits"])
        .args(["--host", "relayed", "--instruction"])
        .arg(
            "probe the relay\n@fake run sh -c 'sh probe.sh'\n\
             @fake run vnx report --status done --summary probed",
        );
    let r = crate::common::run(cmd);
    let worker_log = remote
        .clone_dir()
        .join(format!(".vnx-data/dispatches/{id}/worker.log"));
    assert_eq!(
        completion(&r)["status"],
        "done",
        "{}\n{}",
        r.stderr,
        std::fs::read_to_string(worker_log).unwrap_or_default()
    );
    let file = |name: &str| repo.on_branch(id, name);
    assert!(
        file("answer.txt").contains("hello from the provider"),
        "{}",
        file("answer.txt")
    );
    assert_eq!(file("refused.txt"), "401");
    // The egress policy still runs on what leaves: a private key is refused here.
    assert_eq!(file("secret.txt"), "403");
    let heads = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].contains(&format!("x-api-key: {}\r\n", KEY.to_lowercase())),
        "{heads:?}"
    );
    let env = file("env.txt");
    assert!(env.contains("ANTHROPIC_API_KEY=vnx-relay-"), "{env}");
    assert!(
        env.contains("ANTHROPIC_BASE_URL=http://127.0.0.1:"),
        "{env}"
    );
    assert!(!env.contains(KEY), "{env}");
    // The keeper ends once its dispatch has ended here, and the key is in no file here.
    let keys = repo.env.path().join(".vnx-data/remote/keys/relayed");
    let log = keys.join("log");
    assert!(
        crate::common::wait_for(|| std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("every dispatch it served has ended")),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let data = repo.env.path().join(".vnx-data");
    assert_eq!(holding(&data, KEY), Vec::<std::path::PathBuf>::new());
}
