//! What people read, pinned as inline snapshots: `status`, `wait`, `merge --check`, `doctor`
//! and errors with their hints. Ids, commits, hashes, times and temporary paths are redacted.

use crate::common::Repo;
use crate::common::run;
use crate::common::{committed, configure};

/// Runs `f` with the redactions every snapshot here needs.
fn redacted(f: impl FnOnce()) {
    // The registry's built-in providers, as an unknown provider's hint lists them: a new CLI
    // changes no snapshot here.
    let builtins = crate::common::regex_literal(&vnx::provider::cli::Provider::NAMES.join(", "));
    insta::with_settings!({filters => vec![
        (builtins.as_str(), "[built-in CLIs]"),
        (r"D-(?:[0-9a-f]{12}|[0-9a-f]{8})\b", "[ID]"),
        (r"\b[0-9a-f]{64}\b", "[HASH]"),
        (r"\b[0-9a-f]{40}\b", "[COMMIT]"),
        (r"\b[0-9a-f]{12}\b", "[SHORT]"),
        (r"/tmp/vnx-test-[A-Za-z0-9]+", "[TMP]"),
        (r"\d{8}T\d{6}Z-[0-9a-f]{4}", "[RUN]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
        (r"vnx-test-\d+-\d+", "[SOCKET]"),
        // `status`'s AGE column.
        (r"  \d+[smhd] *  ", "  [AGE]  "),
    ]}, { f() });
}

fn out(r: &crate::common::Run) -> String {
    format!("exit {}\n{}{}", r.code, r.stdout, r.stderr)
}

#[test]
fn status_and_wait() {
    let repo = Repo::new();
    let mut ids = Vec::new();
    let long = "word ".repeat(30);
    let asks = [
        (
            "commit",
            vec![
                "--instruction",
                "\n  Add a greeting to the README\nin English",
            ],
        ),
        (
            "fail",
            vec!["--instruction", "x", "--title", "Fail \u{1b}[31mloudly"],
        ),
        ("ask", vec!["--instruction", &long]),
    ];
    for (n, (model, args)) in asks.iter().enumerate() {
        let id = format!("D-0000000{n}");
        let r = repo.dispatch(model, &[&args[..], &["--id", &id]].concat());
        ids.push(
            crate::common::completion(&r)["dispatch_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let status = run(repo.vnx().args(["status", "--wide"]));
    // The titles take what the terminal leaves them.
    let narrow = run(repo.vnx().env("COLUMNS", "110").args(["status", "--wide"]));
    let wait = run(repo.vnx().arg("wait").args(&ids));
    redacted(|| {
        insta::assert_snapshot!(out(&status), @r#"
            exit 0
            DISPATCH    STATE        TITLE                                                                     TEARDOWN   PROVIDER/MODEL  ROLE         AGE  WHERE
            [ID]  done         Add a greeting to the README                                              committed  demo/commit     implementer  [AGE]  branch dispatch/[ID]
              shares demo-output.txt with [ID]
            [ID]  failed       Fail \u{1b}[31mloudly                                                     dirty      demo/fail       implementer  [AGE]  [TMP]/work/.vnx-data/worktrees/dispatch-[ID]
              shares demo-output.txt with [ID]
            [ID]  needs_input  word word word word word word word word word word word word word word w…  clean      demo/ask        implementer  [AGE]  -
              asks: Should the greeting be in English or in Dutch?
        "#);
        insta::assert_snapshot!(out(&narrow), @r#"
            exit 0
            DISPATCH    STATE        TITLE                     TEARDOWN   PROVIDER/MODEL  ROLE         AGE  WHERE
            [ID]  done         Add a greeting to the R…  committed  demo/commit     implementer  [AGE]  branch dispatch/[ID]
              shares demo-output.txt with [ID]
            [ID]  failed       Fail \u{1b}[31mloudly     dirty      demo/fail       implementer  [AGE]  [TMP]/work/.vnx-data/worktrees/dispatch-[ID]
              shares demo-output.txt with [ID]
            [ID]  needs_input  word word word word wor…  clean      demo/ask        implementer  [AGE]  -
              asks: Should the greeting be in English or in Dutch?
        "#);
        insta::assert_snapshot!(out(&wait), @r#"
            exit 1
            [ID]  done (report)  teardown committed
            [ID]  failed (report)  teardown dirty  the worker reported failure: failing as asked
            [ID]  needs_input (exit)  teardown clean  the worker ended its turn and exited without running `vnx report`
            [ID]  asks: Should the greeting be in English or in Dutch?
        "#);
    });
}

#[test]
fn merge_check_refused() {
    let repo = Repo::new();
    configure(
        &repo,
        "gates:\n  strict: {kind: command, argv: [sh, -c, 'exit 1']}\nroles:\n  implementer: {gates: [strict]}\n",
    );
    let id = committed(&repo, "implementer");
    let r = run(repo.vnx().args(["merge", "--check", &id]));
    redacted(|| {
        insta::assert_snapshot!(out(&r), @r#"
        exit 1
        [ID]: dispatch/[ID] into refs/heads/main
          ok   ledger_verifies          verified (2 line(s))
          FAIL checkpoint_extended      no checkpoint anchors the ledger, so a cut or rewritten ledger would go unseen
          ok   dispatch_done            dispatch [ID] completed done
          ok   branch_at_recorded_head  dispatch/[ID] is at the recorded head [COMMIT]
          FAIL gates_passed             gate `strict` has no result for [COMMIT] (`vnx merge [ID]` runs it, as `vnx gate-check [ID]` does)
          ok   base_compatible          refs/heads/main is still at [COMMIT]
          ok   main_checkout_ready      the main checkout is on refs/heads/main and clean
        error: refusing to merge [ID]: checkpoint_extended: no checkpoint anchors the ledger, so a cut or rewritten ledger would go unseen
        hint: run `vnx audit-chain verify`; a ledger without any checkpoint gets one from `vnx audit-chain checkpoint`
    "#)
    });
}

#[test]
fn errors_say_what_failed_and_what_to_do() {
    let repo = Repo::new();
    let unknown = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "nope",
        "--instruction",
        "x",
    ]));
    let bad_id = run(repo.vnx().args(["gate-check", "../x"]));
    let no_dispatch = run(repo.vnx().args(["merge", "D-ffffffff"]));
    let owned = run(repo.vnx().args([
        "receipts",
        "append",
        "--receipt",
        r#"{"event_type":"gate_result","dispatch_id":"D-ffffffff"}"#,
    ]));
    redacted(|| {
        insta::assert_snapshot!(out(&unknown), @r#"
            exit 2
            error: unknown provider "nope"
            hint: built-in providers: [built-in CLIs]
        "#);
        insta::assert_snapshot!(out(&bad_id), @r#"
            exit 2
            error: "../x" is not a dispatch id
            hint: a dispatch id looks like [ID]; `vnx status` lists them
        "#);
        insta::assert_snapshot!(out(&no_dispatch), @r#"
            exit 3
            error: ledger [TMP]/work/.vnx-data/state/t0_receipts.ndjson does not exist
            hint: check the path; `vnx receipts append` creates the ledger on first use
        "#);
        insta::assert_snapshot!(out(&owned), @r#"
            exit 2
            error: `gate_result` receipts are written by vnx itself; nothing was appended
            hint: use vnx gate-check; `vnx receipts append` takes your own kinds, e.g. "task_complete"
        "#);
    });
}

#[test]
fn status_filters_and_wait_streams_in_the_order_dispatches_end() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let slow = crate::common::completion(&repo.dispatch(
        "slow",
        &["--instruction", "x", "--detach", "--id", "D-00000005"],
    ))["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = committed(&repo, "implementer");
    let asked = repo.dispatch("ask", &["--instruction", "x", "--id", "D-00000007"]);
    assert_eq!(asked.code, 1);
    run(repo.vnx().args(["audit-chain", "checkpoint"]));
    let merged = run(repo.vnx().args(["merge", &done]));
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);

    // The slow one is named first, the finished one is printed first; the slow one is
    // still running at --timeout.
    let wait = run(repo.vnx().args(["wait", "--timeout", "1", &slow, &done]));
    let filtered = run(repo
        .vnx()
        .args(["status", "--state", "merged", "--state", "needs_input"]));
    let running = run(repo.vnx().args(["status", "--running", "--json"]));
    let one = run(repo.vnx().args(["status", &slow]));
    let unknown = run(repo.vnx().args(["status", "D-0000beef"]));
    redacted(|| {
        insta::assert_snapshot!(out(&wait), @r#"
            exit 1
            [ID]  done (report)  teardown committed
            [ID]  still running at --timeout
        "#);
        insta::assert_snapshot!(out(&filtered), @r#"
            exit 0
            DISPATCH        STATE        AGE  PROVIDER  TITLE
            [ID]  merged       [AGE]  demo      add a greeting
            [ID]      needs_input  [AGE]  demo      x
              asks: Should the greeting be in English or in Dutch?
        "#);
        insta::assert_snapshot!(out(&one), @r#"
            exit 0
            DISPATCH    STATE    AGE  PROVIDER  TITLE
            [ID]  running  [AGE]  demo      x
        "#);
        insta::assert_snapshot!(out(&unknown), @r#"
            exit 2
            error: unknown dispatch [ID]
            hint: `vnx status` lists the dispatches on the ledger
        "#);
    });
    let running: Vec<serde_json::Value> = serde_json::from_str(&running.stdout).unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0]["dispatch_id"], slow.as_str());
    assert_eq!(running[0]["status"], "running");
    run(repo.vnx().args(["cancel", &slow]));
}

#[test]
fn show_prints_one_dispatch_its_log_and_its_diff() {
    let repo = Repo::new();
    let failed = repo.dispatch("fail", &["--instruction", "x", "--id", "D-000000f1"]);
    assert_eq!(failed.code, 1);
    let whole = run(repo.vnx().args(["show", "D-000000f1"]));
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    for want in [
        "D-000000f1  failed",
        "title      x",
        "reason     the worker reported failure: failing as asked",
        "worker     demo fail (headless lane, edits posture)",
        "branch     dispatch/D-000000f1 from refs/heads/main",
        "teardown   dirty",
        "merged     no",
        "dispatch_started",
        "dispatch_completed",
    ] {
        assert!(whole.stdout.contains(want), "{want}: {}", whole.stdout);
    }
    let log = run(repo.vnx().args(["show", "D-000000f1", "--log"]));
    assert!(log.stdout.contains("demo worker: fail"), "{}", log.stdout);
    // The failed worker's file is uncommitted (and untracked): the diff shows it.
    let diff = run(repo.vnx().args(["show", "D-000000f1", "--diff"]));
    assert!(
        diff.stdout.contains("+++ b/demo-output.txt"),
        "{}",
        diff.stdout
    );
    // A committed dispatch's worktree is gone: its diff is git's between base and head, whose
    // final newline a patch needs (`git apply` refuses a patch cut short).
    let committed = repo.dispatch("commit", &["--instruction", "x", "--id", "D-000000c1"]);
    assert_eq!(committed.code, 0, "{}", committed.stderr);
    let diff = run(repo.vnx().args(["show", "D-000000c1", "--diff"]));
    assert!(diff.stdout.contains("+++ b/"), "{}", diff.stdout);
    assert!(diff.stdout.ends_with('\n'), "{:?}", diff.stdout);
    let stat = run(repo.vnx().args(["show", "D-000000f1", "--diff", "--stat"]));
    assert!(stat.stdout.contains("demo-output.txt |"), "{}", stat.stdout);
    let json = run(repo.vnx().args(["show", "D-000000f1", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["dispatch_id"], "D-000000f1");
    assert_eq!(v["status"], "failed");
    assert_eq!(v["title"], "x");
    assert_eq!(v["lane"], "headless");
    let unknown = run(repo.vnx().args(["show", "D-0000beef"]));
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("unknown dispatch D-0000beef"));
}
