//! A follow-up of a remote dispatch: the host continues it on the first dispatch's branch,
//! which comes back here with the follow-up's work, and the chain is gated and merged here.

use crate::common::{Remote, completion, configure, gate_check, run};

#[test]
fn a_remote_follow_up_brings_back_the_branch_it_continued() {
    let remote = Remote::new();
    let repo = &remote.repo;
    configure(
        repo,
        "gates:\n  tests: {kind: command, argv: [sh, -c, 'test -s demo-output.txt']}\n\
         roles:\n  implementer: {gates: [tests]}\n",
    );
    let r = remote.dispatch("box", "ask", &[]);
    let asked = completion(&r);
    assert_eq!(asked["status"], "needs_input", "{} {}", r.stdout, r.stderr);
    let id = asked["dispatch_id"].as_str().unwrap().to_owned();
    let r = run(repo
        .vnx()
        .args(["follow-up", &id, "--json", "--model", "commit"])
        .args(["--instruction", "add the demo output after all"]));
    let done = completion(&r);
    assert_eq!(done["status"], "done", "{} {}", r.stdout, r.stderr);
    assert_eq!(done["remote"]["host"], "box", "{done:#}");
    let next = done["dispatch_id"].as_str().unwrap().to_owned();
    // The follow-up worked on `dispatch/<first id>` there: that branch is here now.
    assert!(!repo.on_branch(&id, "demo-output.txt").is_empty());
    let (r, report) = gate_check(repo, &next);
    assert_eq!(r.code, 0, "{} {report:#}", r.stderr);
    let r = run(repo.vnx().args(["merge", &next]));
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert!(repo.env.path().join("demo-output.txt").exists());
    repo.verify_ok();
}
