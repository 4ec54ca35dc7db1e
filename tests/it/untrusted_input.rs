//! Input vnx does not trust: committed config files that are links (their targets are never
//! read or echoed), a config path that is a directory, instruction files, receipt streams and
//! hook payloads without end, and FIFOs where a file should be — every case fails fast with a
//! clear error instead of leaking, hanging or eating memory.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{Repo, Run, run};

const SECRET: &str = "root:$6$not-for-your-eyes";

/// Runs `cmd` under coreutils `timeout`, so a regression that blocks fails instead of hanging.
fn bounded(cmd: Command) -> Run {
    bounded_with(cmd, Stdio::null())
}

fn bounded_with(cmd: Command, stdin: Stdio) -> Run {
    let mut t = Command::new("timeout");
    t.stdin(stdin);
    t.arg("20").arg(cmd.get_program()).args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        t.current_dir(dir);
    }
    t.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            t.env(k, v);
        }
    }
    let r = run(t);
    assert_ne!(r.code, 124, "timed out (blocked): {}", r.stderr);
    r
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[test]
fn committed_config_links_are_refused_without_reading_their_target() {
    for file in [".vnx/config.yaml", "provider_constraints.yaml"] {
        let repo = Repo::new();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("shadow");
        std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
        let path = repo.env.path().join(file);
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&secret, &path).unwrap();
        let r = repo.dispatch("commit", &["--instruction", "x"]);
        assert_eq!(r.code, 3, "{file}: {}", r.stderr);
        assert!(
            r.stderr.contains("is a symbolic link"),
            "{file}: {}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("not-for-your-eyes"),
            "{file}: {}",
            r.stderr
        );
        assert!(!r.stdout.contains("not-for-your-eyes"));
        let doctor = run(repo.vnx().args(["doctor", "--json"]));
        assert!(
            !doctor.stdout.contains("not-for-your-eyes"),
            "{}",
            doctor.stdout
        );
    }
}

#[test]
fn a_config_path_that_is_a_directory_says_so() {
    let repo = Repo::new();
    let config = repo.env.path().join(".vnx/config.yaml");
    std::fs::remove_file(&config).unwrap();
    std::fs::create_dir(&config).unwrap();
    let r = repo.dispatch("commit", &["--instruction", "x"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
    assert!(!r.stderr.contains("not initialised"), "{}", r.stderr);
    let doctor = run(repo.vnx().args(["doctor"]));
    assert!(
        doctor
            .stdout
            .contains("is a directory, not vnx's configuration file"),
        "{}",
        doctor.stdout
    );
    assert!(
        !doctor.stdout.contains("not initialised"),
        "{}",
        doctor.stdout
    );
}

#[test]
fn endless_or_blocking_instruction_files_fail_fast() {
    let repo = Repo::new();
    let fifo = repo.env.dir.path().join("instruction.fifo");
    mkfifo(&fifo);
    for file in [Path::new("/dev/zero"), fifo.as_path()] {
        let mut cmd = repo.dispatch_cmd("commit");
        cmd.arg("--instruction-file").arg(file);
        let r = bounded(cmd);
        assert_eq!(r.code, 3, "{}: {}", file.display(), r.stderr);
        assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
    }
    let big = repo.env.dir.path().join("big.md");
    std::fs::write(&big, vec![b'x'; 5 << 20]).unwrap();
    let mut cmd = repo.dispatch_cmd("commit");
    cmd.arg("--instruction-file").arg(&big);
    let r = bounded(cmd);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("over the limit"), "{}", r.stderr);
    assert_eq!(repo.branches(), "");
}

#[test]
fn an_endless_receipt_stream_is_refused_after_its_bound() {
    let repo = Repo::new();
    let mut cmd = repo.vnx();
    cmd.args(["receipts", "append", "-"]);
    let r = bounded_with(cmd, Stdio::from(std::fs::File::open("/dev/zero").unwrap()));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("more than 64 MiB"), "{}", r.stderr);
}

#[test]
fn a_fifo_in_place_of_the_ledger_never_blocks() {
    let repo = Repo::new();
    let ledger = crate::common::ledger_path(&repo);
    let _ = std::fs::remove_file(&ledger);
    mkfifo(&ledger);
    for args in [
        &["audit-chain", "verify"][..],
        &["receipts", "tail"],
        &[
            "receipts",
            "append",
            "--receipt",
            r#"{"event_type":"note"}"#,
        ],
        &["status"],
        &["doctor"],
    ] {
        let mut cmd = repo.vnx();
        cmd.args(args);
        let r = bounded(cmd);
        assert_ne!(r.code, 0, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(
            format!("{}{}", r.stdout, r.stderr).contains("not a regular file"),
            "{args:?}: {}{}",
            r.stdout,
            r.stderr
        );
    }
}

/// Whether output holds a byte or character a terminal acts on: ESC, BEL, CR, a C1 control.
fn raw_controls(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(c, '\u{1b}' | '\u{7}' | '\r') || ('\u{80}'..='\u{9f}').contains(&c))
}

#[test]
fn terminal_escapes_from_workers_receipts_and_constraints_are_escaped() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let hostile = tools.path().join("hostile");
    std::fs::write(
        &hostile,
        "#!/bin/sh\necho w > w.txt && git add w.txt && git commit -qm w\n\
         vnx report --status done --summary \"$(printf '\\033]0;pwned\\007\\033[2J\\302\\233')\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &hostile,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "gates:\n  ok: {{kind: command, argv: [\"true\"]}}\nroles:\n  implementer: {{gates: [ok]}}\n\
         providers:\n  hostile:\n    binary: {}\n    headless:\n      argv: [\"{{prompt_file}}\"]\n      prompt: file\n      completion: report\n    permissions:\n      edits: []\n",
        hostile.display()
    ));
    std::fs::write(&config, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "hostile provider"]);
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "hostile",
        "--instruction",
        "x",
        "--detach",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = r.stdout.trim().to_owned();
    // A receipt carrying OSC 52 (set the clipboard) and a C1 CSI.
    let osc = run(repo.vnx().args([
        "receipts", "append", "--receipt",
        r#"{"event_type":"note","dispatch_id":"D-0000000c","status":"\u001b]52;c;cHduZWQ=\u0007\u009b2J"}"#,
    ]));
    assert_eq!(osc.code, 0, "{}", osc.stderr);
    let mut seen = 0;
    for args in [
        vec!["wait", id.as_str()],
        vec!["wait", id.as_str(), "--json"],
        vec!["status"],
        vec!["status", "--json"],
        vec!["receipts", "tail", "-n", "50"],
        vec!["receipts", "tail", "-n", "50", "--json"],
        vec!["gate-check", id.as_str()],
        vec!["merge", id.as_str(), "--check"],
        vec!["doctor"],
    ] {
        let r = run(repo.vnx().args(&args));
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(
            !raw_controls(&all),
            "{args:?} printed raw controls: {all:?}"
        );
        seen += usize::from(all.contains("pwned") || all.contains("52;c;"));
    }
    assert!(
        seen >= 3,
        "the hostile text was shown, escaped, by several commands"
    );

    // A constraint's reason, shown on refusal.
    std::fs::write(
        repo.env.path().join("provider_constraints.yaml"),
        "version: 1\nconstraints:\n  - id: no-demo\n    rule: forbid_route\n    \
         forbidden_route: {provider: demo}\n    reason: \"\\e]0;owned\\a\\e[2J\"\n    \
         enforcement: code_raise\n    audit_severity: blocking\n",
    )
    .unwrap();
    repo.env.git(&["commit", "-q", "-am", "forbid demo"]);
    let r = repo.dispatch("commit", &["--instruction", "x"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("owned"), "{}", r.stderr);
    assert!(!raw_controls(&r.stderr), "{:?}", r.stderr);
}

/// A permission hook of a dispatch nothing supervises any more (it ended, or its supervisor
/// died) does not wait for an answer nobody will take, and a payload pipe that is never
/// closed (a process the CLI started holds it) does not hold the hook either.
#[test]
fn a_permission_hook_without_a_supervisor_or_an_end_of_payload_does_not_wait() {
    let repo = Repo::new();
    let dir = repo.env.path().join(".vnx-data/dispatches/D-00000000b001");
    std::fs::create_dir_all(&dir).unwrap();
    let hook = |payload: Option<&str>| {
        let mut cmd = repo.vnx();
        cmd.args(["__hook", "claude-permission-request", "--dir"])
            .arg(&dir)
            .args(payload);
        cmd
    };
    let request = r#"{"tool_name":"Bash","tool_input":{"command":"ls"}}"#;
    let r = bounded(hook(Some(request)));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "", "no answer was taken");
    let signals = || std::fs::read_dir(dir.join("signals")).unwrap().count();
    assert_eq!(signals(), 1, "the prompt is still recorded");

    let mut held = Command::new("sleep")
        .arg("60")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = Stdio::from(held.stdout.take().unwrap());
    let r = bounded_with(hook(None), pipe);
    let _ = held.kill();
    let _ = held.wait();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(signals(), 2);
}
