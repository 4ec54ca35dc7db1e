//! `vnx init --mcp`: vnx registered as an MCP server with every built-in CLI that has an MCP
//! setting (the registry's `mcp_config`), each client's configuration keeping what else it held.

use super::*;

#[test]
fn init_mcp_registers_with_claude_codex_and_gemini_keeping_the_rest() {
    let repo = Repo::new();
    let root = repo.env.path();
    let codex_dir = repo.env.home().join(".codex");
    std::fs::create_dir_all(&codex_dir).unwrap();
    let claude_before =
        "{\n  \"mcpServers\": {\"other\": {\"command\": \"other-server\"}},\n  \"x\": 1\n}\n";
    std::fs::write(root.join(".mcp.json"), claude_before).unwrap();
    let codex_before = "# my codex settings\nmodel = \"o3\"\n\n[mcp_servers.other]\ncommand = \"other-server\" # keep me\n";
    std::fs::write(codex_dir.join("config.toml"), codex_before).unwrap();

    let r = run(repo.vnx().args(["init", "--mcp"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let vnx = env!("CARGO_BIN_EXE_vnx");
    for (cli, file) in [
        ("claude", root.join(".mcp.json")),
        ("codex", codex_dir.join("config.toml")),
        ("gemini", root.join(".gemini/settings.json")),
        ("qwen", root.join(".qwen/settings.json")),
    ] {
        assert!(
            r.stdout
                .contains(&format!("{cli:<10} registered vnx mcp in"))
                && r.stdout.contains(&file.display().to_string()),
            "{cli}: {}",
            r.stdout
        );
    }
    // claude: the vnx entry added, the rest as it was, the old file kept.
    let claude: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join(".mcp.json")).unwrap()).unwrap();
    assert_eq!(
        claude["mcpServers"]["vnx"],
        serde_json::json!({"type": "stdio", "command": vnx, "args": ["mcp"]})
    );
    assert_eq!(claude["mcpServers"]["other"]["command"], "other-server");
    assert_eq!(claude["x"], 1);
    assert_eq!(
        std::fs::read_to_string(root.join(".mcp.json.pre-vnx")).unwrap(),
        claude_before
    );
    // codex: comments and layout kept, a [mcp_servers.vnx] table added.
    let codex = std::fs::read_to_string(codex_dir.join("config.toml")).unwrap();
    assert!(codex.starts_with(codex_before), "{codex}");
    assert!(
        codex.contains(&format!(
            "[mcp_servers.vnx]\ncommand = \"{vnx}\"\nargs = [\"mcp\"]\n"
        )),
        "{codex}"
    );
    assert_eq!(
        std::fs::read_to_string(codex_dir.join("config.toml.pre-vnx")).unwrap(),
        codex_before
    );
    // gemini: a new project settings file.
    let gemini: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join(".gemini/settings.json")).unwrap())
            .unwrap();
    assert_eq!(
        gemini,
        serde_json::json!({"mcpServers": {"vnx": {"command": vnx, "args": ["mcp"]}}})
    );
    assert!(!root.join(".gemini/settings.json.pre-vnx").exists());
    // qwen: a new project settings file, as gemini's.
    let qwen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join(".qwen/settings.json")).unwrap())
            .unwrap();
    assert_eq!(
        qwen,
        serde_json::json!({"mcpServers": {"vnx": {"command": vnx, "args": ["mcp"]}}})
    );

    // Again: nothing changes, no new backups.
    let files = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let (root_files, codex_files) = (files(root), files(&codex_dir));
    let r = run(repo.vnx().args(["init", "--mcp", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let actions: Vec<&str> = report["mcp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["action"].as_str().unwrap())
        .collect();
    // Every CLI of the registry with an MCP setting (opencode's is in its user config,
    // `init_mcp_registers_with_opencode_in_its_user_config`, copilot's in its home,
    // `init_mcp_registers_with_copilot_in_its_home_keeping_the_rest`).
    let with_mcp = vnx::provider::cli::CLIS
        .iter()
        .filter(|cli| cli.mcp_config().is_some())
        .count();
    assert_eq!(actions, vec!["unchanged"; with_mcp]);
    assert_eq!((files(root), files(&codex_dir)), (root_files, codex_files));

    // One CLI only; a file vnx cannot read is left alone; a link is not written through.
    std::fs::write(root.join(".gemini/settings.json"), "{ not json").unwrap();
    let r = run(repo.vnx().args(["init", "--mcp", "gemini"]));
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(root.join(".gemini/settings.json")).unwrap(),
        "{ not json"
    );
    std::fs::remove_file(root.join(".mcp.json")).unwrap();
    std::os::unix::fs::symlink(
        repo.env.home().join("elsewhere.json"),
        root.join(".mcp.json"),
    )
    .unwrap();
    let r = run(repo.vnx().args(["init", "--mcp", "claude"]));
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("is a symlink"), "{}", r.stderr);
    assert!(!repo.env.home().join("elsewhere.json").exists());
    // A committed `.gemini` directory link to a file outside the project: not written through.
    let outside = repo.env.home().join("outside-gemini");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("settings.json"), "{}").unwrap();
    std::fs::remove_dir_all(root.join(".gemini")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join(".gemini")).unwrap();
    let r = run(repo.vnx().args(["init", "--mcp", "gemini"]));
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("is a symlink"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(outside.join("settings.json")).unwrap(),
        "{}"
    );
}

/// copilot reads its MCP servers from its home (`$COPILOT_HOME`, else `~/.copilot`):
/// `mcp-config.json`, `mcpServers.vnx` as a local command with every tool offered, as
/// `copilot mcp add` writes it (seen on copilot 1.0.102); the user's servers stay.
#[test]
fn init_mcp_registers_with_copilot_in_its_home_keeping_the_rest() {
    let repo = Repo::new();
    let home = repo.env.home().join(".copilot");
    std::fs::create_dir_all(&home).unwrap();
    let before = "{\n  \"mcpServers\": {\"probe\": {\"type\": \"local\", \"command\": \"python3\", \"args\": [\"server.py\"], \"tools\": [\"*\"]}}\n}\n";
    std::fs::write(home.join("mcp-config.json"), before).unwrap();
    let r = run(repo.vnx().args(["init", "--mcp", "copilot"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let vnx = env!("CARGO_BIN_EXE_vnx");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("mcp-config.json")).unwrap())
            .unwrap();
    assert_eq!(
        config["mcpServers"]["vnx"],
        serde_json::json!({"type": "local", "command": vnx, "args": ["mcp"], "tools": ["*"]})
    );
    assert_eq!(config["mcpServers"]["probe"]["command"], "python3");
    assert_eq!(
        std::fs::read_to_string(home.join("mcp-config.json.pre-vnx")).unwrap(),
        before
    );
    // Nothing else was registered, and COPILOT_HOME moves it.
    assert!(!repo.env.path().join(".mcp.json").exists());
    let elsewhere = repo.env.home().join("elsewhere");
    let r = run(repo
        .vnx()
        .env("COPILOT_HOME", &elsewhere)
        .args(["init", "--mcp", "copilot"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(elsewhere.join("mcp-config.json").is_file());
}

/// opencode reads its servers from its user config (`$XDG_CONFIG_HOME/opencode/opencode.json`,
/// default `~/.config/…`), key `mcp`, a local server's command as one list.
#[test]
fn init_mcp_registers_with_opencode_in_its_user_config() {
    let repo = Repo::new();
    let dir = repo.env.home().join(".config/opencode");
    std::fs::create_dir_all(&dir).unwrap();
    let before = "{\"model\": \"mock/mock-model\", \"mcp\": {\"probe\": {\"type\": \"local\", \"command\": [\"python3\", \"server.py\"]}}}\n";
    std::fs::write(dir.join("opencode.json"), before).unwrap();
    let r = run(repo.vnx().args(["init", "--mcp", "opencode"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let vnx = env!("CARGO_BIN_EXE_vnx");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("opencode.json")).unwrap()).unwrap();
    assert_eq!(
        config["mcp"]["vnx"],
        serde_json::json!({"type": "local", "command": [vnx, "mcp"], "enabled": true})
    );
    assert_eq!(config["mcp"]["probe"]["command"][1], "server.py");
    assert_eq!(config["model"], "mock/mock-model");
    assert_eq!(
        std::fs::read_to_string(dir.join("opencode.json.pre-vnx")).unwrap(),
        before
    );
    // Nothing in the project; XDG_CONFIG_HOME moves it.
    assert!(!repo.env.path().join("opencode.json").exists());
    let elsewhere = repo.env.home().join("elsewhere");
    let r = run(repo
        .vnx()
        .env("XDG_CONFIG_HOME", &elsewhere)
        .args(["init", "--mcp", "opencode"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(elsewhere.join("opencode/opencode.json").is_file());
}
