//! Torn tails: every cut of a last line and every run of zeros after a complete ledger is
//! reported by verify and repaired by the next append, and each fragment is kept in a
//! quarantine file that a repair record names.

use std::fs;
use std::path::Path;

use vnx::ledger::{ChainStatus, Ledger};

use crate::common::{TestEnv, brief, receipt, run, verify_json, violations};
use crate::crash::{GENESIS_HEX, complete_lines, lib_verify, parse_object, sha256_hex, torn_files};

const CLOCK: &str = "2026-11-21T10:00:00.000000Z";

/// `vnx audit-chain verify --json` on any ledger path.
fn verify_cli(env: &TestEnv, path: &Path) -> (i32, serde_json::Value) {
    let r = run(env
        .vnx()
        .args(["audit-chain", "verify", "--json", "--ledger"])
        .arg(path));
    let v = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("verify printed bad JSON ({e}): {} {}", r.stdout, r.stderr));
    (r.code, v)
}

/// Writes `data` as a fresh ledger in its own directory, checks verify sees a torn tail
/// starting at `start`, appends through the library, and checks the repair.
fn check_torn_case(env: &TestEnv, case: &str, data: &[u8], start: usize, cli: bool) {
    let dir = env.path().join(format!("case-{case}"));
    fs::create_dir(&dir).unwrap();
    let path = dir.join("t0_receipts.ndjson");
    fs::write(&path, data).unwrap();
    let fragment = &data[start..];
    let lines = complete_lines(&data[..start]);
    let n = lines.len() as u64;

    // A fragment alone (no complete line yet) is an empty, hence unchained, ledger.
    let status = if n == 0 {
        ChainStatus::Unchained
    } else {
        ChainStatus::Verified
    };
    let report = lib_verify(&path);
    assert_eq!(report.status, status, "{case}: {:?}", report.violations);
    assert!(
        report.violations.is_empty(),
        "{case}: {:?}",
        report.violations
    );
    assert_eq!(report.lines, n, "{case}");
    let tail = report
        .torn_tail
        .unwrap_or_else(|| panic!("{case}: no torn tail reported"));
    assert_eq!(
        (tail.line, tail.byte_start, tail.byte_end),
        (n + 1, start as u64, data.len() as u64),
        "{case}: torn tail"
    );
    if cli {
        let (code, v) = verify_cli(env, &path);
        assert_eq!(code, 0, "{case}: {}", brief(&v));
        assert_eq!(v["verified"], true, "{case}: {}", brief(&v));
        assert_eq!(
            v["report"]["status"],
            status.as_str(),
            "{case}: {}",
            brief(&v)
        );
        assert_eq!(violations(&v), vec![], "{case}");
        let t = &v["report"]["torn_tail"];
        assert_eq!(
            (
                t["line"].as_u64(),
                t["byte_start"].as_u64(),
                t["byte_end"].as_u64()
            ),
            (Some(n + 1), Some(start as u64), Some(data.len() as u64)),
            "{case}: {v}"
        );
    }

    let ledger = Ledger::new(&path).with_clock(|| CLOCK.into());
    let outcome = ledger
        .append(&receipt(r#"{"event_type":"probe","case":"after-tear"}"#))
        .unwrap_or_else(|e| panic!("{case}: append after the tear failed: {e}"));
    let repair = outcome
        .repair
        .as_ref()
        .unwrap_or_else(|| panic!("{case}: the append did not repair the torn tail"));
    assert!(
        !outcome.sealed,
        "{case}: a repaired vnx ledger needs no new epoch"
    );
    let q_name = format!("t0_receipts.ndjson.torn-{start}");
    assert_eq!(
        (
            repair.byte_start,
            repair.byte_end,
            repair.sha256.as_str(),
            repair.quarantine.clone()
        ),
        (
            start as u64,
            data.len() as u64,
            sha256_hex(fragment).as_str(),
            dir.join(&q_name)
        ),
        "{case}: repair"
    );
    assert_eq!(
        fs::read(&repair.quarantine).unwrap(),
        fragment,
        "{case}: quarantine content"
    );

    let after = fs::read(&path).unwrap();
    assert_eq!(
        &after[..start],
        &data[..start],
        "{case}: complete lines changed"
    );
    let added = complete_lines(&after[start..]);
    assert_eq!(added.len(), 2, "{case}: expected repair record + receipt");
    assert_eq!(
        *after.last().unwrap(),
        b'\n',
        "{case}: append left a fragment"
    );
    let seqs: Vec<(u64, &str)> = outcome
        .lines
        .iter()
        .map(|l| (l.seq, l.event_type.as_str()))
        .collect();
    assert_eq!(
        seqs,
        vec![(n + 1, "ledger_repair"), (n + 2, "probe")],
        "{case}"
    );
    for (a, (off, line)) in outcome.lines.iter().zip(&added) {
        assert_eq!(a.line_sha256, sha256_hex(line), "{case}: line {}", a.seq);
        assert_eq!(
            a.offset,
            (start + off) as u64,
            "{case}: offset of line {}",
            a.seq
        );
    }

    let rec = parse_object(&case, added[0].1, "repair line");
    assert_eq!(rec["event_type"], "ledger_repair", "{case}");
    let prev = lines
        .last()
        .map_or(GENESIS_HEX.to_owned(), |l| sha256_hex(l.1));
    assert_eq!(
        rec["prev_line_sha256"].as_str(),
        Some(prev.as_str()),
        "{case}"
    );
    let r = &rec["repair"];
    assert_eq!(r["kind"], "torn_tail", "{case}: {r}");
    assert_eq!(r["byte_start"].as_u64(), Some(start as u64), "{case}: {r}");
    assert_eq!(
        r["byte_end"].as_u64(),
        Some(data.len() as u64),
        "{case}: {r}"
    );
    assert_eq!(
        r["length"].as_u64(),
        Some(fragment.len() as u64),
        "{case}: {r}"
    );
    assert_eq!(
        r["sha256"].as_str(),
        Some(repair.sha256.as_str()),
        "{case}: {r}"
    );
    assert_eq!(
        r["quarantine"].as_str(),
        Some(q_name.as_str()),
        "{case}: {r}"
    );
    let probe = parse_object(&case, added[1].1, "probe line");
    assert_eq!(probe["event_type"], "probe", "{case}");
    assert_eq!(
        probe["prev_line_sha256"].as_str(),
        Some(sha256_hex(added[0].1).as_str())
    );

    let report = lib_verify(&path);
    assert_eq!(
        report.status,
        ChainStatus::Verified,
        "{case}: {:?}",
        report.violations
    );
    assert!(report.torn_tail.is_none(), "{case}");
    assert_eq!(report.lines, n + 2, "{case}");
    if cli {
        let (code, v) = verify_cli(env, &path);
        assert_eq!(code, 0, "{case}: {}", brief(&v));
        assert_eq!(v["report"]["status"], "verified", "{case}: {}", brief(&v));
    }
}

#[test]
fn every_torn_tail_is_reported_and_repaired() {
    let env = TestEnv::new();
    let mut cases = 0;

    // Every cut and a spread of zero tails on a 5-line ledger; a sample of both on a
    // 1-line ledger, where the fragment is the whole file.
    for (base_lines, exhaustive) in [(5, true), (1, false)] {
        let src = TestEnv::new();
        src.fill(base_lines);
        let full = fs::read(src.ledger()).unwrap();
        let last_start = complete_lines(&full).last().unwrap().0;
        let last_len = full.len() - 1 - last_start; // without its newline
        // Cuts of the last line: keep 1..=len of its bytes (len = all but the newline).
        for keep in 1..=last_len {
            if !exhaustive && keep > 8 && keep % 11 != 0 && keep != last_len {
                continue;
            }
            let cli = keep == 1 || keep == last_len || keep % 37 == 0;
            let data = &full[..last_start + keep];
            check_torn_case(
                &env,
                &format!("{base_lines}-cut-{keep}"),
                data,
                last_start,
                cli,
            );
            cases += 1;
        }
        // Zeros after a complete ledger (a crash that extended the file but lost the data).
        let step = if exhaustive { 61 } else { 509 };
        let sizes = (1..=64)
            .chain((64..4096).step_by(step).skip(1))
            .chain([4095, 4096]);
        for zeros in sizes {
            if !exhaustive && zeros > 4 && zeros < 64 {
                continue;
            }
            let mut data = full.clone();
            data.resize(full.len() + zeros, 0);
            let cli = zeros == 1 || zeros == 4096 || zeros % 7 == 0;
            check_torn_case(
                &env,
                &format!("{base_lines}-zeros-{zeros}"),
                &data,
                full.len(),
                cli,
            );
            cases += 1;
        }
    }
    eprintln!("torn-tail cases: {cases}");
    assert!(cases > 400, "only {cases} cases");
}

/// Two tears at the same offset: the second quarantine file gets a new name and each repair
/// record names its own file.
#[test]
fn repeated_tears_at_one_offset_keep_every_fragment() {
    let env = TestEnv::new();
    env.fill(3);
    let path = env.ledger();
    let base = fs::read(&path).unwrap();
    let ledger = Ledger::new(&path).with_clock(|| CLOCK.into());
    let mut names = Vec::new();
    for (k, frag) in [&b"{\"event_type\":\"x\""[..], b"\0\0\0", b"{"]
        .iter()
        .enumerate()
    {
        // Tear, repair, then cut back to the base so the next tear starts at the same offset.
        let mut data = base.clone();
        data.extend_from_slice(frag);
        fs::write(&path, &data).unwrap();
        let out = ledger
            .append(&receipt(r#"{"event_type":"probe"}"#))
            .unwrap();
        let rep = out.repair.unwrap();
        assert_eq!(fs::read(&rep.quarantine).unwrap(), *frag, "tear {k}");
        let lines = env.lines();
        let rec: serde_json::Value = serde_json::from_slice(&lines[3]).unwrap();
        let name = rep
            .quarantine
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            rec["repair"]["quarantine"].as_str(),
            Some(name.as_str()),
            "tear {k}"
        );
        assert_eq!(lib_verify(&path).status, ChainStatus::Verified, "tear {k}");
        names.push(name);
        fs::write(&path, &base).unwrap();
    }
    let start = base.len();
    assert_eq!(
        names,
        vec![
            format!("t0_receipts.ndjson.torn-{start}"),
            format!("t0_receipts.ndjson.torn-{start}-2"),
            format!("t0_receipts.ndjson.torn-{start}-3"),
        ]
    );
}

/// A writer that died after moving a fragment aside but before writing its repair record left
/// a quarantine file at the ledger's current end; the next append records it.
#[test]
fn an_orphaned_quarantine_is_recorded_by_the_next_append() {
    let env = TestEnv::new();
    env.fill(3);
    let size = fs::metadata(env.ledger()).unwrap().len();
    let fragment = br#"{"event_type":"task_complete","n":3,"no"#;
    let orphan = env
        .path()
        .join(format!("state/t0_receipts.ndjson.torn-{size}"));
    fs::write(&orphan, fragment).unwrap();
    let outcome = Ledger::new(env.ledger())
        .append(&receipt(r#"{"event_type":"after"}"#))
        .unwrap();
    let repair = outcome.repair.expect("the orphan is recorded");
    assert_eq!(repair.quarantine, orphan);
    assert_eq!(
        (repair.byte_start, repair.byte_end),
        (size, size + fragment.len() as u64)
    );
    assert_eq!(repair.sha256, sha256_hex(fragment));
    let events: Vec<&str> = outcome
        .lines
        .iter()
        .map(|l| l.event_type.as_str())
        .collect();
    assert_eq!(events, ["ledger_repair", "after"]);
    // Recorded once: the following append finds nothing to recover.
    let again = Ledger::new(env.ledger())
        .append(&receipt(r#"{"event_type":"later"}"#))
        .unwrap();
    assert!(again.repair.is_none());
    let (code, v) = verify_json(&env);
    assert_eq!(code, 0, "{v:#}");
}

/// A legacy (unchained) ledger ending in a torn tail: the marker goes before the repair
/// record, so everything vnx adds chains from genesis as VNX requires.
#[test]
fn a_torn_tail_on_a_legacy_ledger_is_repaired_after_a_marker() {
    let env = TestEnv::new();
    fs::write(
        env.ledger(),
        b"{\"event_type\": \"legacy\", \"n\": 1}\n{\"event_type\": \"legacy\", \"n\": 2}\n{\"event_ty",
    )
    .unwrap();
    let outcome = Ledger::new(env.ledger())
        .append(&receipt(r#"{"event_type":"note"}"#))
        .unwrap();
    let events: Vec<&str> = outcome
        .lines
        .iter()
        .map(|l| l.event_type.as_str())
        .collect();
    assert_eq!(events, ["chain_epoch_start", "ledger_repair", "note"]);
    let (code, v) = verify_json(&env);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["report"]["status"], "verified-segmented");
}

/// A writer killed after copying a fragment to quarantine but before cutting it off left
/// the copy; the next append reuses it instead of orphaning it beside a second copy.
#[test]
fn a_quarantine_copy_made_before_the_cut_is_reused() {
    let env = TestEnv::new();
    env.fill(2);
    let size = fs::metadata(env.ledger()).unwrap().len();
    let fragment = b"{\"event_type\":\"half";
    let mut data = fs::read(env.ledger()).unwrap();
    data.extend_from_slice(fragment);
    fs::write(env.ledger(), data).unwrap();
    let copy = env
        .path()
        .join(format!("state/t0_receipts.ndjson.torn-{size}"));
    fs::write(&copy, fragment).unwrap();
    let outcome = Ledger::new(env.ledger())
        .append(&receipt(r#"{"event_type":"next"}"#))
        .unwrap();
    assert_eq!(outcome.repair.unwrap().quarantine, copy);
    assert_eq!(torn_files(&env.path().join("state")).len(), 1);
    assert_eq!(verify_json(&env).0, 0);
}
