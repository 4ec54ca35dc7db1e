//! `vnx recover`: a dispatch whose supervisor was killed after its worker reported is
//! recorded to its end from the sealed report (vnx's commit, teardown, the phantom guard),
//! doctor names the command, and a report or spec the worker forged is refused.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Repo, run};

/// Declares a provider running `body` as a shell script (given the prompt file).
pub(crate) fn declare(repo: &Repo, tools: &Path, name: &str, body: &str) {
    let bin = tools.join(name);
    std::fs::write(&bin, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    if !text.contains("\nproviders:\n") {
        text.push_str("providers:\n");
    }
    text.push_str(&format!(
        "  {name}:\n    binary: {}\n    headless:\n      argv: [\"{{prompt_file}}\"]\n      prompt: file\n      completion: report\n    permissions:\n      edits: []\n",
        bin.display()
    ));
    std::fs::write(&config, text).unwrap();
    repo.env
        .git(&["commit", "-q", "-am", &format!("declare {name}")]);
}

/// The worker's supervisor is frozen (so it cannot see what follows), and killed at the end
/// (as `kill -9` or a crash would; the worker dies with it).
const FREEZE_SUPERVISOR: &str = "kill -STOP $PPID";
pub(crate) const KILL_SUPERVISOR: &str = "kill -9 $PPID";

/// Dispatches with `provider`, detached, and waits until `status` calls it lost.
pub(crate) fn lost_dispatch(repo: &Repo, provider: &str) -> String {
    let r = run(repo
        .vnx()
        .args(["dispatch-agent", "--agent", "implementer"])
        .args(["--provider", provider, "--instruction", "work", "--detach"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = r.stdout.trim().to_owned();
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        let s = run(repo.vnx().args(["status", "--json"]));
        let states: Value = serde_json::from_str(s.stdout.trim()).unwrap();
        let state = states
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["dispatch_id"] == id.as_str())
            .cloned()
            .unwrap_or_default();
        if state["status"] == "lost" {
            return id;
        }
        assert!(Instant::now() < give_up, "never lost: {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn dispatch_dir(repo: &Repo, id: &str) -> PathBuf {
    repo.env
        .path()
        .canonicalize()
        .unwrap()
        .join(".vnx-data/dispatches")
        .join(id)
}

#[test]
fn a_dispatch_whose_supervisor_died_after_the_report_is_recovered_to_done() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    declare(
        &repo,
        tools.path(),
        "orphan",
        &format!(
            "{FREEZE_SUPERVISOR}\necho w > w.txt\n\
             vnx report --status done --summary 'wrote w'\n{KILL_SUPERVISOR}"
        ),
    );
    let id = lost_dispatch(&repo, "orphan");
    assert!(dispatch_dir(&repo, &id).join("report.json").is_file());

    // doctor names the dispatch as reported, and the command that records its end.
    let doctor = run(repo.vnx().args(["doctor", "--json"]));
    let report: Value = serde_json::from_str(&doctor.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "dispatches")
        .cloned()
        .unwrap();
    assert_eq!(check["status"], "fail", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("its worker reported"),
        "{check}"
    );
    assert!(
        check["hint"]
            .as_str()
            .unwrap()
            .contains(&format!("`vnx recover {id}`")),
        "{check}"
    );

    let r = run(repo.vnx().args(["recover", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("done"), "{}", r.stdout);

    let waited = run(repo.vnx().args(["wait", &id, "--json"]));
    assert_eq!(waited.code, 0, "{}{}", waited.stdout, waited.stderr);
    let c: Value = serde_json::from_str(waited.stdout.trim()).unwrap();
    assert_eq!(c["status"], "done", "{c}");
    let completed = repo
        .receipts(&id)
        .into_iter()
        .filter(|r| r["event_type"] == "dispatch_completed")
        .collect::<Vec<_>>();
    assert_eq!(completed.len(), 1);
    let completed = &completed[0];
    assert!(completed["recovered"].is_string(), "{completed}");
    assert_eq!(completed["completion_signal"], "report", "{completed}");
    assert_eq!(completed["report"]["summary"], "wrote w", "{completed}");
    assert!(completed["vnx_attestation"].is_object(), "{completed}");
    // vnx committed the worker's file on the dispatch branch, as the supervisor would have.
    assert!(completed["vnx_commit"].is_object(), "{completed}");
    assert_eq!(
        repo.env
            .git(&["show", &format!("dispatch/{id}:w.txt")])
            .trim(),
        "w"
    );
    // The worktree teardown released is deleted now, not left for a later dispatch's end.
    let trash = repo.env.path().join(".vnx-data/trash");
    let left: Vec<_> = std::fs::read_dir(&trash)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the trash: {left:?}");
    // Once is enough: a recorded end is not recorded again, and the refusal says why
    // without contradicting itself.
    let again = run(repo.vnx().args(["recover", &id]));
    assert_eq!(again.code, 1, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stderr.contains("has ended (done)"),
        "{}",
        again.stderr
    );
    assert!(!again.stderr.contains("not lost"), "{}", again.stderr);
    assert!(!again.stderr.contains("running"), "{}", again.stderr);
    // The recovered dispatch goes through the gates and merges like any other.
    let gate = run(repo.vnx().args(["gate-check", &id]));
    assert!(
        gate.code == 0 || gate.code == 1,
        "{}{}",
        gate.stdout,
        gate.stderr
    );
    repo.verify_ok();
}

#[test]
fn a_recovered_done_that_changed_nothing_is_corrected_by_the_phantom_guard() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    declare(
        &repo,
        tools.path(),
        "idler",
        &format!(
            "{FREEZE_SUPERVISOR}\nvnx report --status done --summary 'did it all'\n\
             {KILL_SUPERVISOR}"
        ),
    );
    let id = lost_dispatch(&repo, "idler");
    let r = run(repo.vnx().args(["recover", &id, "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let recovered: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_ne!(recovered["status"], "done", "{recovered}");
    assert!(
        repo.receipts(&id)
            .iter()
            .any(|r| r["event_type"] == "dispatch_corrected"),
        "the phantom guard's correction is recorded"
    );
}

#[test]
fn a_forged_report_or_a_rewritten_spec_is_refused() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    // A report written by hand: right dispatch id, no valid MAC.
    declare(
        &repo,
        tools.path(),
        "forger",
        &format!(
            "{FREEZE_SUPERVISOR}\necho w > w.txt\n\
             printf '{{\"dispatch_id\":\"%s\",\"status\":\"done\",\"summary\":\"x\",\
             \"reported_at\":\"2026-01-01T00:00:00Z\",\"mac\":\"%064d\"}}' \
             \"$VNX_DISPATCH_ID\" 0 > \"$VNX_DISPATCH_DIR/report.json\"\n{KILL_SUPERVISOR}"
        ),
    );
    declare(
        &repo,
        tools.path(),
        "honest",
        &format!(
            "{FREEZE_SUPERVISOR}\necho w > w.txt\nvnx report --status done\n{KILL_SUPERVISOR}"
        ),
    );
    let forged = lost_dispatch(&repo, "forger");
    let r = run(repo.vnx().args(["recover", &forged]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("no sealed report"), "{}", r.stderr);
    assert!(r.stderr.contains("vnx cancel"), "{}", r.stderr);

    // A sealed report, and the spec beside it now names another branch to commit on: the
    // spec is not what recovery reads, so the work goes where the signed start says.
    let rewritten = lost_dispatch(&repo, "honest");
    let spec_path = dispatch_dir(&repo, &rewritten).join("spec.json");
    let mut spec: Value = serde_json::from_slice(&std::fs::read(&spec_path).unwrap()).unwrap();
    spec["branch"] = "main".into();
    spec["worktree"] = repo.env.path().to_str().unwrap().into();
    std::fs::write(&spec_path, serde_json::to_vec(&spec).unwrap()).unwrap();
    let r = run(repo.vnx().args(["recover", &rewritten]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        repo.env
            .git(&["show", &format!("dispatch/{rewritten}:w.txt")])
            .trim(),
        "w"
    );
    // Nothing was recorded for the forged one, and main is untouched.
    assert!(
        !repo
            .receipts(&forged)
            .iter()
            .any(|r| r["event_type"] == "dispatch_completed"),
        "{forged}"
    );
    assert!(!repo.env.path().join("w.txt").exists());
    repo.verify_ok();
}

/// A spec the worker rewrote to name gemini's trust file somewhere of its choosing makes
/// recovery create nothing there: no directory, no `.vnx-lock`, nothing through a link.
#[test]
fn recovery_takes_nothing_from_the_spec_the_worker_can_rewrite() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    declare(
        &repo,
        tools.path(),
        "honest",
        &format!(
            "{FREEZE_SUPERVISOR}\necho w > w.txt\nvnx report --status done\n{KILL_SUPERVISOR}"
        ),
    );
    let victim = tempfile::tempdir().unwrap();
    let made = victim.path().join("made/by/vnx");
    let linked = victim.path().join("trusted.json");
    let target = victim.path().join("created-through-a-link");
    std::os::unix::fs::symlink(&target, victim.path().join("trusted.json.vnx-lock")).unwrap();
    for trust in [made.join("trusted_hooks.json"), linked] {
        let id = lost_dispatch(&repo, "honest");
        let spec_path = dispatch_dir(&repo, &id).join("spec.json");
        let mut spec: Value = serde_json::from_slice(&std::fs::read(&spec_path).unwrap()).unwrap();
        spec["hook_trust"] = trust.to_str().unwrap().into();
        std::fs::write(&spec_path, serde_json::to_vec(&spec).unwrap()).unwrap();
        let r = run(repo.vnx().args(["recover", &id]));
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    }
    assert!(!made.exists(), "a directory was made where the worker said");
    assert!(
        target.symlink_metadata().is_err(),
        "a lock file was made through the worker's link"
    );
}

/// A spec written before the trust file's field was named for every CLI (`gemini_trust`) is
/// still read, its trust file kept, so a supervisor of an older start still takes the
/// trust out again at its end.
#[test]
fn an_older_specs_trust_file_is_still_read() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    declare(
        &repo,
        tools.path(),
        "older",
        &format!("{FREEZE_SUPERVISOR}\nvnx report --status done\n{KILL_SUPERVISOR}"),
    );
    let id = lost_dispatch(&repo, "older");
    let spec_path = dispatch_dir(&repo, &id).join("spec.json");
    let mut spec: Value = serde_json::from_slice(&std::fs::read(&spec_path).unwrap()).unwrap();
    let map = spec.as_object_mut().unwrap();
    assert!(map.remove("hook_trust").is_some(), "{map:?}");
    map.insert(
        "gemini_trust".into(),
        "/home/u/.gemini/trusted_hooks.json".into(),
    );
    std::fs::write(&spec_path, serde_json::to_vec(&spec).unwrap()).unwrap();
    let read = vnx::dispatch::read_spec(&spec_path).unwrap();
    assert_eq!(
        read.hook_trust.as_deref(),
        Some(std::path::Path::new("/home/u/.gemini/trusted_hooks.json"))
    );
}

/// An earlier teardown (a supervisor, or a recovery) committed the work and released the
/// worktree, then died before the completion was appended: the worktree is gone, the branch
/// holds the reported work. Recovery records it as done, committed, at the branch's head.
#[test]
fn work_an_earlier_teardown_committed_and_released_is_recorded_done() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    declare(
        &repo,
        tools.path(),
        "committer",
        &format!(
            "{FREEZE_SUPERVISOR}\necho w > w.txt\ngit add w.txt\n\
             git -c user.name=w -c user.email=w@x commit -q -m w\n\
             vnx report --status done --summary 'wrote w'\n{KILL_SUPERVISOR}"
        ),
    );
    let id = lost_dispatch(&repo, "committer");
    let head = repo.env.git(&["rev-parse", &format!("dispatch/{id}")]);
    let head = head.trim();
    // Released as teardown releases a committed worktree: the checkout and its git admin
    // directory moved into the trash, the branch kept.
    let data = repo.env.path().canonicalize().unwrap().join(".vnx-data");
    let worktree = data.join(format!("worktrees/dispatch-{id}"));
    let trash = data.join("trash");
    std::fs::create_dir_all(&trash).unwrap();
    let admin = repo.env.git(&["rev-parse", "--git-common-dir"]);
    let admin = repo
        .env
        .path()
        .join(admin.trim())
        .join(format!("worktrees/dispatch-{id}"));
    assert!(admin.is_dir(), "{}", admin.display());
    std::fs::rename(&worktree, trash.join(id.as_str())).unwrap();
    std::fs::rename(&admin, trash.join(format!("{id}.git-admin"))).unwrap();

    let r = run(repo.vnx().args(["recover", &id, "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let recovered: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(recovered["status"], "done", "{recovered}");
    assert_eq!(recovered["teardown_class"], "committed", "{recovered}");
    let completed = repo
        .receipts(&id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_completed")
        .unwrap();
    assert_eq!(completed["status"], "done", "{completed}");
    assert_eq!(completed["teardown_class"], "committed", "{completed}");
    assert_eq!(completed["head_commit"], head, "{completed}");
    assert!(
        !repo
            .receipts(&id)
            .iter()
            .any(|r| r["event_type"] == "dispatch_corrected"),
        "the work is there: no phantom correction"
    );
    // What the earlier teardown put in the trash is deleted with this end.
    assert_eq!(std::fs::read_dir(&trash).unwrap().count(), 0);
    repo.verify_ok();
}

/// `recover A B C` tries every id: a refusal for one is said, the others are still recorded,
/// and the exit status says something was refused.
#[test]
fn every_id_named_is_tried_whatever_became_of_the_one_before() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    declare(
        &repo,
        tools.path(),
        "orphan",
        &format!(
            "{FREEZE_SUPERVISOR}\necho w > w.txt\n\
             vnx report --status done --summary 'wrote w'\n{KILL_SUPERVISOR}"
        ),
    );
    let first = lost_dispatch(&repo, "orphan");
    let second = lost_dispatch(&repo, "orphan");
    let r = run(repo.vnx().args(["recover", &first]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = run(repo.vnx().args(["recover", &first, &second]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!("dispatch {first} has ended")),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains(&format!("{second}  done")),
        "{}",
        r.stdout
    );
    assert!(
        repo.receipts(&second)
            .iter()
            .any(|r| r["event_type"] == "dispatch_completed" && r["status"] == "done"),
        "the second id was recovered"
    );
}

/// `status` reads the ledger first and then looks for the dispatches' sessions: a supervisor
/// that appended its dispatch's end in between took its session with it. The read from
/// before that end must not call the dispatch lost (`vnx wait` and the crash tests saw
/// `lost` for a dispatch that had just ended done); a read after it shows the end.
#[test]
fn a_dispatch_whose_end_came_after_the_read_is_not_lost_on_that_read() {
    use vnx::dispatch::fold::Records;
    use vnx::dispatch::view::{Sessions, State, states_of};
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    declare(&repo, tools.path(), "killed", KILL_SUPERVISOR);
    let id = lost_dispatch(&repo, "killed");
    let ledger = repo.env.path().join(".vnx-data/state/t0_receipts.ndjson");
    let tmux = vnx::tmux::Tmux::new(repo.server.0.socket());
    let state_on = |records: &Records| {
        let states = states_of(&ledger, records, &Sessions::new(&tmux)).unwrap();
        states
            .into_iter()
            .find(|s| s.id.as_str() == id)
            .unwrap()
            .state
    };
    let before = Records::read(&ledger).unwrap();
    assert_eq!(state_on(&before), State::Lost);
    // Its end, appended after that read (`cancel` closes a lost dispatch).
    let r = run(repo.vnx().args(["cancel", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_ne!(
        state_on(&before),
        State::Lost,
        "lost on a read from before its end"
    );
    let after = Records::read(&ledger).unwrap();
    assert!(!state_on(&after).is_live(), "{:?}", state_on(&after));
}
