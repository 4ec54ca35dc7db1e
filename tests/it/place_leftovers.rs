//! The places no dispatch needs any more (issue 69): a cancelled dispatch's volume, a failed
//! one's with its work, seen by `status --all`, doctor, `clean --orphans` and `tidy`, and
//! removed by `tidy --yes` only when nothing there is work not here. Needs podman and
//! mmdebstrap, so `#[ignore]`d; `bin/test --all` installs them and runs it.

use crate::common::container::{
    container_of, exists, gone, remove_volume, repo_with_container_host,
};
use crate::common::{completion, run};
use crate::container_place::slow_on;

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_cancelled_or_failed_dispatchs_volume_is_seen_by_tidy_doctor_and_clean() {
    let repo = repo_with_container_host();
    // A cancelled dispatch: its container goes, its volume stays.
    let cancelled = slow_on(&repo, "box");
    let c = run(repo.vnx().args(["cancel", &cancelled]));
    assert_eq!(c.code, 0, "{}{}", c.stdout, c.stderr);
    assert!(gone("container", &container_of(&cancelled)));
    assert!(exists("volume", &container_of(&cancelled)));
    // A failed one leaves its work uncommitted there.
    let r = repo.dispatch("fail", &["--host", "box", "--instruction", "half done"]);
    let failed = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(completion(&r)["teardown_class"], "dirty", "{}", r.stdout);
    // Each is seen: by `status --all`, doctor, `clean --orphans` and tidy.
    let s = run(repo.vnx().args(["status", "--all", "--json"]));
    let listed: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    for (id, status) in [(&cancelled, "cancelled"), (&failed, "failed")] {
        let place = (listed.as_array().unwrap().iter())
            .find(|o| o["orphan"] == true && o["dispatch_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not listed: {listed:#}"));
        assert_eq!(place["ended"], status, "{place:#}");
    }
    let d = run(repo.vnx().args(["doctor"]));
    let said = format!("{}{}", d.stdout, d.stderr);
    assert!(
        said.contains("2 place(s) kept for dispatches that all ended"),
        "{said}"
    );
    let o = run(repo.vnx().args(["clean", "--orphans", "--json"]));
    for id in [&cancelled, &failed] {
        assert!(
            o.stderr.contains(&format!("box.{id}")),
            "{}{}",
            o.stdout,
            o.stderr
        );
    }
    let t = run(repo.vnx().args(["tidy"]));
    assert_eq!(t.code, 0, "{}{}", t.stdout, t.stderr);
    assert!(
        t.stdout.contains("places no dispatch needs"),
        "{}",
        t.stdout
    );
    assert!(
        t.stdout
            .contains("whose dispatches there all ended (the last cancelled)"),
        "{}",
        t.stdout
    );
    assert!(
        exists("volume", &container_of(&cancelled)),
        "tidy without --yes removed it"
    );
    // `tidy --yes` removes the volume that holds nothing, and keeps the one with work,
    // saying how to bring it here.
    let t = run(repo.vnx().args(["tidy", "--yes"]));
    assert_eq!(t.code, 0, "{}{}", t.stdout, t.stderr);
    assert!(
        t.stdout.contains(&format!(
            "removed box.{cancelled}: nothing there was work not here"
        )),
        "{}",
        t.stdout
    );
    assert!(!exists("volume", &container_of(&cancelled)));
    assert!(
        t.stdout.contains(&format!(
            "stopped box.{failed}; its storage is kept: a worktree there has changes not \
             committed (`vnx accept {failed}` brings it here)"
        )),
        "{}",
        t.stdout
    );
    assert!(exists("volume", &container_of(&failed)));
    remove_volume(&container_of(&failed));
}
