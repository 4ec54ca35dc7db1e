//! `vnx review` on the real claude, codex and gemini (headless, default posture): a dispatch
//! writes a greeting and reports done; a review comment on its line is sent with `--send`;
//! the follow-up resumes the worker's session, the model server receives the comment
//! verbatim with its file, line and the code it points at, and the worker's fix lands on the
//! branch (committed by vnx, as the instruction says); the comment is then stale and
//! addressed by that follow-up.
//!
//! The scripted model's moves for the fix ride in the comment's text (`\@model` lines): the
//! model server takes them from the last user message holding a script, which is the
//! follow-up's.

use super::{Rig, explain, step};
use crate::common::{completion, run};

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn real_clis_receive_a_review_comment_verbatim_and_fix_the_line() {
    let rig = Rig::new();
    for cli in ["claude", "codex", "gemini"] {
        let file = format!("{cli}-greeting.txt");
        let first = format!("{cli} writes a greeting to review");
        let r = rig.dispatch(
            cli,
            "headless",
            &format!(
                "{first}\n\\@model write {file} hi\n\\@model run vnx report --status done --summary greeting\n\\@model say Wrote it."
            ),
        );
        let c = completion(&r);
        let at = step(cli, "headless", "first turn");
        assert_eq!(c["status"], "done", "{at} {} {}", explain(&c), r.stderr);
        let id = c["dispatch_id"].as_str().unwrap().to_owned();
        let session = c["session_id"].as_str().unwrap_or_default().to_owned();
        assert!(!session.is_empty(), "{at} no session id: {c}");
        assert_eq!(rig.repo.on_branch(&id, &file), "hi\n", "{at}");

        let at = step(cli, "headless", "review comment");
        let said = format!("{cli}: say hello here, not hi (`greet` it) <b>now</b>.");
        let comment = format!(
            "{said}\n\\@model write {file} hello\n\\@model run vnx report --status done --summary hello\n\\@model say Fixed the greeting."
        );
        let mut cmd = rig.vnx();
        cmd.args(["review", &id, "--comment", &format!("{file}:1"), &comment]);
        let r = run(cmd);
        assert_eq!(r.code, 0, "{at} {}{}", r.stdout, r.stderr);

        let at = step(cli, "headless", "review --send");
        let mut cmd = rig.vnx();
        cmd.args(["review", &id, "--send", "--json"]);
        let r = run(cmd);
        assert_eq!(r.code, 0, "{at} {}{}", r.stdout, r.stderr);
        let f = completion(&r);
        assert_eq!(f["status"], "done", "{at} {} {}", explain(&f), r.stderr);
        let fix = f["dispatch_id"].as_str().unwrap().to_owned();
        assert_ne!(fix, id, "{at}");
        assert_eq!(f["session_id"].as_str(), Some(session.as_str()), "{at} {f}");

        // What the model was sent holds the comment verbatim, its place and its code.
        let told = rig.server.requests().iter().any(|q| {
            let body = q["body"].to_string();
            body.contains(&format!(" on {file}:1:"))
                && body.contains(">     1 | hi")
                && body.contains(&said.replace('"', "\\\""))
                && body.contains(&first)
        });
        assert!(
            told,
            "{at} no request held the first turn and the comment with its place and code"
        );

        // The fix landed, committed by vnx; the comment is stale and addressed.
        assert_eq!(f["teardown_class"], "committed", "{at} {}", explain(&f));
        assert_eq!(rig.repo.on_branch(&id, &file), "hello\n", "{at}");
        let mut cmd = rig.vnx();
        cmd.args(["review", &id, "--json"]);
        let r = run(cmd);
        let listed: serde_json::Value = serde_json::from_str(r.stdout.trim())
            .unwrap_or_else(|e| panic!("{at} {e}: {}{}", r.stdout, r.stderr));
        let c = &listed["comments"][0];
        assert_eq!(c["stale"], true, "{at} {listed}");
        assert_eq!(c["addressed_by"], fix.as_str(), "{at} {listed}");
        assert_eq!(c["body"], comment.as_str(), "{at} {listed}");
    }
    rig.repo.verify_ok();
}
