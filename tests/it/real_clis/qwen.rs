//! The real qwen (Qwen Code 0.15.10) driven by `vnx dispatch-agent --provider qwen`, offline
//! against the scripted model server, headless in vnx's default posture (`edits`, qwen's
//! `auto-edit`): its work done and reported, the command the role allows run, `git commit`
//! declined, vnx committing; an HTTP 500, after which qwen exits 0, a failure; a question
//! followed up in the same session.

use super::{Rig, committed_by_vnx, compliant, explain, step};
use crate::common::{completion, configure, run};

#[test]
#[ignore = "needs the real qwen (~53 MB from npm, tests/support/install-clis.sh)"]
fn real_qwen_headless_writes_runs_reports_and_vnx_commits() {
    let rig = Rig::new();
    configure(
        &rig.repo,
        "roles:\n  implementer:\n    allow: [\"python3 -c\"]\n",
    );
    let at = step("qwen", "headless", "write, run, try to commit, report");
    let marker = "real qwen headless";
    let file = "qwen-headless.txt";
    // The role's command runs unasked; its output reaches the model.
    let instruction = compliant(marker, file, "wrote-it").replacen(
        "\n\\@model run git add",
        "\n\\@model run python3 -c \"print('RAN-' + 'BY-QWEN')\"\n\\@model run git add",
        1,
    );
    let r = rig.dispatch("qwen", "headless", &instruction);
    let c = completion(&r);
    assert_eq!(r.code, 0, "{at} {}", explain(&c));
    let id = committed_by_vnx(&rig.repo, &c, &at, ("qwen", "headless"), marker, file);
    assert_eq!(c["exit_code"], 0, "{at} {c}");
    let events = &c["cli_events"];
    assert_eq!(events["verdict"]["status"], "success", "{at} {events}");
    // write, python3, git commit (declined), vnx report.
    assert_eq!(events["tool_calls"], 4, "{at} {events}");
    assert_eq!(events["permission_denials"], 1, "{at} {events}");
    assert_eq!(events["last_message"], "Wrote it.", "{at} {events}");
    assert_eq!(events["session_id"], c["session_id"], "{at} {events}");
    let seen: String = rig
        .server
        .requests()
        .iter()
        .map(|r| r.to_string())
        .filter(|r| r.contains(marker))
        .collect();
    assert!(
        seen.contains("RAN-BY-QWEN"),
        "{at} the allowed command did not run"
    );
    // The started receipt names qwen's own posture and allow rule.
    let started = &rig.repo.receipts(&id)[0];
    assert_eq!(started["permission"], "edits", "{at} {started}");
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real qwen (~53 MB from npm, tests/support/install-clis.sh)"]
fn real_qwen_http_500_fails_though_it_exits_0() {
    let rig = Rig::new();
    let at = step("qwen", "headless", "HTTP 500");
    // qwen retries a 500 for about 100 s before it gives up.
    let mut cmd = rig.repo.vnx();
    cmd.env("PATH", &rig.path)
        .envs(rig.env.iter().map(|(k, v)| (k, v)))
        .args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args([
            "--provider",
            "qwen",
            "--lane",
            "headless",
            "--deadline",
            "400",
        ])
        .args(["--instruction", "qwen fails\n\\@model fail 500"]);
    let r = run(cmd);
    let c = completion(&r);
    assert_eq!(c["status"], "failed", "{at} {}", explain(&c));
    assert_eq!(r.code, 1, "{at}");
    // qwen exited 0: the verdict is its events'.
    assert_eq!(c["exit_code"], 0, "{at} {c}");
    let reason = c["failure_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("500") && reason.contains("scripted failure"),
        "{at} {reason}"
    );
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real qwen (~53 MB from npm, tests/support/install-clis.sh)"]
fn real_qwen_question_then_a_follow_up_in_the_same_session() {
    let rig = Rig::new();
    let asked = "first turn of qwen headless";
    let r = rig.dispatch("qwen", "headless", &format!("{asked}\n\\@model ask"));
    let at = step("qwen", "headless", "question");
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
    assert_eq!(
        c["cli_events"]["last_message"], "Should I also update the documentation?",
        "{at} {c}"
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let session = c["session_id"].as_str().unwrap_or_default().to_owned();
    assert!(!session.is_empty(), "{at} no session id: {c}");

    let marker = "follow-up of qwen headless";
    let file = "qwen-followed.txt";
    let mut cmd = rig.repo.vnx();
    cmd.env("PATH", &rig.path)
        .envs(rig.env.iter().map(|(k, v)| (k, v)))
        .args(["follow-up", &id, "--json", "--deadline", "120"])
        .args(["--instruction", &compliant(marker, file, "answered")]);
    let r = run(cmd);
    let at = step("qwen", "headless", "follow-up");
    let f = completion(&r);
    assert_eq!(f["status"], "done", "{at} {}", explain(&f));
    assert_eq!(f["session_id"].as_str(), Some(session.as_str()), "{at} {f}");
    let next = f["dispatch_id"].as_str().unwrap();
    let started = rig
        .repo
        .receipts(next)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap();
    assert_eq!(started["continues"]["session_id"], session.as_str(), "{at}");
    // The model server saw the earlier turn in the follow-up's requests.
    let saw_both = rig.server.requests().iter().any(|req| {
        let body = req["body"].to_string();
        body.contains(marker) && body.contains(asked)
    });
    assert!(saw_both, "{at} no request held both turns");
    rig.repo.verify_ok();
}
