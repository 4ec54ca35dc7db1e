//! The floors ARCHITECTURE.md draws for the dispatcher library's top-level modules, checked
//! against the modules' graph (`imports`): every module is drawn on one floor, and its code
//! other than tests names only modules of lower floors (or the lower crates it re-exports).

use std::collections::BTreeMap;

use super::{imports, read, root};

/// The floors as drawn, the top one first: the lines after "floors of its top-level
/// modules" up to the diagram's next empty one, each the names before its note.
fn floors() -> Vec<Vec<String>> {
    let text = read(&root().join("ARCHITECTURE.md"));
    let drawn: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("floors of its top-level modules"))
        .skip(1)
        .map(|l| l.trim_start().trim_start_matches('│').trim())
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(
        drawn.len() > 5,
        "no floors drawn in ARCHITECTURE.md: {drawn:?}"
    );
    drawn
        .iter()
        .map(|l| {
            let names = l.split('(').next().unwrap_or_default();
            (names.split(','))
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .collect()
}

#[test]
fn the_librarys_modules_name_only_lower_floors() {
    let floor_of: BTreeMap<String, usize> = (floors().into_iter().enumerate())
        .flat_map(|(i, names)| names.into_iter().map(move |n| (n, i)))
        .collect();
    let graph = imports::module_graph(&root().join("crates/vnx-lib/src"));
    let mut problems = Vec::new();
    for (module, named) in &graph {
        let Some(&floor) = floor_of.get(module) else {
            problems.push(format!("{module} is drawn on no floor"));
            continue;
        };
        // A name that is no module of the library is a lower crate's, re-exported (`files`,
        // `ledger`, `receipts`…): below every floor.
        for (other, at) in named.iter().filter(|(other, _)| graph.contains_key(*other)) {
            match floor_of.get(other) {
                Some(&below) if below > floor => {}
                _ => problems.push(format!("{module} names {other}, not below it ({at})")),
            }
        }
    }
    for drawn in floor_of.keys().filter(|m| !graph.contains_key(*m)) {
        problems.push(format!("{drawn} is drawn but is no module of the library"));
    }
    assert!(
        problems.is_empty(),
        "house rule broken: each of vnx-lib's top-level modules names only modules of the \
         floors ARCHITECTURE.md draws below its own:\n  {}",
        problems.join("\n  ")
    );
}
