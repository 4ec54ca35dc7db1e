//! The daily loop on the real CLIs, headless: each writes a file and reports, and one
//! `vnx merge` of all three runs the role's gate for each (no `gate-check` first) and lands
//! them in order.

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
