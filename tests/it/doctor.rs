//! `vnx doctor` against real git and tmux (a private socket per test), with the stand-in
//! CLIs on a PATH of their own: a healthy project, broken project files, a tampered or cut
//! ledger, an insecure key, a CLI whose `--help` lost a flag vnx passes (and the help cache),
//! a lost dispatch, and leftovers of dispatches beside work kept on purpose.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Repo, TestEnv, completion, hermetic, run};

mod follow_ups;
mod unfinished;

/// A bin directory holding only what doctor should find: git and tmux, the stand-in claude,
/// codex and gemini, and an `ollama` script.
fn bin_dir(env: &TestEnv) -> PathBuf {
    let bin = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["git", "tmux", "bwrap"] {
        let path = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} is not on PATH"));
        std::os::unix::fs::symlink(path, bin.join(tool)).unwrap();
    }
    for cli in ["claude", "codex", "gemini"] {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_vnx-fake-cli"), bin.join(cli)).unwrap();
    }
    script(&bin.join("ollama"), "echo 'ollama version is 0.12.3'");
    bin
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `vnx doctor --json` with only `bin` on PATH: exit code and report.
fn doctor(mut cmd: Command, bin: &Path, args: &[&str]) -> (i32, Value) {
    cmd.env("PATH", bin).args(["doctor", "--json"]).args(args);
    let r = run(cmd);
    let v = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {} {}", r.stdout, r.stderr));
    (r.code, v)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report:#}"))
}

/// The checks that did not pass, one line each: what a failing assertion should show first.
fn not_passing(report: &Value) -> String {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| {
            let mut line = format!(
                "{} {}: {} (hint: {})",
                c["status"], c["name"], c["detail"], c["hint"]
            );
            // For a CLI, what the binary says when the test runs it itself.
            let detail = c["detail"].as_str().unwrap_or_default();
            if let Some((binary, _)) = detail.split_once(": ")
                && binary.starts_with('/')
            {
                line += &format!("\n  run by the test: {}", direct_run(Path::new(binary)));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `binary --help`, run straight from the test: exit status, then the start of its output.
fn direct_run(binary: &Path) -> String {
    match Command::new(binary).arg("--help").output() {
        Ok(out) => {
            let text = |b: &[u8]| {
                String::from_utf8_lossy(b)
                    .chars()
                    .take(160)
                    .collect::<String>()
            };
            format!(
                "{}; stdout {:?}; stderr {:?}",
                out.status,
                text(&out.stdout),
                text(&out.stderr)
            )
        }
        Err(e) => format!("could not start: {e}"),
    }
}

/// (status, detail) of one check.
fn verdict(report: &Value, name: &str) -> (String, String) {
    let c = check(report, name);
    (
        c["status"].as_str().unwrap().to_owned(),
        c["detail"].as_str().unwrap().to_owned(),
    )
}

/// The registry's CLIs `bin` lacks, as `not installed` lists them: no snapshot names them.
fn not_installed(bin: &Path) -> String {
    use vnx::provider::cli::{Provider, of};
    let lacks = |p: &Provider| of(*p).separate_binary() && !bin.join(of(*p).program()).exists();
    let named = |p: Provider| match of(p).program() {
        program if program == p.name() => program.to_owned(),
        program => format!("{} (`{program}`)", p.name()),
    };
    let listed: Vec<String> = Provider::ALL.into_iter().filter(lacks).map(named).collect();
    format!("{}: not on PATH", listed.join(", "))
}

fn first_line(program: &str, flag: &str) -> String {
    let out = Command::new(program).arg(flag).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn a_healthy_project_passes() {
    let repo = Repo::new();
    let bin = bin_dir(&repo.env);
    // The user has trusted the repository in claude and codex once.
    let root = repo.env.path().canonicalize().unwrap();
    let home = repo.env.home();
    std::fs::write(
        home.join(".claude.json"),
        serde_json::json!({"projects": {root.to_str().unwrap(): {"hasTrustDialogAccepted": true}}})
            .to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(home.join(".codex")).unwrap();
    std::fs::write(
        home.join(".codex/config.toml"),
        format!(
            "[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
            root.display()
        ),
    )
    .unwrap();
    let (code, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(code, 0, "{}", not_passing(&report));
    assert_eq!(report["summary"]["fail"], 0);
    let tmp = repo.env.dir.path();
    let redact = |mut text: String| {
        for (from, to) in [
            (
                not_installed(&bin),
                "[CLIs not in bin]: not on PATH".to_owned(),
            ),
            (first_line("git", "--version"), "[git version]".to_owned()),
            (first_line("tmux", "-V"), "[tmux version]".to_owned()),
            (
                first_line("bwrap", "--version"),
                "[bwrap version]".to_owned(),
            ),
            (repo.server.0.socket().to_owned(), "[socket]".to_owned()),
            (
                tmp.canonicalize().unwrap().display().to_string(),
                "[tmp]".to_owned(),
            ),
            (tmp.display().to_string(), "[tmp]".to_owned()),
            (
                format!("uid {} ", first_line("id", "-u")),
                "uid [uid] ".to_owned(),
            ),
        ] {
            text = text.replace(&from, &to);
        }
        // This machine's headroom changes from run to run.
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for line in &mut lines {
            if line.contains(" free memory (floor ") {
                *line = match line.find("\"detail\": \"") {
                    Some(at) => format!("{}\"detail\": \"[headroom]\",", &line[..at]),
                    None => format!("{}[headroom]", &line[..22]),
                };
            }
        }
        lines.join("\n") + if text.ends_with('\n') { "\n" } else { "" }
    };
    let redacted: Value =
        serde_json::from_str(&redact(serde_json::to_string_pretty(&report).unwrap())).unwrap();
    insta::assert_json_snapshot!("doctor_healthy", redacted);
    // The table people read, from the same checks.
    let mut cmd = repo.vnx();
    cmd.env("PATH", &bin).arg("doctor");
    let table = run(cmd);
    assert_eq!(table.code, 0, "{}", table.stderr);
    insta::assert_snapshot!(redact(table.stdout), @r#"
        PASS  git             [git version] (vnx needs 2.36 or later)
        PASS  tmux            [tmux version] (vnx needs 3.2 or later)
        PASS  sandbox         [bwrap version] makes a sandbox here ([tmp]/bin/bwrap)
        PASS  claude          [tmp]/bin/claude: 2.1.197 (Claude Code); all 11 flags vnx passes are listed in `claude --help`
        PASS  codex           [tmp]/bin/codex: codex-cli 0.169.0; all 26 flags vnx passes are listed in `codex exec --help`, `codex exec resume --help`, `codex --help` and `codex resume --help`
        PASS  gemini          [tmp]/bin/gemini: 0.61.0; all 10 flags vnx passes are listed in `gemini --help`
        PASS  not installed   [CLIs not in bin]: not on PATH; dispatches to them are refused
        PASS  project         [tmp]/work (initialised)
        PASS  config          .vnx/config.yaml: project id work, 0 declared providers, 0 roles
        PASS  constraints     provider_constraints.yaml: 5 constraints
        PASS  skills          3 skills: implementer, reviewer, test-writer
        PASS  git hooks       pre-merge-commit, pre-commit (concluding a merge) and pre-push in .git/hooks run `vnx audit-chain verify`
        PASS  ledger          no receipts yet ([tmp]/work/.vnx-data/state/t0_receipts.ndjson does not exist)
        WARN  signing key     none at [tmp]/home/.config/vnx/checkpoint.key yet; created by the first dispatch or checkpoint
              hint: run `vnx audit-chain checkpoint` once the ledger has receipts
        PASS  data_dir        [tmp]/work/.vnx-data/state is writable
        PASS  attestations    no receipts yet
        WARN  evidence_reach  workers run as uid [uid] without a sandbox: they can read the signing key (and so sign forged receipts), write the ledger, and move refs/vnx/checkpoints
              hint: vnx detects what such a worker does (unattested receipts, a cut or rewritten ledger, a moved checkpoint ref) but cannot prevent a worker that reads the key from forging evidence; review what you merge, and push refs/vnx/checkpoints where workers cannot force-push
        PASS  merges          no merge was interrupted
        PASS  worktrees       none under .vnx-data/worktrees
        PASS  branches        no dispatch/* branches
        PASS  tmux sessions   0 running dispatches on socket [socket]
        PASS  dispatches      none yet
        PASS  admission       [headroom]
        PASS  claude trust    the repository is trusted (covers its worktrees)
        PASS  codex trust     the repository is trusted (covers its worktrees)
        23 pass, 2 warn, 0 fail
    "#);
}

#[test]
fn strict_fails_on_a_warning_and_the_table_shows_hints() {
    let repo = Repo::new();
    let bin = bin_dir(&repo.env);
    let mut cmd = repo.vnx();
    cmd.env("PATH", &bin).arg("doctor");
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    let key = lines
        .iter()
        .position(|l| l.starts_with("WARN  signing key"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(lines[key + 1].starts_with("      hint: "), "{}", r.stdout);
    assert!(
        lines.iter().any(|l| l.starts_with("PASS  claude ")),
        "{}",
        r.stdout
    );
    assert!(
        lines.last().unwrap().ends_with(" warn, 0 fail"),
        "{}",
        r.stdout
    );
    let mut cmd = repo.vnx();
    cmd.env("PATH", &bin).args(["doctor", "--strict"]);
    assert_eq!(run(cmd).code, 1, "a WARN fails with --strict");
}

#[test]
fn outside_a_repository_and_before_init_the_project_fails() {
    let env = TestEnv::new();
    let bin = bin_dir(&env);
    let (code, report) = doctor(env.vnx(), &bin, &[]);
    assert_eq!(code, 1);
    let (status, detail) = verdict(&report, "project");
    assert_eq!(status, "fail");
    assert!(detail.contains("not inside a git repository"), "{detail}");
    // The machine's checks still run.
    assert_eq!(verdict(&report, "git").0, "pass");
    assert_eq!(
        check(&report, "claude")["status"],
        "pass",
        "{}",
        not_passing(&report)
    );

    env.git_init();
    let (code, report) = doctor(env.vnx(), &bin, &[]);
    assert_eq!(code, 1);
    let (status, detail) = verdict(&report, "project");
    assert_eq!(status, "fail");
    assert!(detail.contains("not initialised"), "{detail}");
    assert!(
        check(&report, "project")["hint"]
            .as_str()
            .unwrap()
            .contains("vnx init")
    );
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "config")
    );
    assert!(
        !env.path().join(".vnx-data").exists(),
        "doctor creates nothing in a repository vnx does not govern"
    );
}

#[test]
fn broken_project_files_are_located() {
    let repo = Repo::new();
    let bin = bin_dir(&repo.env);
    let root = repo.env.path();
    std::fs::write(
        root.join(".vnx/config.yaml"),
        "version: 1\nproviders:\n  kimi:\n    binry: kimi\n",
    )
    .unwrap();
    std::fs::write(root.join("provider_constraints.yaml"), "version: 2\n").unwrap();
    std::fs::write(
        root.join("skills/reviewer/SKILL.md"),
        "---\nname: reviewer\n---\n# no description\n",
    )
    .unwrap();
    let (code, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(code, 1);
    let (status, detail) = verdict(&report, "config");
    assert_eq!(status, "fail");
    assert!(detail.starts_with(".vnx/config.yaml:4:5: "), "{detail}");
    assert!(detail.contains("binry"), "{detail}");
    let (status, detail) = verdict(&report, "constraints");
    assert_eq!(status, "fail");
    assert!(
        detail.starts_with("provider_constraints.yaml:1:10: unsupported version `2`"),
        "{detail}"
    );
    let (status, detail) = verdict(&report, "skills");
    assert_eq!(status, "fail");
    assert_eq!(
        detail,
        "skills/reviewer/SKILL.md: the front matter has no `description`"
    );

    // A declared provider whose binary is missing only warns.
    std::fs::write(
        root.join(".vnx/config.yaml"),
        "version: 1\nproviders:\n  kimi:\n    binary: kimi\n    headless:\n      argv: [\"{prompt}\"]\n    permissions:\n      edits: []\n",
    )
    .unwrap();
    let (_, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(verdict(&report, "config").0, "pass");
    let (status, detail) = verdict(&report, "provider kimi");
    assert_eq!(status, "warn");
    assert!(detail.contains("not found"), "{detail}");
}

#[test]
fn a_tampered_ledger_a_cut_checkpoint_and_an_open_key_fail() {
    let repo = Repo::new();
    let bin = bin_dir(&repo.env);
    for _ in 0..2 {
        let r = repo.dispatch_as("reviewer", "noop", &["--instruction", "x"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let (code, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(code, 0, "{}", not_passing(&report));
    assert!(
        verdict(&report, "ledger")
            .1
            .starts_with("verified, 4 lines")
    );
    assert_eq!(verdict(&report, "checkpoint").0, "warn");
    assert_eq!(verdict(&report, "dispatches").1, "2 dispatches: 2 done");

    let r = run(repo.vnx().args(["audit-chain", "checkpoint"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(code, 0, "{}", not_passing(&report));
    let (status, detail) = verdict(&report, "checkpoint");
    assert_eq!(status, "pass");
    assert!(detail.contains("(line 4; 1 anchored)"), "{detail}");
    assert!(verdict(&report, "signing key").1.ends_with("(mode 600)"));

    let ledger = repo.env.path().join(".vnx-data/state/t0_receipts.ndjson");
    let original = std::fs::read_to_string(&ledger).unwrap();
    std::fs::write(&ledger, original.replacen("\"demo\"", "\"dem0\"", 1)).unwrap();
    let (code, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(code, 1);
    let (status, detail) = verdict(&report, "ledger");
    assert_eq!(status, "fail");
    assert!(
        detail.starts_with("broken: line 1: altered_line: "),
        "{detail}"
    );

    // Cut the last receipt: the chain still holds, the checkpoint sees it.
    let cut: String = original.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(&ledger, cut).unwrap();
    let (code, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(code, 1);
    let (status, detail) = verdict(&report, "ledger");
    assert_eq!(status, "fail");
    assert!(detail.contains("checkpoint_truncated"), "{detail}");
    let (status, detail) = verdict(&report, "checkpoint");
    assert_eq!(status, "fail");
    assert!(detail.contains("does not extend checkpoint"), "{detail}");
    std::fs::write(&ledger, &original).unwrap();

    let key = repo.env.home().join(".config/vnx/checkpoint.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(code, 1);
    let key_check = check(&report, "signing key");
    assert_eq!(key_check["status"], "fail");
    assert!(
        key_check["hint"].as_str().unwrap().contains("chmod 600"),
        "{key_check}"
    );
    // The ledger is still verified, against the committed keys alone.
    assert_eq!(verdict(&report, "ledger").0, "pass");
}

#[test]
fn a_cli_whose_help_lacks_a_flag_fails_and_help_is_read_once() {
    let repo = Repo::new();
    let bin = bin_dir(&repo.env);
    let gemini = bin.join("gemini");
    std::fs::remove_file(&gemini).unwrap();
    // Every flag vnx passes gemini but --skip-trust; each call is recorded.
    let body = "echo \"$*\" >> \"$0.calls\"\n\
                case \"$1\" in\n\
                --version) echo 0.99.0 ;;\n\
                --help) echo 'Usage: gemini [options]'\n\
                echo '  -m, --model  -p, --prompt  -i, --prompt-interactive  -y, --yolo'\n\
                echo '  --approval-mode  --allowed-tools  --include-directories'\n\
                echo '  -o, --output-format  -r, --resume  --policy' ;;\n\
                esac";
    script(&gemini, body);
    let calls = bin.join("gemini.calls");
    for _ in 0..2 {
        let (code, report) = doctor(repo.vnx(), &bin, &[]);
        assert_eq!(code, 1);
        let c = check(&report, "gemini");
        assert_eq!(c["status"], "fail", "{c}");
        let detail = c["detail"].as_str().unwrap();
        assert!(detail.contains(": 0.99.0;"), "the version seen: {detail}");
        assert!(
            detail.ends_with("`gemini --help` does not list --skip-trust"),
            "{detail}"
        );
        assert!(c["hint"].as_str().unwrap().contains("update gemini"), "{c}");
        assert_eq!(
            check(&report, "claude")["status"],
            "pass",
            "{}",
            not_passing(&report)
        );
    }
    // Both probes run at once, in either order.
    let mut seen: Vec<String> = std::fs::read_to_string(&calls)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        ["--help", "--version"],
        "the second doctor read both from the cache"
    );
    // A changed binary is probed afresh.
    script(&gemini, &format!("# upgraded\n{body}"));
    doctor(repo.vnx(), &bin, &[]);
    assert_eq!(std::fs::read_to_string(&calls).unwrap().lines().count(), 4);
}

/// A tmux session of `repo`'s server named `name` that sleeps: a stand-in for one vnx started.
fn sleeping_session(repo: &Repo, name: &str) {
    (repo.server.0)
        .new_session(name, repo.env.path(), &[], &["sleep".into(), "60".into()])
        .unwrap();
}

fn wait_for(mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_running_dispatch_passes_and_a_lost_one_fails() {
    let repo = Repo::new();
    let bin = bin_dir(&repo.env);
    let r = repo.dispatch("slow", &["--instruction", "x", "--detach"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let session = format!("vnx-{id}");
    let (code, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(code, 0, "{}", not_passing(&report));
    assert_eq!(verdict(&report, "dispatches").1, "1 dispatch: 1 running");
    assert!(
        verdict(&report, "tmux sessions")
            .1
            .starts_with("1 running dispatch on")
    );
    assert_eq!(
        verdict(&report, "worktrees").1,
        "1 in use by running dispatches"
    );

    // SIGKILL the supervisor (the pane's process): it cannot record anything.
    repo.server.kill_pane_process(&session);
    wait_for(|| !repo.server.0.has_session(&session));
    let (code, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(code, 1);
    let c = check(&report, "dispatches");
    assert_eq!(c["status"], "fail");
    let detail = c["detail"].as_str().unwrap();
    assert!(detail.starts_with("lost "), "{detail}");
    assert!(
        detail.contains(&format!("{id} (demo slow, started ")),
        "{detail}"
    );
    let hint = c["hint"].as_str().unwrap();
    assert!(hint.contains("review its worktree and branch"), "{hint}");
    assert!(hint.contains(&format!("`vnx cancel {id}`")), "{hint}");
    assert!(
        hint.contains(&format!("`vnx resume {id}` continues it")),
        "{hint}"
    );
    assert!(!hint.contains("`vnx recover"), "{hint}");
    // Its worktree and branch are kept for that review, not called orphans.
    assert_eq!(
        verdict(&report, "worktrees"),
        (
            "pass".into(),
            "1 of lost dispatches (see dispatches)".into()
        )
    );
    assert_eq!(
        verdict(&report, "branches"),
        (
            "pass".into(),
            "1 of lost dispatches (see dispatches)".into()
        )
    );
}

#[test]
fn leftovers_are_flagged_and_work_kept_on_purpose_is_not() {
    let repo = Repo::new();
    let bin = bin_dir(&repo.env);
    let mut ids = Vec::new();
    for model in ["fail", "commit", "noop"] {
        let r = repo.dispatch_as("reviewer", model, &["--instruction", "x"]);
        assert_eq!(r.code, i32::from(model == "fail"), "{}", r.stderr);
        ids.push(completion(&r)["dispatch_id"].as_str().unwrap().to_owned());
    }
    let (code, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(code, 0, "{}", not_passing(&report));
    assert_eq!(
        verdict(&report, "worktrees"),
        (
            "pass".into(),
            "1 kept on purpose (dirty work, locked for review)".into()
        )
    );
    assert_eq!(
        verdict(&report, "branches"),
        (
            "pass".into(),
            "1 kept on purpose (committed work); 1 kept on purpose (dirty worktree)".into()
        )
    );

    // A clean dispatch's branch that came back, a stray worktree directory, a stray session.
    let clean = &ids[2];
    repo.env.git(&["branch", &format!("dispatch/{clean}")]);
    std::fs::create_dir_all(repo.env.path().join(".vnx-data/worktrees/dispatch-D-gone")).unwrap();
    sleeping_session(&repo, "vnx-D-stray");
    // A place's credential relay keeper (ADR 0128) is a service of vnx's, not a stray.
    let keeper = vnx::tmux::session_for("keys", &repo.env.path().join("k"));
    sleeping_session(&repo, &keeper);
    let (code, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(code, 0, "leftovers warn: {}", not_passing(&report));
    let (status, detail) = verdict(&report, "worktrees");
    assert_eq!(status, "warn");
    assert_eq!(
        detail,
        "orphaned under .vnx-data/worktrees: dispatch-D-gone (no dispatch on the ledger)"
    );
    let (status, detail) = verdict(&report, "branches");
    assert_eq!(status, "warn");
    assert_eq!(
        detail,
        format!("not deleted at teardown: dispatch/{clean} (teardown clean)")
    );
    let (status, detail) = verdict(&report, "tmux sessions");
    assert_eq!(status, "warn");
    assert!(
        detail.ends_with(": vnx-D-stray (no dispatch on the ledger)"),
        "{detail}"
    );
    assert!(!detail.contains("vnx-keys-"), "{detail}");
    assert_eq!(verdict(&report, "dispatches").0, "pass");

    // A worktree still there after its dispatch ended (a teardown that failed, on a full
    // disk) may hold its worker's files: doctor says so and points at vnx's own commands,
    // never at a bare removal.
    let kept = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{clean}"));
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::write(kept.join("unsaved.txt"), "work").unwrap();
    let (_, report) = doctor(repo.vnx(), &bin, &[]);
    let c = check(&report, "worktrees");
    let detail = c["detail"].as_str().unwrap();
    assert!(detail.contains("may hold its worker's files"), "{detail}");
    assert!(!detail.contains("should be gone"), "{detail}");
    let hint = c["hint"].as_str().unwrap();
    assert!(hint.contains(&format!("vnx show {clean}")), "{hint}");
}

#[test]
fn missing_or_old_tools_fail() {
    let env = TestEnv::new();
    let bin = bin_dir(&env);
    std::fs::remove_file(bin.join("tmux")).unwrap();
    std::fs::remove_file(bin.join("git")).unwrap();
    script(&bin.join("git"), "echo 'git version 2.30.9'");
    let (code, report) = doctor(env.vnx(), &bin, &[]);
    assert_eq!(code, 1);
    let (status, detail) = verdict(&report, "tmux");
    assert_eq!(
        (status.as_str(), detail.as_str()),
        ("fail", "`tmux` is not on PATH")
    );
    let git = check(&report, "git");
    assert_eq!(git["status"], "fail");
    assert_eq!(
        git["detail"],
        "git version 2.30.9 is older than 2.36, which vnx needs for `git worktree list --porcelain -z`"
    );
    assert_eq!(git["hint"], "upgrade git to 2.36 or later");
}

/// A session whose dispatch has ended on the ledger is no orphan while its supervisor still
/// holds the dispatch (it tidies up after the recorded end and closes its pane itself); once
/// nothing holds it, doctor names it.
#[test]
fn a_session_whose_supervisor_still_holds_its_ended_dispatch_is_no_orphan() {
    let repo = Repo::new();
    let bin = bin_dir(&repo.env);
    let r = repo.dispatch_as("reviewer", "noop", &["--instruction", "x"]);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    let session = format!("vnx-{id}");
    // The supervisor's own session closes once it has tidied up; a stand-in takes its name.
    wait_for(|| !repo.server.0.has_session(&session));
    sleeping_session(&repo, &session);
    let lock = repo
        .env
        .path()
        .join(format!(".vnx-data/dispatches/{id}/lock"));
    let held = std::fs::File::open(&lock).unwrap();
    held.lock().unwrap();
    let (_, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(verdict(&report, "tmux sessions").0, "pass", "{report:#}");
    drop(held);
    let (_, report) = doctor(repo.vnx(), &bin, &[]);
    let (status, detail) = verdict(&report, "tmux sessions");
    assert_eq!(status, "warn");
    assert!(
        detail.ends_with(&format!(": {session} (its dispatch ended done)")),
        "{detail}"
    );
}

/// CI runs the suite in a PID namespace whose session leader is outside it, where `getsid`
/// (and `getpgrp` for a process that is not a group leader) return 0. The stand-ins once
/// panicked there; vnx and they must work.
#[test]
#[ignore = "needs a user that may create a PID namespace (`unshare --pid`, e.g. root)"]
fn doctor_and_the_stand_ins_work_where_the_session_is_outside_the_pid_namespace() {
    let unshare = ["/usr/bin/unshare", "/bin/unshare"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("unshare (util-linux) is installed");
    let can = Command::new(unshare)
        .args(["--pid", "--fork", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        can,
        "this user cannot create a PID namespace (`unshare --pid` needs root): run this test as a \
         user that can"
    );
    let repo = Repo::new();
    let bin = bin_dir(&repo.env);
    let mut cmd = Command::new(unshare);
    hermetic(&mut cmd, &repo.env.home());
    cmd.current_dir(repo.env.path())
        .env("PATH", &bin)
        .env("VNX_TMUX_SOCKET", repo.server.0.socket())
        .args([
            "--pid",
            "--fork",
            env!("CARGO_BIN_EXE_vnx"),
            "doctor",
            "--json",
        ]);
    let r = run(cmd);
    let report: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {} {}", r.stdout, r.stderr));
    for cli in ["claude", "codex", "gemini"] {
        assert_eq!(
            check(&report, cli)["status"],
            "pass",
            "{}",
            not_passing(&report)
        );
    }
    assert_eq!(r.code, 0, "{}", not_passing(&report));
}

#[test]
fn a_user_of_one_cli_is_not_told_to_install_the_others() {
    let repo = Repo::new();
    let bin = bin_dir(&repo.env);
    for cli in ["codex", "gemini", "ollama"] {
        let _ = std::fs::remove_file(bin.join(cli));
    }
    let (_, report) = doctor(repo.vnx(), &bin, &[]);
    assert_eq!(check(&report, "claude")["status"], "pass", "{report:#}");
    // The missing ones are one line, naming each.
    let absent = check(&report, "not installed");
    assert_eq!(absent["status"], "pass", "{absent}");
    let detail = absent["detail"].as_str().unwrap();
    for cli in ["codex", "gemini", "ollama (`opencode`)"] {
        assert!(detail.contains(cli), "{cli}: {absent}");
    }
    let names = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| ["codex", "gemini", "ollama"].contains(&c["name"].as_str().unwrap()))
        .count();
    assert_eq!(names, 0, "a missing CLI has no line of its own: {report:#}");
    // With no worker CLI at all, that line is a warning.
    let _ = std::fs::remove_file(bin.join("claude"));
    let (_, report) = doctor(repo.vnx(), &bin, &[]);
    let absent = check(&report, "not installed");
    assert_eq!(absent["status"], "warn", "{report:#}");
    assert!(
        absent["detail"].as_str().unwrap().contains("claude"),
        "{absent}"
    );
}
