//! The `vnx` command line as a user meets it: output, exit codes, and bad input that gets a
//! clear error and leaves the ledger untouched.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TestEnv, repo_dir, run, run_with_stdin};

/// Redacts what changes between runs: hashes, times and temp paths.
fn redact(env: &TestEnv, text: &str) -> String {
    let mut out = text.replace(&env.path().display().to_string(), "[WORK]");
    let hash = regex_lite(&out, 64, |c| c.is_ascii_hexdigit(), "[HASH]");
    out = hash;
    out = regex_lite(&out, 12, |c| c.is_ascii_hexdigit(), "[SHORT]");
    let mut result = String::new();
    for line in out.lines() {
        // RFC 3339 timestamps the ledger stamps.
        let mut l = line.to_owned();
        while let Some(p) = l.find("2026-").or_else(|| l.find("2027-")) {
            let end = l[p..].find('Z').map_or(l.len(), |e| p + e + 1);
            l.replace_range(p..end, "[TIME]");
        }
        result.push_str(&l);
        result.push('\n');
    }
    result
}

/// Replaces runs of exactly `len` characters matching `pred` (bounded by non-matching ones).
fn regex_lite(text: &str, len: usize, pred: impl Fn(char) -> bool, with: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if pred(chars[i]) && (i == 0 || !pred(chars[i - 1])) {
            let mut j = i;
            while j < chars.len() && pred(chars[j]) {
                j += 1;
            }
            // An all-digit run is a hash too (a 12-digit short hash happens 1 time in 280).
            if j - i == len {
                out.push_str(with);
            } else {
                out.extend(&chars[i..j]);
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn append(env: &TestEnv, json: &str) -> crate::common::Run {
    run(env
        .vnx_ledger(&["receipts", "append"])
        .args(["--receipt", json]))
}

#[test]
fn append_prints_seq_hash_and_event() {
    let env = TestEnv::new();
    let r = append(
        &env,
        r#"{"event_type":"task_complete","dispatch_id":"D-1a2b3c4d5e6f"}"#,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fields: Vec<&str> = r.stdout.trim().split('\t').collect();
    assert_eq!(fields[0], "1");
    assert_eq!(fields[1].len(), 64);
    assert_eq!(fields[2], "task_complete");
    let line = &env.lines()[0];
    assert_eq!(
        fields[1],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(line))
    );
}

#[test]
fn bad_receipts_are_refused_and_nothing_is_written() {
    let env = TestEnv::new();
    env.fill(3);
    let before = std::fs::read(env.ledger()).unwrap();
    let cases: &[(&str, &str)] = &[
        ("[1,2]", "must be a JSON object"),
        (r#""text""#, "must be a JSON object"),
        (r#"{"status":"done"}"#, "`event_type` is missing"),
        (r#"{"event_type":"Task-Done"}"#, "does not match"),
        (
            r#"{"event_type":"x","prev_hash":"00"}"#,
            "set by the ledger",
        ),
        (
            r#"{"event_type":"x","prev_line_sha256":"00"}"#,
            "set by the ledger",
        ),
        (r#"{"event_type":"chain_epoch_start"}"#, "reserved"),
        (r#"{"event_type":"x","v":NaN}"#, "not valid JSON"),
        (r#"{"event_type":"x","a":1,"a":2}"#, "duplicate key"),
        (
            r#"{"event_type":"x","dispatch_id":"../../etc"}"#,
            "dispatch_id",
        ),
        (r#"{"event_type":"x""#, "not valid JSON"),
    ];
    for (input, want) in cases {
        let r = append(&env, input);
        assert_eq!(r.code, 2, "{input}: {}", r.stderr);
        assert!(r.stderr.starts_with("error: "), "{input}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{input}: {}", r.stderr);
        assert!(r.stderr.contains("\nhint: "), "{input}: {}", r.stderr);
        assert_eq!(std::fs::read(env.ledger()).unwrap(), before, "{input}");
    }
}

#[test]
fn non_utf8_receipt_file_is_refused() {
    let env = TestEnv::new();
    let file = env.path().join("bad.json");
    std::fs::write(&file, b"{\"event_type\":\"x\",\"v\":\"\xff\xfe\"}\n").unwrap();
    let r = run(env
        .vnx_ledger(&["receipts", "append"])
        .arg("--receipt-file")
        .arg(&file));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("line 1"), "{}", r.stderr);
    assert!(r.stderr.contains("UTF-8"), "{}", r.stderr);
    assert!(!env.ledger().exists());
}

#[test]
fn stream_with_one_bad_line_writes_nothing_and_names_the_line() {
    let env = TestEnv::new();
    env.fill(2);
    let before = std::fs::read(env.ledger()).unwrap();
    let r = run_with_stdin(
        env.vnx_ledger(&["receipts", "append"]).arg("-"),
        b"{\"event_type\":\"a\"}\n{\"event_type\":\"b\"}\n\n{\"event_type\":3}\n",
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("at line 4"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was appended"), "{}", r.stderr);
    assert_eq!(std::fs::read(env.ledger()).unwrap(), before);
}

#[test]
fn ledger_location_errors_are_clear() {
    let env = TestEnv::new();
    // Missing directory.
    let r = run(env
        .vnx()
        .args(["receipts", "append", "--ledger", "nope/t0.ndjson"])
        .args(["--receipt", r#"{"event_type":"x"}"#]));
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("ledger directory nope does not exist"),
        "{}",
        r.stderr
    );
    assert!(!env.path().join("nope").exists());
    // A directory where the ledger should be.
    std::fs::create_dir(env.ledger()).unwrap();
    let r = append(&env, r#"{"event_type":"x"}"#);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
    let r = run(env.vnx_ledger(&["audit-chain", "verify"]));
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
    // Verify on a ledger that does not exist is an error, not "unchained".
    std::fs::remove_dir(env.ledger()).unwrap();
    let r = run(env.vnx_ledger(&["audit-chain", "verify"]));
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.stderr.contains("could not open"), "{}", r.stderr);
    // Outside a repository and without --ledger.
    let r = run(env
        .vnx()
        .args(["receipts", "append", "--receipt", r#"{"event_type":"x"}"#]));
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("not inside a git repository"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("hint: pass --ledger PATH"),
        "{}",
        r.stderr
    );
}

#[test]
fn read_only_ledger_is_refused_untouched() {
    let env = TestEnv::new();
    env.fill(2);
    let before = std::fs::read(env.ledger()).unwrap();
    std::fs::set_permissions(env.ledger(), std::fs::Permissions::from_mode(0o444)).unwrap();
    let r = append(&env, r#"{"event_type":"x"}"#);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("is read-only (mode 444)"), "{}", r.stderr);
    assert_eq!(std::fs::read(env.ledger()).unwrap(), before);
}

#[test]
fn unwritable_ledger_for_this_user_is_refused_untouched() {
    // As root the mode check above is what protects the file; here the kernel refuses a
    // non-root user, which is the other path (EACCES) to a clear error.
    let env = TestEnv::new();
    env.fill(2);
    let before = std::fs::read(env.ledger()).unwrap();
    std::fs::set_permissions(env.ledger(), std::fs::Permissions::from_mode(0o644)).unwrap();
    for dir in [env.dir.path(), env.path(), &env.path().join("state")] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_vnx"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_vnx"))
    };
    crate::common::hermetic(&mut cmd, &env.home());
    std::fs::set_permissions(env.ledger(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let lock = env.path().join("state/append_receipt.lock");
    std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o666)).unwrap();
    if !root {
        // Not root: make the file belong to nobody we can become; read-only for us.
        std::fs::set_permissions(env.ledger(), std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    let r = run(cmd
        .args(["receipts", "append", "--ledger"])
        .arg(env.ledger())
        .args(["--receipt", r#"{"event_type":"x"}"#]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("could not open") || r.stderr.contains("read-only"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(env.ledger()).unwrap(), before);
}

#[test]
fn usage_errors_exit_2() {
    let env = TestEnv::new();
    let r = run(env.vnx_ledger(&["receipts", "append"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no receipt given"));
    let r = run(env.vnx().args(["audit-chain", "verify", "--bogus"]));
    assert_eq!(r.code, 2);
    let r = run(env.vnx().args(["receipts", "append", "x"]));
    assert_eq!(r.code, 2);
}

#[test]
fn verify_output_snapshots() {
    let env = TestEnv::new();
    env.fill(4);
    let ok = run(env.vnx_ledger(&["audit-chain", "verify"]));
    assert_eq!(ok.code, 0);
    let mut lines = env.lines();
    lines[1] = String::from_utf8(lines[1].clone())
        .unwrap()
        .replace("caf\\u00e9", "cafe")
        .into_bytes();
    env.write_lines(&lines);
    let broken = run(env.vnx_ledger(&["audit-chain", "verify"]));
    assert_eq!(broken.code, 1);
    insta::assert_snapshot!(
        "verify_output",
        format!(
            "{}---\n{}",
            redact(&env, &ok.stdout),
            redact(&env, &broken.stdout)
        )
    );
}

#[test]
fn tail_shows_filters_and_raw_lines() {
    let env = TestEnv::new();
    for (event, dispatch) in [
        ("task_started", "D-00000001"),
        ("task_started", "D-00000002"),
        ("task_complete", "D-00000001"),
        ("note", "D-00000003"),
    ] {
        let r = append(
            &env,
            &format!(r#"{{"event_type":"{event}","dispatch_id":"{dispatch}","status":"done"}}"#),
        );
        assert_eq!(r.code, 0);
    }
    let all = run(env.vnx_ledger(&["receipts", "tail"]));
    let two = run(env.vnx_ledger(&["receipts", "tail"]).args(["-n", "2"]));
    let d1 = run(env
        .vnx_ledger(&["receipts", "tail"])
        .args(["--dispatch", "D-00000001"]));
    let ev =
        run(env
            .vnx_ledger(&["receipts", "tail"])
            .args(["--event", "task_started", "-n", "1"]));
    insta::assert_snapshot!(
        "tail_output",
        redact(
            &env,
            &format!(
                "{}---\n{}---\n{}---\n{}",
                all.stdout, two.stdout, d1.stdout, ev.stdout
            )
        )
    );
    let raw = run(env
        .vnx_ledger(&["receipts", "tail"])
        .args(["--json", "-n", "1"]));
    assert_eq!(
        raw.stdout.as_bytes(),
        [env.lines()[3].as_slice(), b"\n"].concat()
    );
}

#[test]
fn tail_exits_0_when_the_reader_goes_away() {
    let env = TestEnv::new();
    env.fill(20_000);
    let mut child = env
        .vnx_ledger(&["receipts", "tail"])
        .args(["-n", "20000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn tail_follow_prints_new_complete_lines() {
    let env = TestEnv::new();
    env.fill(2);
    let mut child = env
        .vnx_ledger(&["receipts", "tail"])
        .args(["-f", "-n", "1", "--event", "followed"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    // Give the watcher a moment to start, then append: a fragment first (never shown),
    // then real receipts.
    std::thread::sleep(Duration::from_millis(300));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(env.ledger())
        .unwrap();
    use std::io::Write;
    f.write_all(b"{\"event_type\":\"followed\",\"torn\":")
        .unwrap();
    drop(f);
    std::thread::sleep(Duration::from_millis(200));
    // The next append quarantines the fragment and appends.
    let r = append(&env, r#"{"event_type":"followed","n":1}"#);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = append(&env, r#"{"event_type":"other"}"#);
    assert_eq!(r.code, 0);
    let r = append(&env, r#"{"event_type":"followed","n":2}"#);
    assert_eq!(r.code, 0);
    let start = Instant::now();
    let mut got = Vec::new();
    while got.len() < 2 && start.elapsed() < Duration::from_secs(20) {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        got.push(line);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].contains("followed"), "{got:?}");
    assert!(got.iter().all(|l| !l.contains("unreadable")), "{got:?}");
    let seqs: Vec<&str> = got
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    // Seq 3 is the repair record, 4 the first receipt, 5 "other", 6 the second.
    assert_eq!(seqs, ["#4", "#6"], "{got:?}");
}

#[test]
fn seal_adopts_a_legacy_ledger_once() {
    let env = TestEnv::new();
    std::fs::copy(
        repo_dir().join("receipts/golden/vnx-python/unchained.ndjson"),
        env.ledger(),
    )
    .unwrap();
    let first = run(env.vnx_ledger(&["audit-chain", "seal"]));
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first
            .stdout
            .starts_with("sealed: chain_epoch_start at seq 7"),
        "{}",
        first.stdout
    );
    let second = run(env.vnx_ledger(&["audit-chain", "seal"]));
    assert_eq!(second.stdout.trim(), "already chained: nothing to seal");
    let v = run(env.vnx_ledger(&["audit-chain", "verify"]));
    assert!(v.stdout.starts_with("verified-segmented"), "{}", v.stdout);
    assert_eq!(v.code, 0);
    let strict = run(env.vnx_ledger(&["audit-chain", "verify"]).arg("--strict"));
    assert_eq!(strict.code, 1, "no checkpoint: --strict fails");
}

#[test]
fn walk_lists_every_line() {
    let env = TestEnv::new();
    let appended = env.fill(3);
    let r = run(env.vnx_ledger(&["audit-chain", "walk"]));
    let rows: Vec<Vec<&str>> = r.stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 3);
    for (row, a) in rows.iter().zip(&appended) {
        assert_eq!(row[0], a.seq.to_string());
        assert_eq!(row[1], a.line_sha256);
        assert_eq!(row[2], a.entry_hash);
        assert_eq!(row[3], "task_complete");
    }
}

#[test]
fn verify_json_is_machine_readable() {
    let env = TestEnv::new();
    env.fill(2);
    let (code, v) = crate::common::verify_json(&env);
    assert_eq!(code, 0);
    assert_eq!(v["verified"], true);
    assert_eq!(v["report"]["status"], "verified");
    assert_eq!(v["report"]["lines"], 2);
    assert_eq!(v["report"]["violations_total"], 0);
}

#[test]
fn deeply_nested_and_oversized_receipts() {
    let env = TestEnv::new();
    let deep = format!(
        r#"{{"event_type":"deep","v":{}1{}}}"#,
        "[".repeat(400),
        "]".repeat(400)
    );
    let r = append(&env, &deep);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let too_deep = format!(
        r#"{{"event_type":"deep","v":{}1{}}}"#,
        "[".repeat(600),
        "]".repeat(600)
    );
    let r = append(&env, &too_deep);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nested too deeply"), "{}", r.stderr);
    let file = env.path().join("big.json");
    std::fs::write(
        &file,
        format!(r#"{{"event_type":"big","v":"{}"}}"#, "x".repeat(1 << 20)),
    )
    .unwrap();
    let before = std::fs::read(env.ledger()).unwrap();
    let r = run(env
        .vnx_ledger(&["receipts", "append"])
        .arg("--receipt-file")
        .arg(&file));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("the limit is 1048576 bytes"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(env.ledger()).unwrap(), before);
    let (code, _) = crate::common::verify_json(&env);
    assert_eq!(code, 0);
}

#[test]
fn a_symlinked_ledger_is_refused() {
    let env = TestEnv::new();
    env.fill(2);
    let real = env.path().join("state/real.ndjson");
    std::fs::rename(env.ledger(), &real).unwrap();
    std::os::unix::fs::symlink(&real, env.ledger()).unwrap();
    let before = std::fs::read(&real).unwrap();
    let r = append(&env, r#"{"event_type":"x"}"#);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("is a symlink"), "{}", r.stderr);
    assert_eq!(std::fs::read(&real).unwrap(), before);
    let r = run(env.vnx_ledger(&["audit-chain", "verify"]));
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("is a symlink"), "{}", r.stderr);
}

#[test]
fn a_refused_receipt_leaves_no_new_ledger_behind() {
    let env = TestEnv::new();
    let file = env.path().join("big.json");
    std::fs::write(
        &file,
        format!(r#"{{"event_type":"big","v":"{}"}}"#, "x".repeat(1 << 20)),
    )
    .unwrap();
    let r = run(env
        .vnx_ledger(&["receipts", "append"])
        .arg("--receipt-file")
        .arg(&file));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!env.ledger().exists(), "an empty ledger was left behind");
}

fn spawn_follow(
    env: &TestEnv,
    args: &[&str],
) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut child = env
        .vnx_ledger(&["receipts", "tail"])
        .arg("-f")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    // Give the watcher a moment to start.
    std::thread::sleep(Duration::from_millis(300));
    (child, out)
}

fn next_lines(out: &mut BufReader<std::process::ChildStdout>, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        got.push(line);
    }
    got
}

#[test]
fn tail_n0_follow_starts_at_the_end() {
    let env = TestEnv::new();
    env.fill(3);
    let (mut child, mut out) = spawn_follow(&env, &["-n", "0", "--json"]);
    let r = append(&env, r#"{"event_type":"after"}"#);
    assert_eq!(r.code, 0);
    let got = next_lines(&mut out, 1);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("\"after\""), "{got:?}");
}

#[test]
fn tail_follow_waits_for_a_missing_ledger_and_restarts_on_replacement() {
    let env = TestEnv::new();
    let (mut child, mut out) = spawn_follow(&env, &["--json"]);
    let r = append(&env, r#"{"event_type":"first"}"#);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = next_lines(&mut out, 1);
    assert!(first[0].contains("\"first\""), "{first:?}");
    // Replace the ledger with another file (as `mv` would): reading starts from the top.
    let other = env.path().join("state/other.ndjson");
    let ledger = vnx::ledger::Ledger::new(&other);
    ledger
        .append(&crate::common::receipt(r#"{"event_type":"replacement"}"#))
        .unwrap();
    std::fs::rename(&other, env.ledger()).unwrap();
    let next = next_lines(&mut out, 1);
    child.kill().unwrap();
    let stderr = {
        let mut s = String::new();
        child.stderr.take().unwrap().read_to_string(&mut s).unwrap();
        s
    };
    child.wait().unwrap();
    assert!(next[0].contains("\"replacement\""), "{next:?}");
    assert!(
        !next[0].starts_with("\"") && next[0].starts_with('{'),
        "a whole line, not a fragment: {next:?}"
    );
    assert!(stderr.contains("replaced or cut"), "{stderr}");
}

#[test]
fn help_examples_keep_their_lines() {
    let env = crate::common::TestEnv::new();
    for sub in [
        "dispatch-agent",
        "gate-check",
        "status",
        "show",
        "follow-up",
    ] {
        let r = run(env.vnx().args([sub, "--help"]).env("COLUMNS", "80"));
        assert_eq!(r.code, 0, "{sub}");
        let examples = r
            .stdout
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{sub} --help has no examples: {}", r.stdout));
        let first = examples.lines().next().unwrap();
        assert!(first.starts_with("  $ vnx "), "{sub}: {first:?}");
        for line in examples.lines().take_while(|l| !l.is_empty()) {
            assert!(
                line.starts_with("  "),
                "{sub}: an example line lost its indent: {line:?}"
            );
        }
        assert!(r.stdout.contains("Exit status: 0 ok"), "{sub}");
    }
    let r = run(env
        .vnx()
        .args(["dispatch-agent", "--help"])
        .env("COLUMNS", "80"));
    assert!(
        r.stdout
            .contains("--model commit \\\n        --skill implementer"),
        "{}",
        r.stdout
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line() {
    let env = crate::common::TestEnv::new();
    for (shell, marker) in [
        ("bash", "_vnx()"),
        ("zsh", "#compdef vnx"),
        ("fish", "complete -c vnx"),
    ] {
        let r = run(env.vnx().args(["completions", shell]));
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.contains(marker), "{shell}");
        // Every visible subcommand can be completed.
        for sub in [
            "dispatch-agent",
            "follow-up",
            "show",
            "cancel",
            "gate-check",
        ] {
            assert!(r.stdout.contains(sub), "{shell} lacks {sub}");
        }
        let offered = r
            .stdout
            .lines()
            .filter(|l| {
                l.contains("opts=\"") || l.contains("complete -c vnx -n \"__fish_use_subcommand\"")
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            !offered.contains("__supervise"),
            "{shell}: hidden commands stay hidden"
        );
    }
    let bash = run(env.vnx().args(["completions", "bash"]));
    // From a file: the script is longer than one argument may be (128 KiB).
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), &bash.stdout).unwrap();
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .arg(script.path())
        .status()
        .unwrap();
    assert!(checked.success(), "the bash completion parses");
    let man = run(env.vnx().arg("man"));
    assert_eq!(man.code, 0);
    assert!(man.stdout.starts_with(".ie") || man.stdout.contains(".TH vnx 1"));
    assert!(
        man.stdout.contains("follow\\-up"),
        "the subcommands are listed"
    );
    // Every command has a page of its own, as vnx(1) refers to them.
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let r = run(env.vnx().args(["man", "--dir"]).arg(&pages));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for page in [
        "vnx.1",
        "vnx-status.1",
        "vnx-audit-chain-verify.1",
        "vnx-pr-merge.1",
    ] {
        let text = std::fs::read_to_string(pages.join(page)).unwrap_or_default();
        assert!(text.contains(".TH"), "{page}: {text}");
    }
    assert!(
        !pages.join("vnx-__supervise.1").exists(),
        "hidden commands have no page"
    );
    assert_eq!(run(env.vnx().args(["completions", "tcsh"])).code, 2);
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let env = TestEnv::new();
    let long = run(env.vnx().arg("--version"));
    assert_eq!(long.code, 0, "{}", long.stderr);
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo_dir())
        .output()
        .unwrap();
    let commit = String::from_utf8(commit.stdout).unwrap();
    let shape =
        regex::Regex::new(r"^vnx \d+\.\d+\.\d+ \(([0-9a-f]{12}), built \d{4}-\d{2}-\d{2}\)\n$")
            .unwrap();
    let found = shape
        .captures(&long.stdout)
        .unwrap_or_else(|| panic!("unexpected --version: {:?}", long.stdout));
    assert_eq!(&found[1], commit.trim(), "the commit of this checkout");
    let short = run(env.vnx().arg("-V"));
    assert_eq!(
        short.stdout,
        format!("vnx {}\n", env!("CARGO_PKG_VERSION")),
        "-V says the version alone"
    );
}

/// Every vnx process maps only libc and libgcc_s (ADR 0049): each further shared library
/// costs its mapping, relocation and symbol lookups at every start, about 0.05 ms of a CLI
/// append. zlib is built into libgit2 and `log2` comes from the `libm` crate.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn the_binary_needs_only_libc_and_libgcc_s() {
    let out = Command::new("readelf")
        .args(["--dynamic", "--wide", env!("CARGO_BIN_EXE_vnx")])
        .output()
        .unwrap_or_else(|e| panic!("readelf: {e}: install binutils (the linker's package)"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let needed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split_once('[')?.1.split_once(']').map(|(name, _)| name))
        .collect();
    assert!(!needed.is_empty(), "no NEEDED entries read from:\n{text}");
    let extra: Vec<&&str> = needed
        .iter()
        .filter(|n| {
            !n.starts_with("libc.so") && !n.starts_with("libgcc_s.so") && !n.starts_with("ld-linux")
        })
        .collect();
    assert!(
        extra.is_empty(),
        "vnx loads {extra:?} besides libc and libgcc_s"
    );
}
