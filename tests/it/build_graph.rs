//! The program and the tests are one build (ADR 0072): every feature the dev-dependencies
//! turn on in a crate the program also uses is named by the program's own manifest, so
//! `cargo build` (`bin/vnx`, `bin/demo`) and `cargo test` resolve each shared crate alike and
//! compile it once — and the tests run the crates as they ship. Likewise `bin/demo`'s quick
//! first build, without the dashboard and the MCP server (ADR 0078): every crate it compiles
//! is one the whole program's build uses as it is.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Each package's enabled features, as `cargo tree` resolves the graph of `edges`.
fn features(edges: &str, extra: &[&str]) -> Option<BTreeMap<String, BTreeSet<String>>> {
    let out = Command::new(env!("CARGO"))
        .current_dir(crate::common::repo_dir())
        .args(["tree", "--locked", "--offline", "--features", "test-fakes"])
        .args(extra)
        .args(["-e", edges, "--prefix", "none", "-f", "{p}|{f}"])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "skipped: cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let mut all: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let line = line.trim_end_matches(" (*)");
        let Some((package, feats)) = line.split_once('|') else {
            continue;
        };
        // A crate built for a build script or a proc macro is the host's: keyed apart.
        all.entry(package.trim().to_owned())
            .or_default()
            .insert(feats.trim().to_owned());
    }
    Some(all)
}

#[test]
fn the_dev_dependencies_turn_on_no_feature_the_program_lacks() {
    let (Some(program), Some(tests)) = (
        features("normal,build", &[]),
        features("normal,build,dev", &[]),
    ) else {
        return;
    };
    let differ: Vec<String> = program
        .iter()
        .filter_map(|(package, feats)| {
            let theirs = tests.get(package)?;
            (feats != theirs).then(|| format!("{package}: {feats:?} vs {theirs:?}"))
        })
        .collect();
    assert!(
        differ.is_empty(),
        "name these features in the root Cargo.toml's feature-unification section:\n{}",
        differ.join("\n")
    );
}

#[test]
fn the_walkthroughs_quick_build_compiles_only_crates_the_program_uses_as_they_are() {
    let (Some(program), Some(quick)) = (
        features("normal,build", &[]),
        features("normal,build", &["--no-default-features"]),
    ) else {
        return;
    };
    // The package itself is compiled with other features; each dependency in every one of
    // its builds (the host's apart) must be one the program's build has.
    let differ: Vec<String> = quick
        .iter()
        .filter(|(package, _)| !package.starts_with("vnx v"))
        .filter_map(|(package, feats)| {
            let theirs = program.get(package);
            (!theirs.is_some_and(|t| feats.is_subset(t)))
                .then(|| format!("{package}: {feats:?} vs {theirs:?}"))
        })
        .collect();
    assert!(
        differ.is_empty(),
        "name these features in the root Cargo.toml's feature-unification section (ADR 0078):\n{}",
        differ.join("\n")
    );
    assert!(
        !quick
            .keys()
            .any(|p| p.starts_with("rmcp ") || p.starts_with("ratatui ")),
        "the quick build leaves the MCP server and the dashboard out"
    );
}
