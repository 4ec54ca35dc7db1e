//! The real `vnx dashboard` binary in an 80×24 tmux pane of its own: it updates, attaches,
//! sleeps when idle, watches only what can change, and carries out its keys' actions in its
//! own process (the library's, `vnx::actions`), saying in its footer what each did.

use crate::common::{Repo, completion, run};

/// How many times the threads of process `pid` have been switched out (voluntarily, to wait,
/// or not): how often it woke, whatever each wake costs on this machine.
fn wakes(pid: u32) -> u64 {
    let mut n = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let status =
            std::fs::read_to_string(task.unwrap().path().join("status")).unwrap_or_default();
        n += status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
            .sum::<u64>();
    }
    n
}

/// `vnx dashboard` of a project, running in an 80×24 pane of a tmux server of its own.
struct Dashboard {
    screen: crate::common::Server,
    /// The dashboard's process.
    pid: u32,
}

impl Dashboard {
    fn open(repo: &Repo) -> Dashboard {
        let screen = crate::common::Server::new();
        let home = repo.env.home();
        let mut env: Vec<(String, String)> = [
            ("HOME", home.display().to_string()),
            (
                "XDG_CONFIG_HOME",
                home.join(".config").display().to_string(),
            ),
            ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_AUTHOR_NAME", "t".into()),
            ("GIT_AUTHOR_EMAIL", "t@example.com".into()),
            ("GIT_COMMITTER_NAME", "t".into()),
            ("GIT_COMMITTER_EMAIL", "t@example.com".into()),
            ("VNX_TMUX_SOCKET", repo.server.0.socket().into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.push(("TERM".into(), "xterm-256color".into()));
        let pane = screen
            .0
            .new_session(
                "dash",
                repo.env.path(),
                &env,
                &[env!("CARGO_BIN_EXE_vnx").into(), "dashboard".into()],
            )
            .unwrap();
        let dash = Dashboard {
            screen,
            pid: pane.pid,
        };
        dash.tmux(&["resize-window", "-t", "=dash:", "-x", "80", "-y", "24"]);
        dash
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("tmux")
            .args(["-L", self.screen.0.socket()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen_now(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "=dash:"])
    }

    /// Whether the screen shows `text` within 30 s (a dashboard's first load on a machine
    /// busy with other builds took over 10 s).
    fn shows(&self, text: &str) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(30) {
            if self.screen_now().contains(text) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    /// Whether a line of the screen shows each of `texts` within 10 s.
    fn shows_in_a_line(&self, texts: &[&str]) -> bool {
        crate::common::wait_for(|| {
            self.screen_now()
                .lines()
                .any(|l| texts.iter().all(|t| l.contains(t)))
        })
    }
}

#[test]
fn a_real_80x24_terminal_updates_attaches_and_sleeps_when_idle() {
    let repo = Repo::new();
    let done = repo.dispatched("commit", false);
    let dash = Dashboard::open(&repo);
    let (screen, pane_pid) = (&dash.screen, dash.pid);
    let shows = |text: &str| dash.shows(text);
    let screen_now = || dash.screen_now();
    assert!(shows(&done), "{}", screen_now());
    assert!(shows("ledger verified"), "{}", screen_now());
    let lines: Vec<String> = screen_now().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 24, "{lines:?}");
    assert!(lines.iter().all(|l| l.chars().count() <= 80));
    // The key bar ends with the way to every key (waited for: a capture may catch the bar
    // half redrawn); `?` shows them, any key closes it.
    let bar_ends_with_help = || {
        crate::common::wait_for(|| {
            (screen_now().lines().nth(23)).is_some_and(|l| l.contains("?:all keys q:quit"))
        })
    };
    assert!(bar_ends_with_help(), "{lines:?}");
    screen.send_keys("dash", &["?"]);
    assert!(shows("keys (any key closes this)"), "{}", screen_now());
    assert!(shows("deny the permission prompt"), "{}", screen_now());
    screen.send_keys("dash", &["x"]);
    assert!(
        crate::common::wait_for(|| !screen_now().contains("any key closes")),
        "{}",
        screen_now()
    );
    assert!(
        !screen_now().contains("[y/N]"),
        "the key only closed the help"
    );

    // Nothing runs and nothing changes: the dashboard sleeps.
    std::thread::sleep(std::time::Duration::from_millis(300));
    // It draws again when an age shown turns (once a second), so it wakes a few times in
    // 1.5 s; one that polled would wake hundreds of times. (Counted in wakes, not CPU
    // time, which depends on the machine and the build.)
    let before = wakes(pane_pid);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let woke = wakes(pane_pid) - before;
    assert!(woke <= 20, "woke {woke} times in 1.5 s while idle");

    // A dispatch started elsewhere appears by itself, first (it runs).
    let running = repo.dispatched("slow", true);
    assert!(shows(&running), "{}", screen_now());
    screen.send_keys("dash", &["Home"]);
    // Attach: the worker's pane takes the terminal; detaching comes back.
    screen.send_keys("dash", &["a"]);
    assert!(
        crate::common::wait_for(|| {
            let s = screen_now();
            s.contains("working for an hour") && !s.contains("LAST ACTIVITY")
        }),
        "{}",
        screen_now()
    );
    screen.send_keys("dash", &["C-b", "d"]);
    assert!(shows(&format!("back from {running}")), "{}", screen_now());
    // Cancel it, confirmed.
    screen.send_keys("dash", &["c"]);
    assert!(shows("[y/N]"), "{}", screen_now());
    screen.send_keys("dash", &["y"]);
    assert!(shows("cancelled"), "{}", screen_now());
    screen.send_keys("dash", &["q"]);
    assert!(screen.sessions_end(), "q quits: {}", screen_now());
}

/// The inodes of what the inotify watches of process `pid` watch: the lines `inotify wd:N
/// ino:HEX sdev:…` of its `/proc/PID/fdinfo`, sorted.
fn watched_inodes(pid: u32) -> Vec<u64> {
    let mut inodes = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fdinfo")).unwrap() {
        let Ok(info) = std::fs::read_to_string(fd.unwrap().path()) else {
            continue;
        };
        for line in info.lines().filter(|l| l.starts_with("inotify wd:")) {
            let ino = line
                .split_whitespace()
                .find_map(|f| f.strip_prefix("ino:"))
                .unwrap();
            inodes.push(u64::from_str_radix(ino, 16).unwrap());
        }
    }
    inodes.sort_unstable();
    inodes
}

#[test]
fn the_dashboard_watches_the_ledger_and_the_open_dispatches_not_the_history() {
    use std::os::unix::fs::MetadataExt;
    let repo = Repo::new();
    // A history of ended dispatches (each left its directory behind) and one running.
    let ended: Vec<String> = (0..8).map(|_| repo.dispatched("commit", false)).collect();
    let running = repo.dispatched("slow", true);
    let data = repo.env.path().join(".vnx-data");
    let inode = |p: &std::path::Path| std::fs::metadata(p).unwrap().ino();
    let dir_of = |id: &str| inode(&data.join("dispatches").join(id));
    // The ledger's directory and the open dispatches' directories, nothing else.
    let expected = |open: &[&str]| {
        let mut v = vec![inode(&data.join("state"))];
        v.extend(open.iter().map(|id| dir_of(id)));
        v.sort_unstable();
        v
    };
    let history: Vec<u64> = ended.iter().map(|id| dir_of(id)).collect();
    let dash = Dashboard::open(&repo);
    assert!(dash.shows(&running), "{}", dash.screen_now());
    let watches_only =
        |open: &[&str]| crate::common::wait_for(|| watched_inodes(dash.pid) == expected(open));
    assert!(
        watches_only(&[&running]),
        "watched {:?}, ledger and open {:?}, ended {history:?}",
        watched_inodes(dash.pid),
        expected(&[&running]),
    );

    // A dispatch that starts shows, and its directory is watched.
    let second = repo.dispatched("slow", true);
    assert!(dash.shows(&second), "{}", dash.screen_now());
    assert!(
        watches_only(&[&running, &second]),
        "{:?}",
        watched_inodes(dash.pid)
    );
    // A running one that changes state (cancelled from the shell) shows so, and its
    // directory is let go.
    let cancel = run(repo.vnx().args(["cancel", &running]));
    assert_eq!(cancel.code, 0, "{}", cancel.stderr);
    assert!(
        dash.shows_in_a_line(&[&running, "cancelled"]),
        "{}",
        dash.screen_now()
    );
    assert!(watches_only(&[&second]), "{:?}", watched_inodes(dash.pid));
    run(repo.vnx().args(["cancel", "--all"]));
    assert!(
        dash.shows_in_a_line(&[&second, "cancelled"]),
        "{}",
        dash.screen_now()
    );
    // Nothing open: the ledger's directory alone.
    assert!(watches_only(&[]), "{:?}", watched_inodes(dash.pid));
    dash.screen.send_keys("dash", &["q"]);
    assert!(dash.screen.sessions_end(), "q quits: {}", dash.screen_now());
}

/// `p` on a blocked dispatch approves it through the library's action, in the dashboard's
/// own process: the footer says what was answered and how, as `vnx approve` would.
#[test]
fn p_approves_a_blocked_dispatch_and_says_what_was_answered() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    crate::declared::asking_tui(&repo, tools.path());
    let (id, _) = crate::declared::blocked_tui(&repo);
    let dash = Dashboard::open(&repo);
    assert!(dash.shows(&id), "{}", dash.screen_now());
    dash.tmux(&["send-keys", "-t", "=dash:", "Home", "p"]);
    assert!(dash.shows("[y/N]"), "{}", dash.screen_now());
    dash.tmux(&["send-keys", "-t", "=dash:", "y"]);
    let said = format!("vnx approve {id}: ok: approved: git commit -q -m add");
    assert!(dash.shows(&said), "{}", dash.screen_now());
    let answered: Vec<_> = repo
        .receipts(&id)
        .into_iter()
        .filter(|r| r["event_type"] == "dispatch_answered")
        .collect();
    assert_eq!(answered.len(), 1, "{answered:?}");
    assert_eq!(answered[0]["keys"], "y Enter", "{answered:?}");
    let r = run(repo.vnx().args(["wait", "--json", &id]));
    assert_eq!(completion(&r)["status"], "done", "{}", r.stdout);
}

/// `p` on a dispatch whose plan waits approves the plan (ADR 0092), as `vnx approve` does:
/// a `plan_approved` and the follow-up that carries it out, named in the footer.
#[test]
fn p_approves_a_plan_that_waits() {
    let repo = Repo::new();
    let c = completion(&repo.dispatch("commit", &["--plan", "--instruction", "x"]));
    assert_eq!(c["status"], "needs_input", "{c}");
    let id = c["dispatch_id"].as_str().unwrap();
    pressed(&repo, id, "p", true, "plan approved (sha256 ");
    let approved: Vec<_> = repo
        .receipts(id)
        .into_iter()
        .filter(|r| r["event_type"] == "plan_approved")
        .collect();
    assert_eq!(approved.len(), 1, "{approved:?}");
}

/// Opens a dashboard on `repo`, whose one dispatch is `id`, presses `key` on it (and
/// confirms, when it asks): the footer says `said`.
fn pressed(repo: &Repo, id: &str, key: &str, asks: bool, said: &str) {
    let dash = Dashboard::open(repo);
    assert!(dash.shows(id), "{}", dash.screen_now());
    dash.tmux(&["send-keys", "-t", "=dash:", "Home", key]);
    if asks {
        assert!(dash.shows("[y/N]"), "{}", dash.screen_now());
        dash.tmux(&["send-keys", "-t", "=dash:", "y"]);
    }
    assert!(dash.shows(said), "{}", dash.screen_now());
}

/// `d`, `g`, `m`, `r`, `t` and `x`, done by the dashboard itself: work its worker never
/// reported accepted, a dispatch's gates run, it merged, then released (alone, or by the tidy
/// pass), an unwanted one discarded, each footer saying what was done.
#[test]
fn its_keys_accept_check_merge_release_tidy_and_discard_and_say_so() {
    let repo = Repo::new();
    let forgot = repo.dispatched("forget", false);
    let said = format!("vnx accept {forgot}: ok: accepted as done at");
    pressed(&repo, &forgot, "d", true, &said);
    let accepted: Vec<_> = (repo.receipts(&forgot).into_iter())
        .filter(|r| r["event_type"] == "dispatch_accepted")
        .collect();
    assert_eq!(accepted.len(), 1, "{accepted:?}");

    let repo = Repo::new();
    crate::common::configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let merged = repo.dispatched("commit", false);
    let said = format!("vnx gate-check {merged}: ok: GO");
    pressed(&repo, &merged, "g", false, &said);
    let said = format!("vnx merge {merged}: ok: merged into ");
    pressed(&repo, &merged, "m", true, &said);
    let said = format!("vnx worktree-release {merged}: ok: released (receipt line");
    pressed(&repo, &merged, "r", true, &said);
    assert!(!repo.branches().contains(&merged));

    let repo = Repo::new();
    crate::common::configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let landed = repo.dispatched("commit", false);
    for step in ["gate-check", "merge"] {
        let r = run(repo.vnx().args([step, &landed]));
        assert_eq!(r.code, 0, "{step}: {}", r.stderr);
    }
    pressed(
        &repo,
        &landed,
        "t",
        true,
        "vnx tidy: ok: 1 released, 0 kept",
    );
    assert!(!repo.branches().contains(&landed));

    let repo = Repo::new();
    let unwanted = repo.dispatched("commit", false);
    let said = format!("vnx clean {unwanted}: ok: discarded (receipt line");
    pressed(&repo, &unwanted, "x", true, &said);
    assert!(!repo.branches().contains(&unwanted));
}

/// `f` on an ended dispatch asks for an instruction and starts its follow-up in the
/// dashboard's own process (the library's action), detached; the footer names the new
/// dispatch, and its start on the ledger names the one it continues.
#[test]
fn f_follows_up_an_ended_dispatch_in_process_and_names_the_new_one() {
    let repo = Repo::new();
    let id = repo.dispatched("commit", false);
    let dash = Dashboard::open(&repo);
    assert!(dash.shows(&id), "{}", dash.screen_now());
    dash.tmux(&["send-keys", "-t", "=dash:", "Home", "f"]);
    dash.tmux(&["send-keys", "-t", "=dash:", "-l", "and the docs"]);
    dash.tmux(&["send-keys", "-t", "=dash:", "Enter"]);
    let said = format!("vnx follow-up {id}: ok: started D-");
    assert!(dash.shows(&said), "{}", dash.screen_now());
    let screen = dash.screen_now();
    let new = (screen.lines())
        .find(|l| l.contains(&said))
        .and_then(|l| l.split("started ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no new id in the footer: {screen}"))
        .to_owned();
    let r = run(repo.vnx().args(["wait", "--json", &new]));
    assert_eq!(completion(&r)["status"], "done", "{}", r.stdout);
    let started: Vec<_> = (repo.receipts(&new).into_iter())
        .filter(|r| r["event_type"] == "dispatch_started")
        .collect();
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(
        started[0]["continues"]["dispatch_id"],
        id.as_str(),
        "{started:?}"
    );
}
