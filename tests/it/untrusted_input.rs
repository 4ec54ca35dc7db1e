//! Input vnx does not trust: committed config files that are links (their targets are never
//! read or echoed), a config path that is a directory, instruction files and receipt streams
//! without end, and FIFOs where a file should be — every case fails fast with a clear error
//! instead of leaking, hanging or eating memory.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{Run, run};
use crate::dispatch::Repo;

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
        assert_eq!(r.code, 1, "{file}: {}", r.stderr);
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
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
    assert!(!r.stderr.contains("not initialised"), "{}", r.stderr);
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
        assert_eq!(r.code, 1, "{}: {}", file.display(), r.stderr);
        assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
    }
    let big = repo.env.dir.path().join("big.md");
    std::fs::write(&big, vec![b'x'; 5 << 20]).unwrap();
    let mut cmd = repo.dispatch_cmd("commit");
    cmd.arg("--instruction-file").arg(&big);
    let r = bounded(cmd);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("over the limit"), "{}", r.stderr);
    assert_eq!(repo.branches(), "");
}

#[test]
fn an_endless_receipt_stream_is_refused_after_its_bound() {
    let repo = Repo::new();
    let mut cmd = repo.vnx();
    cmd.args(["receipts", "append", "-"]);
    let r = bounded_with(cmd, Stdio::from(std::fs::File::open("/dev/zero").unwrap()));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("more than 64 MiB"), "{}", r.stderr);
}

#[test]
fn a_fifo_in_place_of_the_ledger_never_blocks() {
    let repo = Repo::new();
    let ledger = crate::gates::ledger_path(&repo);
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
