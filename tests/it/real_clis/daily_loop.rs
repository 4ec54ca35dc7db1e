//! The daily loop on the real CLIs, headless: each writes a file and reports, and one
//! `vnx merge` of all three runs the role's gate for each (no `gate-check` first) and lands
//! them in order. A worker that commits and ends its turn without reporting is accepted by
//! hand (`vnx accept`) and merged; so is each CLI's work left uncommitted, which vnx commits.

use super::{Rig, completion, step};
use crate::common::run;

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn merge_runs_the_missing_gates_of_real_dispatches() {
    let rig = Rig::new();
    crate::common::configure(
        &rig.repo,
        "gates:\n  tests: {kind: command, argv: [sh, -c, 'ls *.txt']}\nroles:\n  implementer: {gates: [tests]}\n",
    );
    let mut ids = Vec::new();
    for cli in ["claude", "codex", "gemini"] {
        let marker = format!("daily {cli}");
        let file = format!("daily-{cli}.txt");
        let r = rig.dispatch(
            cli,
            "headless",
            &format!(
                "{marker}\n\\@model write {file} {marker}\n\\@model run vnx report --status done --summary daily\n\\@model say Wrote it."
            ),
        );
        let c = completion(&r);
        let at = step(cli, "headless", "write, report");
        assert_eq!(c["status"], "done", "{at} {c}");
        ids.push(c["dispatch_id"].as_str().unwrap().to_owned());
    }
    let r = run(rig.repo.vnx().arg("merge").args(&ids));
    assert_eq!(r.code, 0, "merge: {}{}", r.stdout, r.stderr);
    for id in &ids {
        assert!(
            r.stderr.contains(&format!(
                "{id}: gate tests has no current pass for its head; running it first"
            )),
            "{}",
            r.stderr
        );
    }
    let landed = rig.repo.env.git(&["ls-tree", "--name-only", "HEAD"]);
    for cli in ["claude", "codex", "gemini"] {
        assert!(landed.contains(&format!("daily-{cli}.txt")), "{landed}");
    }
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real claude (tests/support/install-clis.sh) and bubblewrap"]
fn a_real_worker_that_forgot_to_report_is_accepted_and_merged() {
    let rig = Rig::new();
    crate::common::configure(
        &rig.repo,
        "gates:\n  tests: {kind: command, argv: [sh, -c, 'ls *.txt']}\nroles:\n  implementer: {gates: [tests]}\n",
    );
    // Sandboxed with the full posture, claude may commit; it then ends its turn with a
    // question instead of `vnx report`.
    let marker = "forgot claude";
    let instruction = format!(
        "{marker}\n\\@model write forgot.txt {marker}\n\\@model run git add -A && git commit -q -m forgot\n\\@model say Committed forgot.txt. Shall I also update the docs?"
    );
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args([
            "--provider",
            "claude",
            "--lane",
            "headless",
            "--deadline",
            "120",
        ])
        .args(["--sandbox", "--permission", "full"])
        .args(["--instruction", &instruction]);
    let c = completion(&run(cmd));
    let at = step("claude", "headless", "commit, no report");
    assert_eq!(c["status"], "needs_input", "{at} {}", super::explain(&c));
    assert_eq!(
        c["teardown_class"],
        "committed",
        "{at} {}",
        super::explain(&c)
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    // Held: the merge wants a done.
    let held = run(rig.repo.vnx().args(["merge", &id, "--check", "--json"]));
    assert_eq!(held.code, 1, "{at} {}", held.stderr);
    assert!(
        held.stdout.contains(&format!(
            r#""name":"dispatch_done","ok":false,"detail":"dispatch {id} ended needs_input, not done""#
        )),
        "{at} {}",
        held.stdout
    );

    let r = run(rig.repo.vnx().args(["accept", &id, "--note", "read it"]));
    assert_eq!(r.code, 0, "{at} accept: {}", r.stderr);
    let status = run(rig.repo.vnx().args(["status", &id]));
    assert!(
        status.stdout.contains("  accepted by "),
        "{at} {}",
        status.stdout
    );
    let m = run(rig.repo.vnx().args(["merge", &id]));
    assert_eq!(m.code, 0, "{at} merge: {}{}", m.stdout, m.stderr);
    let landed = rig.repo.env.git(&["show", "HEAD:forgot.txt"]);
    assert_eq!(landed, format!("{marker}\n"), "{at}");
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn forgotten_uncommitted_work_of_each_real_cli_is_accepted_and_merged() {
    let rig = Rig::new();
    crate::common::configure(
        &rig.repo,
        "gates:\n  tests: {kind: command, argv: [sh, -c, 'ls forgot-*.txt']}\nroles:\n  implementer: {gates: [tests]}\n",
    );
    let mut ids = Vec::new();
    for cli in ["claude", "codex", "gemini"] {
        // Each in its default lane (claude's TUI, codex's and gemini's headless), under the
        // default posture: the model writes the file, commits nothing, reports nothing.
        let marker = format!("forgot uncommitted {cli}");
        let file = format!("forgot-{cli}.txt");
        let instruction =
            format!("{marker}\n\\@model write {file} {marker}\n\\@model say Wrote {file}.");
        let mut cmd = rig.vnx();
        cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
            .args(["--provider", cli, "--deadline", "120"])
            .args(["--instruction", &instruction]);
        let c = completion(&run(cmd));
        let at = step(cli, "default lane", "write, no commit, no report");
        assert_eq!(c["status"], "needs_input", "{at} {}", super::explain(&c));
        assert_eq!(c["teardown_class"], "dirty", "{at} {}", super::explain(&c));
        let id = c["dispatch_id"].as_str().unwrap().to_owned();
        // What it said last is shown, and not as a question.
        let show = run(rig.repo.vnx().args(["show", &id]));
        assert!(
            show.stdout.contains(&format!("  said       Wrote {file}.")),
            "{at} {}",
            show.stdout
        );
        let r = run(rig.repo.vnx().args(["accept", &id]).env("USER", "ana"));
        assert_eq!(r.code, 0, "{at} accept: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(&format!(
                "{id}  committed what its worker left uncommitted: "
            )),
            "{at} {}",
            r.stdout
        );
        let accepted = rig.repo.events("dispatch_accepted");
        let receipt = accepted.last().unwrap();
        assert_eq!(receipt["by"], "ana", "{at} {receipt}");
        assert_eq!(
            receipt["vnx_commit"]["files"],
            serde_json::json!([file]),
            "{at} {receipt}: nothing of vnx's own is committed"
        );
        assert_eq!(
            rig.repo.on_branch(&id, &file),
            format!("{marker}\n"),
            "{at}"
        );
        let show = run(rig.repo.vnx().args(["show", &id]));
        assert!(
            show.stdout
                .contains("teardown   dirty, then committed by vnx on acceptance ("),
            "{at} {}",
            show.stdout
        );
        ids.push(id);
    }
    let r = run(rig.repo.vnx().arg("merge").args(&ids));
    assert_eq!(r.code, 0, "merge: {}{}", r.stdout, r.stderr);
    let landed = rig.repo.env.git(&["ls-tree", "--name-only", "HEAD"]);
    for cli in ["claude", "codex", "gemini"] {
        assert!(landed.contains(&format!("forgot-{cli}.txt")), "{landed}");
    }
    rig.repo.verify_ok();
}
