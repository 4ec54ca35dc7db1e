//! Short commands (issue 40): `vnx run "TASK"` with the worker from `defaults:`, `status` in 80
//! columns, `merge` in one line per dispatch, `clean` by the start of an id.

use crate::common::{Repo, completion, demo_defaults, run};

#[test]
fn run_takes_the_task_as_its_argument_and_the_worker_from_the_defaults() {
    let repo = Repo::new();
    demo_defaults(&repo, "  model: commit\n");
    let r = run(repo.vnx().args(["run", "--json", "add a greeting"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let started = repo
        .receipts(&id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap();
    assert_eq!(started["role"], "implementer", "{started}");
    assert_eq!(started["provider"], "demo", "{started}");
    assert_eq!(started["model"], "commit", "{started}");
    assert_eq!(started["title"], "add a greeting", "{started}");
    // The task twice, or none, is a usage error.
    for args in [
        &["run", "a", "--instruction", "b"][..],
        &["run", "a", "--instruction-file", "f"],
        &["run"],
    ] {
        let r = run(repo.vnx().args(args));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    }
    let r = run(repo.vnx().arg("run"));
    assert!(r.stderr.contains("vnx run \"TASK\""), "{}", r.stderr);
}

#[test]
fn without_a_default_role_a_dispatch_names_one() {
    let repo = Repo::new();
    let path = repo.env.path().join(".vnx/config.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("  role: implementer\n", "", 1)).unwrap();
    let r = run(repo
        .vnx()
        .args(["run", "--provider", "demo", "--model", "commit", "x"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("error: no role given"), "{}", r.stderr);
    assert!(r.stderr.contains("defaults: {role: ROLE}"), "{}", r.stderr);
}

#[test]
fn help_lists_run_beside_dispatch_agent() {
    let repo = Repo::new();
    let r = run(repo.vnx().arg("--help"));
    let line = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("dispatch-agent"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(line.ends_with("[alias: run]"), "{line}\n{}", r.stdout);
}

/// Every line of `text` in at most `width` characters.
fn fits(text: &str, width: usize) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= width,
            "{} > {width}: {line:?}\n{text}",
            line.chars().count()
        );
    }
}

#[test]
fn status_fits_80_columns_cutting_titles_never_ids() {
    let repo = Repo::new();
    let long_id = format!("D-{}", "a1".repeat(15));
    let title = "a title far longer than eighty columns leave it once the other columns are set";
    for (model, id) in [("commit", long_id.as_str()), ("ask", "D-0000000a")] {
        let r = repo.dispatch(model, &["--instruction", "x", "--title", title, "--id", id]);
        assert!(r.code <= 1, "{}", r.stderr);
    }
    let r = run(repo.vnx().arg("status"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    fits(&r.stdout, 80);
    assert!(r.stdout.starts_with("DISPATCH"), "{}", r.stdout);
    assert!(r.stdout.contains(&long_id), "{}", r.stdout);
    assert!(
        r.stdout.contains("  a title far") && r.stdout.contains("…\n"),
        "{}",
        r.stdout
    );
    // A narrower terminal: still whole ids.
    let r = run(repo.vnx().env("COLUMNS", "60").arg("status"));
    assert!(r.stdout.contains(&long_id), "{}", r.stdout);
    assert!(
        r.stdout.contains("  a title far…\n"),
        "the fewest characters: {}",
        r.stdout
    );
    // --wide: every column, the titles whole when the width is not known.
    let r = run(repo.vnx().args(["status", "--wide"]));
    assert!(
        r.stdout.contains("TEARDOWN") && r.stdout.contains("WHERE"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("once the other columns…"), "{}", r.stdout);
}

#[test]
fn merge_prints_one_line_per_dispatch_unless_verbose() {
    let repo = Repo::new();
    crate::common::configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let first = crate::common::committed(&repo, "implementer");
    let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(repo.vnx().args(["merge", &first[..8]]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(
        r.stdout
            .starts_with(&format!("{first}: merged into refs/heads/main as ")),
        "{}",
        r.stdout
    );
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let second = crate::common::committed(&repo, "implementer");
    let r = run(repo.vnx().args(["merge", "-v", &second]));
    assert!(
        r.stdout.contains("ok   dispatch_done"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert!(r.stdout.lines().count() > 5, "{}", r.stdout);
}

#[test]
fn clean_takes_the_start_of_an_id() {
    let repo = Repo::new();
    let id = crate::common::committed(&repo, "implementer");
    let r = run(repo.vnx().args(["clean", "--yes", &id[2..8]]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("{id}  discarded")),
        "{}",
        r.stdout
    );
    // The start of no dispatch, or an id with nothing left, is a usage error.
    let r = run(repo.vnx().args(["clean", "--yes", "zzzz"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(repo.vnx().args(["clean", "--yes", &id]));
    assert_eq!(r.code, 2, "{}", r.stderr);
}
