//! The supervisor against hostile workers and bad input: a report written for another
//! dispatch is refused (reports are sealed to their worker), an oversized report is not read
//! and the completion still lands, and deadlines outside 1 s..30 days are usage errors.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::{Repo, completion, run};

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Declares providers named after the scripts, each run with the prompt file.
fn declare(repo: &Repo, scripts: &[(&str, &Path)]) {
    let mut yaml = String::from("providers:\n");
    for (name, bin) in scripts {
        yaml.push_str(&format!(
            "  {name}:\n    binary: {}\n    headless:\n      argv: [\"{{prompt_file}}\"]\n      prompt: file\n      completion: report\n    permissions:\n      edits: []\n",
            bin.display()
        ));
    }
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&yaml);
    std::fs::write(&config, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "declare providers"]);
}

fn dispatch(repo: &Repo, provider: &str, extra: &[&str]) -> crate::common::Run {
    run(repo
        .vnx()
        .args([
            "dispatch-agent",
            "--agent",
            "implementer",
            "--provider",
            provider,
        ])
        .args(["--instruction", "work", "--json"])
        .args(extra))
}

#[test]
fn a_worker_cannot_report_for_another_dispatch() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let flag = tools.path().join("impostor-done");
    let victim_dir = repo
        .env
        .path()
        .canonicalize()
        .unwrap()
        .join(".vnx-data/dispatches/D-0000000b");
    // B commits work and waits until the impostor has struck, then exits without reporting.
    let waiter = tools.path().join("waiter");
    script(
        &waiter,
        &format!(
            "echo b > b.txt && git add b.txt && git commit -qm b\n\
             while [ ! -f {flag} ]; do sleep 0.05; done\nexit 0",
            flag = flag.display()
        ),
    );
    // A reports done on B's behalf, with B's id and directory.
    let impostor = tools.path().join("impostor");
    script(
        &impostor,
        &format!(
            "echo a > a.txt\nVNX_DISPATCH_ID=D-0000000b VNX_DISPATCH_DIR={dir} vnx report --status done \
             --summary hijacked\necho \"impostor report exit $?\"\n\
             vnx report --status done --summary 'my own work'\ntouch {flag}",
            dir = victim_dir.display(),
            flag = flag.display()
        ),
    );
    declare(&repo, &[("waiter", &waiter), ("impostor", &impostor)]);
    let b = dispatch(&repo, "waiter", &["--id", "D-0000000b", "--detach"]);
    assert_eq!(b.code, 0, "{}{}", b.stdout, b.stderr);
    let a = dispatch(&repo, "impostor", &[]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert!(flag.exists());
    let a = completion(&a);
    assert_eq!(a["status"], "done", "A's own report counts: {a}");

    let r = run(repo.vnx().args(["wait", "D-0000000b", "--json"]));
    let c = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    assert_eq!(c["status"], "needs_input", "B never reported: {c}");
    assert_eq!(c["teardown_class"], "committed", "{c}");
    assert!(c.get("report").is_none(), "{c}");
    assert!(
        c["report_rejected"]
            .as_str()
            .unwrap()
            .contains("does not carry this dispatch's seal"),
        "{c}"
    );
    let merge = run(repo
        .vnx()
        .args(["merge", "D-0000000b", "--check", "--json"]));
    assert_eq!(merge.code, 1, "{}", merge.stdout);
    assert!(
        merge.stdout.contains("ended needs_input, not done"),
        "{}",
        merge.stdout
    );
    repo.verify_ok();
}

#[test]
fn an_oversized_report_is_not_read_and_the_completion_still_lands() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bloater = tools.path().join("bloater");
    // A 3 MB summary written straight into report.json, around `vnx report`.
    script(
        &bloater,
        "echo work > w.txt\n\
         python3 -c 'import json,os; json.dump({\"dispatch_id\": os.environ[\"VNX_DISPATCH_ID\"], \
         \"status\": \"done\", \"summary\": \"x\" * 3000000, \"reported_at\": \"now\"}, \
         open(os.environ[\"VNX_DISPATCH_DIR\"] + \"/report.json\", \"w\"))'",
    );
    declare(&repo, &[("bloater", &bloater)]);
    let r = dispatch(&repo, "bloater", &[]);
    let c = completion(&r);
    assert_eq!(c["event_type"], "dispatch_completed", "{c}");
    assert_eq!(c["status"], "needs_input", "{c}");
    assert_eq!(c["teardown_class"], "dirty", "the work is kept: {c}");
    assert!(
        c["report_rejected"]
            .as_str()
            .unwrap()
            .contains("over the limit of 262144"),
        "{c}"
    );
    let line_len = std::fs::read_to_string(crate::common::ledger_path(&repo))
        .unwrap()
        .lines()
        .map(str::len)
        .max()
        .unwrap();
    assert!(line_len < 64 * 1024, "{line_len}");
    repo.verify_ok();
}

#[test]
fn deadlines_outside_one_second_to_thirty_days_are_usage_errors() {
    let repo = Repo::new();
    for deadline in ["0", "18446744073709551615", "2592001", "=-1"] {
        let r = run(repo
            .dispatch_cmd("noop")
            .args(["--instruction", "x"])
            .arg(format!(
                "--deadline{}",
                if deadline.starts_with('=') {
                    deadline.to_owned()
                } else {
                    format!("={deadline}")
                }
            )));
        assert_eq!(r.code, 2, "--deadline {deadline}: {}", r.stderr);
        assert!(r.stderr.contains("--deadline"), "{}", r.stderr);
    }
    assert_eq!(repo.branches(), "");
    assert!(
        !repo.env.path().join(".vnx-data/dispatches").exists()
            || std::fs::read_dir(repo.env.path().join(".vnx-data/dispatches"))
                .unwrap()
                .next()
                .is_none()
    );
    let r = repo.dispatch("commit", &["--instruction", "x", "--deadline", "2592000"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(completion(&r)["status"], "done");
}

#[test]
fn a_completion_the_ledger_could_not_take_is_appended_by_the_next_command() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let data = repo.env.path().canonicalize().unwrap().join(".vnx-data");
    // The worker does its work, then leaves the ledger's directory unusable (a file in its
    // place: root ignores read-only modes) as a full disk would.
    let breaker = tools.path().join("breaker");
    script(
        &breaker,
        &format!(
            "echo w > w.txt && git add w.txt && git commit -qm w\n\
             vnx report --status done --summary 'committed w'\n\
             mv {d}/state {d}/state.aside && echo unusable > {d}/state",
            d = data.display()
        ),
    );
    declare(&repo, &[("breaker", &breaker)]);
    let r = dispatch(&repo, "breaker", &["--detach", "--completion-retry", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    let id = id["dispatch_id"].as_str().unwrap().to_owned();
    // The supervisor retries, gives up, and leaves the completion pending.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !repo.server.sessions_end() {
        assert!(
            std::time::Instant::now() < give_up,
            "the supervisor never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pending = data.join(format!("pending/{id}.ndjson"));
    assert!(pending.is_file(), "the completion is kept on disk");
    // Space is freed: the next command finishes the job, once. `wait` does not call the
    // dispatch lost while its completion is pending.
    std::fs::remove_file(data.join("state")).unwrap();
    std::fs::rename(data.join("state.aside"), data.join("state")).unwrap();
    let waited = run(repo.vnx().args(["wait", &id, "--json"]));
    assert_eq!(waited.code, 0, "{}{}", waited.stdout, waited.stderr);
    assert!(
        waited
            .stderr
            .contains(&format!("appended {id}'s completion")),
        "{}",
        waited.stderr
    );
    let c: serde_json::Value = serde_json::from_str(waited.stdout.trim()).unwrap();
    assert_eq!(c["status"], "done", "{c}");
    let status = run(repo.vnx().args(["status", "--json"]));
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(!status.stderr.contains("appended"), "{}", status.stderr);
    assert!(!pending.exists());
    let states: serde_json::Value = serde_json::from_str(status.stdout.trim()).unwrap();
    let state = states
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["dispatch_id"] == id.as_str())
        .unwrap();
    assert_eq!(state["status"], "done", "{state}");
    let completions = repo
        .receipts(&id)
        .iter()
        .filter(|r| r["event_type"] == "dispatch_completed")
        .count();
    assert_eq!(completions, 1);
    let again = run(repo.vnx().args(["status"]));
    assert!(!again.stderr.contains("appended"), "{}", again.stderr);
    repo.verify_ok();
}

#[test]
fn a_pending_completion_a_worker_planted_is_never_appended() {
    let repo = Repo::new();
    let pending = repo.env.path().join(".vnx-data/pending");
    std::fs::create_dir_all(&pending).unwrap();
    std::fs::write(
        pending.join("D-0000dead.ndjson"),
        r#"{"event_type":"dispatch_completed","dispatch_id":"D-0000dead","status":"done"}"#,
    )
    .unwrap();
    let r = run(repo.vnx().args(["status"]));
    assert!(
        r.stderr.contains(
            "D-0000dead was not appended (refused: a receipt carries no vnx attestation)"
        ),
        "{}",
        r.stderr
    );
    let ledger = std::fs::read_to_string(crate::common::ledger_path(&repo)).unwrap_or_default();
    assert!(!ledger.contains("D-0000dead"));
    assert!(
        pending.join("D-0000dead.ndjson").exists(),
        "left for a person to see"
    );
}
