//! The foreground dispatch while its worker is blocked: it says what the worker asks and how
//! to answer, offers to answer on a terminal (through `vnx approve`'s path, with its
//! receipt), and says when the worker goes on; without a terminal, only the messages.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::{Fakes, Repo, run, wait_for};

/// What the stand-in claude does: it asks before `git commit`, then reports.
const ASKING: &str =
    "@fake write a.txt hi\n@fake commit add a\n@fake run vnx report --status done --summary a";

/// `vnx run` of the stand-in claude in its TUI, in the foreground, as `id`.
fn foreground(repo: &Repo, fakes: &Fakes, id: &str) -> Command {
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args(["run", "--agent", "implementer", "--provider", "claude"])
        .args([
            "--lane",
            "interactive",
            "--deadline",
            "60",
            "--id",
            id,
            ASKING,
        ]);
    cmd
}

fn kinds(repo: &Repo, id: &str) -> Vec<String> {
    repo.receipts(id)
        .iter()
        .map(|r| r["event_type"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn without_a_terminal_it_says_when_the_worker_blocks_and_goes_on() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let id = "D-f0e1d2c3b4a5";
    let child = foreground(&repo, &fakes, id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once it started (the ledger may not be there yet), until it blocks.
    let blocked = || run(repo.vnx().args(["wait", "--until-blocked", id])).code == 1;
    assert!(wait_for(blocked), "it blocks");
    // Answered by a prefix of its id: the answer names the whole id.
    let r = run(repo.vnx().args(["approve", &id[..8]]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with(&format!("{id}  approved: ")),
        "{}",
        r.stdout
    );
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "{id} is blocked: permission: Bash: git add -A && git commit -q -m 'add a'  \
             (answer: vnx approve {id} or vnx deny {id})"
        )),
        "{stderr}"
    );
    // `goes on: … approved it` (the approval's receipt), or `goes on, after N s blocked`
    // when the worker's hook said so first: the answer reaches the worker before vnx
    // records it, and under load the worker's receipt can come first.
    assert!(
        stderr.contains(&format!("{id} goes on: "))
            || stderr.contains(&format!("{id} goes on, after ")),
        "{stderr}"
    );
    let blocked = stderr.find("is blocked").unwrap();
    assert!(stderr[blocked..].contains("goes on"), "in order: {stderr}");
    // No terminal: nothing offered, nothing read.
    assert!(!stderr.contains("approve it?"), "{stderr}");
    assert!(stdout.contains(&format!("{id}  done")), "{stdout}");
}

/// A terminal for `cmd` (its stdin, stdout and stderr), through `script`'s pseudo-terminal;
/// what it shows is written to `log`.
fn on_a_terminal(cmd: &Command, log: &std::path::Path) -> std::process::Child {
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"));
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect();
    let mut script = Command::new("script");
    script.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            script.env(k, v);
        }
    }
    script
        .env("TERM", "xterm-256color")
        .current_dir(cmd.get_current_dir().unwrap())
        .args(["-qfec", &line.join(" ")])
        .arg(log)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("script (util-linux) runs a terminal")
}

#[test]
fn on_a_terminal_it_offers_to_answer_and_answers_as_approve_does() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let id = "D-a5b4c3d2e1f0";
    let log = repo.env.home().join("terminal.log");
    let mut child = on_a_terminal(&foreground(&repo, &fakes, id), &log);
    let shown = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        wait_for(|| shown().contains("approve it? [y]es  [n]o  [Enter] keep waiting")),
        "{}",
        shown()
    );
    assert!(
        shown().contains(&format!("{id} is blocked: permission: Bash")),
        "{}",
        shown()
    );
    // Enter keeps waiting and says how to answer later; the question is not asked again.
    child.stdin.as_mut().unwrap().write_all(b"\n").unwrap();
    assert!(
        wait_for(|| shown().contains("still waiting")),
        "{}",
        shown()
    );
    assert_eq!(
        run(repo.vnx().args(["status", "--state", "blocked", id])).code,
        0
    );
    // Answered elsewhere: the wait says the worker goes on, and ends.
    let r = run(repo.vnx().args(["approve", id]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        wait_for(|| shown().contains(&format!("{id} goes on"))),
        "{}",
        shown()
    );
    assert!(child.wait().unwrap().success(), "{}", shown());

    // Yes on the terminal, one key without Enter: approved as `vnx approve` does, with its
    // receipt.
    let id = "D-0a1b2c3d4e5f";
    let log = repo.env.home().join("terminal-2.log");
    let mut child = on_a_terminal(&foreground(&repo, &fakes, id), &log);
    let shown = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(wait_for(|| shown().contains("approve it?")), "{}", shown());
    child.stdin.as_mut().unwrap().write_all(b"y").unwrap();
    let status = child.wait().unwrap();
    let shown = shown();
    assert!(status.success(), "{shown}");
    assert!(
        shown.contains(&format!("{id}: approved git add -A")),
        "{shown}"
    );
    assert!(shown.contains(&format!("{id} goes on")), "{shown}");
    assert!(shown.contains(&format!("{id}  done")), "{shown}");
    let k = kinds(&repo, id);
    let pos = |e: &str| {
        k.iter()
            .position(|x| x == e)
            .unwrap_or_else(|| panic!("{e}: {k:?}"))
    };
    assert!(pos("dispatch_blocked") < pos("dispatch_answered"), "{k:?}");
    assert!(
        pos("dispatch_answered") < pos("dispatch_completed"),
        "{k:?}"
    );
    let answered = &repo.receipts(id)[pos("dispatch_answered")];
    assert_eq!(answered["answer"], "approve", "{answered}");
}

#[test]
fn on_a_terminal_no_is_one_key_and_asks_why() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let id = "D-b5a4c3d2e1f0";
    let log = repo.env.home().join("terminal.log");
    let mut child = on_a_terminal(&foreground(&repo, &fakes, id), &log);
    let shown = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(wait_for(|| shown().contains("approve it?")), "{}", shown());
    // `n` alone asks why; the line typed then goes with the denial, as `--message` would.
    let stdin = child.stdin.as_mut().unwrap();
    stdin.write_all(b"n").unwrap();
    stdin.flush().unwrap();
    assert!(wait_for(|| shown().contains("why? ")), "{}", shown());
    stdin.write_all(b"not on main, please\n").unwrap();
    assert!(
        wait_for(|| shown().contains(&format!("{id}: denied git add -A"))),
        "{}",
        shown()
    );
    let answered = repo
        .receipts(id)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_answered")
        .unwrap_or_else(|| panic!("{}", shown()));
    assert_eq!(answered["answer"], "deny", "{answered}");
    assert_eq!(answered["message"], "not on main, please", "{answered}");
    run(repo.vnx().args(["cancel", id]));
    let _ = child.wait();
}
