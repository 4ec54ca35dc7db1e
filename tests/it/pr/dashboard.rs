//! The dashboard and pull requests: each row's pull request as a badge and the selected
//! one's in the lower pane, read through the shared forge cache off the drawing thread,
//! at most once per pull request per `forge.refresh_seconds` however many frames are drawn,
//! keys pressed or reloads made. The real binary in an 80×24 tmux pane.

use super::{FORGE, check, pr_json};
use crate::common::forge::ScriptedForge;
use crate::common::{Repo, Server, committed, configure, gate_check, run, wait_for};

/// A done, gated dispatch of `repo` with its pull request opened: (id, number).
fn with_pr(repo: &Repo, forge: &ScriptedForge) -> (String, u64) {
    let id = committed(repo, "implementer");
    let (r, report) = gate_check(repo, &id);
    assert_eq!(r.code, 0, "{report:#}");
    let (r, opened) = pr_json(repo, forge, &["open", &id]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    (id, opened["number"].as_u64().unwrap())
}

/// `vnx dashboard` in an 80×24 pane of a tmux server of its own, with gh's environment.
fn open(repo: &Repo, forge: &ScriptedForge) -> Server {
    let screen = Server::new();
    let home = repo.env.home();
    let gh = forge.dir.path().join("gh");
    let env: Vec<(String, String)> = [
        ("HOME", home.display().to_string()),
        (
            "XDG_CONFIG_HOME",
            home.join(".config").display().to_string(),
        ),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        ("VNX_TMUX_SOCKET", repo.server.0.socket().into()),
        ("TERM", "xterm-256color".into()),
        ("GH_CONFIG_DIR", gh.display().to_string()),
        ("GH_TOKEN", crate::common::forge::TOKEN.into()),
        ("GH_HOST", "github.com".into()),
        ("GH_NO_UPDATE_NOTIFIER", "1".into()),
        ("GH_PROMPT_DISABLED", "1".into()),
        ("HTTPS_PROXY", "http://127.0.0.1:9".into()),
        ("https_proxy", "http://127.0.0.1:9".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    screen
        .0
        .new_session(
            "dash",
            repo.env.path(),
            &env,
            &[env!("CARGO_BIN_EXE_vnx").into(), "dashboard".into()],
        )
        .unwrap();
    let resized = std::process::Command::new("tmux")
        .args(["-L", screen.0.socket()])
        .args(["resize-window", "-t", "=dash:", "-x", "80", "-y", "24"])
        .status()
        .unwrap();
    assert!(resized.success());
    screen
}

fn screen_now(screen: &Server) -> String {
    let out = std::process::Command::new("tmux")
        .args(["-L", screen.0.socket()])
        .args(["capture-pane", "-p", "-t", "=dash:"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether the screen shows every one of `texts` within 30 s (a first load on a busy
/// machine took over 10 s).
fn shows(screen: &Server, texts: &[&str]) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(30) {
        let s = screen_now(screen);
        if texts.iter().all(|t| s.contains(t)) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

#[test]
fn the_dashboard_shows_pull_requests_and_reads_each_once_per_interval() {
    let repo = Repo::new();
    configure(&repo, &format!("{FORGE}  refresh_seconds: 3600\n"));
    let forge = ScriptedForge::for_repo(&repo);
    let (first, one) = with_pr(&repo, &forge);
    let (second, two) = with_pr(&repo, &forge);
    check(&forge, one, "ci", "failure", "error: boom");
    check(&forge, two, "ci", "success", "ok");
    // What one read of a pull request costs, then the cache emptied again.
    let before = forge.api_requests();
    let mut cmd = forge.vnx(&repo);
    cmd.args(["status", &first, "--refresh"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let per_read = forge.api_requests() - before;
    assert!(per_read >= 1);
    std::fs::remove_file(repo.env.path().join(".vnx-data/forge/cache.json")).unwrap();

    let before = forge.api_requests();
    let screen = open(&repo, &forge);
    let badges = [format!("#{one} ✗ 1/1"), format!("#{two} ✓")];
    assert!(
        shows(&screen, &[&badges[0], &badges[1]]),
        "{}",
        screen_now(&screen)
    );
    let read = forge.api_requests() - before;
    assert!(
        read <= 2 * per_read,
        "{read} requests for two pull requests"
    );
    // The selected one (the newest): its pull request's line over its pane.
    assert!(
        shows(&screen, &[&format!("pr #{two} open, checks 1 pass")]),
        "{}",
        screen_now(&screen)
    );
    let lines: Vec<String> = screen_now(&screen).lines().map(str::to_owned).collect();
    assert!(lines.iter().all(|l| l.chars().count() <= 80), "{lines:#?}");

    // Frames: keys move the selection and switch the views, each drawing again.
    for _ in 0..10 {
        screen.send_keys("dash", &["j"]);
        screen.send_keys("dash", &["k"]);
    }
    screen.send_keys("dash", &["j"]);
    assert!(
        shows(&screen, &[&format!("pr #{one} open, checks 1 fail (ci)")]),
        "{}",
        screen_now(&screen)
    );
    screen.send_keys("dash", &["3"]);
    assert!(
        shows(&screen, &["check  ci: fail"]),
        "the receipts view has the block: {}",
        screen_now(&screen)
    );
    // Reloads: a new dispatch is a change of the ledger and of the rows read.
    let third = committed(&repo, "implementer");
    assert!(shows(&screen, &[&third]), "{}", screen_now(&screen));
    assert!(
        wait_for(|| screen_now(&screen).contains(&badges[0])),
        "{}",
        screen_now(&screen)
    );
    assert_eq!(
        forge.api_requests() - before,
        read,
        "the dashboard read the forge again within the interval"
    );
    let _ = second;
    screen.send_keys("dash", &["q"]);
    assert!(screen.sessions_end(), "q quits: {}", screen_now(&screen));
}
