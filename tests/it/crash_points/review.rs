//! `vnx review --send` killed after its `review_sent`, before the follow-up started: the
//! comment is still open (a send counts only once its follow-up is on the ledger), and the
//! rerun sends it in a follow-up that addresses it.

use super::{Doctor, Kill, steps_of};
use crate::common::{Repo, completion, run};

#[test]
fn a_send_killed_at_any_step_leaves_the_comments_open_to_send_again() {
    for step in steps_of("review") {
        let repo = Repo::new();
        let id = repo.dispatched("commit", false);
        let r = run(repo
            .vnx()
            .args(["review", &id, "--comment", "demo-output.txt:2", "name it"]));
        assert_eq!(r.code, 0, "{step}: {}", r.stderr);
        let doctor = Doctor::before(&repo);
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["review", &id, "--send"]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        assert_eq!(repo.events("review_sent").len(), 1, "{step}");
        let r = run(repo.vnx().args(["review", &id]));
        assert!(
            r.stdout.contains("1 review comment(s), 1 open"),
            "{step}: {}",
            r.stdout
        );
        let r = run(repo.vnx().args(["review", &id, "--send", "--json"]));
        assert_eq!(r.code, 0, "{step}: {}{}", r.stdout, r.stderr);
        let follow = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
        let r = run(repo.vnx().args(["review", &id]));
        assert!(
            r.stdout
                .contains(&format!("addressed by follow-up {follow}")),
            "{step}: {}",
            r.stdout
        );
        doctor.settle(&repo, step);
        repo.verify_ok();
    }
}
