//! Crash safety: appenders killed with SIGKILL at random points, every shape of torn tail the
//! next append has to repair, and a write that fails part-way (file-size limit).
//!
//! The kill test is randomised with a seeded xorshift generator; the seed is printed and named
//! in every failure. Rerun a failure with `VNX_CRASH_SEED=<seed> cargo test --test it crash`
//! (timing still differs between runs, so a rerun explores nearby, not identical, kill points).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use vnx::ledger::{ChainStatus, Ledger, VerifyOptions, VerifyReport};

use crate::common::{TestEnv, hermetic, receipt, run, verify_json, violations};

/// SIGKILLs delivered to running appenders the kill test must reach.
const MIN_KILLS: u64 = 200;
/// The kill test stops adding rounds once it has this many kills.
const TARGET_KILLS: u64 = 240;
/// Wall-clock budget for the kill rounds.
const BUDGET: Duration = Duration::from_secs(20);
/// A generation's ledger is checked in full and replaced once it grows past this.
const GENERATION_BYTES: u64 = 8 << 20;

const GENESIS_HEX: &str = "0000000000000000000000000000000000000000000000000000000000000000";

// ---------------------------------------------------------------------------------------------
// Helpers

/// xorshift64* — small, seedable, good enough to pick kill points and payload sizes.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 once so that small seeds still give a well-mixed, non-zero state.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn seed_from_env_or_clock() -> u64 {
    if let Some(s) = std::env::var("VNX_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return s;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    nanos ^ (u64::from(std::process::id()) << 32)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Complete (newline-terminated) lines of `data` as (byte offset, bytes without the newline).
fn complete_lines(data: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' {
            out.push((start, &data[start..i]));
            start = i + 1;
        }
    }
    out
}

/// Where the final fragment (bytes after the last newline) starts.
fn fragment_start(data: &[u8]) -> usize {
    data.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1)
}

fn parse_object(ctx: &dyn fmt::Display, line: &[u8], what: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_else(|e| {
        panic!(
            "{ctx}: {what} is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&line[..line.len().min(300)])
        )
    });
    assert!(v.is_object(), "{ctx}: {what} is not a JSON object");
    v
}

/// A verify report cut down for a failure message: status, counts, torn tail and the first
/// few violations.
fn brief(report: &serde_json::Value) -> String {
    let r = &report["report"];
    let first: Vec<String> = r["violations"]
        .as_array()
        .map(|v| v.iter().take(5).map(ToString::to_string).collect())
        .unwrap_or_default();
    format!(
        "status {} lines {} torn_tail {} violations_total {} first violations [{}]",
        r["status"],
        r["lines"],
        r["torn_tail"],
        r["violations_total"],
        first.join(", ")
    )
}

fn lib_verify(path: &Path) -> VerifyReport {
    vnx::ledger::verify(path, &VerifyOptions::default()).unwrap()
}

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

/// One line `vnx receipts append` acknowledged.
#[derive(Clone, Debug)]
struct Ack {
    seq: u64,
    sha: String,
    event: String,
    /// (writer, i) of a `load` receipt.
    marker: Option<(u64, u64)>,
}

/// The acknowledgements in an appender's stdout: only complete lines count.
fn parse_acks(ctx: &dyn fmt::Display, stdout: &[u8]) -> Vec<(u64, String, String)> {
    let text = String::from_utf8_lossy(stdout);
    let complete = match text.rfind('\n') {
        Some(p) => &text[..p],
        None => "",
    };
    complete
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(
                f.len() == 3 && f[1].len() == 64 && f[1].bytes().all(|b| b.is_ascii_hexdigit()),
                "{ctx}: garbled acknowledgement line {l:?}"
            );
            let seq = f[0]
                .parse()
                .unwrap_or_else(|_| panic!("{ctx}: bad seq in acknowledgement {l:?}"));
            (seq, f[1].to_owned(), f[2].to_owned())
        })
        .collect()
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
fn check_whole_ledger(ctx: &dyn fmt::Display, path: &Path, acked: &BTreeMap<u64, Ack>) -> u64 {
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

// ---------------------------------------------------------------------------------------------
// kill -9 at random points

/// An appender process to start.
enum Job {
    /// `vnx receipts append -` reading an NDJSON file of `bytes` bytes.
    Stream {
        writer: u64,
        file: PathBuf,
        bytes: u64,
    },
    /// `vnx receipts append --receipt JSON`.
    Single { writer: u64, json: String },
}

impl Job {
    fn writer(&self) -> u64 {
        match self {
            Job::Stream { writer, .. } | Job::Single { writer, .. } => *writer,
        }
    }
}

fn pad(rng: &mut Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-_ ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let off = rng.next() as usize;
    (0..len)
        .map(|k| ALPHABET[(off + k * 7) % ALPHABET.len()] as char)
        .collect()
}

/// Mixed sizes: mostly small, some tens of KiB, a few up to 200 KiB.
fn payload_len(rng: &mut Rng) -> usize {
    (match rng.next() % 100 {
        0..70 => rng.range(0, 500),
        70..95 => rng.range(1 << 10, 16 << 10),
        _ => rng.range(50 << 10, 200 << 10),
    }) as usize
}

fn make_stream(rng: &mut Rng, dir: &Path, writer: u64, count: u64) -> Job {
    let mut text = String::new();
    for i in 0..count {
        let n = payload_len(rng);
        text.push_str(&format!(
            "{{\"event_type\":\"load\",\"writer\":{writer},\"i\":{i},\"pad\":\"{}\"}}\n",
            pad(rng, n)
        ));
    }
    let file = dir.join(format!("stream-{writer}.ndjson"));
    let bytes = text.len() as u64;
    fs::write(&file, text).unwrap();
    Job::Stream {
        writer,
        file,
        bytes,
    }
}

fn make_single(rng: &mut Rng, writer: u64) -> Job {
    // Stays well below the 128 KiB limit on one argument.
    let n = if rng.chance(80) {
        rng.range(0, 300)
    } else {
        rng.range(1 << 10, 32 << 10)
    };
    let json = format!(
        "{{\"event_type\":\"load\",\"writer\":{writer},\"i\":0,\"pad\":\"{}\"}}",
        pad(rng, n as usize)
    );
    Job::Single { writer, json }
}

fn spawn(env: &TestEnv, job: &Job) -> Child {
    let mut cmd = env.vnx_ledger(&["receipts", "append"]);
    match job {
        Job::Stream { file, .. } => {
            cmd.arg("-").stdin(File::open(file).unwrap());
        }
        Job::Single { json, .. } => {
            cmd.arg("--receipt").arg(json).stdin(Stdio::null());
        }
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Turns an appender's acknowledgements into `Ack`s: the k-th `load` line is receipt k.
fn acks_of(ctx: &dyn fmt::Display, job: &Job, stdout: &[u8]) -> Vec<Ack> {
    let mut next_i = 0;
    parse_acks(ctx, stdout)
        .into_iter()
        .map(|(seq, sha, event)| {
            let marker = (event == "load").then(|| {
                next_i += 1;
                (job.writer(), next_i - 1)
            });
            Ack {
                seq,
                sha,
                event,
                marker,
            }
        })
        .collect()
}

/// What the kill test ran into (printed; run with `--nocapture` to see it).
#[derive(Default, Debug)]
struct Stats {
    rounds: u64,
    /// SIGKILLs sent to appenders that were still running.
    kills: u64,
    /// Of those, kills sent just after the appender's write was seen to begin.
    write_triggered_kills: u64,
    /// Killed appenders that had acknowledged nothing yet.
    killed_before_ack: u64,
    /// Appenders that finished before their kill point.
    completed: u64,
    /// Torn tails found after a round (repaired by the checking append).
    torn_tails_left: u64,
    /// Torn tails an appender waiting on the lock repaired (its `ledger_repair` acks).
    repairs_by_appenders: u64,
    /// Quarantine files no `ledger_repair` record names (see `check_whole_ledger`).
    unrecorded_quarantines: u64,
    generations: u64,
    acked: u64,
}

struct Ctx<'a> {
    seed: u64,
    generation: u64,
    round: u64,
    dir: &'a Path,
}

impl fmt::Display for Ctx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[seed {} generation {} round {} dir {}; rerun with VNX_CRASH_SEED={}]",
            self.seed,
            self.generation,
            self.round,
            self.dir.display(),
            self.seed
        )
    }
}

/// After a round: acknowledged lines are intact, the next append repairs any torn tail
/// exactly and the ledger verifies.
fn check_round(
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
    let probe_line = if fragment.is_empty() {
        assert!(
            out["repair"].is_null(),
            "{ctx}: repair without a torn tail: {}",
            out["repair"]
        );
        assert_eq!(added.len(), 1, "{ctx}: one receipt should add one line");
        added[0].1
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

/// Hands a waiting `vnx receipts append -` its receipts (once).
fn feed_follower(follower: &mut Option<(Child, Job)>) {
    if let Some((child, Job::Stream { file, .. })) = follower
        && let Some(mut stdin) = child.stdin.take()
    {
        stdin.write_all(&fs::read(file).unwrap()).unwrap();
    }
}

/// How long an unkilled appender takes, to spread kill points over its whole life.
fn time_job(env: &TestEnv, job: &Job) -> (Duration, Vec<u8>) {
    let t = Instant::now();
    let out = spawn(env, job).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (t.elapsed(), out.stdout)
}

#[test]
fn sigkill_at_random_points_loses_no_acknowledged_receipt() {
    let seed = seed_from_env_or_clock();
    eprintln!("crash kill test seed: {seed} (rerun with VNX_CRASH_SEED={seed})");
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    let mut writer = 0u64;
    let started = Instant::now();

    let mut env = TestEnv::new();
    let mut acked: BTreeMap<u64, Ack> = BTreeMap::new();

    // Calibrate how long appenders live when nobody kills them: a fixed start-up cost (a
    // single append) plus a cost per byte of input (streams).
    let mut single_us = u64::MAX;
    let mut samples = Vec::new();
    for k in 0..6 {
        writer += 1;
        let job = if k % 2 == 0 {
            make_single(&mut rng, writer)
        } else {
            make_stream(&mut rng, env.path(), writer, 200)
        };
        let (d, stdout) = time_job(&env, &job);
        let ctx = Ctx {
            seed,
            generation: 0,
            round: 0,
            dir: env.path(),
        };
        let new = acks_of(&ctx, &job, &stdout);
        check_round(&ctx, &env, 0, &new, &mut acked, &mut stats);
        match job {
            Job::Single { .. } => single_us = single_us.min(d.as_micros() as u64),
            Job::Stream { bytes, .. } => samples.push((d.as_micros() as u64, bytes)),
        }
    }
    let single_us = single_us.max(500);
    let ns_per_byte = samples
        .iter()
        .map(|&(us, bytes)| us.saturating_sub(single_us) as f64 * 1000.0 / bytes as f64)
        .fold(1.0, f64::max);
    let stream_life = |bytes: u64| single_us as f64 + bytes as f64 * ns_per_byte / 1000.0;
    eprintln!("calibration: start-up {single_us} us, {ns_per_byte:.1} ns per input byte");

    while stats.kills < TARGET_KILLS && started.elapsed() < BUDGET {
        stats.rounds += 1;
        let round = stats.rounds;
        let ctx = Ctx {
            seed,
            generation: stats.generations,
            round,
            dir: env.path(),
        };
        let size_before = fs::metadata(env.ledger()).map_or(0, |m| m.len());

        let mut procs = Vec::new();
        let (mut children, killed): (Vec<Child>, Vec<bool>) = if rng.chance(50) {
            // One stream, killed a random moment after its write is seen to begin: lands in
            // the write (torn tail), in the fdatasync, or while it acknowledges.
            writer += 1;
            let count = rng.range(20, 250);
            let job = make_stream(&mut rng, env.path(), writer, count);
            // Copying into the page cache takes well under a nanosecond a byte: aim mostly
            // inside the write, sometimes just past it.
            let Job::Stream { bytes, .. } = job else {
                unreachable!()
            };
            let extra = Duration::from_micros(rng.range(0, bytes / 3000));
            // Sometimes another appender is already waiting on the lock when the kill lands,
            // and must repair whatever the dead one left. It is started first and blocks reading its receipt from a pipe; the receipt is
            // fed once the write is seen, so it reaches the lock while the stream holds it.
            writer += 1;
            let mut follower = rng.chance(40).then(|| {
                let f = make_stream(&mut rng, env.path(), writer, 1);
                let mut cmd = env.vnx_ledger(&["receipts", "append"]);
                cmd.arg("-")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                (cmd.spawn().unwrap(), f)
            });
            let mut child = spawn(&env, &job);
            let give_up = Instant::now() + Duration::from_secs(10);
            let mut killed = false;
            while child.try_wait().unwrap().is_none() {
                let grew = fs::metadata(env.ledger()).is_ok_and(|m| m.len() > size_before);
                if grew || Instant::now() > give_up {
                    let kill_at = Instant::now() + extra;
                    feed_follower(&mut follower);
                    while Instant::now() < kill_at {
                        std::hint::spin_loop();
                    }
                    if child.try_wait().unwrap().is_none() {
                        child.kill().unwrap();
                        killed = true;
                        stats.kills += 1;
                        stats.write_triggered_kills += 1;
                    }
                    break;
                }
                std::hint::spin_loop();
            }
            feed_follower(&mut follower); // if the stream finished before it was seen writing
            procs.push(job);
            let mut children = vec![child];
            if let Some((c, f)) = follower {
                procs.push(f);
                children.push(c);
            }
            let n = children.len();
            (children, [killed, false][..n].to_vec())
        } else {
            // 1–3 appenders at once, each killed at its own random point in its life: lock
            // wait, reading, chaining, writing, fdatasync, acknowledging, or not at all.
            let mut delays = Vec::new();
            for _ in 0..[1, 1, 2, 3][rng.range(0, 3) as usize] {
                writer += 1;
                if rng.chance(60) {
                    let count = rng.range(20, 250);
                    let job = make_stream(&mut rng, env.path(), writer, count);
                    let Job::Stream { bytes, .. } = job else {
                        unreachable!()
                    };
                    let life = stream_life(bytes) as u64;
                    delays.push(rng.range(0, life * 11 / 10));
                    procs.push(job);
                } else {
                    delays.push(rng.range(0, single_us * 3 / 2));
                    procs.push(make_single(&mut rng, writer));
                }
            }
            let t0 = Instant::now();
            let mut children: Vec<Child> = procs.iter().map(|job| spawn(&env, job)).collect();
            let mut order: Vec<usize> = (0..procs.len()).collect();
            order.sort_by_key(|&i| delays[i]);
            let mut killed = vec![false; procs.len()];
            for i in order {
                let when = t0 + Duration::from_micros(delays[i]);
                if let Some(wait) = when.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                if children[i].try_wait().unwrap().is_none() {
                    children[i].kill().unwrap();
                    killed[i] = true;
                    stats.kills += 1;
                }
            }
            (children, killed)
        };
        let mut new_acks = Vec::new();
        for (i, child) in children.drain(..).enumerate() {
            let out = child.wait_with_output().unwrap();
            if !killed[i] {
                assert!(
                    out.status.success(),
                    "{ctx}: unkilled appender failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                stats.completed += 1;
            }
            let acks = acks_of(&ctx, &procs[i], &out.stdout);
            if killed[i] && acks.is_empty() {
                stats.killed_before_ack += 1;
            }
            stats.repairs_by_appenders +=
                acks.iter().filter(|a| a.event == "ledger_repair").count() as u64;
            new_acks.extend(acks);
        }
        stats.acked += new_acks.len() as u64;
        for job in &procs {
            if let Job::Stream { file, .. } = job {
                fs::remove_file(file).unwrap();
            }
        }
        check_round(&ctx, &env, round, &new_acks, &mut acked, &mut stats);

        if fs::metadata(env.ledger()).map_or(0, |m| m.len()) > GENERATION_BYTES {
            stats.unrecorded_quarantines += check_whole_ledger(&ctx, &env.ledger(), &acked);
            stats.generations += 1;
            env = TestEnv::new();
            acked.clear();
        }
    }
    let ctx = Ctx {
        seed,
        generation: stats.generations,
        round: stats.rounds,
        dir: env.path(),
    };
    stats.unrecorded_quarantines += check_whole_ledger(&ctx, &env.ledger(), &acked);
    eprintln!("crash kill test: {stats:?} in {:?}", started.elapsed());
    // A writer killed between moving a fragment aside and recording it is caught up by the
    // next append, so every quarantine file ends up named by a repair record.
    assert_eq!(
        stats.unrecorded_quarantines, 0,
        "{ctx}: quarantine files without a repair record ({stats:?})"
    );
    assert!(
        stats.kills >= MIN_KILLS,
        "{ctx}: only {} kills in {:?} ({stats:?})",
        stats.kills,
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Every torn tail

const CLOCK: &str = "2026-11-21T10:00:00.000000Z";

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

// ---------------------------------------------------------------------------------------------
// A failing write

/// `vnx receipts append …` under `ulimit -f blocks` (512-byte blocks).
fn append_with_file_limit(
    env: &TestEnv,
    blocks: u64,
    args: &[&str],
    stdin: Option<&str>,
) -> crate::common::Run {
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
        Some(text) => {
            let file = env.path().join("limited-stdin.ndjson");
            fs::write(&file, text).unwrap();
            run(cmd.stdin(File::open(&file).unwrap()))
        }
    }
}

fn torn_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".torn-"))
        .collect()
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
        r.code, 1,
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
    assert_eq!(r.code, 1, "{}", r.stderr);
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
    assert_eq!(r.code, 1, "the append should fail: {}", r.stderr);
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
