//! The transcript renderer against output recorded from the real CLIs
//! (`tests/support/fixtures/`): what `vnx show --log`, the dashboard's log pane and its LAST
//! ACTIVITY column show of claude, codex and gemini runs, snapshot by snapshot.

use vnx::provider::transcript;

use crate::common::repo_dir;

fn rendered(name: &str) -> String {
    let path = repo_dir().join("tests/support/fixtures").join(name);
    let data = std::fs::read(&path).unwrap();
    let lines = transcript::render(&data);
    assert!(
        lines.iter().all(|l| !l.contains("{\"type\"")),
        "{name}: raw JSON in {lines:#?}"
    );
    lines.join("\n")
}

#[test]
fn real_runs_render_as_transcripts() {
    for cli in ["claude", "codex", "gemini"] {
        for case in [
            "headless-success",
            "headless-shell",
            "question",
            "api-error",
        ] {
            let name = format!("{cli}-{case}");
            insta::assert_snapshot!(
                format!("transcript_{name}"),
                rendered(&format!("{name}.jsonl"))
            );
        }
    }
}

#[test]
fn real_denials_are_named_with_their_command() {
    for cli in ["claude", "gemini"] {
        let name = format!("{cli}-headless-denied");
        let text = rendered(&format!("{name}.jsonl"));
        assert!(
            text.lines()
                .any(|l| l.starts_with("denied") && l.contains("cargo test --quiet")),
            "{text}"
        );
        insta::assert_snapshot!(format!("transcript_{name}"), text);
    }
}

#[test]
fn the_shell_command_a_worker_ran_is_shown() {
    for cli in ["claude", "codex", "gemini"] {
        let text = rendered(&format!("{cli}-headless-shell.jsonl"));
        assert!(
            text.lines()
                .any(|l| l.starts_with('$') && l.ends_with("echo hi > ran.txt")),
            "{cli}: {text}"
        );
    }
}

/// The session files the real TUIs wrote in the interactive lane (claude 2.1.197, codex
/// 0.169, gemini 0.61; paths made `/work/project` and `/home/user`): what `vnx show --log`
/// prints of them, and the usage a completion records from them. claude's messages each say
/// something before their tool call (`@model preface`), and claude writes such a message's
/// usage again on the line of each block: counted once (120,430 input tokens if counted per
/// line).
#[test]
fn real_interactive_session_files_render_as_transcripts_with_their_usage() {
    use vnx::provider::session::{self, Cli};
    for (cli, name, (input, output)) in [
        ("claude", "claude-interactive-session", (72_331, 63)),
        ("codex", "codex-interactive-rollout", (52_889, 104)),
        ("gemini", "gemini-interactive-session", (57_514, 49)),
    ] {
        let cli = Cli::of(cli).unwrap();
        let path = repo_dir()
            .join("tests/support/fixtures")
            .join(format!("{name}.jsonl"));
        let text = session::render(cli.clone(), &path).unwrap().join("\n");
        assert!(
            !text.contains("{\"") && !text.contains("$set"),
            "{name}: raw JSON in {text}"
        );
        assert!(
            text.lines()
                .any(|l| l == "$       vnx report --status done --summary followed"),
            "{name}: {text}"
        );
        insta::assert_snapshot!(format!("transcript_{name}"), text);
        let usage = session::usage(cli, &path, std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(
            (usage.input_tokens, usage.output_tokens),
            (input, output),
            "{name}"
        );
    }
}
