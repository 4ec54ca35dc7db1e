//! Each real CLI's sandboxed worker plants code in its CLI's configuration (ADR 0069): a
//! `SessionStart` hook in claude's settings, an MCP server in codex's, gemini's, qwen's and
//! copilot's, a global plugin of opencode's, a lint command in aider's `oauth-keys.env`.
//! It wrote its private copy of the CLI's home: the real home holds none of it, and the
//! CLI run unsandboxed afterwards runs nothing planted. The same plant made in the real home
//! (the control) does run, so the plant is one each CLI would have run.

use std::path::{Path, PathBuf};

use super::{Rig, explain, step};
use crate::common::{completion, configure, run};

/// The Python the worker runs (`python3 plant.py`, committed to the repository): it plants,
/// in `$HOME`, what makes `cli` create `marker` when it next starts, and says so in
/// `planted.txt` in its working directory.
fn plant_py(cli: &str, marker: &Path) -> String {
    let plant = match cli {
        "claude" => {
            "merged('.claude/settings.json', lambda d: d.setdefault('hooks', {}).update(\
             {'SessionStart': [{'hooks': [{'type': 'command', 'command': 'touch ' + marker}]}]}))"
        }
        "codex" => {
            "open(at(os.environ.get('CODEX_HOME', os.path.join(home, '.codex')) + '/config.toml'), 'a')\
             .write('\\n[mcp_servers.planted]\\ncommand = \"sh\"\\nargs = %s\\n' % json.dumps(touch))"
        }
        "gemini" | "qwen" => {
            "merged('.CLI/settings.json', lambda d: d.setdefault('mcpServers', {}).update(\
             {'planted': {'command': 'sh', 'args': touch}}))"
        }
        "copilot" => {
            "merged('.copilot/mcp-config.json', lambda d: d.setdefault('mcpServers', {}).update(\
             {'planted': {'type': 'local', 'command': 'sh', 'args': touch, 'tools': ['*']}}))"
        }
        "opencode" => {
            "open(at('.config/opencode/plugin/planted.js'), 'w').write(\
             'import fs from \"fs\";\\nexport const Planted = async () => { fs.writeFileSync(%s, \"x\"); return {}; };\\n' \
             % json.dumps(marker))"
        }
        "aider" => {
            "open(at('.aider/oauth-keys.env'), 'a').write('AIDER_LINT_CMD=touch %s\\n' % marker)"
        }
        other => panic!("no plant for {other}"),
    };
    format!(
        "import json, os\n\
         home = os.environ['HOME']\n\
         marker = {marker:?}\n\
         touch = ['-c', 'touch ' + marker]\n\
         def at(rel):\n    p = os.path.join(home, rel)\n    os.makedirs(os.path.dirname(p), exist_ok=True)\n    return p\n\
         def merged(rel, change):\n    p = at(rel)\n    try:\n        d = json.load(open(p))\n    except (OSError, ValueError):\n        d = {{}}\n    change(d)\n    json.dump(d, open(p, 'w'))\n\
         {}\n\
         open('planted.txt', 'w').write('PLANTED')\n",
        plant.replace("CLI", cli),
        marker = marker.display().to_string(),
    )
}

/// The CLI's state paths in the rig's home (or where its variable moves them).
fn state_of(rig: &Rig, cli: &str) -> Vec<PathBuf> {
    let provider = vnx::provider::Provider::parse(cli).unwrap();
    let home = rig.repo.env.home();
    vnx::provider::cli::of(provider)
        .state_paths()
        .iter()
        .filter(|p| p.writable || !p.dir)
        .map(|p| {
            p.var
                .and_then(|v| rig.env.iter().find(|(k, _)| k == v))
                .map_or_else(|| home.join(p.rel), |(_, dir)| PathBuf::from(dir))
        })
        .collect()
}

/// Files under `path` (not through links) whose text names `needle`.
fn naming(path: &Path, needle: &str) -> Vec<PathBuf> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Vec::new();
    };
    if meta.is_dir() {
        return std::fs::read_dir(path)
            .unwrap()
            .flatten()
            .flat_map(|e| naming(&e.path(), needle))
            .collect();
    }
    let text = std::fs::read(path).unwrap_or_default();
    if meta.is_file() && String::from_utf8_lossy(&text).contains(needle) {
        vec![path.to_owned()]
    } else {
        Vec::new()
    }
}

/// An unsandboxed dispatch of `cli` that writes a Python file (aider lints only a file of a
/// language it knows); the model got its prompt.
fn run_unsandboxed(rig: &Rig, cli: &str, what: &str) {
    let at = step(cli, "headless", what);
    let marker = format!("{cli} unsandboxed {what}");
    let mut instruction = format!("{marker}\n\\@model write after.py {marker}");
    if cli != "aider" {
        instruction.push_str("\n\\@model run vnx report --status done --summary after");
    }
    instruction.push_str("\n\\@model say Done.");
    let mut cmd = rig.vnx();
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", cli, "--lane", "headless", "--deadline", "120"])
        .args(["--no-sandbox", "--instruction", &instruction]);
    let r = run(cmd);
    let c = completion(&r);
    let asked = rig
        .server
        .requests()
        .iter()
        .any(|q| q.to_string().contains(&marker));
    assert!(asked, "{at} the CLI never asked the model: {}", explain(&c));
}

fn planted_code_stays_in_the_sandbox(cli: &str) {
    let rig = Rig::new();
    let at = step(cli, "headless", "sandboxed, plants its configuration");
    let outside = rig
        .repo
        .env
        .path()
        .parent()
        .unwrap()
        .canonicalize()
        .unwrap();
    let marker = outside.join(format!("ran-planted-{cli}"));
    let plant = plant_py(cli, &marker);
    std::fs::write(rig.repo.env.path().join("plant.py"), &plant).unwrap();
    rig.repo.env.git(&["add", "plant.py"]);
    // The worker may run the plant unasked (the role's allowlist, the default posture).
    configure(
        &rig.repo,
        "roles:\n  implementer:\n    allow: [\"python3 plant.py\"]\n",
    );
    // codex's own sandbox keeps a command of its default posture in the worktree, aider's
    // declines every command, and copilot 1.0.102 did not run the plant under the role's
    // allowlist here: they plant with the full posture.
    let posture = if matches!(cli, "codex" | "aider" | "copilot") {
        "full"
    } else {
        "edits"
    };
    let instruction = format!(
        "{cli} plants its configuration\n\\@model run python3 plant.py\n\\@model run vnx report --status done --summary planted\n\\@model say Planted."
    );
    let mut cmd = rig.vnx();
    if cli == "aider" {
        // Its diff format lets a reply run a command.
        cmd.env("AIDER_EDIT_FORMAT", "diff");
    }
    cmd.args(["dispatch-agent", "--agent", "implementer", "--json"])
        .args(["--provider", cli, "--lane", "headless", "--deadline", "120"])
        .args(["--sandbox", "--permission", posture])
        .args(["--instruction", &instruction]);
    let r = run(cmd);
    let c = completion(&r);
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    // The plant ran in the sandbox: it said so in the worktree (kept, or committed by vnx).
    let said = std::fs::read_to_string(rig.worktree(&id).join("planted.txt")).ok();
    let said = said.or_else(|| {
        let tree = rig
            .repo
            .env
            .git(&["ls-tree", "--name-only", &format!("dispatch/{id}")]);
        tree.contains("planted.txt")
            .then(|| rig.repo.on_branch(&id, "planted.txt"))
    });
    assert_eq!(
        said.as_deref(),
        Some("PLANTED"),
        "{at} the plant did not run: {} {}",
        r.stderr,
        explain(&c)
    );
    // Nothing of it is in the real home, and its private copy is gone.
    let needle = marker.file_name().unwrap().to_str().unwrap();
    for path in state_of(&rig, cli) {
        assert_eq!(naming(&path, needle), Vec::<PathBuf>::new(), "{at}");
    }
    let dispatch_dir = rig
        .repo
        .env
        .path()
        .join(format!(".vnx-data/dispatches/{id}"));
    assert!(!dispatch_dir.join("cli-home").exists(), "{at}");
    let started = &rig.repo.receipts(&id)[0];
    assert!(
        started["sandbox"]["homes"]
            .as_array()
            .is_some_and(|h| !h.is_empty()),
        "{at} no private home: {started}"
    );
    assert!(!marker.exists(), "{at} the plant ran outside the sandbox");

    // The CLI run unsandboxed afterwards runs nothing of it.
    run_unsandboxed(&rig, cli, "after the sandboxed worker");
    assert!(
        !marker.exists(),
        "{at} the next unsandboxed run ran the plant"
    );

    // The control: the same plant in the real home runs on the next unsandboxed start.
    let mut py = std::process::Command::new("python3");
    py.arg("-c")
        .arg(&plant)
        .current_dir(&outside)
        .env("HOME", rig.repo.env.home())
        .envs(rig.env.iter().map(|(k, v)| (k, v)));
    let out = py.output().unwrap();
    assert!(out.status.success(), "{at} control plant: {out:?}");
    run_unsandboxed(&rig, cli, "with the plant in its real home");
    assert!(
        marker.exists(),
        "{at} the control: {cli} did not run the plant from its real home"
    );
}

#[test]
#[ignore = "needs the real claude (tests/support/install-clis.sh)"]
fn real_claude_worker_plants_no_hook_outside_its_sandbox() {
    planted_code_stays_in_the_sandbox("claude");
}

#[test]
#[ignore = "needs the real codex (tests/support/install-clis.sh)"]
fn real_codex_worker_plants_no_mcp_server_outside_its_sandbox() {
    planted_code_stays_in_the_sandbox("codex");
}

#[test]
#[ignore = "needs the real gemini (tests/support/install-clis.sh)"]
fn real_gemini_worker_plants_no_mcp_server_outside_its_sandbox() {
    planted_code_stays_in_the_sandbox("gemini");
}

#[test]
#[ignore = "needs the real qwen (tests/support/install-clis.sh)"]
fn real_qwen_worker_plants_no_mcp_server_outside_its_sandbox() {
    planted_code_stays_in_the_sandbox("qwen");
}

#[test]
#[ignore = "needs the real opencode (tests/support/install-clis.sh)"]
fn real_opencode_worker_plants_no_plugin_outside_its_sandbox() {
    planted_code_stays_in_the_sandbox("opencode");
}

#[test]
#[ignore = "needs the real copilot (tests/support/install-clis.sh)"]
fn real_copilot_worker_plants_no_mcp_server_outside_its_sandbox() {
    planted_code_stays_in_the_sandbox("copilot");
}

#[test]
#[ignore = "needs the real aider (tests/support/install-clis.sh)"]
fn real_aider_worker_plants_no_lint_command_outside_its_sandbox() {
    planted_code_stays_in_the_sandbox("aider");
}
