//! Providers declared in `.vnx/config.yaml`: a script run through its argv template with the
//! prompt as a file, the posture's flags, exit as its completion signal, per-provider
//! concurrency slots, and configuration errors that name the line.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::{Repo, completion, run};

/// Writes an executable script.
fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The `providers:` entry of a headless script that takes the prompt as its argument.
fn headless_script(name: &str, bin: &Path) -> String {
    format!(
        "providers:\n  {name}:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n",
        bin.display()
    )
}

fn declare(repo: &Repo, yaml: &str) {
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(yaml);
    std::fs::write(&config, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "declare providers"]);
}

#[test]
fn a_declared_script_runs_from_its_template() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("scribe");
    // Records its arguments, copies the prompt file into the worktree, exits 0.
    script(
        &bin,
        "printf '%s\\n' \"$@\" > args.txt\nwhile [ $# -gt 1 ]; do shift; done\ncp \"$1\" task.md",
    );
    declare(
        &repo,
        &format!(
            "providers:\n  scribe:\n    binary: {}\n    headless:\n      argv: [\"--task\", \"{{prompt_file}}\"]\n      prompt: file\n    permissions:\n      edits: [\"--may-edit\"]\n",
            bin.display()
        ),
    );
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "scribe",
        "--instruction",
        "copy me {braces} $HOME",
        "--json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "done");
    assert_eq!(c["completion_signal"], "exit");
    // It wrote files and exited 0 without committing: vnx committed them for it.
    assert_eq!(c["teardown_class"], "committed", "{c}");
    assert_eq!(c["vnx_commit"]["files_total"], 2, "{c}");
    let id = c["dispatch_id"].as_str().unwrap();
    let args = repo.on_branch(id, "args.txt");
    let prompt_file = repo
        .env
        .path()
        .canonicalize()
        .unwrap()
        .join(format!(".vnx-data/dispatches/{id}/prompt.md"));
    assert_eq!(
        args,
        format!("--may-edit\n--task\n{}\n", prompt_file.display())
    );
    let task = repo.on_branch(id, "task.md");
    assert!(task.contains("copy me {braces} $HOME"), "{task}");
    let started = &repo.receipts(id)[0];
    assert_eq!(started["provider"], "scribe");
    assert_eq!(started["prompt_transport"], "file");
    assert_eq!(
        started["permission_flags"],
        serde_json::json!(["--may-edit"])
    );

    // A posture the provider does not declare is refused before anything is made.
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "scribe",
        "--permission",
        "full",
        "--instruction",
        "x",
    ]));
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("declares no flags for --permission full"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert_eq!(
        repo.branches().lines().count(),
        1,
        "only the first dispatch's branch"
    );
}

#[test]
fn configuration_errors_name_the_line() {
    let repo = Repo::new();
    declare(
        &repo,
        "providers:\n  kimi:\n    binary: kimi\n    bogus: 1\n",
    );
    let r = run(repo.dispatch_cmd("noop").args(["--instruction", "x"]));
    assert_eq!(r.code, 3);
    // The line of `bogus` in the config `vnx init` wrote and the declaration extended.
    let config = std::fs::read_to_string(repo.env.path().join(".vnx/config.yaml")).unwrap();
    let line = config.lines().position(|l| l.contains("bogus")).unwrap() + 1;
    assert!(
        r.stderr
            .contains(&format!(".vnx/config.yaml:{line}:5: unknown field `bogus`")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("bogus"), "{}", r.stderr);
    assert!(repo.branches().is_empty());
}

#[test]
fn concurrency_slots_serialise_a_provider() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("sleeper");
    let times = tools.path().join("times");
    // Each worker holds its slot until the test has submitted all three (at most 30 s), so
    // the later two find it taken however slowly a loaded machine starts them.
    let go = tools.path().join("go");
    script(
        &bin,
        &format!(
            "echo \"start $(date +%s.%N)\" >> {t}\nfor _ in $(seq 300); do [ -e {g} ] && break; sleep 0.1; done\nsleep 0.2\necho \"end $(date +%s.%N)\" >> {t}",
            t = times.display(),
            g = go.display()
        ),
    );
    declare(
        &repo,
        &format!(
            "{}concurrency:\n  sleeper: 1\n",
            headless_script("sleeper", &bin)
        ),
    );
    let ids: Vec<String> = (0..3)
        .map(|_| {
            // A reviewer: it changes nothing, and is done (the phantom guard is for writers).
            let r = run(repo.vnx().args([
                "dispatch-agent",
                "--agent",
                "reviewer",
                "--provider",
                "sleeper",
                "--instruction",
                "x",
                "--detach",
            ]));
            assert_eq!(r.code, 0, "{}", r.stderr);
            r.stdout.trim().to_owned()
        })
        .collect();
    std::fs::write(&go, "").unwrap();
    let r = run(repo.vnx().arg("wait").args(&ids));
    assert_eq!(r.code, 0, "{}", r.stdout);
    // Start/end pairs never interleave: one worker at a time.
    let log = std::fs::read_to_string(&times).unwrap();
    let kinds: Vec<&str> = log.lines().map(|l| &l[..l.find(' ').unwrap()]).collect();
    assert_eq!(
        kinds,
        ["start", "end", "start", "end", "start", "end"],
        "{log}"
    );
    // Each got a slot through a queue decision; a dispatch that found the slot taken waited
    // in the queue (nothing of it existed) and was admitted when the slot came free.
    let decisions: Vec<Vec<String>> = ids
        .iter()
        .map(|id| {
            repo.receipts(id)
                .iter()
                .filter(|r| r["event_type"] == "queue_decision")
                .map(|r| r["decision"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert!(
        decisions
            .iter()
            .all(|d| d.last().map(String::as_str) == Some("admitted")),
        "{decisions:?}"
    );
    assert!(
        decisions.iter().any(|d| d == &["queued", "admitted"]),
        "{decisions:?}"
    );
    repo.verify_ok();
}

#[test]
fn a_done_vnx_cannot_commit_is_failed_and_its_work_kept() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("wanderer");
    // Writes a file, then leaves the dispatch branch (HEAD detached), and exits 0.
    script(&bin, "echo work > work.txt\ngit checkout -q --detach");
    declare(&repo, &headless_script("wanderer", &bin));
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "wanderer",
        "--instruction",
        "x",
        "--json",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "failed", "{c}");
    let reason = c["failure_reason"].as_str().unwrap();
    assert!(reason.contains("not committed"), "{reason}");
    assert!(
        c["vnx_commit_error"]
            .as_str()
            .unwrap()
            .contains("dispatch/"),
        "{c}"
    );
    assert!(c.get("vnx_commit").is_none());
    assert_eq!(c["teardown_class"], "dirty", "{c}");
    let id = c["dispatch_id"].as_str().unwrap();
    let wt = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{id}"));
    assert!(wt.join("work.txt").is_file(), "the work is kept");
}

/// A worker that writes part of a line on stderr, a whole line on stdout, then ends the
/// stderr line (opencode warns on stderr between its JSON events): each line reaches the
/// worker's log whole, so the stdout line is not glued to the stderr one.
#[test]
fn the_log_keeps_each_streams_lines_whole() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("chatty");
    script(
        &bin,
        "printf 'warning: half' >&2\nsleep 0.3\nprintf '{\"type\":\"event\"}\\n'\nsleep 0.3\nprintf ' a line\\n' >&2",
    );
    declare(&repo, &headless_script("chatty", &bin));
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "chatty",
        "--json",
        "--instruction",
        "talk",
    ]));
    let c = completion(&r);
    let id = c["dispatch_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.stderr));
    let log = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/worker.log")),
    )
    .unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.contains(&r#"{"type":"event"}"#), "{log}");
    assert!(lines.contains(&"warning: half a line"), "{log}");
}

/// A declared TUI (a script in the pane): shows a permission dialog for its commit, reads the
/// answer line, clears its screen (as a TUI redraws), then commits and reports done when
/// allowed, or reports failed when denied; then stays up until vnx closes it.
pub(crate) fn asking_tui(repo: &Repo, tools: &Path) {
    let bin = tools.join("asker");
    script(
        &bin,
        "printf 'Working on it\\n\\nAllow this command?\\n  $ git commit -q -m add\\n  [y/n] '\n\
         read answer\n\
         printf '\\033[H\\033[2J'\n\
         if [ \"$answer\" = y ]; then\n\
           echo a > a.txt && git add -A && git commit -q -m add && vnx report --status done --summary committed\n\
         else\n\
           echo 'not allowed'; vnx report --status failed --summary 'the commit was denied'\n\
         fi\n\
         sleep 60",
    );
    declare(
        repo,
        &format!(
            "providers:\n  asker:\n    binary: {}\n    interactive:\n      argv: [\"{{prompt}}\"]\n      dialog:\n        pattern: \"Allow this command\\\\?\"\n        asks: \"^\\\\s*\\\\$ (.+)$\"\n        approve: [y, Enter]\n        deny: [n, Enter]\n    permissions:\n      edits: []\n",
            bin.display()
        ),
    );
}

/// Dispatches the declared TUI, detached, and waits until it is blocked: its id and the
/// blocked receipt.
pub(crate) fn blocked_tui(repo: &Repo) -> (String, serde_json::Value) {
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "asker",
        "--instruction",
        "add a",
        "--detach",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = r.stdout.trim().to_owned();
    let r = run(repo.vnx().args(["wait", "--until-blocked", "--json", &id]));
    assert_eq!(r.code, 1, "blocked is not success: {}", r.stdout);
    let blocked = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    (id, blocked)
}

#[test]
fn a_declared_tuis_dialog_blocks_it_and_approve_types_its_keys() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    asking_tui(&repo, tools.path());
    let (id, blocked) = blocked_tui(&repo);
    assert_eq!(blocked["event_type"], "dispatch_blocked", "{blocked}");
    assert_eq!(blocked["source"], "screen");
    assert_eq!(blocked["waiting_for"], "permission");
    assert_eq!(blocked["command"], "git commit -q -m add", "{blocked}");
    assert!(
        blocked["message"]
            .as_str()
            .unwrap()
            .contains("Allow this command?"),
        "{blocked}"
    );
    let status = run(repo.vnx().arg("status"));
    assert!(status.stdout.contains("blocked"), "{}", status.stdout);
    assert!(
        status.stdout.contains("git commit -q -m add"),
        "{}",
        status.stdout
    );

    let r = run(repo.vnx().args(["approve", &id, "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let answered: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(answered["via"], "pane", "{answered}");
    assert_eq!(answered["keys"], "y Enter");
    assert_eq!(answered["request_from"], "screen");
    assert_eq!(answered["command"], "git commit -q -m add");
    assert!(
        answered["pane_dialog"]
            .as_str()
            .is_some_and(|d| d.contains("$ git commit -q -m add")),
        "{answered}"
    );

    let r = run(repo.vnx().args(["wait", "--json", &id]));
    assert_eq!(r.code, 0, "{}", r.stdout);
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(c["teardown_class"], "committed", "{c}");
    assert_eq!(repo.on_branch(&id, "a.txt"), "a\n");
    let kinds: Vec<String> = repo
        .receipts(&id)
        .iter()
        .map(|r| r["event_type"].as_str().unwrap().to_owned())
        .collect();
    let pos = |e: &str| kinds.iter().position(|x| x == e).unwrap();
    // The supervisor sees the dialog go as `approve` records its answer: either comes first.
    assert!(
        pos("dispatch_blocked") < pos("dispatch_answered"),
        "{kinds:?}"
    );
    assert!(
        pos("dispatch_blocked") < pos("dispatch_resumed"),
        "{kinds:?}"
    );
    assert!(
        pos("dispatch_answered") < pos("dispatch_completed"),
        "{kinds:?}"
    );
    assert!(
        pos("dispatch_resumed") < pos("dispatch_completed"),
        "{kinds:?}"
    );
    // What showed it going on: the dialog gone from the screen, or its report.
    let resumed = &repo.receipts(&id)[pos("dispatch_resumed")];
    assert!(
        resumed["source"] == "screen" || resumed["source"] == "report",
        "{resumed}"
    );
    repo.verify_ok();
}

#[test]
fn a_declared_tuis_dialog_is_denied_with_its_keys() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    asking_tui(&repo, tools.path());
    let (id, blocked) = blocked_tui(&repo);
    assert_eq!(blocked["command"], "git commit -q -m add", "{blocked}");
    let r = run(repo.vnx().args(["deny", &id, "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let answered: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(answered["answer"], "deny", "{answered}");
    assert_eq!(answered["keys"], "n Enter");
    let r = run(repo.vnx().args(["wait", "--json", &id]));
    let c = completion(&r);
    assert_eq!(c["status"], "failed", "{c}");
    assert_eq!(c["report"]["summary"], "the commit was denied", "{c}");
    assert!(!repo.branches().contains(&id), "nothing was committed");
}

/// Chunks as the tests' model server streams a chat completion
/// (`tests/support/model_server.py`, `_chat_completions`): a reply in pieces, then the usage.
const CHAT: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}
{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"write","arguments":"{\"path\": \"notes.txt\"}"}}]},"logprobs":null,"finish_reason":"tool_calls"}]}
{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}
{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"I wrote the notes "},"logprobs":null,"finish_reason":null}]}
{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"you asked for."},"logprobs":null,"finish_reason":null}]}
{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}
{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":321,"completion_tokens":12,"total_tokens":333,"prompt_tokens_details":{"cached_tokens":300},"completion_tokens_details":{"reasoning_tokens":0}}}
"#;

#[test]
fn an_openai_chat_stream_gives_the_receipt_its_usage_and_last_message() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let chunks = tools.path().join("chunks.jsonl");
    std::fs::write(&chunks, CHAT).unwrap();
    let bin = tools.path().join("chatter");
    script(
        &bin,
        &format!("echo notes > notes.txt\ncat {}", chunks.display()),
    );
    declare(
        &repo,
        &format!(
            "providers:\n  chatter:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n      output: openai-chat\n      completion: output\n    permissions:\n      edits: []\n",
            bin.display()
        ),
    );
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "chatter",
        "--instruction",
        "write notes",
        "--json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(c["token_usage"]["input_tokens"], 321, "{c}");
    assert_eq!(c["token_usage"]["output_tokens"], 12);
    assert_eq!(c["token_usage"]["cached_input_tokens"], 300);
    let events = &c["cli_events"];
    assert_eq!(events["last_message"], "I wrote the notes you asked for.");
    assert_eq!(events["tool_calls"], 1);
    assert_eq!(events["model"], "gpt-4o");
    assert_eq!(events["verdict"]["status"], "success", "{events}");
    let id = c["dispatch_id"].as_str().unwrap();
    let log = run(repo.vnx().args(["show", "--log", id]));
    assert_eq!(log.code, 0, "{}", log.stderr);
    for line in [
        "start   chat completions, model gpt-4o",
        "▸       write notes.txt",
        "says    I wrote the notes you asked for.",
        "end     request · 321 in, 12 out tokens (300 cached)",
    ] {
        assert!(log.stdout.contains(line), "{line:?} in\n{}", log.stdout);
    }

    // An API error fails the dispatch with its message.
    std::fs::write(
        &chunks,
        "{\"error\":{\"message\":\"scripted failure\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}\n",
    )
    .unwrap();
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "chatter",
        "--instruction",
        "write notes",
        "--json",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "failed", "{c}");
    assert_eq!(c["failure_reason"], "scripted failure", "{c}");
}

#[test]
fn a_bad_dialog_or_output_names_its_line_and_column() {
    let repo = Repo::new();
    let config = std::fs::read_to_string(repo.env.path().join(".vnx/config.yaml")).unwrap();
    let base = config.lines().count();
    declare(
        &repo,
        "providers:\n  tui:\n    binary: tui\n    interactive:\n      argv: [\"{prompt}\"]\n      dialog:\n        pattern: \"Allow (\"\n        approve: [y]\n        deny: [n]\n",
    );
    let r = run(repo.dispatch_cmd("noop").args(["--instruction", "x"]));
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains(&format!(
            ".vnx/config.yaml:{}:18: provider `tui`, interactive lane: `dialog.pattern` `Allow (` is not a usable regex",
            base + 7
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

/// A declared TUI that writes its session as chat-completion lines in `~/.chatui/sessions`
/// (its working directory on the first line, as a session file records it), asks a
/// question there and exits 0 without a report: a session found by its worktree and start,
/// and a dispatch that needs input, asking what the session said last. The same TUI exiting
/// with status 3 has failed.
#[test]
fn a_declared_tuis_session_file_is_its_transcript_usage_and_question() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let code = chat_tui(&repo, tools.path());
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "reviewer",
        "--provider",
        "chatui",
        "--instruction",
        "write notes",
        "--json",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let c = completion(&r);
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    // It exited 0 without a report: its exit ended its turn (it has no end-of-turn hook),
    // so it asked something, and what it asked is the session's last message.
    let question = "Which notes file should I write?";
    assert_eq!(c["status"], "needs_input", "{c}");
    assert_eq!(c["completion_signal"], "exit", "{c}");
    assert_eq!(c["cli_events"]["last_message"], question, "{c}");
    assert!(
        c["failure_reason"]
            .as_str()
            .is_some_and(|r| r.contains("without running `vnx report`")),
        "{c}"
    );
    assert_eq!(c["token_usage"]["input_tokens"], 321, "{c}");
    assert_eq!(c["token_usage_source"], "session_file", "{c}");
    let started = &repo.receipts(&id)[0];
    let home = repo
        .env
        .home()
        .canonicalize()
        .unwrap_or(repo.env.home().to_owned());
    let recorded = started["cli_homes"]["chatui"].as_str().unwrap().to_owned();
    assert!(
        recorded.ends_with("/.chatui/sessions"),
        "{recorded} under {}",
        home.display()
    );
    let log = run(repo.vnx().args(["show", "--log", &id]));
    assert_eq!(log.code, 0, "{}", log.stderr);
    assert!(
        log.stderr.contains("chatui's session file"),
        "{}",
        log.stderr
    );
    for line in [
        "start   chat completions, model gpt-4o",
        "says    Which notes file should I write?",
        "end     request · 321 in, 12 out tokens (300 cached)",
    ] {
        assert!(log.stdout.contains(line), "{line:?} in\n{}", log.stdout);
    }
    // Its question shows wherever a dispatch that needs input shows one.
    let wait = run(repo.vnx().args(["wait", &id]));
    assert!(wait.stdout.contains(question), "{}", wait.stdout);
    let wait = run(repo.vnx().args(["wait", "--json", &id]));
    assert!(wait.stdout.contains(question), "{}", wait.stdout);
    let status = run(repo.vnx().arg("status"));
    assert!(
        status.stdout.contains(&format!("asks: {question}")),
        "{}",
        status.stdout
    );
    let json = run(repo.vnx().args(["status", "--json"]));
    let all: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    let mine = all
        .iter()
        .find(|s| s["dispatch_id"] == id.as_str())
        .unwrap();
    assert_eq!(mine["question"], question, "{mine}");
    let show = run(repo.vnx().args(["show", &id]));
    assert!(show.stdout.contains(question), "{}", show.stdout);

    // The same TUI exiting with a failing status has failed, whatever it said last.
    std::fs::write(&code, "3").unwrap();
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "reviewer",
        "--provider",
        "chatui",
        "--instruction",
        "write notes",
        "--json",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "failed", "{c}");
    assert_eq!(c["exit_code"], 3, "{c}");
    assert_eq!(
        c["failure_reason"], "the worker exited with status 3",
        "{c}"
    );
    let failed = c["dispatch_id"].as_str().unwrap();
    let json = run(repo.vnx().args(["status", "--json"]));
    let all: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    let mine = all.iter().find(|s| s["dispatch_id"] == failed).unwrap();
    assert!(mine["question"].is_null(), "{mine}");
}

/// Declares `chatui`, a TUI (its script in `tools`) that writes its session as
/// chat-completion lines in `~/.chatui/sessions` (333 tokens), asks there, and exits with the
/// status its file `code` holds (0); that file.
pub(crate) fn chat_tui(repo: &Repo, tools: &Path) -> std::path::PathBuf {
    let bin = tools.join("chatui");
    let lines: Vec<&str> = CHAT.lines().collect();
    let asking = lines[3].replace("I wrote the notes ", "Which notes file should I write? ");
    let asking = asking.replace(
        "\"delta\":{\"content\"",
        "\"delta\":{\"role\":\"assistant\",\"content\"",
    );
    let body = [asking.as_str(), lines[5], lines[6]].join("\n");
    let chunks = tools.join("session-tail.jsonl");
    std::fs::write(&chunks, format!("{body}\n")).unwrap();
    // The status it exits with.
    let code = tools.join("code");
    std::fs::write(&code, "0").unwrap();
    script(
        &bin,
        &format!(
            "d=\"$HOME/.chatui/sessions\"\nmkdir -p \"$d\"\nf=\"$d/s-$$.jsonl\"\n\
             printf '{{\"cwd\": \"%s\"}}\\n' \"$(pwd)\" > \"$f\"\ncat {} >> \"$f\"\n\
             echo 'asked in the session'\nsleep 1\nexit \"$(cat {})\"",
            chunks.display(),
            code.display()
        ),
    );
    declare(
        repo,
        &format!(
            "providers:\n  chatui:\n    binary: {}\n    interactive:\n      argv: [\"{{prompt}}\"]\n      session:\n        dir: ~/.chatui/sessions\n        pattern: \"s-*.jsonl\"\n        format: openai-chat\n    permissions:\n      edits: []\n",
            bin.display()
        ),
    );
    code
}

/// The demo's `ask` model ends its turn with a question: it is shown by `wait`, `status`
/// (and its JSON) and `show`.
#[test]
fn the_demo_ask_models_question_appears_everywhere() {
    let repo = Repo::new();
    let r = repo.dispatch("ask", &["--instruction", "x"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "needs_input");
    let question = c["cli_events"]["last_message"].as_str().unwrap().to_owned();
    assert!(question.ends_with('?'), "{question}");
    let id = c["dispatch_id"].as_str().unwrap();
    let wait = run(repo.vnx().args(["wait", id]));
    assert!(wait.stdout.contains(&question), "{}", wait.stdout);
    let wait = run(repo.vnx().args(["wait", "--json", id]));
    assert!(wait.stdout.contains(&question), "{}", wait.stdout);
    let status = run(repo.vnx().arg("status"));
    assert!(
        status.stdout.contains(&format!("asks: {question}")),
        "{}",
        status.stdout
    );
    let json = run(repo.vnx().args(["status", "--json"]));
    let all: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    let mine = all.iter().find(|s| s["dispatch_id"] == id).unwrap();
    assert_eq!(mine["question"], question.as_str(), "{mine}");
    let show = run(repo.vnx().args(["show", id]));
    assert!(show.stdout.contains(&question), "{}", show.stdout);
}

/// A declared CLI that cannot report (completion `exit`, or `output` from a chat stream) and
/// ends with a question, changing nothing, needs input and shows its question as the
/// built-in CLIs' questions show; one that changed files is judged by its exit as before.
#[test]
fn a_declared_clis_question_without_a_change_needs_input() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let (asker, chatter) = (tools.path().join("asker"), tools.path().join("chatter"));
    // `asker` writes notes.txt when its prompt says so, else asks.
    script(
        &asker,
        "case \"$1\" in *MAKE-NOTES*) echo notes > notes.txt; echo 'Wrote the notes.';;\n\
         *) echo 'Two notes files exist.'; echo; echo 'Which one should I use? Please answer.';; esac",
    );
    let lines: Vec<&str> = CHAT.lines().collect();
    let asking = lines[3].replace(
        "I wrote the notes ",
        "I need the file's name. Please answer.",
    );
    let chunks = tools.path().join("chunks.jsonl");
    std::fs::write(&chunks, format!("{asking}\n{}\n{}\n", lines[5], lines[6])).unwrap();
    script(&chatter, &format!("cat {}", chunks.display()));
    declare(
        &repo,
        &format!(
            "providers:\n  asker:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      edits: []\n  \
             chatter:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n      output: openai-chat\n      completion: output\n    permissions:\n      edits: []\n",
            asker.display(),
            chatter.display()
        ),
    );
    let dispatch = |provider: &str, instruction: &str| {
        let r = run(repo.vnx().args([
            "dispatch-agent",
            "--agent",
            "implementer",
            "--provider",
            provider,
            "--instruction",
            instruction,
            "--json",
        ]));
        (r.code, completion(&r))
    };
    for (provider, question) in [
        ("asker", "Which one should I use? Please answer."),
        ("chatter", "I need the file's name. Please answer."),
    ] {
        let (code, c) = dispatch(provider, "take notes");
        assert_eq!(code, 1, "{provider}: {c}");
        assert_eq!(c["status"], "needs_input", "{provider}: {c}");
        assert_eq!(c["cli_events"]["last_message"], question, "{provider}: {c}");
        let id = c["dispatch_id"].as_str().unwrap();
        // Not a phantom: nothing corrects it, and it waits for an answer.
        let kinds: Vec<_> = repo
            .receipts(id)
            .iter()
            .map(|r| r["event_type"].clone())
            .collect();
        assert!(
            !kinds.contains(&"dispatch_corrected".into()),
            "{provider}: {kinds:?}"
        );
        let status = run(repo.vnx().args(["status", id]));
        assert!(
            status.stdout.contains(&format!("asks: {question}")),
            "{provider}: {}",
            status.stdout
        );
        let show = run(repo.vnx().args(["show", id]));
        assert!(
            show.stdout.contains(question),
            "{provider}: {}",
            show.stdout
        );
    }
    // A change is done, whatever the worker said last.
    let (code, c) = dispatch("asker", "MAKE-NOTES");
    assert_eq!((code, c["status"].as_str()), (0, Some("done")), "{c}");
}
