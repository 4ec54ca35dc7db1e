//! The qwen, opencode, copilot and aider providers driven end to end, headless, against
//! their stand-in personalities of `vnx-fake-cli`: a scripted write and report is done and
//! committed by vnx with the CLI's token usage on the receipt (aider, which cannot run a
//! command, done by its applied edit), a question needs input and is shown by `vnx status`,
//! an HTTP 400 fails even where the CLI exits 0, and a follow-up resumes the CLI's session.

use crate::common::{Fakes, Repo, Run, completion, run};

/// The four, each with the flag by which a follow-up continues its conversation.
const CLIS: [(&str, &str); 4] = [
    ("qwen", "--resume"),
    ("opencode", "--session"),
    ("copilot", "--resume"),
    ("aider", "--restore-chat-history"),
];

/// The stand-in's question (testing/fake-cli/script.rs, `@fake ask`).
const QUESTION: &str = "Should I also update the documentation?";

fn vnx(repo: &Repo, fakes: &Fakes, args: &[&str]) -> Run {
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args(args);
    run(cmd)
}

fn dispatch(repo: &Repo, fakes: &Fakes, cli: &str, instruction: &str) -> Run {
    vnx(
        repo,
        fakes,
        &[
            "dispatch-agent",
            "--agent",
            "implementer",
            "--json",
            "--deadline",
            "60",
            "--provider",
            cli,
            "--lane",
            "headless",
            "--instruction",
            instruction,
        ],
    )
}

fn started(repo: &Repo, id: &str) -> serde_json::Value {
    repo.receipts(id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap()
}

fn argv_of(seen: &serde_json::Value) -> Vec<String> {
    seen["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

/// The script of a model that does the work: a write and, where the CLI can run a command,
/// the report (aider sends its model no tools: its applied edit is the signal).
fn work(cli: &str, marker: &str) -> String {
    let mut script = format!("{marker}\n@fake write hello.txt {marker}");
    if cli != "aider" {
        script.push_str("\n@fake run vnx report --status done --summary wrote-it");
    }
    script
}

#[test]
fn a_write_and_report_is_done_committed_and_counted() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    for (cli, _) in CLIS {
        let marker = format!("hello from {cli}");
        let r = dispatch(&repo, &fakes, cli, &work(cli, &marker));
        let c = completion(&r);
        assert_eq!(
            (r.code, c["status"].as_str()),
            (0, Some("done")),
            "{cli}: {c}; stderr: {}",
            r.stderr
        );
        let id = c["dispatch_id"].as_str().unwrap();
        let (completion_kind, signal) = if cli == "aider" {
            ("output", "exit")
        } else {
            ("report", "report")
        };
        assert_eq!(started(&repo, id)["completion"], completion_kind, "{cli}");
        assert_eq!(c["completion_signal"], signal, "{cli}: {c}");
        if cli != "aider" {
            assert_eq!(c["report"]["summary"], "wrote-it", "{cli}");
        }
        // The CLI never commits under the default posture; vnx commits for it.
        assert_eq!(c["teardown_class"], "committed", "{cli}: {c}");
        assert_eq!(
            c["vnx_commit"]["files"],
            serde_json::json!(["hello.txt"]),
            "{cli}: {c}"
        );
        assert_eq!(repo.on_branch(id, "hello.txt"), format!("{marker}\n"));
        assert!(!repo.env.path().join("hello.txt").exists(), "{cli}");
        assert_eq!(c["main_checkout_changed"], false, "{cli}");

        // What the stand-in counted is what the receipt says.
        let seen = fakes.invocation_of(cli, &marker);
        assert_eq!(seen["mode"], "headless", "{cli}");
        let turn = &seen["turns"][0];
        let usage = &c["token_usage"];
        assert_eq!(usage["input_tokens"], turn["input_tokens"], "{cli}: {c}");
        assert_eq!(usage["output_tokens"], turn["output_tokens"], "{cli}: {c}");
        assert!(usage["output_tokens"].as_u64().unwrap() > 0, "{cli}: {c}");
    }
    repo.verify_ok();
}

#[test]
fn a_question_needs_input_and_status_shows_it() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    for (cli, _) in CLIS {
        let r = dispatch(
            &repo,
            &fakes,
            cli,
            &format!("{cli} has a question\n@fake ask"),
        );
        assert_eq!(r.code, 1, "{cli}: {}", r.stderr);
        let c = completion(&r);
        assert_eq!(c["status"], "needs_input", "{cli}: {c}");
        assert_eq!(c["teardown_class"], "clean", "{cli}: {c}");
        let id = c["dispatch_id"].as_str().unwrap();
        let status = run(repo.vnx().args(["status", id]));
        assert!(
            status.stdout.contains(&format!("asks: {QUESTION}")),
            "{cli}: {}",
            status.stdout
        );
    }
}

#[test]
fn an_http_400_fails_even_when_the_cli_exits_0() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    for (cli, _) in CLIS {
        let marker = format!("{cli} meets an API error");
        let r = dispatch(&repo, &fakes, cli, &format!("{marker}\n@fake fail"));
        assert_eq!(r.code, 1, "{cli}: {}", r.stderr);
        let c = completion(&r);
        assert_eq!(c["status"], "failed", "{cli}: {c}");
        let seen = fakes.invocation_of(cli, &marker);
        // qwen and aider exit 0 after a failed request, as the real ones do.
        let cli_exit = if matches!(cli, "qwen" | "aider") {
            0
        } else {
            1
        };
        assert_eq!(seen["exit_code"], cli_exit, "{cli}");
        assert_eq!(c["exit_code"], cli_exit, "{cli}: {c}");
        let reason = c["failure_reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("400") || reason.contains("scripted failure"),
            "{cli}: {c}"
        );
        assert_eq!(c["teardown_class"], "clean", "{cli}: {c}");
    }
}

#[test]
fn a_follow_up_resumes_the_session() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    for (cli, flag) in CLIS {
        let first = format!("first-{cli}");
        let asked = dispatch(&repo, &fakes, cli, &format!("{first}\n@fake ask"));
        let c = completion(&asked);
        assert_eq!(c["status"], "needs_input", "{cli}: {c}");
        let id = c["dispatch_id"].as_str().unwrap().to_owned();
        let session = c["session_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{cli}: no session id: {c}"))
            .to_owned();

        let second = format!("second-{cli}");
        let followed = vnx(
            &repo,
            &fakes,
            &[
                "follow-up",
                &id,
                "--json",
                "--instruction",
                &work(cli, &second),
            ],
        );
        let f = completion(&followed);
        assert_eq!(
            (followed.code, f["status"].as_str()),
            (0, Some("done")),
            "{cli}: {f} {}",
            followed.stderr
        );
        assert_ne!(f["dispatch_id"].as_str(), Some(id.as_str()), "{cli}");
        assert_eq!(f["session_id"].as_str(), Some(session.as_str()), "{cli}");

        // The CLI was told to continue the first dispatch's session, and it held that turn.
        let seen = fakes.invocation_of(cli, &second);
        let argv = argv_of(&seen);
        let resumed = if cli == "aider" {
            argv.iter().any(|a| a == flag)
        } else {
            argv.iter().any(|a| *a == format!("{flag}={session}"))
                || argv.windows(2).any(|w| w[0] == flag && w[1] == session)
        };
        assert!(resumed, "{cli}: {flag} {session} not in {argv:?}");
        if cli != "aider" {
            assert_eq!(seen["session_id"], session.as_str(), "{cli}");
        }
        let earlier = seen["earlier_prompts"].as_array().unwrap();
        assert!(
            earlier
                .iter()
                .any(|p| p.as_str().is_some_and(|p| p.contains(&first))),
            "{cli}: {seen}"
        );
        // The follow-up's work is committed on the first dispatch's branch.
        assert_eq!(f["teardown_class"], "committed", "{cli}: {f}");
        assert_eq!(repo.on_branch(&id, "hello.txt"), format!("{second}\n"));
    }
    repo.verify_ok();
}
