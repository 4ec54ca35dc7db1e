//! `vnx dismiss ID`: a question a person will not answer is closed with a signed
//! `dispatch_dismissed`: the dispatch stays `needs_input` but waits for no one (status, the
//! dashboard), its work stays; each refusal (not asking, dismissed already, continued); and a
//! question a follow-up answered no longer shows as asked.

use vnx::dashboard::{Snapshot, Sources};

use crate::common::{Fakes, Repo, completion, ledger_path, run};

const QUESTION: &str = "Should I also update the documentation?";

/// A stand-in claude dispatch that writes a file and ends with a question: its id.
fn asking(repo: &Repo, fakes: &Fakes) -> String {
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", "claude", "--lane", "headless"])
        .args([
            "--instruction",
            "Look first.\n@fake write a.txt hi\n@fake ask",
        ]);
    let c = completion(&run(cmd));
    assert_eq!(c["status"], "needs_input", "{c}");
    c["dispatch_id"].as_str().unwrap().to_owned()
}

fn waiting(repo: &Repo, id: &str) -> bool {
    let sources = Sources {
        root: repo.env.path().to_owned(),
        ledger: ledger_path(repo),
        tmux: repo.server.0.clone(),
    };
    let snap = Snapshot::load(&sources, None, None).unwrap();
    snap.rows
        .iter()
        .find(|r| r.state.id == id)
        .unwrap()
        .state
        .waiting()
}

#[test]
fn a_dismissed_question_waits_for_no_one_and_keeps_the_work() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let id = asking(&repo, &fakes);
    assert!(waiting(&repo, &id));
    let r = run(repo
        .vnx()
        .args(["dismiss", &id, "--note", "not needed\u{1b}[31m", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let receipt: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(receipt["question"], QUESTION, "{receipt}");
    let on_ledger = repo
        .receipts(&id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_dismissed")
        .expect("dispatch_dismissed on the ledger");
    assert!(on_ledger["vnx_attestation"].is_object(), "{on_ledger}");
    assert_eq!(on_ledger["by"], receipt["by"]);
    repo.verify_ok();

    assert!(!waiting(&repo, &id), "a dismissed question still waits");
    let status = run(repo.vnx().arg("status"));
    assert!(!status.stdout.contains("asks:"), "{}", status.stdout);
    assert!(
        status.stdout.contains("  dismissed by "),
        "{}",
        status.stdout
    );
    assert!(!status.stdout.contains('\u{1b}'), "{:?}", status.stdout);
    let json = run(repo.vnx().args(["status", &id, "--json"]));
    let states: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(states[0]["status"], "needs_input", "{states}");
    assert_eq!(states[0]["dismissed"]["note"], "not needed\u{1b}[31m");
    let show = run(repo.vnx().args(["show", &id]));
    assert!(
        show.stdout.contains("\n  dismissed  by "),
        "{}",
        show.stdout
    );
    // The work stays: the kept worktree holds the worker's file.
    let file = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{id}/a.txt"));
    assert_eq!(std::fs::read_to_string(file).unwrap(), "hi\n");

    // Again: refused, the question is settled.
    let again = run(repo.vnx().args(["dismiss", &id]));
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("question is settled already: dismissed by"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("hint: "), "{}", again.stderr);
}

#[test]
fn only_an_open_question_is_dismissed_and_an_answered_one_no_longer_shows() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    // A dispatch that reported done asks nothing.
    let done = completion(&repo.dispatch("commit", &["--instruction", "add a greeting"]));
    let done = done["dispatch_id"].as_str().unwrap();
    let r = run(repo.vnx().args(["dismiss", done]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("it asks nothing to dismiss"),
        "{}",
        r.stderr
    );
    // An unknown id is a usage error.
    let r = run(repo.vnx().args(["dismiss", "D-ffffffffffff"]));
    assert_eq!(r.code, 2, "{}", r.stderr);

    // A follow-up answers the question: it no longer shows as asked, and there is nothing to
    // dismiss.
    let id = asking(&repo, &fakes);
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args(["follow-up", &id, "--json", "--instruction"])
        .arg("Yes.\n@fake run vnx report --status done --summary docs too");
    let f = completion(&run(cmd));
    assert!(f["dispatch_id"].is_string(), "{f}");
    // (The follow-up, which ended without a report too, asks its own question.)
    let status = run(repo.vnx().arg("status"));
    assert!(
        !status.stdout.contains(&format!("asks: {QUESTION}")),
        "{}",
        status.stdout
    );
    let r = run(repo.vnx().args(["dismiss", &id]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("question is settled already: continued by"),
        "{}",
        r.stderr
    );
}
