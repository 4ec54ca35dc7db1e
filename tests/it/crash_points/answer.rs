//! `vnx approve` of a blocked worker's prompt killed at each step: after its intent (nothing
//! given: the worker still waits, the rerun gives it and records it once), and after the
//! answer was given (the worker went on: the next command that reads state records the answer
//! the killed run gave, by whom, and the rerun says nothing waits). Either way the ledger
//! names who decided, once, and the worker ends done.

use super::{Doctor, Kill, settled, steps_of};
use crate::common::{Fakes, Repo, run, wait_for};

/// What the stand-in claude does in its TUI: it asks before `git commit`, then reports.
const ASKING: &str =
    "@fake write a.txt hi\n@fake commit add a\n@fake run vnx report --status done --summary a";

#[test]
fn an_answer_killed_at_any_step_is_recorded_once_with_who_gave_it() {
    for step in steps_of("answer") {
        let repo = Repo::new();
        let fakes = Fakes::new();
        let id = "D-a0a1a2a3a4a5";
        let with_fakes = |cmd: &mut std::process::Command| {
            cmd.env("PATH", fakes.path())
                .env("VNX_FAKE_LOG_DIR", fakes.log_dir());
        };
        let mut start = repo.vnx();
        with_fakes(&mut start);
        start
            .args(["run", "--agent", "implementer", "--provider", "claude"])
            .args(["--lane", "interactive", "--deadline", "120", "--detach"])
            .args(["--id", id, ASKING]);
        let r = run(&mut start);
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        let blocked = || run(repo.vnx().args(["wait", "--until-blocked", id])).code == 1;
        assert!(wait_for(blocked), "{step}: it blocks");
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let mut approve = repo.vnx();
        with_fakes(&mut approve);
        approve.args(["approve", id]);
        kill.run_killed(approve);
        kill.check_ledger(&repo);
        // Who decided is on the ledger whatever the step.
        let intents = repo.receipts(id);
        let intent = intents
            .iter()
            .find(|r| r["event_type"] == "dispatch_answering")
            .unwrap_or_else(|| panic!("{step}: no dispatch_answering"));
        assert_eq!(intent["answer"], "approve", "{step}");
        if step == vnx::steps::answer::INTENT_APPENDED {
            // Nothing was given: the worker still waits, and says so; the rerun gives it.
            let s = run(repo.vnx().args(["status", id, "--json"]));
            assert!(s.stdout.contains("\"blocked\""), "{step}: {}", s.stdout);
            let mut again = repo.vnx();
            with_fakes(&mut again);
            let r = run(again.args(["approve", id]));
            assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        }
        // Done, once a read catches its end: a read that took the ledger just before the
        // completion and the processes just after the supervisor left says `lost` for that
        // moment (the next read says done).
        let mut end = settled(&repo, id);
        for _ in 0..100 {
            if end["status"] != "lost" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            end = settled(&repo, id);
        }
        assert_eq!(end["status"], "done", "{step}: {end}");
        // The command after the worker went on records an answer given and not recorded
        // (the one that saw it end may have read it still blocked, under load).
        run(repo.vnx().args(["status"]));
        let answered: Vec<serde_json::Value> = (repo.receipts(id).into_iter())
            .filter(|r| r["event_type"] == "dispatch_answered")
            .collect();
        assert_eq!(answered.len(), 1, "{step}: {answered:#?}");
        assert_eq!(answered[0]["answer"], "approve", "{step}");
        assert_eq!(answered[0]["by"], intent["by"], "{step}");
        let concluded = answered[0].get("concluded").is_some();
        assert_eq!(
            concluded,
            step == vnx::steps::answer::GIVEN,
            "{step}: {:#}",
            answered[0]
        );
        // Nothing waits now: the rerun says so, and records nothing more.
        let r = run(repo.vnx().args(["approve", id]));
        assert_ne!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        doctor.settle(&repo, step);
        repo.verify_ok();
    }
}
