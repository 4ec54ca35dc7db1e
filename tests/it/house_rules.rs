//! The house rules (CONTRIBUTING.md) checked on the source tree as it is on disk: every Rust
//! file opens with a `//!` line and has at most 800 lines, every file is a module of its crate
//! (a forgotten test file fails here instead of never running), ARCHITECTURE.md's module map
//! names every module exactly once, each crate's top-level modules form no loop
//! (`house_rules/imports.rs`) and the library's sit on the floors ARCHITECTURE.md draws
//! (`house_rules/floors.rs`), and a lint is silenced with
//! `#[expect(…, reason = …)]`, never `#[allow]`. Each failure names the rule and the files.
//!
//! The rules are here; reading Rust source as far as they need (tokens, `mod` items,
//! attributes) is in `house_rules/rust_source.rs`, the module map's rule in
//! `house_rules/module_map.rs`; that `bin/test` runs every `#[ignore]`d test when it can, in
//! `house_rules/tiers.rs`.

mod cli_names;
mod floors;
mod imports;
mod module_map;
mod place_kinds;
mod rust_source;
mod tiers;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use module_map::{architecture_problems, library_modules, src_files};
use rust_source::{allows, modules_of, tokens, tokens_of};

/// The most lines a file may have.
const MAX_LINES: usize = 800;

/// The longest a function in the dispatch path may be, from its `fn` to its closing brace.
const MAX_FN_LINES: usize = 150;

/// The dispatch path: what plans, starts, watches and ends a dispatch, here or on a host.
const DISPATCH_PATH: [&str; 6] = [
    "crates/vnx-lib/src/dispatch",
    "crates/vnx-lib/src/remote",
    "crates/vnx-lib/src/actions",
    "src/cli/dispatch_agent.rs",
    "src/cli/util/launch.rs",
    "src/cli/util/remote.rs",
];

/// The folders (relative to the checkout) whose Rust files the rules cover, besides every
/// `crates/NAME/src`, and `build.rs`.
const TREES: [&str; 4] = ["src", "tests", "bench/src", "testing"];

/// Each crate root of the workspace outside `crates/` and the folder of the files that must be
/// its modules (none for a one-file crate); each `crates/NAME/src/lib.rs` is one too, for
/// `crates/NAME/src`.
const CRATES: [(&str, &str); 5] = [
    ("src/lib.rs", "src"),
    ("src/main.rs", ""),
    ("tests/it/main.rs", "tests/it"),
    ("testing/fake-cli/main.rs", "testing/fake-cli"),
    ("bench/src/main.rs", "bench/src"),
];

/// The crates under `crates/`, by folder name, sorted; the rules fail if there are none.
fn workspace_crates() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("src/lib.rs").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no crates under crates/");
    names
}

/// [`TREES`] and every crate's `src`.
fn trees() -> Vec<String> {
    let crates = workspace_crates()
        .into_iter()
        .map(|n| format!("crates/{n}/src"));
    TREES
        .iter()
        .map(|t| (*t).to_owned())
        .chain(crates)
        .collect()
}

/// [`CRATES`] and every crate's root under `crates/`.
fn crate_roots() -> Vec<(String, String)> {
    let crates = workspace_crates()
        .into_iter()
        .map(|n| (format!("crates/{n}/src/lib.rs"), format!("crates/{n}/src")));
    CRATES
        .iter()
        .map(|(r, d)| ((*r).to_owned(), (*d).to_owned()))
        .chain(crates)
        .collect()
}

/// The `#[allow]`s the rule lets stand, as (file, lint): only one whose lint fires under some
/// `cfg` and not under another, where an `#[expect]` would be unfulfilled on the second. Each
/// entry says which `cfg` and why. Empty: every exception in the tree fires wherever it is
/// compiled, so each is an `#[expect]`.
const ALLOWED: [(&str, &str); 0] = [];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `path` relative to the checkout, with `/` separators, for messages.
fn shown(path: &Path) -> String {
    let rel = path.strip_prefix(root()).unwrap_or(path);
    rel.to_string_lossy().replace('\\', "/")
}

/// The product's and its stand-ins' Rust files (`src`, `testing` and each `crates/NAME/src`),
/// each as the checkout shows it and its path: what the naming rules (`cli_names`,
/// `place_kinds`) count.
fn product_files() -> Vec<(String, PathBuf)> {
    let mut folders = vec!["src".to_owned(), "testing".to_owned()];
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
        out.extend(files.into_iter().map(|f| (shown(&f), f)));
    }
    out
}

/// Every `.rs` file under `dir` (skipping `target` and hidden folders), sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    todo.push(path);
                }
            } else if kind.is_file() && name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every Rust file the rules cover.
fn covered() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for tree in trees() {
        let found = rust_files(&root().join(&tree));
        // A rule that finds nothing to check would pass on anything.
        assert!(!found.is_empty(), "no Rust files under {tree}");
        files.extend(found);
    }
    files.push(root().join("build.rs"));
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fails with the rule and the offenders, one a line, when there are any.
fn check(rule: &str, offenders: &[String]) {
    assert!(
        offenders.is_empty(),
        "house rule broken: {rule}\n  {}",
        offenders.join("\n  ")
    );
}

#[test]
fn every_file_opens_with_a_doc_line() {
    let offenders: Vec<String> = covered()
        .iter()
        .filter(|f| {
            let text = read(f);
            let first = text.lines().find(|l| !l.trim().is_empty());
            !first.is_some_and(|l| l.starts_with("//!"))
        })
        .map(|f| shown(f))
        .collect();
    check(
        "every file opens with a `//!` line saying what it owns (its first non-empty line)",
        &offenders,
    );
}

#[test]
fn no_file_is_over_800_lines() {
    let offenders: Vec<String> = covered()
        .iter()
        .filter_map(|f| {
            let n = read(f).lines().count();
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", shown(f)))
        })
        .collect();
    check(
        &format!("no file is over {MAX_LINES} lines: split it by topic into submodules"),
        &offenders,
    );
}

/// Each function of `toks` with a body: its name, and the lines of its `fn` and its closing
/// brace.
fn functions(toks: &[(usize, rust_source::Tok)]) -> Vec<(String, usize, usize)> {
    use rust_source::Tok;
    let mut out = Vec::new();
    for (i, (line, tok)) in toks.iter().enumerate() {
        let (Tok::Ident(kw), Some((_, Tok::Ident(name)))) = (tok, toks.get(i + 1)) else {
            continue;
        };
        if kw != "fn" {
            continue;
        }
        // Its body: the first `{` before a `;` (a declaration without one has none), to
        // the `}` that closes it.
        let mut j = i + 2;
        while j < toks.len() && !matches!(toks[j].1, Tok::Punct('{' | ';')) {
            j += 1;
        }
        if !matches!(toks.get(j), Some((_, Tok::Punct('{')))) {
            continue;
        }
        let mut depth = 0;
        for (end, t) in &toks[j..] {
            match t {
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                out.push((name.clone(), *line, *end));
                break;
            }
        }
    }
    out
}

#[test]
fn no_function_in_the_dispatch_path_is_over_150_lines() {
    let mut offenders = Vec::new();
    let mut seen = 0;
    for part in DISPATCH_PATH {
        let at = root().join(part);
        let files = if at.is_dir() {
            rust_files(&at)
        } else {
            vec![at]
        };
        for f in files {
            for (name, from, to) in functions(&tokens_of(&f)) {
                seen += 1;
                if to - from + 1 > MAX_FN_LINES {
                    offenders.push(format!(
                        "{}:{from} {name} ({} lines)",
                        shown(&f),
                        to - from + 1
                    ));
                }
            }
        }
    }
    assert!(
        seen > 500,
        "the dispatch path has {seen} functions: is the scanner blind?"
    );
    check(
        &format!(
            "no function in the dispatch path is over {MAX_FN_LINES} lines: name its steps as \
             functions of their own"
        ),
        &offenders,
    );
}

#[test]
fn the_function_scanner_measures_bodies_and_skips_declarations() {
    let src = "trait T { fn a(&self); }\nfn b() -> u8 {\n    let s = \"}\";\n    { 1 }\n}\n";
    assert_eq!(functions(&tokens(src)), [("b".to_owned(), 2, 5)]);
}

#[test]
fn every_file_is_a_module_of_its_crate() {
    let mut offenders = Vec::new();
    let crates = crate_roots();
    for (crate_root, dir) in crates.iter().filter(|(_, d)| !d.is_empty()) {
        let reached = modules_of(&root().join(crate_root));
        assert!(reached.len() > 1, "{crate_root} reaches no module");
        let others: BTreeSet<PathBuf> = crates
            .iter()
            .map(|(r, _)| root().join(r))
            .filter(|r| *r != root().join(crate_root))
            .collect();
        for file in rust_files(&root().join(dir)) {
            // A folder holding another crate root is that crate's.
            let owned_elsewhere = crates.iter().any(|(r, d)| {
                r != crate_root
                    && !d.is_empty()
                    && d.len() > dir.len()
                    && file.starts_with(root().join(d))
            });
            if !reached.contains(&file) && !others.contains(&file) && !owned_elsewhere {
                offenders.push(format!("{} (not reached from {crate_root})", shown(&file)));
            }
        }
    }
    check(
        "every file is a module: declare it with `mod` in its parent (tests in tests/it/main.rs \
         or below), or it never compiles or runs",
        &offenders,
    );
}

#[test]
fn every_module_has_one_row_in_architecture_md() {
    let text = read(&root().join("ARCHITECTURE.md"));
    let problems = architecture_problems(&text, &library_modules(), &src_files());
    check(
        "ARCHITECTURE.md's module map names every module of the workspace's crates in exactly \
         one row (the rule is under \"## Module map\")",
        &problems,
    );
}

/// The most files one loop may hold (a folder module and the children that share its types,
/// say): past it, what they share belongs in a file of its own below them.
const MAX_LOOP: usize = 6;

/// The loops over `MAX_LOOP` files, or across folders, that this rule met when it learned to
/// follow re-exports and paths into child modules, each by its first file with its size then:
/// one may shrink (lower its size here) until it is gone, never grow, and no other may form.
/// None is left (issue 70): `remote`'s, the place kinds its `place.rs` named for its
/// factories, is gone (the kinds register in `remote/kinds/`); `dispatch`'s (24 files), the
/// launch, the queue and the read model naming one another through the folder's error (which
/// named the start's refusal words, now `dispatch/refusal`), `spec` (which named the
/// follow-up's `Continued`, now its own) and `state` (which named the queue for
/// `mark_positions`, now the queue's); and `provider/cli`'s (36 files), the CLIs' shared types
/// in the registry that names them (the `CodingCli` trait is in `provider/cli/coding_cli.rs`,
/// which names no CLI; each CLI's folder is a loop of at most six files). A new entry needs an
/// ADR.
const LOOPS_TO_BREAK: [(&str, usize); 0] = [];

#[test]
fn each_crates_top_level_modules_form_no_loop() {
    let mut offenders = Vec::new();
    let crates = workspace_crates()
        .into_iter()
        .map(|n| format!("crates/{n}/src"));
    for src in crates.chain(["src".to_owned()]) {
        let graph = imports::module_graph(&root().join(&src));
        assert!(graph.len() > 1, "{src} has modules: {graph:?}");
        for set in imports::loops(&graph) {
            let edges: Vec<String> = set
                .iter()
                .flat_map(|m| {
                    (graph[m].iter())
                        .filter(|(to, _)| set.contains(to))
                        .map(move |(to, at)| format!("{m} -> {to} ({at})"))
                })
                .collect();
            offenders.push(format!("{src}: {}: {}", set.join(", "), edges.join("; ")));
        }
    }
    for src in workspace_crates()
        .into_iter()
        .map(|n| format!("crates/{n}/src"))
        .chain(["src".to_owned()])
    {
        let dir = root().join(&src);
        let graph = imports::file_graph(&dir);
        for set in imports::loops(&graph) {
            let folders: BTreeSet<String> =
                set.iter().map(|m| imports::folder_of(m, &dir)).collect();
            let known = LOOPS_TO_BREAK
                .iter()
                .any(|(first, size)| set[0] == *first && set.len() <= *size);
            if (folders.len() > 1 || set.len() > MAX_LOOP) && !known {
                let edges: Vec<String> = set
                    .iter()
                    .flat_map(|m| {
                        (graph[m].iter())
                            .filter(|(to, _)| set.contains(to))
                            .map(move |(to, at)| format!("{m} -> {to} ({at})"))
                    })
                    .collect();
                offenders.push(format!(
                    "{src}: {} files of {folders:?}: {}",
                    set.len(),
                    edges.join("; ")
                ));
            }
        }
    }
    check(
        "each crate's top-level modules form layers, no loop, and no loop of files spans more \
         than one folder or holds more than six files: a module never names one that \
         names it back, directly or through others (ARCHITECTURE.md draws the library's floors; \
         move what both need below them)",
        &offenders,
    );
}

#[test]
fn lints_are_expected_not_allowed() {
    let mut offenders = Vec::new();
    for file in covered() {
        let rel = shown(&file);
        for (line, lint) in allows(&tokens_of(&file)) {
            if !ALLOWED.contains(&(rel.as_str(), lint.as_str())) {
                offenders.push(format!("{rel}:{line}: allow({lint})"));
            }
        }
    }
    check(
        "a lint is silenced with `#[expect(lint, reason = \"…\")]`, which fails once the lint \
         no longer fires, never with `#[allow]` (unless it fires only under some cfg: then it \
         is listed in ALLOWED in tests/it/house_rules.rs, with why)",
        &offenders,
    );
}

/// The command line's files are one per subcommand (`src/cli/*.rs`) over what they share
/// (`src/cli/util/`, as jj's `cli_util`): a command names no other command (it never calls
/// another's `run`), what they share names no command, and no files of `src/cli` form a loop.
#[test]
fn a_command_names_no_other_command_and_the_cli_has_no_loop() {
    let graph = imports::file_graph(&root().join("src"));
    let cli: BTreeMap<String, BTreeMap<String, String>> = graph
        .into_iter()
        .filter(|(m, _)| m.starts_with("cli/"))
        .map(|(m, named)| {
            let named = named
                .into_iter()
                .filter(|(to, _)| to.starts_with("cli/"))
                .collect();
            (m, named)
        })
        .collect();
    let is_command = |m: &str| m.starts_with("cli/") && !m.starts_with("cli/util");
    let mut offenders: Vec<String> = cli
        .iter()
        .flat_map(|(m, named)| {
            named
                .iter()
                .filter(|(to, _)| is_command(to))
                .map(move |(to, at)| format!("{m} names the command {to} ({at})"))
        })
        .collect();
    for set in imports::loops(&cli) {
        let edges: Vec<String> = set
            .iter()
            .flat_map(|m| {
                (cli[m].iter())
                    .filter(|(to, _)| set.contains(to))
                    .map(move |(to, at)| format!("{m} -> {to} ({at})"))
            })
            .collect();
        offenders.push(format!("a loop: {}", edges.join("; ")));
    }
    check(
        "a command names no other command and what the commands share (src/cli/util) names \
         none, and no files of src/cli form a loop: move what two commands need into \
         src/cli/util, or below it into the library",
        &offenders,
    );
}

/// Every ADR that ARCHITECTURE.md cites (`ADR 0042`) is one of `adr/`: a number that names
/// none is a claim nothing backs.
#[test]
fn every_adr_architecture_md_cites_exists() {
    let text = read(&root().join("ARCHITECTURE.md"));
    let adrs: BTreeSet<String> = std::fs::read_dir(root().join("adr"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.get(..4).map(str::to_owned))
        .collect();
    let offenders: Vec<String> = text
        .match_indices("ADR ")
        .filter_map(|(at, _)| text.get(at + 4..at + 8))
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && !adrs.contains(*n))
        .map(|n| format!("ADR {n} is not in adr/"))
        .collect();
    check("every ADR ARCHITECTURE.md cites is in adr/", &offenders);
}

/// `bin/size` (issue 70's count of the product's lines) leaves out what it says it does: any
/// file under a `tests/` folder, a file a `#[cfg(test)] mod NAME;` declares (other attributes
/// between, or its `#[path]`, included), and an inline
/// `#[cfg(test)]` module (checked on `crates/vnx-lib/src/cost.rs`, which has code after its
/// test module), and counts every other line of `crates/*/src` and `src`.
#[test]
fn bin_size_counts_the_product_without_its_tests() {
    let out = bin_size(&["--files", "100000"]);
    let mut lines = out.lines();
    let total: usize = lines.next().unwrap().parse().unwrap();
    let files: BTreeMap<String, usize> = lines
        .map(|l| {
            let (n, f) = l.trim().split_once(' ').unwrap();
            (f.to_owned(), n.parse().unwrap())
        })
        .collect();
    assert_eq!(files.values().sum::<usize>(), total);
    let tests: Vec<&String> = files
        .keys()
        .filter(|f| f.split('/').any(|p| p == "tests") || f.ends_with("/tests.rs"))
        .collect();
    assert_eq!(tests, Vec::<&String>::new(), "test files counted");
    // Declared as `#[cfg(test)] mod anchor_tests;`, and with `#[path = "react_tests.rs"]`.
    for declared in [
        "crates/vnx-lib/src/dispatch/fold/anchor_tests.rs",
        "crates/vnx-lib/src/forge/react_tests.rs",
    ] {
        assert!(!files.contains_key(declared), "{declared} counted");
    }
    for product in [
        "crates/vnx-lib/src/lib.rs",
        "crates/vnx-core/src/lib.rs",
        "src/main.rs",
    ] {
        assert!(files.contains_key(product), "{product} not counted");
    }
    let cost = read(&root().join("crates/vnx-lib/src/cost.rs"));
    let start = cost.lines().position(|l| l == "#[cfg(test)]").unwrap();
    let end = cost
        .lines()
        .enumerate()
        .skip(start)
        .find(|(_, l)| *l == "}")
        .unwrap()
        .0;
    assert!(
        cost.lines().count() > end + 1,
        "cost.rs has no code after its tests"
    );
    assert_eq!(
        files["crates/vnx-lib/src/cost.rs"],
        cost.lines().count() - (end - start + 1)
    );
}

/// The most lines the product may count (`bin/size`). A change that adds lines raises it in
/// the same commit, and the closing note says by how much; one that removes lines
/// lowers it (the test fails when the count is more than [`SIZE_SLACK`] under it), so what
/// was taken out stays out.
const SIZE_CEILING: usize = 118_226;

/// How far under [`SIZE_CEILING`] the count may fall before the ceiling must follow it down.
const SIZE_SLACK: usize = 500;

/// `bin/size ARGS`' standard output.
fn bin_size(args: &[&str]) -> String {
    let out = crate::common::run(
        std::process::Command::new("python3")
            .arg(root().join("bin/size"))
            .args(args),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
}

/// The product's size only grows on purpose, and what a clean-up removed stays removed: its
/// count is at most [`SIZE_CEILING`] and no more than [`SIZE_SLACK`] under it.
#[test]
fn the_product_grows_only_past_a_ceiling_a_change_raises() {
    let total: usize = bin_size(&[]).trim().parse().unwrap();
    assert!(
        total <= SIZE_CEILING,
        "the product counts {total} lines (`bin/size`), over SIZE_CEILING ({SIZE_CEILING}) in \
         tests/it/house_rules.rs: make the change smaller, or raise the ceiling in it and say \
         by how much in the issue's closing note"
    );
    assert!(
        SIZE_CEILING - total <= SIZE_SLACK,
        "the product counts {total} lines (`bin/size`), {} under SIZE_CEILING \
         ({SIZE_CEILING}) in tests/it/house_rules.rs: lower it to {total}, so what was taken \
         out stays out",
        SIZE_CEILING - total
    );
}
