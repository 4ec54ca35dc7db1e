//! The completion protocol and the interactive lane with the offline `demo` provider: a
//! report makes a dispatch done, a turn without one needs input, an interactive worker gets
//! the pane's terminal as its foreground process group, large prompts travel as a file, and
//! a worker that changes nothing is classified clean (vnx's own files stay out of the
//! worktree).

use crate::common::{Repo, completion, run};

#[test]
fn a_report_is_the_completion_signal_and_no_report_needs_input() {
    let repo = Repo::new();
    let r = repo.dispatch("commit", &["--instruction", "x"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "done");
    assert_eq!(c["completion_signal"], "report");
    assert_eq!(c["report"]["status"], "done");
    assert_eq!(c["lane"], "headless");
    let log = std::fs::read_to_string(c["worker_log"].as_str().unwrap()).unwrap();
    assert!(
        log.contains("terminal: none"),
        "headless stdin is not the pane: {log}"
    );

    // A worker that ends its turn with a question and no report: not a success.
    let r = repo.dispatch("ask", &["--instruction", "x"]);
    assert_eq!(r.code, 1);
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input");
    assert_eq!(c["completion_signal"], "exit");
    assert!(
        c["failure_reason"]
            .as_str()
            .unwrap()
            .contains("without running `vnx report`")
    );
    let text = run(repo
        .vnx()
        .args(["wait", c["dispatch_id"].as_str().unwrap()]));
    assert_eq!(text.code, 1);
    assert!(
        text.stdout.contains("needs_input (exit)"),
        "{}",
        text.stdout
    );
    repo.verify_ok();
}

#[test]
fn the_started_receipt_describes_the_invocation() {
    let repo = Repo::new();
    let r = repo.dispatch_as(
        "reviewer",
        "noop",
        &["--instruction", "x", "--permission", "ask"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let started = &repo.receipts(&id)[0];
    assert_eq!(started["lane"], "headless");
    assert_eq!(started["permission"], "ask");
    assert_eq!(started["prompt_transport"], "argument");
    assert_eq!(started["completion"], "report");
    assert!(
        started["binary_version"]
            .as_str()
            .unwrap()
            .starts_with("vnx ")
    );
    let argv = started["argv"].as_array().unwrap();
    assert!(
        argv.iter()
            .any(|a| a.as_str().unwrap().starts_with("<prompt sha256:"))
    );
}

#[test]
fn interactive_workers_own_the_terminal_and_report() {
    let repo = Repo::new();
    let r = repo.dispatch("commit", &["--instruction", "x", "--lane", "interactive"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["lane"], "interactive");
    assert_eq!(c["status"], "done");
    assert_eq!(c["completion_signal"], "report");
    assert_eq!(c["teardown_class"], "committed");
    // The pane's screen is saved to the log: the worker wrote to the terminal itself.
    let log = std::fs::read_to_string(c["worker_log"].as_str().unwrap()).unwrap();
    assert!(log.contains("demo worker: commit"), "{log}");
    assert!(log.contains("terminal: foreground"), "{log}");

    // Nothing vnx adds for the worker (hooks, bin/vnx, the prompt) lands in the worktree.
    let r = repo.dispatch_as(
        "reviewer",
        "noop",
        &["--instruction", "x", "--lane", "interactive"],
    );
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(c["teardown_class"], "clean", "{c}");
    repo.verify_ok();
}

#[test]
fn large_prompts_travel_as_a_file_or_on_stdin() {
    let repo = Repo::new();
    let big = "y".repeat(200 * 1024);
    let file = repo.env.path().join("big.md");
    std::fs::write(&file, &big).unwrap();
    for lane in ["interactive", "headless"] {
        let r = repo.dispatch(
            "dirty",
            &["--instruction-file", file.to_str().unwrap(), "--lane", lane],
        );
        assert_eq!(r.code, 0, "{lane}: {}", r.stderr);
        let c = completion(&r);
        let id = c["dispatch_id"].as_str().unwrap();
        let started = &repo.receipts(id)[0];
        let expected = if lane == "interactive" {
            "file"
        } else {
            "stdin"
        };
        assert_eq!(started["prompt_transport"], expected);
        let written = repo.on_branch(id, "demo-output.txt");
        assert!(
            written.contains(started["instruction_sha256"].as_str().unwrap()),
            "{lane}: {written}"
        );
    }
}
