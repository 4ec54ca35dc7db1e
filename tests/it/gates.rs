//! `vnx gate-check` end to end with real git: command gates that pass, fail and time out in
//! a throwaway checkout of the recorded head; review gates played by the stand-in CLIs
//! (`vnx-fake-cli`) answering pass, fail, garbage, nothing, an error, or not in time; roles
//! without gates; the evidence triple tied by contract hashes; and the phantom guard.

use std::path::PathBuf;

use crate::common::{
    Fakes, Repo, committed, completion, configure, gate_check, gate_check_with, run,
};

/// The report's entry for one gate.
fn gate<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == name)
        .unwrap_or_else(|| panic!("no gate {name}: {report:#}"))
}

fn reasons(report: &serde_json::Value) -> String {
    report["reasons"].to_string()
}

fn data(repo: &Repo) -> PathBuf {
    repo.env.path().join(".vnx-data")
}

fn gate_checkouts(repo: &Repo) -> Vec<String> {
    repo.env
        .git(&["worktree", "list", "--porcelain"])
        .lines()
        .filter(|l| l.starts_with("worktree ") && l.contains("/gates/"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn command_gates_pass_fail_and_time_out_in_a_fresh_checkout_of_the_head() {
    let repo = Repo::new();
    configure(
        &repo,
        "gates:\n\
         \x20 sees-the-head: {kind: command, argv: [sh, -c, 'test -f demo-output.txt && echo \"head $VNX_HEAD_COMMIT\"']}\n\
         \x20 fails: {kind: command, argv: [sh, -c, 'echo broken >&2; exit 3']}\n\
         \x20 hangs: {kind: command, argv: [sleep, '30'], timeout: 1}\n\
         roles:\n\
         \x20 implementer: {gates: [sees-the-head, fails, hangs]}\n\
         \x20 docs: {gates: [sees-the-head]}\n",
    );
    let id = committed(&repo, "implementer");
    let head = repo.receipts(&id)[1]["head_commit"]
        .as_str()
        .unwrap()
        .to_owned();
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(report["decision"], "HOLD");
    assert_eq!(report["head_commit"], head.as_str());
    let ok = gate(&report, "sees-the-head");
    assert_eq!(ok["status"], "pass", "{ok:#}");
    let output = std::fs::read_to_string(ok["output_path"].as_str().unwrap()).unwrap();
    assert_eq!(output, format!("head {head}\n"));
    assert_eq!(ok["worktree_removed"], true);
    let fails = gate(&report, "fails");
    assert_eq!(fails["status"], "fail");
    assert_eq!(fails["exit"]["code"], 3);
    assert!(
        std::fs::read_to_string(fails["report_path"].as_str().unwrap())
            .unwrap()
            .contains("broken"),
        "the report shows the output"
    );
    let hangs = gate(&report, "hangs");
    assert_eq!(hangs["status"], "error", "a timeout is never a pass");
    assert!(
        hangs["reason"]
            .as_str()
            .unwrap()
            .contains("did not finish within 1 s"),
        "{hangs}"
    );
    assert!(
        reasons(&report)
            .contains("gate `fails`: fail: `sh -c echo broken >&2; exit 3` exited with status 3"),
        "{}",
        reasons(&report)
    );
    assert!(gate_checkouts(&repo).is_empty(), "the checkouts are gone");
    assert!(
        r.stderr.contains("gate hangs: running (command)"),
        "{}",
        r.stderr
    );

    // The evidence: request, result and report per gate, tied by the contract hash.
    let receipts = repo.receipts(&id);
    let events: Vec<&str> = receipts
        .iter()
        .map(|r| r["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(events.iter().filter(|e| **e == "gate_request").count(), 3);
    assert_eq!(events.iter().filter(|e| **e == "gate_result").count(), 3);
    assert_eq!(events.last(), Some(&"gate_report"));
    for name in ["sees-the-head", "fails", "hangs"] {
        let g = gate(&report, name);
        let hash = g["contract_hash"].as_str().unwrap();
        let of = |event: &str| {
            receipts
                .iter()
                .find(|r| r["event_type"] == event && r["gate"] == name)
                .unwrap()
        };
        assert_eq!(of("gate_request")["contract_hash"], hash);
        assert_eq!(of("gate_result")["contract_hash"], hash);
        assert_eq!(of("gate_result")["status"], g["status"]);
        let request = std::fs::read(of("gate_request")["request_path"].as_str().unwrap()).unwrap();
        assert_eq!(
            of("gate_request")["request_sha256"],
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&request))
        );
        let result: serde_json::Value =
            serde_json::from_slice(&std::fs::read(g["result_path"].as_str().unwrap()).unwrap())
                .unwrap();
        assert_eq!(result["contract_hash"], hash);
        let md = std::fs::read_to_string(g["report_path"].as_str().unwrap()).unwrap();
        assert!(md.contains(hash), "{md}");
    }
    let last = receipts.last().unwrap();
    assert_eq!(last["decision"], "HOLD");
    assert_eq!(last["gates"].as_array().unwrap().len(), 3);
    assert!(
        data(&repo)
            .join(format!(
                "gates/{id}/{}/report.json",
                report["run"].as_str().unwrap()
            ))
            .is_file()
    );

    // A role whose gates all pass is GO; the run is anchored by a checkpoint.
    let id = committed(&repo, "docs");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(report["decision"], "GO");
    let verify = run(repo.vnx().args(["audit-chain", "verify", "--strict"]));
    assert_eq!(verify.code, 0, "{}", verify.stdout);
}

#[test]
fn a_role_without_gates_holds_unless_it_says_so() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  docs: {gates: []}\n");
    let id = committed(&repo, "implementer");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 1);
    assert_eq!(report["decision"], "HOLD");
    assert!(
        reasons(&report).contains("role `implementer` names no gates"),
        "{report:#}"
    );
    assert_eq!(report["required"], serde_json::Value::Null);
    let id = committed(&repo, "docs");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{report:#}");
    assert_eq!(report["decision"], "GO");
    assert!(
        report["notes"][0]
            .as_str()
            .unwrap()
            .contains("requires no gates")
    );
    // Human output, and bad ids.
    let r = run(repo.vnx().args(["gate-check", &id]));
    assert!(
        r.stdout.starts_with(&format!("{id}  GO  role docs")),
        "{}",
        r.stdout
    );
    let r = run(repo.vnx().args(["gate-check", "../x"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(repo.vnx().args(["gate-check", "D-00000000"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is not on the ledger"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

#[test]
fn review_gates_count_only_a_well_formed_pass() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let say = |json: &str| format!("'@fake say {json}'");
    configure(
        &repo,
        &format!(
            "gates:\n\
             \x20 review-pass: {{kind: review, provider: claude, extra_instructions: {}}}\n\
             \x20 review-fail: {{kind: review, provider: codex, model: gpt-5.5, extra_instructions: {}}}\n\
             \x20 review-blocking-pass: {{kind: review, provider: gemini, extra_instructions: {}}}\n\
             \x20 review-garbage: {{kind: review, provider: gemini, extra_instructions: '@fake say garbage'}}\n\
             \x20 review-nothing: {{kind: review, provider: claude, extra_instructions: '@fake say'}}\n\
             \x20 review-error: {{kind: review, provider: codex, extra_instructions: '@fake fail'}}\n\
             \x20 review-slow: {{kind: review, provider: claude, timeout: 1, extra_instructions: '@fake sleep 30'}}\n\
             \x20 review-stalls: {{kind: review, provider: gemini, idle_timeout: 1, extra_instructions: '@fake sleep 30'}}\n\
             roles:\n\
             \x20 implementer: {{gates: [review-pass, review-fail, review-blocking-pass, review-garbage, review-nothing, review-error, review-slow, review-stalls]}}\n\
             \x20 docs: {{gates: [review-pass]}}\n",
            say(r#"{"verdict":"pass","findings":[{"severity":"minor","message":"nice"}]}"#),
            say(
                r#"{"verdict":"fail","findings":[{"severity":"major","message":"no tests","file":"demo-output.txt","line":1}]}"#
            ),
            say(
                r#"{"verdict":"pass","findings":[{"severity":"critical","message":"leaks a secret"}]}"#
            ),
        ),
    );
    let id = committed(&repo, "implementer");
    let (r, report) = gate_check_with(&repo, &id, |c| {
        c.env("PATH", fakes.path())
            .env("VNX_FAKE_LOG_DIR", fakes.log_dir());
    });
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(report["decision"], "HOLD");
    let expect = [
        ("review-pass", "pass", ""),
        (
            "review-fail",
            "fail",
            "the reviewer's verdict is fail (0 blocking, 1 major, 0 minor",
        ),
        (
            "review-blocking-pass",
            "fail",
            "passed it but reported 1 blocking",
        ),
        (
            "review-garbage",
            "error",
            "no JSON verdict in the reviewer's final message: garbage",
        ),
        ("review-nothing", "error", "no final message"),
        (
            "review-error",
            "error",
            "the reviewer's CLI reported an error",
        ),
        ("review-slow", "error", "did not finish within 1 s"),
        ("review-stalls", "error", "stalled: no output for 1 s"),
    ];
    for (name, status, why) in expect {
        let g = gate(&report, name);
        assert_eq!(g["status"], status, "{name}: {g:#}");
        assert!(
            g["reason"].as_str().unwrap_or_default().contains(why),
            "{name}: {g:#}"
        );
    }
    let pass = gate(&report, "review-pass");
    assert_eq!(pass["verdict"], "pass");
    assert_eq!(pass["finding_counts"]["minor"], 1);
    assert!(pass["session_id"].is_string(), "{pass}");
    let fail = gate(&report, "review-fail");
    assert_eq!(fail["findings"][0]["file"], "demo-output.txt");
    assert_eq!(fail["model"], "gpt-5.5");

    // What the reviewer was given: the diff and the task, read-only, in a checkout of the head.
    let seen = fakes.invocation_of("codex", "gate `review-fail`");
    let prompt = seen["prompt"].as_str().unwrap();
    assert!(prompt.contains("+++ b/demo-output.txt"), "{prompt}");
    assert!(prompt.contains("add a greeting"), "{prompt}");
    let argv: Vec<&str> = seen["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        argv.windows(2).any(|w| w == ["--sandbox", "read-only"]),
        "{argv:?}"
    );
    assert!(
        seen["cwd"]
            .as_str()
            .unwrap()
            .ends_with("/review-fail/checkout"),
        "{seen}"
    );
    // The receipt records the argv, the request (codex reads it on stdin: `-`) never in it,
    // and the request's hash.
    let result = repo
        .receipts(&id)
        .into_iter()
        .find(|r| r["event_type"] == "gate_result" && r["gate"] == "review-fail")
        .unwrap();
    let recorded = result["argv"].to_string();
    assert!(recorded.ends_with(",\"-\"]"), "{recorded}");
    assert!(!recorded.contains("demo-output.txt"), "{recorded}");
    assert_eq!(
        result["request_sha256"].as_str().map(str::len),
        Some(64),
        "{result}"
    );
    // A reviewer given its request as an argument has it replaced by its hash.
    let passed = repo
        .receipts(&id)
        .into_iter()
        .find(|r| r["event_type"] == "gate_result" && r["gate"] == "review-pass")
        .unwrap();
    let recorded = passed["argv"].to_string();
    assert!(recorded.contains("<request sha256:"), "{recorded}");
    assert!(!recorded.contains("demo-output.txt"), "{recorded}");
    assert_eq!(result["finding_counts"]["major"], 1);
    assert!(gate_checkouts(&repo).is_empty());

    // One passing reviewer is a GO.
    let id = committed(&repo, "docs");
    let (r, report) = gate_check_with(&repo, &id, |c| {
        c.env("PATH", fakes.path())
            .env("VNX_FAKE_LOG_DIR", fakes.log_dir());
    });
    assert_eq!(r.code, 0, "{report:#}");
    // A reviewer CLI that is not installed cannot pass.
    let (r, report) = gate_check_with(&repo, &id, |c| {
        c.env("PATH", "/usr/bin:/bin");
    });
    assert_eq!(r.code, 1);
    assert!(
        reasons(&report).contains("`claude` was not found on PATH"),
        "{report:#}"
    );
}

#[test]
fn the_phantom_guard_corrects_a_writing_roles_empty_done() {
    let repo = Repo::new();
    configure(
        &repo,
        "roles:\n  planner: {writes: true}\n  test-writer: {writes: false}\n",
    );
    let r = repo.dispatch("noop", &["--instruction", "pretend"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let c = completion(&r);
    assert_eq!(c["event_type"], "dispatch_corrected");
    assert_eq!(c["status"], "failed");
    assert_eq!(c["reason"], "phantom done: no diff");
    assert_eq!(c["phantom_rejected"], true);
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let receipts = repo.receipts(&id);
    let events: Vec<&str> = receipts
        .iter()
        .map(|r| r["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "dispatch_started",
            "dispatch_completed",
            "dispatch_corrected"
        ]
    );
    assert_eq!(receipts[0]["writes"], true);
    assert_eq!(receipts[1]["status"], "done", "the worker's line stays");
    assert_eq!(receipts[1]["seq"].as_u64().unwrap() + 1, receipts[2]["seq"]);
    // wait and status say failed.
    let w = run(repo.vnx().args(["wait", &id]));
    assert_eq!(w.code, 1);
    assert!(w.stdout.contains("failed (corrected"), "{}", w.stdout);
    assert!(w.stdout.contains("phantom done: no diff"), "{}", w.stdout);
    let s = run(repo.vnx().args(["status", "--json"]));
    let states: Vec<serde_json::Value> = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(states[0]["status"], "failed", "{states:?}");
    // gate-check holds it without running anything.
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 1);
    assert!(
        reasons(&report).contains("was corrected to failed: phantom done: no diff"),
        "{report:#}"
    );

    // Not for roles that do not write, by default or by configuration; and a role may be
    // declared a writer.
    for (role, code) in [("reviewer", 0), ("test-writer", 0), ("planner", 1)] {
        let r = repo.dispatch_as(role, "noop", &["--instruction", "x"]);
        assert_eq!(r.code, code, "{role}: {}", r.stdout);
    }
    // Uncommitted work counts as a diff: a dirty done stands.
    let r = repo.dispatch("dirty", &["--instruction", "x"]);
    assert_eq!(completion(&r)["event_type"], "dispatch_completed");
    repo.verify_ok();
}
