//! The real CLIs past their first turn: a TUI blocked on a permission prompt that goes on
//! when the prompt is answered, a cancel that leaves nothing of the CLI behind, and
//! follow-ups that continue the same session (of a question, and of a blocked dispatch).

use super::{
    Rig, asks_before_committing, blocked_then_resumed_then_completed, compliant, explain, in_lane,
    processes_in, step,
};
use crate::common::{completion, run};

/// `vnx status --json`'s entry for one dispatch.
fn status_of(rig: &Rig, id: &str) -> serde_json::Value {
    let r = run(rig.repo.vnx().args(["status", "--json"]));
    let all: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap_or_default();
    all.into_iter()
        .find(|s| s["dispatch_id"] == id)
        .unwrap_or_default()
}

/// Seconds since the epoch of an RFC 3339 time as the model server logs it.
fn epoch(time: &str) -> f64 {
    let t: jiff::Timestamp = time.parse().unwrap();
    t.as_millisecond() as f64 / 1000.0
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_tuis_block_on_a_permission_prompt_and_go_on_when_it_is_answered() {
    let rig = Rig::new();
    let mut figures = Vec::new();
    for cli in ["claude", "gemini", "codex"] {
        let at = step(cli, "interactive", "permission prompt");
        let marker = format!("{cli} asks before committing");
        let file = format!("{cli}-blocked.txt");
        let instruction = asks_before_committing(cli, &marker, &file);
        let id = rig.detach(cli, "interactive", 300, &instruction);
        // Blocked, naming the command, within seconds: `vnx wait --until-blocked` returns.
        let mut waiter = rig.repo.vnx();
        waiter.args(["wait", "--until-blocked", "--json", &id]);
        let r = run(waiter);
        let blocked_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let blocked: serde_json::Value = serde_json::from_str(r.stdout.trim())
            .unwrap_or_else(|e| panic!("{at} {e}: {} {}", r.stdout, r.stderr));
        let blocked = crate::common::settled_receipt(blocked);
        assert_eq!(
            blocked["event_type"],
            "dispatch_blocked",
            "{at} {}",
            explain(&blocked)
        );
        assert_eq!(blocked["waiting_for"], "permission", "{at} {blocked}");
        assert!(
            blocked["command"]
                .as_str()
                .is_some_and(|c| c.contains("git add -A") || c.contains("git")),
            "{at} the receipt names the command: {blocked}"
        );
        let status = status_of(&rig, &id);
        assert_eq!(status["status"], "blocked", "{at} {status}");
        // It stays blocked while the dialog stands: codex's title thread ends its own turn
        // (`notify`) meanwhile, which is not the dispatch's.
        std::thread::sleep(std::time::Duration::from_secs(3));
        let status = status_of(&rig, &id);
        assert_eq!(status["status"], "blocked", "{at} held: {status}");
        assert!(
            !rig.repo
                .receipts(&id)
                .iter()
                .any(|r| r["event_type"] == "dispatch_resumed"),
            "{at} resumed while its dialog stood"
        );
        // From the model's answer that asked for the commit to `status` saying blocked.
        let asked = rig
            .server
            .requests()
            .iter()
            .filter(|q| {
                q["answer"]["args"].to_string().contains("git add -A")
                    && q["body"].to_string().contains(&marker)
            })
            .filter_map(|q| q["time"].as_str().map(epoch))
            .next_back()
            .unwrap_or(blocked_at);
        figures.push(format!("{cli}: {:.1} s", blocked_at - asked));

        // A person answers "yes" in the pane; the worker goes on and completes.
        let session = format!("vnx-{id}");
        rig.repo
            .server
            .send_keys(&session, &[if cli == "codex" { "y" } else { "1" }]);
        let resumed = crate::common::wait_for(|| {
            rig.repo
                .receipts(&id)
                .iter()
                .any(|r| r["event_type"] == "dispatch_resumed")
        });
        if !resumed {
            rig.repo.server.send_keys(&session, &["Enter"]);
        }
        let r = run(rig.repo.vnx().args(["wait", "--json", &id]));
        let c = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
        assert_eq!(c["status"], "done", "{at} {}", explain(&c));
        assert_eq!(c["teardown_class"], "committed", "{at} {}", explain(&c));
        assert_eq!(
            rig.repo.on_branch(&id, &file),
            format!("{marker}\n"),
            "{at}"
        );
        blocked_then_resumed_then_completed(&rig.repo, &id, &at);
    }
    eprintln!("prompt to blocked: {}", figures.join(", "));
    rig.repo.verify_ok();
    assert!(rig.repo.server.sessions_end(), "no tmux session left");
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn cancel_leaves_nothing_of_a_real_cli_behind() {
    let rig = Rig::new();
    for (cli, lane) in [
        ("claude", "interactive"),
        ("codex", "interactive"),
        ("gemini", "headless"),
    ] {
        let at = step(cli, lane, "cancel");
        let id = rig.detach(cli, lane, 120, &format!("{at}\n\\@model sleep 60"));
        let wt = rig.worktree(&id);
        // Wait until the CLI is up and waiting for its model.
        let up = std::time::Instant::now();
        while processes_in(&wt).is_empty() && up.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
        let r = run(rig.repo.vnx().args(["cancel", "--json", &id]));
        assert_eq!(r.code, 0, "{at} {}{}", r.stdout, r.stderr);
        let c = completion(&r);
        assert_eq!(c["status"], "cancelled", "{at} {}", explain(&c));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let left = processes_in(&wt);
        assert!(
            left.is_empty(),
            "{at} processes outlived the cancel: {left:?}"
        );
        let tmp = rig
            .repo
            .env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/tmp"));
        assert!(!tmp.exists(), "{at} the dispatch's temp dir is gone");
        assert!(
            crate::common::wait_for(|| !rig.repo.server.0.has_session(&format!("vnx-{id}"))),
            "{at} its session is gone"
        );
    }
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_clis_follow_up_a_question_in_the_same_session() {
    let rig = Rig::new();
    for lane in ["headless", "interactive"] {
        for cli in ["claude", "codex", "gemini"] {
            let asked = format!("first turn of {cli} {lane}");
            let r = rig.dispatch(cli, lane, &format!("{asked}\n\\@model ask"));
            let at = step(cli, lane, "question");
            let c = completion(&r);
            assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
            let id = c["dispatch_id"].as_str().unwrap().to_owned();
            let session = c["session_id"].as_str().unwrap_or_default().to_owned();
            assert!(!session.is_empty(), "{at} no session id: {c}");

            // The answer: a follow-up that writes, tries to commit and reports.
            let marker = format!("follow-up of {cli} {lane}");
            let file = format!("{cli}-{lane}-followed.txt");
            let instruction = in_lane(cli, lane, &marker, &file, "answered");
            let r = rig.follow_up(&id, &instruction);
            let at = step(cli, lane, "follow-up");
            let f = completion(&r);
            assert_eq!(f["status"], "done", "{at} {}", explain(&f));
            assert_eq!(f["teardown_class"], "committed", "{at} {}", explain(&f));
            let next = f["dispatch_id"].as_str().unwrap();
            let continues = rig
                .repo
                .receipts(next)
                .into_iter()
                .find(|r| r["event_type"] == "dispatch_started")
                .unwrap()["continues"]
                .clone();
            assert_eq!(continues["dispatch_id"], id.as_str(), "{at} {continues}");
            if (cli, lane) == ("gemini", "interactive") {
                // gemini's TUI loses a resumed session's new prompt (see
                // `Provider::resumes_sessions`): a new session, told the earlier instruction.
                assert!(continues["session_id"].is_null(), "{at} {continues}");
            } else {
                assert_eq!(continues["session_id"], session.as_str(), "{at}");
                assert_eq!(f["session_id"].as_str(), Some(session.as_str()), "{at}");
            }
            assert_eq!(
                rig.repo.on_branch(&id, &file),
                format!("{marker}\n"),
                "{at}"
            );
            // The model server saw the earlier turn in the follow-up's requests.
            let saw_both = rig.server.requests().iter().any(|req| {
                let body = req["body"].to_string();
                body.contains(&marker) && body.contains(&asked)
            });
            assert!(saw_both, "{at} no request held both turns");
        }
    }
    rig.repo.verify_ok();
    assert!(rig.repo.server.sessions_end(), "no tmux session left");
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_claude_follow_up_of_a_blocked_dispatch_resumes_its_session() {
    let rig = Rig::new();
    let at = step("claude", "interactive", "follow-up of a blocked dispatch");
    let marker = "claude blocked before the follow-up";
    let id = rig.detach(
        "claude",
        "interactive",
        300,
        &compliant(marker, "first.txt", "first"),
    );
    let r = run(rig.repo.vnx().args(["wait", "--until-blocked", &id]));
    assert_eq!(r.code, 1, "{at} {}", r.stdout);
    let second = "the follow-up instead of an answer";
    let mut cmd = rig.vnx();
    cmd.args(["follow-up", &id, "--json", "--lane", "headless", "--deadline", "120"])
        .args([
            "--instruction",
            &format!(
                "{second}\n\\@model write second.txt {second}\n\\@model run vnx report --status done --summary second\n\\@model say Done."
            ),
        ]);
    let r = run(cmd);
    let f = completion(&r);
    assert_eq!(f["status"], "done", "{at} {} {}", explain(&f), r.stderr);
    let first = rig
        .repo
        .receipts(&id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_completed")
        .unwrap();
    assert_eq!(first["status"], "cancelled", "{at}");
    assert!(first["session_id"].is_string(), "{at} {first}");
    assert_eq!(
        f["session_id"], first["session_id"],
        "{at} the same session"
    );
    let saw_both = rig.server.requests().iter().any(|req| {
        let body = req["body"].to_string();
        body.contains(marker) && body.contains(second)
    });
    assert!(saw_both, "{at} no request held both turns");
    // Both runs' files are on the branch: the cancelled one's, uncommitted, went into the
    // follow-up's commit.
    assert_eq!(rig.repo.on_branch(&id, "first.txt"), format!("{marker}\n"));
    assert_eq!(rig.repo.on_branch(&id, "second.txt"), format!("{second}\n"));
    rig.repo.verify_ok();
}
