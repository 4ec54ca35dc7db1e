//! The merge queue end to end: three dispatches merged in the order given, where the second
//! conflicts once the first has landed (taken out with its `merge_dequeued`, the third still
//! lands, on the first's merge); a dispatch whose gate passes on its head but fails on the
//! merge result (the base moved) is taken out and the base stays; concurrent `vnx merge`
//! processes wait for the queue's lock and land one after the other (`--check` of several
//! writes nothing); the ledger verifies after each.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{Repo, Run, committed, completion, configure, gate_check, run};

/// A gate every tree here passes unless it holds `LEGACY` and the demo output together: the
/// head alone passes, main alone passes, their merge does not.
const GATES: &str = "gates:\n\
    \x20 combo: {kind: command, argv: [sh, -c, 'test ! -e LEGACY || test ! -e demo-output.txt']}\n\
    roles:\n\
    \x20 implementer: {gates: [combo]}\n";

/// A repository with the gates above and a declared provider, `scribe`, whose worker writes
/// `notes.txt` (a file no demo dispatch touches) and exits 0, so vnx commits it.
fn repo_with_scribe() -> (Repo, tempfile::TempDir) {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("scribe");
    std::fs::write(&bin, "#!/bin/sh\nprintf 'notes\\n' > notes.txt\n").unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        &repo,
        &format!(
            "{GATES}providers:\n  scribe:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n",
            bin.display()
        ),
    );
    (repo, tools)
}

/// A done `scribe` dispatch: its id.
fn scribed(repo: &Repo) -> String {
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "scribe",
        "--instruction",
        "write the notes",
        "--json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    completion(&r)["dispatch_id"].as_str().unwrap().to_owned()
}

/// Gate-checks `id`, which must be GO.
fn gated(repo: &Repo, id: &str) {
    let (r, report) = gate_check(repo, id);
    assert_eq!(r.code, 0, "{report:#}");
}

/// `vnx merge IDS… --json --as-given`: the run and one object per dispatch (in the order
/// given: the radar's order is `radar.rs`'s).
fn merge(repo: &Repo, ids: &[&str]) -> (Run, Vec<serde_json::Value>) {
    let r = run(repo
        .vnx()
        .arg("merge")
        .args(ids)
        .args(["--json", "--as-given"]));
    let entries = r
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr))
        })
        .collect();
    (r, entries)
}

fn head(repo: &Repo) -> String {
    repo.env.git(&["rev-parse", "HEAD"]).trim().to_owned()
}

fn first_parent(repo: &Repo, commit: &str) -> String {
    repo.env
        .git(&["rev-parse", &format!("{commit}^1")])
        .trim()
        .to_owned()
}

fn strict_verify(repo: &Repo) {
    let r = run(repo.vnx().args(["audit-chain", "verify", "--strict"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

fn last_of(repo: &Repo, id: &str, kind: &str) -> serde_json::Value {
    repo.receipts(id)
        .into_iter()
        .rev()
        .find(|r| r["event_type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} for {id}"))
}

/// A queue run again once every dispatch in it landed (a rerun after a crash, or by a script)
/// lands nothing more and exits 0, saying each merged before and as what; alone, a dispatch
/// merged before is still refused, as a second merge always was.
#[test]
fn a_queue_run_again_after_all_landed_says_each_merged_before_and_exits_0() {
    let (repo, _tools) = repo_with_scribe();
    let first = committed(&repo, "implementer");
    let second = scribed(&repo);
    for id in [&first, &second] {
        gated(&repo, id);
    }
    let (r, landed) = merge(&repo, &[&first, &second]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let commits: Vec<&str> = landed
        .iter()
        .map(|e| e["merged"]["merge_commit"].as_str().unwrap())
        .collect();
    let base = head(&repo);
    let lines = std::fs::read(crate::common::ledger_path(&repo)).unwrap();

    let (r, again) = merge(&repo, &[&first, &second]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for (entry, commit) in again.iter().zip(&commits) {
        assert_eq!(entry["result"], "already_merged", "{entry:#}");
        assert_eq!(entry["already_merged"], *commit, "{entry:#}");
        assert!(entry["refused"].is_null(), "{entry:#}");
    }
    assert_eq!(head(&repo), base);
    assert_eq!(
        std::fs::read(crate::common::ledger_path(&repo)).unwrap(),
        lines,
        "nothing was written"
    );
    // As a person reads it.
    let r = run(repo.vnx().args(["merge", &first, &second, "--as-given"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains(&format!("{first}: already merged, as {}", commits[0])),
        "{}",
        r.stdout
    );
    assert!(!r.stderr.contains("did not merge"), "{}", r.stderr);
    // Alone: refused, exit 1.
    let r = run(repo.vnx().args(["merge", &first]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("is already merged"), "{}", r.stderr);
}

#[test]
fn a_queue_of_three_lands_the_first_and_third_and_takes_out_the_conflicting_second() {
    let (repo, _tools) = repo_with_scribe();
    // The first two both write demo-output.txt from the same base: each merges alone, but the
    // second conflicts once the first has landed. The third writes another file.
    let first = committed(&repo, "implementer");
    let second = committed(&repo, "implementer");
    let third = scribed(&repo);
    for id in [&first, &second, &third] {
        gated(&repo, id);
    }
    let base = head(&repo);
    let (r, entries) = merge(&repo, &[&first, &second, &third]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "1 of 3 dispatches did not merge: {second} (taken out)"
        )),
        "{}",
        r.stderr
    );
    let results: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["dispatch_id"].as_str().unwrap(),
                e["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            (first.as_str(), "merged"),
            (second.as_str(), "dequeued"),
            (third.as_str(), "merged")
        ],
        "in the order given"
    );

    // The base moved twice, each merge formed on the head before it.
    let m1 = entries[0]["merged"]["merge_commit"].as_str().unwrap();
    let m3 = entries[2]["merged"]["merge_commit"].as_str().unwrap();
    assert_eq!(head(&repo), m3);
    assert_eq!(first_parent(&repo, m3), m1);
    assert_eq!(first_parent(&repo, m1), base);
    assert_eq!(
        std::fs::read_to_string(repo.env.path().join("notes.txt")).unwrap(),
        "notes\n"
    );
    assert_eq!(
        repo.env.git(&["show", "HEAD:demo-output.txt"]),
        repo.on_branch(&first, "demo-output.txt"),
        "the first's version, not the second's"
    );

    // The second: taken out with a receipt naming the head it was tried on and the conflict;
    // no merge receipt, no merge commit.
    let out = last_of(&repo, &second, "merge_dequeued");
    assert_eq!(out["reason"], "conflict");
    assert_eq!(out["base_tip"], m1);
    assert_eq!(out["conflicts"], serde_json::json!(["demo-output.txt"]));
    assert!(out.get("merge_commit").is_none(), "{out}");
    assert_eq!(entries[1]["dequeued"]["receipt"]["seq"], out["seq"]);
    assert!(
        !repo
            .receipts(&second)
            .iter()
            .any(|r| r["event_type"] == "merge"),
        "a conflict is found before any merge receipt"
    );

    // The first merged on the base it started from: its tree is its head's, which the gate
    // passed on, so nothing ran again. The third's base moved: the gate ran on its merge
    // commit before the base moved to it, and merge_completed names that result.
    assert!(entries[0]["merged"]["merge_result_gates"] == serde_json::json!([]));
    let done = last_of(&repo, &third, "merge_completed");
    assert_eq!(done["merge_commit"], m3);
    assert_eq!(done["merge_result_gates"][0]["gate"], "combo");
    assert_eq!(done["merge_result_gates"][0]["status"], "pass");
    let result = last_of(&repo, &third, "gate_result");
    assert_eq!(result["head_commit"], m3);
    assert_eq!(result["on_merge"]["base_tip"], m1);
    assert_eq!(
        done["merge_result_gates"][0]["result_seq"], result["seq"],
        "the result line the merge rests on"
    );
    strict_verify(&repo);

    // Taken out is not merged: its conditions are still checked, and still conflict.
    let (r, entries) = merge(&repo, &[&second]);
    assert_eq!(r.code, 1);
    assert_eq!(entries[0]["result"], "dequeued");
    assert_eq!(head(&repo), m3);
}

#[test]
fn a_gate_that_fails_only_on_the_merge_result_takes_the_dispatch_out_and_the_base_stays() {
    let (repo, _tools) = repo_with_scribe();
    let id = committed(&repo, "implementer");
    gated(&repo, &id);
    // main moves without conflicting, and passes the gate on its own.
    std::fs::write(repo.env.path().join("LEGACY"), "old\n").unwrap();
    repo.env.git(&["add", "LEGACY"]);
    repo.env.git(&["commit", "-q", "-m", "legacy mode"]);
    let base = head(&repo);

    let (r, entries) = merge(&repo, &[&id]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("error: {id} was taken out of the merge queue: ")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("gate `combo` fail"), "{}", r.stderr);
    assert_eq!(head(&repo), base, "the base did not move");
    assert!(!repo.env.path().join("demo-output.txt").exists());
    let e = &entries[0];
    assert_eq!(e["result"], "dequeued");
    assert!(e["merged"].is_null());
    assert_eq!(e["plan"]["base_moved"], true);

    // The receipts: the merge planned, the gate on the merge commit, then taken out.
    let receipts = repo.receipts(&id);
    let tail: Vec<&str> = receipts[receipts.len() - 4..]
        .iter()
        .map(|r| r["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        tail,
        ["merge", "gate_request", "gate_result", "merge_dequeued"]
    );
    let planned = &receipts[receipts.len() - 4];
    let result = &receipts[receipts.len() - 2];
    let out = &receipts[receipts.len() - 1];
    let commit = out["merge_commit"].as_str().unwrap();
    assert_eq!(out["reason"], "gates_failed");
    assert_eq!(out["base_tip"], base);
    assert_eq!(
        out["merge_receipt"],
        receipts[receipts.len() - 3]["prev_hash"]
    );
    assert_eq!(out["merge_receipt_seq"], planned["seq"]);
    assert_eq!(result["status"], "fail");
    assert_eq!(result["head_commit"], commit);
    assert_eq!(result["on_merge"]["dispatch_head"], planned["head_commit"]);
    assert_eq!(result["on_merge"]["base_tip"], base);
    assert_eq!(out["gates"][0]["gate"], "combo");
    assert_eq!(out["gates"][0]["status"], "fail");
    assert_eq!(out["gates"][0]["contract_hash"], result["contract_hash"]);
    assert_eq!(out["gates"][0]["result_seq"], result["seq"]);
    // The merge commit exists, with the trailer, but the base never reached it.
    let trailer = repo.env.git(&[
        "log",
        "-1",
        "--format=%(trailers:key=VNX-Receipt,valueonly)",
        commit,
    ]);
    assert_eq!(trailer.trim(), out["merge_receipt"].as_str().unwrap());
    let mut is_ancestor = std::process::Command::new("git");
    crate::common::hermetic(&mut is_ancestor, &repo.env.home());
    is_ancestor
        .current_dir(repo.env.path())
        .args(["merge-base", "--is-ancestor", commit, "HEAD"]);
    assert_eq!(run(is_ancestor).code, 1, "not on main");
    strict_verify(&repo);

    // Once main drops the legacy mode, the same gated head merges.
    repo.env.git(&["rm", "-q", "LEGACY"]);
    repo.env.git(&["commit", "-q", "-m", "drop legacy mode"]);
    let (r, entries) = merge(&repo, &[&id]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(entries[0]["result"], "merged");
    // main's changes cancel out: the merge's tree is the head's again, which the gate passed
    // on, so it does not run again.
    assert_eq!(
        entries[0]["merged"]["merge_result_gates"],
        serde_json::json!([])
    );
    strict_verify(&repo);
}

/// Waits (for a long while, never asserting on time) until `path` contains `text`.
fn until_contains(path: &Path, text: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        if std::fs::read_to_string(path).is_ok_and(|t| t.contains(text)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn concurrent_merges_wait_for_the_queue_and_land_one_after_the_other() {
    let (repo, _tools) = repo_with_scribe();
    let first = committed(&repo, "implementer");
    let second = scribed(&repo);
    gated(&repo, &first);
    gated(&repo, &second);
    let base = head(&repo);
    // --check, for several: each one's conditions, nothing merged, nothing written.
    let lines = std::fs::read_to_string(crate::common::ledger_path(&repo)).unwrap();
    let r = run(repo
        .vnx()
        .args(["merge", &first, &second, "--check", "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let results: Vec<String> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["result"].to_string())
        .collect();
    assert_eq!(results, ["\"mergeable\"", "\"mergeable\""]);
    assert_eq!(
        std::fs::read_to_string(crate::common::ledger_path(&repo)).unwrap(),
        lines
    );
    // Hold the queue's lock, start both, and see each wait its turn.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(repo.env.path().join(".git/vnx-merge.lock"))
        .unwrap();
    lock.lock().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let children: Vec<_> = [&first, &second]
        .iter()
        .map(|id| {
            let err = logs.path().join(format!("{id}.err"));
            let child = repo
                .vnx()
                .args(["merge", id])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&err).unwrap())
                .spawn()
                .unwrap();
            (child, err)
        })
        .collect();
    for (_, err) in &children {
        assert!(
            until_contains(err, "waiting for the merge queue: another vnx merge holds"),
            "{}",
            std::fs::read_to_string(err).unwrap_or_default()
        );
    }
    assert_eq!(head(&repo), base, "nothing merges while the queue is held");
    drop(lock);
    for (mut child, err) in children {
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "{}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
    }
    // Both landed, one on top of the other's merge.
    let m1 = last_of(&repo, &first, "merge_completed")["merge_commit"]
        .as_str()
        .unwrap()
        .to_owned();
    let m2 = last_of(&repo, &second, "merge_completed")["merge_commit"]
        .as_str()
        .unwrap()
        .to_owned();
    let top = head(&repo);
    assert!(top == m1 || top == m2, "{top}");
    let (later, earlier) = if top == m1 { (&m1, &m2) } else { (&m2, &m1) };
    assert_eq!(&first_parent(&repo, later), earlier);
    assert_eq!(first_parent(&repo, earlier), base);
    strict_verify(&repo);
}
