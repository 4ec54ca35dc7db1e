//! Providers declared in `.vnx/config.yaml`: a script run through its argv template with the
//! prompt as a file, the posture's flags, exit as its completion signal, per-provider
//! concurrency slots, and configuration errors that name the line.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::{Repo, completion, run};

/// Writes an executable script.
fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The `providers:` entry of a headless script that takes the prompt as its argument.
fn headless_script(name: &str, bin: &Path) -> String {
    format!(
        "providers:\n  {name}:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n",
        bin.display()
    )
}

fn declare(repo: &Repo, yaml: &str) {
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(yaml);
    std::fs::write(&config, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "declare providers"]);
}

#[test]
fn a_declared_script_runs_from_its_template() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("scribe");
    // Records its arguments, copies the prompt file into the worktree, exits 0.
    script(
        &bin,
        "printf '%s\\n' \"$@\" > args.txt\nwhile [ $# -gt 1 ]; do shift; done\ncp \"$1\" task.md",
    );
    declare(
        &repo,
        &format!(
            "providers:\n  scribe:\n    binary: {}\n    headless:\n      argv: [\"--task\", \"{{prompt_file}}\"]\n      prompt: file\n    permissions:\n      edits: [\"--may-edit\"]\n",
            bin.display()
        ),
    );
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "scribe",
        "--instruction",
        "copy me {braces} $HOME",
        "--json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "done");
    assert_eq!(c["completion_signal"], "exit");
    // It wrote files and exited 0 without committing: vnx committed them for it.
    assert_eq!(c["teardown_class"], "committed", "{c}");
    assert_eq!(c["vnx_commit"]["files_total"], 2, "{c}");
    let id = c["dispatch_id"].as_str().unwrap();
    let args = repo.on_branch(id, "args.txt");
    let prompt_file = repo
        .env
        .path()
        .canonicalize()
        .unwrap()
        .join(format!(".vnx-data/dispatches/{id}/prompt.md"));
    assert_eq!(
        args,
        format!("--may-edit\n--task\n{}\n", prompt_file.display())
    );
    let task = repo.on_branch(id, "task.md");
    assert!(task.contains("copy me {braces} $HOME"), "{task}");
    let started = &repo.receipts(id)[0];
    assert_eq!(started["provider"], "scribe");
    assert_eq!(started["prompt_transport"], "file");
    assert_eq!(
        started["permission_flags"],
        serde_json::json!(["--may-edit"])
    );

    // A posture the provider does not declare is refused before anything is made.
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "scribe",
        "--permission",
        "full",
        "--instruction",
        "x",
    ]));
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("declares no flags for --permission full"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert_eq!(
        repo.branches().lines().count(),
        1,
        "only the first dispatch's branch"
    );
}

#[test]
fn configuration_errors_name_the_line() {
    let repo = Repo::new();
    declare(
        &repo,
        "providers:\n  kimi:\n    binary: kimi\n    bogus: 1\n",
    );
    let r = run(repo.dispatch_cmd("noop").args(["--instruction", "x"]));
    assert_eq!(r.code, 3);
    // The line of `bogus` in the config `vnx init` wrote and the declaration extended.
    let config = std::fs::read_to_string(repo.env.path().join(".vnx/config.yaml")).unwrap();
    let line = config.lines().position(|l| l.contains("bogus")).unwrap() + 1;
    assert!(
        r.stderr
            .contains(&format!(".vnx/config.yaml:{line}:5: unknown field `bogus`")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("bogus"), "{}", r.stderr);
    assert!(repo.branches().is_empty());
}

#[test]
fn concurrency_slots_serialise_a_provider() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("sleeper");
    let times = tools.path().join("times");
    script(
        &bin,
        &format!(
            "echo \"start $(date +%s.%N)\" >> {t}\nsleep 0.6\necho \"end $(date +%s.%N)\" >> {t}",
            t = times.display()
        ),
    );
    declare(
        &repo,
        &format!(
            "{}concurrency:\n  sleeper: 1\n",
            headless_script("sleeper", &bin)
        ),
    );
    let ids: Vec<String> = (0..3)
        .map(|_| {
            // A reviewer: it changes nothing, and is done (the phantom guard is for writers).
            let r = run(repo.vnx().args([
                "dispatch-agent",
                "--agent",
                "reviewer",
                "--provider",
                "sleeper",
                "--instruction",
                "x",
                "--detach",
            ]));
            assert_eq!(r.code, 0, "{}", r.stderr);
            r.stdout.trim().to_owned()
        })
        .collect();
    let r = run(repo.vnx().arg("wait").args(&ids));
    assert_eq!(r.code, 0, "{}", r.stdout);
    // Start/end pairs never interleave: one worker at a time.
    let log = std::fs::read_to_string(&times).unwrap();
    let kinds: Vec<&str> = log.lines().map(|l| &l[..l.find(' ').unwrap()]).collect();
    assert_eq!(
        kinds,
        ["start", "end", "start", "end", "start", "end"],
        "{log}"
    );
    // Each got a slot through a queue decision; a dispatch that found the slot taken waited
    // in the queue (nothing of it existed) and was admitted when the slot came free.
    let decisions: Vec<Vec<String>> = ids
        .iter()
        .map(|id| {
            repo.receipts(id)
                .iter()
                .filter(|r| r["event_type"] == "queue_decision")
                .map(|r| r["decision"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert!(
        decisions
            .iter()
            .all(|d| d.last().map(String::as_str) == Some("admitted")),
        "{decisions:?}"
    );
    assert!(
        decisions.iter().any(|d| d == &["queued", "admitted"]),
        "{decisions:?}"
    );
    repo.verify_ok();
}

#[test]
fn a_done_vnx_cannot_commit_is_failed_and_its_work_kept() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("wanderer");
    // Writes a file, then leaves the dispatch branch (HEAD detached), and exits 0.
    script(&bin, "echo work > work.txt\ngit checkout -q --detach");
    declare(&repo, &headless_script("wanderer", &bin));
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "wanderer",
        "--instruction",
        "x",
        "--json",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "failed", "{c}");
    let reason = c["failure_reason"].as_str().unwrap();
    assert!(reason.contains("not committed"), "{reason}");
    assert!(
        c["vnx_commit_error"]
            .as_str()
            .unwrap()
            .contains("dispatch/"),
        "{c}"
    );
    assert!(c.get("vnx_commit").is_none());
    assert_eq!(c["teardown_class"], "dirty", "{c}");
    let id = c["dispatch_id"].as_str().unwrap();
    let wt = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{id}"));
    assert!(wt.join("work.txt").is_file(), "the work is kept");
}

/// A worker that writes part of a line on stderr, a whole line on stdout, then ends the
/// stderr line (opencode warns on stderr between its JSON events): each line reaches the
/// worker's log whole, so the stdout line is not glued to the stderr one.
#[test]
fn the_log_keeps_each_streams_lines_whole() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("chatty");
    script(
        &bin,
        "printf 'warning: half' >&2\nsleep 0.3\nprintf '{\"type\":\"event\"}\\n'\nsleep 0.3\nprintf ' a line\\n' >&2",
    );
    declare(&repo, &headless_script("chatty", &bin));
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "chatty",
        "--json",
        "--instruction",
        "talk",
    ]));
    let c = completion(&r);
    let id = c["dispatch_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.stderr));
    let log = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/worker.log")),
    )
    .unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.contains(&r#"{"type":"event"}"#), "{log}");
    assert!(lines.contains(&"warning: half a line"), "{log}");
}
