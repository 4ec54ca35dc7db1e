//! One module per coding CLI (issue 38, ADR 0054): outside a CLI's own places, only the
//! registry and the stand-in's dispatcher name it. A CLI's own places are its module,
//! `crates/vnx-lib/src/provider/cli/NAME/` (or `NAME.rs`), and its stand-in's personality,
//! `testing/fake-cli/NAME/`; the files counted are the product's and the stand-in's
//! (`crates/*/src`, `src`, `testing`), not the tests, which drive the CLIs by name. A file
//! names a CLI when its text holds the name in any case (`claude`, `Claude`,
//! `CLAUDE_CONFIG_DIR`, `ClaudeStreamJson`), comments included.
//!
//! The CLIs are the registry's (`provider::cli::CLIS`), so a new one is counted from its
//! first line there. The demo is not counted: `demo` is also the name of vnx's own
//! `vnx demo` and `bin/demo`.

use std::path::Path;

use super::{product_files, root};

/// The most files outside a CLI's own places that may name it: the registry, the docs (not
/// Rust files, so not counted here) and the stand-in's dispatcher.
const GOAL: usize = 3;

/// The registry: `CLIS` lists every CLI, `Provider` names it.
const REGISTRY: &str = "crates/vnx-lib/src/provider/cli/mod.rs";

/// The stand-in's dispatcher: it picks a personality by the name it was called as.
const DISPATCHER: &str = "testing/fake-cli/main.rs";

/// The Rust files outside its own places that may name any CLI.
const ALLOWED: [&str; 2] = [REGISTRY, DISPATCHER];

/// A CLI's module built on another's, which names the one it drives: (the CLI named, the
/// module). `ollama` runs opencode pointed at Ollama's API.
const BUILT_ON: [(&str, &str); 1] = [("opencode", "crates/vnx-lib/src/provider/cli/ollama.rs")];

/// The CLIs counted: the registry's, but the demo.
fn clis() -> Vec<&'static str> {
    let names: Vec<&str> = vnx::provider::cli::CLIS
        .iter()
        .map(|c| c.provider().name())
        .filter(|n| *n != "demo")
        .collect();
    for known in ["claude", "codex", "gemini", "ollama"] {
        assert!(names.contains(&known), "{known} is not in {names:?}");
    }
    names
}

/// The counted files outside `cli`'s own places whose text names it, as the checkout shows
/// them, sorted.
fn naming(cli: &str) -> Vec<String> {
    let own = [
        format!("crates/vnx-lib/src/provider/cli/{cli}/"),
        format!("crates/vnx-lib/src/provider/cli/{cli}.rs"),
        format!("testing/fake-cli/{cli}/"),
    ];
    let mut out = Vec::new();
    for (name, file) in product_files() {
        if !own.iter().any(|o| name.starts_with(o.as_str())) && names(&file, cli) {
            out.push(name);
        }
    }
    out.sort();
    out
}

fn names(file: &Path, cli: &str) -> bool {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text.to_ascii_lowercase().contains(cli)
}

/// Whether `file` may name `cli`.
fn allowed(cli: &str, file: &str) -> bool {
    ALLOWED.contains(&file) || BUILT_ON.contains(&(cli, file))
}

#[test]
fn each_cli_is_named_outside_its_module_only_by_the_registry_and_the_stand_ins_dispatcher() {
    let mut problems = Vec::new();
    for cli in clis() {
        let files = naming(cli);
        let stray: Vec<&String> = files.iter().filter(|f| !allowed(cli, f)).collect();
        if !stray.is_empty() {
            problems.push(format!(
                "{cli} is named outside provider/cli/{cli} and its stand-in by files other than \
                 the registry ({REGISTRY}) and the stand-in's dispatcher ({DISPATCHER}): put \
                 what vnx knows about it in its module, what its stand-in does in \
                 testing/fake-cli/{cli}/, and ask the registry (provider::cli) instead. The \
                 files:\n    {}",
                stray
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<&str>>()
                    .join("\n    ")
            ));
        }
        // The docs are the third of the goal's files. A module built on this CLI (BUILT_ON) is
        // that CLI's own module, not a shared file, so it is not counted.
        let shared: Vec<&String> = files
            .iter()
            .filter(|f| !BUILT_ON.contains(&(cli, f.as_str())))
            .collect();
        if shared.len() >= GOAL {
            problems.push(format!(
                "{cli} is named by {} shared Rust files outside its module, more than the goal \
                 of {GOAL} files with the docs allows: {shared:?}",
                shared.len()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_count_sees_a_cli_named_in_a_shared_file() {
    // The counter is not blind: the registry names every CLI it lists, and the dispatcher
    // every CLI that has a personality.
    for cli in clis() {
        let files = naming(cli);
        assert!(files.iter().any(|f| f == REGISTRY), "{cli}: {files:?}");
        if root().join("testing/fake-cli").join(cli).is_dir() {
            assert!(files.iter().any(|f| f == DISPATCHER), "{cli}: {files:?}");
        }
    }
    // Each exception is still needed: the module built on another names it.
    for (cli, file) in BUILT_ON {
        assert!(naming(cli).iter().any(|f| f == file), "{cli}: {file}");
    }
}
