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
