//! `vnx serve` in a real browser: Debian's Chromium, headless, driven by playwright-core
//! (tests/support/browser.mjs) at a phone's size, pairs through the QR code's address,
//! approves a blocked worker, answers a question whose title tries to script the page,
//! approves a plan from the list's row (another tab's transcript, scrolled to its start,
//! stays there through the redraw), comments on a line (a 44 px target, upright or on its
//! side; a desktop's lines stay dense) of a done dispatch's diff whose transcript opens at its
//! end and merges it after its gates, and sees a refused merge as an alert with its hint; the ledger then holds each receipt, naming the
//! device. A screenshot of each page at 390×844 and 1280×800 is kept in
//! `target/browser-artifacts/`.

use std::path::PathBuf;
use std::process::Command;

use crate::common::serve::Server;
use crate::common::{Fakes, Repo, configure, repo_dir, run, wait_for};

/// playwright-core's directory, installed by tests/support/install-playwright.sh.
fn playwright() -> Result<PathBuf, String> {
    let chromium =
        std::env::var_os("VNX_CHROMIUM").map_or("/usr/bin/chromium".into(), PathBuf::from);
    if !chromium.exists() {
        return Err(format!(
            "{} (Debian's chromium; bin/test --all installs it)",
            chromium.display()
        ));
    }
    let out = Command::new(repo_dir().join("tests/support/install-playwright.sh"))
        .output()
        .map_err(|e| format!("tests/support/install-playwright.sh: {e}"))?;
    let dir = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    if !out.status.success() || dir.is_empty() {
        return Err(format!(
            "playwright-core (tests/support/install-playwright.sh failed: {})",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(PathBuf::from(dir))
}

#[test]
#[ignore = "needs Chromium and playwright-core (bin/test --all installs them)"]
fn a_phone_pairs_approves_answers_and_merges() {
    let playwright = playwright().unwrap_or_else(|what| panic!("this test needs {what}"));
    let repo = Repo::new();
    configure(
        &repo,
        "gates:\n  strict: {kind: command, argv: [sh, -c, 'exit 1']}\nroles:\n  implementer: {gates: []}\n  reviewer: {gates: [strict]}\n",
    );
    let fakes = Fakes::new();
    let blocked = repo.dispatched_asking_claude(&fakes);
    let until_blocked = || run(repo.vnx().args(["wait", "--until-blocked", &blocked])).code == 1;
    assert!(wait_for(until_blocked), "it blocks");
    let title = "<script>alert('title')</script><img src=x onerror=alert('img')>";
    let r = repo.dispatch(
        "ask",
        &["--instruction", "which greeting?", "--title", title],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let asked = repo.events("dispatch_started")[1]["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = crate::common::completion(
        &repo.dispatch("commit", &["--plan", "--instruction", "plan a greeting"]),
    );
    let planned = c["dispatch_id"].as_str().unwrap().to_owned();
    let done = repo.dispatched("commit", false);
    // A worker that said much: its transcript is longer than the page shows at once.
    let log = repo
        .env
        .path()
        .join(format!(".vnx-data/dispatches/{done}/worker.log"));
    let mut said = std::fs::read_to_string(&log).unwrap_or_default();
    for n in 1..=120 {
        said.push_str(&format!("line {n} of what the worker said\n"));
    }
    std::fs::write(&log, said).unwrap();
    // Work whose gate fails: its merge is refused.
    let r = repo.dispatch_as("reviewer", "commit", &["--instruction", "x"]);
    let held = crate::common::completion(&r)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let server = Server::start(repo.vnx(), &[]);
    let artifacts = repo_dir().join("target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let out = Command::new("node")
        .arg(repo_dir().join("tests/support/browser.mjs"))
        .env("VNX_PLAYWRIGHT", &playwright)
        .env("VNX_BASE", format!("http://{}", server.addr))
        .env("VNX_CODE", &server.code)
        .env("VNX_BLOCKED", &blocked)
        .env("VNX_ASKED", &asked)
        .env("VNX_PLANNED", &planned)
        .env("VNX_DONE", &done)
        .env("VNX_HELD", &held)
        .env("VNX_ARTIFACTS", &artifacts)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("\"step\":\"end\""),
        "the browser's steps:\n{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let answered = repo.events("dispatch_answered");
    assert_eq!(answered.len(), 1, "{said}");
    assert!(
        answered[0]["by"]
            .as_str()
            .unwrap()
            .contains("via test phone (dev-")
    );
    let follow = repo.events("dispatch_started");
    let follow = follow
        .iter()
        .find(|s| s["continues"]["dispatch_id"].as_str() == Some(asked.as_str()))
        .expect("the answer started a follow-up");
    assert!(
        follow["started_by"]
            .as_str()
            .unwrap()
            .contains("via test phone")
    );
    assert_eq!(repo.events("merge_completed").len(), 1);
    let approved = repo.events("plan_approved");
    assert_eq!(approved.len(), 1, "{said}");
    assert_eq!(approved[0]["dispatch_id"], planned.as_str());
    let comments = repo.events("review_comment");
    assert_eq!(comments.len(), 1, "{said}");
    assert_eq!(comments[0]["body"], "Say which greeting this is.");
    assert!(
        comments[0]["by"]
            .as_str()
            .unwrap()
            .contains("via test phone")
    );
    for page in [
        "pair", "list", "blocked", "asked", "plan", "comment", "done",
    ] {
        assert!(
            artifacts.join(format!("{page}-390x844.png")).is_file(),
            "{page}"
        );
    }
    for page in ["list", "blocked", "asked", "plan", "done"] {
        assert!(
            artifacts.join(format!("{page}-1280x800.png")).is_file(),
            "{page}"
        );
    }
    repo.verify_ok();
}
