//! `vnx schedule run` killed after its `schedule_fired` and before the dispatch it names
//! starts: a rerun starts that dispatch (under the recorded id), so the firing starts
//! exactly one dispatch, and a third run fires nothing.

use super::{Kill, steps_of};
use crate::common::{Repo, configure, run};

const SCHEDULE: &str = "schedules:
  nightly:
    cron: \"0 3 * * *\"
    instruction: add a greeting
    provider: demo
    model: commit
";

#[test]
fn a_schedule_run_killed_after_its_firing_starts_the_dispatch_on_rerun() {
    for step in steps_of("schedule") {
        let repo = Repo::new();
        configure(&repo, SCHEDULE);
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["schedule", "run", "--now", "2026-12-01T03:00:30Z"]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        let fired = repo.events("schedule_fired");
        assert_eq!(fired.len(), 1, "{step}: {fired:?}");
        let id = fired[0]["dispatch_id"].as_str().unwrap().to_owned();
        assert!(repo.events("dispatch_started").is_empty(), "{step}");
        // A rerun, later the same day: the firing's dispatch starts, nothing fires anew.
        let r =
            run(repo
                .vnx()
                .args(["schedule", "run", "--json", "--now", "2026-12-01T04:00:00Z"]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        let done: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(done.len(), 1, "{step}: {done:?}");
        assert_eq!(done[0]["action"], "resumed", "{step}: {done:?}");
        assert_eq!(done[0]["dispatch_id"], id.as_str(), "{step}");
        let started = repo.events("dispatch_started");
        assert_eq!(started.len(), 1, "{step}: {started:?}");
        assert_eq!(started[0]["dispatch_id"], id.as_str(), "{step}");
        let r =
            run(repo
                .vnx()
                .args(["schedule", "run", "--json", "--now", "2026-12-01T05:00:00Z"]));
        assert_eq!(r.stdout.trim(), "[]", "{step}: {}", r.stderr);
        assert_eq!(repo.events("schedule_fired").len(), 1, "{step}");
        assert_eq!(repo.events("dispatch_started").len(), 1, "{step}");
        let r = run(repo.vnx().args(["wait", &id]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        repo.verify_ok();
    }
}
