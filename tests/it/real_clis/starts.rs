//! Every real CLI starts in every lane and posture vnx offers it: a dispatch whose model only
//! answers reaches the model (its request holds the dispatch's marker) and ends as a turn
//! that answered (`needs_input` with what it said, or `done`), never a CLI that refused its
//! flags, a TUI stuck at a dialog, or a timeout, and its log opens with no warning about how
//! vnx started it. The CLIs are the registry's, so a CLI added there is started here too. The full posture runs sandboxed, as the
//! shipped constraints require. A lane a CLI does not have (aider's TUI) is refused before
//! anything starts, naming the lane.

use super::{Rig, explain, step};
use crate::common::run;

/// What a CLI prints when vnx starts it in a way it warns about: codex given a prompt
/// argument with stdin no terminal, gemini given its deprecated allow-list flag.
const NOISE: [&str; 2] = ["Reading additional input from stdin", "--allowed-tools"];

/// The postures, each with the flags it needs.
const POSTURES: [(&str, &[&str]); 3] = [("ask", &[]), ("edits", &[]), ("full", &["--sandbox"])];

/// The lanes of each CLI it has.
fn lanes(cli: &str) -> &'static [&'static str] {
    if cli == "aider" {
        &["headless"]
    } else {
        &["headless", "interactive"]
    }
}

/// Most dispatches of `cli` started at once (real CLIs on a small machine). opencode one at
/// a time: three of its headless runs started together in one home on a 2-core machine
/// once saw one exit 1 in 5 s with nothing on its output, which one at a time never did.
fn at_once(cli: &str) -> usize {
    if cli == "opencode" { 1 } else { 3 }
}

/// One start of `cli` in `lane` and `posture`: `Err` says what went wrong.
fn start(
    rig: &Rig,
    cli: &str,
    lane: &str,
    (posture, flags): (&str, &[&str]),
) -> Result<(), String> {
    let marker = format!("{cli} starts {lane} {posture}");
    let at = step(cli, lane, posture);
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", cli, "--lane", lane, "--permission", posture])
        .args(["--deadline", "150"])
        .args(flags)
        .args([
            "--instruction",
            &format!("{marker}\n\\@model say Started: {marker}."),
        ]);
    let r = run(cmd);
    let Some(c) = r
        .stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|c| c.get("status").is_some())
    else {
        return Err(format!(
            "{at} no completion: exit {}\n{}{}",
            r.code, r.stdout, r.stderr
        ));
    };
    let status = c["status"].as_str().unwrap_or_default();
    if !["needs_input", "done"].contains(&status) {
        return Err(format!("{at} ended {status}: {} {}", r.stderr, explain(&c)));
    }
    let reached = rig
        .server
        .requests()
        .iter()
        .any(|q| q.to_string().contains(&marker));
    if !reached {
        return Err(format!(
            "{at} the model never got the prompt: {}",
            explain(&c)
        ));
    }
    // What vnx asked of the CLI left no complaint at the head of its log.
    let log = c["completion"]["worker_log"]
        .as_str()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    for noise in NOISE {
        if log.contains(noise) {
            return Err(format!("{at} its log says {noise:?}: {}", explain(&c)));
        }
    }
    if posture == "full" && c["dispatch_id"].is_string() {
        let id = c["dispatch_id"].as_str().unwrap_or_default();
        let started = &rig.repo.receipts(id)[0];
        if started["sandbox"]["kind"] != "bubblewrap" {
            return Err(format!("{at} not sandboxed: {started}"));
        }
    }
    Ok(())
}

/// The lanes vnx has.
const LANES: [&str; 2] = ["headless", "interactive"];

/// A lane `cli` does not have is refused before anything starts, naming the lane.
fn refused(rig: &Rig, cli: &str, lane: &str) -> Result<(), String> {
    let at = step(cli, lane, "a lane it has not");
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", cli, "--lane", lane])
        .args(["--instruction", "nothing"]);
    let r = run(cmd);
    if r.code != 2 || !r.stderr.contains(lane) || !rig.server.requests().is_empty() {
        return Err(format!("{at} exit {}: {}{}", r.code, r.stdout, r.stderr));
    }
    Ok(())
}

/// Every lane × posture of `cli`, [`at_once`] at a time: every failure.
fn starts_everywhere(cli: &'static str) -> Vec<String> {
    let rig = Rig::new();
    let mut failures = Vec::new();
    for lane in LANES.iter().filter(|l| !lanes(cli).contains(l)) {
        failures.extend(refused(&rig, cli, lane).err());
    }
    let cases: Vec<(&str, (&str, &[&str]))> = lanes(cli)
        .iter()
        .flat_map(|&lane| POSTURES.iter().map(move |&p| (lane, p)))
        .collect();
    let rig = &rig;
    for chunk in cases.chunks(at_once(cli)) {
        std::thread::scope(|s| {
            let running: Vec<_> = chunk
                .iter()
                .map(|&(lane, posture)| s.spawn(move || start(rig, cli, lane, posture)))
                .collect();
            for handle in running {
                if let Err(why) = handle.join().expect("a start thread panicked") {
                    failures.push(why);
                }
            }
        });
    }
    if !rig.repo.server.sessions_end() {
        failures.push(format!("[{cli}] a tmux session was left"));
    }
    failures
}

/// Every CLI the registry lists (`provider::cli::programs`), so that a CLI added there is
/// started here too.
#[test]
#[ignore = "needs the real CLIs (tests/support/install-clis.sh)"]
fn every_real_cli_starts_in_every_lane_and_posture() {
    let failures: Vec<String> = vnx::provider::cli::programs()
        .into_iter()
        .filter(|c| std::env::var("ONLY").map_or(true, |o| o == *c))
        .flat_map(starts_everywhere)
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
