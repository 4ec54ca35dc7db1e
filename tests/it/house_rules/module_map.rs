//! ARCHITECTURE.md's module map against `src/`: the modules as the map names them, and the
//! rule its rows keep (written above the table): every module named by exactly one row.

use std::collections::{BTreeMap, BTreeSet};

use super::root;

/// Every module of the workspace's crates as ARCHITECTURE.md names it: the dispatcher library's
/// (`crates/vnx-lib/src/`) and the CLI's (`src/`) by their path below that folder without
/// `.rs` (`dispatch/plan`, `cli/merge`), a folder module by its folder (`dispatch`, for
/// `dispatch/mod.rs`). Not the crate roots `lib.rs` and `main.rs`, nor a `tests.rs`, which
/// holds its parent's unit tests. The crates below the library (`crates/NAME/src/`) count as
/// folders named `NAME`: their root is the folder module, their files its modules
/// (`vnx-core/files`).
pub(super) fn library_modules() -> BTreeSet<String> {
    src_files()
        .into_iter()
        .filter_map(|f| {
            let m = f.strip_suffix(".rs")?;
            let leaf = m.rsplit('/').next().unwrap_or(m);
            if matches!(m, "lib" | "main") || leaf == "tests" {
                return None;
            }
            if let Some(krate) = m.strip_suffix("/lib") {
                return Some(krate.to_owned());
            }
            Some(m.strip_suffix("/mod").unwrap_or(m).to_owned())
        })
        .collect()
}

/// The crate whose modules the map names without a crate prefix, besides the CLI's `src/`.
const LIBRARY: &str = "vnx-lib";

/// Every file under `src/` and `crates/vnx-lib/src/`, relative to it, and under each other
/// `crates/NAME/src/` as `NAME/…`.
pub(super) fn src_files() -> BTreeSet<String> {
    let mut out = files_under(&root().join("src"), "");
    for krate in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
        let name = krate.file_name().to_string_lossy().into_owned();
        let prefix = if name == LIBRARY {
            String::new()
        } else {
            format!("{name}/")
        };
        let files = files_under(&krate.path().join("src"), &prefix);
        let clash: Vec<&String> = (files.iter())
            .filter(|f| *f != "lib.rs" && out.contains(*f))
            .collect();
        assert!(
            clash.is_empty(),
            "named twice in the module map's terms: {clash:?}"
        );
        out.extend(files);
    }
    out
}

/// Every file under `src`, relative to it, each name after `prefix`.
fn files_under(src: &std::path::Path, prefix: &str) -> BTreeSet<String> {
    let src = src.to_owned();
    let mut out = BTreeSet::new();
    let mut todo = vec![src.clone()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                todo.push(path);
            } else if let Ok(rel) = path.strip_prefix(&src) {
                out.insert(format!(
                    "{prefix}{}",
                    rel.to_string_lossy().replace('\\', "/")
                ));
            }
        }
    }
    out
}

/// A name as the map writes it, as a module path: `dispatch/` and `cost.rs` are `dispatch`
/// and `cost`; `ledger/mod.rs` is `ledger`.
fn module_name(name: &str) -> String {
    let name = name.trim().trim_end_matches('/');
    let name = name.strip_suffix("/mod.rs").unwrap_or(name);
    name.strip_suffix(".rs").unwrap_or(name).to_owned()
}

/// The `` `…` `` spans of `text`, each with whether it is inside parentheses.
fn code_spans(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            '`' => {
                if let Some(end) = rest[1..].find('`') {
                    out.push((rest[1..=end].to_owned(), depth > 0));
                    rest = &rest[end + 2..];
                    continue;
                }
            }
            _ => {}
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// What is wrong with the module map in `text` (ARCHITECTURE.md), given the modules of `src/`
/// and its files. The rule: the first column of each row names that row's modules, as paths
/// below `src/` (`ledger/json`, `dispatch/`, `cost.rs`); the rest of the row names any module
/// below one of those by its path below it (`plan` in the `dispatch/` row is `dispatch/plan`,
/// `queue/remote` is `dispatch/queue/remote`), and a list in parentheses in the first column
/// may name only modules or files of that folder (or `mod`). Every module is named by exactly
/// one row.
pub(super) fn architecture_problems(
    text: &str,
    modules: &BTreeSet<String>,
    files: &BTreeSet<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(map) = text.split("\n## Module map").nth(1) else {
        return vec!["ARCHITECTURE.md has no \"## Module map\" section".to_owned()];
    };
    let map = map.split("\n## ").next().unwrap_or(map);
    let rows: Vec<&str> = map
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(2) // the header and its rule
        .collect();
    let mut named: BTreeMap<&str, Vec<String>> =
        modules.iter().map(|m| (m.as_str(), Vec::new())).collect();
    for row in rows {
        let first = row.split('|').nth(1).unwrap_or_default();
        let label = first.trim();
        let spans = code_spans(first);
        let subjects: Vec<String> = spans
            .iter()
            .filter(|(_, inner)| !inner)
            .map(|(n, _)| module_name(n))
            .collect();
        if subjects.is_empty() {
            problems.push(format!(
                "the row {label:?} names no module in its first column"
            ));
        }
        for s in &subjects {
            if !modules.contains(s) {
                problems.push(format!(
                    "the row {label:?} names `{s}`, which is not a module of src/"
                ));
            }
        }
        for (listed, _) in spans.iter().filter(|(_, inner)| *inner) {
            let listed = listed.trim();
            let exists = matches!(listed, "mod" | "mod.rs")
                || subjects.iter().any(|s| {
                    modules.contains(&format!("{s}/{}", module_name(listed)))
                        || files.contains(&format!("{s}/{listed}"))
                });
            if !exists {
                problems.push(format!(
                    "the row {label:?} lists `{listed}`, which is no module or file there"
                ));
            }
        }
        let mentioned: BTreeSet<String> = code_spans(row)
            .iter()
            .map(|(n, _)| module_name(n))
            .collect();
        for (module, rows) in named.iter_mut() {
            let by_row = subjects.iter().any(|s| {
                s == module
                    || module
                        .strip_prefix(s.as_str())
                        .and_then(|r| r.strip_prefix('/'))
                        .is_some_and(|r| mentioned.contains(r))
            });
            if by_row {
                rows.push(label.to_owned());
            }
        }
    }
    for (module, rows) in named {
        match rows.len() {
            1 => {}
            0 => problems.push(format!("`{module}` has no row")),
            _ => problems.push(format!(
                "`{module}` is named by {} rows: {}",
                rows.len(),
                rows.join(" / ")
            )),
        }
    }
    problems
}

#[test]
fn the_module_rule_catches_a_missing_a_doubled_and_a_stale_row() {
    let modules: BTreeSet<String> = [
        "ledger",
        "ledger/json",
        "dispatch",
        "dispatch/plan",
        "dispatch/queue",
        "dispatch/queue/remote",
        "cost",
    ]
    .map(str::to_owned)
    .into();
    let files = BTreeSet::from(["ledger/envelope.json".to_owned()]);
    let map = |rows: &str| {
        format!(
            "# A\n\n## Module map\n\n| module | owns |\n| --- | --- |\n{rows}\n## Next\n| `x` | y |\n"
        )
    };
    let good = "| `ledger/` (`mod.rs`, `envelope.json`) | the ledger |\n\
                | `ledger/json` | JSON |\n\
                | `dispatch/` | `plan`, `queue` (`queue/remote`) |\n\
                | `cost.rs` | spend |\n";
    assert_eq!(
        architecture_problems(&map(good), &modules, &files),
        Vec::<String>::new()
    );
    let missing = good.replace("`queue` (`queue/remote`)", "`queue`");
    assert_eq!(
        architecture_problems(&map(&missing), &modules, &files),
        ["`dispatch/queue/remote` has no row"]
    );
    let doubled = format!("{good}| `ledger/json` | again |\n");
    assert_eq!(
        architecture_problems(&map(&doubled), &modules, &files),
        ["`ledger/json` is named by 2 rows: `ledger/json` / `ledger/json`"]
    );
    let stale = good
        .replace("`cost.rs`", "`cost.rs`, `spend.rs`")
        .replace("`envelope.json`", "`gone`");
    assert_eq!(
        architecture_problems(&map(&stale), &modules, &files),
        [
            "the row \"`ledger/` (`mod.rs`, `gone`)\" lists `gone`, which is no module or file there",
            "the row \"`cost.rs`, `spend.rs`\" names `spend`, which is not a module of src/",
        ]
    );
}
