//! `vnx merge` end to end: the success path (receipt, trailer, gates re-run on the merge
//! commit, checkpoint) with a base that moved without conflicts, a refusal for each condition —
//! a tampered ledger, a cut ledger, a failed dispatch, a moved branch tip, a failing gate (a
//! missing or stale one merge runs itself), and a dirty main checkout — and a conflicting
//! base, which takes the dispatch out of the merge queue with a receipt (more in
//! `merge_queue.rs`).

use crate::common::{Repo, Run, committed, completion, configure, gate_check, ledger_path, run};

const GATES: &str = "gates:\n\
    \x20 tests: {kind: command, argv: [sh, -c, 'test -f demo-output.txt']}\n\
    \x20 strict: {kind: command, argv: [sh, -c, 'exit 1']}\n\
    roles:\n\
    \x20 implementer: {gates: [tests]}\n\
    \x20 strict: {gates: [tests, strict]}\n";

/// A repo with gates and a dispatch that passed them: its id.
fn gated() -> (Repo, String) {
    let repo = Repo::new();
    configure(&repo, GATES);
    let id = committed(&repo, "implementer");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{report:#}");
    (repo, id)
}

fn merge(repo: &Repo, id: &str, extra: &[&str]) -> Run {
    run(repo.vnx().args(["merge", id]).args(extra))
}

/// `vnx merge --check --json`: (exit code, the failed conditions' names).
fn failed_conditions(repo: &Repo, id: &str) -> (i32, Vec<String>, serde_json::Value) {
    let r = merge(repo, id, &["--check", "--json"]);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr));
    let failed = v["plan"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    (r.code, failed, v)
}

/// Asserts that merging `id` is refused for `condition`, and that nothing was merged.
fn refused(repo: &Repo, id: &str, condition: &str, detail: &str) {
    let before = repo.env.git(&["rev-parse", "HEAD"]);
    let r = merge(repo, id, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("error: refusing to merge {id}: {condition}: ")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(detail), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert_eq!(
        repo.env.git(&["rev-parse", "HEAD"]),
        before,
        "nothing merged"
    );
    let ledger = std::fs::read_to_string(ledger_path(repo)).unwrap_or_default();
    assert!(
        !ledger.contains("\"event_type\":\"merge\""),
        "no merge receipt"
    );
}

#[test]
fn a_gated_dispatch_merges_with_a_receipt_a_trailer_and_a_checkpoint() {
    let (repo, id) = gated();
    // The base moves on, without touching the dispatch's files: still mergeable, and said so.
    std::fs::write(repo.env.path().join("NOTES.md"), "unrelated\n").unwrap();
    repo.env.git(&["add", "NOTES.md"]);
    repo.env
        .git(&["commit", "-q", "-m", "unrelated work on main"]);
    let (code, failed, _) = failed_conditions(&repo, &id);
    assert_eq!((code, failed), (0, vec![]));
    let r = merge(&repo, &id, &["--json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let out: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let merged = &out["merged"];
    let commit = merged["merge_commit"].as_str().unwrap();
    assert_eq!(repo.env.git(&["rev-parse", "HEAD"]).trim(), commit);
    let head = repo.receipts(&id)[1]["head_commit"]
        .as_str()
        .unwrap()
        .to_owned();
    let parents = repo.env.git(&["rev-list", "--parents", "-n", "1", commit]);
    assert!(
        parents.trim().ends_with(&head),
        "a real merge of the head: {parents}"
    );
    assert!(repo.env.path().join("demo-output.txt").is_file());

    // The merge receipt, whose entry hash the trailer names, then merge_completed.
    let receipts = repo.receipts(&id);
    let m = receipts
        .iter()
        .find(|r| r["event_type"] == "merge")
        .unwrap();
    let done = receipts
        .iter()
        .find(|r| r["event_type"] == "merge_completed")
        .unwrap();
    assert_eq!(m["base_moved"], true);
    assert_eq!(m["head_commit"], head.as_str());
    assert_eq!(m["base_ref"], "refs/heads/main");
    assert_eq!(m["gates"][0]["gate"], "tests");
    assert_eq!(m["gates"][0]["status"], "pass");
    let entry = merged["merge_receipt"]["entry_hash"].as_str().unwrap();
    assert_eq!(done["merge_receipt"], entry);
    // The base moved, so the gates ran again on the merge commit before the base moved to
    // it: the lines between the two are that run's, and merge_completed names its results.
    let between: Vec<&serde_json::Value> = receipts
        .iter()
        .skip_while(|r| r["event_type"] != "merge")
        .skip(1)
        .take_while(|r| r["event_type"] != "merge_completed")
        .collect();
    let kinds: Vec<&str> = between
        .iter()
        .map(|r| r["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["gate_request", "gate_result"]);
    assert_eq!(
        between[0]["prev_hash"], entry,
        "the next line links to that entry hash"
    );
    for r in &between {
        assert_eq!(r["head_commit"], commit);
        assert_eq!(r["on_merge"]["dispatch_head"], head.as_str());
    }
    assert_eq!(done["merge_result_gates"][0]["gate"], "tests");
    assert_eq!(done["merge_result_gates"][0]["status"], "pass");
    assert_eq!(done["merge_commit"], commit);
    assert_eq!(done["tree_as_planned"], true);
    let message = repo.env.git(&["log", "-1", "--format=%B", commit]);
    assert!(
        message.starts_with(&format!("Merge dispatch/{id} into main\n")),
        "{message}"
    );
    let trailers = repo.env.git(&[
        "log",
        "-1",
        "--format=%(trailers:key=VNX-Receipt,valueonly)",
        commit,
    ]);
    assert_eq!(trailers.trim(), entry);

    // A new checkpoint covers the merge, and the ledger verifies strictly.
    let lines = std::fs::read_to_string(ledger_path(&repo))
        .unwrap()
        .lines()
        .count();
    assert_eq!(merged["checkpoint"]["checkpoint"]["lines"], lines as u64);
    let verify = run(repo.vnx().args(["audit-chain", "verify", "--strict"]));
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    // Merging again is refused as what it is.
    let again = merge(&repo, &id, &["--check", "--json"]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("is already merged"),
        "{}",
        again.stderr
    );
}

#[test]
fn a_merge_git_refuses_is_recorded_and_undone() {
    let (repo, id) = gated();
    // An untracked file in the way: every condition holds, but git will not overwrite it.
    std::fs::write(repo.env.path().join("demo-output.txt"), "mine\n").unwrap();
    let before = repo.env.git(&["rev-parse", "HEAD"]);
    let r = merge(&repo, &id, &[]);
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(
        r.stderr.contains(&format!("git merge of {id} failed")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("untracked"), "{}", r.stderr);
    assert_eq!(repo.env.git(&["rev-parse", "HEAD"]), before);
    assert_eq!(
        std::fs::read_to_string(repo.env.path().join("demo-output.txt")).unwrap(),
        "mine\n"
    );
    let receipts = repo.receipts(&id);
    let events: Vec<&str> = receipts
        .iter()
        .map(|r| r["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(&events[events.len() - 2..], ["merge", "merge_failed"]);
    let failed = receipts.last().unwrap();
    assert_eq!(failed["prev_hash"], failed["merge_receipt"]);
    repo.verify_ok();
}

#[test]
fn a_tampered_ledger_is_refused() {
    let (repo, id) = gated();
    let path = ledger_path(&repo);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("\"lane\":\"headless\"", "\"lane\":\"headlesz\"", 1);
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    refused(&repo, &id, "ledger_verifies", "altered_line");
}

#[test]
fn a_cut_ledger_is_refused() {
    let (repo, id) = gated();
    // gate-check checkpointed its evidence; cutting the last receipt leaves a chain that
    // still verifies on its own, but not the checkpoint.
    let path = ledger_path(&repo);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let (_, failed, _) = failed_conditions(&repo, &id);
    assert_eq!(failed, ["checkpoint_extended"]);
    refused(&repo, &id, "checkpoint_extended", "checkpoint_truncated");
}

#[test]
fn a_moved_branch_tip_is_refused() {
    let (repo, id) = gated();
    let wt = repo.env.path().join("moved");
    repo.env.git(&[
        "worktree",
        "add",
        "-q",
        wt.to_str().unwrap(),
        &format!("dispatch/{id}"),
    ]);
    std::fs::write(wt.join("late.txt"), "after the gates\n").unwrap();
    crate::common::git(&repo.env.home(), &wt, &["add", "late.txt"]);
    crate::common::git(&repo.env.home(), &wt, &["commit", "-q", "-m", "late"]);
    refused(&repo, &id, "branch_at_recorded_head", "not at the head");
}

#[test]
fn missing_and_stale_gates_are_run_by_merge_and_a_failing_one_holds_it() {
    let repo = Repo::new();
    configure(&repo, GATES);
    let id = committed(&repo, "implementer");
    // No gate-check yet (a checkpoint, so that the gates are what is missing).
    assert_eq!(run(repo.vnx().args(["audit-chain", "checkpoint"])).code, 0);
    let (code, failed, v) = failed_conditions(&repo, &id);
    assert_eq!(
        (code, failed),
        (1, vec!["gates_passed".to_owned()]),
        "{v:#}"
    );
    assert_eq!(v["plan"]["gates"][0]["status"], "missing");
    assert_eq!(v["merged"], serde_json::Value::Null);
    let r = merge(&repo, &id, &["--check"]);
    insta::assert_snapshot!("merge_check_missing_gate", redact(&r.stdout, &id));

    // A failing gate holds the merge, and merge does not run it again.
    let strict = committed(&repo, "strict");
    let (r, _) = gate_check(&repo, &strict);
    assert_eq!(r.code, 1);
    let results = |id: &str| {
        repo.receipts(id)
            .iter()
            .filter(|r| r["event_type"] == "gate_result")
            .count()
    };
    let before = results(&strict);
    refused(
        &repo,
        &strict,
        "gates_passed",
        "gate `strict`'s latest result is fail",
    );
    assert_eq!(results(&strict), before, "the failed gate was not re-run");

    // A pass under a definition that has changed since is stale.
    let (r, _) = gate_check(&repo, &id);
    assert_eq!(r.code, 0);
    let (code, _, _) = failed_conditions(&repo, &id);
    assert_eq!(code, 0);
    let path = repo.env.path().join(".vnx/config.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("'test -f demo-output.txt'", "'test -s demo-output.txt'"),
    )
    .unwrap();
    repo.env.git(&["commit", "-q", "-am", "stricter tests"]);
    let (_, _, v) = failed_conditions(&repo, &id);
    assert_eq!(v["plan"]["gates"][0]["status"], "stale", "{v:#}");

    // merge runs the stale gate under its new definition, says so, and then merges.
    let r = merge(&repo, &id, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "{id}: gate tests has no current pass for its head; running it"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("gate tests: pass"), "{}", r.stderr);
    let reports: Vec<serde_json::Value> = repo
        .receipts(&id)
        .into_iter()
        .filter(|r| r["event_type"] == "gate_report")
        .collect();
    assert_eq!(reports.len(), 2, "gate-check's and merge's");
    assert_eq!(reports[1]["decision"], "GO");
    assert!(
        r.stdout.contains(&format!("{id}: merged into ")),
        "{}",
        r.stdout
    );
}

#[test]
fn a_conflicting_base_a_dirty_checkout_and_an_undone_dispatch_are_refused() {
    let (repo, id) = gated();
    std::fs::write(
        repo.env.path().join("provider_constraints.yaml"),
        "edited\n",
    )
    .unwrap();
    refused(
        &repo,
        &id,
        "main_checkout_ready",
        "uncommitted changes to 1 tracked file",
    );
    repo.env
        .git(&["checkout", "-q", "--", "provider_constraints.yaml"]);

    std::fs::write(
        repo.env.path().join("demo-output.txt"),
        "main's own version\n",
    )
    .unwrap();
    repo.env.git(&["add", "demo-output.txt"]);
    repo.env
        .git(&["commit", "-q", "-m", "conflicting work on main"]);
    let (code, failed, _) = failed_conditions(&repo, &id);
    assert_eq!((code, failed), (1, vec!["base_compatible".to_owned()]));
    // Merging it takes it out of the merge queue, with a receipt naming the conflict.
    let before = repo.env.git(&["rev-parse", "HEAD"]);
    let r = merge(&repo, &id, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("error: {id} was taken out of the merge queue: ")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("demo-output.txt"), "{}", r.stderr);
    assert_eq!(repo.env.git(&["rev-parse", "HEAD"]), before);
    let last = repo.receipts(&id).pop().unwrap();
    assert_eq!(last["event_type"], "merge_dequeued");
    assert_eq!(last["reason"], "conflict");
    assert_eq!(last["conflicts"], serde_json::json!(["demo-output.txt"]));
    assert_eq!(last["base_tip"], before.trim());

    let r = repo.dispatch("fail", &["--instruction", "x"]);
    let failed = crate::common::completion(&r)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(&repo, &failed, "dispatch_done", "ended failed, not done");
    let r = merge(&repo, "D-ffffffff", &[]);
    assert_eq!(
        r.code, 2,
        "an unknown dispatch, as for every command: {}",
        r.stderr
    );
    assert!(r.stderr.contains("is not on the ledger"), "{}", r.stderr);
}

/// Output with the dispatch id, commit ids and short hashes replaced.
fn redact(text: &str, id: &str) -> String {
    let text = text.replace(id, "[ID]");
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        out.push_str(match run.len() {
            40 => "[COMMIT]",
            12 => "[SHORT]",
            _ => run.as_str(),
        });
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A hook in the repository's `.git/hooks/` is a program whoever could write there chose (a
/// worker whose gate ran unsandboxed planted `post-merge`): vnx's own git commands, from the
/// dispatch's `git worktree add` to the merge's fast-forward, run none.
#[test]
fn vnx_runs_no_repository_hook_from_dispatch_to_merge() {
    let repo = Repo::new();
    let root = repo.env.path();
    let marker = repo.env.home().join("hook-ran");
    let hooks = root.join(".git/hooks");
    for hook in [
        "post-checkout",
        "post-merge",
        "reference-transaction",
        "pre-commit",
        "post-commit",
        "pre-push",
    ] {
        let path = hooks.join(hook);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho {hook} >> '{}'\n", marker.display()),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let ran = || std::fs::read_to_string(&marker).unwrap_or_default();
    // vnx's own setup above (configure commits with the test's git) may have run some.
    let _ = std::fs::remove_file(&marker);
    // The worker leaves its change uncommitted: vnx commits it (the demo worker's own
    // `git commit` would run the hooks, as any worker's git does).
    let left = repo.dispatch("dirty", &["--instruction", "x"]);
    assert_eq!(left.code, 0, "{}", left.stderr);
    assert_eq!(completion(&left)["teardown_class"], "committed");
    let id = completion(&left)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    run(repo.vnx().args(["audit-chain", "checkpoint"]));
    let merged = merge(&repo, &id, &[]);
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
    assert_eq!(ran(), "", "hooks ran during vnx's git commands");
}
