//! Every CLI's readers of its session against what a worker can write there (its CLI's
//! session files are in reach, sandboxed or not): a 240 MB line between two ordinary ones, or
//! for a CLI that keeps sessions as database rows, 160 MB of oversized rows. Whatever the file
//! holds, the process that reads it — the supervisor at the end, `show --log`, the dashboard —
//! stays under 64 MB of resident memory. Each CLI is read in a child process of its own (a
//! fresh address space, so the peak measured is its own).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Cli, render_each, usage};
use crate::provider::cli;

/// The most a process reading a session may hold, whatever the session holds.
pub(crate) const SUPERVISOR_RSS_KIB: u64 = 64 << 10;

/// The peak resident memory of this process (`VmHWM`), in KiB.
pub(crate) fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The test named `test` run again in a child process of its own with `env`; its stdout.
pub(crate) fn in_a_child(test: &str, env: &[(&str, &Path)]) -> String {
    let me = std::env::current_exe().unwrap();
    let mut cmd = crate::process::Cmd::new(me)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .timeout(Duration::from_secs(600));
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let out = crate::process::run(&cmd).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// A session file whose middle line is 240 MB, between two ordinary lines.
pub(crate) fn hostile_session_file(dir: &Path) -> PathBuf {
    use std::io::Write;
    let line = |id: &str, input: u64| {
        let l = serde_json::json!({"type": "assistant", "timestamp": "2026-11-25T09:00:00Z",
            "message": {"id": id, "role": "assistant", "content": [{"type": "text", "text": "hi"}],
                "usage": {"input_tokens": input, "output_tokens": 1}}});
        format!("{l}\n")
    };
    let path = dir.join("big.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    f.write_all(line("m1", 100).as_bytes()).unwrap();
    f.write_all(
        br#"{"type":"assistant","message":{"id":"m9","usage":{"input_tokens":1000000}},"pad":""#,
    )
    .unwrap();
    let pad = vec![b'x'; 1 << 20];
    for _ in 0..240 {
        f.write_all(&pad).unwrap();
    }
    f.write_all(b"\"}\n").unwrap();
    f.write_all(line("m2", 200).as_bytes()).unwrap();
    f.flush().unwrap();
    path
}

/// Everything vnx reads of a found session, as the supervisor, `show --log` and the
/// dashboard read it; what it read, in a line.
fn read_all(cli: Cli, found: &Path) -> String {
    let store = cli.store();
    let used = usage(cli.clone(), found, SystemTime::UNIX_EPOCH);
    let last = cli.store().last_message(found);
    let id = cli.store().found_id(found);
    let cost = cli.store().cost(found, SystemTime::UNIX_EPOCH);
    let ended = store.turn_ended(found, SystemTime::UNIX_EPOCH);
    let mut lines = 0usize;
    let rendered = render_each(cli, found, |_| lines += 1).is_ok();
    format!(
        "usage {:?} last {} id {} cost {cost:?} ended {ended} rendered {rendered} lines {lines}",
        used.map(|u| u.input_tokens),
        last.map_or(0, |m| m.len()),
        id.is_some()
    )
}

const TEST: &str = "provider::session::hostile::every_clis_session_readers_stay_under_64_mb_whatever_a_worker_wrote";

#[test]
#[expect(
    clippy::disallowed_methods,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the test runs itself again as a child process per CLI, told the CLI and the file \
              in its environment, and reports the child's peak memory on its output"
)]
fn every_clis_session_readers_stay_under_64_mb_whatever_a_worker_wrote() {
    if let (Some(name), Some(found)) = (
        std::env::var_os("VNX_TEST_CLI"),
        std::env::var_os("VNX_TEST_SESSION_FILE"),
    ) {
        let cli = Cli::of(&name.to_string_lossy()).unwrap();
        // libtest's `test NAME ... ` has no newline yet.
        println!();
        println!("read {}", read_all(cli, Path::new(&found)));
        println!("peak {}", peak_rss_kib());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = hostile_session_file(tmp.path());
    let mut rows_read = 0;
    let mut measured = Vec::new();
    for module in cli::CLIS {
        let name = module.provider().name();
        let Some(_) = Cli::of(name) else {
            continue;
        };
        let store = tmp.path().join(name);
        std::fs::create_dir(&store).unwrap();
        let found = match module.sessions().and_then(|s| s.hostile(&store)) {
            Some(found) => {
                rows_read += 1;
                found
            }
            None => file.clone(),
        };
        let out = in_a_child(
            TEST,
            &[
                ("VNX_TEST_CLI", Path::new(name)),
                ("VNX_TEST_SESSION_FILE", &found),
            ],
        );
        let peak: u64 = out
            .lines()
            .find_map(|l| l.strip_prefix("peak "))
            .unwrap()
            .parse()
            .unwrap();
        let read = out.lines().find_map(|l| l.strip_prefix("read ")).unwrap();
        eprintln!("{name}: peak {peak} KiB; {read}");
        assert!(peak < SUPERVISOR_RSS_KIB, "{name}: peak {peak} KiB:\n{out}");
        measured.push(name);
    }
    // Every CLI that keeps sessions was measured, the row-keeping one included.
    assert!(measured.len() >= 7, "{measured:?}");
    assert!(rows_read > 0, "no CLI keeps its sessions as rows");
}
