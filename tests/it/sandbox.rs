//! The bubblewrap sandbox (`--sandbox`): a worker that tries to write the main checkout, read
//! `~/.ssh`, move `main`, write the ledger, write its worktree and commit gets only the last
//! two, and its attempts are in its log; its commit reaches the branch through the quarantine;
//! the network can be off; `--permission full` is allowed only sandboxed by the shipped
//! constraints; doctor says whether bubblewrap works; a machine without it gets a clear error
//! and nothing made.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::{Repo, completion, run};

/// Writes an executable script.
pub(crate) fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Declares a headless provider `name` running `bin` (prompt as its argument; `full` posture
/// allowed) and commits the config.
pub(crate) fn declare(repo: &Repo, name: &str, bin: &Path, extra: &str) {
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "providers:\n  {name}:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    \
         permissions:\n      edits: []\n      full: []\n{extra}",
        bin.display()
    ));
    std::fs::write(&config, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "declare a provider"]);
}

/// Runs one attempt and logs its outcome: `attempt NAME: allowed` or `attempt NAME: denied`.
const ATTEMPT: &str = r#"attempt() { name=$1; shift; if "$@" >/dev/null 2>&1; then echo "attempt $name: allowed"; else echo "attempt $name: denied"; fi; }"#;

/// The prober: every attempt a worker should not be able to make, then its own work.
fn prober_body() -> String {
    format!(
        r#"{ATTEMPT}
main="${{VNX_WORKTREE%/.vnx-data/*}}"
attempt write-main sh -c "echo pwned > '$main/pwned.txt'"
attempt read-ssh cat "$HOME/.ssh/id_ed25519"
attempt move-main git update-ref refs/heads/main HEAD
attempt write-ledger sh -c "echo forged >> '$main/.vnx-data/state/t0_receipts.ndjson'"
attempt write-worktree sh -c "echo hello > greeting.txt"
attempt commit sh -c "git add greeting.txt && git -c user.name=w -c user.email=w@example.com commit -q -m 'greet from the sandbox'"
"#
    )
}

/// The worker's log: what it wrote to stdout and stderr.
fn worker_log(repo: &Repo, id: &str) -> String {
    let path = repo
        .env
        .path()
        .join(format!(".vnx-data/dispatches/{id}/worker.log"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn attempts(log: &str) -> Vec<(String, String)> {
    log.lines()
        .filter_map(|l| l.strip_prefix("attempt "))
        .filter_map(|l| l.split_once(": "))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
}

#[test]
fn a_sandboxed_worker_writes_its_worktree_and_commits_and_nothing_else() {
    let repo = Repo::new();
    let ssh = repo.env.home().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(ssh.join("id_ed25519"), "PRIVATE KEY\n").unwrap();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("prober");
    script(&bin, &prober_body());
    declare(&repo, "prober", &bin, "");
    let main_before = repo.env.git(&["rev-parse", "main"]);

    // Without the sandbox the same worker reaches all of it (the control, in a repository of
    // its own, which it damages).
    let control = Repo::new();
    std::fs::create_dir_all(control.env.home().join(".ssh")).unwrap();
    std::fs::write(control.env.home().join(".ssh/id_ed25519"), "KEY\n").unwrap();
    declare(&control, "prober", &bin, "");
    let r = run(control.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "prober",
        "--no-sandbox",
        "--instruction",
        "probe",
        "--json",
    ]));
    let log = worker_log(&control, completion(&r)["dispatch_id"].as_str().unwrap());
    assert_eq!(attempts(&log).len(), 6, "{log}");
    assert!(
        attempts(&log).iter().all(|(_, r)| r == "allowed"),
        "unsandboxed: {log}"
    );
    assert!(control.env.path().join("pwned.txt").exists());

    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "prober",
        "--sandbox",
        "--instruction",
        "probe",
        "--json",
    ]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let c = completion(&r);
    let id = c["dispatch_id"].as_str().unwrap();
    let log = worker_log(&repo, id);
    let got = attempts(&log);
    let want: Vec<(String, String)> = [
        ("write-main", "denied"),
        ("read-ssh", "denied"),
        ("move-main", "denied"),
        ("write-ledger", "denied"),
        ("write-worktree", "allowed"),
        ("commit", "allowed"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want, "{log}");
    assert_eq!(c["status"], "done", "{c}");
    // The worker's own commit is the branch's head: it came in through the quarantine.
    assert_eq!(c["teardown_class"], "committed", "{c}");
    assert!(c.get("vnx_commit").is_none(), "{c}");
    assert_eq!(repo.on_branch(id, "greeting.txt"), "hello\n");
    let subject = repo
        .env
        .git(&["log", "-1", "--format=%s", &format!("dispatch/{id}")]);
    assert_eq!(subject.trim(), "greet from the sandbox");
    assert!(!repo.env.path().join("pwned.txt").exists());
    assert_eq!(repo.env.git(&["rev-parse", "main"]), main_before);
    assert!(
        !repo
            .env
            .path()
            .join(".vnx-data/quarantine")
            .join(id)
            .exists(),
        "the quarantine goes once imported"
    );
    repo.env.git(&["fsck", "--strict", "--no-dangling"]);
    repo.verify_ok();

    // The receipt records the sandbox's shape.
    let started = &repo.receipts(id)[0];
    let shape = &started["sandbox"];
    assert_eq!(shape["kind"], "bubblewrap", "{started}");
    assert_eq!(shape["network"], "on");
    let list = |k: &str| -> Vec<String> {
        shape[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let worktree = started["worktree"].as_str().unwrap();
    assert!(list("writable").iter().any(|w| w == worktree), "{shape}");
    let home = repo.env.home();
    assert!(
        list("hidden").iter().any(|h| home.starts_with(h)),
        "the home directory is hidden: {shape}"
    );
    assert_eq!(shape["git"]["branch"], format!("dispatch/{id}"));
    // The sandboxed worker could not reach the ledger: measured inside the sandbox.
    let reach = &started["evidence_reach"];
    assert_eq!(reach["sandbox"], "bubblewrap", "{reach}");
    assert_eq!(reach["ledger_writable"], false, "{reach}");
    assert_eq!(reach["checkpoint_refs_writable"], false, "{reach}");
}

/// A sandboxed worker sees of the project's data directory only its own dispatch's: another
/// dispatch's environment (a queued one's `queue/ID.env`, and `dispatches/ID/env` of one
/// launched meanwhile, before its supervisor takes it) and the ledger are out of its sight,
/// while its own dispatch directory and worktree work (its report, its commit).
#[test]
fn a_sandboxed_worker_sees_no_other_dispatchs_environment() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let holder = tools.path().join("holder");
    script(&holder, "exec sleep 600");
    let prober = tools.path().join("prober");
    script(
        &prober,
        &format!(
            r#"{ATTEMPT}
main="${{VNX_WORKTREE%/.vnx-data/*}}"
attempt read-queued-env grep -q QUEUED_KEY "$main/.vnx-data/queue/D-00000000a002.env"
attempt read-launched-env grep -q LAUNCHED_KEY "$main/.vnx-data/dispatches/D-00000000a003/env"
attempt list-dispatch-directories sh -c "ls '$main/.vnx-data/dispatches' | grep -q D-00000000a001"
attempt read-ledger grep -q dispatch_started "$main/.vnx-data/state/t0_receipts.ndjson"
attempt read-own-dispatch-directory grep -q D-00000000a009 "$VNX_DISPATCH_DIR/spec.json"
attempt write-own-dispatch-directory sh -c "echo x > '$VNX_DISPATCH_DIR/tmp/x'"
attempt write-worktree sh -c "echo hello > greeting.txt"
attempt commit sh -c "git add greeting.txt && git -c user.name=w -c user.email=w@example.com commit -q -m greet"
vnx report --status done --summary probed
"#
        ),
    );
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    for (name, bin) in [("holder", &holder), ("prober", &prober)] {
        text.push_str(&format!(
            "{}  {name}:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    \
             permissions:\n      edits: []\n",
            if name == "holder" { "providers:\n" } else { "" },
            bin.display()
        ));
    }
    text.push_str("concurrency:\n  holder: 1\n");
    std::fs::write(&config, text).unwrap();
    repo.env
        .git(&["commit", "-q", "-am", "declare the providers"]);
    // One holder runs, the next waits in the queue with its environment.
    for (id, key) in [("D-00000000a001", "RUNNING"), ("D-00000000a002", "QUEUED")] {
        let mut cmd = repo.vnx();
        cmd.env(format!("{key}_KEY"), "sk-secret").args([
            "dispatch-agent",
            "--agent",
            "implementer",
            "--provider",
            "holder",
            "--no-sandbox",
            "--instruction",
            "hold",
            "--detach",
            "--id",
            id,
        ]);
        let r = run(cmd);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let data = repo.env.path().join(".vnx-data");
    let queued = data.join("queue/D-00000000a002.env");
    assert!(queued.is_file(), "queued with its environment");
    // A dispatch launched meanwhile: its environment waits for its supervisor in its
    // directory (written as vnx writes it, private).
    let launched = data.join("dispatches/D-00000000a003");
    std::fs::create_dir_all(&launched).unwrap();
    std::fs::write(launched.join("env"), "LAUNCHED_KEY\0sk-secret\0").unwrap();
    std::fs::set_permissions(launched.join("env"), std::fs::Permissions::from_mode(0o600)).unwrap();

    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "prober",
        "--sandbox",
        "--instruction",
        "probe",
        "--id",
        "D-00000000a009",
        "--json",
    ]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let c = completion(&r);
    let log = worker_log(&repo, "D-00000000a009");
    let got = attempts(&log);
    let want: Vec<(String, String)> = [
        ("read-queued-env", "denied"),
        ("read-launched-env", "denied"),
        ("list-dispatch-directories", "denied"),
        ("read-ledger", "denied"),
        ("read-own-dispatch-directory", "allowed"),
        ("write-own-dispatch-directory", "allowed"),
        ("write-worktree", "allowed"),
        ("commit", "allowed"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want, "{log}");
    assert_eq!(c["status"], "done", "{c}");
    assert_eq!(c["report"]["summary"], "probed", "{c}");
    assert_eq!(c["teardown_class"], "committed", "{c}");
    assert_eq!(repo.on_branch("D-00000000a009", "greeting.txt"), "hello\n");
    let shape = &repo.receipts("D-00000000a009")[0]["sandbox"];
    assert!(
        shape["hidden"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str() == data.to_str()),
        "the data directory is hidden: {shape}"
    );
    let r = run(repo
        .vnx()
        .args(["cancel", "D-00000000a002", "D-00000000a001"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    repo.verify_ok();
}

/// A server on this machine's loopback answering `pong`: its port.
fn pong_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            use std::io::Write;
            let mut s = s;
            let _ = s.write_all(b"pong\n");
        }
    });
    port
}

#[test]
fn a_sandbox_without_network_reaches_no_port_but_those_it_is_given() {
    let repo = Repo::new();
    let (model, other) = (pong_server(), pong_server());
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("caller");
    let python = crate::common::python3();
    let connect = |name: &str, port: u16| {
        format!(
            "attempt {name} {} -c 'import socket; s = socket.create_connection((\"127.0.0.1\", {port}), timeout=5); assert s.recv(5) == b\"pong\\n\"'",
            python.display()
        )
    };
    script(
        &bin,
        &format!(
            "{ATTEMPT}\n{}\n{}",
            connect("model", model),
            connect("other", other)
        ),
    );
    declare(&repo, "caller", &bin, "");
    let dispatch = |network: &str| {
        let r = run(repo.vnx().args([
            "dispatch-agent",
            "--agent",
            "implementer",
            "--provider",
            "caller",
            "--sandbox",
            "--network",
            network,
            "--instruction",
            "call",
            "--json",
        ]));
        let c = completion(&r);
        let id = c["dispatch_id"].as_str().unwrap().to_owned();
        let log = worker_log(&repo, &id);
        (
            attempts(&log),
            repo.receipts(&id)[0]["sandbox"].clone(),
            log,
        )
    };
    let pair = |a: &str, b: &str| {
        vec![
            ("model".to_owned(), a.to_owned()),
            ("other".to_owned(), b.to_owned()),
        ]
    };
    let (on, shape, _) = dispatch("on");
    assert_eq!(on, pair("allowed", "allowed"));
    assert_eq!(shape["network"], "on");
    let (off, shape, _) = dispatch("off");
    assert_eq!(off, pair("denied", "denied"));
    assert_eq!(shape["network"], "off");
    // A local model server's port, listed, is relayed into the sandbox; no other is.
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("sandbox:\n  loopback: [{model}]\n"));
    std::fs::write(&config, text).unwrap();
    repo.env
        .git(&["commit", "-q", "-am", "relay the model's port"]);
    let (relayed, shape, log) = dispatch("off");
    assert_eq!(relayed, pair("allowed", "denied"), "{log}");
    assert_eq!(shape["loopback"], serde_json::json!([model]));
    assert!(
        !repo
            .env
            .path()
            .join(".vnx-data/relay")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "the relay's sockets go with the dispatch"
    );
}

#[test]
fn full_permission_runs_only_sandboxed_under_the_shipped_constraints() {
    let repo = Repo::new();
    let full = |sandbox: &str| {
        run(repo
            .dispatch_cmd("commit")
            .args(["--permission", "full", sandbox, "--json"])
            .args(["--instruction", "add a greeting"]))
    };
    let refused = full("--no-sandbox");
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "refused by constraint `no-skip-permissions` (via skip_permissions, not sandboxed)"
        ),
        "{}",
        refused.stderr
    );
    let ran = full("--sandbox");
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let c = completion(&ran);
    assert_eq!(c["status"], "done");
    let id = c["dispatch_id"].as_str().unwrap();
    let started = &repo.receipts(id)[0];
    assert_eq!(started["permission"], "full");
    assert_eq!(started["sandbox"]["kind"], "bubblewrap");
    // No constraint matched the sandboxed full posture, so none was recorded as refused.
    assert!(
        started["constraint_decisions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["id"] != "no-skip-permissions"),
        "{started}"
    );

    // `sandbox: {enabled: true}` sandboxes every dispatch that does not say --no-sandbox.
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("sandbox:\n  enabled: true\n  network: off\n");
    std::fs::write(&config, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "sandbox by default"]);
    let r = run(repo.dispatch_cmd("commit").args([
        "--permission",
        "full",
        "--json",
        "--instruction",
        "again",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = completion(&r)["dispatch_id"].as_str().unwrap().to_owned();
    assert_eq!(repo.receipts(&id)[0]["sandbox"]["network"], "off");
}

#[test]
fn without_bubblewrap_a_sandboxed_dispatch_is_refused_and_nothing_is_made() {
    let repo = Repo::new();
    // A PATH with git and tmux but no bwrap.
    let bin = tempfile::tempdir().unwrap();
    for tool in ["git", "tmux", "sh"] {
        let found = which(tool);
        std::os::unix::fs::symlink(found, bin.path().join(tool)).unwrap();
    }
    let before = repo.branches();
    let r = run(repo.dispatch_cmd("commit").env("PATH", bin.path()).args([
        "--sandbox",
        "--instruction",
        "x",
    ]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("`bwrap` is not on PATH"), "{}", r.stderr);
    assert!(
        r.stderr.contains("hint: install bubblewrap"),
        "{}",
        r.stderr
    );
    assert_eq!(repo.branches(), before);
    let worktrees = repo.env.path().join(".vnx-data/worktrees");
    assert!(std::fs::read_dir(&worktrees).map_or(true, |mut d| d.next().is_none()));

    // doctor says the same, and passes where bubblewrap works.
    let mut doctor = repo.vnx();
    doctor.env("PATH", bin.path());
    let check = sandbox_check(doctor);
    assert_eq!(check["status"], "warn", "{check}");
    assert!(check["detail"].as_str().unwrap().contains("not on PATH"));
    let check = sandbox_check(repo.vnx());
    assert_eq!(check["status"], "pass", "{check}");
    assert!(check["detail"].as_str().unwrap().contains("bubblewrap"));
}

/// doctor's `sandbox` check, from `vnx doctor --json` run by `cmd`.
fn sandbox_check(mut cmd: std::process::Command) -> serde_json::Value {
    let r = run(cmd.args(["doctor", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "sandbox")
        .cloned()
        .unwrap_or_else(|| panic!("{report}"))
}

fn which(tool: &str) -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{tool} not on PATH"))
}

/// A sandboxed worker that points its checkout's `.git` at a repository of its own, whose
/// config has a clean filter: any git vnx ran there afterwards, outside the sandbox, would run
/// it (here: write the main checkout).
fn escaper_body() -> String {
    r#"main="${VNX_WORKTREE%/.vnx-data/*}"
id="$VNX_DISPATCH_ID"
g() { git -c user.name=w -c user.email=w@example.com --git-dir="$PWD/own/.git" --work-tree="$PWD" "$@"; }
git init -q own
printf '* filter=evil\n' > .gitattributes
g config filter.evil.clean "sh -c 'echo escaped > \"$main/escaped.txt\"; cat'"
echo one > a.txt
g checkout -q -b "dispatch/$id"
g add a.txt .gitattributes
g commit -q -m own
printf 'gitdir: own/.git\n' > .git
sleep 1
echo two >> a.txt
echo "pointed .git at own/.git""#
        .to_owned()
}

#[test]
fn a_checkout_whose_git_a_sandboxed_worker_redirected_is_kept_unread() {
    let repo = Repo::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("escaper");
    script(&bin, &escaper_body());
    declare(&repo, "escaper", &bin, "");
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "escaper",
        "--sandbox",
        "--instruction",
        "escape",
        "--json",
    ]));
    let c = completion(&r);
    let id = c["dispatch_id"].as_str().unwrap();
    assert!(
        worker_log(&repo, id).contains("pointed .git at own/.git"),
        "{}",
        worker_log(&repo, id)
    );
    assert!(repo.server.sessions_end());
    // No git ran in it outside the sandbox: the filter never wrote the main checkout.
    assert!(!repo.env.path().join("escaped.txt").exists(), "{c}");
    assert_eq!(c["teardown_class"], "dirty", "{c}");
    assert!(
        c["teardown_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("its .git names"),
        "{c}"
    );
    // Kept as the worker left it.
    let wt = repo
        .env
        .path()
        .join(format!(".vnx-data/worktrees/dispatch-{id}"));
    assert_eq!(
        std::fs::read_to_string(wt.join(".git")).unwrap(),
        "gitdir: own/.git\n"
    );
    // Nor does `show --diff`: it says why instead.
    let r = run(repo.vnx().args(["show", id, "--diff"]));
    assert_eq!(r.code, 3, "{} {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("vnx runs no git in it"), "{}", r.stderr);
    assert!(!repo.env.path().join("escaped.txt").exists());
}

/// The gate script a hostile sandboxed worker commits in place of the project's: run by
/// `gate-check`, it prints and copies a key from the home directory (into its checkout and
/// into the main checkout), writes a hook into the main checkout's `.git/hooks/` and a file
/// into the home directory, then writes its checkout and passes.
const HOSTILE_CHECK: &str = r#"main="${PWD%/.vnx-data/*}"
echo "gate ran"
cat "$HOME/.ssh/id_rsa"
cp "$HOME/.ssh/id_rsa" stolen_key && echo "copied the key into the checkout"
cp "$HOME/.ssh/id_rsa" "$main/stolen_key"
echo 'echo hooked' > "$main/.git/hooks/post-checkout"
echo pwned > "$HOME/pwned"
echo built > built.txt && echo "wrote the checkout"
exit 0"#;

/// A repository whose implementer's command gate runs `sh check.sh` (a harmless one on
/// main), a key in its home directory, and a declared worker `rewriter` that replaces
/// `check.sh` with [`HOSTILE_CHECK`] and commits it.
fn gated_repo(tools: &Path) -> Repo {
    let repo = Repo::new();
    let ssh = repo.env.home().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(ssh.join("id_rsa"), "PRIVATE KEY\n").unwrap();
    std::fs::write(repo.env.path().join("check.sh"), "echo ok\n").unwrap();
    repo.env.git(&["add", "check.sh"]);
    repo.env.git(&["commit", "-q", "-m", "the project's check"]);
    let bin = tools.join("rewriter");
    script(
        &bin,
        &format!(
            "cat > check.sh <<'EOF'\n{HOSTILE_CHECK}\nEOF\ngit add check.sh && git -c \
             user.name=w -c user.email=w@example.com commit -q -m 'a better check'"
        ),
    );
    declare(
        &repo,
        "rewriter",
        &bin,
        "gates:\n  check: {kind: command, argv: [sh, check.sh]}\n\
         roles:\n  implementer: {gates: [check]}\n",
    );
    repo
}

/// Dispatches the rewriter (`--sandbox` or `--no-sandbox`) with `path` as PATH when given:
/// the dispatch's id.
fn rewritten(repo: &Repo, sandbox: &str, path: Option<&std::ffi::OsStr>) -> String {
    let mut cmd = repo.vnx();
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    let r = run(cmd.args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "rewriter",
        sandbox,
        "--instruction",
        "improve the check",
        "--json",
    ]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let c = completion(&r);
    assert_eq!(c["status"], "done", "{c}");
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    assert!(
        repo.on_branch(&id, "check.sh").contains("gate ran"),
        "the worker rewrote the gate's script"
    );
    id
}

/// What a gate's run left outside its checkout: the key copied into the main checkout, the
/// hook, the file in the home directory.
fn escaped(repo: &Repo) -> Vec<&'static str> {
    let main = repo.env.path();
    [
        ("stolen_key", main.join("stolen_key")),
        ("hook", main.join(".git/hooks/post-checkout")),
        ("home", repo.env.home().join("pwned")),
    ]
    .into_iter()
    .filter(|(_, p)| p.exists())
    .map(|(name, _)| name)
    .collect()
}

/// The gate `check`'s entry in a gate-check report, and its output.
fn check_gate(report: &serde_json::Value) -> (serde_json::Value, String) {
    let gate = report["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "check")
        .unwrap_or_else(|| panic!("{report:#}"))
        .clone();
    let output = std::fs::read_to_string(gate["output_path"].as_str().unwrap()).unwrap_or_default();
    (gate, output)
}

#[test]
fn a_sandboxed_dispatchs_command_gates_run_in_its_sandbox() {
    let tools = tempfile::tempdir().unwrap();

    // Unsandboxed, the rewritten gate reads the key and writes outside its checkout (the
    // control, in a repository of its own).
    let control = gated_repo(tools.path());
    let id = rewritten(&control, "--no-sandbox", None);
    let (_, report) = crate::common::gate_check(&control, &id);
    let (gate, output) = check_gate(&report);
    assert_eq!(gate["status"], "pass", "{gate:#}");
    assert!(output.contains("PRIVATE KEY"), "{output}");
    assert_eq!(escaped(&control), ["stolen_key", "hook", "home"]);
    assert!(gate.get("sandbox").is_none(), "{gate:#}");

    let repo = gated_repo(tools.path());
    let id = rewritten(&repo, "--sandbox", None);
    let (r, report) = crate::common::gate_check(&repo, &id);
    let (gate, output) = check_gate(&report);
    // It ran, wrote its checkout, and reached nothing else.
    assert!(output.contains("gate ran"), "{output}\n{}", r.stderr);
    assert!(output.contains("wrote the checkout"), "{output}");
    assert!(!output.contains("PRIVATE KEY"), "{output}");
    assert!(!output.contains("copied the key"), "{output}");
    assert_eq!(escaped(&repo), Vec::<&str>::new(), "{output}");
    assert_eq!(gate["status"], "pass", "{gate:#}");
    assert_eq!(report["decision"], "GO", "{report:#}");
    assert_eq!(gate["worktree_removed"], true, "{gate:#}");

    // The result receipt records the sandbox: the dispatch's shape, the checkout writable.
    let receipts = repo.receipts(&id);
    let result = receipts
        .iter()
        .find(|r| r["event_type"] == "gate_result" && r["gate"] == "check")
        .unwrap();
    let shape = &result["sandbox"];
    assert_eq!(shape["kind"], "bubblewrap", "{result}");
    let dir = Path::new(gate["output_path"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_owned();
    assert_eq!(
        shape["writable"],
        serde_json::json!([dir.join("checkout")]),
        "{shape}"
    );
    assert_eq!(shape["hidden"], receipts[0]["sandbox"]["hidden"], "{shape}");
    assert_eq!(shape["network"], receipts[0]["sandbox"]["network"]);
    assert!(shape.get("git").is_none(), "{shape}");
    repo.verify_ok();
}

#[test]
fn a_sandboxed_dispatchs_gate_without_bubblewrap_is_an_error_and_does_not_run() {
    let tools = tempfile::tempdir().unwrap();
    let repo = gated_repo(tools.path());
    // The dispatch finds bwrap through a link that is gone when its gates run.
    let link = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(which("bwrap"), link.path().join("bwrap")).unwrap();
    let mut path = link.path().as_os_str().to_owned();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap());
    let id = rewritten(&repo, "--sandbox", Some(&path));
    assert_eq!(
        repo.receipts(&id)[0]["sandbox"]["program"],
        link.path().join("bwrap").to_str().unwrap()
    );
    std::fs::remove_file(link.path().join("bwrap")).unwrap();
    let (r, report) = crate::common::gate_check(&repo, &id);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let (gate, output) = check_gate(&report);
    assert_eq!(gate["status"], "error", "{gate:#}");
    let reason = gate["reason"].as_str().unwrap();
    assert!(
        reason.contains("its gates run in its sandbox") && reason.contains("not run outside it"),
        "{reason}"
    );
    assert!(!output.contains("gate ran"), "{output}");
    assert_eq!(escaped(&repo), Vec::<&str>::new());
    assert_eq!(report["decision"], "HOLD");
}

#[test]
fn the_merge_queue_runs_a_sandboxed_dispatchs_gates_on_the_merge_result_in_its_sandbox() {
    let tools = tempfile::tempdir().unwrap();
    let repo = gated_repo(tools.path());
    let id = rewritten(&repo, "--sandbox", None);
    let (r, report) = crate::common::gate_check(&repo, &id);
    assert_eq!(report["decision"], "GO", "{report:#} {}", r.stderr);
    assert_eq!(escaped(&repo), Vec::<&str>::new());
    // main moves, so the queue runs the gate on the merge result.
    std::fs::write(repo.env.path().join("other.txt"), "other\n").unwrap();
    repo.env.git(&["add", "other.txt"]);
    repo.env.git(&["commit", "-q", "-m", "something else"]);
    let r = run(repo.vnx().args(["merge", &id, "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let result = repo
        .receipts(&id)
        .into_iter()
        .rev()
        .find(|r| r["event_type"] == "gate_result")
        .unwrap();
    assert!(result["on_merge"].is_object(), "{result}");
    let output = std::fs::read_to_string(result["output_path"].as_str().unwrap()).unwrap();
    assert!(output.contains("gate ran"), "{output}");
    assert!(!output.contains("PRIVATE KEY"), "{output}");
    assert_eq!(escaped(&repo), Vec::<&str>::new(), "{output}");
    assert_eq!(result["sandbox"]["kind"], "bubblewrap", "{result}");
}
