//! opencode's sessions read from a database as its TUI writes it.

use serde_json::json;

use super::*;
use crate::provider::session::{self, Cli, Follower, Homes, Wanted};

/// A session a worker made as large as it could (`provider::session::hostile`): its first
/// message (2 MiB) and a finished tool's part (13 MiB: together what one read takes at most)
/// made of millions of tiny members, each a value of its own were a row parsed into one; 7
/// messages of 17 MiB and 96 parts of 1 MiB past them; and a finished step claiming 2^64 − 1
/// tokens. The found session's path.
pub(crate) fn hostile_session(dir: &Path) -> PathBuf {
    let cwd = dir.join("wt");
    std::fs::create_dir_all(&cwd).unwrap();
    let conn = database(dir, &cwd);
    let tx = conn.unchecked_transaction().unwrap();
    let tiny = |bytes: usize| format!("{}0", "0,".repeat(bytes / 2));
    message(
        &tx,
        "msg_big00",
        T0 + 900,
        &format!(
            r#"{{"role":"assistant","time":{{"created":1}},"pad":[{}]}}"#,
            tiny(2 << 20)
        ),
    );
    let pad = "x".repeat(17 << 20);
    for i in 1..8 {
        message(
            &tx,
            &format!("msg_big{i:02}"),
            T0 + 900 + i,
            &format!(r#"{{"role":"assistant","time":{{"created":1}},"pad":"{pad}"}}"#),
        );
    }
    part(
        &tx,
        "msg_2",
        "prt_2a",
        &format!(
            r#"{{"type":"tool","tool":"bash","state":{{"status":"completed","input":{{"command":[{}]}},"output":"x"}}}}"#,
            tiny(13 << 20)
        ),
    );
    part(
        &tx,
        "msg_2",
        "prt_2b",
        r#"{"type":"step-finish","tokens":{"input":18446744073709551615,"output":1}}"#,
    );
    let big = "x".repeat(1 << 20);
    for i in 0..96 {
        part(
            &tx,
            "msg_2",
            &format!("prt_2x{i:03}"),
            &format!(r#"{{"type":"text","text":"{big}","time":{{"start":1,"end":2}}}}"#),
        );
    }
    tx.commit().unwrap();
    found(&dir.join(DB), ID)
}

/// The tables opencode 1.18.33 keeps sessions in (the columns vnx reads, and a few).
const SCHEMA: &str = "
    CREATE TABLE session (id text PRIMARY KEY, project_id text NOT NULL, parent_id text,
        slug text NOT NULL, directory text NOT NULL, title text NOT NULL,
        version text NOT NULL, time_created integer NOT NULL, time_updated integer NOT NULL);
    CREATE TABLE message (id text PRIMARY KEY, session_id text NOT NULL,
        time_created integer NOT NULL, time_updated integer NOT NULL, data text NOT NULL);
    CREATE TABLE part (id text PRIMARY KEY, message_id text NOT NULL,
        session_id text NOT NULL, time_created integer NOT NULL,
        time_updated integer NOT NULL, data text NOT NULL);
    CREATE INDEX part_message_id_id_idx ON part (message_id, id);";

const ID: &str = "ses_dead608c8ffeFtsr0LBPWOF3wn";
const T0: i64 = 1_795_651_401_527;

/// A database in `dir` with one session in `cwd`: a user message, then an assistant
/// step that wrote a file and one that answered (rows as the real CLI wrote them).
fn database(dir: &Path, cwd: &Path) -> Connection {
    let conn = Connection::open(dir.join(DB)).unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    conn.execute(
        "INSERT INTO session VALUES (?1, 'global', NULL, 'lucky-pixel', ?2, 'OK.', '1.18.33', ?3, ?3)",
        params![ID, cwd.to_str().unwrap(), T0],
    )
    .unwrap();
    message(
        &conn,
        "msg_1",
        T0 + 60,
        r#"{"role":"user","time":{"created":1795651401590}}"#,
    );
    part(
        &conn,
        "msg_1",
        "prt_10",
        r#"{"type":"text","text":"Create it."}"#,
    );
    message(
        &conn,
        "msg_2",
        T0 + 800,
        r#"{"role":"assistant","time":{"created":1,"completed":2},"finish":"tool-calls"}"#,
    );
    part(&conn, "msg_2", "prt_20", r#"{"type":"step-start"}"#);
    part(
        &conn,
        "msg_2",
        "prt_21",
        r#"{"type":"tool","tool":"write","callID":"c","state":{"status":"completed","input":{"filePath":"/w/hello.txt","content":"hi\n"},"output":"Wrote file successfully.","title":"hello.txt"}}"#,
    );
    part(
        &conn,
        "msg_2",
        "prt_22",
        r#"{"reason":"tool-calls","type":"step-finish","tokens":{"total":7810,"input":7782,"output":28,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0.25}"#,
    );
    conn
}

fn message(conn: &Connection, id: &str, at: i64, data: &str) {
    conn.execute(
        "INSERT INTO message VALUES (?1, ?2, ?3, ?3, ?4)",
        params![id, ID, at, data],
    )
    .unwrap();
}

fn part(conn: &Connection, message: &str, id: &str, data: &str) {
    conn.execute(
        "INSERT INTO part VALUES (?1, ?2, ?3, 0, 0, ?4)",
        params![id, message, ID, data],
    )
    .unwrap();
}

/// The answer: a text, then the step's end.
fn answer(conn: &Connection, text: &str, finished: bool) {
    message(
        conn,
        "msg_3",
        T0 + 1970,
        r#"{"role":"assistant","time":{"created":3,"completed":4},"finish":"stop"}"#,
    );
    part(conn, "msg_3", "prt_30", r#"{"type":"step-start"}"#);
    let end = if finished {
        r#","time":{"start":1,"end":2}"#
    } else {
        ""
    };
    part(
        conn,
        "msg_3",
        "prt_31",
        &format!(r#"{{"type":"text","text":{}{end}}}"#, json!(text)),
    );
    part(
        conn,
        "msg_3",
        "prt_32",
        r#"{"reason":"stop","type":"step-finish","tokens":{"total":7943,"input":7938,"output":5,"reasoning":0,"cache":{"write":0,"read":3}},"cost":0.5}"#,
    );
}

fn sought<'a>(cwd: &'a Path, id: Option<&'a str>) -> Sought<'a> {
    Sought {
        cwd,
        since: time(T0 - 1000),
        session_id: id,
    }
}

#[test]
fn a_session_larger_than_the_read_bound_is_read_in_part_and_not_ended() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("wt");
    std::fs::create_dir(&cwd).unwrap();
    let conn = database(dir.path(), &cwd);
    // 24 parts of 1 MiB each in one message, then an answer that would end the turn.
    let big = "x".repeat(1 << 20);
    for i in 0..24 {
        part(
            &conn,
            "msg_2",
            &format!("prt_2{i:03}"),
            &format!(r#"{{"type":"text","text":"{big}","time":{{"start":1,"end":2}}}}"#),
        );
    }
    answer(&conn, "done", true);
    drop(conn);
    let lines = read(&found(&dir.path().join(DB), ID)).unwrap();
    assert!(lines.len() <= MAX_READ_BYTES, "{} bytes given", lines.len());
    assert!(lines.len() > (8 << 20), "what fits is given");
}

#[test]
fn the_dispatchs_session_is_found_by_its_worktree_and_start() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("wt");
    std::fs::create_dir(&cwd).unwrap();
    let _db = database(dir.path(), &cwd);
    let found = OpencodeSessions.find(dir.path(), &sought(&cwd, None));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(split(&found[0].0).unwrap().1, ID);
    assert_eq!(found[0].1, time(T0));
    // Another worktree, a later start, another id: none.
    assert!(
        OpencodeSessions
            .find(dir.path(), &sought(&dir.path().join("other"), None))
            .is_empty()
    );
    let later = Sought {
        since: time(T0 + 1),
        ..sought(&cwd, None)
    };
    assert!(OpencodeSessions.find(dir.path(), &later).is_empty());
    let other = "ses_other000000000000000000000";
    assert!(
        OpencodeSessions
            .find(dir.path(), &sought(&cwd, Some(other)))
            .is_empty()
    );
    assert_eq!(
        OpencodeSessions
            .find(dir.path(), &sought(&cwd, Some(ID)))
            .len(),
        1
    );
}

#[test]
fn a_session_is_drawn_counted_and_asks_once_its_turn_ended() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("wt");
    std::fs::create_dir(&cwd).unwrap();
    let conn = database(dir.path(), &cwd);
    let at = OpencodeSessions
        .find(dir.path(), &sought(&cwd, None))
        .remove(0)
        .0;
    // Mid-turn: the tool step only.
    assert!(!OpencodeSessions.turn_ended(&at, time(T0)));
    assert_eq!(last_message(&read(&at).unwrap()), None);
    answer(&conn, "Should I also update the documentation?", true);
    assert!(OpencodeSessions.turn_ended(&at, time(T0)));
    // Not for a dispatch started later: a follow-up's, which resumed the session.
    assert!(!OpencodeSessions.turn_ended(&at, time(T0 + 3_600_000)));
    assert_eq!(
        last_message(&read(&at).unwrap()).as_deref(),
        Some("Should I also update the documentation?")
    );
    let cli = Cli::of("opencode").unwrap();
    let lines = session::render(cli.clone(), &at).unwrap();
    let text = lines.join("\n");
    assert_eq!(
        lines[0],
        format!("start   opencode, session {ID}"),
        "{text}"
    );
    assert!(
        text.contains("write {\"filePath\":\"/w/hello.txt\""),
        "{text}"
    );
    assert!(
        text.contains("says    Should I also update the documentation?"),
        "{text}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("end     success · 2 step(s)"),
        "{text}"
    );
    let usage = session::usage(cli.clone(), &at, time(T0)).unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (15_720, 33));
    assert_eq!(usage.cached_input_tokens, Some(3));
    assert_eq!(usage.total_tokens, Some(15_753));
    // Only what was recorded since a later start (a follow-up's turn) counts.
    let usage = session::usage(cli.clone(), &at, time(T0 + 1000)).unwrap();
    assert_eq!(usage.input_tokens, 7938);
    // Its id, and each step's cost, since the start too.
    assert_eq!(cli.store().found_id(&at).as_deref(), Some(ID));
    assert_eq!(cli.store().cost(&at, time(T0)), Some(0.75));
    assert_eq!(cli.store().cost(&at, time(T0 + 1000)), Some(0.5));
    assert_eq!(
        cost(
            b"{\"type\":\"step_finish\",\"part\":{\"cost\":-1}}\n",
            time(T0)
        ),
        None
    );
    // A step claiming what no dispatch can have used is skipped, the others counted (a
    // float count as its stream parser reads it).
    let mut u = OpencodeUsage::default();
    u.line(
        br#"{"type":"step_finish","timestamp":1,"part":{"tokens":{"input":2000000000000}}}"#,
        None,
    );
    u.line(
        br#"{"type":"step_finish","timestamp":1,"part":{"tokens":{"input":5,"output":1.5}}}"#,
        None,
    );
    let counted = u.so_far().map(|u| (u.input_tokens, u.output_tokens));
    assert_eq!(counted, Some((5, 1)));
    assert_eq!(u.skipped(), 1);
}

#[test]
fn what_is_still_streamed_is_given_later_and_a_follower_renders_each_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("wt");
    std::fs::create_dir(&cwd).unwrap();
    let conn = database(dir.path(), &cwd);
    let wanted = Wanted {
        cli: Cli::of("opencode").unwrap(),
        homes: Homes {
            sessions: Some(dir.path().to_owned()),
            ..Homes::default()
        },
        cwd: cwd.clone(),
        since: time(T0),
        session_id: None,
    };
    let mut follower = Follower::new(wanted);
    let (first, _) = follower.poll();
    assert!(first.iter().any(|l| l.starts_with("▸")), "{first:?}");
    // A text still streamed, then a running tool: neither, nor anything after, is given.
    answer(&conn, "Half", false);
    let (none, n) = follower.poll();
    assert!(none.iter().all(|l| !l.contains("Half")), "{none:?}");
    let before = n;
    conn.execute(
        "UPDATE part SET data = ?1 WHERE id = 'prt_31'",
        [r#"{"type":"text","text":"Whole.","time":{"start":1,"end":2}}"#],
    )
    .unwrap();
    let (rest, _) = follower.poll();
    let text = rest.join("\n");
    assert!(text.contains("says    Whole."), "{text} after {before}");
    assert!(!text.contains("▸"), "rendered twice: {text}");
    assert_eq!(follower.poll().0, Vec::<String>::new());
}

#[test]
fn a_link_a_view_or_another_file_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("wt");
    std::fs::create_dir(&cwd).unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    drop(database(&real, &cwd));
    let linked = dir.path().join("linked");
    std::fs::create_dir(&linked).unwrap();
    std::os::unix::fs::symlink(real.join(DB), linked.join(DB)).unwrap();
    assert!(
        OpencodeSessions
            .find(&linked, &sought(&cwd, None))
            .is_empty()
    );
    assert!(read(&found(&linked.join(DB), ID)).is_err());
    // `part` a view, not a table.
    let viewed = dir.path().join("viewed");
    std::fs::create_dir(&viewed).unwrap();
    let conn = Connection::open(viewed.join(DB)).unwrap();
    let schema = SCHEMA
        .replace("CREATE TABLE part (", "CREATE TABLE unused (")
        .replace("ON part (", "ON unused (");
    conn.execute_batch(&format!("{schema} CREATE VIEW part AS SELECT 1 AS x;"))
        .unwrap();
    assert!(open(&viewed.join(DB)).is_none());
    // Not a database at all; a name that is no session's.
    let junk = dir.path().join("junk");
    std::fs::create_dir(&junk).unwrap();
    std::fs::write(junk.join(DB), b"not sqlite").unwrap();
    assert!(OpencodeSessions.find(&junk, &sought(&cwd, None)).is_empty());
    assert!(read(Path::new("/x/opencode.db#../etc")).is_err());
    assert!(valid_id(ID) && !valid_id("ses_") && !valid_id("ses_a-b") && !valid_id("x"));
}
