//! A write that fails part-way (the file-size limit, `ulimit -f`): nothing is acknowledged,
//! the ledger is left as it was, and no fragment leaves it without a repair record.

use std::fs;
use std::process::{Command, Stdio};

use crate::common::{Run, TestEnv, brief, hermetic, run, run_with_stdin, verify_json};
use crate::crash::torn_files;

/// `vnx receipts append …` under `ulimit -f blocks` (512-byte blocks).
fn append_with_file_limit(env: &TestEnv, blocks: u64, args: &[&str], stdin: Option<&str>) -> Run {
    let vnx = env.vnx();
    let mut cmd = Command::new("bash");
    hermetic(&mut cmd, env.path());
    cmd.current_dir(env.path())
        .arg("-c")
        .arg(format!("ulimit -f {blocks}; exec \"$0\" \"$@\""))
        .arg(vnx.get_program())
        .args(["receipts", "append", "--ledger"])
        .arg(env.ledger())
        .args(args);
    match stdin {
        None => run(cmd.stdin(Stdio::null())),
        Some(text) => run_with_stdin(cmd, text.as_bytes()),
    }
}

#[test]
fn a_write_past_the_file_size_limit_leaves_the_ledger_untouched() {
    let env = TestEnv::new();
    env.fill(5);
    let before = fs::read(env.ledger()).unwrap();
    let size = before.len() as u64;
    let blocks = size / 512 + 1; // the limit is at most 512 bytes above the ledger's size
    let big = format!(r#"{{"event_type":"load","pad":"{}"}}"#, "x".repeat(3000));

    // One receipt that does not fit.
    let r = append_with_file_limit(&env, blocks, &["--receipt", &big], None);
    assert_eq!(
        r.code, 3,
        "limit {blocks} blocks, ledger {size} bytes (code -1: killed by a signal, such as \
         SIGXFSZ when vnx does not ignore it): {}",
        r.stderr
    );
    assert!(
        r.stdout.is_empty(),
        "nothing may be acknowledged: {}",
        r.stdout
    );
    assert!(
        r.stderr.contains("append to") && r.stderr.contains("failed"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("nothing was appended"), "{}", r.stderr);
    assert!(
        r.stderr.contains("File too large") && r.stderr.contains("ulimit -f"),
        "stderr should name the file-size limit: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("could not be removed"), "{}", r.stderr);
    assert_eq!(
        fs::read(env.ledger()).unwrap(),
        before,
        "the ledger changed"
    );

    // A group commit whose first receipts fit but not all of them: all or nothing.
    let stream = format!(
        "{}\n{}\n{}\n",
        r#"{"event_type":"load","i":0}"#, r#"{"event_type":"load","i":1}"#, big
    );
    let r = append_with_file_limit(&env, blocks, &["-"], Some(&stream));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stdout.is_empty(),
        "nothing may be acknowledged: {}",
        r.stdout
    );
    assert!(r.stderr.contains("nothing was appended"), "{}", r.stderr);
    assert_eq!(
        fs::read(env.ledger()).unwrap(),
        before,
        "the ledger changed"
    );
    assert_eq!(torn_files(&env.path().join("state")), Vec::<String>::new());

    // Without the limit the same appends go through and the chain is intact.
    let r = run(env
        .vnx_ledger(&["receipts", "append"])
        .args(["--receipt", &big]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("6\t"), "{}", r.stdout);
    let after = fs::read(env.ledger()).unwrap();
    assert_eq!(&after[..before.len()], &before[..]);
    let (code, v) = verify_json(&env);
    assert_eq!(code, 0, "{}", brief(&v));
    assert_eq!(v["report"]["status"], "verified", "{}", brief(&v));
    assert_eq!(v["report"]["lines"], 6, "{}", brief(&v));
}

/// Regression: when the ledger ends in a torn tail and the append's write then fails, no
/// fragment may leave the ledger without a record: either the ledger is byte-identical to
/// before the failed append, or a repair record names the quarantine file. (The repair record
/// used to be part of the failed write and was rolled back with it.)
#[test]
fn a_failed_write_after_a_repair_leaves_no_unrecorded_quarantine() {
    let env = TestEnv::new();
    env.fill(5);
    let mut before = fs::read(env.ledger()).unwrap();
    before.extend_from_slice(br#"{"event_type":"task_complete","n":5,"no"#);
    fs::write(env.ledger(), &before).unwrap();
    let blocks = before.len() as u64 / 512 + 1;
    let big = format!(r#"{{"event_type":"load","pad":"{}"}}"#, "x".repeat(3000));

    let r = append_with_file_limit(&env, blocks, &["--receipt", &big], None);
    assert_eq!(r.code, 3, "the append should fail: {}", r.stderr);
    let after = fs::read(env.ledger()).unwrap();
    let recorded: Vec<String> = env
        .lines()
        .iter()
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .filter(|v| v["event_type"] == "ledger_repair")
        .map(|v| {
            v["repair"]["quarantine"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let unrecorded: Vec<String> = torn_files(&env.path().join("state"))
        .into_iter()
        .filter(|n| !recorded.contains(n))
        .collect();
    assert!(
        after == before || unrecorded.is_empty(),
        "ledger went from {} to {} bytes and quarantine files {unrecorded:?} are named by no \
         ledger_repair record; stderr: {}",
        before.len(),
        after.len(),
        r.stderr
    );
}

/// A stream whose second batch does not fit: the first batch is durable and reported as
/// such, seq range included; the error does not claim that nothing was appended.
#[test]
fn a_stream_that_fails_partway_reports_what_was_appended() {
    let env = TestEnv::new();
    let mut input = Vec::new();
    for i in 0..5000 {
        input.extend_from_slice(format!("{{\"event_type\":\"load\",\"i\":{i}}}\n").as_bytes());
    }
    // Lines here are 225-270 bytes: bash's `ulimit -f` counts 1 KiB blocks, so 1,100 blocks
    // (1,126,400 bytes) hold the first batch of 4,096 (at most ~1.11 MB) but not all 5,000
    // (at least ~1.13 MB).
    let blocks = 1100;
    let mut cmd = std::process::Command::new("bash");
    hermetic(&mut cmd, &env.home());
    cmd.current_dir(env.path())
        .arg("-c")
        .arg(format!("ulimit -f {blocks}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_vnx"))
        .args(["receipts", "append", "--json", "--ledger"])
        .arg(env.ledger())
        .arg("-");
    let r = crate::common::run_with_stdin(cmd, &input);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("appended 4096 of 5000 receipt(s) (seq 1..4096), then failed"),
        "{}",
        r.stderr
    );
    let printed: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(printed["lines"].as_array().unwrap().len(), 4096);
    assert_eq!(env.lines().len(), 4096);
    assert_eq!(verify_json(&env).0, 0);
}
