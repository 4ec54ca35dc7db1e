//! "Here" is a place (issue 70): `--host here` runs a dispatch on this machine as no `--host`
//! does, a pause of place `here` holds it, and no host may take the name.

use crate::common::{Repo, configure, run};
use crate::pause::{detached, state_of, waited};

#[test]
fn a_dispatch_for_host_here_runs_on_this_machine_and_a_pause_of_here_holds_it() {
    let repo = Repo::new();
    let id = detached(&repo, "commit", &["--host", "here"]);
    let ended = waited(&repo, &id);
    assert_eq!(ended["status"], "done", "{ended}");
    assert!(ended.get("host").is_none(), "no host: {ended}");
    let worktree = state_of(&repo, &id)["worktree"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        worktree.starts_with(&*repo.env.path().to_string_lossy()),
        "its worktree is this machine's: {worktree}"
    );

    let r = run(repo.vnx().args(["pause", "--place", "here"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let held = detached(&repo, "commit", &["--host", "here"]);
    assert_eq!(state_of(&repo, &held)["status"], "queued");
    let r = run(repo.vnx().arg("resume"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(waited(&repo, &held)["status"], "done");
    repo.verify_ok();
}

#[test]
fn no_host_may_be_named_here() {
    let repo = Repo::new();
    configure(
        &repo,
        "hosts:\n  here:\n    ssh: box\n    clone: /srv/clone\n",
    );
    let r = run(repo.vnx().args(["doctor", "--json"]));
    assert_ne!(r.code, 0, "{}", r.stdout);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(said.contains("`here` is this machine"), "{said}");
}
