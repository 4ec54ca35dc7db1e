//! A read of one dispatch or of what is open does not touch the whole ledger (issue 70): with
//! the read index in place, `status`, `status ID` and `show ID` read the index and the few
//! lines they cite, and after an append the lines appended since, however long the ledger.
//! Measured on the real binary by what the kernel hands it from the ledger file (`strace`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use vnx::dispatch::fold::index::{ROLL, SEGMENT};

use crate::common::{Repo, completion, ledger_path, run};

/// Receipts of another kind appended between the dispatches, so that the ledger is mostly
/// lines no read of a dispatch needs (~24 MB: more than a read may take).
const FILLER: usize = 60_000;

/// The most of the ledger's bytes one command may take: the segment the indexed prefix ends
/// in and the lines after it, for each of its reads (`status` catches up three times: the
/// hosts' check, the queue, the read), and, when it writes the index again, the segments it
/// digests again in turn (ADR 0045). A read of the whole takes them all.
const MOST_READ: u64 = (ROLL + 4) * SEGMENT;

/// Where strace is, or `None` (then the test says it was skipped, and why).
fn strace() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|d| d.join("strace"))
        .find(|p| p.is_file())?;
    // A machine that forbids ptrace has strace but cannot trace.
    let traces = Command::new(&found)
        .args(["-qq", "-o", "/dev/null", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    traces.then_some(found)
}

/// The bytes `cmd` read from `file`, every thread and child of it counted, and its stdout.
fn bytes_read(strace: &Path, cmd: &Command, file: &Path, out: &Path) -> (u64, String) {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).unwrap();
    let mut traced = Command::new(strace);
    traced.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            traced.env(k, v);
        }
    }
    if let Some(dir) = cmd.get_current_dir() {
        traced.current_dir(dir);
    }
    traced
        .args(["-f", "-ff", "-qq", "-y", "-s", "0", "-e"])
        .arg("trace=read,pread64,readv,preadv,preadv2")
        .arg("-o")
        .arg(out.join("t"))
        .arg(cmd.get_program())
        .args(cmd.get_args());
    let r = run(traced);
    assert_eq!(r.code, 0, "{:?}: {}", cmd.get_args(), r.stderr);
    let file = file.canonicalize().unwrap();
    let tag = format!("<{}>", file.display());
    let mut total = 0;
    for entry in std::fs::read_dir(out).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines().filter(|l| l.contains(&tag)) {
            let got = line.rsplit_once(") = ").map(|(_, n)| n.trim());
            total += got.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    (total, r.stdout)
}

#[test]
fn a_read_of_one_dispatch_or_of_what_is_open_never_reads_the_whole_ledger() {
    let Some(strace) = strace() else {
        eprintln!("skipped: strace is missing or cannot trace here (bin/test installs it)");
        return;
    };
    let repo = Repo::new();
    let early = completion(&repo.dispatch("commit", &["--instruction", "early"]));
    let filler: String = (0..FILLER)
        .map(|i| {
            format!(
                "{{\"event_type\":\"worker_heartbeat\",\"n\":{i},\"note\":\"{}\"}}\n",
                "a line no read of a dispatch needs ".repeat(9)
            )
        })
        .collect();
    let mut append = repo.vnx();
    append
        .args(["receipts", "append", "-"])
        .stdin(Stdio::piped());
    append.stdout(Stdio::null());
    let mut child = append.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), filler.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    let late = completion(&repo.dispatch("commit", &["--instruction", "late"]));
    let ids = [&early, &late].map(|c| c["dispatch_id"].as_str().unwrap().to_owned());
    let ledger = ledger_path(&repo);
    let size = std::fs::metadata(&ledger).unwrap().len();
    assert!(size > MOST_READ + (4 << 20), "the ledger is {size} bytes");
    // The read that makes the index reads it whole; a stamp is trusted once the ledger's
    // change time lies two seconds back (`dispatch::fold::stamp`).
    assert_eq!(run(repo.vnx().arg("status")).code, 0);
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    let out = repo.env.home().join("strace");
    let reads: [&[&str]; 6] = [
        &["status"],
        &["status", &ids[0]],
        &["show", &ids[0]],
        &["show", "--json", &ids[1]],
        &["status", "--json"],
        &["attest", &ids[0]],
    ];
    for args in reads {
        let mut cmd = repo.vnx();
        cmd.args(args);
        let (read, stdout) = bytes_read(&strace, &cmd, &ledger, &out);
        assert!(
            read <= MOST_READ,
            "`vnx {}` read {read} of the ledger's {size} bytes\n{stdout}",
            args.join(" ")
        );
        assert!(!stdout.is_empty(), "{args:?} printed nothing");
    }
    // Checking an attestation against the ledger reads the dispatch's lines, not the whole.
    let envelope = run(repo.vnx().args(["attest", &ids[0]]));
    assert_eq!(envelope.code, 0, "{}", envelope.stderr);
    let file = repo.env.home().join("attestation.intoto.jsonl");
    std::fs::write(&file, &envelope.stdout).unwrap();
    let mut cmd = repo.vnx();
    cmd.args(["attest", "--verify"]).arg(&file);
    let (read, stdout) = bytes_read(&strace, &cmd, &ledger, &out);
    assert!(
        read <= MOST_READ,
        "`vnx attest --verify` read {read} of the ledger's {size} bytes\n{stdout}"
    );
    assert!(stdout.starts_with("verified: "), "{stdout}");
    // After an append, the lines since the index and the ledger's end, not the whole.
    let r = run(repo
        .vnx()
        .args(["receipts", "append", "--receipt"])
        .arg(r#"{"event_type":"worker_heartbeat","note":"appended after the index"}"#));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for args in [&["status"][..], &["show", &ids[1]][..]] {
        let mut cmd = repo.vnx();
        cmd.args(args);
        let (read, _) = bytes_read(&strace, &cmd, &ledger, &out);
        assert!(
            read <= MOST_READ,
            "after an append, `vnx {}` read {read} of the ledger's {size} bytes",
            args.join(" ")
        );
    }
}
