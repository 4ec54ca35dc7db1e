//! A worktree's git admin directory (`.git/worktrees/dispatch-<id>/`) is writable by its
//! worker, sandboxed or not. git, run by vnx outside any sandbox to commit, classify or give
//! the worktree back, writes `COMMIT_EDITMSG`, `logs/HEAD` and `index` there: through a link
//! the worker planted, vnx's own commit overwrote any file the user could write. vnx runs no
//! git in a worktree whose admin directory holds anything but directories and regular files:
//! the work is kept, and the link's target is untouched.

use crate::common::{Repo, completion, configure};

#[test]
fn a_link_planted_in_the_admin_directory_is_never_written_through() {
    for planted in ["COMMIT_EDITMSG", "logs/HEAD", "ORIG_HEAD"] {
        let repo = Repo::new();
        let target = repo.env.home().join("precious");
        std::fs::write(&target, "keep me\n").unwrap();
        // A setup command stands in for the worker: it runs in the worktree before it.
        configure(
            &repo,
            &format!(
                "worktree:\n  setup:\n    - [sh, -c, 'a=$(git rev-parse --git-dir) && \
                 mkdir -p \"$a/logs\" && rm -f \"$a/{planted}\" && ln -s {} \"$a/{planted}\"']\n",
                target.display()
            ),
        );
        // A worker that leaves its change for vnx to commit.
        let r = repo.dispatch("dirty", &["--instruction", "x"]);
        let c = completion(&r);
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "keep me\n",
            "{planted}: written through: {c}"
        );
        // The work stays in its worktree, and says why it was not touched.
        assert_eq!(c["teardown_class"], "dirty", "{planted}: {c}");
        let id = c["dispatch_id"].as_str().unwrap();
        let wt = repo
            .env
            .path()
            .join(format!(".vnx-data/worktrees/dispatch-{id}"));
        assert!(
            wt.join("demo-output.txt").exists() || wt.exists(),
            "{planted}"
        );
        assert!(
            c["teardown_reason"]
                .as_str()
                .unwrap_or_default()
                .contains("admin directory"),
            "{planted}: {c}"
        );
    }
}

/// With `extensions.worktreeConfig` on (as `git sparse-checkout` leaves it), git reads the
/// admin directory's `config.worktree`, which a sandboxed worker can write: a filter set
/// there would run when vnx's own git (outside the sandbox) commits the worker's files.
#[test]
fn a_config_worktree_planted_in_the_admin_directory_is_never_obeyed() {
    let repo = Repo::new();
    repo.env
        .git(&["config", "core.repositoryFormatVersion", "1"]);
    repo.env
        .git(&["config", "extensions.worktreeConfig", "true"]);
    let pwned = repo.env.home().join("pwned");
    // A setup command stands in for the worker: a filter for every file, defined in the
    // worktree's own config.
    let tools = tempfile::tempdir().unwrap();
    let plant = tools.path().join("plant.sh");
    std::fs::write(
        &plant,
        format!(
            "a=$(git rev-parse --git-dir)\n\
             printf '[filter \"x\"]\\n\\tclean = touch {p} && cat\\n' > \"$a/config.worktree\"\n\
             echo '* filter=x' > .gitattributes\n",
            p = pwned.display()
        ),
    )
    .unwrap();
    configure(
        &repo,
        &format!("worktree:\n  setup:\n    - [sh, {}]\n", plant.display()),
    );
    let r = repo.dispatch("dirty", &["--instruction", "x"]);
    let c = completion(&r);
    assert!(!pwned.exists(), "vnx's git ran the worker's filter: {c}");
    assert_eq!(c["teardown_class"], "dirty", "{c}");
    assert!(
        c["teardown_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("config.worktree"),
        "{c}"
    );
}

/// `vnx clean` of a worktree whose `.git` its worker pointed at a repository of its own:
/// discarded without running git there (git would read that repository's config), with its
/// receipt, and the repository it named is untouched.
#[test]
fn clean_discards_a_worktree_whose_git_was_redirected_without_running_its_git() {
    let repo = Repo::new();
    let r = repo.dispatch("fail", &["--instruction", "x"]);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let wt = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{id}"));
    assert!(wt.is_dir());
    // The worker's own repository, which its `.git` now names.
    let theirs = repo.env.home().join("theirs");
    let init = std::process::Command::new("git")
        .args(["init", "-q"])
        .arg(&theirs)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap();
    assert!(init.success());
    std::fs::write(
        wt.join(".git"),
        format!("gitdir: {}\n", theirs.join(".git").display()),
    )
    .unwrap();
    let cleaned = crate::common::run(repo.vnx().args(["clean", &id, "--yes"]));
    assert_eq!(cleaned.code, 0, "{}{}", cleaned.stdout, cleaned.stderr);
    assert!(!wt.exists(), "the worktree is gone");
    assert!(theirs.join(".git/HEAD").is_file(), "theirs is untouched");
    let discarded = repo
        .receipts(&id)
        .into_iter()
        .any(|r| r["event_type"] == "worktree_released");
    assert!(discarded);
}
