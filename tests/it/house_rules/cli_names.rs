//! One module per coding CLI (issue 38, ADR 0054): the Rust files outside a CLI's own places
//! that name it, counted per CLI, may only get fewer. A CLI's own places are its module,
//! `crates/vnx-lib/src/provider/cli/NAME/` (or `NAME.rs`), and its stand-in's personality,
//! `testing/fake-cli/NAME/`; the files counted are the product's and the stand-in's
//! (`crates/*/src`, `src`, `testing`), not the tests, which drive the CLIs by name. A file
//! names a CLI when its text holds the name in any case (`claude`, `Claude`,
//! `CLAUDE_CONFIG_DIR`, `ClaudeStreamJson`).
//!
//! The goal is [`GOAL`] files per CLI: the registry, the docs and the stand-in's dispatcher.
//! Until the move is finished, [`ALLOWED`] is a ratchet: each CLI's count must equal its entry,
//! so a change that names a CLI in one more shared file fails here, and one that moves
//! knowledge into the CLI's module lowers the entry in the same commit. The demo is not
//! counted: `demo` is also the name of vnx's own `vnx demo` and `bin/demo`.

use std::path::Path;

use super::{root, rust_files, shown};

/// Where the move ends: the registry, the docs and the stand-in's dispatcher.
const GOAL: usize = 3;

/// The files outside each CLI's own places that name it, as they are now. Lower an entry when
/// a move makes the count fall; never raise one.
const ALLOWED: [(&str, usize); 8] = [
    ("claude", 10),
    ("codex", 7),
    ("gemini", 8),
    ("qwen", 1),
    ("opencode", 2),
    ("copilot", 1),
    ("aider", 1),
    ("ollama", 1),
];

/// The folders whose Rust files are counted, relative to the checkout (besides each
/// `crates/NAME/src`).
const COUNTED: [&str; 2] = ["src", "testing"];

/// The counted files outside `cli`'s own places whose text names it, as the checkout shows
/// them, sorted.
fn naming(cli: &str) -> Vec<String> {
    let own = [
        format!("crates/vnx-lib/src/provider/cli/{cli}/"),
        format!("crates/vnx-lib/src/provider/cli/{cli}.rs"),
        format!("testing/fake-cli/{cli}/"),
    ];
    let mut folders: Vec<String> = COUNTED.iter().map(|f| (*f).to_owned()).collect();
    for krate in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
        folders.push(format!(
            "crates/{}/src",
            krate.file_name().to_string_lossy()
        ));
    }
    let mut out = Vec::new();
    for folder in folders {
        let files = rust_files(&root().join(&folder));
        assert!(!files.is_empty(), "no Rust files under {folder}");
        for file in files {
            let name = shown(&file);
            if own.iter().any(|o| name.starts_with(o.as_str())) {
                continue;
            }
            if names(&file, cli) {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

fn names(file: &Path, cli: &str) -> bool {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text.to_ascii_lowercase().contains(cli)
}

#[test]
fn each_cli_is_named_outside_its_module_by_as_many_files_as_its_ratchet_says() {
    let mut problems = Vec::new();
    for (cli, allowed) in ALLOWED {
        let files = naming(cli);
        let count = files.len();
        if count > allowed {
            problems.push(format!(
                "{cli} is named by {count} files outside provider/cli/{cli} and its stand-in, \
                 more than the {allowed} allowed (the goal is {GOAL}): put what vnx knows about \
                 it in its module and ask the registry (provider::cli) instead. The files:\n    {}",
                files.join("\n    ")
            ));
        } else if count < allowed {
            problems.push(format!(
                "{cli} is named by {count} files outside its module now, fewer than the \
                 {allowed} allowed: lower its entry in ALLOWED to {count} (the ratchet only \
                 goes down; the goal is {GOAL})"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_count_sees_a_cli_named_in_a_shared_file() {
    // The counter is not blind: the registry names every CLI it lists.
    for (cli, _) in ALLOWED {
        let files = naming(cli);
        assert!(
            files
                .iter()
                .any(|f| f == "crates/vnx-lib/src/provider/cli/mod.rs"),
            "{cli}: {files:?}"
        );
    }
}
