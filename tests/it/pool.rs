//! The worktree pool: a dispatch takes a prepared worktree and gives it back when it is not
//! dirty; nothing a worker left (tracked, untracked, ignored, an index entry hidden from
//! `git status`) reaches the next dispatch except the named cache directories; a dirty
//! worktree never goes back; gates run warm in a pool of their own that no worker touches.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::{Repo, completion, configure, gate_check, run};

/// A declared headless provider, `sh-worker`, running `worker.sh` (outside the repository)
/// with the prompt: it acts on the first `DO:` line of the instruction.
fn declare_worker(repo: &Repo, tools: &Path, pool: &str) -> PathBuf {
    let bin = tools.join("worker.sh");
    std::fs::write(
        &bin,
        "#!/bin/sh\n\
         task=$(printf '%s\\n' \"$1\" | sed -n 's/^DO: //p' | head -n 1)\n\
         sh -c \"$task\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        repo.env.path().join(".gitignore"),
        "*.log\nignored/\ntarget/\n",
    )
    .unwrap();
    std::fs::write(repo.env.path().join("tracked.txt"), "base\n").unwrap();
    std::fs::write(repo.env.path().join("hidden.txt"), "base\n").unwrap();
    repo.env.git(&["add", "-A"]);
    repo.env.git(&["commit", "-q", "-m", "files"]);
    configure(
        repo,
        &format!(
            "providers:\n  sh-worker:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n{pool}",
            bin.display()
        ),
    );
    bin
}

const POOL: &str = "worktree:\n  pool:\n    size: 1\n    keep: [target]\n";

/// A foreground dispatch of `sh-worker` running `task`; its completion.
fn work(repo: &Repo, task: &str) -> serde_json::Value {
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "sh-worker",
        "--json",
        "--instruction",
        &format!("DO: {task}"),
    ]));
    assert!(r.code <= 1, "{}", r.stderr);
    completion(&r)
}

fn started(repo: &Repo, id: &str) -> serde_json::Value {
    repo.receipts(id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap()
}

fn pool_status(repo: &Repo) -> serde_json::Value {
    let r = run(repo.vnx().args(["pool", "status", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

/// What a worker wrote to `$VNX_DISPATCH_DIR/seen`.
fn seen_by(repo: &Repo, id: &str) -> String {
    seen_file(repo, id, "seen")
}

/// A file a worker wrote in its dispatch directory.
fn seen_file(repo: &Repo, id: &str, name: &str) -> String {
    let dir = repo.env.path().join(".vnx-data/dispatches").join(id);
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn keys(v: &serde_json::Value) -> std::collections::BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn idle_entries(status: &serde_json::Value, which: &str) -> Vec<String> {
    status[which]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["state"] == "idle")
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits (bounded) until the dispatches' pool has an idle entry: the supervisor gives the
/// worktree back and refills after the completion is on the ledger.
fn wait_idle(repo: &Repo) -> Vec<String> {
    for _ in 0..200 {
        let idle = idle_entries(&pool_status(repo), "dispatches");
        if !idle.is_empty() {
            return idle;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("no idle pooled worktree: {:#}", pool_status(repo));
}

#[test]
fn a_pooled_worktree_carries_only_the_named_cache_directories_to_the_next_dispatch() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    declare_worker(&repo, tools.path(), POOL);
    let r = run(repo.vnx().args(["pool", "fill"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let entry = wait_idle(&repo).remove(0);
    let status = pool_status(&repo);
    assert_eq!(
        keys(&status),
        ["dispatches", "gates", "keep", "size"]
            .map(String::from)
            .into()
    );
    let mut documented = crate::json_schema::documented("pool-entry-members");
    for value in ["idle", "busy", "unproven", "lent"] {
        documented.remove(value);
    }
    assert_eq!(keys(&status["dispatches"][0]), documented);

    // The first worker leaves one of everything: a committed change, an untracked file (vnx
    // commits it to the branch), ignored files and directories, and a build cache.
    let first = work(
        &repo,
        "echo changed > tracked.txt && git commit -qam work && echo note > notes.tmp && \
         echo secret > build.log && mkdir -p ignored target && echo x > ignored/f && \
         echo cache > target/cache.bin",
    );
    assert_eq!(first["status"], "done", "{first:#}");
    let id = first["dispatch_id"].as_str().unwrap();
    assert_eq!(started(&repo, id)["pooled_worktree"], entry.as_str());
    assert_eq!(first["teardown_class"], "committed", "{first:#}");
    assert_eq!(first["teardown_action"]["pooled"], true, "{first:#}");
    assert_eq!(repo.on_branch(id, "notes.tmp").trim(), "note");
    assert_eq!(wait_idle(&repo), vec![entry.clone()]);

    // A follow-up takes a pooled worktree too, on the dispatch's branch as it was left.
    let r = run(repo.vnx().args([
        "follow-up",
        id,
        "--json",
        "--instruction",
        "DO: cat tracked.txt notes.tmp > \"$VNX_DISPATCH_DIR/seen\"",
    ]));
    let follow = completion(&r);
    let fid = follow["dispatch_id"].as_str().unwrap();
    assert_eq!(
        started(&repo, fid)["pooled_worktree"],
        entry.as_str(),
        "{}",
        r.stderr
    );
    let seen = seen_by(&repo, fid);
    assert_eq!(seen, "changed\nnote\n");
    assert_eq!(wait_idle(&repo), vec![entry.clone()]);

    // The next dispatch gets the same worktree, at the base again, with the cache only.
    let second = work(
        &repo,
        "{ ls -A; cat tracked.txt; cat target/cache.bin; git status --porcelain --ignored; } \
         > \"$VNX_DISPATCH_DIR/seen\"",
    );
    let id2 = second["dispatch_id"].as_str().unwrap();
    assert_eq!(started(&repo, id2)["pooled_worktree"], entry.as_str());
    let seen = seen_by(&repo, id2);
    let names: Vec<&str> = seen.lines().collect();
    for gone in ["notes.tmp", "build.log", "ignored"] {
        assert!(!names.contains(&gone), "{gone} survived:\n{seen}");
    }
    assert!(
        names.contains(&"base"),
        "tracked.txt is back at the base:\n{seen}"
    );
    assert!(!names.contains(&"changed"), "{seen}");
    assert!(names.contains(&"cache"), "the cache survived:\n{seen}");
    assert!(names.contains(&"!! target/"), "{seen}");
    assert_eq!(
        names.iter().filter(|l| l.starts_with("?? ")).count(),
        0,
        "{seen}"
    );
    repo.verify_ok();
}

#[test]
fn a_worktree_in_use_hiding_a_change_or_dirty_never_goes_back() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    declare_worker(&repo, tools.path(), POOL);
    run(repo.vnx().args(["pool", "fill"]));
    let entry = wait_idle(&repo).remove(0);

    // A process that outlives the worker (it left the process group: the worker waits until
    // it has its own session; and it cleared its environment, so the supervisor's sweep of
    // what the worker left running cannot see it, ADR 0099) and still works in the
    // checkout: the worktree goes back to the pool, but the proof finds the process, and the
    // entry is removed before anyone can take it.
    let lingering = work(
        &repo,
        "setsid env -i sleep 60 </dev/null >/dev/null 2>&1 & p=$!; \
         until [ \"$(cut -d' ' -f6 /proc/$p/stat)\" = $p ]; do sleep 0.05; done; \
         echo $p > \"$VNX_DISPATCH_DIR/bg.pid\"; echo more > more.txt",
    );
    let id = lingering["dispatch_id"].as_str().unwrap();
    let pid = seen_file(&repo, id, "bg.pid");
    assert_eq!(started(&repo, id)["pooled_worktree"], entry.as_str());
    assert_eq!(
        lingering["teardown_action"]["pooled"], true,
        "{lingering:#}"
    );
    let refill = wait_idle(&repo).remove(0);
    assert_ne!(refill, entry, "the entry in use was replaced by a new one");
    let _ = std::process::Command::new("kill").arg(pid.trim()).status();

    // An index entry hidden from `git status` hides a change: the worktree is kept (dirty),
    // never given back or removed, and the next dispatch sees the base.
    let hidden = work(
        &repo,
        "git update-index --skip-worktree hidden.txt && echo leaked > hidden.txt && \
         echo more > more.txt",
    );
    let id = hidden["dispatch_id"].as_str().unwrap();
    assert_eq!(started(&repo, id)["pooled_worktree"], refill.as_str());
    assert_eq!(hidden["teardown_class"], "dirty", "{hidden:#}");
    assert_eq!(hidden["status"], "failed", "{hidden:#}");
    let kept = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{id}/hidden.txt"));
    assert_eq!(std::fs::read_to_string(kept).unwrap().trim(), "leaked");
    let seen = work(&repo, "cat hidden.txt > \"$VNX_DISPATCH_DIR/seen\"");
    let id2 = seen["dispatch_id"].as_str().unwrap();
    assert_ne!(started(&repo, id2)["pooled_worktree"], refill.as_str());
    assert_eq!(seen_by(&repo, id2).trim(), "base");

    // A change hidden by settings a worker can write in the shared config (stat data
    // compared loosely, the file's size and time put back) is still a change.
    let loose = work(
        &repo,
        "git config core.checkStat minimal && git config core.trustctime false && \
         t=$(stat -c %Y hidden.txt) && sleep 1.1 && git update-index -q --refresh && \
         echo LEAK > hidden.txt && touch -d @$t hidden.txt && \
         git status --porcelain > \"$VNX_DISPATCH_DIR/seen\"",
    );
    let id = loose["dispatch_id"].as_str().unwrap();
    assert_eq!(
        seen_by(&repo, id),
        "",
        "the worker's own status saw nothing"
    );
    assert_eq!(loose["teardown_class"], "dirty", "{loose:#}");
    repo.env.git(&["config", "--unset", "core.checkStat"]);
    repo.env.git(&["config", "--unset", "core.trustctime"]);

    // A dirty teardown keeps its worktree where it is, locked; the pool lends it no more.
    let entry = wait_idle(&repo).remove(0);
    let dirty = work(&repo, "echo wip > wip.txt; exit 1");
    assert_eq!(dirty["teardown_class"], "dirty", "{dirty:#}");
    let id3 = dirty["dispatch_id"].as_str().unwrap();
    assert_eq!(started(&repo, id3)["pooled_worktree"], entry.as_str());
    let kept = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{id3}/wip.txt"));
    assert_eq!(std::fs::read_to_string(kept).unwrap().trim(), "wip");
    let status = pool_status(&repo);
    let names: Vec<&str> = status["dispatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&entry.as_str()), "{status:#}");
    repo.verify_ok();
}

#[test]
fn without_an_idle_worktree_a_dispatch_gets_a_fresh_one_and_pools_it_after() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    declare_worker(&repo, tools.path(), POOL);
    let c = work(&repo, "echo hi > hi.txt");
    assert_eq!(c["status"], "done", "{c:#}");
    let id = c["dispatch_id"].as_str().unwrap();
    assert!(started(&repo, id).get("pooled_worktree").is_none());
    assert_eq!(c["teardown_action"]["pooled"], true, "{c:#}");
    assert_eq!(wait_idle(&repo).len(), 1);
    let r = run(repo.vnx().args(["pool", "clear"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        pool_status(&repo)["dispatches"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = run(repo.vnx().args(["pool", "status"]));
    assert!(
        r.stdout.contains("dispatches: 0 worktree(s)"),
        "{}",
        r.stdout
    );
}

#[test]
fn command_gates_run_warm_in_the_gates_pool_which_no_worker_touches() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    declare_worker(
        &repo,
        tools.path(),
        "worktree:\n  pool:\n    size: 2\n    keep: [target]\n\
         gates:\n  build:\n    kind: command\n    argv: [sh, -c, 'test ! -e target/from-worker && mkdir -p target && echo run >> target/runs && wc -l < target/runs']\n\
         roles:\n  implementer: {gates: [build]}\n",
    );
    let task = "mkdir -p target && echo x > target/from-worker && echo y > y.txt";
    let first = work(&repo, task);
    assert_eq!(first["status"], "done", "{first:#}");
    let second = work(&repo, task);
    let mut runs = Vec::new();
    for c in [&first, &second] {
        let id = c["dispatch_id"].as_str().unwrap();
        let (r, report) = gate_check(&repo, id);
        assert_eq!(r.code, 0, "{} {report:#}", r.stderr);
        let result = repo
            .receipts(id)
            .into_iter()
            .find(|r| r["event_type"] == "gate_result")
            .unwrap();
        assert_eq!(result["status"], "pass", "{result:#}");
        assert!(result["pooled_worktree"].is_string(), "{result:#}");
        let output = std::fs::read_to_string(result["output_path"].as_str().unwrap()).unwrap();
        runs.push(output.trim().to_owned());
    }
    assert_eq!(
        runs,
        ["1", "2"],
        "the second gate found the first one's cache"
    );
    // No gate checkout is left with the dispatch's head checked out or files of its own.
    let gates = pool_status(&repo);
    assert_eq!(idle_entries(&gates, "gates").len(), 1, "{gates:#}");
    repo.verify_ok();
}

#[test]
fn pool_settings_are_checked() {
    let repo = Repo::new();
    for (yaml, says) in [
        (
            "worktree:\n  pool:\n    size: 65\n",
            "worktree.pool.size must be 0 to 64",
        ),
        (
            "worktree:\n  pool:\n    keep: [../up]\n",
            "is not a directory inside the worktree",
        ),
        (
            "worktree:\n  pool:\n    keep: [.git]\n",
            "is not a directory inside the worktree",
        ),
    ] {
        let path = repo.env.path().join(".vnx/config.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}{yaml}")).unwrap();
        let r = run(repo.vnx().args(["pool", "status"]));
        assert_eq!(r.code, 3, "{yaml}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{yaml}: {}", r.stderr);
        std::fs::write(&path, text).unwrap();
    }
    let r = run(repo.vnx().args(["pool", "fill"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("the worktree pool is off"),
        "{}",
        r.stderr
    );
}

#[test]
fn init_sets_and_fills_a_pool_and_offers_one_to_a_big_repository() {
    let repo = Repo::new();
    let r = run(repo
        .vnx()
        .args(["init", "--pool", "2", "--pool-keep", "target"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("made 2 pooled worktree(s)"),
        "{}",
        r.stderr
    );
    let config = std::fs::read_to_string(repo.env.path().join(".vnx/config.yaml")).unwrap();
    assert!(
        config.contains("worktree:\n  pool:\n    size: 2\n    keep: [target]\n"),
        "{config}"
    );
    repo.env.git(&["commit", "-q", "-am", "pool"]);
    let status = pool_status(&repo);
    assert_eq!(status["size"], 2);
    assert_eq!(idle_entries(&status, "dispatches").len(), 2, "{status:#}");
    let doctor = run(repo.vnx().arg("doctor"));
    assert!(
        doctor
            .stdout
            .contains("dispatches: 2 idle, 0 busy, 0 lent of 2; gates: 0 idle"),
        "{}",
        doctor.stdout
    );
    // Again: nothing changes, nothing is made.
    let r = run(repo
        .vnx()
        .args(["init", "--pool", "2", "--pool-keep", "target"]));
    assert!(
        r.stderr.contains("made 0 pooled worktree(s)"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("unchanged"), "{}", r.stdout);

    // A repository tracking 10,000 files is offered a pool (index entries of the empty blob
    // are enough: the offer counts what git tracks).
    let big = Repo::new();
    let empty = big.env.git(&["hash-object", "-w", "--stdin"]);
    let mut list = String::new();
    for i in 0..10_000 {
        list.push_str(&format!("100644 {} 0\tf/{i}\n", empty.trim()));
    }
    let mut cmd = std::process::Command::new("git");
    crate::common::hermetic(&mut cmd, &big.env.home());
    let mut child = cmd
        .current_dir(big.env.path())
        .args(["update-index", "--index-info"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(list.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let r = run(big.vnx().arg("init"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("tracks 10"), "{}", r.stderr);
    assert!(r.stderr.contains("vnx init --pool"), "{}", r.stderr);
    let r = run(repo.vnx().arg("init"));
    assert!(!r.stderr.contains("--pool"), "{}", r.stderr);
}

/// An idle entry was proven clean when it was given back, but a process an unsandboxed
/// worker left behind (`setsid`) can write into it afterwards: it is proven again when it is
/// taken, and the next dispatch never gets what was written.
#[test]
fn an_idle_entry_written_after_its_proof_is_not_handed_out() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    declare_worker(&repo, tools.path(), POOL);
    let r = run(repo.vnx().args(["pool", "fill"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let entry = wait_idle(&repo).remove(0);
    let idle = repo.env.path().join(".vnx-data/pool").join(&entry);
    assert!(idle.is_dir(), "{}", idle.display());
    // Written after the proof: a tracked file changed, an untracked one planted.
    std::fs::write(idle.join("tracked.txt"), "planted\n").unwrap();
    std::fs::write(idle.join("planted.sh"), "echo pwned\n").unwrap();
    let c = work(
        &repo,
        "cat tracked.txt > \"$VNX_DISPATCH_DIR/seen\"; ls > \"$VNX_DISPATCH_DIR/listing\"",
    );
    let id = c["dispatch_id"].as_str().unwrap();
    assert_eq!(seen_by(&repo, id), "base\n", "{c}");
    assert!(!seen_file(&repo, id, "listing").contains("planted.sh"));
}
