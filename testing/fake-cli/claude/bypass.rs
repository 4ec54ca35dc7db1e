//! The fake Claude Code TUI's Bypass Permissions disclaimer, as claude 2.1.197 was seen to
//! show it: started with `--dangerously-skip-permissions` in a home whose user never accepted
//! it (no `skipDangerousModePermissionPrompt` in its user settings, no older
//! `bypassPermissionsModeAccepted` in `~/.claude.json`), its TUI first warns and asks
//! "❯ 1. No, exit / 2. Yes, I accept"; `2` accepts at once and records the setting, Enter on
//! "No" or Esc exits with status 0. Without a `~/.claude.json` the stand-in asks nothing (the
//! tests' homes have none).

use std::path::PathBuf;

use serde_json::{Value, json};

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// Its user settings: `$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json`.
fn settings_file() -> Option<PathBuf> {
    let dir = std::env::var_os("CLAUDE_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| Some(home()?.join(".claude")))?;
    Some(dir.join("settings.json"))
}

fn read_json(file: Option<PathBuf>) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(file?).ok()?).ok()
}

/// Whether its TUI asks before it runs in the Bypass Permissions mode.
pub fn asks() -> bool {
    let Some(state) = read_json(home().map(|h| h.join(".claude.json"))) else {
        return false;
    };
    let settings = read_json(settings_file()).unwrap_or_default();
    state["bypassPermissionsModeAccepted"] != json!(true)
        && settings["skipDangerousModePermissionPrompt"] != json!(true)
}

/// The dialog's lines.
pub fn dialog() -> Vec<String> {
    vec![
        "─".repeat(40),
        "  WARNING: Claude Code running in Bypass Permissions mode".into(),
        String::new(),
        "  In Bypass Permissions mode, Claude Code will not ask for your approval before \
         running potentially dangerous commands."
            .into(),
        String::new(),
        "  ❯ 1. No, exit".into(),
        "    2. Yes, I accept".into(),
        String::new(),
        "  Enter to confirm · Esc to cancel".into(),
    ]
}

/// The key typed at the dialog: `2` records the acceptance; Enter (on "No"), `1`, Esc or the
/// end of input exit; any other key is ignored.
pub fn answer(key: Option<u8>) {
    match key {
        Some(b'2') => {}
        None | Some(b'\r' | b'\n' | b'1' | 0x1b) => std::process::exit(0),
        Some(_) => return,
    }
    let Some(file) = settings_file() else { return };
    let mut settings = read_json(Some(file.clone())).unwrap_or_else(|| json!({}));
    settings["skipDangerousModePermissionPrompt"] = json!(true);
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(&file, settings.to_string());
}
