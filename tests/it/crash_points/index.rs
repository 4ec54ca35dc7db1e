//! A read killed while it writes the read index again, after the new index is written to its
//! temporary file and before it replaces the old one: the next read shows the same state,
//! and the temporary file is swept (doctor names it meanwhile).

use super::{Doctor, Kill, status_of, steps_of};
use crate::common::run;

#[test]
fn a_read_killed_while_writing_the_index_leaves_nothing_a_later_read_does_not_sweep() {
    for step in steps_of("index") {
        let repo = crate::common::Repo::new();
        let id = repo.dispatched("commit", false);
        let index = repo.env.path().join(".vnx-data/index");
        // A read writes the index once the ledger is old enough for its stamp to be trusted.
        assert!(
            crate::common::wait_for(|| {
                run(repo.vnx().args(["status"]));
                index.is_dir()
            }),
            "{step}: no read wrote the index"
        );
        let doctor = Doctor::before(&repo);
        std::fs::remove_dir_all(&index).unwrap();
        let kill = Kill::at(&repo, step);
        let mut cmd = repo.vnx();
        cmd.args(["status", "--json"]);
        kill.run_killed(cmd);
        kill.check_ledger(&repo);
        let temporaries = || {
            std::fs::read_dir(&index)
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
                        .count()
                })
                .unwrap_or(0)
        };
        assert_eq!(temporaries(), 1, "{step}: the kill left no temporary index");
        assert_eq!(status_of(&repo, &id)["status"], "done", "{step}");
        doctor.settle(&repo, step);
        let r = run(repo.vnx().args(["status"]));
        assert_eq!(r.code, 0, "{step}: {}", r.stderr);
        assert_eq!(
            temporaries(),
            0,
            "{step}: the temporary index was never swept"
        );
        repo.verify_ok();
    }
}
