//! `vnx prune`: old dispatch and gate directories go once nothing needs them; what an open
//! dispatch, a preserved worktree or branch still reads stays, whatever its age. The gate
//! checkouts a `gate-check` killed with SIGKILL left go whatever their age; a running gate's
//! checkout stays.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::{Repo, committed, completion, configure, hermetic, run, wait_for};

/// Makes everything under `dir` look untouched for `days` days.
fn age(dir: &Path, days: u32) {
    let when = format!("{days} days ago");
    let status = std::process::Command::new("find")
        .arg(dir)
        .args(["-exec", "touch", "-h", "-d", &when, "{}", "+"])
        .status()
        .unwrap();
    assert!(status.success());
}

fn dispatches(repo: &Repo) -> PathBuf {
    repo.env.path().join(".vnx-data/dispatches")
}

#[test]
fn prunes_only_old_directories_nothing_needs() {
    let repo = Repo::new();
    // Committed work: its branch (and locked worktree) is preserved, so its files stay.
    let kept = completion(&repo.dispatch("commit", &["--instruction", "keep me"]));
    let kept = kept["dispatch_id"].as_str().unwrap().to_owned();
    // A reviewer that changed nothing: clean teardown, worktree and branch gone.
    let gone = completion(&repo.dispatch_as("reviewer", "ask", &["--instruction", "look"]));
    assert_eq!(gone["teardown_class"], "clean", "{gone}");
    let gone = gone["dispatch_id"].as_str().unwrap().to_owned();
    // A gate run of it, and a directory a launcher left without ever starting.
    let gates = repo
        .env
        .path()
        .join(".vnx-data/gates")
        .join(&gone)
        .join("run-1");
    std::fs::create_dir_all(&gates).unwrap();
    std::fs::write(gates.join("gate.log"), "ok\n").unwrap();
    let stray = dispatches(&repo).join("D-0badf00d");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("instruction.md"), "never ran\n").unwrap();
    // A young one, just ended: too new to prune.
    let young = completion(&repo.dispatch_as("reviewer", "ask", &["--instruction", "again"]));
    let young = young["dispatch_id"].as_str().unwrap().to_owned();
    for dir in [
        dispatches(&repo).join(&kept),
        dispatches(&repo).join(&gone),
        repo.env.path().join(".vnx-data/gates"),
        stray.clone(),
    ] {
        age(&dir, 40);
    }

    let r = run(repo
        .vnx()
        .args(["prune", "--older-than", "30d", "--dry-run", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let ids = |key: &str| -> Vec<String> {
        let mut v: Vec<String> = plan[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["dispatch_id"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let mut expected = vec!["D-0badf00d".to_owned(), gone.clone()];
    expected.sort();
    assert_eq!(ids("prune"), expected, "{plan}");
    assert_eq!(ids("kept"), vec![kept.clone()], "{plan}");
    assert!(
        plan["kept"][0]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("dispatch/{kept}")),
        "{plan}"
    );
    assert!(
        dispatches(&repo).join(&gone).is_dir(),
        "a dry run removes nothing"
    );

    // Without a terminal to ask on and without --yes, nothing happens.
    let r = run(repo.vnx().args(["prune", "--older-than", "30d"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    assert!(dispatches(&repo).join(&gone).is_dir());

    let r = run(repo.vnx().args(["prune", "--older-than", "30d", "--yes"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!dispatches(&repo).join(&gone).exists(), "{}", r.stdout);
    assert!(!gates.exists(), "its gate runs go with it");
    assert!(!stray.exists());
    assert!(
        dispatches(&repo).join(&kept).is_dir(),
        "preserved work keeps its files"
    );
    assert!(dispatches(&repo).join(&young).is_dir(), "too young");

    // The ledger still holds every receipt, and still verifies.
    let r = run(repo.vnx().args(["status", "--json"]));
    assert!(r.stdout.contains(&gone), "{}", r.stdout);
    let r = run(repo.vnx().args(["audit-chain", "verify"]));
    assert_eq!(r.code, 0, "{}", r.stdout);

    // Once its work is discarded on purpose, the kept one can go too.
    let r = run(repo.vnx().args(["clean", &kept, "--yes"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    age(&dispatches(&repo).join(&kept), 40);
    let r = run(repo.vnx().args(["prune", "--older-than", "30d", "--yes"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!dispatches(&repo).join(&kept).exists(), "{}", r.stdout);
}

#[test]
fn a_running_dispatch_is_never_pruned() {
    let repo = Repo::new();
    let r = repo.dispatch("slow", &["--instruction", "x", "--detach"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let launched: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    // Once the worker has said what it does, nothing writes there for an hour.
    let log = dispatches(&repo).join(&id).join("worker.log");
    assert!(crate::common::wait_for(|| {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("working for an hour"))
    }));
    age(&dispatches(&repo).join(&id), 40);
    let r = run(repo
        .vnx()
        .args(["prune", "--older-than", "1d", "--dry-run", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(plan["prune"], serde_json::json!([]), "{plan}");
    // Kept as running, unless its worker wrote since it was aged (then it is simply young).
    if let Some(kept) = plan["kept"].as_array().and_then(|k| k.first()) {
        assert_eq!(kept["dispatch_id"], id.as_str(), "{plan}");
    }
    let r = run(repo.vnx().args(["prune", "--older-than", "1d", "--yes"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dispatches(&repo).join(&id).join("spec.json").is_file());
    run(repo.vnx().args(["cancel", &id]));
}

#[test]
fn a_follow_up_keeps_its_files_while_its_chains_branch_lives() {
    let repo = Repo::new();
    let first = completion(&repo.dispatch("commit", &["--instruction", "one"]));
    let first = first["dispatch_id"].as_str().unwrap().to_owned();
    let r = run(repo
        .vnx()
        .args(["follow-up", &first, "--instruction", "two", "--json"]));
    let next = completion(&r);
    let next = next["dispatch_id"].as_str().unwrap().to_owned();
    // Its supervisor holds its lock until it has done what follows the completion.
    assert!(repo.server.sessions_end());
    assert!(!repo.branches().contains(&format!("dispatch/{next}")));
    age(&dispatches(&repo).join(&next), 40);
    let r = run(repo
        .vnx()
        .args(["prune", "--older-than", "30d", "--dry-run", "--json"]));
    let plan: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(plan["prune"], serde_json::json!([]), "{plan}");
    assert_eq!(plan["kept"][0]["dispatch_id"], next.as_str(), "{plan}");
    assert!(
        plan["kept"][0]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("dispatch/{first}")),
        "it works on the first dispatch's branch: {plan}"
    );
}

/// A done dispatch whose role's one gate, `waits`, says it started and then waits an hour.
fn dispatch_with_a_waiting_gate(repo: &Repo) -> String {
    configure(
        repo,
        "gates:\n\
         \x20 waits: {kind: command, argv: [sh, -c, 'echo started; exec sleep 3600'], timeout: 3600}\n\
         roles:\n\
         \x20 implementer: {gates: [waits]}\n",
    );
    committed(repo, "implementer")
}

/// The gate checkouts git has registered, as it names them. A `git worktree add` under way
/// can leave git unable to list (its admin directory is not yet whole): none, then.
fn gate_checkouts(repo: &Repo) -> Vec<PathBuf> {
    let mut git = Command::new("git");
    hermetic(&mut git, &repo.env.home());
    let out = (git.current_dir(repo.env.path()))
        .args(["worktree", "list", "--porcelain"])
        .output()
        .unwrap();
    let mut v: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .filter(|p| p.contains("/.vnx-data/gates/"))
        .map(PathBuf::from)
        .collect();
    v.sort();
    v
}

/// A `vnx gate-check` running; killed with SIGKILL when dropped, if it still runs.
struct GateCheck(Child);

impl GateCheck {
    /// Kills it as `kill -9` does: it can remove nothing.
    fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for GateCheck {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `vnx gate-check ID` and waits until its gate runs in a new checkout: returns it and
/// the checkout (as git names it).
fn gate_running(repo: &Repo, id: &str) -> (GateCheck, PathBuf) {
    let before = gate_checkouts(repo);
    let child = repo
        .vnx()
        .args(["gate-check", id, "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = GateCheck(child);
    let mut checkout = None;
    let started = wait_for(|| {
        checkout = gate_checkouts(repo)
            .into_iter()
            .find(|c| !before.contains(c));
        checkout.as_ref().is_some_and(|c| {
            std::fs::read_to_string(c.parent().unwrap().join("output.log"))
                .is_ok_and(|t| t.contains("started"))
        })
    });
    assert!(started, "the gate never ran: {:?}", gate_checkouts(repo));
    (running, checkout.unwrap())
}

#[test]
fn a_gate_checkout_a_gate_check_killed_with_sigkill_left_is_removed() {
    let repo = Repo::new();
    let id = dispatch_with_a_waiting_gate(&repo);
    let (gate_check, checkout) = gate_running(&repo, &id);
    gate_check.kill();
    assert_eq!(
        gate_checkouts(&repo),
        vec![checkout.clone()],
        "the killed run could not remove its checkout"
    );
    assert!(
        checkout.join("demo-output.txt").is_file(),
        "a checkout of the head"
    );

    // A dry run names it, whatever --older-than says, and removes nothing.
    let r = run(repo
        .vnx()
        .args(["prune", "--older-than", "30d", "--dry-run"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains(&format!("  {id}  gate checkout {}  (", checkout.display())),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("would remove 1 gate checkout(s) killed gate runs left"),
        "{}",
        r.stderr
    );
    let r = run(repo
        .vnx()
        .args(["prune", "--older-than", "30d", "--dry-run", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let left = &plan["gate_checkouts"];
    assert_eq!(left.as_array().unwrap().len(), 1, "{plan}");
    assert_eq!(left[0]["dispatch_id"], id.as_str(), "{plan}");
    assert_eq!(left[0]["gate"], "waits", "{plan}");
    assert_eq!(left[0]["path"], checkout.to_str().unwrap(), "{plan}");
    assert!(
        left[0]["reason"].as_str().unwrap().contains("run.lock"),
        "{plan}"
    );
    assert_eq!(plan["prune"], serde_json::json!([]), "{plan}");
    assert_eq!(gate_checkouts(&repo), vec![checkout.clone()], "a dry run");

    let r = run(repo
        .vnx()
        .args(["prune", "--older-than", "30d", "--yes", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let done: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(
        done["gate_checkouts_removed"],
        serde_json::json!([{"path": checkout, "error": null}]),
        "{done}"
    );
    assert_eq!(
        gate_checkouts(&repo),
        Vec::<PathBuf>::new(),
        "git forgot it"
    );
    assert!(!checkout.exists());
    let gate_dir = checkout.parent().unwrap();
    assert!(
        gate_dir.join("output.log").is_file(),
        "the run's young files stay"
    );
    assert!(dispatches(&repo).join(&id).is_dir());
    let r = run(repo
        .vnx()
        .args(["prune", "--older-than", "30d", "--dry-run"]));
    assert!(r.stderr.contains("nothing to prune"), "{}", r.stderr);
}

#[test]
fn a_running_gates_checkout_is_kept_while_a_killed_ones_goes() {
    let repo = Repo::new();
    let id = dispatch_with_a_waiting_gate(&repo);
    // Its supervisor holds the dispatch's lock until its session ends.
    assert!(repo.server.sessions_end());
    let (running, alive) = gate_running(&repo, &id);
    let (killed, dead) = gate_running(&repo, &id);
    killed.kill();
    let mut both = vec![alive.clone(), dead.clone()];
    both.sort();
    assert_eq!(gate_checkouts(&repo), both);
    // Its files, however old they look, stay while the run holds its lock.
    age(&dispatches(&repo).join(&id), 40);
    age(&repo.env.path().join(".vnx-data/gates").join(&id), 40);

    let r = run(repo
        .vnx()
        .args(["prune", "--older-than", "30d", "--dry-run", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(plan["prune"], serde_json::json!([]), "{plan}");
    assert_eq!(plan["kept"][0]["dispatch_id"], id.as_str(), "{plan}");
    assert!(
        plan["kept"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("gate run"),
        "{plan}"
    );
    let paths: Vec<&str> = plan["gate_checkouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec![dead.to_str().unwrap()], "{plan}");

    let r = run(repo.vnx().args(["prune", "--older-than", "30d", "--yes"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("  {}  removed", dead.display())),
        "{}",
        r.stdout
    );
    assert_eq!(gate_checkouts(&repo), vec![alive.clone()]);
    assert!(alive.join("demo-output.txt").is_file(), "untouched");
    assert!(!dead.exists());
    drop(running);
}
