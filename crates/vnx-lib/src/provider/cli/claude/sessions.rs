//! claude's session files (seen on claude 2.1.197): `<config>/projects/<cwd, each character
//! but letters and digits made '-'>/<session>.jsonl`, the directory naming the working
//! directory and the file named by the session id; and the usage they record: the sum over
//! the session's assistant messages of their `usage` (input, output, cache reads and writes),
//! each message counted once by its `message.id` (claude writes a message's usage again on
//! each line of its content blocks).

use serde::Deserialize;

use crate::provider::cli::session::ProjectFiles;
use crate::provider::cli::usage::{Count, Lenient, Text, counted};
use crate::receipts::Usage;

/// Its session files (see the module's documentation): `<config>/projects`, and the file's
/// transcript, whose first entries are of types of its own rather than `system`, drawn as its
/// stream. Its session ids are UUIDs, hyphenated (seen on claude 2.1.197).
pub(super) static SESSIONS: ProjectFiles = ProjectFiles {
    dir: "projects",
    folder: None,
    message_kind: "assistant",
    message,
    transcript: || Box::new(super::transcript::ClaudeTranscript),
};

/// The message an `assistant` line records, and its usage.
fn message(raw: &[u8]) -> Option<(Text<'_>, Usage)> {
    let message = serde_json::from_slice::<Line<'_>>(raw).ok()?.message.0?;
    let t = message.usage.0?;
    let (read, writes) = (t.cache_read_input_tokens, t.cache_creation_input_tokens);
    let usage = counted(t.input_tokens, t.output_tokens, read, Some(writes), None);
    Some((message.id, usage))
}

/// The members of an assistant's line usage reads.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Line<'a> {
    /// The assistant message.
    #[serde(borrow)]
    message: Lenient<Message<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Message<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    usage: Lenient<Tokens>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Tokens {
    input_tokens: Count,
    output_tokens: Count,
    cache_read_input_tokens: Count,
    cache_creation_input_tokens: Count,
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, SystemTime};

    use crate::provider::session::testing::of_bytes;
    use crate::provider::session::{
        Cli, Follower, LiveUsage, new_id, read_usage, render_each, testing, usage, valid_id,
    };
    use crate::receipts::SessionTampering;

    fn claude() -> Cli {
        Cli::of("claude").unwrap()
    }

    /// The directory claude keeps the sessions of `cwd` in, under its config dir.
    fn claude_project_dir(config_dir: &Path, cwd: &Path) -> PathBuf {
        let claude = claude();
        claude.store().of_cwd(&claude.sessions_in(config_dir), cwd)
    }

    #[test]
    fn its_home_is_claude_config_dir_else_dot_claude_in_the_home() {
        let h = testing::homes_of(&[("HOME", "/h")]);
        assert_eq!(h.get("claude"), Some(Path::new("/h/.claude")));
        let h = testing::homes_of(&[("HOME", "relative"), ("CLAUDE_CONFIG_DIR", "/c")]);
        assert_eq!(h.get("claude"), Some(Path::new("/c")));
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
        let w = testing::wanted("claude", tmp.path(), cwd);
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
        let mut w = testing::wanted("claude", tmp.path(), Path::new("/w/t"));
        assert_eq!(
            w.find(),
            Some(tmp.path().join(".claude/projects/-w-t/s.jsonl"))
        );
        w.homes.sessions = Some(place.clone());
        assert_eq!(w.find(), Some(place.join("-w-t/s.jsonl")));
        assert_eq!(w.looked_in(), Some(place.join("-w-t")));
    }

    #[test]
    fn a_follower_renders_what_is_appended_and_a_new_session_from_its_start() {
        let tmp = tempfile::tempdir().unwrap();
        let cwd = Path::new("/w/t");
        let w = testing::wanted("claude", tmp.path(), cwd);
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
        let u = of_bytes("claude", data.as_bytes(), SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!((u.input_tokens, u.output_tokens), (300, 30));
        assert_eq!(u.cached_input_tokens, Some(10));
        assert_eq!(u.cache_creation_input_tokens, Some(2));
        assert_eq!(
            of_bytes("claude", b"{\"type\":\"user\"}\n", SystemTime::UNIX_EPOCH),
            None
        );
    }

    #[test]
    fn only_what_claude_recorded_since_the_dispatch_started_counts() {
        // A follow-up resumes its session: the earlier dispatch's turns are in the file too.
        let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
        let since = SystemTime::from(at("2026-11-25T09:00:00Z"));
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
        let u = of_bytes("claude", data.as_bytes(), since).unwrap();
        assert_eq!((u.input_tokens, u.output_tokens), (7, 1));
    }

    #[test]
    fn a_240_mb_line_is_left_out_of_the_usage_and_the_others_count() {
        // The memory this takes is measured for every CLI in `provider::session::hostile`.
        let tmp = tempfile::tempdir().unwrap();
        let file = crate::provider::session::hostile::hostile_session_file(tmp.path());
        let u = usage(claude(), &file, SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(u.input_tokens, 300);
        let mut lines = 0;
        render_each(claude(), &file, |_| lines += 1).unwrap();
        assert!(lines >= 2, "{lines}");
    }

    #[test]
    fn claude_session_ids_are_uuids_with_hyphens_as_it_writes_them() {
        // As the real claude wrote one (tests/support/fixtures).
        assert!(valid_id("claude", "a5d5e3ab-efc5-40f9-8934-cb22a9e51723"));
        // Not the forms it writes: braces, no hyphens.
        assert!(!valid_id(
            "claude",
            "{a5d5e3ab-efc5-40f9-8934-cb22a9e51723}"
        ));
        assert!(!valid_id("claude", "a5d5e3abefc540f98934cb22a9e51723"));
        // vnx chooses claude's session id: one it takes.
        let fresh = new_id();
        assert!(valid_id("claude", &fresh), "{fresh}");
    }

    /// A running worker's usage (ADR 0094): each poll reads only what was appended, a newer
    /// file beside the first is not read until the stream names its session, and an id
    /// claude could not have made is ignored.
    #[test]
    fn the_live_usage_follows_its_own_session_as_it_grows() {
        use std::io::Write;
        let tmp = tempfile::tempdir().unwrap();
        let cwd = Path::new("/w/t");
        let w = testing::wanted("claude", tmp.path(), cwd);
        let dir = claude_project_dir(w.homes.get("claude").unwrap(), cwd);
        fs::create_dir_all(&dir).unwrap();
        let line = |id: &str, n: u64| {
            format!(
                "{{\"type\":\"assistant\",\"message\":{{\"id\":\"{id}\",\"usage\":{{\"input_tokens\":{n},\"output_tokens\":0}}}}}}\n"
            )
        };
        let own = "11111111-1111-4111-8111-111111111111";
        fs::write(dir.join(format!("{own}.jsonl")), line("m1", 100)).unwrap();
        let mut live = crate::provider::session::LiveUsage::new(w).unwrap();
        let tokens = |live: &mut crate::provider::session::LiveUsage| {
            live.poll().map(|u| u.input_tokens + u.output_tokens)
        };
        assert_eq!(tokens(&mut live), Some(100));
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(dir.join(format!("{own}.jsonl")))
            .unwrap();
        // Half a line is held back until its end arrives.
        let next = line("m2", 50);
        file.write_all(&next.as_bytes()[..10]).unwrap();
        assert_eq!(tokens(&mut live), Some(100));
        file.write_all(&next.as_bytes()[10..]).unwrap();
        assert_eq!(tokens(&mut live), Some(150));
        // A newer file beside it, a million tokens: not the one read.
        let other = "22222222-2222-4222-8222-222222222222";
        fs::write(dir.join(format!("{other}.jsonl")), line("x", 1_000_000)).unwrap();
        assert_eq!(tokens(&mut live), Some(150));
        live.name("../not-an-id");
        assert_eq!(tokens(&mut live), Some(150));
        // Named by the stream: its own session, from the start of its file.
        live.name(own);
        assert_eq!(tokens(&mut live), Some(150));
    }

    /// A claude session file in a dispatch's place, and the live reader of it: the reader, the
    /// file's path and a line of message `id` using `n` input tokens.
    fn live_claude(tmp: &Path) -> (LiveUsage, PathBuf, impl Fn(&str, u64) -> String + use<>) {
        let cwd = Path::new("/w/t");
        let w = testing::wanted("claude", tmp, cwd);
        let dir = w.looked_in().unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("11111111-1111-4111-8111-111111111111.jsonl");
        let line = |id: &str, n: u64| {
            format!(
                "{{\"type\":\"assistant\",\"message\":{{\"id\":\"{id}\",\"usage\":{{\"input_tokens\":{n},\"output_tokens\":0}}}}}}\n"
            )
        };
        std::fs::write(&path, line("m0", 100)).unwrap();
        (LiveUsage::new(w).unwrap(), path, line)
    }

    fn append(path: &Path, text: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn tokens(live: &mut LiveUsage) -> Option<u64> {
        live.poll().map(|u| u.input_tokens + u.output_tokens)
    }

    #[test]
    fn a_line_claiming_what_no_dispatch_can_use_is_skipped_and_the_rest_still_counts() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut live, path, line) = live_claude(tmp.path());
        assert_eq!(tokens(&mut live), Some(100));
        // One line over 10^12: once it made every later count none.
        append(&path, &line("forged", 2_000_000_000_000));
        assert_eq!(tokens(&mut live), Some(100));
        append(&path, &line("m1", 4_000));
        assert_eq!(tokens(&mut live), Some(4_100));
        assert_eq!(live.skipped(), 1);
        // Plausible lines that together pass the bound are held at it, never read as none.
        append(&path, &line("big1", 900_000_000_000));
        append(&path, &line("big2", 900_000_000_000));
        assert_eq!(
            tokens(&mut live),
            Some(crate::receipts::MAX_PLAUSIBLE_TOKENS)
        );
        // The end-of-run read counts alike, and says so.
        let read = read_usage(Cli::of("claude").unwrap(), &path, std::time::UNIX_EPOCH);
        assert_eq!(read.skipped, 1);
        assert_eq!(
            read.usage.map(|u| u.input_tokens),
            Some(crate::receipts::MAX_PLAUSIBLE_TOKENS)
        );
    }

    #[test]
    fn a_session_file_cut_short_replaced_or_deleted_never_lowers_the_count() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut live, path, line) = live_claude(tmp.path());
        append(&path, &line("m1", 4_000));
        assert_eq!(tokens(&mut live), Some(4_100));
        assert!(live.tampering().is_empty());
        // Cut short, then written on by its CLI: what it holds now counts on top.
        std::fs::write(&path, "").unwrap();
        append(&path, &line("m2", 1_000));
        assert_eq!(tokens(&mut live), Some(5_100));
        assert_eq!(live.tampering(), [SessionTampering::Shrank]);
        // Deleted: the count stands, and the file its CLI writes again by name is followed.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(tokens(&mut live), Some(5_100));
        append(&path, &line("m3", 2_000));
        assert_eq!(tokens(&mut live), Some(7_100));
        // Replaced by a file of the worker's: read on top of what was counted.
        let forged = tmp.path().join("forged.jsonl");
        std::fs::write(&forged, line("m4", 10)).unwrap();
        std::fs::rename(&forged, &path).unwrap();
        assert_eq!(tokens(&mut live), Some(7_110));
        assert_eq!(
            live.tampering(),
            [
                SessionTampering::Shrank,
                SessionTampering::Deleted,
                SessionTampering::Replaced
            ]
        );
    }
}
