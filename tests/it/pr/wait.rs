//! `vnx wait` and pull requests: the settle line and `--json` object carry the dispatch's
//! pull request, and `--until-pr` waits on it through the shared forge cache (read at most
//! once per `forge.refresh_seconds`), printing each change as it arrives: checks pending
//! then failing or passing, a merge on the forge, and what ends a wait at once.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::{FORGE, check, pr_json};
use crate::common::forge::ScriptedForge;
use crate::common::{Repo, committed, configure, gate_check, run};

/// A repository on the scripted forge whose pull requests may be read every second, with
/// one done, gated dispatch whose pull request is open: (repo, forge, id, number).
fn opened() -> (Repo, ScriptedForge, String, u64) {
    let repo = Repo::new();
    configure(&repo, &format!("{FORGE}  refresh_seconds: 1\n"));
    let forge = ScriptedForge::for_repo(&repo);
    let id = committed(&repo, "implementer");
    let (r, report) = gate_check(&repo, &id);
    assert_eq!(r.code, 0, "{report:#}");
    let (r, opened) = pr_json(&repo, &forge, &["open", &id]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let number = opened["number"].as_u64().unwrap();
    (repo, forge, id, number)
}

/// A check on pull request `number`'s head that has not finished.
fn pending(forge: &ScriptedForge, number: u64, name: &str) {
    forge.control(
        "checks",
        Some(json!({"pr": number, "name": name, "status": "in_progress"})),
    );
}

/// `vnx wait ARGS…` running, its stdout read line by line as it prints.
struct Waiting {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    seen: Vec<String>,
}

impl Waiting {
    fn start(repo: &Repo, forge: &ScriptedForge, args: &[&str]) -> Waiting {
        let mut cmd: Command = forge.vnx(repo);
        // Bounded even if the test's own expectations fail.
        cmd.arg("wait")
            .args(args)
            .args(["--timeout", "120"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Waiting {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one contains `text` (panics at the end of the output).
    fn until(&mut self, text: &str) -> String {
        for line in self.lines.by_ref() {
            let line = line.unwrap();
            self.seen.push(line.clone());
            if line.contains(text) {
                return line;
            }
        }
        panic!("wait ended without {text:?}: {:#?}", self.seen);
    }

    /// The rest of its output and its exit code.
    fn finish(mut self) -> (Vec<String>, i32) {
        for line in self.lines.by_ref() {
            self.seen.push(line.unwrap());
        }
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        (self.seen, code)
    }
}

/// The API requests one read of a pull request makes (`status --refresh`).
fn one_read(repo: &Repo, forge: &ScriptedForge, id: &str) -> u64 {
    let before = forge.api_requests();
    let mut cmd = forge.vnx(repo);
    cmd.args(["status", id, "--refresh"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    forge.api_requests() - before
}

#[test]
fn until_pr_checks_prints_each_change_and_exits_1_when_a_check_fails() {
    let (repo, forge, id, number) = opened();
    pending(&forge, number, "ci");
    let per_read = one_read(&repo, &forge, &id);
    assert!(per_read >= 1);

    let before = forge.api_requests();
    let started = std::time::Instant::now();
    let mut waiting = Waiting::start(&repo, &forge, &[&id, "--until-pr", "checks"]);
    let settled = waiting.until(&id);
    assert!(settled.contains("done"), "{settled}");
    let line = waiting.until("checks 1 pending (ci)");
    assert!(
        line.starts_with(&format!("{id}  pr #{number} open")),
        "{line}"
    );
    // Only once wait has shown the pending check does it fail.
    check(&forge, number, "ci", "failure", "error: boom");
    let (lines, code) = waiting.finish();
    let elapsed = started.elapsed().as_secs();
    assert_eq!(code, 1, "{lines:#?}");
    let last = lines.last().unwrap();
    assert!(
        last.contains(&format!("pr #{number} open, checks 1 fail (ci)")),
        "{lines:#?}"
    );
    // Each change once: the pending line is not printed again on every read.
    assert_eq!(
        lines.iter().filter(|l| l.contains("pending")).count(),
        1,
        "{lines:#?}"
    );
    // At most one read of the forge per refresh interval (one second), and a first one.
    let reads = (forge.api_requests() - before) / per_read;
    assert!(
        reads <= elapsed + 2,
        "{reads} reads of the forge in {elapsed} s"
    );
}

#[test]
fn until_pr_checks_exits_0_when_they_all_pass() {
    let (repo, forge, id, number) = opened();
    pending(&forge, number, "ci");
    pending(&forge, number, "lint");
    let mut waiting = Waiting::start(&repo, &forge, &[&id, "--until-pr", "checks"]);
    waiting.until("checks 2 pending (ci, lint)");
    check(&forge, number, "ci", "success", "ok");
    waiting.until("checks 1 pending (lint)");
    check(&forge, number, "lint", "success", "ok");
    let (lines, code) = waiting.finish();
    assert_eq!(code, 0, "{lines:#?}");
    assert!(
        lines.last().unwrap().ends_with("checks 2 pass"),
        "{lines:#?}"
    );
}

#[test]
fn until_pr_merged_follows_a_merge_on_the_forge_and_json_carries_pr() {
    let (repo, forge, id, number) = opened();
    let mut waiting = Waiting::start(&repo, &forge, &[&id, "--until-pr", "merged", "--json"]);
    let first: Value = serde_json::from_str(&waiting.until(&id)).unwrap();
    assert_eq!(first["dispatch_id"], id.as_str());
    assert_eq!(first["status"], "done");
    assert_eq!(first["pr"]["number"], number, "{first:#}");
    assert_eq!(first["pr"]["state"], "open");
    forge.control(
        "merge",
        Some(json!({"pr": number, "author": "maintainer", "method": "squash"})),
    );
    let (lines, code) = waiting.finish();
    assert_eq!(code, 0, "{lines:#?}");
    let last: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["dispatch_id"], id.as_str());
    assert_eq!(last["pr"]["state"], "merged", "{last:#}");
    // The read that saw it recorded it, signed.
    let merged = repo.events("pr_merged");
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!(merged[0]["by_vnx"], false);
}

#[test]
fn a_closed_pull_request_ends_until_pr_merged_with_exit_1() {
    let (repo, forge, id, number) = opened();
    forge.control("close", Some(json!({"pr": number})));
    let mut cmd = forge.vnx(&repo);
    cmd.args(["wait", &id, "--until-pr", "merged", "--timeout", "60"]);
    let r = run(cmd);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("{id}  pr #{number} closed")),
        "{}",
        r.stdout
    );
}

#[test]
fn until_pr_without_a_pull_request_or_a_forge_says_so() {
    // A done dispatch without a pull request: exit 1 at once.
    let repo = Repo::new();
    configure(&repo, FORGE);
    let forge = ScriptedForge::for_repo(&repo);
    let id = committed(&repo, "implementer");
    let mut cmd = forge.vnx(&repo);
    cmd.args(["wait", &id, "--until-pr", "checks"]);
    let r = run(cmd);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains(&format!("{id}  no pull request to wait on")),
        "{}",
        r.stdout
    );
    assert_eq!(forge.api_requests(), 0);

    // Without a forge: a usage error.
    let plain = Repo::new();
    let id = committed(&plain, "implementer");
    let r = run(plain.vnx().args(["wait", &id, "--until-pr", "merged"]));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("--until-pr needs a forge"),
        "{}",
        r.stderr
    );
}

#[test]
fn until_pr_gives_up_at_the_timeout() {
    let (repo, forge, id, number) = opened();
    pending(&forge, number, "ci");
    let mut cmd = forge.vnx(&repo);
    cmd.args(["wait", &id, "--until-pr", "checks", "--timeout", "1"]);
    let r = run(cmd);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "{id}  still waiting for its pull request's checks at --timeout"
        )),
        "{}",
        r.stdout
    );
}

#[test]
fn until_pr_review_returns_on_a_review_and_exits_0_when_approved() {
    let (repo, forge, id, number) = opened();
    let mut waiting = Waiting::start(&repo, &forge, &[&id, "--until-pr", "review"]);
    waiting.until(&format!("pr #{number} open"));
    // A comment alone is a new review or comment: the wait ends, not approved (exit 1).
    forge.control(
        "comment",
        Some(json!({"pr": number, "author": "ann", "body": "looks close"})),
    );
    let (lines, code) = waiting.finish();
    assert_eq!(code, 1, "{lines:#?}");
    assert!(
        lines.last().unwrap().contains("1 new comment"),
        "{lines:#?}"
    );
    // Then an approval: the next wait ends with exit 0.
    let mut waiting = Waiting::start(&repo, &forge, &[&id, "--until-pr", "review"]);
    waiting.until("1 new comment");
    forge.control(
        "review",
        Some(json!({"pr": number, "author": "rev", "state": "APPROVED", "body": "ship it"})),
    );
    let (lines, code) = waiting.finish();
    assert_eq!(code, 0, "{lines:#?}");
    assert!(lines.last().unwrap().contains("approved"), "{lines:#?}");
}
