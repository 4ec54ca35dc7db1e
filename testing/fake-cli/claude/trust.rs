//! The fake Claude Code TUI's folder trust, as claude 2.1.197 was seen to keep it: with a
//! `~/.claude.json` that trusts neither the working directory nor a directory above it, its
//! TUI first asks "Is this a project you created or one you trust? ❯ 1. Yes, I trust this
//! folder / 2. No, exit"; Enter trusts (recorded for the repository's main checkout, also
//! when it runs in a worktree), Esc exits with status 1. Without a `~/.claude.json` the
//! stand-in asks nothing (the tests' homes have none).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

fn state_file() -> Option<PathBuf> {
    Some(PathBuf::from(std::env::var_os("HOME")?).join(".claude.json"))
}

/// Whether its TUI asks about `cwd` before it starts.
pub fn asks(cwd: &Path) -> bool {
    let Some(data) = state_file().and_then(|f| std::fs::read(f).ok()) else {
        return false;
    };
    let state: Value = serde_json::from_slice(&data).unwrap_or_default();
    !cwd.ancestors().any(|dir| {
        state["projects"][&*dir.to_string_lossy()]["hasTrustDialogAccepted"] == json!(true)
    })
}

/// The dialog's lines.
pub fn dialog(cwd: &Path) -> Vec<String> {
    vec![
        "─".repeat(40),
        " Accessing workspace:".into(),
        String::new(),
        format!(" {}", cwd.display()),
        String::new(),
        " Quick safety check: Is this a project you created or one you trust?".into(),
        String::new(),
        " ❯ 1. Yes, I trust this folder".into(),
        "   2. No, exit".into(),
        String::new(),
        " Enter to confirm · Esc to cancel".into(),
    ]
}

/// The key typed at the dialog: Enter records the trust, anything else exits.
pub fn answer(cwd: &Path, key: Option<u8>) {
    if !matches!(key, Some(b'\r' | b'\n' | b'1')) {
        std::process::exit(1);
    }
    let Some(file) = state_file() else { return };
    let mut state: Value = std::fs::read(&file)
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or_else(|| json!({}));
    // The main checkout: the first directory up whose `.git` is a directory.
    let root = cwd
        .ancestors()
        .find(|d| d.join(".git").is_dir())
        .unwrap_or(cwd);
    state["projects"][&*root.to_string_lossy()]["hasTrustDialogAccepted"] = json!(true);
    let _ = std::fs::write(&file, state.to_string());
}
