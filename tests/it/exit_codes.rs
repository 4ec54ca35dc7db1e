//! One exit-status taxonomy for every command: 0 ok, 1 the answer is no, 2 usage, 3 an
//! operational failure, 4 an internal bug. Each command with a verdict is driven to each
//! status it can end with.

use crate::common::Repo;
use crate::common::{TestEnv, run};
use crate::common::{committed, configure, gate_check};

const GATES: &str = "gates:\n\
    \x20 tests: {kind: command, argv: [sh, -c, 'test -f demo-output.txt']}\n\
    \x20 strict: {kind: command, argv: [sh, -c, 'exit 1']}\n\
    roles:\n\
    \x20 implementer: {gates: [tests]}\n\
    \x20 strict: {gates: [tests, strict]}\n";

fn code(repo: &Repo, args: &[&str]) -> i32 {
    let r = run(repo.vnx().args(args));
    assert!(
        r.stderr.is_empty() || r.code != 0 || !r.stderr.contains("error:"),
        "{}",
        r.stderr
    );
    r.code
}

#[test]
fn gate_check_merge_and_wait() {
    let repo = Repo::new();
    configure(&repo, GATES);
    let go = committed(&repo, "implementer");
    let (r, _) = gate_check(&repo, &go);
    assert_eq!(r.code, 0, "GO");
    let hold = committed(&repo, "strict");
    let (r, _) = gate_check(&repo, &hold);
    assert_eq!(r.code, 1, "HOLD");
    assert_eq!(code(&repo, &["gate-check", "../x"]), 2, "a bad id");
    assert_eq!(
        code(&repo, &["gate-check", "--frobnicate", &go]),
        2,
        "a bad flag"
    );
    assert_eq!(
        code(&repo, &["gate-check", "D-ffffffff"]),
        2,
        "no such dispatch"
    );

    assert_eq!(code(&repo, &["merge", "--check", &go]), 0, "mergeable");
    assert_eq!(code(&repo, &["merge", "--check", &hold]), 1, "refused");
    assert_eq!(code(&repo, &["merge", "--check", "../x"]), 2);
    assert_eq!(
        code(&repo, &["merge", "--check", "D-ffffffff"]),
        2,
        "no such dispatch"
    );
    assert_eq!(code(&repo, &["merge", "D-ffffffff"]), 2, "no such dispatch");
    // Every command that takes a dispatch id says the same of one the ledger never saw.
    for args in [
        &["show", "D-ffffffff"][..],
        &["status", "D-ffffffff"],
        &["attach", "D-ffffffff"],
        &["cancel", "D-ffffffff"],
        &["approve", "D-ffffffff"],
        &["accept", "D-ffffffff"],
        &["dismiss", "D-ffffffff", "D-eeeeeeee"],
        &["deny", "D-ffffffff"],
        &["follow-up", "D-ffffffff", "--instruction", "x"],
        &["replay", "D-ffffffff"],
        &["recover", "D-ffffffff"],
        &["review", "D-ffffffff"],
        &["review", "D-ffffffff", "--comment", "a.txt:1", "x"],
        &["review", "D-ffffffff", "--send"],
        &["attest", "D-ffffffff"],
        &["memory", "show", "D-ffffffff"],
        &["memory", "promote", "D-ffffffff"],
    ] {
        assert_eq!(code(&repo, args), 2, "{args:?}");
    }

    assert_eq!(code(&repo, &["wait", &go]), 0, "done");
    let failed =
        crate::common::completion(&repo.dispatch("fail", &["--instruction", "x"]))["dispatch_id"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(code(&repo, &["wait", &failed]), 1, "failed");
    assert_eq!(code(&repo, &["approve", &failed]), 1, "nothing to answer");
    let zeros = "0".repeat(64);
    let no_plan = ["approve", failed.as_str(), "--plan-sha256", zeros.as_str()];
    assert_eq!(code(&repo, &no_plan), 1, "no plan waits");
    let note = ["approve", failed.as_str(), "--message", "go"];
    assert_eq!(code(&repo, &note), 2, "a note without a plan");
    let raise = ["approve", failed.as_str(), "--budget", "+1000"];
    assert_eq!(code(&repo, &raise), 1, "no budget reached");
    let bad = ["approve", failed.as_str(), "--budget", "+lots"];
    assert_eq!(code(&repo, &bad), 2, "no number of tokens");
    let asked =
        crate::common::completion(&repo.dispatch("ask", &["--instruction", "x"]))["dispatch_id"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(code(&repo, &["accept", &asked]), 1, "nothing committed");
    assert_eq!(code(&repo, &["review", &go]), 0, "no comments");
    assert_eq!(
        code(&repo, &["review", &go, "--send"]),
        1,
        "nothing to send"
    );
    let on = |at: &str| code(&repo, &["review", &go, "--comment", at, "x"]);
    assert_eq!(on("demo-output.txt:99"), 1, "not on the diff");
    assert_eq!(on("demo-output.txt:x"), 2, "not FILE:LINE");
    assert_eq!(on("demo-output.txt:1"), 0, "commented");
    assert_eq!(code(&repo, &["wait", "not/an/id"]), 2);
    assert_eq!(code(&repo, &["status"]), 0);
}

#[test]
fn dispatch_agent() {
    let repo = Repo::new();
    assert_eq!(repo.dispatch("commit", &["--instruction", "x"]).code, 0);
    assert_eq!(
        repo.dispatch("fail", &["--instruction", "x"]).code,
        1,
        "the worker failed"
    );
    assert_eq!(repo.dispatch("commit", &["--instruction", " "]).code, 2);
    assert_eq!(
        repo.dispatch("commit", &["--deadline", "0", "--instruction", "x"])
            .code,
        2
    );
    let mut cmd = repo.vnx();
    cmd.args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "claude",
    ])
    .args(["--model", "sonnet", "--instruction", "x"])
    .env("PATH", "/usr/bin:/bin:/usr/local/bin");
    assert_eq!(run(cmd).code, 3, "a CLI that is not installed");
    std::fs::write(
        repo.env.path().join("provider_constraints.yaml"),
        "version: 1\nconstraints:\n\
         \x20 - id: no-demo\n    rule: forbid_route\n    forbidden_route: {provider: demo}\n\
         \x20   reason: not here\n    enforcement: code_raise\n    audit_severity: blocking\n",
    )
    .unwrap();
    repo.env.git(&["commit", "-qam", "forbid the demo"]);
    let r = repo.dispatch("commit", &["--instruction", "x"]);
    assert_eq!(r.code, 1, "refused by a constraint: {}", r.stderr);
    assert!(r.stderr.contains("refused"), "{}", r.stderr);
}

#[test]
fn verify_doctor_and_append() {
    let env = TestEnv::new();
    env.git_init();
    env.fill(3);
    assert_eq!(run(env.vnx_ledger(&["audit-chain", "verify"])).code, 0);
    let mut lines = env.lines();
    lines[1] = String::from_utf8(lines[1].clone())
        .unwrap()
        .replacen("\"n\":1", "\"n\":7", 1)
        .into_bytes();
    env.write_lines(&lines);
    assert_eq!(
        run(env.vnx_ledger(&["audit-chain", "verify"])).code,
        1,
        "broken"
    );
    assert_eq!(
        run(env.vnx_ledger(&["audit-chain", "verify", "--nope"])).code,
        2
    );
    let r = run(env.vnx_ledger(&["receipts", "append", "--receipt", "[1]"]));
    assert_eq!(r.code, 2, "an invalid receipt");
    // Not initialised: doctor's answer is no.
    assert_eq!(run(env.vnx().arg("doctor")).code, 1);
    let r = run(env
        .vnx()
        .args(["audit-chain", "verify", "--ledger"])
        .arg(env.path().join("nope/ledger.ndjson")));
    assert_eq!(r.code, 3, "no ledger to read: {}", r.stderr);
}

#[test]
fn an_internal_bug_is_reported_as_one() {
    let env = TestEnv::new();
    let r = run(env.vnx().arg("__crash"));
    assert_eq!(r.code, 4);
    assert!(
        r.stderr.starts_with("error: internal bug in vnx: "),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint: please report it"), "{}", r.stderr);
}

#[test]
fn help_names_the_exit_codes() {
    let env = TestEnv::new();
    for args in [
        &["--help"][..],
        &["merge", "--help"],
        &["audit-chain", "verify", "--help"],
    ] {
        let r = run(env.vnx().args(args));
        assert_eq!(r.code, 0);
        assert!(
            r.stdout.contains("Exit status: 0 ok; 1 the answer is no"),
            "{args:?}: {}",
            r.stdout
        );
    }
}
