//! A link committed in the repository that leads out of the worktree (issue 48, item 6): a
//! worker whose posture lets it edit, unsandboxed, would write through it outside the
//! worktree (the local model through opencode did). vnx refuses such a dispatch before the
//! worker starts, and a sandboxed one runs, the link reaching nothing writable.

use crate::common::{Repo, run};

/// Commits `demo-output.txt` — the file the demo worker writes — as a link to `target`.
fn plant(repo: &Repo, target: &std::path::Path) {
    std::os::unix::fs::symlink(target, repo.env.path().join("demo-output.txt")).unwrap();
    repo.env.git(&["add", "demo-output.txt"]);
    repo.env.git(&["commit", "-q", "-m", "a link out"]);
}

#[test]
fn an_unsandboxed_editing_worker_is_refused_a_worktree_with_a_link_leading_out() {
    let repo = Repo::new();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("written-through.txt");
    plant(&repo, &target);
    for posture in ["edits", "ask"] {
        let r = repo.dispatch("commit", &["--instruction", "x", "--permission", posture]);
        assert_eq!(r.code, 1, "{posture}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "its worktree holds a link leading out of it (demo-output.txt -> {})",
                target.display()
            )) && r
                .stderr
                .contains(&format!("unsandboxed worker in `{posture}`")),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr.contains("hint: run it with --sandbox"),
            "{}",
            r.stderr
        );
        assert!(!target.exists(), "the worker wrote through the link");
        assert_eq!(repo.branches(), "", "the refused launch is undone");
    }
    // A link that stays inside is no reason to refuse.
    let inside = Repo::new();
    std::os::unix::fs::symlink("README.md", inside.env.path().join("readme-link")).unwrap();
    inside.env.git(&["add", "readme-link"]);
    inside.env.git(&["commit", "-q", "-m", "a link in"]);
    let r = inside.dispatch("commit", &["--instruction", "x"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_relative_link_climbing_out_is_refused_as_well() {
    let repo = Repo::new();
    std::fs::create_dir_all(repo.env.path().join("docs")).unwrap();
    // Two levels up from the worktree's docs/ is .vnx-data/worktrees, outside it.
    std::os::unix::fs::symlink("../../escape.txt", repo.env.path().join("docs/out")).unwrap();
    repo.env.git(&["add", "docs/out"]);
    repo.env.git(&["commit", "-q", "-m", "a relative link out"]);
    let r = repo.dispatch("commit", &["--instruction", "x"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("docs/out -> ../../escape.txt"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_sandboxed_worker_runs_and_the_link_reaches_nothing_writable() {
    let repo = Repo::new();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("written-through.txt");
    plant(&repo, &target);
    let r = run(repo
        .dispatch_cmd("commit")
        .args(["--instruction", "x", "--sandbox", "--json"]));
    assert!(r.code == 0 || r.code == 1, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("leading out"), "{}", r.stderr);
    assert!(
        !target.exists(),
        "the sandboxed worker wrote through the link"
    );
}
