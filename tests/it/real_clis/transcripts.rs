//! What a person reads of the real CLIs' work: `vnx show --log` of a headless run is a
//! transcript naming the command the worker ran, with no raw JSON; a question is shown by
//! `wait`, `status` and `show`; and `show --log -f` prints an interactive claude's, codex's
//! or gemini's progress while it runs, from the session file its CLI keeps, whose token usage
//! the completion records.

use super::{Rig, explain, step};
use crate::common::{completion, run};

const QUESTION: &str = "Should I also update the documentation?";

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_logs_read_as_transcripts_and_questions_are_shown() {
    let rig = Rig::new();
    for cli in ["claude", "codex", "gemini"] {
        let at = step(cli, "headless", "transcript");
        // gemini's headless edits posture offers no shell tool; its model may only report.
        let command = "vnx report --status done --summary looked";
        let r = rig.dispatch(
            cli,
            "headless",
            &format!("{cli} looks\n\\@model run {command}\n\\@model say Looked."),
        );
        let c = completion(&r);
        let id = c["dispatch_id"].as_str().unwrap().to_owned();
        let log = run(rig.repo.vnx().args(["show", &id, "--log"]));
        assert_eq!(log.code, 0, "{at} {}", log.stderr);
        assert!(
            log.stdout
                .lines()
                .any(|l| l.starts_with('$') && l.contains(command)),
            "{at} {}\n{}",
            log.stdout,
            explain(&c)
        );
        assert!(
            log.stdout.contains("says    Looked."),
            "{at} {}",
            log.stdout
        );
        assert!(
            log.stdout.lines().any(|l| l.starts_with("end ")),
            "{at} {}",
            log.stdout
        );
        assert!(!log.stdout.contains("{\"type\""), "{at} {}", log.stdout);
        let raw = run(rig.repo.vnx().args(["show", &id, "--log", "--raw"]));
        assert!(raw.stdout.contains("{\"type\""), "{at} {}", raw.stdout);

        let at = step(cli, "headless", "question");
        let r = rig.dispatch(cli, "headless", &format!("{cli} asks\n\\@model ask"));
        let c = completion(&r);
        assert_eq!(c["status"], "needs_input", "{at} {c}");
        let id = c["dispatch_id"].as_str().unwrap().to_owned();
        let wait = run(rig.repo.vnx().args(["wait", &id]));
        assert!(
            wait.stdout.contains(&format!("{id}  asks: {QUESTION}")),
            "{at} {}",
            wait.stdout
        );
        let show = run(rig.repo.vnx().args(["show", &id]));
        assert!(
            show.stdout.contains(&format!("asks       {QUESTION}")),
            "{at} {}",
            show.stdout
        );
    }
    let status = run(rig.repo.vnx().arg("status"));
    assert_eq!(
        status
            .stdout
            .matches(&format!("  asks: {QUESTION}"))
            .count(),
        3,
        "{}",
        status.stdout
    );
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn show_log_follows_running_interactive_workers_and_records_their_usage() {
    let rig = Rig::new();
    for cli in ["claude", "codex", "gemini"] {
        let at = step(cli, "interactive", "show --log -f");
        let command = format!("vnx report --status done --summary followed-{cli}");
        // The model waits before its first answer, so the follow starts while the TUI works.
        let id = rig.detach(
            cli,
            "interactive",
            120,
            &format!(
                "follow {cli}\n\\@model sleep 3\n\\@model write followed.txt followed\n\\@model run {command}\n\\@model say Wrote it."
            ),
        );
        let mut cmd = rig.repo.vnx();
        cmd.envs(rig.env.iter().map(|(k, v)| (k, v)))
            .args(["show", &id, "--log", "--follow"]);
        let follow = run(cmd);
        assert_eq!(follow.code, 0, "{at} {}", follow.stderr);
        assert!(
            follow
                .stderr
                .contains(&format!("following {cli}'s session file")),
            "{at} {}",
            follow.stderr
        );
        for want in [format!("$       {command}"), "says    Wrote it.".to_owned()] {
            assert!(
                follow.stdout.contains(&want),
                "{at} {want}: {}",
                follow.stdout
            );
        }
        assert!(
            !follow.stdout.contains("{\"type\"") && !follow.stdout.contains("\"$set\""),
            "{at} {}",
            follow.stdout
        );
        let c = completion(&run(rig.repo.vnx().args(["wait", "--json", &id])));
        assert_eq!(c["status"], "done", "{at} {}", explain(&c));
        // The usage its TUI recorded in its session file is on the completion.
        assert!(
            c["token_usage"]["input_tokens"].as_u64().unwrap_or(0) > 0
                && c["token_usage"]["output_tokens"].as_u64().unwrap_or(0) > 0,
            "{at} no token usage: {c}"
        );
        assert_eq!(c["token_usage_source"], "session_file", "{at} {c}");
        let show = run(rig.repo.vnx().args(["show", &id]));
        assert!(
            show.stdout.contains("out (from the CLI's session file)"),
            "{at} {}",
            show.stdout
        );
        // After the end, `show --log` reads the same file.
        let log = run(rig.repo.vnx().args(["show", &id, "--log"]));
        assert!(
            log.stdout.contains(&format!("$       {command}")),
            "{at} {}",
            log.stdout
        );
        assert!(
            log.stderr.contains(&format!("{cli}'s session file")),
            "{at} {}",
            log.stderr
        );
    }
    // `vnx cost` counts them: no interactive dispatch is unreported.
    let cost = run(rig.repo.vnx().args(["cost", "--by", "provider", "--json"]));
    let cost: serde_json::Value = serde_json::from_str(&cost.stdout).unwrap();
    for cli in ["claude", "codex", "gemini"] {
        let group = cost["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == cli)
            .unwrap_or_else(|| panic!("[{cli} cost] {cost}"));
        assert_eq!(group["unreported"], 0, "[{cli} cost] {group}");
        assert!(
            group["total_tokens"].as_u64().unwrap_or(0) > 0,
            "[{cli} cost] {group}"
        );
    }
}
