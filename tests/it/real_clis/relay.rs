//! The credential relay (ADR 0124) with the real claude, qwen, aider and copilot
//! (OpenAI-compatible) and gemini, sandboxed with `sandbox.credentials: relay`: each does its work through the relay, the
//! model server sees the real key on every request and never the placeholder, and the signed
//! start names the relayed variable; claude's TUI too, which asks about a key it has not seen
//! approved unless the placeholder ends as the approved key does.

use sha2::Digest;

use super::{Rig, committed_by_vnx, explain, step};
use crate::common::{completion, configure};

#[test]
#[ignore = "needs the real claude, qwen, gemini, aider and copilot (tests/support/install-clis.sh) and bubblewrap"]
fn real_clis_reach_the_model_through_the_credential_relay() {
    let rig = Rig::new();
    configure(&rig.repo, "sandbox:\n  credentials: relay\n");
    for (cli, var) in [
        ("claude", "ANTHROPIC_API_KEY"),
        ("qwen", "OPENAI_API_KEY"),
        ("gemini", "GEMINI_API_KEY"),
        ("aider", "OPENAI_API_KEY"),
        ("copilot", "COPILOT_PROVIDER_API_KEY"),
    ] {
        let at = step(cli, "headless", "sandboxed, its key relayed");
        let real = (rig.env.iter())
            .find(|(k, _)| k == var)
            .map(|(_, v)| v.clone())
            .unwrap();
        let marker = format!("relayed {cli}");
        let file = format!("{cli}-relayed.txt");
        // aider cannot run `vnx report`: its applied edit is its end (ADR 0060).
        let report = if cli == "aider" {
            ""
        } else {
            "\\@model run vnx report --status done --summary relayed\n"
        };
        let instruction =
            format!("{marker}\n\\@model write {file} {marker}\n{report}\\@model say Wrote it.");
        let mut cmd = rig.vnx();
        cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
            .args(["--provider", cli, "--lane", "headless", "--deadline", "180"])
            .args(["--sandbox", "--instruction", &instruction]);
        let r = crate::common::run(cmd);
        let c = completion(&r);
        assert_eq!(r.code, 0, "{at} {}", explain(&c));
        let id = if cli == "aider" {
            assert_eq!(c["status"], "done", "{at} {}", explain(&c));
            let id = c["dispatch_id"].as_str().unwrap().to_owned();
            assert_eq!(
                rig.repo.on_branch(&id, &file),
                format!("{marker}\n"),
                "{at}"
            );
            id
        } else {
            committed_by_vnx(&rig.repo, &c, &at, (cli, "headless"), &marker, &file)
        };
        let started = &rig.repo.receipts(&id)[0];
        assert_eq!(
            started["sandbox"]["relayed_keys"],
            serde_json::json!([var]),
            "{at} {started}"
        );
        // Every request of this dispatch carried the real key, as the server saw it.
        let want = hex::encode(sha2::Sha256::digest(real.as_bytes()));
        let keys: Vec<serde_json::Value> = (rig.server.requests().iter())
            .filter(|r| r.to_string().contains(&marker))
            .map(|r| r["key_sha256"].clone())
            .collect();
        assert!(!keys.is_empty(), "{at} no request reached the server");
        assert!(
            keys.iter().all(|k| k.as_str() == Some(want.as_str())),
            "{at} the server saw another key: {keys:?}"
        );
    }
}

#[test]
#[ignore = "needs the real claude (tests/support/install-clis.sh) and bubblewrap"]
fn real_claude_tui_works_through_the_credential_relay() {
    let rig = Rig::new();
    configure(&rig.repo, "sandbox:\n  credentials: relay\n");
    let at = step("claude", "interactive", "sandboxed, its key relayed");
    let marker = "relayed claude tui";
    let file = "claude-tui-relayed.txt";
    let instruction = format!(
        "{marker}\n\\@model write {file} {marker}\n\
         \\@model run vnx report --status done --summary relayed\n\\@model say Wrote it."
    );
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args([
            "--provider",
            "claude",
            "--lane",
            "interactive",
            "--deadline",
            "90",
        ])
        .args(["--sandbox", "--instruction", &instruction]);
    let r = crate::common::run(cmd);
    let c = completion(&r);
    assert_eq!(r.code, 0, "{at} {}", explain(&c));
    committed_by_vnx(&rig.repo, &c, &at, ("claude", "interactive"), marker, file);
}
