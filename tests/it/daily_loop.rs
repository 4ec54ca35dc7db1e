//! The daily loop from a fresh repository: `vnx init` in a Cargo project proposes `cargo test`
//! as the implementer's gate, a stand-in CLI does the work, `vnx merge` runs the gate it has
//! not passed yet and lands it; a failing gate still holds; `gate-check` takes several ids.
//! `cargo` here is a stand-in script on PATH that passes when `src/lib.rs` defines `greet`:
//! what is tested is vnx running the detected command in a checkout of the head.

use std::os::unix::fs::PermissionsExt;

use crate::common::{Fakes, Run, TestEnv, completion, run, tmux::Server};

/// A fresh Cargo project: a git repository with `Cargo.toml` and `src/lib.rs` committed,
/// a tmux server of its own, the stand-in CLIs and a stand-in `cargo` on PATH.
struct Project {
    env: TestEnv,
    server: Server,
    fakes: Fakes,
    bin: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let env = TestEnv::new();
        std::fs::remove_dir(env.path().join("state")).unwrap();
        env.git_init();
        std::fs::write(
            env.path().join("Cargo.toml"),
            "[package]\nname = \"greeter\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
        )
        .unwrap();
        std::fs::create_dir(env.path().join("src")).unwrap();
        std::fs::write(env.path().join("src/lib.rs"), "//! A greeter.\n").unwrap();
        env.git(&["add", "-A"]);
        env.git(&["commit", "-q", "-m", "a cargo project"]);
        let bin = tempfile::tempdir().unwrap();
        let cargo = bin.path().join("cargo");
        std::fs::write(
            &cargo,
            "#!/bin/sh\n\
             test \"$1\" = test || exit 2\n\
             echo \"cargo test in $PWD\"\n\
             grep -q 'fn greet' src/lib.rs || { echo 'test result: FAILED' >&2; exit 101; }\n\
             echo 'test result: ok'\n",
        )
        .unwrap();
        std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
        Project {
            env,
            server: Server::new(),
            fakes: Fakes::new(),
            bin,
        }
    }

    fn vnx(&self, args: &[&str]) -> Run {
        let mut cmd = self.env.vnx();
        let mut path = self.bin.path().as_os_str().to_owned();
        path.push(":");
        path.push(self.fakes.path());
        cmd.env("VNX_TMUX_SOCKET", self.server.0.socket())
            .env("PATH", path)
            .env("VNX_FAKE_LOG_DIR", self.fakes.log_dir())
            .args(args);
        run(cmd)
    }

    /// A headless dispatch of the stand-in claude in role implementer that writes
    /// `src/lib.rs` and reports done: its id.
    fn dispatch(&self, lib: &str) -> String {
        let r = self.vnx(&[
            "dispatch-agent",
            "--agent",
            "implementer",
            "--provider",
            "claude",
            "--lane",
            "headless",
            "--json",
            "--instruction",
            &format!(
                "write the greeter\n@fake write src/lib.rs {lib}\n\
                 @fake run vnx report --status done --summary greeter"
            ),
        ]);
        let c = completion(&r);
        assert_eq!((r.code, c["status"].as_str()), (0, Some("done")), "{c}");
        c["dispatch_id"].as_str().unwrap().to_owned()
    }
}

#[test]
fn init_dispatch_and_merge_land_work_through_the_detected_gate() {
    let p = Project::new();
    let r = p.vnx(&["init"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("found Cargo.toml: the gate `test` runs `cargo test` for role `implementer`"),
        "{}",
        r.stderr
    );
    p.env.git(&["add", "-A"]);
    p.env.git(&["commit", "-q", "-m", "vnx init"]);

    let id = p.dispatch("pub fn greet() -> &'static str { \"hello\" }");
    let before = p.env.git(&["rev-parse", "HEAD"]);
    let r = p.vnx(&["merge", &id]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "{id}: gate test has no current pass for its head; running it first"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("gate test: pass"), "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("{id}: merged into ")),
        "{}",
        r.stdout
    );
    assert_ne!(p.env.git(&["rev-parse", "HEAD"]), before, "main moved");
    assert!(
        std::fs::read_to_string(p.env.path().join("src/lib.rs"))
            .unwrap()
            .contains("fn greet"),
        "the work is on main"
    );
    // The gate ran in a checkout of the head, not in the main checkout.
    let output = p
        .env
        .path()
        .join(".vnx-data/gates")
        .join(&id)
        .read_dir()
        .unwrap()
        .flatten()
        .map(|run| run.path().join("test/output.log"))
        .find(|log| log.is_file())
        .expect("the gate's output log");
    let log = std::fs::read_to_string(output).unwrap();
    assert!(log.contains("test result: ok"), "{log}");
    assert!(!log.contains(&format!("cargo test in {}\n", p.env.path().display())));
}

#[test]
fn a_failing_detected_gate_holds_the_merge_and_gate_check_takes_several_ids() {
    let p = Project::new();
    assert_eq!(p.vnx(&["init"]).code, 0);
    p.env.git(&["add", "-A"]);
    p.env.git(&["commit", "-q", "-m", "vnx init"]);
    let good = p.dispatch("pub fn greet() {}");
    let bad = p.dispatch("pub fn wave() {}");

    let r = p.vnx(&["merge", &bad]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("gate test: fail"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("error: refusing to merge {bad}: gates_passed: ")),
        "{}",
        r.stderr
    );

    let r = p.vnx(&["gate-check", &good, &bad]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("D-")).collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(lines[0].starts_with(&format!("{good}  GO ")), "{lines:?}");
    assert!(lines[1].starts_with(&format!("{bad}  HOLD ")), "{lines:?}");
    assert!(
        r.stderr.contains(&format!("1 of 2 dispatches HOLD: {bad}")),
        "{}",
        r.stderr
    );
    let r = p.vnx(&["gate-check", &good, &bad, "--json"]);
    let reports: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let decisions: Vec<(&str, &str)> = reports
        .iter()
        .map(|r| {
            (
                r["dispatch_id"].as_str().unwrap(),
                r["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(decisions, [(good.as_str(), "GO"), (bad.as_str(), "HOLD")]);
    let r = p.vnx(&["gate-check", &good, "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let one: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(one["decision"], "GO", "one id: one object, as before");
}

#[test]
fn a_conflict_is_resolved_by_replaying_the_task_on_the_current_base() {
    let repo = crate::common::Repo::new();
    crate::common::configure(
        &repo,
        "gates:\n\
         \x20 tests: {kind: command, argv: [sh, -c, 'grep -q \"vnx demo worker\" demo-output.txt']}\n\
         roles:\n\
         \x20 implementer: {gates: [tests]}\n",
    );
    let r = repo.dispatch("commit", &["--instruction", "write the demo output"]);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    // Meanwhile main gets a change of its own to the same file.
    std::fs::write(repo.env.path().join("demo-output.txt"), "written on main\n").unwrap();
    repo.env.git(&["add", "demo-output.txt"]);
    repo.env.git(&["commit", "-q", "-m", "main's own output"]);

    let merge = |id: &str| run(repo.vnx().args(["merge", id]));
    let r = merge(&id);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "or replay the task on the current base: `vnx replay {id} --base-ref main`"
        )),
        "{}",
        r.stderr
    );
    // The replay starts from main as it is now, and merges back into it.
    let r = run(repo
        .vnx()
        .args(["replay", &id, "--base-ref", "main", "--json"]));
    let c = completion(&r);
    assert_eq!((r.code, c["status"].as_str()), (0, Some("done")), "{c}");
    let replay = c["dispatch_id"].as_str().unwrap().to_owned();
    let started = repo
        .receipts(&replay)
        .into_iter()
        .find(|r| r["event_type"] == "dispatch_started")
        .unwrap();
    assert_eq!(started["base_ref"], "refs/heads/main");
    assert_eq!(
        started["base_commit"].as_str().unwrap(),
        repo.env.git(&["rev-parse", "main"]).trim()
    );
    assert_eq!(started["replay_of"]["dispatch_id"], id.as_str());
    let r = merge(&replay);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("gate tests: pass"), "{}", r.stderr);
    let output = std::fs::read_to_string(repo.env.path().join("demo-output.txt")).unwrap();
    assert!(output.starts_with("vnx demo worker"), "{output}");
    repo.verify_ok();
}
