//! The real opencode (1.18.33) driven by `vnx dispatch-agent --provider opencode`, offline
//! against the scripted model server, headless in vnx's default posture (`edits`: its rules
//! allow edits, ask for commands but the role's and `vnx report`): its work done and
//! reported, the command the role allows run, `git commit` refused, vnx committing, the
//! prompt reaching the model as it was composed (not quoted); in `ask`, a refused write
//! after which opencode exits 0 is not success; an HTTP 400 is a failure, by its events; a
//! question followed up in the same session. Its TUI: the report ends it, its session (rows
//! of its SQLite database) gives the receipt its usage and `show --log` its transcript, a
//! turn it ends without a report is a question; `vnx init --mcp` registers vnx in its user
//! config and its model calls vnx's tools.

use super::{Rig, committed_by_vnx, compliant, explain, step};
use crate::common::{Run, completion, configure, run};

/// A dispatch with a posture and a deadline of its own.
fn dispatch(rig: &Rig, permission: &str, deadline: u64, instruction: &str) -> Run {
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", "opencode", "--lane", "headless"])
        .args(["--permission", permission])
        .args(["--deadline", &deadline.to_string()])
        .args(["--instruction", instruction]);
    run(cmd)
}

/// The user messages the model server got that hold `marker`.
fn user_messages(rig: &Rig, marker: &str) -> Vec<String> {
    rig.server
        .requests()
        .iter()
        .filter_map(|r| r["body"]["messages"].as_array().cloned())
        .flatten()
        .filter(|m| m["role"] == "user")
        .map(|m| match &m["content"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .filter(|c| c.contains(marker))
        .collect()
}

#[test]
#[ignore = "needs the real opencode (~354 MB from npm, tests/support/install-clis.sh)"]
fn real_opencode_headless_writes_runs_reports_and_vnx_commits() {
    let rig = Rig::new();
    configure(
        &rig.repo,
        "roles:\n  implementer:\n    allow: [\"python3 -c\"]\n",
    );
    let at = step("opencode", "headless", "write, run, try to commit, report");
    let marker = "real opencode headless";
    let file = "opencode-headless.txt";
    // The role's command runs unasked; its output reaches the model.
    let instruction = compliant(marker, file, "wrote-it").replacen(
        "\n\\@model run git add",
        "\n\\@model run python3 -c \"print('RAN-' + 'BY-OPENCODE')\"\n\\@model run git add",
        1,
    );
    let r = dispatch(&rig, "edits", 120, &instruction);
    let c = completion(&r);
    assert_eq!(r.code, 0, "{at} {}", explain(&c));
    let id = committed_by_vnx(&rig.repo, &c, &at, ("opencode", "headless"), marker, file);
    assert_eq!(c["exit_code"], 0, "{at} {c}");
    let events = &c["cli_events"];
    assert_eq!(events["verdict"]["status"], "success", "{at} {events}");
    // write, python3, git commit (refused), vnx report.
    assert_eq!(events["tool_calls"], 4, "{at} {events}");
    assert_eq!(events["permission_denials"], 1, "{at} {events}");
    assert_eq!(events["last_message"], "Wrote it.", "{at} {events}");
    assert_eq!(events["num_turns"], 5, "{at} {events}");
    assert_eq!(events["session_id"], c["session_id"], "{at} {events}");
    let seen: String = user_messages(&rig, marker).join("\n");
    assert!(
        rig.server
            .requests()
            .iter()
            .any(|r| r.to_string().contains("RAN-BY-OPENCODE")),
        "{at} the allowed command did not run"
    );
    // The prompt reached the model as vnx composed it: not wrapped in quotes.
    assert!(seen.starts_with("# vnx dispatch"), "{at} {seen:.200}");
    // The started receipt records the rules that made the posture.
    let started = &rig.repo.receipts(&id)[0];
    assert_eq!(started["permission"], "edits", "{at} {started}");
    assert_eq!(started["prompt_transport"], "stdin", "{at} {started}");
    let rules: serde_json::Value =
        serde_json::from_str(started["cli_env"]["OPENCODE_PERMISSION"].as_str().unwrap()).unwrap();
    assert_eq!(rules["edit"], "allow", "{at} {rules}");
    assert_eq!(rules["bash"]["*"], "ask", "{at} {rules}");
    assert_eq!(rules["bash"]["python3 -c *"], "allow", "{at} {rules}");
    // Its log is drawn as opencode's transcript: its session, the refused commit, the end.
    let log = run(rig.repo.vnx().args(["show", &id, "--log"]));
    assert_eq!(log.code, 0, "{at} {}", log.stderr);
    assert!(
        log.stdout.contains("opencode, session ses_"),
        "{at} {}",
        log.stdout
    );
    assert!(
        log.stdout.contains("denied  bash git add -A && git commit"),
        "{at} {}",
        log.stdout
    );
    assert!(
        log.stdout.contains("end     success · ") && log.stdout.contains("1 permission denial(s)"),
        "{at} {}",
        log.stdout
    );
    rig.repo.verify_ok();
}

/// In `ask`, opencode's `run` rejects the write it asks for and exits 0; the model only
/// says it is done. That is no success: nothing was written or reported.
#[test]
#[ignore = "needs the real opencode (~354 MB from npm, tests/support/install-clis.sh)"]
fn real_opencode_refused_write_exits_0_and_is_not_done() {
    let rig = Rig::new();
    let at = step("opencode", "headless", "ask: write refused");
    let marker = "opencode asks";
    let r = dispatch(
        &rig,
        "ask",
        120,
        &format!("{marker}\n\\@model write refused.txt no\n\\@model say Wrote it."),
    );
    let c = completion(&r);
    assert_eq!(c["exit_code"], 0, "{at} {}", explain(&c));
    assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
    assert_eq!(c["cli_events"]["permission_denials"], 1, "{at} {c}");
    assert_eq!(c["teardown_class"], "clean", "{at} {c}");
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real opencode (~354 MB from npm, tests/support/install-clis.sh)"]
fn real_opencode_http_400_fails_by_its_events() {
    let rig = Rig::new();
    let at = step("opencode", "headless", "HTTP 400");
    let r = dispatch(&rig, "edits", 120, "opencode fails\n\\@model fail 400");
    let c = completion(&r);
    assert_eq!(c["status"], "failed", "{at} {}", explain(&c));
    assert_eq!(r.code, 1, "{at}");
    assert_eq!(
        c["cli_events"]["verdict"]["message"], "APIError (HTTP 400): scripted failure",
        "{at} {c}"
    );
    let reason = c["failure_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("scripted failure"), "{at} {reason}");
    rig.repo.verify_ok();
}

#[test]
#[ignore = "needs the real opencode (~354 MB from npm, tests/support/install-clis.sh)"]
fn real_opencode_question_then_a_follow_up_in_the_same_session() {
    let rig = Rig::new();
    let asked = "first turn of opencode headless";
    let r = dispatch(&rig, "edits", 120, &format!("{asked}\n\\@model ask"));
    let at = step("opencode", "headless", "question");
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
    assert_eq!(
        c["cli_events"]["last_message"], "Should I also update the documentation?",
        "{at} {c}"
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let status = run(rig.repo.vnx().args(["status", &id]));
    assert!(
        status
            .stdout
            .contains("asks: Should I also update the documentation?"),
        "{at} {}",
        status.stdout
    );
    let session = c["session_id"].as_str().unwrap_or_default().to_owned();
    assert!(session.starts_with("ses_"), "{at} no session id: {c}");

    let marker = "follow-up of opencode headless";
    let file = "opencode-followed.txt";
    let r = rig.follow_up(&id, &compliant(marker, file, "answered"));
    let at = step("opencode", "headless", "follow-up");
    let f = completion(&r);
    assert_eq!(f["status"], "done", "{at} {}", explain(&f));
    assert_eq!(f["session_id"].as_str(), Some(session.as_str()), "{at} {f}");
    let next = f["dispatch_id"].as_str().unwrap();
    let started = rig
        .repo
        .receipts(next)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap();
    assert_eq!(started["continues"]["session_id"], session.as_str(), "{at}");
    // The model server saw the earlier turn in the follow-up's requests.
    let saw_both = rig.server.requests().iter().any(|req| {
        let body = req["body"].to_string();
        body.contains(marker) && body.contains(asked)
    });
    assert!(saw_both, "{at} no request held both turns");
    rig.repo.verify_ok();
}

/// `--provider ollama`: a model Ollama serves as a coding worker, through opencode pointed at
/// Ollama's OpenAI-compatible API (`OLLAMA_HOST`, here the scripted server): it writes,
/// refused `git commit`, reports; vnx commits; the gate passes and `vnx merge` lands it.
#[test]
#[ignore = "needs the real opencode (~354 MB from npm, tests/support/install-clis.sh)"]
fn real_ollama_model_works_through_opencode_to_a_merge() {
    let rig = Rig::new();
    configure(
        &rig.repo,
        "gates:\n  tests: {kind: command, argv: [sh, -c, 'ls *.txt']}\nroles:\n  implementer: {gates: [tests]}\n",
    );
    let at = step("ollama", "headless", "write, try to commit, report, merge");
    let marker = "local model through opencode";
    let file = "ollama-headless.txt";
    let before = rig.server.requests().len();
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", "ollama", "--model", "mock-model"])
        .args(["--deadline", "120"])
        .args(["--instruction", &compliant(marker, file, "local-model")]);
    let r = run(cmd);
    let c = completion(&r);
    let id = committed_by_vnx(&rig.repo, &c, &at, ("ollama", "headless"), marker, file);
    assert_eq!(c["cli_events"]["permission_denials"], 1, "{at} {c}");
    // Every request went to Ollama's OpenAI-compatible endpoint, for the model asked for
    // (the session's title included): opencode was given no other provider.
    let requests = rig.server.requests();
    let made = &requests[before..];
    assert!(!made.is_empty(), "{at} no request");
    for req in made {
        assert_eq!(req["path"], "/v1/chat/completions", "{at} {req}");
        assert_eq!(req["body"]["model"], "mock-model", "{at} {req}");
    }
    let started = &rig.repo.receipts(&id)[0];
    assert!(
        started["binary"].as_str().unwrap().ends_with("opencode"),
        "{at} {started}"
    );
    assert!(
        started["cli_env"]["OPENCODE_CONFIG_CONTENT"]
            .as_str()
            .unwrap()
            .contains("{env:OLLAMA_HOST}/v1"),
        "{at} {started}"
    );
    let (r, report) = crate::common::gate_check(&rig.repo, &id);
    assert_eq!(r.code, 0, "{at} gate-check: {report}");
    assert_eq!(report["decision"], "GO", "{at} {report}");
    let r = run(rig.repo.vnx().args(["merge", &id]));
    assert_eq!(r.code, 0, "{at} merge: {}{}", r.stdout, r.stderr);
    let landed = rig.repo.env.git(&["ls-tree", "--name-only", "HEAD"]);
    assert!(landed.contains(file), "{at} {landed}");

    // Its TUI too: opencode's, on the same model.
    let at = step("ollama", "interactive", "write, report");
    let marker = "local model in the TUI";
    let file = "ollama-interactive.txt";
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", "ollama", "--model", "mock-model"])
        .args(["--lane", "interactive", "--deadline", "120"])
        .args([
            "--instruction",
            &format!(
                "{marker}\n\\@model write {file} {marker}\n\\@model run vnx report --status done --summary tui\n\\@model say Wrote it."
            ),
        ]);
    let c = completion(&run(cmd));
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(rig.repo.on_branch(&id, file), format!("{marker}\n"), "{at}");
    rig.repo.verify_ok();
}

/// Its TUI in the pane (`opencode --prompt=…`), in `edits`: the edit is allowed by its rules,
/// `vnx report` too; the report ends it, vnx commits. (Nothing tells vnx when its dialog is
/// up, so a prompt is not asked for here.)
#[test]
#[ignore = "needs the real opencode (~354 MB from npm, tests/support/install-clis.sh)"]
fn real_opencode_tui_writes_and_reports() {
    let rig = Rig::new();
    let at = step("opencode", "interactive", "write, report");
    let marker = "real opencode interactive";
    let file = "opencode-interactive.txt";
    let r = rig.dispatch(
        "opencode",
        "interactive",
        &format!(
            "{marker}\n\\@model write {file} {marker}\n\\@model run vnx report --status done --summary tui\n\\@model say Wrote it."
        ),
    );
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    assert_eq!(c["teardown_class"], "committed", "{at} {}", explain(&c));
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(rig.repo.on_branch(&id, file), format!("{marker}\n"), "{at}");
    // The TUI got the prompt as it was composed, not quoted.
    let seen = user_messages(&rig, marker).join("\n");
    assert!(seen.starts_with("# vnx dispatch"), "{at} {seen:.200}");
    // Its usage, from its session's rows (its TUI writes no stream).
    assert_eq!(c["token_usage_source"], "session_file", "{at} {c}");
    assert!(
        c["token_usage"]["input_tokens"].as_u64().unwrap_or(0) > 0,
        "{at} {c}"
    );
    // Its session, which its TUI chose, found in its database; its steps' cost (the mock
    // model's is 0) as the headless stream's.
    let session = c["session_id"].as_str().unwrap_or_default();
    assert!(session.starts_with("ses_"), "{at} no session id: {c}");
    assert_eq!(c["cli_events"]["session_id"], session, "{at} {c}");
    assert_eq!(c["cli_events"]["cost_usd"].as_f64(), Some(0.0), "{at} {c}");
    rig.repo.verify_ok();
}

/// A TUI dispatch that asked a question, followed up: its TUI's session (the id vnx read from
/// its database) is continued in its minimal interface (`--mini --session=ID`, its full TUI
/// would not send the prompt), the earlier turn sent again, and the follow-up ends done.
#[test]
#[ignore = "needs the real opencode (~354 MB from npm, tests/support/install-clis.sh)"]
fn real_opencode_tui_question_then_a_follow_up_resumes_its_session() {
    let rig = Rig::new();
    let asked = "first turn of opencode's TUI";
    let r = rig.dispatch("opencode", "interactive", &format!("{asked}\n\\@model ask"));
    let at = step("opencode", "interactive", "question");
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
    let session = c["session_id"].as_str().unwrap_or_default().to_owned();
    assert!(session.starts_with("ses_"), "{at} no session id: {c}");
    let id = c["dispatch_id"].as_str().unwrap().to_owned();

    let marker = "follow-up of opencode's TUI";
    let file = "opencode-tui-followed.txt";
    let r = rig.follow_up(
        &id,
        &format!(
            "{marker}\n\\@model write {file} {marker}\n\\@model run vnx report --status done --summary followed\n\\@model say Followed."
        ),
    );
    let at = step("opencode", "interactive", "follow-up");
    let f = completion(&r);
    assert_eq!(f["status"], "done", "{at} {}", explain(&f));
    assert_eq!(f["session_id"].as_str(), Some(session.as_str()), "{at} {f}");
    let next = f["dispatch_id"].as_str().unwrap();
    // A follow-up works on the branch of the dispatch it continues.
    assert_eq!(rig.repo.on_branch(&id, file), format!("{marker}\n"), "{at}");
    let started = rig
        .repo
        .receipts(next)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap();
    assert_eq!(started["lane"], "interactive", "{at} {started}");
    assert_eq!(started["continues"]["session_id"], session.as_str(), "{at}");
    // The model server saw the earlier turn in the follow-up's requests.
    let saw_both = rig.server.requests().iter().any(|req| {
        let body = req["body"].to_string();
        body.contains(marker) && body.contains(asked)
    });
    assert!(saw_both, "{at} no request held both turns");
    // Only the follow-up's own steps are its usage and cost.
    assert_eq!(f["token_usage_source"], "session_file", "{at} {f}");
    assert_eq!(f["cli_events"]["cost_usd"].as_f64(), Some(0.0), "{at} {f}");
    rig.repo.verify_ok();
}

/// Its TUI ends its turn with a question, without `vnx report`: no hook says so, its session
/// does (the last assistant message completed, `stop`), so the dispatch is `needs_input`
/// asking the question, with the usage its session records; `show --log` draws the session:
/// the write, the question, the end.
#[test]
#[ignore = "needs the real opencode (~354 MB from npm, tests/support/install-clis.sh)"]
fn real_opencode_tui_turn_ends_with_a_question_read_from_its_session() {
    let rig = Rig::new();
    let at = step("opencode", "interactive", "write, then ask");
    let file = "opencode-asked.txt";
    let r = rig.dispatch(
        "opencode",
        "interactive",
        &format!("opencode asks in its TUI\n\\@model write {file} asked\n\\@model ask"),
    );
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input", "{at} {}", explain(&c));
    assert_eq!(c["completion_signal"], "opencode_session_hook", "{at} {c}");
    assert_eq!(
        c["cli_events"]["last_message"], "Should I also update the documentation?",
        "{at} {c}"
    );
    assert_eq!(c["token_usage_source"], "session_file", "{at} {c}");
    assert!(
        c["token_usage"]["output_tokens"].as_u64().unwrap_or(0) > 0,
        "{at} {c}"
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let status = run(rig.repo.vnx().args(["status", &id]));
    assert!(
        status
            .stdout
            .contains("asks: Should I also update the documentation?"),
        "{at} {}",
        status.stdout
    );
    let log = run(rig.vnx().args(["show", &id, "--log"]));
    assert_eq!(log.code, 0, "{at} {}", log.stderr);
    assert!(
        log.stderr.contains("opencode's session file ") && log.stderr.contains("opencode.db#ses_"),
        "{at} {}",
        log.stderr
    );
    let text = &log.stdout;
    assert!(
        text.starts_with("start   opencode, session ses_"),
        "{at} {text}"
    );
    assert!(
        text.contains(&format!("{file}\",\"content\"")),
        "{at} {text}"
    );
    assert!(
        text.contains("says    Should I also update the documentation?"),
        "{at} {text}"
    );
    assert!(text.contains("end     success · "), "{at} {text}");
    rig.repo.verify_ok();
}

/// `show --log --follow` of a running TUI dispatch follows its session in the database as
/// opencode writes it (each part once, as it is finished) until the dispatch ends.
#[test]
#[ignore = "needs the real opencode (~354 MB from npm, tests/support/install-clis.sh)"]
fn real_opencode_tui_session_is_followed_live() {
    let rig = Rig::new();
    let at = step("opencode", "interactive", "show --log --follow");
    let id = rig.detach(
        "opencode",
        "interactive",
        120,
        "opencode followed\n\\@model write followed.txt followed\n\\@model run vnx report --status done --summary followed\n\\@model say Followed.",
    );
    let log = run(rig.vnx().args(["show", &id, "--log", "--follow"]));
    assert_eq!(log.code, 0, "{at} {}", log.stderr);
    assert!(
        log.stderr.contains("following opencode's session file"),
        "{at} {}",
        log.stderr
    );
    let text = &log.stdout;
    assert_eq!(
        text.matches("start   opencode, session ses_").count(),
        1,
        "{at} {text}"
    );
    assert_eq!(
        text.matches("$       vnx report --status done").count(),
        1,
        "{at} {text}"
    );
    let r = run(rig.repo.vnx().args(["wait", "--json", &id]));
    let c = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    rig.repo.verify_ok();
}

/// `vnx init --mcp opencode` registers `vnx mcp` in opencode's user config (its workers
/// ignore the project's), and the real opencode, run in the project, calls its tools and
/// reads their answer.
#[test]
#[ignore = "needs the real opencode (~354 MB from npm, tests/support/install-clis.sh)"]
fn real_opencode_calls_vnx_mcp_after_init_mcp() {
    let rig = Rig::new();
    let at = step("opencode", "headless", "init --mcp");
    let r = run(rig.vnx().args(["init", "--mcp", "opencode"]));
    assert_eq!(r.code, 0, "{at} {}", r.stderr);
    let config = rig.repo.env.home().join(".config/opencode/opencode.json");
    let text = std::fs::read_to_string(&config).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["mcp"]["vnx"]["type"], "local", "{at} {text}");
    assert_eq!(json["mcp"]["vnx"]["command"][1], "mcp", "{at} {text}");
    // What the seed wrote is kept.
    assert!(json["provider"]["mock"].is_object(), "{at} {text}");
    let mut cmd = std::process::Command::new("opencode");
    cmd.current_dir(rig.repo.env.path())
        .env("PATH", &rig.path)
        .envs(rig.env.iter().map(|(k, v)| (k, v)))
        .args(["run", "--format", "json"])
        .arg("List.\n@model tool vnx_list_dispatches {}\n@model say listed")
        .stdin(std::process::Stdio::null());
    let r = run(cmd);
    assert_eq!(r.code, 0, "{at} {}", r.stderr);
    let answered = r.stdout.lines().any(|l| {
        l.contains("\"tool_use\"") && l.contains("vnx_list_dispatches") && l.contains("ledger_head")
    });
    assert!(answered, "{at} {}", r.stdout);
}

/// Sandboxed with the full posture (`--auto`, every rule `allow`; the shipped constraints
/// allow it only sandboxed): opencode starts with its state writable, writes, commits and
/// reports; writing the main checkout and reading `~/.ssh` fail.
#[test]
#[ignore = "needs the real opencode (~354 MB from npm, tests/support/install-clis.sh)"]
fn real_opencode_runs_sandboxed_with_the_full_posture() {
    let rig = Rig::new();
    let ssh = rig.repo.env.home().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(ssh.join("id_ed25519"), "SANDBOX-SECRET-KEY\n").unwrap();
    let main = rig.repo.env.path().canonicalize().unwrap();
    let at = step("opencode", "headless", "sandboxed, full posture");
    let marker = "sandboxed opencode headless";
    let file = "opencode-sandboxed.txt";
    let escape = main.join("escaped-opencode.txt");
    let instruction = format!(
        "{marker}\n\\@model write {file} {marker}\n\\@model run echo out > {} || echo ESCAPE-DENIED\n\\@model run cat $HOME/.ssh/id_ed25519 || echo SSH-DENIED\n\\@model run git add -A && git commit -q -m sandboxed-opencode && echo COMMITTED\n\\@model run vnx report --status done --summary sandboxed\n\\@model say Done in the sandbox.",
        escape.display()
    );
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", "opencode", "--lane", "headless"])
        .args(["--deadline", "120", "--sandbox", "--permission", "full"])
        .args(["--instruction", &instruction]);
    let r = run(cmd);
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{at} {} {}", r.stderr, explain(&c));
    assert_eq!(c["teardown_class"], "committed", "{at} {}", explain(&c));
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(rig.repo.on_branch(&id, file), format!("{marker}\n"), "{at}");
    assert!(!escape.exists(), "{at} the worker wrote the main checkout");
    let started = &rig.repo.receipts(&id)[0];
    assert_eq!(started["sandbox"]["kind"], "bubblewrap", "{at}");
    assert_eq!(started["permission_flags"][0], "--auto", "{at} {started}");
    let seen: String = rig
        .server
        .requests()
        .iter()
        .map(|r| r.to_string())
        .filter(|r| r.contains(marker))
        .collect();
    for word in ["ESCAPE-DENIED", "SSH-DENIED", "COMMITTED"] {
        assert!(seen.contains(word), "{at} no {word} in what the model got");
    }
    assert!(
        !seen.contains("SANDBOX-SECRET-KEY"),
        "{at} the key reached the model"
    );
    // opencode kept its sessions in the dispatch's own place, shown as its data directory,
    // not in the data directory every dispatch shares.
    let place = started["cli_homes"]["sessions"]
        .as_str()
        .unwrap_or_default();
    let db = std::path::Path::new(place).join("opencode.db");
    assert!(db.is_file(), "{at} no {} in {started}", db.display());
    let shared = rig
        .repo
        .env
        .home()
        .join(".local/share/opencode/opencode.db");
    assert!(!shared.exists(), "{at} {}", shared.display());
    rig.repo.verify_ok();
}

/// Its TUI asks before each command (`edits`); no hook of its says so, so vnx watches its
/// screen for the dialog: each is a `dispatch_blocked` naming the command, `vnx approve`
/// (Enter) runs the first, `vnx deny` (Escape) refuses the second, the model goes on and
/// reports.
#[test]
#[ignore = "needs the real opencode (~354 MB from npm, tests/support/install-clis.sh)"]
fn real_opencode_tui_is_blocked_by_its_dialog_and_answered() {
    let rig = Rig::new();
    let at = step("opencode", "interactive", "approve, then deny");
    let instruction = "opencode asks twice\n\\@model run touch first.txt\n\\@model run touch second.txt\n\\@model run vnx report --status done --summary asked\n\\@model say Done.";
    let id = rig.detach("opencode", "interactive", 300, instruction);
    let blocks = || -> Vec<serde_json::Value> {
        rig.repo
            .receipts(&id)
            .into_iter()
            .filter(|r| r["event_type"] == "dispatch_blocked")
            .collect()
    };
    let r = run(rig.repo.vnx().args(["wait", "--until-blocked", &id]));
    assert_eq!(r.code, 1, "{at} {}", r.stdout);
    assert_eq!(blocks()[0]["source"], "screen", "{at} {:?}", blocks());
    assert_eq!(
        blocks()[0]["command"],
        "touch first.txt",
        "{at} {:?}",
        blocks()
    );
    let r = run(rig.repo.vnx().args(["approve", &id, "--json"]));
    assert_eq!(r.code, 0, "{at} {} {}", r.stdout, r.stderr);
    let answered: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(answered["via"], "pane", "{at} {answered}");
    assert_eq!(answered["keys"], "Enter", "{at} {answered}");
    assert_eq!(answered["request_from"], "screen", "{at} {answered}");
    let mut second = false;
    for _ in 0..60 {
        if blocks().len() == 2 {
            second = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert!(second, "{at} {:?}", blocks());
    assert_eq!(blocks()[1]["command"], "touch second.txt", "{at}");
    let r = run(rig.repo.vnx().args(["deny", &id, "--json"]));
    assert_eq!(r.code, 0, "{at} {} {}", r.stdout, r.stderr);
    let r = run(rig.repo.vnx().args(["wait", "--json", &id]));
    let c = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    assert_eq!(c["status"], "done", "{at} {}", explain(&c));
    let tree = rig
        .repo
        .env
        .git(&["ls-tree", "-r", "--name-only", &format!("dispatch/{id}")]);
    assert!(tree.contains("first.txt"), "{at} approved: {tree}");
    assert!(!tree.contains("second.txt"), "{at} denied: {tree}");
    rig.repo.verify_ok();
}
