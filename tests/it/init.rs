//! `vnx init`: scaffolding is complete, idempotent, keeps user edits, and refuses outside a
//! repository.

use std::os::unix::fs::PermissionsExt;

use crate::common::{TestEnv, repo_dir, run};

fn init(env: &TestEnv, args: &[&str]) -> crate::common::Run {
    run(env.vnx().arg("init").args(args))
}

/// Snapshots the config `vnx init` wrote, the registry's built-in providers (as its
/// `# Providers:` line lists them) shown as `[built-in CLIs]`: a new CLI changes no snapshot.
fn assert_config_snapshot(name: &str, config: &str) {
    let names = vnx::provider::cli::Provider::NAMES;
    let (last, rest) = names.split_last().unwrap();
    let listed = format!("# Providers: {} and {last} are built in", rest.join(", "));
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        &crate::common::regex_literal(&listed),
        "# Providers: [built-in CLIs] are built in",
    );
    settings.bind(|| insta::assert_snapshot!(name, config));
}

fn repo() -> TestEnv {
    let env = TestEnv::new();
    std::fs::remove_dir(env.path().join("state")).unwrap();
    env.git_init();
    env
}

#[test]
fn init_scaffolds_a_repository() {
    let env = repo();
    let r = init(&env, &["--project-id", "demo-repo", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["project_id"], "demo-repo");
    assert!(
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] == "created"),
        "{report:#}"
    );
    let root = env.path();
    // Nothing to detect: no gate, the examples commented.
    assert_config_snapshot(
        "init_config_without_a_test_command",
        &std::fs::read_to_string(root.join(".vnx/config.yaml")).unwrap(),
    );
    assert!(r.stderr.contains("no test command found"), "{}", r.stderr);
    // The shipped defaults, byte for byte, scripts executable.
    for file in [
        "provider_constraints.yaml",
        "skills/reviewer/references/review-checklist.md",
    ] {
        assert_eq!(
            std::fs::read(root.join(file)).unwrap(),
            std::fs::read(repo_dir().join(file)).unwrap(),
            "{file}"
        );
    }
    let script = root.join("skills/test-writer/scripts/changed-tests.sh");
    assert_eq!(
        std::fs::metadata(script).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(
        std::fs::read_to_string(root.join(".gitignore")).unwrap(),
        "/.vnx-data/\n"
    );
    for dir in ["state", "worktrees", "dispatches"] {
        assert!(root.join(".vnx-data").join(dir).is_dir());
    }
    // git sees the committed config and defaults, and ignores the runtime directory.
    let status = env.git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(status.contains(".vnx/config.yaml"), "{status}");
    assert!(!status.contains(".vnx-data"), "{status}");
    // The ledger's default location now works without --ledger.
    let r = run(env
        .vnx()
        .args(["receipts", "append", "--receipt", r#"{"event_type":"x"}"#]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(root.join(".vnx-data/state/t0_receipts.ndjson").is_file());
}

#[test]
fn init_is_idempotent_and_keeps_user_edits() {
    let env = repo();
    assert_eq!(init(&env, &[]).code, 0);
    let skill = env.path().join("skills/reviewer/SKILL.md");
    std::fs::write(
        &skill,
        "---\nname: reviewer\ndescription: ours\n---\nOur own review rules.\n",
    )
    .unwrap();
    std::fs::write(env.path().join(".gitignore"), "target").unwrap();
    let again = init(&env, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stdout
            .contains("kept (yours differs; --force replaces it) skills/reviewer/SKILL.md"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("unchanged  .vnx/config.yaml"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("updated    .gitignore"),
        "{}",
        again.stdout
    );
    assert!(
        std::fs::read_to_string(&skill)
            .unwrap()
            .contains("Our own review rules.")
    );
    assert_eq!(
        std::fs::read_to_string(env.path().join(".gitignore")).unwrap(),
        "target\n/.vnx-data/\n"
    );
    let third = init(&env, &[]);
    let changed: Vec<&str> = third
        .stdout
        .lines()
        .skip(1)
        .filter(|l| !l.trim_start().starts_with("unchanged") && !l.contains("kept"))
        .collect();
    assert!(changed.is_empty(), "a third run changed {changed:?}");
    let forced = init(&env, &["--force"]);
    assert!(
        forced
            .stdout
            .contains("overwritten skills/reviewer/SKILL.md"),
        "{}",
        forced.stdout
    );
    assert_eq!(
        std::fs::read(&skill).unwrap(),
        std::fs::read(repo_dir().join("skills/reviewer/SKILL.md")).unwrap()
    );
}

#[test]
fn project_id_is_derived_kept_and_only_changed_with_force() {
    let env = repo();
    let r = init(&env, &["--json"]);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    // The test directory is named `work`.
    assert_eq!(report["project_id"], "work");
    let r = init(&env, &["--project-id", "other"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already \"work\""), "{}", r.stderr);
    assert!(r.stderr.contains("hint: pass --force"), "{}", r.stderr);
    let r = init(&env, &["--project-id", "other", "--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let config = std::fs::read_to_string(env.path().join(".vnx/config.yaml")).unwrap();
    assert!(config.contains("project_id: other\n"), "{config}");
    let r = init(&env, &["--project-id", "Bad_Id"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("does not match"), "{}", r.stderr);
}

#[test]
fn init_refuses_outside_a_repository_and_writes_nothing() {
    let env = TestEnv::new();
    let r = init(&env, &[]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("is not inside a git repository"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("hint: run `git init` first"),
        "{}",
        r.stderr
    );
    let mut entries: Vec<String> = std::fs::read_dir(env.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["state"]);
}

#[test]
fn init_does_not_write_through_symlinks() {
    let env = repo();
    let outside = env.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, env.path().join("skills")).unwrap();
    let r = init(&env, &[]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("is a symlink"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert!(!env.path().join(".vnx").exists(), "nothing half-made");
    assert!(!env.path().join(".gitignore").exists());
}

#[test]
fn init_from_a_linked_worktree_scaffolds_the_main_checkout() {
    let env = repo();
    let wt = env.dir.path().join("wt");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap()]);
    let r = run(env.vnx().current_dir(&wt).args(["init", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(env.path().join(".vnx/config.yaml").is_file());
    assert!(!wt.join(".vnx").exists());
}

#[test]
fn shipped_defaults_list_every_file() {
    // Adding a skill file without registering it in src/defaults.rs fails here.
    let mut on_disk = vec!["provider_constraints.yaml".to_owned()];
    let mut stack = vec![repo_dir().join("skills")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                on_disk.push(
                    p.strip_prefix(repo_dir())
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    on_disk.sort();
    let mut shipped: Vec<String> = vnx::defaults::FILES
        .iter()
        .map(|f| f.path.to_owned())
        .collect();
    shipped.sort();
    assert_eq!(shipped, on_disk);
    for f in vnx::defaults::FILES {
        let exec = std::fs::metadata(repo_dir().join(f.path))
            .unwrap()
            .permissions()
            .mode()
            & 0o111
            != 0;
        assert_eq!(f.executable, exec, "{}", f.path);
    }
}

#[test]
fn the_main_checkout_is_found_in_submodules_and_separate_git_dirs() {
    let env = TestEnv::new();
    // --separate-git-dir: the git directory lives elsewhere.
    let work = env.dir.path().join("sep-work");
    let gitdir = env.dir.path().join("gitdirs/proj.git");
    std::fs::create_dir_all(gitdir.parent().unwrap()).unwrap();
    crate::common::git(
        &env.home(),
        env.dir.path(),
        &[
            "init",
            "-q",
            "--separate-git-dir",
            gitdir.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    let project = vnx::project::Project::discover(&work).unwrap();
    assert_eq!(project.root, work.canonicalize().unwrap());

    // A submodule: its git directory is under the superproject's .git/modules.
    let sub_origin = env.dir.path().join("sub-origin");
    crate::common::git(
        &env.home(),
        env.dir.path(),
        &["init", "-q", sub_origin.to_str().unwrap()],
    );
    crate::common::git(
        &env.home(),
        &sub_origin,
        &["commit", "-q", "--allow-empty", "-m", "s"],
    );
    env.git_init();
    env.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        sub_origin.to_str().unwrap(),
        "sub",
    ]);
    let sub = env.path().join("sub");
    let project = vnx::project::Project::discover(&sub).unwrap();
    assert_eq!(project.root, sub.canonicalize().unwrap());
    let repo = vnx::worktree::Repo::discover(&sub).unwrap();
    assert_eq!(repo.root, sub.canonicalize().unwrap());
}

#[test]
fn init_proposes_the_detected_test_command_as_the_implementers_gate() {
    let env = repo();
    std::fs::write(env.path().join("go.mod"), "module example.com/x\n").unwrap();
    let r = init(&env, &["--project-id", "demo-repo", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("found go.mod: the gate `test` runs `go test ./...` for role `implementer`"),
        "{}",
        r.stderr
    );
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        report["test_gate"]["argv"],
        serde_json::json!(["go", "test", "./..."])
    );
    let config = std::fs::read_to_string(env.path().join(".vnx/config.yaml")).unwrap();
    assert_config_snapshot("init_config_with_a_detected_gate", &config);
    // A second init leaves the config as it is, and proposes nothing.
    let r = init(&env, &["--json"]);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["test_gate"], serde_json::Value::Null);
    assert!(!r.stderr.contains("found go.mod"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(env.path().join(".vnx/config.yaml")).unwrap(),
        config
    );

    // --no-detect: no gate, and nothing said about one.
    let env = repo();
    std::fs::write(env.path().join("go.mod"), "module example.com/x\n").unwrap();
    let r = init(&env, &["--no-detect"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("go.mod"), "{}", r.stderr);
    assert!(!r.stderr.contains("no test command"), "{}", r.stderr);
    let config = std::fs::read_to_string(env.path().join(".vnx/config.yaml")).unwrap();
    assert!(config.contains("\n# gates:\n"), "{config}");
}
