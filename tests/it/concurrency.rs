//! Concurrent appenders: separate `vnx` processes and threads of one process share the ledger
//! through the append lock; every acknowledged receipt lands exactly once, in one chain.

use std::collections::HashMap;
use std::fs;
use std::sync::Barrier;

use sha2::{Digest, Sha256};
use vnx::ledger::Ledger;

use crate::common::{TestEnv, brief, receipt, run, run_with_stdin, verify_json, violations};

/// One acknowledged line and the receipt it was for.
#[derive(Clone, Debug)]
struct Ack {
    seq: u64,
    sha: String,
    writer: u64,
    i: u64,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn load(writer: u64, i: u64) -> String {
    format!(r#"{{"event_type":"load","writer":{writer},"i":{i}}}"#)
}

/// `seq\tsha\tevent` lines as (seq, sha, event).
fn parse_acks(stdout: &str) -> Vec<(u64, String, String)> {
    stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 3, "bad acknowledgement line {l:?}");
            (f[0].parse().unwrap(), f[1].to_owned(), f[2].to_owned())
        })
        .collect()
}

/// Everything the ledger must look like after `writers` × `per_writer` concurrent appends
/// whose acknowledgements are `acks`.
fn check_ledger(env: &TestEnv, acks: &[Ack], writers: u64, per_writer: u64) {
    let total = writers * per_writer;
    assert_eq!(acks.len() as u64, total, "acknowledged receipts");

    let (code, report) = verify_json(env);
    assert_eq!(code, 0, "verify: {}", brief(&report));
    assert_eq!(report["report"]["status"], "verified", "{}", brief(&report));
    assert_eq!(violations(&report), vec![], "{}", brief(&report));
    assert!(
        report["report"]["torn_tail"].is_null(),
        "{}",
        brief(&report)
    );
    assert_eq!(
        report["report"]["lines"].as_u64(),
        Some(total),
        "{}",
        brief(&report)
    );

    let data = fs::read(env.ledger()).unwrap();
    assert_eq!(data.last(), Some(&b'\n'), "the ledger ends in a fragment");
    let lines = env.lines();
    assert_eq!(
        lines.len() as u64,
        total,
        "the ledger has one line per acknowledged receipt"
    );

    // Every line a complete object (no interleaving), seq 1..=N in order (no fork), chained.
    let mut at: HashMap<(u64, u64), u64> = HashMap::new();
    let mut prev = "0".repeat(64);
    for (n, line) in lines.iter().enumerate() {
        let seq = n as u64 + 1;
        let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_else(|e| {
            panic!(
                "line {seq} is not one JSON object ({e}): {}",
                String::from_utf8_lossy(line)
            )
        });
        assert!(v.is_object(), "line {seq} is not an object");
        assert_eq!(v["seq"].as_u64(), Some(seq), "line {seq}: {v}");
        assert_eq!(v["event_type"], "load", "line {seq}: {v}");
        assert_eq!(
            v["prev_line_sha256"].as_str(),
            Some(prev.as_str()),
            "line {seq}"
        );
        prev = sha256_hex(line);
        let m = (v["writer"].as_u64().unwrap(), v["i"].as_u64().unwrap());
        assert!(
            m.0 < writers && m.1 < per_writer,
            "line {seq}: unexpected receipt {m:?}"
        );
        if let Some(first) = at.insert(m, seq) {
            panic!("receipt {m:?} appears twice: lines {first} and {seq}");
        }
    }
    assert_eq!(
        at.len() as u64,
        total,
        "every (writer, i) appears exactly once"
    );

    // Every acknowledgement names the line that holds its receipt.
    for a in acks {
        let line = lines
            .get(a.seq as usize - 1)
            .unwrap_or_else(|| panic!("acknowledged seq {} is missing: {a:?}", a.seq));
        assert_eq!(
            sha256_hex(line),
            a.sha,
            "line {} is not the acknowledged one: {a:?}",
            a.seq
        );
        assert_eq!(
            at.get(&(a.writer, a.i)),
            Some(&a.seq),
            "receipt of {a:?} is elsewhere"
        );
    }
}

/// How a process-writer hands its receipts to `vnx receipts append`.
#[derive(Clone, Copy)]
enum Mode {
    /// One `--receipt` call per receipt.
    Single,
    /// `-` streams of `batch` receipts; `json` selects `--json` output.
    Stream { batch: u64, json: bool },
}

fn process_writer(env: &TestEnv, writer: u64, per_writer: u64, mode: Mode) -> Vec<Ack> {
    let mut acks = Vec::new();
    match mode {
        Mode::Single => {
            for i in 0..per_writer {
                let r = run(env
                    .vnx_ledger(&["receipts", "append"])
                    .args(["--receipt", &load(writer, i)]));
                assert_eq!(r.code, 0, "writer {writer} receipt {i}: {}", r.stderr);
                let got = parse_acks(&r.stdout);
                assert_eq!(got.len(), 1, "writer {writer} receipt {i}: {}", r.stdout);
                let (seq, sha, event) = got.into_iter().next().unwrap();
                assert_eq!(event, "load");
                acks.push(Ack {
                    seq,
                    sha,
                    writer,
                    i,
                });
            }
        }
        Mode::Stream { batch, json } => {
            for first in (0..per_writer).step_by(batch as usize) {
                let ids: Vec<u64> = (first..(first + batch).min(per_writer)).collect();
                let input: String = ids.iter().map(|&i| load(writer, i) + "\n").collect();
                let mut cmd = env.vnx_ledger(&["receipts", "append"]);
                cmd.arg("-");
                if json {
                    cmd.arg("--json");
                }
                let r = run_with_stdin(cmd, input.as_bytes());
                let stdout = r.stdout;
                assert_eq!(r.code, 0, "writer {writer} stream at {first}: {}", r.stderr);
                let got: Vec<(u64, String)> = if json {
                    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                    assert!(v["repair"].is_null() && v["sealed"] == false, "{v}");
                    v["lines"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|l| {
                            assert_eq!(l["event_type"], "load", "{l}");
                            (
                                l["seq"].as_u64().unwrap(),
                                l["line_sha256"].as_str().unwrap().into(),
                            )
                        })
                        .collect()
                } else {
                    parse_acks(&stdout)
                        .into_iter()
                        .map(|(seq, sha, event)| {
                            assert_eq!(event, "load");
                            (seq, sha)
                        })
                        .collect()
                };
                assert_eq!(
                    got.len(),
                    ids.len(),
                    "writer {writer} stream at {first}: {stdout}"
                );
                // A group commit is contiguous.
                for w in got.windows(2) {
                    assert_eq!(w[1].0, w[0].0 + 1, "writer {writer}: batch not contiguous");
                }
                for ((seq, sha), &i) in got.into_iter().zip(&ids) {
                    acks.push(Ack {
                        seq,
                        sha,
                        writer,
                        i,
                    });
                }
            }
        }
    }
    acks
}

#[test]
fn processes_appending_at_once_form_one_chain() {
    const WRITERS: u64 = 8;
    const PER_WRITER: u64 = 40;
    let env = TestEnv::new();
    let modes = [
        Mode::Single,
        Mode::Single,
        Mode::Single,
        Mode::Single,
        Mode::Single,
        Mode::Stream {
            batch: 1,
            json: false,
        },
        Mode::Stream {
            batch: 10,
            json: false,
        },
        Mode::Stream {
            batch: 7,
            json: true,
        },
    ];
    let start = Barrier::new(WRITERS as usize);
    let acks: Vec<Ack> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (env, start, mode) = (&env, &start, modes[w as usize]);
                s.spawn(move || {
                    start.wait();
                    process_writer(env, w, PER_WRITER, mode)
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    check_ledger(&env, &acks, WRITERS, PER_WRITER);
}

#[test]
fn threads_appending_through_the_library_form_one_chain() {
    const WRITERS: u64 = 8;
    const PER_WRITER: u64 = 50;
    let env = TestEnv::new();
    let shared = Ledger::new(env.ledger());
    let start = Barrier::new(WRITERS as usize);
    let acks: Vec<Ack> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (env, shared, start) = (&env, &shared, &start);
                s.spawn(move || {
                    // Half the threads share one handle, half open their own.
                    let own = Ledger::new(env.ledger());
                    let ledger = if w % 2 == 0 { shared } else { &own };
                    start.wait();
                    (0..PER_WRITER)
                        .map(|i| {
                            let out = ledger
                                .append(&receipt(&load(w, i)))
                                .unwrap_or_else(|e| panic!("thread {w} receipt {i}: {e}"));
                            assert!(out.repair.is_none() && !out.sealed, "{out:?}");
                            assert_eq!(out.lines.len(), 1, "{out:?}");
                            let a = &out.lines[0];
                            assert_eq!(a.event_type, "load");
                            Ack {
                                seq: a.seq,
                                sha: a.line_sha256.clone(),
                                writer: w,
                                i,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    check_ledger(&env, &acks, WRITERS, PER_WRITER);
}

/// Appenders racing onto a torn tail: exactly one of them repairs it, once.
#[test]
fn racing_appenders_repair_a_torn_tail_once() {
    const WRITERS: u64 = 8;
    let env = TestEnv::new();
    env.fill(3);
    let complete = fs::read(env.ledger()).unwrap();
    let fragment = br#"{"event_type":"task_complete","n":3,"no"#;
    let mut data = complete.clone();
    data.extend_from_slice(fragment);
    fs::write(env.ledger(), &data).unwrap();

    let start = Barrier::new(WRITERS as usize);
    let outs: Vec<(u64, crate::common::Run)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (env, start) = (&env, &start);
                s.spawn(move || {
                    let mut cmd = env.vnx_ledger(&["receipts", "append"]);
                    cmd.args(["--receipt", &load(w, 0)]);
                    start.wait();
                    (w, run(&mut cmd))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut repairs = 0;
    for (w, r) in &outs {
        assert_eq!(r.code, 0, "writer {w}: {}", r.stderr);
        let acks = parse_acks(&r.stdout);
        if acks.iter().any(|a| a.2 == "ledger_repair") {
            repairs += 1;
            assert_eq!(acks.len(), 2, "writer {w}: {}", r.stdout);
            assert_eq!(
                acks[0].0, 4,
                "the repair record follows the 3 complete lines"
            );
            assert!(r.stderr.contains("quarantined a torn tail"), "{}", r.stderr);
        } else {
            assert_eq!(acks.len(), 1, "writer {w}: {}", r.stdout);
        }
    }
    assert_eq!(repairs, 1, "exactly one appender repairs the tail");

    let after = fs::read(env.ledger()).unwrap();
    assert_eq!(
        &after[..complete.len()],
        &complete[..],
        "complete lines changed"
    );
    let lines = env.lines();
    assert_eq!(lines.len() as u64, 3 + 1 + WRITERS);
    let rec: serde_json::Value = serde_json::from_slice(&lines[3]).unwrap();
    assert_eq!(rec["event_type"], "ledger_repair", "{rec}");
    let q_name = format!("t0_receipts.ndjson.torn-{}", complete.len());
    assert_eq!(
        rec["repair"]["quarantine"].as_str(),
        Some(q_name.as_str()),
        "{rec}"
    );
    assert_eq!(
        rec["repair"]["sha256"].as_str(),
        Some(sha256_hex(fragment).as_str())
    );
    let state = env.path().join("state");
    assert_eq!(fs::read(state.join(&q_name)).unwrap(), fragment);
    let torn: Vec<_> = fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".torn-"))
        .collect();
    assert_eq!(torn, vec![q_name], "exactly one quarantine file");
    let mut writers: Vec<u64> = lines[4..]
        .iter()
        .map(|l| {
            serde_json::from_slice::<serde_json::Value>(l).unwrap()["writer"]
                .as_u64()
                .unwrap()
        })
        .collect();
    writers.sort_unstable();
    assert_eq!(writers, (0..WRITERS).collect::<Vec<_>>());

    let (code, report) = verify_json(&env);
    assert_eq!(code, 0, "{}", brief(&report));
    assert_eq!(report["report"]["status"], "verified", "{}", brief(&report));
    assert!(
        report["report"]["torn_tail"].is_null(),
        "{}",
        brief(&report)
    );
}
