//! The library's top-level modules as a graph: which name which (`crate::x` in code other
//! than tests), and the loops in it. The crates are the layers the compiler checks; inside
//! the dispatcher library the floors are this graph's, drawn in ARCHITECTURE.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::rust_source::{Tok, tokens};

/// Each top-level module of the crate rooted at `src` (a folder or a file, not `lib.rs`) and
/// the other top-level modules its non-test code names through `crate::`, with a file and line
/// for each.
pub(super) fn module_graph(src: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut graph = BTreeMap::new();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let module = match name.strip_suffix(".rs") {
            Some("lib") => continue,
            Some(m) => m.to_owned(),
            None if e.path().is_dir() => name.clone(),
            None => continue,
        };
        let mut named = BTreeMap::new();
        for file in super::rust_files(&e.path())
            .into_iter()
            .chain((e.path().extension().is_some_and(|x| x == "rs")).then(|| e.path()))
        {
            if file.file_name().is_some_and(|f| f == "tests.rs") {
                continue;
            }
            let toks = tokens(&super::read(&file));
            for (line, other) in crate_paths(&toks) {
                if other != module {
                    named
                        .entry(other)
                        .or_insert_with(|| format!("{}:{line}", super::shown(&file)));
                }
            }
        }
        graph.insert(module, named);
    }
    graph
}

/// The first segment of every `crate::…` path outside `#[cfg(test)]` items, with its line.
fn crate_paths(toks: &[(usize, Tok)]) -> Vec<(usize, String)> {
    let ident = |i: usize, s: &str| matches!(toks.get(i), Some((_, Tok::Ident(x))) if x == s);
    let punct = |i: usize, c: char| matches!(toks.get(i), Some((_, Tok::Punct(x))) if *x == c);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let cfg_test = punct(i, '#')
            && punct(i + 1, '[')
            && ident(i + 2, "cfg")
            && punct(i + 3, '(')
            && ident(i + 4, "test")
            && punct(i + 5, ')')
            && punct(i + 6, ']');
        if cfg_test {
            // Skip the item: to its `;`, or over its braces.
            i += 7;
            let mut depth = 0usize;
            while i < toks.len() {
                if punct(i, '{') {
                    depth += 1;
                } else if punct(i, '}') {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                } else if punct(i, ';') && depth == 0 {
                    break;
                }
                i += 1;
            }
        } else if ident(i, "crate") && punct(i + 1, ':') && punct(i + 2, ':') {
            if let Some((line, Tok::Ident(m))) = toks.get(i + 3) {
                out.push((*line, m.clone()));
            }
            i += 3;
        }
        i += 1;
    }
    out
}

/// The loops of `graph` among the modules it holds (edges to re-exported lower crates, which
/// are not keys, drop out): each strongly connected set of more than one module, sorted.
pub(super) fn loops(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<Vec<String>> {
    // Two modules are in one loop when each reaches the other.
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(m) = todo.pop() {
            for next in graph.get(&m).into_iter().flat_map(|n| n.keys()) {
                if graph.contains_key(next) && seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for m in graph.keys() {
        let set: Vec<String> = graph
            .keys()
            .filter(|o| *o == m || (reached[m].contains(*o) && reached[o].contains(m)))
            .cloned()
            .collect();
        if set.len() > 1 && !out.contains(&set) {
            out.push(set);
        }
    }
    out
}

#[test]
fn a_loop_is_found_and_a_test_module_does_not_count() {
    let toks = tokens(
        "use crate::a::X;\n#[cfg(test)]\nmod tests { use crate::b::Y; }\nfn f() { crate::c::g() }",
    );
    let named: Vec<String> = crate_paths(&toks).into_iter().map(|(_, m)| m).collect();
    assert_eq!(named, ["a", "c"]);
    let g = |edges: &[(&str, &str)]| {
        let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (from, to) in edges {
            graph.entry((*to).into()).or_default();
            (graph.entry((*from).into()).or_default()).insert((*to).into(), String::new());
        }
        graph
    };
    assert_eq!(
        loops(&g(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])),
        [["a", "b", "c"]]
    );
    assert!(loops(&g(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
}
