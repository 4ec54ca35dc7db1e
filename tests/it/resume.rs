//! `vnx resume`: after a crash killed a worker mid-task (its supervisor and the worker gone,
//! nothing recorded), the dispatch is listed (`--dry-run` changes nothing), closed with a
//! signed completion that says it was interrupted, and continued by a recorded follow-up in
//! the same worktree, told what happened and given the task; the continued work merges. A
//! lost dispatch whose worker had reported is recovered, not resumed; doctor names the command.

use serde_json::Value;

use crate::common::{Repo, ledger_path, run};
use crate::recover::{KILL_SUPERVISOR, declare, lost_dispatch};

/// A worker that, on its first run, writes half its work and dies with its supervisor (a
/// crash); told it was interrupted, finishes on top of what it left and reports.
pub(crate) const INTERRUPTIBLE: &str = "if grep -q 'was interrupted' \"$1\"; then\n\
    grep -q 'The task, as it was assigned' \"$1\" && cat half.txt > whole.txt && echo second >> whole.txt\n\
    vnx report --status done --summary 'finished after the interruption'\n\
    else\n\
    echo first > half.txt\n";

fn status(repo: &Repo, id: &str) -> Value {
    let r = run(repo.vnx().args(["status", id, "--json"]));
    serde_json::from_str::<Value>(r.stdout.trim()).unwrap()[0].clone()
}

/// A dispatch of `crashy` (the [`INTERRUPTIBLE`] worker whose supervisor is killed half-way),
/// lost: the directory of its script (kept while the test runs) and its id.
pub(crate) fn crashy_lost(repo: &Repo) -> (tempfile::TempDir, String) {
    let tools = tempfile::tempdir().unwrap();
    declare(
        repo,
        tools.path(),
        "crashy",
        &format!("{INTERRUPTIBLE}{KILL_SUPERVISOR}\nfi"),
    );
    let id = lost_dispatch(repo, "crashy");
    (tools, id)
}

#[test]
fn an_interrupted_dispatch_is_continued_in_its_worktree_and_merges() {
    let repo = Repo::new();
    let (_tools, id) = crashy_lost(&repo);
    let worktree = std::path::PathBuf::from(status(&repo, &id)["worktree"].as_str().unwrap());
    assert!(worktree.join("half.txt").exists());

    // doctor names the command.
    let doctor = run(repo.vnx().args(["doctor", "--json"]));
    assert!(
        doctor
            .stdout
            .contains(&format!("`vnx resume {id}` continues it")),
        "{}",
        doctor.stdout
    );

    // --dry-run says what it would do and changes nothing.
    let ledger = std::fs::read(ledger_path(&repo)).unwrap();
    let r = run(repo.vnx().args(["resume", "--dry-run"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "{id}  crashy -  interrupted: would close it and continue it in a follow-up in its \
             worktree (`vnx follow-up {id} --detach`)"
        )),
        "{}",
        r.stdout
    );
    assert_eq!(
        std::fs::read(ledger_path(&repo)).unwrap(),
        ledger,
        "a dry run writes nothing"
    );
    assert_eq!(status(&repo, &id)["status"], "lost");

    let r = run(repo.vnx().arg("resume"));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "{id}  interrupted: closed; continuing it in its worktree"
        )),
        "{}",
        r.stderr
    );
    let follow_up = r.stdout.trim().to_owned();
    assert!(follow_up.starts_with("D-"), "{}", r.stdout);
    let closed = status(&repo, &id);
    assert_eq!(closed["status"], "cancelled", "{closed}");
    assert!(
        closed["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("interrupted"),
        "{closed}"
    );
    // The follow-up is recorded as continuing it, in the same worktree, and finishes there.
    let w = run(repo.vnx().args(["wait", &follow_up, "--timeout", "60"]));
    assert_eq!(w.code, 0, "{}{}", w.stdout, w.stderr);
    let started = repo.events("dispatch_started");
    let continued = started
        .iter()
        .find(|s| s["dispatch_id"] == follow_up.as_str())
        .unwrap();
    assert_eq!(
        continued["continues"]["dispatch_id"],
        id.as_str(),
        "{continued}"
    );
    assert_eq!(
        continued["worktree"],
        worktree.to_str().unwrap(),
        "{continued}"
    );
    assert_eq!(continued["provider"], "crashy");
    let on_branch = repo.env.git(&["show", &format!("dispatch/{id}:whole.txt")]);
    assert_eq!(
        on_branch, "first\nsecond\n",
        "the work before the crash was kept"
    );
    // Nothing is left to resume.
    let r = run(repo.vnx().arg("resume"));
    assert_eq!(r.code, 0);
    assert!(
        r.stderr.contains("no interrupted dispatches"),
        "{}",
        r.stderr
    );
    crate::common::configure(&repo, "roles:\n  implementer: {gates: []}\n");
    assert_eq!(run(repo.vnx().args(["audit-chain", "checkpoint"])).code, 0);
    let m = run(repo.vnx().args(["merge", &follow_up]));
    assert_eq!(m.code, 0, "{}{}", m.stdout, m.stderr);
    repo.verify_ok();
}

#[test]
fn a_dispatch_that_is_not_lost_is_refused() {
    let repo = Repo::new();
    let done = repo.dispatched("commit", false);
    let r = run(repo.vnx().args(["resume", &done]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("error: dispatch {done} is done, not lost")),
        "{}",
        r.stderr
    );
}

/// A lost claude TUI dispatch was told its session (`--session-id`): `vnx resume` continues
/// that session, as the real claude showed it must (`real_clis::needs_you`), not a new one.
#[test]
fn a_lost_claude_tui_is_resumed_in_the_session_it_was_told() {
    let repo = Repo::new();
    let fakes = crate::common::Fakes::new();
    let with_fakes = |args: &[&str]| fakes.run_vnx(&repo, args);
    let id = detached_claude(&repo, &fakes, "interactive", "long work\n@fake sleep 60");
    let told = repo.receipts(&id)[0]["session_id"].clone();
    assert!(told.is_string(), "{told}");
    // The machine goes down: the supervisor first (it records nothing), then tmux.
    repo.server.kill_pane_process(&format!("vnx-{id}"));
    repo.server.0.kill_server();
    // The server is gone before the resume starts one anew on the same socket: a session
    // made in a server still shutting down dies with it (seen under load).
    assert!(repo.server.gone(), "the tmux server stayed");
    assert!(
        crate::common::wait_for(|| status(&repo, &id)["status"] == "lost"),
        "{}",
        status(&repo, &id)
    );
    let r = with_fakes(&["resume", &id]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let next = r.stdout.trim().to_owned();
    let started = repo.receipts(&next)[0].clone();
    assert_eq!(started["continues"]["session_id"], told, "{started}");
    let cancelled = run(repo.vnx().args(["cancel", &next]));
    assert_eq!(
        cancelled.code, 0,
        "{}{}",
        cancelled.stdout, cancelled.stderr
    );
}

/// A detached dispatch of the stand-in claude in `lane` given `instruction`: its id.
fn detached_claude(
    repo: &Repo,
    fakes: &crate::common::Fakes,
    lane: &str,
    instruction: &str,
) -> String {
    let r = fakes.run_vnx(
        repo,
        &[
            "dispatch-agent",
            "--agent",
            "implementer",
            "--detach",
            "--provider",
            "claude",
            "--lane",
            lane,
            "--deadline",
            "120",
            "--instruction",
            instruction,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout.trim().to_owned()
}

/// A detached `slow` demo dispatch whose worker is running: its id.
fn running_slow(repo: &Repo) -> String {
    let id = repo.dispatched("slow", true);
    assert!(
        crate::common::wait_for(|| crate::common::worker_alive(&id)),
        "{id}'s worker never ran"
    );
    id
}

/// The pid of the tmux server of `repo`'s socket.
fn tmux_server_pid(repo: &Repo) -> String {
    let out = std::process::Command::new("tmux")
        .args([
            "-L",
            repo.server.0.socket(),
            "display-message",
            "-p",
            "#{pid}",
        ])
        .output()
        .unwrap();
    let pid = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(!pid.is_empty(), "no tmux server");
    pid
}

/// Waits (up to 60 s) until `status` calls dispatch `id` something other than running.
fn settled_status(repo: &Repo, id: &str) -> Value {
    for _ in 0..600 {
        let s = status(repo, id);
        if s["status"] != "running" {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    status(repo, id)
}

/// A tmux server that dies under running workers — killed as a reboot or the OOM killer
/// would (`kill-server`, or SIGKILL to its process) — hangs up their supervisors. That is no
/// person's cancel: each dispatch is left lost, nothing recorded, its worker stopped, and
/// `vnx resume ID` continues it in a follow-up in the same worktree.
#[test]
fn dispatches_whose_tmux_server_died_are_resumed_not_cancelled() {
    for how in ["kill-server", "SIGKILL"] {
        let repo = Repo::new();
        let ids = [running_slow(&repo), running_slow(&repo)];
        if how == "kill-server" {
            repo.server.0.kill_server();
        } else {
            let pid = tmux_server_pid(&repo);
            let killed = std::process::Command::new("kill")
                .args(["-9", &pid])
                .status()
                .unwrap();
            assert!(killed.success(), "kill -9 {pid}");
        }
        assert!(repo.server.gone(), "{how}: the tmux server stayed");
        for id in &ids {
            let state = settled_status(&repo, id);
            assert_eq!(state["status"], "lost", "{how}: {state:#}");
            assert!(
                repo.events("dispatch_completed")
                    .iter()
                    .all(|c| c["dispatch_id"] != id.as_str()),
                "{how}: {id} was recorded as ended"
            );
            assert!(
                crate::common::wait_for(|| !crate::common::worker_alive(id)),
                "{how}: {id}'s worker was not stopped"
            );
        }
        for id in &ids {
            let worktree = status(&repo, id)["worktree"].as_str().unwrap().to_owned();
            let r = run(repo.vnx().args(["resume", id]));
            assert_eq!(r.code, 0, "{how}: {}{}", r.stdout, r.stderr);
            let next = r.stdout.trim().to_owned();
            let started = repo.receipts(&next)[0].clone();
            assert_eq!(
                started["continues"]["dispatch_id"],
                id.as_str(),
                "{started}"
            );
            assert_eq!(started["worktree"], worktree.as_str(), "{started}");
            let c = run(repo.vnx().args(["cancel", &next]));
            assert_eq!(c.code, 0, "{how}: cancel {next}: {}{}", c.stdout, c.stderr);
        }
        repo.verify_ok();
    }
}

/// A dispatch whose tmux server died while its supervisor still stops a worker that ignores
/// SIGTERM reads live, with no session to signal: `vnx cancel` waits for it to settle and
/// closes it then, instead of saying it could not cancel it.
#[test]
fn a_cancel_waits_for_a_supervisor_stopping_after_its_server_died() {
    let repo = Repo::new();
    let fakes = crate::common::Fakes::new();
    let script = "stubborn\n@fake ignore-term\n@fake sleep 60";
    let id = detached_claude(&repo, &fakes, "headless", script);
    assert!(
        crate::common::wait_for(|| crate::common::worker_alive(&id)),
        "{id}'s worker never ran"
    );
    repo.server.0.kill_server();
    assert!(repo.server.gone(), "the tmux server stayed");
    let r = run(repo.vnx().args(["cancel", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("closed lost"), "{}{}", r.stdout, r.stderr);
    assert_eq!(status(&repo, &id)["status"], "cancelled");
    assert!(!crate::common::worker_alive(&id), "its worker was stopped");
}

/// A person's `vnx cancel` of a running dispatch is still recorded `cancelled` by its
/// supervisor, and `vnx resume` refuses it: that is the one stop that is not interrupted.
#[test]
fn a_persons_cancel_is_recorded_cancelled_and_not_resumed() {
    let repo = Repo::new();
    let id = running_slow(&repo);
    let r = run(repo.vnx().args(["cancel", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let state = settled_status(&repo, &id);
    assert_eq!(state["status"], "cancelled", "{state:#}");
    let r = run(repo.vnx().args(["resume", &id]));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
}

/// A rerun of `vnx resume ID` that finds the end recorded (its worker had reported, and the
/// first run recovered it) says so and exits 0: rerunning a finished resume is no mistake.
#[test]
fn a_rerun_that_finds_the_end_recorded_exits_0() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    declare(
        &repo,
        tools.path(),
        "orphan",
        &format!(
            "kill -STOP $PPID\necho w > w.txt\n\
             vnx report --status done --summary 'wrote w'\n{KILL_SUPERVISOR}"
        ),
    );
    let id = lost_dispatch(&repo, "orphan");
    let r = run(repo.vnx().args(["resume", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(status(&repo, &id)["status"], "done");
    let r = run(repo.vnx().args(["resume", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("{id}  recorded already from its worker's report")),
        "{}",
        r.stderr
    );
}
