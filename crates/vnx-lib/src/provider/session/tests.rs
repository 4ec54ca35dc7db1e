//! Unit tests of finding, following and counting session files. The real CLIs' files are
//! tested in `tests/it/transcript.rs`.

use std::fs;
use std::time::Duration;

use super::*;

fn cli(name: &str) -> Cli {
    Cli::of(name).unwrap()
}

/// The directory claude keeps the sessions of `cwd` in, under its config dir.
fn claude_project_dir(config_dir: &Path, cwd: &Path) -> PathBuf {
    cli("claude").sessions_of_cwd(config_dir, cwd)
}

fn wanted(cli: Cli, root: &Path, cwd: &Path) -> Wanted {
    Wanted {
        cli,
        homes: Homes {
            homes: [
                ("claude", root.join(".claude")),
                ("codex", root.join(".codex")),
                ("gemini", root.join(".gemini")),
            ]
            .into_iter()
            .map(|(n, p)| (n.to_owned(), p))
            .collect(),
            sessions: None,
        },
        cwd: cwd.to_owned(),
        since: SystemTime::now() - Duration::from_secs(60),
        session_id: None,
    }
}

#[test]
fn the_homes_are_the_environments() {
    let env = |pairs: &[(&str, &str)]| -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    };
    let h = Homes::of_env(&env(&[("HOME", "/h")]), Some("/machine".into()));
    assert_eq!(h.get("claude"), Some(Path::new("/h/.claude")));
    assert_eq!(h.get("codex"), Some(Path::new("/h/.codex")));
    assert_eq!(h.get("gemini"), Some(Path::new("/h/.gemini")));
    let h = Homes::of_env(
        &env(&[
            ("HOME", "relative"),
            ("CLAUDE_CONFIG_DIR", "/c"),
            ("CODEX_HOME", "/x"),
            ("GEMINI_CLI_HOME", "/g"),
        ]),
        Some("/machine".into()),
    );
    assert_eq!(h.get("claude"), Some(Path::new("/c")));
    assert_eq!(h.get("codex"), Some(Path::new("/x")));
    assert_eq!(h.get("gemini"), Some(Path::new("/g/.gemini")));
    let h = Homes::of_env(&[], Some("/machine".into()));
    assert_eq!(h.get("codex"), Some(Path::new("/machine/.codex")));
}

#[test]
fn the_claude_project_dir_is_the_cwd_with_every_other_character_a_dash() {
    let dir = claude_project_dir(Path::new("/h/.claude"), Path::new("/no/such/x.y_z"));
    assert_eq!(dir, Path::new("/h/.claude/projects/-no-such-x-y-z"));
}

#[test]
fn claude_sessions_are_regular_jsonl_files_never_through_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/t");
    let w = wanted(cli("claude"), tmp.path(), cwd);
    let dir = claude_project_dir(w.homes.get("claude").unwrap(), cwd);
    fs::create_dir_all(&dir).unwrap();
    assert_eq!(w.find(), None);
    fs::write(dir.join("a.jsonl"), "{}\n").unwrap();
    fs::write(dir.join("b.txt"), "x").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("c.jsonl")).unwrap();
    assert_eq!(w.find(), Some(dir.join("a.jsonl")));
    // Named by its id when the id is known.
    let mut by_id = w.clone();
    by_id.session_id = Some("b".into());
    assert_eq!(by_id.find(), None);
    // A file last written before the dispatch started is an older session's.
    let mut later = w.clone();
    later.since = SystemTime::now() + Duration::from_secs(60);
    assert_eq!(later.find(), None);
    // The project directory itself may not be a link.
    fs::rename(&dir, tmp.path().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("elsewhere"), &dir).unwrap();
    assert_eq!(w.find(), None);
}

fn codex_rollout(cwd: &str, id: &str) -> String {
    let meta = serde_json::json!({
        "timestamp": "2026-11-25T08:41:10.803Z",
        "type": "session_meta",
        "payload": {"id": id, "cwd": cwd, "cli_version": "0.169.0"},
    });
    format!("{meta}\n")
}

#[test]
fn a_codex_session_is_the_one_whose_meta_names_the_worktree() {
    let tmp = tempfile::tempdir().unwrap();
    let today = jiff::Timestamp::now().strftime("%Y/%m/%d").to_string();
    let day = tmp.path().join(".codex/sessions").join(today);
    fs::create_dir_all(&day).unwrap();
    fs::write(
        day.join("rollout-1-other.jsonl"),
        codex_rollout("/w/other", "s-0"),
    )
    .unwrap();
    let w = wanted(cli("codex"), tmp.path(), Path::new("/w/t"));
    // The newest file is another worktree's: never taken for this one.
    assert_eq!(w.find(), None);
    fs::write(
        day.join("rollout-2-mine.jsonl"),
        codex_rollout("/w/t", "s-1"),
    )
    .unwrap();
    fs::write(
        day.join("rollout-3-other.jsonl"),
        codex_rollout("/w/other", "s-2"),
    )
    .unwrap();
    assert_eq!(w.find(), Some(day.join("rollout-2-mine.jsonl")));
    let mut by_id = w.clone();
    by_id.session_id = Some("s-9".into());
    assert_eq!(by_id.find(), None);
    // Days long before the dispatch started are not looked through.
    let old = tmp.path().join(".codex/sessions/2001/01/01");
    fs::create_dir_all(&old).unwrap();
    fs::rename(
        day.join("rollout-2-mine.jsonl"),
        old.join("rollout-2-mine.jsonl"),
    )
    .unwrap();
    assert_eq!(w.find(), None);
}

#[test]
fn a_gemini_session_is_in_the_project_whose_root_is_the_worktree() {
    let tmp = tempfile::tempdir().unwrap();
    let tmpdir = tmp.path().join(".gemini/tmp");
    for (project, root) in [("a", "/w/other"), ("b", "/w/t")] {
        fs::create_dir_all(tmpdir.join(project).join("chats")).unwrap();
        fs::write(tmpdir.join(project).join(".project_root"), root).unwrap();
        let first = serde_json::json!({"sessionId": format!("s-{project}"), "projectHash": "h"});
        fs::write(
            tmpdir.join(project).join("chats/session-1.jsonl"),
            format!("{first}\n"),
        )
        .unwrap();
    }
    let w = wanted(cli("gemini"), tmp.path(), Path::new("/w/t"));
    assert_eq!(w.find(), Some(tmpdir.join("b/chats/session-1.jsonl")));
    let mut by_id = w.clone();
    by_id.session_id = Some("s-a".into());
    assert_eq!(by_id.find(), None);
}

#[test]
fn a_dispatchs_own_session_place_is_the_only_one_looked_through() {
    let tmp = tempfile::tempdir().unwrap();
    let place = tmp.path().join("dispatch/sessions");
    // The same session in the shared home and in the place: only the place's counts.
    for root in [tmp.path().join(".claude/projects"), place.clone()] {
        let dir = root.join("-w-t");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("s.jsonl"), "{}\n").unwrap();
    }
    let mut w = wanted(cli("claude"), tmp.path(), Path::new("/w/t"));
    assert_eq!(
        w.find(),
        Some(tmp.path().join(".claude/projects/-w-t/s.jsonl"))
    );
    w.homes.sessions = Some(place.clone());
    assert_eq!(w.find(), Some(place.join("-w-t/s.jsonl")));
    assert_eq!(w.looked_in(), Some(place.join("-w-t")));
    // codex's days and gemini's projects are looked for in the place the same way.
    for cli in [cli("codex"), cli("gemini")] {
        let mut w = wanted(cli, tmp.path(), Path::new("/w/t"));
        w.homes.sessions = Some(place.clone());
        assert_eq!(w.looked_in(), Some(place.clone()));
    }
    // Recorded and read back with the homes.
    let recorded = w.homes.recorded();
    assert_eq!(recorded.sessions.as_deref(), place.to_str());
    assert_eq!(Homes::from_recorded(&recorded), w.homes);
}

#[test]
fn a_follower_renders_what_is_appended_and_a_new_session_from_its_start() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = Path::new("/w/t");
    let w = wanted(cli("claude"), tmp.path(), cwd);
    let dir = claude_project_dir(w.homes.get("claude").unwrap(), cwd);
    fs::create_dir_all(&dir).unwrap();
    let mut f = Follower::new(w);
    assert_eq!(f.poll(), (Vec::new(), 0));
    let say = |text: &str| {
        let line = serde_json::json!({
            "type": "assistant",
            "message": {"id": text, "content": [{"type": "text", "text": text}]},
        });
        format!("{line}\n")
    };
    fs::write(dir.join("a.jsonl"), say("one")).unwrap();
    assert_eq!(f.poll().0, ["says    one"]);
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(dir.join("a.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut file, say("two\u{1b}[2J").as_bytes()).unwrap();
    assert_eq!(f.poll().0, ["says    two\\e[2J"]);
    assert_eq!(f.poll().0, Vec::<String>::new());
    assert_eq!(f.path(), Some(dir.join("a.jsonl").as_path()));
}

#[test]
fn claude_usage_counts_each_message_once() {
    let line = |id: &str, input: u64, output: u64| {
        let l = serde_json::json!({
            "type": "assistant",
            "message": {"id": id, "usage": {"input_tokens": input, "output_tokens": output,
                "cache_read_input_tokens": 5, "cache_creation_input_tokens": 1}},
        });
        format!("{l}\n")
    };
    // claude writes a message's usage again on the line of each of its content blocks.
    let data = [
        line("m1", 100, 10),
        line("m1", 100, 10),
        line("m2", 200, 20),
    ]
    .concat();
    let u = usage::of_bytes(cli("claude"), data.as_bytes(), SystemTime::UNIX_EPOCH).unwrap();
    assert_eq!((u.input_tokens, u.output_tokens), (300, 30));
    assert_eq!(u.cached_input_tokens, Some(10));
    assert_eq!(u.cache_creation_input_tokens, Some(2));
    assert_eq!(
        usage::of_bytes(
            cli("claude"),
            b"{\"type\":\"user\"}\n",
            SystemTime::UNIX_EPOCH
        ),
        None
    );
}

#[test]
fn codex_usage_is_the_last_total_and_gemini_counts_each_message_once() {
    let count = |input: u64| {
        let l = serde_json::json!({"type": "event_msg", "payload": {"type": "token_count",
            "info": {"total_token_usage": {"input_tokens": input, "output_tokens": 7,
                "cached_input_tokens": 0, "total_tokens": input + 7}}}});
        format!("{l}\n")
    };
    let data = [count(10), count(30)].concat();
    let u = usage::of_bytes(cli("codex"), data.as_bytes(), SystemTime::UNIX_EPOCH).unwrap();
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.total_tokens),
        (30, 7, Some(37))
    );
    let message = |id: &str, input: u64| {
        let l = serde_json::json!({"id": id, "type": "gemini",
            "tokens": {"input": input, "output": 2, "cached": 0, "total": input + 2}});
        format!("{l}\n")
    };
    let data = [message("a", 10), message("a", 10), message("b", 20)].concat();
    let u = usage::of_bytes(cli("gemini"), data.as_bytes(), SystemTime::UNIX_EPOCH).unwrap();
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.total_tokens),
        (30, 4, Some(34))
    );
}

#[test]
fn only_what_was_recorded_since_the_dispatch_started_counts() {
    // A follow-up resumes its session: the earlier dispatch's turns are in the file too.
    let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
    let since = SystemTime::from(at("2026-11-25T09:00:00Z"));
    let count = |time: &str, input: u64| {
        let l = serde_json::json!({"timestamp": time, "type": "event_msg", "payload": {
            "type": "token_count", "info": {"total_token_usage": {"input_tokens": input,
            "output_tokens": input / 10, "total_tokens": input + input / 10}}}});
        format!("{l}\n")
    };
    let data = [
        count("2026-11-25T08:00:00Z", 100),
        count("2026-11-25T09:00:01Z", 250),
    ]
    .concat();
    let u = usage::of_bytes(cli("codex"), data.as_bytes(), since).unwrap();
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.total_tokens),
        (150, 15, Some(165))
    );
    let said = |time: &str, id: &str| {
        let l = serde_json::json!({"timestamp": time, "type": "assistant",
            "message": {"id": id, "usage": {"input_tokens": 7, "output_tokens": 1}}});
        format!("{l}\n")
    };
    let data = [
        said("2026-11-25T08:00:00Z", "old"),
        said("2026-11-25T09:00:01Z", "new"),
    ]
    .concat();
    let u = usage::of_bytes(cli("claude"), data.as_bytes(), since).unwrap();
    assert_eq!((u.input_tokens, u.output_tokens), (7, 1));
}

/// The peak resident memory of this process (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The test run again in a child process of its own (a fresh address space, so its peak
/// is its own and not the other tests'), with `VNX_TEST_SESSION_FILE` naming the file it
/// reads; its stdout.
fn in_a_child(test: &str, file: &Path) -> String {
    let me = std::env::current_exe().unwrap();
    let cmd = crate::process::Cmd::new(me)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("VNX_TEST_SESSION_FILE", file)
        .timeout(Duration::from_secs(600));
    let out = crate::process::run(&cmd).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// A session file whose middle line is 240 MB (a worker can write its CLI's session file),
/// between two lines claude writes.
fn hostile_session_file(dir: &Path) -> PathBuf {
    use std::io::Write;
    let line = |id: &str, input: u64| {
        let l = serde_json::json!({"type": "assistant",
            "message": {"id": id, "usage": {"input_tokens": input, "output_tokens": 1}}});
        format!("{l}\n")
    };
    let path = dir.join("big.jsonl");
    let mut f = std::io::BufWriter::new(fs::File::create(&path).unwrap());
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

/// The most a process reading a session file may hold, whatever the file holds.
const SUPERVISOR_RSS_KIB: u64 = 64 << 10;

#[test]
#[expect(
    clippy::disallowed_methods,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the test runs itself again as a child process, told the file in its environment, \
              and reports the child's peak memory on its output"
)]
fn a_240_mb_line_is_skipped_and_the_usage_read_stays_under_64_mb() {
    let test =
        "provider::session::tests::a_240_mb_line_is_skipped_and_the_usage_read_stays_under_64_mb";
    if let Some(file) = std::env::var_os("VNX_TEST_SESSION_FILE") {
        let u = usage(cli("claude"), Path::new(&file), SystemTime::UNIX_EPOCH);
        println!("usage {:?}", u.map(|u| u.input_tokens));
        println!("peak {}", peak_rss_kib());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = hostile_session_file(tmp.path());
    let out = in_a_child(test, &file);
    let peak: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("peak "))
        .unwrap()
        .parse()
        .unwrap();
    eprintln!("peak RSS reading a 240 MB line for its usage: {peak} KiB");
    assert!(peak < SUPERVISOR_RSS_KIB, "peak {peak} KiB:\n{out}");
    // The line over the cap is left out; the others count.
    assert!(out.contains("usage Some(300)"), "{out}");
}

#[test]
#[expect(
    clippy::disallowed_methods,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the test runs itself again as a child process, told the file in its environment, \
              and reports the child's peak memory on its output"
)]
fn a_240_mb_line_is_left_out_of_a_rendered_session_in_bounded_memory() {
    let test = "provider::session::tests::a_240_mb_line_is_left_out_of_a_rendered_session_in_bounded_memory";
    if let Some(file) = std::env::var_os("VNX_TEST_SESSION_FILE") {
        let mut lines = 0;
        render_each(cli("claude"), Path::new(&file), |_| lines += 1).unwrap();
        println!("lines {lines}");
        println!("peak {}", peak_rss_kib());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = hostile_session_file(tmp.path());
    let out = in_a_child(test, &file);
    let peak: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("peak "))
        .unwrap()
        .parse()
        .unwrap();
    eprintln!("peak RSS rendering a 240 MB line: {peak} KiB");
    assert!(peak < SUPERVISOR_RSS_KIB, "peak {peak} KiB:\n{out}");
}

#[test]
fn session_ids_are_checked_by_each_clis_own_form() {
    // As the real CLIs wrote them (tests/support/fixtures): claude, codex (a thread id),
    // gemini.
    for (provider, id) in [
        ("claude", "a5d5e3ab-efc5-40f9-8934-cb22a9e51723"),
        ("codex", "01a211dd-af26-7800-a0f8-e1f232cf6a8a"),
        ("gemini", "5ef1866e-4a53-40c0-9f60-633ee32e9a66"),
        ("mine", "ses_01J9Z.x:1-a"),
    ] {
        assert!(valid_id(provider, id), "{provider} {id}");
    }
    for provider in ["claude", "codex", "gemini", "mine"] {
        for id in [
            "--dangerously-skip-permissions",
            "-r",
            "",
            "a5d5e3ab-efc5-40f9-8934-cb22a9e51723 --yolo",
            "a5d5e3ab-efc5-40f9-8934-cb22a9e5172\n",
            &"a".repeat(129),
        ] {
            assert!(!valid_id(provider, id), "{provider} {id:?}");
        }
    }
    // Not the forms a CLI writes: braces, no hyphens.
    assert!(!valid_id(
        "claude",
        "{a5d5e3ab-efc5-40f9-8934-cb22a9e51723}"
    ));
    assert!(!valid_id("claude", "a5d5e3abefc540f98934cb22a9e51723"));
    let fresh = new_id();
    assert!(valid_id("claude", &fresh), "{fresh}");
    assert_eq!(&fresh[14..15], "4", "a version 4 UUID: {fresh}");
    assert_ne!(fresh, new_id());
}
