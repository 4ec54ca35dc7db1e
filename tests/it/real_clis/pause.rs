//! A pause met by the real CLIs (issue 71, ADR 0119), against the scripted model: the model
//! writes a file, then takes its time before the next step; `vnx pause --now` stops the
//! headless CLI in that wait (SIGTERM to its supervisor, which stops the worker), the dispatch
//! reads `paused`, and `vnx resume` has its supervisor run the CLI once more in the same
//! session with the short prompt: it ends done with the file written before the pause and
//! the report after it.

use super::{Rig, explain, step, within};
use crate::common::{completion, run};

fn paused_then_done(rig: &Rig, cli: &str) {
    let at = step(cli, "headless", "pause");
    let marker = format!("{cli} paused mid-task");
    let instruction = format!(
        "{marker}\n\\@model write paused.txt {marker}\n\\@model sleep 15\n\
         \\@model run vnx report --status done --summary after-the-pause\n\\@model say Done."
    );
    let id = rig.detach(cli, "headless", 240, &instruction);
    let written = rig.worktree(&id).join("paused.txt");
    assert!(
        within(120, || written.exists()),
        "{at} never wrote its file"
    );
    let r = run(rig.repo.vnx().args(["pause", "--now"]));
    assert_eq!(r.code, 0, "{at} {}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains(&format!("{id}  paused: its session kept")),
        "{at} {}{}",
        r.stdout,
        r.stderr
    );
    let r = run(rig.repo.vnx().arg("resume"));
    assert_eq!(r.code, 0, "{at} {}", r.stderr);
    let r = run(rig
        .repo
        .vnx()
        .args(["wait", &id, "--json", "--timeout", "180"]));
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    let receipts = rig.repo.receipts(&id);
    let kinds: Vec<&str> = receipts
        .iter()
        .map(|r| r["event_type"].as_str().unwrap())
        .filter(|k| k.starts_with("dispatch_"))
        .collect();
    assert_eq!(
        kinds,
        [
            "dispatch_started",
            "dispatch_paused",
            "dispatch_resumed",
            "dispatch_completed"
        ],
        "{at} {receipts:?}"
    );
    let log = std::fs::read_to_string(c["worker_log"].as_str().unwrap()).unwrap();
    assert_eq!(
        log.matches("vnx: continuing after the pause").count(),
        1,
        "{at} continued once"
    );
    if let Some(session) = c["session_id"].as_str() {
        assert!(log.contains(session), "{at} {session} not in the log");
    }
    assert_eq!(
        rig.repo.on_branch(&id, "paused.txt"),
        format!("{marker}\n"),
        "{at}"
    );
}

#[test]
#[ignore = "needs the real claude and codex (tests/support/install-clis.sh)"]
fn real_clis_paused_now_go_on_in_their_session_when_resumed() {
    let rig = Rig::new();
    paused_then_done(&rig, "claude");
    paused_then_done(&rig, "codex");
}
