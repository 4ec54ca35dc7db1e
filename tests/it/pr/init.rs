//! `vnx init` detects a GitHub remote: its new config gains a `forge:` section naming it, and
//! it says so; without one (or with `--no-detect`) the config has none.

use crate::common::{TestEnv, run};

fn repo(remotes: &[(&str, &str)]) -> TestEnv {
    let env = TestEnv::new();
    std::fs::remove_dir(env.path().join("state")).unwrap();
    env.git_init();
    for (name, url) in remotes {
        env.git(&["remote", "add", name, url]);
    }
    env
}

fn config(env: &TestEnv) -> String {
    std::fs::read_to_string(env.path().join(".vnx/config.yaml")).unwrap()
}

#[test]
fn init_writes_a_forge_section_for_a_remote_on_github_and_says_so() {
    let env = repo(&[
        ("origin", "/srv/git/mirror.git"),
        ("upstream", "git@github.com:o/r.git"),
    ]);
    let r = run(env.vnx().arg("init"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("forge: remote upstream is o/r on GitHub"),
        "{}",
        r.stdout
    );
    let text = config(&env);
    assert!(
        text.contains("forge:\n  kind: github\n  remote: upstream\n"),
        "{text}"
    );
    // The config it wrote is one vnx reads: doctor checks the forge it names (gh has no
    // login here).
    let r = run(env.vnx().args(["doctor", "--json"]));
    assert!(
        r.stdout.contains("\"name\":\"forge\""),
        "{}{}",
        r.stdout,
        r.stderr
    );

    // origin wins when it is on GitHub too.
    let env = repo(&[
        ("backup", "https://github.com/b/b.git"),
        ("origin", "https://github.com/o/r"),
    ]);
    let r = run(env.vnx().args(["init", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        config(&env).contains("  remote: origin\n"),
        "{}",
        config(&env)
    );
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let note = report["steps"][0]["note"].as_str().unwrap_or_default();
    assert!(note.contains("o/r on GitHub"), "{report:#}");
}

#[test]
fn init_writes_no_forge_without_a_github_remote_or_with_no_detect() {
    let env = repo(&[("origin", "https://gitlab.com/o/r.git")]);
    let r = run(env.vnx().arg("init"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!config(&env).contains("\nforge:"), "{}", config(&env));
    assert!(!r.stdout.contains("forge:"), "{}", r.stdout);

    let env = repo(&[("origin", "https://github.com/o/r.git")]);
    let r = run(env.vnx().args(["init", "--no-detect"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!config(&env).contains("\nforge:"), "{}", config(&env));
}
