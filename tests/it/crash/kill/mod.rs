//! Appenders killed with SIGKILL at random points in their life: no acknowledged receipt is
//! lost, every torn tail they leave is reported and repaired, and the chain stays intact.
//!
//! The kill test is randomised with a seeded xorshift generator; the seed is printed and named
//! in every failure. Rerun a failure with `VNX_CRASH_SEED=<seed> cargo test --test it crash`
//! (timing still differs between runs, so a rerun explores nearby, not identical, kill points).

mod appenders;
mod invariants;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use appenders::{Ack, Job, Rng, acks_of, make_single, make_stream, seed_from_env_or_clock, spawn};
use invariants::{check_round, check_whole_ledger};

use crate::common::TestEnv;

/// SIGKILLs delivered to running appenders the kill test must reach.
const MIN_KILLS: u64 = 200;
/// The kill test stops adding rounds once it has this many kills.
const TARGET_KILLS: u64 = 240;
/// Wall-clock budget for the kill rounds once MIN_KILLS is reached: on a loaded machine the
/// rounds go on past it until they have MIN_KILLS, up to HARD_CAP (the number of kills is what
/// the test needs, not their speed).
const BUDGET: Duration = Duration::from_secs(20);
/// When a machine is too slow to reach MIN_KILLS at all.
const HARD_CAP: Duration = Duration::from_secs(300);
/// A generation's ledger is checked in full and replaced once it grows past this.
const GENERATION_BYTES: u64 = 8 << 20;

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

    while stats.kills < TARGET_KILLS
        && (started.elapsed() < BUDGET || stats.kills < MIN_KILLS)
        && started.elapsed() < HARD_CAP
    {
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
