//! What must hold after each round of kills and for a whole ledger: acknowledged lines intact,
//! torn tails reported and repaired exactly, repair records matching their quarantine files.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use super::Stats;
use super::appenders::Ack;
use crate::common::{TestEnv, brief, run, verify_json, violations};
use crate::crash::{GENESIS_HEX, complete_lines, lib_verify, parse_object, sha256_hex, torn_files};

/// Where the final fragment (bytes after the last newline) starts.
fn fragment_start(data: &[u8]) -> usize {
    memchr::memrchr(b'\n', data).map_or(0, |p| p + 1)
}

/// Checks that the acknowledged line is in `lines` at its seq with its hash and marker.
fn check_ack(ctx: &dyn fmt::Display, lines: &[(usize, &[u8])], a: &Ack) {
    let Some(&(_, line)) = usize::try_from(a.seq - 1).ok().and_then(|i| lines.get(i)) else {
        panic!(
            "{ctx}: acknowledged seq {} ({}, {:?}) is lost: the ledger has only {} complete lines",
            a.seq,
            a.event,
            a.marker,
            lines.len()
        );
    };
    assert_eq!(
        sha256_hex(line),
        a.sha,
        "{ctx}: line {} does not have the acknowledged SHA-256 (ack for {} {:?}); line is {:?}",
        a.seq,
        a.event,
        a.marker,
        String::from_utf8_lossy(&line[..line.len().min(200)])
    );
    let v = parse_object(ctx, line, &format!("acknowledged line {}", a.seq));
    assert_eq!(
        v["seq"].as_u64(),
        Some(a.seq),
        "{ctx}: seq field of line {}",
        a.seq
    );
    assert_eq!(
        v["event_type"].as_str(),
        Some(a.event.as_str()),
        "{ctx}: line {}",
        a.seq
    );
    if let Some((w, i)) = a.marker {
        assert_eq!(
            (v["writer"].as_u64(), v["i"].as_u64()),
            (Some(w), Some(i)),
            "{ctx}: line {} is not the receipt acknowledged there",
            a.seq
        );
    }
}

/// Whole-ledger invariants: every line a JSON object with `seq` = line number, each `load`
/// receipt at most once, every acknowledged line intact, every `ledger_repair` record at the
/// offset it names with its quarantine file holding exactly the bytes it describes.
///
/// Returns how many quarantine files no repair record names (left by an appender killed
/// after it moved a fragment aside but before its record was complete).
pub(super) fn check_whole_ledger(
    ctx: &dyn fmt::Display,
    path: &Path,
    acked: &BTreeMap<u64, Ack>,
) -> u64 {
    let data = fs::read(path).unwrap_or_default();
    let lines = complete_lines(&data);
    let mut markers = HashSet::new();
    let mut named = HashSet::new();
    for (n, &(offset, line)) in lines.iter().enumerate() {
        let v = parse_object(ctx, line, &format!("line {}", n + 1));
        assert_eq!(
            v["seq"].as_u64(),
            Some(n as u64 + 1),
            "{ctx}: seq of line {}",
            n + 1
        );
        let prev = if n == 0 {
            GENESIS_HEX.to_owned()
        } else {
            sha256_hex(lines[n - 1].1)
        };
        assert_eq!(
            v["prev_line_sha256"].as_str(),
            Some(prev.as_str()),
            "{ctx}: prev_line_sha256 of line {}",
            n + 1
        );
        match v["event_type"].as_str() {
            Some("load") => {
                let m = (v["writer"].as_u64().unwrap(), v["i"].as_u64().unwrap());
                assert!(
                    markers.insert(m),
                    "{ctx}: receipt {m:?} appears twice (line {})",
                    n + 1
                );
            }
            Some("ledger_repair") => {
                let r = &v["repair"];
                assert_eq!(r["kind"], "torn_tail", "{ctx}: line {}", n + 1);
                assert_eq!(
                    r["byte_start"].as_u64(),
                    Some(offset as u64),
                    "{ctx}: repair record on line {} does not sit where the fragment started",
                    n + 1
                );
                let (start, end) = (
                    r["byte_start"].as_u64().unwrap(),
                    r["byte_end"].as_u64().unwrap(),
                );
                assert_eq!(
                    r["length"].as_u64(),
                    Some(end - start),
                    "{ctx}: line {}",
                    n + 1
                );
                named.insert(r["quarantine"].as_str().unwrap().to_owned());
                let q = path
                    .parent()
                    .unwrap()
                    .join(r["quarantine"].as_str().unwrap());
                let frag = fs::read(&q).unwrap_or_else(|e| {
                    panic!(
                        "{ctx}: quarantine {} named on line {} unreadable: {e}",
                        q.display(),
                        n + 1
                    )
                });
                assert_eq!(
                    frag.len() as u64,
                    end - start,
                    "{ctx}: {} length",
                    q.display()
                );
                assert_eq!(
                    r["sha256"].as_str(),
                    Some(sha256_hex(&frag).as_str()),
                    "{ctx}: {} content does not match its repair record",
                    q.display()
                );
            }
            _ => {}
        }
    }
    for a in acked.values() {
        check_ack(ctx, &lines, a);
    }
    torn_files(path.parent().unwrap())
        .iter()
        .filter(|n| !named.contains(*n))
        .count() as u64
}

/// After a round: acknowledged lines are intact, the next append repairs any torn tail
/// exactly and the ledger verifies.
pub(super) fn check_round(
    ctx: &dyn fmt::Display,
    env: &TestEnv,
    round: u64,
    new_acks: &[Ack],
    acked: &mut BTreeMap<u64, Ack>,
    stats: &mut Stats,
) {
    let path = env.ledger();
    let data = fs::read(&path).unwrap_or_default();
    let lines = complete_lines(&data);
    for a in new_acks {
        check_ack(ctx, &lines, a);
        if let Some(old) = acked.insert(a.seq, a.clone()) {
            panic!(
                "{ctx}: seq {} acknowledged twice (fork): {old:?} and {a:?}",
                a.seq
            );
        }
    }

    let start = fragment_start(&data);
    let fragment = data[start..].to_vec();
    if !fragment.is_empty() {
        stats.torn_tails_left += 1;
        let report = lib_verify(&path);
        assert!(
            report.status.is_ok(),
            "{ctx}: torn tail made verify fail: {:?}",
            &report.violations[..report.violations.len().min(5)]
        );
        let tail = report
            .torn_tail
            .unwrap_or_else(|| panic!("{ctx}: verify did not report the torn tail at {start}"));
        assert_eq!(
            (tail.byte_start, tail.byte_end, tail.line),
            (start as u64, data.len() as u64, lines.len() as u64 + 1),
            "{ctx}: torn tail reported"
        );
    }

    // The next append: must succeed and repair the tail, if any.
    let probe = format!(r#"{{"event_type":"probe","round":{round}}}"#);
    let r = run(env
        .vnx_ledger(&["receipts", "append"])
        .args(["--json", "--receipt", &probe]));
    assert_eq!(
        r.code, 0,
        "{ctx}: append after the kills failed: {}",
        r.stderr
    );
    let out: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{ctx}: bad --json output ({e}): {}", r.stdout));
    let after = fs::read(&path).unwrap();
    assert!(
        after.len() >= start && after[..start] == data[..start],
        "{ctx}: the append changed bytes before offset {start}"
    );
    let added = complete_lines(&after[start..]);
    assert_eq!(
        after.last(),
        Some(&b'\n'),
        "{ctx}: the append left a fragment"
    );
    let prev_line = lines
        .last()
        .map_or(GENESIS_HEX.to_owned(), |l| sha256_hex(l.1));
    let probe_line = if fragment.is_empty() && out["repair"].is_null() {
        assert_eq!(added.len(), 1, "{ctx}: one receipt should add one line");
        added[0].1
    } else if fragment.is_empty() {
        // No torn tail, but a writer was killed after moving one aside and before recording
        // it: the checking append records that orphaned quarantine first. It must start at
        // the old end of the ledger and hold exactly what its record says.
        let rep = &out["repair"];
        assert_eq!(
            rep["byte_start"].as_u64(),
            Some(start as u64),
            "{ctx}: {rep}"
        );
        let q = PathBuf::from(rep["quarantine"].as_str().unwrap());
        let held =
            fs::read(&q).unwrap_or_else(|e| panic!("{ctx}: quarantine {}: {e}", q.display()));
        assert_eq!(
            rep["byte_end"].as_u64(),
            Some((start + held.len()) as u64),
            "{ctx}: {rep}"
        );
        assert_eq!(
            rep["sha256"].as_str(),
            Some(sha256_hex(&held).as_str()),
            "{ctx}: {rep}"
        );
        assert_eq!(
            added.len(),
            2,
            "{ctx}: expected the recovered repair and the receipt"
        );
        let v = parse_object(ctx, added[0].1, "recovered repair line");
        assert_eq!(v["event_type"], "ledger_repair", "{ctx}: {v}");
        added[1].1
    } else {
        // Quarantined exactly, recorded, and nothing glued onto the fragment.
        let rep = &out["repair"];
        assert_eq!(
            rep["byte_start"].as_u64(),
            Some(start as u64),
            "{ctx}: repair {rep}"
        );
        assert_eq!(
            rep["byte_end"].as_u64(),
            Some(data.len() as u64),
            "{ctx}: repair {rep}"
        );
        assert_eq!(
            rep["sha256"].as_str(),
            Some(sha256_hex(&fragment).as_str()),
            "{ctx}: {rep}"
        );
        let q = PathBuf::from(rep["quarantine"].as_str().unwrap());
        assert_eq!(
            fs::read(&q).unwrap_or_else(|e| panic!("{ctx}: quarantine {}: {e}", q.display())),
            fragment,
            "{ctx}: quarantine file {} does not hold exactly the fragment",
            q.display()
        );
        assert!(
            r.stderr.contains("quarantined a torn tail"),
            "{ctx}: stderr {}",
            r.stderr
        );
        assert_eq!(
            added.len(),
            2,
            "{ctx}: expected a repair record and the receipt"
        );
        let v = parse_object(ctx, added[0].1, "repair line");
        assert_eq!(
            v["event_type"], "ledger_repair",
            "{ctx}: line at {start} is {v}"
        );
        assert_eq!(
            v["seq"].as_u64(),
            Some(lines.len() as u64 + 1),
            "{ctx}: repair seq"
        );
        assert_eq!(
            v["prev_line_sha256"].as_str(),
            Some(prev_line.as_str()),
            "{ctx}"
        );
        let rec = &v["repair"];
        assert_eq!(rec["kind"], "torn_tail", "{ctx}");
        assert_eq!(
            rec["byte_start"].as_u64(),
            Some(start as u64),
            "{ctx}: {rec}"
        );
        assert_eq!(
            rec["byte_end"].as_u64(),
            Some(data.len() as u64),
            "{ctx}: {rec}"
        );
        assert_eq!(
            rec["length"].as_u64(),
            Some(fragment.len() as u64),
            "{ctx}: {rec}"
        );
        assert_eq!(rec["sha256"], rep["sha256"], "{ctx}: {rec}");
        assert_eq!(
            rec["quarantine"].as_str(),
            q.file_name().and_then(|n| n.to_str()),
            "{ctx}: {rec}"
        );
        added[1].1
    };
    let v = parse_object(ctx, probe_line, "probe line");
    assert_eq!(v["event_type"], "probe", "{ctx}");
    assert_eq!(v["round"].as_u64(), Some(round), "{ctx}");

    // The probe's own acknowledgements (--json) hold too.
    let after_lines = complete_lines(&after);
    for l in out["lines"].as_array().unwrap() {
        let a = Ack {
            seq: l["seq"].as_u64().unwrap(),
            sha: l["line_sha256"].as_str().unwrap().to_owned(),
            event: l["event_type"].as_str().unwrap().to_owned(),
            marker: None,
        };
        check_ack(ctx, &after_lines, &a);
        assert!(
            acked.insert(a.seq, a).is_none(),
            "{ctx}: probe seq acknowledged twice"
        );
    }

    let (code, report) = verify_json(env);
    assert_eq!(
        code,
        0,
        "{ctx}: verify after the append: {}",
        brief(&report)
    );
    assert_eq!(
        report["report"]["status"],
        "verified",
        "{ctx}: {}",
        brief(&report)
    );
    assert_eq!(violations(&report), vec![], "{ctx}");
    assert!(
        report["report"]["torn_tail"].is_null(),
        "{ctx}: {}",
        brief(&report)
    );
    assert_eq!(
        report["report"]["lines"].as_u64(),
        Some(after_lines.len() as u64),
        "{ctx}"
    );
}
