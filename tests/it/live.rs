//! A running dispatch's live state and its controls: blocked on a permission prompt (from the
//! CLI's hooks) and going on once it is answered in the pane, stalled when quiet, the
//! notification command on every change, `vnx cancel` for running and lost dispatches, and
//! the tmux socket a dispatch recorded.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::{Fakes, Repo, completion, run, wait_for};

/// `vnx status --json`'s entry for `id`.
fn state_of(repo: &Repo, id: &str) -> serde_json::Value {
    let r = run(repo.vnx().args(["status", "--json"]));
    let all: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    all.into_iter()
        .find(|s| s["dispatch_id"] == id)
        .unwrap_or_default()
}

fn kinds(repo: &Repo, id: &str) -> Vec<String> {
    repo.receipts(id)
        .iter()
        .map(|r| r["event_type"].as_str().unwrap().to_owned())
        .collect()
}

/// Declares a notification command that appends its arguments to `out`, one line a call.
fn notify_into(repo: &Repo, out: &std::path::Path) {
    let script = repo.env.home().join("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1 $2 $3 $VNX_STATE\" >> {}\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    crate::common::configure(
        repo,
        &format!(
            "notify: [\"{}\", \"{{id}}\", \"{{state}}\", \"{{hash}}\"]\n",
            script.display()
        ),
    );
}

#[test]
fn a_permission_prompt_blocks_the_dispatch_until_it_is_answered_in_the_pane() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let notes = repo.env.home().join("notes.txt");
    notify_into(&repo, &notes);
    let id = repo.dispatched_asking_claude(&fakes);

    // claude asks before `git commit`: its PermissionRequest hook makes the dispatch blocked.
    let r = run(repo.vnx().args(["wait", "--until-blocked", "--json", &id]));
    assert_eq!(r.code, 1, "blocked is not success: {}", r.stdout);
    let blocked = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    assert_eq!(blocked["event_type"], "dispatch_blocked");
    assert_eq!(blocked["waiting_for"], "permission");
    assert_eq!(blocked["tool"], "Bash");
    assert_eq!(blocked["command"], "git add -A && git commit -q -m 'add a'");
    assert_eq!(blocked["answer_with"], format!("vnx attach {id}"));
    // No model named: claude runs on the user's own default (no `--model` forced on it).
    let argv = fakes.invocation_of("claude", "@fake write a.txt")["argv"].to_string();
    assert!(
        argv.contains("--settings") && !argv.contains("\"--model\""),
        "{argv}"
    );
    let state = state_of(&repo, &id);
    assert_eq!(state["status"], "blocked", "{state}");
    assert_eq!(state["blocked"]["tool"], "Bash");
    let human = run(repo.vnx().arg("status"));
    assert!(
        human
            .stdout
            .contains("waits for permission: Bash: git add -A"),
        "{}",
        human.stdout
    );

    // A person answers yes in the pane: the commit runs, the worker goes on and reports.
    repo.server.send_keys(&format!("vnx-{id}"), &["1"]);
    let r = run(repo.vnx().args(["wait", "--json", &id]));
    assert_eq!(r.code, 0, "{}", r.stdout);
    let c = completion(&r);
    assert_eq!(c["status"], "done");
    assert_eq!(c["teardown_class"], "committed");
    assert!(
        c.get("vnx_commit").is_none(),
        "the worker committed itself: {c}"
    );
    let k = kinds(&repo, &id);
    let pos = |e: &str| k.iter().position(|x| x == e).unwrap();
    assert!(pos("dispatch_blocked") < pos("dispatch_resumed"), "{k:?}");
    assert!(pos("dispatch_resumed") < pos("dispatch_completed"), "{k:?}");
    let resumed = &repo.receipts(&id)[pos("dispatch_resumed")];
    assert_eq!(resumed["after"], "blocked");
    assert_eq!(resumed["source"], "claude-post-tool-use");

    // The notification command ran for each change, with the receipt's hash.
    assert!(wait_for(
        || std::fs::read_to_string(&notes).is_ok_and(|n| n.contains(" done "))
    ));
    let notes = std::fs::read_to_string(&notes).unwrap();
    let states: Vec<&str> = notes
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(states, ["started", "blocked", "running", "done"], "{notes}");
    for line in notes.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts[0], id);
        assert_eq!(parts[2].len(), 64, "an entry hash: {line}");
        assert_eq!(parts[1], parts[3], "the state is in the environment too");
    }
    repo.verify_ok();
}

#[test]
fn a_quiet_worker_is_reported_stalled_and_not_stopped() {
    let repo = Repo::new();
    let r = repo.dispatch(
        "slow",
        &["--instruction", "x", "--detach", "--stall-after", "1"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = serde_json::from_str::<serde_json::Value>(r.stdout.trim()).unwrap()["dispatch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        wait_for(|| kinds(&repo, &id).contains(&"dispatch_stalled".to_owned())),
        "{:?}",
        kinds(&repo, &id)
    );
    let state = state_of(&repo, &id);
    assert_eq!(state["status"], "stalled", "{state}");
    let stalled = repo
        .receipts(&id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_stalled")
        .unwrap();
    assert_eq!(stalled["stall_after_seconds"], 1);
    assert!(stalled["idle_seconds"].as_f64().unwrap() >= 1.0);
    // Stalled is not ended: the worker still runs until its deadline or a cancel.
    assert!(!kinds(&repo, &id).contains(&"dispatch_completed".to_owned()));
    let r = run(repo.vnx().args(["cancel", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("cancelled"), "{}", r.stdout);
}

#[test]
fn cancel_stops_running_dispatches_and_closes_lost_ones() {
    let repo = Repo::new();
    let start = |repo: &Repo| {
        let r = repo.dispatch("slow", &["--instruction", "x", "--detach"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str::<serde_json::Value>(r.stdout.trim()).unwrap()["dispatch_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let one = start(&repo);
    let r = run(repo.vnx().args(["cancel", &one, "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "cancelled");
    assert_eq!(c["completion_signal"], "supervisor_signal");
    // Who asked is on the ledger (the completion is its supervisor's) and in `show`.
    let asked: Vec<_> = repo
        .receipts(&one)
        .into_iter()
        .filter(|r| r["event_type"] == "dispatch_cancel_requested")
        .collect();
    assert_eq!(asked.len(), 1, "{asked:#?}");
    assert_eq!(asked[0]["state"], "running");
    let by = asked[0]["by"].as_str().unwrap().to_owned();
    assert!(!by.is_empty());
    let shown = run(repo.vnx().args(["show", &one]));
    assert!(
        shown.stdout.contains(&format!("asked by {by}")),
        "{}",
        shown.stdout
    );
    assert!(repo.server.sessions_end(), "its session ends");
    assert!(
        wait_for(|| !crate::common::worker_alive(&one)),
        "nothing of the worker is left"
    );
    assert!(
        !repo
            .env
            .path()
            .join(format!(".vnx-data/dispatches/{one}/tmp"))
            .exists(),
        "nor its temp dir"
    );
    // Cancelling it again changes nothing.
    let r = run(repo.vnx().args(["cancel", &one]));
    assert_eq!(r.code, 0);
    assert!(
        r.stderr.contains("already ended (cancelled)"),
        "{}",
        r.stderr
    );

    // A lost dispatch fails doctor until it is closed.
    let lost = start(&repo);
    let two = start(&repo);
    repo.server.kill_pane_process(&format!("vnx-{lost}"));
    assert!(wait_for(|| state_of(&repo, &lost)["status"] == "lost"));
    let r = run(repo.vnx().args(["cancel", "--all"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains(&format!("{lost}  cancelled (closed lost")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("{two}  cancelled")),
        "{}",
        r.stdout
    );
    let closing = repo.receipts(&lost).pop().unwrap();
    assert_eq!(closing["event_type"], "dispatch_completed");
    assert_eq!(closing["completion_signal"], "closed_lost");
    assert_eq!(state_of(&repo, &lost)["status"], "cancelled");
    let doctor = run(repo.vnx().args(["doctor", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
    let dispatches = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "dispatches")
        .unwrap();
    assert_ne!(dispatches["status"], "fail", "{dispatches}");

    // An id never dispatched is unknown, never lost.
    let r = run(repo.vnx().args(["cancel", "D-0badf00d"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    // And a usage error (exit 2) worded as every command words it.
    let r = run(repo.vnx().args(["wait", "D-0badf00d"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("error: unknown dispatch D-0badf00d"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("hint: `vnx status` lists"),
        "{}",
        r.stderr
    );
    let json = run(repo.vnx().args(["wait", "--json", "D-0badf00d"]));
    assert_eq!(json.code, 2, "{}", json.stderr);
    repo.verify_ok();
}

#[test]
fn status_wait_and_cancel_find_a_dispatch_on_the_socket_it_recorded() {
    let repo = Repo::new();
    let other = crate::common::Server::new();
    let r = run(repo.dispatch_cmd("slow").args([
        "--instruction",
        "x",
        "--detach",
        "--tmux-socket",
        other.0.socket(),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = r.stdout.trim().to_owned();
    // Asked through the default socket (VNX_TMUX_SOCKET), it is running, not lost.
    assert_eq!(state_of(&repo, &id)["status"], "running");
    let r = run(repo.vnx().args(["cancel", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = run(repo.vnx().args(["wait", &id]));
    assert!(r.stdout.contains("cancelled"), "{}", r.stdout);
    assert!(other.sessions_end());
}

#[test]
fn ctrl_c_on_a_foreground_dispatch_without_a_terminal_cancels_it() {
    let repo = Repo::new();
    let child = repo
        .dispatch_cmd("slow")
        .args(["--instruction", "x", "--json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let running = || {
        let r = run(repo.vnx().args(["status", "--json"]));
        serde_json::from_str::<Vec<serde_json::Value>>(&r.stdout)
            .is_ok_and(|all| all.iter().any(|s| s["status"] == "running"))
    };
    assert!(wait_for(running), "the dispatch starts");
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(c["status"], "cancelled", "{c}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cancelling"));
    assert!(repo.server.sessions_end());
    // attach and cancel know an id never dispatched here.
    for sub in ["attach", "cancel"] {
        let r = run(repo.vnx().args([sub, "D-0badf00d"]));
        assert_eq!(r.code, 2, "{sub}: {}", r.stderr);
        assert!(
            r.stderr.contains("unknown dispatch D-0badf00d"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_gemini_tui_blocks_on_its_confirmation_and_leaves_no_vnx_file_on_the_branch() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let id = repo.dispatched_tui(
        &fakes,
        "gemini",
        "@fake write g.txt hi\n@fake commit add g\n@fake run vnx report --status done --summary g",
    );

    // `vnx report` is allowed by a policy file, so gemini still asks before `git commit`
    // (an `--allowed-tools` rule would refuse it without asking), and its Notification hook
    // says so.
    let r = run(repo.vnx().args(["wait", "--until-blocked", "--json", &id]));
    let blocked = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    assert_eq!(blocked["event_type"], "dispatch_blocked", "{blocked}");
    assert_eq!(blocked["waiting_for"], "permission");
    assert_eq!(blocked["source"], "gemini-notification");
    let argv = fakes.invocation_of("gemini", "@fake write g.txt")["argv"].to_string();
    assert!(
        argv.contains("--policy") && !argv.contains("--allowed-tools"),
        "{argv}"
    );

    repo.server.send_keys(&format!("vnx-{id}"), &["1"]);
    let r = run(repo.vnx().args(["wait", "--json", &id]));
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(c["teardown_class"], "committed", "{c}");
    // The worker's `git add -A` took vnx's `.gemini/settings.json`; vnx's commit takes it out.
    let tree = repo
        .env
        .git(&["ls-tree", "-r", "--name-only", &format!("dispatch/{id}")]);
    assert!(tree.contains("g.txt"), "{tree}");
    assert!(!tree.contains(".gemini/settings.json"), "{tree}");
    repo.verify_ok();
}

#[test]
fn every_gemini_prompt_is_a_new_block_and_its_hooks_succeed_trusted() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let id = repo.dispatched_tui(
        &fakes,
        "gemini",
        "@fake run touch first.txt\n@fake run touch second.txt\n@fake run vnx report --status done --summary two",
    );
    let session = format!("vnx-{id}");
    let blocks = |repo: &Repo| -> Vec<serde_json::Value> {
        repo.receipts(&id)
            .into_iter()
            .filter(|r| r["event_type"] == "dispatch_blocked")
            .collect()
    };

    let r = run(repo.vnx().args(["wait", "--until-blocked", "--json", &id]));
    let first = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    assert_eq!(first["command"], "touch first.txt", "{first}");
    repo.server.send_keys(&session, &["1"]);
    // Allowed: the command runs (gemini's `AfterTool`: resumed), then the next one asks.
    assert!(
        wait_for(|| blocks(&repo).len() == 2),
        "{:?}",
        kinds(&repo, &id)
    );
    assert_eq!(blocks(&repo)[1]["command"], "touch second.txt");
    assert_eq!(
        state_of(&repo, &id)["blocked"]["command"],
        "touch second.txt"
    );
    repo.server.send_keys(&session, &["1"]);
    let c = completion(&run(repo.vnx().args(["wait", "--json", &id])));
    assert_eq!(c["status"], "done", "{c}");
    let k = kinds(&repo, &id);
    let live: Vec<&str> = k
        .iter()
        .map(String::as_str)
        .filter(|e| ["dispatch_blocked", "dispatch_resumed"].contains(e))
        .collect();
    assert_eq!(
        live,
        [
            "dispatch_blocked",
            "dispatch_resumed",
            "dispatch_blocked",
            "dispatch_resumed"
        ]
    );
    let resumed = repo
        .receipts(&id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_resumed")
        .unwrap();
    assert_eq!(resumed["source"], "gemini-after-tool");

    // The hooks finished in time (gemini counts `timeout` in milliseconds: given 30, they
    // were killed and no signal came), and gemini found vnx's project hooks already trusted:
    // no warning about them.
    let log = fakes.invocation_of("gemini", "@fake run touch first.txt");
    assert_eq!(
        log["untrusted_project_hooks"],
        serde_json::json!([]),
        "{log}"
    );
    // The trust vnx recorded for the worktree is gone with it.
    let trusted = std::fs::read_to_string(repo.env.home().join(".gemini/trusted_hooks.json"))
        .unwrap_or_default();
    assert!(!trusted.contains(&format!("dispatch-{id}")), "{trusted}");
    repo.verify_ok();
}

#[test]
fn a_codex_tui_blocks_when_the_model_asks_to_leave_the_sandbox() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let id = repo.dispatched_tui(
        &fakes,
        "codex",
        "@fake write c.txt hi\n@fake escalate git add -A && git commit -q -m c\n\
         @fake run vnx report --status done --summary c",
    );

    // Codex's hooks engine runs vnx's PermissionRequest hook, trusted by vnx's own
    // `hooks.state` (an untrusted hook would stop the TUI at its review dialog).
    let r = run(repo.vnx().args(["wait", "--until-blocked", "--json", &id]));
    let blocked = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    assert_eq!(blocked["event_type"], "dispatch_blocked", "{blocked}");
    assert_eq!(blocked["source"], "codex-permission-request");
    assert_eq!(blocked["tool"], "Bash");
    assert_eq!(blocked["command"], "git add -A && git commit -q -m c");

    // Codex's title sub-thread ends its turn (`notify`) just after the permission hook, the
    // dialog still up: that is not the dispatch's turn, which stays blocked until answered.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let state = state_of(&repo, &id);
    assert_eq!(state["status"], "blocked", "{state}");
    let r = run(repo.vnx().args(["approve", &id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = run(repo.vnx().args(["wait", "--json", &id]));
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{c}");
    // Approved, the commit ran outside the sandbox: the worker committed itself.
    assert_eq!(c["teardown_class"], "committed", "{c}");
    assert!(c.get("vnx_commit").is_none(), "{c}");
    let k = kinds(&repo, &id);
    let pos = |e: &str| k.iter().position(|x| x == e).unwrap();
    assert!(pos("dispatch_blocked") < pos("dispatch_resumed"), "{k:?}");
    let resumed = &repo.receipts(&id)[pos("dispatch_resumed")];
    assert_eq!(resumed["source"], "codex-post-tool-use");
    repo.verify_ok();
}

/// A stand-in for qwen's TUI as seen on qwen 0.15.10 (docs/reference.md): its
/// `PermissionRequest` hook fires before any dialog and waits for `vnx approve`/`deny`, and
/// nothing shows on the screen until the hook returned; it then commits when allowed and
/// ends its turn (`Stop`). A
/// `tmux` in front of the real one records what `vnx approve` asks of the pane: the answer
/// goes through the waiting hook at once, no key is typed, and no dialog is waited for
/// (the pane is glanced at once at most; waiting was a capture every 100 ms for 5 s).
#[test]
fn a_waiting_hook_is_answered_at_once_without_waiting_for_a_dialog() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let write = |name: &str, body: &str| {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    write(
        "qwen",
        "[ \"$1\" = --version ] && { echo 0.15.10; exit 0; }\n\
         printf 'qwen stand-in: working\\n'\n\
         decision=$(printf '%s' '{\"hook_event_name\":\"PermissionRequest\",\"permission_mode\":\"default\",\"tool_name\":\"run_shell_command\",\"tool_input\":{\"command\":\"git commit -q -m add\"}}' \
           | vnx __hook qwen-permission-request --dir \"$VNX_DISPATCH_DIR\")\n\
         case \"$decision\" in\n\
           *'\"allow\"'*) echo a > a.txt && git add -A && git commit -q -m add && vnx report --status done --summary committed ;;\n\
           *) vnx report --status failed --summary denied ;;\n\
         esac\n\
         printf '%s' '{\"hook_event_name\":\"Stop\",\"last_assistant_message\":\"done\"}' \
           | vnx __hook qwen-stop --dir \"$VNX_DISPATCH_DIR\"\n\
         sleep 60",
    );
    let path = |first: &Path| {
        let mut p = first.as_os_str().to_owned();
        p.push(":");
        p.push(std::env::var_os("PATH").unwrap_or_default());
        p
    };
    let mut cmd = repo.vnx();
    cmd.env("PATH", path(&bin))
        .args(["dispatch-agent", "--agent", "implementer", "--detach"])
        .args(["--provider", "qwen", "--lane", "interactive"])
        .args(["--deadline", "60", "--instruction", "add a"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = r.stdout.trim().to_owned();
    let r = run(repo.vnx().args(["wait", "--until-blocked", "--json", &id]));
    assert_eq!(r.code, 1, "blocked is not success: {}", r.stdout);
    let blocked = crate::common::settled_receipt(serde_json::from_str(r.stdout.trim()).unwrap());
    assert_eq!(blocked["source"], "qwen-permission-request", "{blocked}");
    assert_eq!(blocked["command"], "git commit -q -m add", "{blocked}");

    // The real tmux, behind one that logs each call `vnx approve` makes.
    let real = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("tmux"))
        .find(|p| p.is_file())
        .expect("tmux on PATH");
    let spy = tools.path().join("spy");
    std::fs::create_dir(&spy).unwrap();
    let calls = tools.path().join("tmux-calls.txt");
    std::fs::write(&calls, "").unwrap();
    let tmux = spy.join("tmux");
    std::fs::write(
        &tmux,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            calls.display(),
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&tmux, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = run(repo
        .vnx()
        .env("PATH", path(&spy))
        .args(["approve", &id, "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let answered: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(answered["via"], "hook", "{answered}");
    assert!(answered.get("keys").is_none(), "{answered}");
    assert!(answered.get("pane_dialog").is_none(), "{answered}");
    assert_eq!(answered["request_from"], "worker_hook", "{answered}");
    let log = std::fs::read_to_string(&calls).unwrap();
    assert!(!log.contains("send-keys"), "a key was typed:\n{log}");
    let captures = log.lines().filter(|l| l.contains("capture-pane")).count();
    assert!(captures <= 1, "the pane was watched for a dialog:\n{log}");
    // The hook took the answer (its file is gone), the answer was concluded (no intent
    // marker stays; only the answering lock's file may) and the worker went on.
    let answers = repo.env.path().join(".vnx-data/answers");
    let left: Vec<String> = std::fs::read_dir(&answers)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".lock"))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "an answer was left behind: {left:?}");
    let c = completion(&run(repo.vnx().args(["wait", "--json", &id])));
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(repo.on_branch(&id, "a.txt"), "a\n");
    repo.verify_ok();
}
