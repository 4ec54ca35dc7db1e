//! `vnx dispatch-agent` end to end with real git and real tmux (a private socket per test)
//! and the offline `demo` provider: every teardown class, failures and deadlines, parallel
//! dispatches, a killed supervisor, and bad input that leaves nothing behind.

use std::process::Command;

use sha2::{Digest, Sha256};

use crate::common::{Repo, TestEnv, completion, run, worker_alive};

#[test]
fn each_teardown_class_and_its_action() {
    let repo = Repo::new();
    let root = repo.env.path().canonicalize().unwrap();

    let r = repo.dispatch("commit", &["--instruction", "write and commit"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "done");
    assert_eq!(c["teardown_class"], "committed");
    assert_eq!(c["commits"], 1);
    // The demo output file has four lines.
    assert_eq!(
        c["diff_stats"],
        serde_json::json!({
            "committed": {"files_changed": 1, "insertions": 4, "deletions": 0},
            "uncommitted": {"files_changed": 0, "insertions": 0, "deletions": 0}
        })
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert!(
        !root
            .join(format!(".vnx-data/worktrees/dispatch-{id}"))
            .exists()
    );
    assert!(
        repo.branches().contains(&format!("dispatch/{id}")),
        "committed keeps its branch"
    );
    let started = &repo.receipts(&id)[0];
    assert_eq!(started["event_type"], "dispatch_started");
    assert_eq!(started["provider"], "demo");
    assert_eq!(started["lane"], "headless");
    assert_eq!(
        started["base_commit"],
        repo.env.git(&["rev-parse", "HEAD"]).trim()
    );

    // A worker that reports done and leaves its changes uncommitted: vnx commits them.
    let r = repo.dispatch("dirty", &["--instruction", "leave changes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "done");
    assert_eq!(c["teardown_class"], "committed", "{c}");
    assert_eq!(
        c["diff_stats"]["uncommitted"]["files_changed"], 0,
        "nothing is left behind: {c}"
    );
    assert_eq!(c["diff_stats"]["committed"]["files_changed"], 1, "{c}");
    assert_eq!(
        c["vnx_commit"]["files"],
        serde_json::json!(["demo-output.txt"]),
        "vnx's own files are not part of the commit: {c}"
    );
    let id = c["dispatch_id"].as_str().unwrap();
    assert_eq!(c["head_commit"], c["vnx_commit"]["commit"]);
    let message = repo
        .env
        .git(&["log", "-1", "--format=%B", &format!("dispatch/{id}")]);
    assert!(
        message.starts_with("wrote the demo output, left uncommitted\n"),
        "{message}"
    );
    for trailer in [
        format!("VNX-Dispatch: {id}"),
        "VNX-Provider: demo".to_owned(),
        "VNX-Model: dirty".to_owned(),
        "VNX-Summary: wrote the demo output, left uncommitted".to_owned(),
    ] {
        assert!(message.contains(&trailer), "{trailer} in {message}");
    }
    assert!(
        repo.on_branch(id, "demo-output.txt")
            .contains("instruction sha256")
    );

    // A failed worker's changes stay uncommitted, in its kept and locked worktree.
    let r = repo.dispatch("fail", &["--instruction", "leave changes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "failed");
    assert_eq!(
        c["diff_stats"]["uncommitted"]["files_changed"], 1,
        "an untracked file counts"
    );
    assert_eq!(c["teardown_class"], "dirty");
    assert_eq!(c["teardown_action"]["locked"], true);
    assert!(c.get("vnx_commit").is_none(), "{c}");
    let id = c["dispatch_id"].as_str().unwrap();
    let wt = root.join(format!(".vnx-data/worktrees/dispatch-{id}"));
    assert!(wt.join("demo-output.txt").is_file(), "dirty work is kept");

    // An implementer that changes nothing reports done; the phantom guard corrects that.
    let r = repo.dispatch("noop", &["--instruction", "do nothing"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["event_type"], "dispatch_corrected", "{c}");
    assert_eq!(c["status"], "failed");
    assert_eq!(c["teardown_class"], "clean");
    let id = c["dispatch_id"].as_str().unwrap();
    assert!(!repo.branches().contains(id), "clean removes the branch");

    // The main checkout was never touched.
    let status = repo.env.git(&["status", "--porcelain"]);
    assert_eq!(status, "", "{status}");
    assert!(repo.server.sessions_end(), "no session left behind");
    repo.verify_ok();
}

#[test]
fn failures_and_deadlines_are_recorded() {
    let repo = Repo::new();
    let r = repo.dispatch("fail", &["--instruction", "fail"]);
    assert_eq!(r.code, 1);
    let c = completion(&r);
    assert_eq!(c["status"], "failed");
    assert_eq!(c["exit_code"], 3);
    assert_eq!(c["completion_signal"], "report");
    assert_eq!(c["report"]["status"], "failed");

    // A worker that ignores SIGTERM still dies at the deadline.
    let r = repo.dispatch("stubborn", &["--instruction", "x", "--deadline", "1"]);
    assert_eq!(r.code, 1);
    let c = completion(&r);
    assert_eq!(c["status"], "timeout");
    assert_eq!(c["completion_signal"], "deadline");
    assert_eq!(c["exit_signal"], 9);
    assert!(
        c["failure_reason"]
            .as_str()
            .unwrap()
            .contains("killed with SIGKILL")
    );
    let id = c["dispatch_id"].as_str().unwrap();
    let pids = Command::new("pgrep")
        .args(["-f", "__demo-worker stubborn"])
        .output()
        .unwrap();
    let leftover = String::from_utf8_lossy(&pids.stdout).to_string();
    assert!(
        leftover.trim().is_empty() || !leftover.contains(id),
        "{leftover}"
    );
    assert!(repo.server.sessions_end());
    repo.verify_ok();
}

#[test]
fn the_instruction_reaches_the_worker_byte_for_byte() {
    let repo = Repo::new();
    let instruction =
        "quote ' double \" dollar $(rm -rf ~) `id` ; | & > <\nnew line\t\u{1b}[31mred\u{1b}[0m ✓";
    let r = repo.dispatch("dirty", &["--instruction", instruction]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = completion(&r);
    let id = c["dispatch_id"].as_str().unwrap();
    let written = repo.on_branch(id, "demo-output.txt");
    let sha = hex::encode(Sha256::digest(instruction.as_bytes()));
    assert!(
        written.contains(&format!("instruction sha256 {sha}")),
        "{written}"
    );
    // The receipt records the prompt by hash, never its text.
    let started = &repo.receipts(id)[0];
    assert_eq!(started["instruction_sha256"], sha);
    let prompt = std::fs::read(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/prompt.md")),
    )
    .unwrap();
    assert_eq!(
        started["prompt_sha256"],
        hex::encode(Sha256::digest(&prompt))
    );
    // Only its first line, as the dispatch's title for lists; nothing after it.
    assert_eq!(
        started["title"],
        "quote ' double \" dollar $(rm -rf ~) `id` ; | & > <"
    );
    let mut rest = started.clone();
    rest.as_object_mut().unwrap().remove("title");
    assert!(!rest.to_string().contains("rm -rf"), "{rest}");
    assert!(!started.to_string().contains("new line"), "{started}");
}

#[test]
fn parallel_dispatches_from_separate_processes_stay_apart() {
    let repo = Repo::new();
    let models = ["commit", "dirty", "noop", "fail"];
    // 16 dispatcher processes at once.
    let children: Vec<_> = (0..16)
        .map(|i| {
            repo.dispatch_cmd(models[i % 4])
                .arg("--detach")
                .args(["--instruction", &format!("task number {i}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let children: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let ids: Vec<String> = children
        .iter()
        .map(|o| {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout.clone())
                .unwrap()
                .trim()
                .to_owned()
        })
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 16, "{ids:?}");
    let r = run(repo.vnx().arg("wait").args(&ids).arg("--json"));
    assert_eq!(
        r.code, 1,
        "fail fails, noop is a phantom done: {}",
        r.stdout
    );
    let completions: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| crate::common::settled_receipt(serde_json::from_str(l).unwrap()))
        .collect();
    assert_eq!(completions.len(), 16);
    for (i, id) in ids.iter().enumerate() {
        let started = &repo.receipts(id)[0];
        let sha = hex::encode(Sha256::digest(format!("task number {i}").as_bytes()));
        assert_eq!(
            started["instruction_sha256"], sha,
            "no crossed instructions"
        );
        assert_eq!(started["model"], models[i % 4]);
    }
    let status = run(repo.vnx().args(["status", "--json"]));
    let states: Vec<serde_json::Value> = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(states.len(), 16);
    // Every worktree and branch was distinct: committed ones kept their own branch.
    let kept = repo.branches();
    assert_eq!(
        kept.lines().count(),
        12,
        "4 committed + 4 committed by vnx + 4 failed and dirty: {kept}"
    );
    assert!(
        states
            .iter()
            .all(|s| s["status"] != "running" && s["status"] != "lost")
    );
    assert!(repo.server.sessions_end());
    repo.verify_ok();
}

fn start_slow(repo: &Repo) -> String {
    let r = repo.dispatch("slow", &["--instruction", "x", "--detach"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let launched = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    let status = run(repo.vnx().args(["status", "--json"]));
    assert!(status.stdout.contains("\"running\""), "{}", status.stdout);
    let start = std::time::Instant::now();
    while !worker_alive(&id) && start.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(worker_alive(&id));
    id
}

/// Closing a dispatch's pane is no person's `vnx cancel` (ADR 0068): its supervisor stops the
/// worker and records nothing, so the dispatch reads lost, and `vnx resume` continues it.
#[test]
fn closing_the_pane_interrupts_the_dispatch_and_stops_its_worker() {
    let repo = Repo::new();
    let id = start_slow(&repo);
    repo.server.0.kill_session(&format!("vnx-{id}")).unwrap();
    let status = || {
        let r = run(repo.vnx().args(["status", &id, "--json"]));
        serde_json::from_str::<serde_json::Value>(r.stdout.trim()).unwrap()[0]["status"].clone()
    };
    assert!(
        crate::common::wait_for(|| status() == "lost"),
        "{}",
        status()
    );
    assert!(
        crate::common::wait_for(|| !worker_alive(&id)),
        "the worker was stopped with its supervisor"
    );
    let log = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/worker.log")),
    )
    .unwrap();
    assert!(log.contains(&format!("`vnx resume {id}`")), "{log}");
    let r = run(repo.vnx().args(["resume", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(run(repo.vnx().args(["cancel", r.stdout.trim()])).code, 0);
    repo.verify_ok();
}

#[test]
fn a_killed_supervisor_is_reported_lost_and_nothing_is_lost() {
    let repo = Repo::new();
    let id = start_slow(&repo);
    // SIGKILL the supervisor (the pane's process): it cannot record anything.
    repo.server.kill_pane_process(&format!("vnx-{id}"));
    let r = run(repo.vnx().args(["wait", &id]));
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("lost"), "{}", r.stdout);
    let status = run(repo.vnx().args(["status", "--json"]));
    assert!(status.stdout.contains("\"lost\""), "{}", status.stdout);
    // The worker died with its supervisor; the worktree and branch stay for later review.
    let start = std::time::Instant::now();
    while worker_alive(&id) && start.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!worker_alive(&id));
    let wt = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{id}"));
    assert!(wt.is_dir());
    assert!(repo.branches().contains(&id));
    repo.verify_ok();
}

#[test]
fn bad_input_is_refused_before_anything_is_made() {
    let repo = Repo::new();
    // Each bad input with the exit status it means: 2 for input that can never work, 3 for
    // what the machine lacks (a CLI on PATH).
    let cases: &[(&[&str], &str, i32)] = &[
        (
            &["--provider", "nope", "--model", "x"],
            "unknown provider",
            2,
        ),
        (&["--model", "gpt-oss:20b"], "refusing to guess", 2),
        (
            &["--provider", "demo", "--model", "sonnet"],
            "not valid for provider demo",
            2,
        ),
        (
            &[
                "--provider",
                "demo",
                "--model",
                "commit",
                "--id",
                "../escape",
            ],
            "does not match",
            2,
        ),
        (
            &["--provider", "demo", "--model", "commit", "--id", "a/b"],
            "does not match",
            2,
        ),
        (
            &[
                "--provider",
                "demo",
                "--model",
                "commit",
                "--base-ref",
                "nope",
            ],
            "does not name a commit",
            2,
        ),
        (
            &["--provider", "claude", "--model", "sonnet"],
            "was not found on PATH",
            3,
        ),
        // A typo is caught before anything (the CLI's absence included) is looked at.
        (
            &["--provider", "claude", "--model", "sonet"],
            "is not one claude knows; did you mean \"sonnet\"?",
            2,
        ),
        (
            &[
                "--provider",
                "demo",
                "--model",
                "commit",
                "--instruction",
                "   ",
            ],
            "instruction is empty",
            2,
        ),
    ];
    for (args, want, code) in cases {
        let mut cmd = repo.vnx();
        cmd.args(["dispatch-agent", "--agent", "implementer"])
            .args(*args);
        if !args.contains(&"--instruction") {
            cmd.args(["--instruction", "x"]);
        }
        // No worker CLIs on PATH here: only git and tmux.
        cmd.env("PATH", "/usr/bin:/bin:/usr/local/bin");
        let r = run(cmd);
        assert_eq!(r.code, *code, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("hint:"), "{args:?}: {}", r.stderr);
    }
    assert_eq!(repo.branches(), "");
    let dispatches = repo.env.path().join(".vnx-data/dispatches");
    assert_eq!(
        dispatches.read_dir().unwrap().count(),
        0,
        "no dispatch directory made"
    );
    assert!(repo.server.sessions_end());
    // Outside a repository, and in one that was never initialised.
    let plain = TestEnv::new();
    let dispatch = || {
        run(plain.vnx().args([
            "dispatch-agent",
            "--agent",
            "a",
            "--provider",
            "demo",
            "--model",
            "noop",
            "--instruction",
            "x",
        ]))
    };
    let r = dispatch();
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("not inside a git repository"),
        "{}",
        r.stderr
    );
    plain.git_init();
    let r = dispatch();
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("not initialised"), "{}", r.stderr);
    assert!(r.stderr.contains("vnx init"), "{}", r.stderr);
}

#[test]
fn a_dirty_or_detached_base_is_refused_unless_named() {
    let repo = Repo::new();
    let tracked = "skills/reviewer/references/review-checklist.md";
    std::fs::write(repo.env.path().join(tracked), "edited\n").unwrap();
    let r = repo.dispatch("noop", &["--instruction", "x"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("uncommitted changes to 1 tracked file"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--base-ref"), "{}", r.stderr);
    // Naming the base explicitly is a deliberate choice.
    let r = repo.dispatch_as(
        "reviewer",
        "noop",
        &["--instruction", "x", "--base-ref", "main"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    repo.env.git(&["checkout", "-q", "--", tracked]);
    repo.env.git(&["checkout", "-q", "--detach"]);
    let r = repo.dispatch("noop", &["--instruction", "x"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("HEAD is detached"), "{}", r.stderr);
    assert_eq!(repo.branches(), "");
    assert!(repo.server.sessions_end());
}

#[test]
fn a_main_checkout_that_changes_during_a_dispatch_is_recorded() {
    let repo = Repo::new();
    let r = repo.dispatch_as("reviewer", "noop", &["--instruction", "x"]);
    assert_eq!(completion(&r)["main_checkout_changed"], false);
    let r = repo.dispatch(
        "slow",
        &["--instruction", "x", "--deadline", "2", "--detach"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let launched = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    let id = launched["dispatch_id"].as_str().unwrap().to_owned();
    // Give the supervisor time to take its "before" picture, then change the main checkout.
    std::thread::sleep(std::time::Duration::from_millis(500));
    std::fs::write(
        repo.env.path().join("provider_constraints.yaml"),
        "edited\n",
    )
    .unwrap();
    let r = run(repo.vnx().args(["wait", &id, "--json"]));
    let c = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    assert_eq!(c["status"], "timeout", "{c}");
    assert_eq!(c["main_checkout_changed"], true, "{c}");
    assert_eq!(
        c["main_checkout"]["changed_after"],
        serde_json::json!(["provider_constraints.yaml"])
    );
}

#[test]
fn worktreeinclude_copies_ignored_files_and_records_only_hashes() {
    let repo = Repo::new();
    let root = repo.env.path();
    let mut ignore = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    ignore.push_str(".env*\nsecrets/\n");
    std::fs::write(root.join(".gitignore"), ignore).unwrap();
    std::fs::write(
        root.join(".worktreeinclude"),
        "# local settings\n.env*\nsecrets/\nnot-there\n",
    )
    .unwrap();
    repo.env.git(&["add", ".gitignore", ".worktreeinclude"]);
    repo.env.git(&["commit", "-q", "-m", "include"]);
    std::fs::write(root.join(".env"), "API_TOKEN=sk-very-secret\n").unwrap();
    std::fs::write(root.join(".env.local"), "LOCAL=1\n").unwrap();
    std::fs::create_dir_all(root.join("secrets/deep")).unwrap();
    std::fs::write(root.join("secrets/deep/key.pem"), "PEM").unwrap();

    // A failed dispatch keeps its worktree, so the copies can be read there.
    let r = repo.dispatch("fail", &["--instruction", "x"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let c = completion(&r);
    let id = c["dispatch_id"].as_str().unwrap();
    let wt = root.join(format!(".vnx-data/worktrees/dispatch-{id}"));
    assert_eq!(
        std::fs::read_to_string(wt.join(".env")).unwrap(),
        "API_TOKEN=sk-very-secret\n"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("secrets/deep/key.pem")).unwrap(),
        "PEM"
    );
    let started = &repo.receipts(id)[0];
    let paths: Vec<&str> = started["worktree_include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, [".env", ".env.local", "secrets/deep/key.pem"]);
    let ledger = std::fs::read_to_string(root.join(".vnx-data/state/t0_receipts.ndjson")).unwrap();
    assert!(
        !ledger.contains("sk-very-secret"),
        "contents never enter receipts"
    );

    // The copies are ignored in the worktree too: a worker that changes nothing is clean.
    let r = repo.dispatch_as("reviewer", "noop", &["--instruction", "x"]);
    assert_eq!(completion(&r)["teardown_class"], "clean");

    // A pattern that leaves the repository is refused before anything is made.
    std::fs::write(root.join(".worktreeinclude"), "../outside\n").unwrap();
    let r = repo.dispatch("noop", &["--instruction", "x", "--base-ref", "main"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains(".worktreeinclude line 1"), "{}", r.stderr);
}

#[test]
fn role_is_another_name_for_agent() {
    let repo = Repo::new();
    let mut cmd = repo.vnx();
    cmd.args([
        "dispatch-agent",
        "--role",
        "implementer",
        "--provider",
        "demo",
    ])
    .args(["--model", "commit", "--json", "--instruction", "x"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let started = repo.events("dispatch_started");
    assert_eq!(started[0]["role"], "implementer", "{started:?}");
    let help = run(repo.vnx().args(["dispatch-agent", "--help"]));
    assert!(help.stdout.contains("--agent <ROLE>"), "{}", help.stdout);
    assert!(help.stdout.contains("[alias: --role]"), "{}", help.stdout);
}
