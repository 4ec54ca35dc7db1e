//! Dispatches that wait for others (`--after`): a chain and a fan-in each start from their
//! dependencies' work and merge in order, a dependency that fails holds its dependents with
//! the reason, work that does not merge and a cycle are refused at the start, and
//! `--after-merged` starts from the base once the dependency merged. The demo worker waits
//! for a file a test makes (`VNX_DEMO_GO`), so a dependent is queued while its dependency
//! runs, and writes the file a test names (`VNX_DEMO_OUTPUT`).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{Repo, configure, run};

/// A repository whose implementers merge without gates.
fn repo() -> Repo {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    repo
}

/// A detached demo dispatch of `model` writing `output` (when named), waiting for `go`
/// (when given), with `extra` arguments: its id and the JSON it printed.
fn start(
    repo: &Repo,
    model: &str,
    (output, go): (Option<&str>, Option<&Path>),
    extra: &[&str],
) -> (String, serde_json::Value) {
    let mut cmd = repo.dispatch_cmd(model);
    cmd.args(["--instruction", "work on it", "--detach", "--json"])
        .args(extra);
    if let Some(name) = output {
        cmd.env("VNX_DEMO_OUTPUT", name);
    }
    if let Some(go) = go {
        cmd.env("VNX_DEMO_GO", go);
    }
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    (v["dispatch_id"].as_str().unwrap().to_owned(), v)
}

/// `vnx wait ID` (which starts what the queue holds once it may): its exit code.
fn wait(repo: &Repo, id: &str) -> i32 {
    let r = run(repo.vnx().args(["wait", id, "--timeout", "120"]));
    assert!(r.code == 0 || r.code == 1, "{}{}", r.stdout, r.stderr);
    r.code
}

/// `vnx status --json`'s entry of `id` (the listing drains the queue first).
fn state(repo: &Repo, id: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["status", "--json", "--all"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    all.into_iter()
        .find(|s| s["dispatch_id"] == id)
        .unwrap_or_else(|| panic!("{id} is not listed: {}", r.stdout))
}

/// Whether `cond` holds within two minutes (polled; nothing is timed).
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// The receipt of `event` about `id` (the last one).
fn receipt(repo: &Repo, id: &str, event: &str) -> serde_json::Value {
    (repo.receipts(id).into_iter())
        .rfind(|r| r["event_type"] == event)
        .unwrap_or_else(|| panic!("{id} has no {event}"))
}

/// The queue decisions about `id`, in order.
fn decisions(repo: &Repo, id: &str) -> Vec<String> {
    (repo.receipts(id).iter())
        .filter(|r| r["event_type"] == "queue_decision")
        .map(|r| r["decision"].as_str().unwrap().to_owned())
        .collect()
}

/// The files on dispatch `id`'s branch.
fn files_on_branch(repo: &Repo, id: &str) -> String {
    repo.env
        .git(&["ls-tree", "--name-only", &format!("dispatch/{id}")])
}

#[test]
fn a_chain_of_three_starts_each_from_its_dependencys_work_and_merges_in_order() {
    let repo = repo();
    let go = repo.env.path().join("go-a");
    let (a, _) = start(&repo, "commit", (Some("a.txt"), Some(&go)), &[]);
    let (b, queued) = start(&repo, "commit", (Some("b.txt"), None), &["--after", &a]);
    assert_eq!(queued["state"], "queued", "{queued}");
    let (c, _) = start(&repo, "commit", (Some("c.txt"), None), &["--after", &b]);
    // What waits for what, in status: the queued ones name their dependency.
    let sb = state(&repo, &b);
    assert_eq!(sb["status"], "queued", "{sb:#}");
    assert_eq!(sb["after"], serde_json::json!([a]), "{sb:#}");
    let text = run(repo.vnx().args(["status", "--all"]));
    assert!(
        text.stdout.contains(&format!("after {a} (running)")),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(&format!("{b} waits for it")),
        "{}",
        text.stdout
    );
    let q = receipt(&repo, &b, "queue_decision");
    assert_eq!(q["after"]["on"], serde_json::json!([a]), "{q:#}");
    assert_eq!(q["after"]["until"], "done");
    // The first ends; the others follow, each from the one before.
    std::fs::write(&go, "").unwrap();
    assert_eq!(wait(&repo, &c), 0);
    for (dep, id) in [(&a, &b), (&b, &c)] {
        let head = receipt(&repo, dep, "dispatch_completed")["head_commit"].clone();
        let started = receipt(&repo, id, "dispatch_started");
        assert_eq!(
            started["base_commit"], head,
            "{id} starts from {dep}'s head"
        );
        assert_eq!(started["after"]["on"][0]["dispatch_id"], **dep);
        assert_eq!(started["after"]["on"][0]["head_commit"], head);
        assert_eq!(
            started["base_ref"], "refs/heads/main",
            "it merges into main"
        );
    }
    let files = files_on_branch(&repo, &c);
    for f in ["a.txt", "b.txt", "c.txt"] {
        assert!(files.contains(f), "{c}'s branch lacks {f}: {files}");
    }
    // A dependent before its dependency is refused, naming the condition.
    let early = run(repo.vnx().args(["merge", &c]));
    assert_eq!(early.code, 1, "{}{}", early.stdout, early.stderr);
    assert!(
        format!("{}{}", early.stdout, early.stderr).contains("dependencies_merged"),
        "{}{}",
        early.stdout,
        early.stderr
    );
    // Given in any order, they merge in the graph's.
    let merged = run(repo.vnx().args(["merge", &c, &a, &b]));
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
    let main_files = repo.env.git(&["ls-tree", "--name-only", "main"]);
    for f in ["a.txt", "b.txt", "c.txt"] {
        assert!(main_files.contains(f), "main lacks {f}: {main_files}");
    }
    let order: Vec<String> = (repo.events("merge_completed").iter())
        .map(|r| r["dispatch_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, [a, b, c]);
    repo.verify_ok();
}

#[test]
fn a_fan_in_starts_from_both_dependencies_and_work_that_does_not_merge_is_refused() {
    let repo = repo();
    let (x, _) = start(&repo, "commit", (Some("x.txt"), None), &[]);
    let (y, _) = start(&repo, "commit", (Some("y.txt"), None), &[]);
    assert_eq!(wait(&repo, &x), 0);
    assert_eq!(wait(&repo, &y), 0);
    let both = format!("{x},{y}");
    let (z, launched) = start(&repo, "commit", (Some("z.txt"), None), &["--after", &both]);
    assert_ne!(launched["state"], "queued", "both are done: it starts now");
    assert_eq!(wait(&repo, &z), 0);
    let started = receipt(&repo, &z, "dispatch_started");
    let base = started["base_commit"].as_str().unwrap();
    let parents = repo.env.git(&["rev-list", "--parents", "-n", "1", base]);
    let x_head = receipt(&repo, &x, "dispatch_completed")["head_commit"].clone();
    let y_head = receipt(&repo, &y, "dispatch_completed")["head_commit"].clone();
    assert!(
        parents.contains(x_head.as_str().unwrap()) && parents.contains(y_head.as_str().unwrap()),
        "its base merges both heads: {parents}"
    );
    assert_eq!(started["after"]["on"][1]["head_commit"], y_head);
    let files = files_on_branch(&repo, &z);
    for f in ["x.txt", "y.txt", "z.txt"] {
        assert!(files.contains(f), "{z}'s branch lacks {f}: {files}");
    }
    let merged = run(repo.vnx().args(["merge", &z, &y, &x]));
    assert_eq!(merged.code, 0, "{}{}", merged.stdout, merged.stderr);
    // Two that wrote the same file: their work does not merge.
    let (p, _) = start(&repo, "commit", (None, None), &[]);
    let (q, _) = start(&repo, "commit", (None, None), &[]);
    assert_eq!(wait(&repo, &p), 0);
    assert_eq!(wait(&repo, &q), 0);
    let r = run(repo.dispatch_cmd("commit").args([
        "--instruction",
        "combine them",
        "--detach",
        "--after",
        &format!("{p},{q}"),
    ]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("does not merge") && r.stderr.contains("demo-output.txt"),
        "{}",
        r.stderr
    );
    let rejected = repo.events("queue_decision");
    let last = rejected.last().unwrap();
    assert_eq!(last["decision"], "rejected", "{last:#}");
    assert!(last["reason"].as_str().unwrap().contains("demo-output.txt"));
    repo.verify_ok();
}

#[test]
fn a_failed_dependency_holds_its_dependents_with_the_reason() {
    let repo = repo();
    let go = repo.env.path().join("go-f");
    let (f, _) = start(&repo, "fail", (None, Some(&go)), &[]);
    let (g, _) = start(&repo, "commit", (Some("g.txt"), None), &["--after", &f]);
    let (h, _) = start(&repo, "commit", (Some("h.txt"), None), &["--after", &g]);
    std::fs::write(&go, "").unwrap();
    assert_eq!(wait(&repo, &f), 1);
    assert!(
        eventually(|| state(&repo, &h)["held"].is_string()),
        "the hold reaches the end of the chain: {:#}",
        state(&repo, &h)
    );
    let sg = state(&repo, &g);
    assert_eq!(sg["status"], "queued", "{sg:#}");
    let why = sg["held"].as_str().unwrap();
    assert!(why.contains(&f) && why.contains("failed"), "{why}");
    let sh = state(&repo, &h);
    assert!(
        sh["held"]
            .as_str()
            .unwrap()
            .contains(&format!("{g} is held")),
        "{sh:#}"
    );
    // Held once: the ledger says so, and it never started.
    assert_eq!(decisions(&repo, &g), ["queued", "held"]);
    assert!(
        repo.events("dispatch_started")
            .iter()
            .all(|r| r["dispatch_id"] != *g)
    );
    let text = run(repo.vnx().args(["status", "--all"]));
    assert!(text.stdout.contains("held: "), "{}", text.stdout);
    let shown = run(repo.vnx().args(["show", &g]));
    assert!(
        shown.stdout.contains(&format!("after {f} (failed)")),
        "{}",
        shown.stdout
    );
    // Cancelling the held one holds the next for that reason.
    let r = run(repo.vnx().args(["cancel", &g]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        eventually(|| (state(&repo, &h)["held"].as_str())
            .is_some_and(|w| w.contains(&format!("{g} ended cancelled")))),
        "{:#}",
        state(&repo, &h)
    );
    repo.verify_ok();
}

#[test]
fn a_cycle_or_an_unknown_dependency_is_refused_at_the_start() {
    let repo = repo();
    let own = "D-0000c1c1";
    let r = run(repo.dispatch_cmd("commit").args([
        "--instruction",
        "x",
        "--detach",
        "--id",
        own,
        "--after",
        own,
    ]));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("would wait for itself"), "{}", r.stderr);
    let r = run(repo.dispatch_cmd("commit").args([
        "--instruction",
        "x",
        "--detach",
        "--after",
        "D-deadbeef",
    ]));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(repo.events("dispatch_started").is_empty());
    assert!(repo.events("queue_decision").is_empty());
}

#[test]
fn after_merged_starts_from_the_base_once_its_dependency_merged() {
    let repo = repo();
    let (m, _) = start(&repo, "commit", (Some("m.txt"), None), &[]);
    assert_eq!(wait(&repo, &m), 0);
    let (n, queued) = start(
        &repo,
        "commit",
        (Some("n.txt"), None),
        &["--after", &m, "--after-merged"],
    );
    assert_eq!(queued["state"], "queued", "done is not merged: {queued}");
    let why = state(&repo, &n)["reason"].as_str().unwrap().to_owned();
    assert!(why.contains("not merged yet"), "{why}");
    let r = run(repo.vnx().args(["merge", &m]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(wait(&repo, &n), 0);
    let tip_after_merge = receipt(&repo, &m, "merge_completed")["merge_commit"].clone();
    let started = receipt(&repo, &n, "dispatch_started");
    assert_eq!(started["base_commit"], tip_after_merge, "{started:#}");
    assert_eq!(started["after"]["until"], "merged");
    repo.verify_ok();
}

#[test]
fn a_start_naming_a_head_its_dependency_never_recorded_does_not_verify() {
    let repo = repo();
    let (a, _) = start(&repo, "commit", (Some("a.txt"), None), &[]);
    assert_eq!(wait(&repo, &a), 0);
    let (b, _) = start(&repo, "commit", (Some("b.txt"), None), &["--after", &a]);
    assert_eq!(wait(&repo, &b), 0);
    repo.verify_ok();
    // A start signed with this repository's own key, claiming a head of `a` no receipt of
    // `a` records (main's): chained and signed, so only the dependency check can see it.
    let line = receipt(&repo, &b, "dispatch_started");
    let mut forged: vnx::receipts::DispatchStarted = serde_json::from_value(line).unwrap();
    forged.dispatch_id = vnx::ids::DispatchId::parse("D-0000f0f0").unwrap();
    let main = repo.env.git(&["rev-parse", "main"]);
    let after = forged.after.as_mut().unwrap();
    after.on[0].head_commit = vnx::ids::CommitId::parse(main.trim()).unwrap();
    let key_path = repo.env.home().join(".config/vnx/checkpoint.key");
    let (key, _) = vnx::ledger::checkpoint::CheckpointKey::load_or_create(&key_path).unwrap();
    let attestor = vnx::ledger::attest::Attestor::new(&key);
    let signed = attestor.attest(&vnx::receipts::write(&forged), &vnx::ledger::now_utc);
    let ledger = vnx::ledger::Ledger::new(crate::common::ledger_path(&repo));
    ledger.append(&signed).unwrap();
    let r = run(repo.vnx().args(["audit-chain", "verify", "--json"]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("dependency_unproven"), "{}", r.stdout);
    assert!(r.stdout.contains("D-0000f0f0"), "{}", r.stdout);
}

#[test]
fn a_graphs_cost_sums_what_descends_from_it_in_cost_and_on_the_page() {
    let repo = repo();
    let (a, _) = start(&repo, "commit", (Some("a.txt"), None), &[]);
    assert_eq!(wait(&repo, &a), 0);
    let (b, _) = start(&repo, "commit", (Some("b.txt"), None), &["--after", &a]);
    let (other, _) = start(&repo, "commit", (Some("o.txt"), None), &[]);
    assert_eq!(wait(&repo, &b), 0);
    assert_eq!(wait(&repo, &other), 0);
    let r = run(repo
        .vnx()
        .args(["cost", "--graph", &a, "--by", "dispatch", "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let mut graph: Vec<&str> = (v["graph"].as_array().unwrap().iter())
        .map(|i| i.as_str().unwrap())
        .collect();
    graph.sort();
    let mut want = [a.as_str(), b.as_str()];
    want.sort();
    assert_eq!(graph, want, "{v:#}");
    let keys: Vec<&str> = (v["groups"].as_array().unwrap().iter())
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert!(!keys.contains(&other.as_str()), "{v:#}");
    assert_eq!(keys.len(), 2, "{v:#}");
    // status names what started after what.
    let text = run(repo.vnx().args(["status", "--all"]));
    assert!(
        text.stdout.contains(&format!("{b} started after it")),
        "{}",
        text.stdout
    );
    // The page of the dependent says what it started after, and its graph's spend.
    let server = crate::common::serve::Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    let page = server.get(&format!("/d/{b}"), Some(&cookie)).body;
    assert!(
        page.contains(&format!("started after {a} (done)")),
        "{page}"
    );
    assert!(
        page.contains("The graph from here: 1 dispatch, 1 ended"),
        "{page}"
    );
}
