//! The built-in CLIs with a stand-in personality of `vnx-fake-cli`
//! (`testing/fake-cli/<name>/`) driven end to end, headless, each as the registry starts it:
//! a scripted write and report is done and committed by vnx with the CLI's token usage on
//! the receipt (a CLI that cannot run a command, its completion its `output`, done by its
//! applied edit), a question needs input and is shown by `vnx status`, an HTTP 400 fails even
//! where the CLI exits 0, and a follow-up resumes the CLI's session. The CLIs are read from
//! the registry, and what differs between them from their invocations: a new CLI needs only
//! its stand-in here.

use std::path::Path;

use vnx::provider::invocation::expand;
use vnx::provider::{Invocation, Lane, Permission, Provider, ProviderCompletion, Wanted};

use crate::common::{Fakes, Repo, Run, completion, run};

/// The registry's built-in CLIs that have a stand-in personality and a headless lane.
fn clis() -> Vec<&'static str> {
    let fakes = Path::new(env!("CARGO_MANIFEST_DIR")).join("testing/fake-cli");
    Provider::ALL
        .into_iter()
        .map(Provider::name)
        .filter(|cli| fakes.join(cli).is_dir() && headless(cli, None).is_some())
        .collect()
}

/// A dispatch directory no real one is: words naming it differ in every dispatch.
const DISPATCH_DIR: &str = "/standins-dispatch-dir";

/// How vnx starts `cli` headless in the `edits` posture, resuming `resume`; `None` for a
/// CLI without a headless lane.
fn headless(cli: &str, resume: Option<&str>) -> Option<Invocation> {
    let provider = Provider::parse(cli).unwrap();
    provider
        .invocation(&Wanted {
            lane: Lane::Headless,
            model: None,
            permission: Permission::Edits,
            prompt_len: 10,
            vnx: Path::new("/bin/vnx"),
            dispatch_dir: Path::new(DISPATCH_DIR),
            resume,
            session: None,
            allow: &[],
            plan: false,
        })
        .ok()
}

/// Whether `cli` ends a dispatch by its `vnx report` (else by its own output: it cannot run
/// a command).
fn reports(cli: &str) -> bool {
    headless(cli, None).unwrap().completion == ProviderCompletion::Report
}

/// The words a follow-up adds to `cli`'s argv to continue `session` (`--resume=ID`, a
/// `resume ID` subcommand and the options it takes, a flag that restores a history without
/// naming it), but those naming the dispatch directory, which is the follow-up's own.
fn resuming(cli: &str, session: &str) -> Vec<String> {
    let mut left = headless(cli, None).unwrap().argv;
    let mut added = Vec::new();
    for word in headless(cli, Some(session)).unwrap().argv {
        match left.iter().position(|w| *w == word) {
            Some(i) => {
                left.remove(i);
            }
            None if !word.contains(DISPATCH_DIR) => added.push(expand(&word, "", "")),
            None => {}
        }
    }
    added
}

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
/// the report (a CLI that sends its model no tools, such as aider: its applied edit is the
/// signal).
fn work(cli: &str, marker: &str) -> String {
    let mut script = format!("{marker}\n@fake write hello.txt {marker}");
    if reports(cli) {
        script.push_str("\n@fake run vnx report --status done --summary wrote-it");
    }
    script
}

#[test]
fn a_write_and_report_is_done_committed_and_counted() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    for cli in clis() {
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
        // Its report, or, for a CLI judged by its output, its exit after an applied edit.
        let (completion_kind, signal) = if reports(cli) {
            ("report", "report")
        } else {
            ("output", "exit")
        };
        assert_eq!(started(&repo, id)["completion"], completion_kind, "{cli}");
        assert_eq!(c["completion_signal"], signal, "{cli}: {c}");
        if reports(cli) {
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
    for cli in clis() {
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
    let mut exits = Vec::new();
    for cli in clis() {
        let marker = format!("{cli} meets an API error");
        let r = dispatch(&repo, &fakes, cli, &format!("{marker}\n@fake fail"));
        assert_eq!(r.code, 1, "{cli}: {}", r.stderr);
        let c = completion(&r);
        assert_eq!(c["status"], "failed", "{cli}: {c}");
        // What the stand-in exited with (qwen and aider exit 0 after a failed request, as
        // the real ones do) is what the receipt says.
        let seen = fakes.invocation_of(cli, &marker);
        assert_eq!(c["exit_code"], seen["exit_code"], "{cli}: {c}");
        exits.push(seen["exit_code"].as_i64().unwrap());
        let reason = c["failure_reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("400") || reason.contains("scripted failure"),
            "{cli}: {c}"
        );
        assert_eq!(c["teardown_class"], "clean", "{cli}: {c}");
    }
    // At least one of them exits 0 after the failure, so the title holds.
    assert!(exits.contains(&0), "{exits:?}");
}

#[test]
fn a_follow_up_resumes_the_session() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    // A CLI that does not resume a session headless has no follow-up to test here.
    for cli in clis().into_iter().filter(|cli| {
        vnx::provider::cli::named(cli).is_some_and(|c| c.resumes_sessions(Lane::Headless))
    }) {
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
        let resume = resuming(cli, &session);
        assert!(
            !resume.is_empty(),
            "{cli}: a follow-up adds nothing to its argv"
        );
        assert!(
            resume.iter().all(|w| argv.contains(w)),
            "{cli}: {resume:?} not in {argv:?}"
        );
        // A CLI told which session to continue held that one.
        if resume.iter().any(|w| w.contains(&session)) {
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
