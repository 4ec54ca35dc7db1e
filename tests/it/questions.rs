//! A worker that ends its turn with a question and no report (needs_input): the question in
//! `wait`, `status`, `show`, the dashboard's LAST ACTIVITY and the notification; and its log
//! read as a transcript by `show --log` (the command it ran, no raw JSON), `--raw` keeping
//! the events.

use std::os::unix::fs::PermissionsExt;

use vnx::dashboard::{Snapshot, Sources};

use crate::common::{Fakes, Repo, completion, configure, ledger_path, run};

const QUESTION: &str = "Should I also update the documentation?";

#[test]
fn a_question_is_shown_wherever_the_dispatch_is() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let notes = repo.env.home().join("notes.txt");
    let script = repo.env.home().join("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1|$2|$3|$VNX_MESSAGE\" >> {}\n",
            notes.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        &repo,
        &format!(
            "notify: [\"{}\", \"{{id}}\", \"{{state}}\", \"{{message}}\"]\n",
            script.display()
        ),
    );
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args([
            "--deadline",
            "60",
            "--provider",
            "claude",
            "--lane",
            "headless",
        ])
        .args(["--instruction", "Look first.\n@fake run echo hi\n@fake ask"]);
    let r = run(cmd);
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{c}");
    let id = c["dispatch_id"].as_str().unwrap().to_owned();

    let wait = run(repo.vnx().args(["wait", &id]));
    assert!(
        wait.stdout.contains(&format!("{id}  asks: {QUESTION}")),
        "{}",
        wait.stdout
    );
    let status = run(repo.vnx().arg("status"));
    assert!(
        status.stdout.contains(&format!("\n  asks: {QUESTION}\n")),
        "{}",
        status.stdout
    );
    let json = run(repo.vnx().args(["status", &id, "--json"]));
    let states: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(states[0]["question"], QUESTION, "{states}");
    let show = run(repo.vnx().args(["show", &id]));
    assert!(
        show.stdout
            .contains(&format!("\n  asks       {QUESTION}\n")),
        "{}",
        show.stdout
    );

    // The dashboard's LAST ACTIVITY.
    let sources = Sources {
        root: repo.env.path().to_owned(),
        ledger: ledger_path(&repo),
        tmux: repo.server.0.clone(),
    };
    let snap = Snapshot::load(&sources, None, None).unwrap();
    let row = snap.rows.iter().find(|r| r.state.id == id).unwrap();
    assert_eq!(row.activity, format!("asks: {QUESTION}"));

    // The notification of needs_input carries the question.
    assert!(crate::common::wait_for(|| {
        std::fs::read_to_string(&notes)
            .unwrap_or_default()
            .contains(&format!("{id}|needs_input|{QUESTION}|{QUESTION}"))
    }));

    // The log as a transcript: the command it ran and the question, no JSON events.
    let log = run(repo.vnx().args(["show", &id, "--log"]));
    assert_eq!(log.code, 0, "{}", log.stderr);
    assert!(
        log.stdout.lines().any(|l| l == "$       echo hi"),
        "{}",
        log.stdout
    );
    assert!(
        log.stdout.contains(&format!("says    {QUESTION}")),
        "{}",
        log.stdout
    );
    assert!(!log.stdout.contains("{\"type\""), "{}", log.stdout);
    let raw = run(repo.vnx().args(["show", &id, "--log", "--raw"]));
    assert!(
        raw.stdout.contains("{\"type\":\"result\""),
        "{}",
        raw.stdout
    );
}

/// claude's TUI, its default lane, ends its turn with a question: its `Stop` hook carries the
/// last message (`last_assistant_message`, as claude 2.1.197 sends it), which is the question
/// `status`, `show`, `--json` and `wait` show.
#[test]
fn a_claude_tui_question_is_shown_too() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args([
            "--deadline",
            "60",
            "--provider",
            "claude",
            "--lane",
            "interactive",
        ])
        .args([
            "--instruction",
            "Look first.\n@fake write a.txt hi\n@fake ask",
        ]);
    let c = completion(&run(cmd));
    assert_eq!(c["status"], "needs_input", "{c}");
    assert_eq!(c["cli_events"]["last_message"], QUESTION, "{c}");
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let status = run(repo.vnx().arg("status"));
    assert!(
        status.stdout.contains(&format!("\n  asks: {QUESTION}\n")),
        "{}",
        status.stdout
    );
    let show = run(repo.vnx().args(["show", &id]));
    assert!(
        show.stdout
            .contains(&format!("\n  asks       {QUESTION}\n")),
        "{}",
        show.stdout
    );
    let wait = run(repo.vnx().args(["wait", &id]));
    assert!(
        wait.stdout.contains(&format!("{id}  asks: {QUESTION}")),
        "{}",
        wait.stdout
    );
    // In a person's words: no internal name of the signal.
    assert!(
        wait.stdout.contains("needs_input (turn ended)"),
        "{}",
        wait.stdout
    );
    assert!(!wait.stdout.contains("claude_stop_hook"), "{}", wait.stdout);
}
