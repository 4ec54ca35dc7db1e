//! The conflict radar: `vnx status` (a line, `overlaps` in its JSON) names the files a
//! dispatch changed that another running or unmerged dispatch also changed — committed on
//! their branches, or uncommitted in a running worker's worktree, as its supervisor records
//! them (or read by the radar itself where no record is) — and `vnx merge` of several merges
//! the ones sharing the fewest files first, saying why (`--as-given` keeps the order given).
//! A worktree whose git files a worker replaced, or that holds a FIFO, neither hangs its
//! supervisor nor is followed; the web page and `status` escape a worker's file names.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde_json::Value;

use crate::common::{Repo, committed, configure, gate_check, run};

/// The implementer merges without gates (a gate check still anchors the ledger).
const NO_GATES: &str = "roles:\n  implementer: {gates: []}\n";

/// `vnx status --json`: the dispatch whose id is `id`.
fn status_of(repo: &Repo, id: &str) -> Value {
    let r = run(repo.vnx().args(["status", "--all", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    all.into_iter()
        .find(|s| s["dispatch_id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {}", r.stdout))
}

/// The files and other dispatches `vnx status --json` says `id` shares.
fn overlaps(repo: &Repo, id: &str) -> Vec<(String, Vec<String>)> {
    let s = status_of(repo, id);
    s["overlaps"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    let with = o["with"].as_array().unwrap();
                    (
                        o["file"].as_str().unwrap().to_owned(),
                        with.iter()
                            .map(|w| w.as_str().unwrap().to_owned())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Declared workers that change files and keep running (they print what they did, which is
/// the activity their supervisor records their changes after): `editor` changes
/// demo-output.txt and adds a file of its own; `hostile` adds files named to script a page
/// and to clear a terminal; `planter` plants a FIFO and then swaps the worktree's `.git` for
/// one.
const WORKERS: &[(&str, &str)] = &[
    (
        "editor",
        "printf 'mine\\n' > demo-output.txt; mkdir -p src; printf 'fn x() {}\\n' > src/only-mine.rs; \
         echo edited; exec sleep 3600",
    ),
    (
        "hostile",
        "printf x > '<img src=x onerror=alert(1)>.txt'; printf x > \"$(printf 'clear\\033[2J.txt')\"; \
         echo edited; exec sleep 3600",
    ),
    (
        "planter",
        "printf 'mine\\n' > demo-output.txt; mkfifo pipe; echo planted; sleep 3; rm .git; \
         mkfifo .git; echo swapped; exec sleep 3600",
    ),
];

/// The config declaring [`WORKERS`], scripts in `tools`.
fn workers(repo: &Repo, tools: &std::path::Path) {
    let mut yaml = format!("{NO_GATES}providers:\n");
    for (name, script) in WORKERS {
        let bin = tools.join(name);
        std::fs::write(&bin, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        yaml.push_str(&format!(
            "  {name}:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n",
            bin.display()
        ));
    }
    configure(repo, &yaml);
}

/// A running dispatch of the declared worker `name`, once its supervisor recorded its
/// changes: its id and worktree.
fn running(repo: &Repo, name: &str) -> (String, PathBuf) {
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        name,
        "--instruction",
        "change files",
        "--detach",
        "--json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = v["dispatch_id"].as_str().unwrap().to_owned();
    let wt = PathBuf::from(status_of(repo, &id)["worktree"].as_str().unwrap());
    let record = repo
        .env
        .path()
        .join(".vnx-data/dispatches")
        .join(&id)
        .join("changes.json");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !record.exists() {
        assert!(
            std::time::Instant::now() < until,
            "no changes recorded for {id}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    (id, wt)
}

#[test]
fn status_names_the_files_running_and_unmerged_dispatches_both_changed() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    workers(&repo, tools.path());
    // Two done dispatches committed demo-output.txt on their branches; the radar reads the
    // second itself (no record: a dispatch of an earlier vnx).
    let a = committed(&repo, "implementer");
    let b = committed(&repo, "implementer");
    let record = |id: &str| {
        repo.env
            .path()
            .join(".vnx-data/dispatches")
            .join(id)
            .join("changes.json")
    };
    assert!(
        record(&a).exists(),
        "the supervisor records the changes at the end"
    );
    std::fs::remove_file(record(&b)).unwrap();
    // A running worker has changed demo-output.txt (uncommitted) and a file of its own.
    let (live, wt) = running(&repo, "editor");
    let mut others = vec![b.clone(), live.clone()];
    others.sort();
    assert_eq!(
        overlaps(&repo, &a),
        [("demo-output.txt".to_owned(), others)]
    );
    let mut others = vec![a.clone(), b.clone()];
    others.sort();
    assert_eq!(
        overlaps(&repo, &live),
        [("demo-output.txt".to_owned(), others)],
        "its own file is not shared"
    );
    // The line under the row, for a person.
    let r = run(repo.vnx().args(["status", "--wide"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut with = [a.clone(), b.clone()];
    with.sort();
    assert!(
        r.stdout.contains(&format!(
            "shares demo-output.txt with {}; demo-output.txt with {}",
            with[0], with[1]
        )),
        "{}",
        r.stdout
    );
    // Stopped, its worktree is kept (dirty) and still in play; once a dispatch merged, it is
    // out of play.
    assert_eq!(run(repo.vnx().args(["cancel", &live])).code, 0);
    assert!(wt.join("src/only-mine.rs").exists());
    let (g, report) = gate_check(&repo, &a);
    assert_eq!(g.code, 0, "{}{report:#}", g.stderr);
    let m = run(repo.vnx().args(["merge", &a]));
    assert_eq!(m.code, 0, "{}", m.stderr);
    assert_eq!(overlaps(&repo, &a), []);
    assert_eq!(
        overlaps(&repo, &b),
        [("demo-output.txt".to_owned(), vec![live.clone()])]
    );
}

#[test]
fn merge_of_several_lands_the_ones_sharing_the_fewest_files_first_and_says_why() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("scribe");
    std::fs::write(&bin, "#!/bin/sh\nprintf 'notes\\n' > notes.txt\n").unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        &repo,
        &format!(
            "{NO_GATES}providers:\n  scribe:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n",
            bin.display()
        ),
    );
    let first = committed(&repo, "implementer");
    let second = committed(&repo, "implementer");
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
    let notes = crate::common::completion(&r)["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for id in [&first, &second, &notes] {
        let (g, report) = gate_check(&repo, id);
        assert_eq!(g.code, 0, "{}{report:#}", g.stderr);
    }
    // --check says the order and merges nothing.
    let c = run(repo
        .vnx()
        .args(["merge", "--check", &first, &second, &notes]));
    assert!(
        c.stderr.contains(&format!(
            "merge order: {notes}, {first}, {second} (the ones sharing the fewest changed files \
             with the others first)"
        )),
        "{}",
        c.stderr
    );
    assert!(
        c.stderr
            .contains(&format!("  {notes}: shares no file with the others")),
        "{}",
        c.stderr
    );
    assert!(
        c.stderr
            .contains(&format!("  {first}: shares demo-output.txt with {second}")),
        "{}",
        c.stderr
    );
    let m = run(repo
        .vnx()
        .args(["merge", "--json", &first, &second, &notes]));
    let order: Vec<(String, String)> = m
        .stdout
        .lines()
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            (
                e["dispatch_id"].as_str().unwrap().to_owned(),
                e["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // The notes land first; then the first of the two that share a file; the second then
    // conflicts with it and is taken out.
    assert_eq!(
        order,
        [
            (notes.clone(), "merged".to_owned()),
            (first.clone(), "merged".to_owned()),
            (second.clone(), "dequeued".to_owned()),
        ],
        "{}{}",
        m.stderr,
        m.stdout
    );
}

#[test]
fn merge_as_given_keeps_the_order_given() {
    let repo = Repo::new();
    let first = committed(&repo, "implementer");
    let second = committed(&repo, "implementer");
    let c = run(repo.vnx().args([
        "merge",
        "--check",
        "--as-given",
        "--verbose",
        &second,
        &first,
    ]));
    assert!(
        c.stderr
            .contains(&format!("merge order: {second}, {first}\n")),
        "{}",
        c.stderr
    );
    assert!(
        c.stderr
            .contains(&format!("  {second}: in the order given")),
        "{}",
        c.stderr
    );
}

#[test]
fn a_worktree_whose_git_files_a_worker_replaced_or_that_holds_a_fifo_is_not_followed() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    workers(&repo, tools.path());
    let a = committed(&repo, "implementer");
    // The worker plants a FIFO among its files: its supervisor's read does not block on it.
    let (live, _wt) = running(&repo, "planter");
    assert_eq!(
        overlaps(&repo, &live),
        [("demo-output.txt".to_owned(), vec![a.clone()])]
    );
    // Then it swaps its .git for a FIFO: its worktree is not read (nor waited on) any more;
    // its branch's commits still are (none).
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !overlaps(&repo, &live).is_empty() {
        assert!(
            std::time::Instant::now() < until,
            "the swapped worktree is still read"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let record = repo
        .env
        .path()
        .join(".vnx-data/dispatches")
        .join(&live)
        .join("changes.json");
    let text = std::fs::read_to_string(record).unwrap();
    assert!(text.contains("unseen"), "{text}");
    // Its supervisor still answers: the dispatch stops.
    assert_eq!(run(repo.vnx().args(["cancel", &live])).code, 0);
    assert_ne!(status_of(&repo, &live)["status"], "running");
}

#[test]
fn the_page_and_status_show_a_workers_file_names_escaped() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    workers(&repo, tools.path());
    let (a, _) = running(&repo, "hostile");
    let (b, _) = running(&repo, "hostile");
    let hostile = "<img src=x onerror=alert(1)>.txt";
    let control = "clear\x1b[2J.txt";
    let shared: Vec<String> = overlaps(&repo, &a).into_iter().map(|(f, _)| f).collect();
    assert_eq!(shared, [hostile.to_owned(), control.to_owned()]);
    let r = run(repo.vnx().args(["status", "--wide"]));
    assert!(!r.stdout.contains('\x1b'), "{:?}", r.stdout);
    assert!(r.stdout.contains(&format!("with {b}")), "{}", r.stdout);
    let server = crate::common::serve::Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    for path in ["/".to_owned(), format!("/d/{a}")] {
        let page = server.get(&path, Some(&cookie));
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.body.contains("&lt;img src=x onerror=alert(1)&gt;.txt"),
            "{path}: {}",
            page.body
        );
        assert!(!page.body.contains("<img src=x"), "{path}");
        assert!(page.body.contains(&format!("with {b}")), "{path}");
    }
    for id in [&a, &b] {
        assert_eq!(run(repo.vnx().args(["cancel", id])).code, 0);
    }
}
