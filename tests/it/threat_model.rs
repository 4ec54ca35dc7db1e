//! What a worker can still reach, measured: one prober runs as a worker without a sandbox and
//! with `--sandbox`, asks the kernel (`access(2)`, through `test -r`/`test -w`, so nothing is
//! damaged) about each place the threat model names, and the answers must be the table in
//! `adr/0004-checkpoints-and-threat-model.md` between `<!-- measured-reach -->` markers. The
//! ADR's statement is this measurement, not a belief. A project whose data directory is a
//! link, which the sandbox could not hide, refuses a sandboxed dispatch.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use crate::common::{Repo, completion, repo_dir, run};

/// Each attempt: its name in the ADR's table and the shell test that makes it (run in the
/// worktree; `$main` is the main checkout).
const ATTEMPTS: &[(&str, &str)] = &[
    ("read-ssh-key", r#"test -r "$HOME/.ssh/id_ed25519""#),
    (
        "read-signing-key",
        r#"test -r "${XDG_CONFIG_HOME:-$HOME/.config}/vnx/checkpoint.key""#,
    ),
    (
        "write-ledger",
        r#"test -w "$main/.vnx-data/state/t0_receipts.ndjson""#,
    ),
    ("write-main-checkout", r#"test -w "$main""#),
    (
        "read-ledger",
        r#"test -r "$main/.vnx-data/state/t0_receipts.ndjson""#,
    ),
    (
        "read-other-dispatch-environments",
        r#"test -r "$main/.vnx-data/dispatches/D-0000dec0/env""#,
    ),
    ("write-branches", r#"test -w "$main/.git/refs/heads""#),
    ("write-repository-hooks", r#"test -w "$main/.git/hooks""#),
    ("write-repository-config", r#"test -w "$main/.git/config""#),
    (
        "write-pending-completions",
        r#"test -w "$main/.vnx-data/pending""#,
    ),
    (
        "write-other-dispatch-directories",
        r#"test -w "$main/.vnx-data/dispatches""#,
    ),
    (
        "write-own-dispatch-directory",
        r#"test -w "$VNX_DISPATCH_DIR""#,
    ),
    (
        "write-own-git-admin-directory",
        r#"test -w "$(git rev-parse --absolute-git-dir)""#,
    ),
    ("write-own-worktree", "test -w ."),
];

fn prober() -> String {
    let mut body = String::from(
        "#!/bin/sh\nmain=\"${VNX_WORKTREE%/.vnx-data/*}\"; export main\n\
         attempt() { if sh -c \"$2\" 2>/dev/null; then echo \"attempt $1: allowed\"; \
         else echo \"attempt $1: denied\"; fi; }\n",
    );
    for (name, test) in ATTEMPTS {
        body.push_str(&format!(
            "attempt {name} '{}'\n",
            test.replace('\'', r"'\''")
        ));
    }
    body
}

/// What the prober logged, attempt by attempt, dispatched in `posture`.
fn measure(posture: &str) -> BTreeMap<String, String> {
    let repo = Repo::new();
    let ssh = repo.env.home().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(ssh.join("id_ed25519"), "PRIVATE KEY\n").unwrap();
    // Another dispatch's environment file, as a launch leaves it for its supervisor.
    let other = repo.env.path().join(".vnx-data/dispatches/D-0000dec0");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("env"), "API_KEY=secret\n").unwrap();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("prober");
    std::fs::write(&bin, prober()).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "providers:\n  prober:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    \
         permissions:\n      edits: []\n      full: []\n",
        bin.display()
    ));
    std::fs::write(&config, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "declare the prober"]);
    let r = run(repo
        .vnx()
        .args([
            "dispatch-agent",
            "--agent",
            "implementer",
            "--provider",
            "prober",
        ])
        .args([posture, "--instruction", "probe", "--json"]));
    let id = completion(&r)["dispatch_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}{}", r.stdout, r.stderr))
        .to_owned();
    let log = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{id}/worker.log")),
    )
    .unwrap();
    let got: BTreeMap<String, String> = log
        .lines()
        .filter_map(|l| l.strip_prefix("attempt "))
        .filter_map(|l| l.split_once(": "))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    assert_eq!(got.len(), ATTEMPTS.len(), "{log}");
    got
}

/// The ADR's table: attempt → (without a sandbox, with `--sandbox`).
fn documented() -> BTreeMap<String, (String, String)> {
    let adr = std::fs::read_to_string(repo_dir().join("adr/0004-checkpoints-and-threat-model.md"))
        .unwrap();
    let start = adr
        .find("<!-- measured-reach -->")
        .expect("the table's start marker");
    let end = adr
        .find("<!-- /measured-reach -->")
        .expect("the table's end marker");
    adr[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (
                cells[0].trim_matches('`').to_owned(),
                (cells[1].to_owned(), cells[2].to_owned()),
            )
        })
        .collect()
}

#[test]
fn the_documented_reach_of_a_worker_is_the_measured_one() {
    let without = measure("--no-sandbox");
    let with = measure("--sandbox");
    let measured: BTreeMap<String, (String, String)> = without
        .iter()
        .map(|(name, a)| (name.clone(), (a.clone(), with[name].clone())))
        .collect();
    let table: String = measured
        .iter()
        .map(|(name, (a, b))| format!("| `{name}` | {a} | {b} |\n"))
        .collect();
    assert_eq!(
        documented(),
        measured,
        "ADR 0004's measured-reach table is not what a worker reaches; measured:\n{table}"
    );
}

/// A project whose data directory is a link to another disk: a sandbox hides the data
/// directory by its path, so a worker would see where the link leads (every dispatch's
/// environment). A sandboxed dispatch there is refused, with what to do, and nothing runs.
#[test]
fn a_linked_data_directory_refuses_a_sandboxed_dispatch() {
    let repo = Repo::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let data = repo.env.path().join(".vnx-data");
    let target = elsewhere.path().join("vnx-data");
    let moved = std::process::Command::new("mv")
        .arg(&data)
        .arg(&target)
        .status()
        .unwrap();
    assert!(moved.success());
    std::os::unix::fs::symlink(&target, &data).unwrap();
    let tools = tempfile::tempdir().unwrap();
    let prober = tools.path().join("prober");
    let ran = tools.path().join("ran");
    std::fs::write(&prober, format!("#!/bin/sh\ntouch {}\n", ran.display())).unwrap();
    std::fs::set_permissions(&prober, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = repo.env.path().join(".vnx/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "providers:\n  prober:\n    binary: {}\n    headless:\n      argv: [\"{{prompt}}\"]\n    \
         permissions:\n      edits: []\n",
        prober.display()
    ));
    std::fs::write(&config, text).unwrap();
    repo.env.git(&["commit", "-q", "-am", "declare the prober"]);
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "prober",
        "--sandbox",
        "--instruction",
        "probe",
    ]));
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("is a link, and a sandboxed worker must not see where it leads"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint: make "), "{}", r.stderr);
    assert!(!ran.exists(), "the worker ran");
    // Without a sandbox the worker runs there as before.
    run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "prober",
        "--no-sandbox",
        "--instruction",
        "probe",
    ]));
    assert!(ran.exists());
}
