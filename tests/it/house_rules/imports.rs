//! A crate's modules as a graph: which name which (`crate::…` and `super::…` paths in code
//! other than tests), and the loops in it, between top-level modules and between files of
//! different folders. The crates are the layers the compiler checks; inside the dispatcher
//! library the floors are this graph's, drawn in ARCHITECTURE.md.

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
        if let Some(end) = cfg_test_item(toks, i) {
            i = end;
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

/// Each file module of the crate rooted at `src` (`dispatch/start/plan`; a folder module by
/// its folder; not the crate root or a `tests.rs`) and the file modules its non-test code names
/// through `crate::` and `super::` paths (each path taken to the deepest module it names), with
/// a file and line for each.
pub(super) fn file_graph(src: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut modules: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
    for file in super::rust_files(src) {
        let rel = file
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let rel = rel.strip_suffix(".rs").unwrap_or(&rel).to_owned();
        if rel == "lib" || rel == "main" || rel.ends_with("/tests") || rel == "tests" {
            continue;
        }
        let module = rel.strip_suffix("/mod").unwrap_or(&rel).to_owned();
        modules.insert(module, file);
    }
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let here: Vec<&str> = module.split('/').collect();
        let toks = tokens(&super::read(file));
        let mut named = BTreeMap::new();
        for (line, path) in paths(&toks) {
            let (mut base, rest): (Vec<&str>, &[String]) = match path.first().map(String::as_str) {
                Some("crate") => (Vec::new(), &path[1..]),
                Some("super") => {
                    // Each `super` is the module above, whether a file or a folder's `mod.rs`.
                    let supers = path.iter().take_while(|p| *p == "super").count();
                    let keep = here.len().saturating_sub(supers);
                    (here[..keep].to_vec(), &path[supers..])
                }
                _ => continue,
            };
            let mut target = None;
            for seg in rest {
                base.push(seg);
                let m = base.join("/");
                if modules.contains_key(&m) {
                    target = Some(m);
                } else {
                    break;
                }
            }
            if let Some(t) = target.filter(|t| t != module) {
                named
                    .entry(t)
                    .or_insert_with(|| format!("{}:{line}", super::shown(file)));
            }
        }
        graph.insert(module.clone(), named);
    }
    graph
}

/// The folder holding a file module: `dispatch/start` for `dispatch/start/plan` and for the
/// folder module `dispatch/start` itself (its `mod.rs`), `` for a top-level file.
pub(super) fn folder_of(module: &str, src: &Path) -> String {
    if src.join(module).join("mod.rs").is_file() {
        return module.to_owned();
    }
    module
        .rsplit_once('/')
        .map_or(String::new(), |(dir, _)| dir.to_owned())
}

/// Every `crate::…` and `super::…` path outside `#[cfg(test)]` items, as its segments, with
/// its line. A `use` group (`crate::a::{b, c::d}`) gives one path per member.
fn paths(toks: &[(usize, Tok)]) -> Vec<(usize, Vec<String>)> {
    let ident = |i: usize| match toks.get(i) {
        Some((_, Tok::Ident(x))) => Some(x.as_str()),
        _ => None,
    };
    let punct = |i: usize, c: char| matches!(toks.get(i), Some((_, Tok::Punct(x))) if *x == c);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if let Some(end) = cfg_test_item(toks, i) {
            i = end + 1;
            continue;
        }
        let starts = matches!(ident(i), Some("crate" | "super"))
            && !(i > 1 && punct(i - 1, ':') && punct(i - 2, ':'));
        if !starts {
            i += 1;
            continue;
        }
        let line = toks[i].0;
        let mut segs = vec![ident(i).unwrap_or_default().to_owned()];
        let mut j = i + 1;
        while punct(j, ':') && punct(j + 1, ':') {
            if let Some(next) = ident(j + 2) {
                segs.push(next.to_owned());
                j += 3;
            } else if punct(j + 2, '{') {
                // One path per member of the group, each to its first segment after it.
                let mut k = j + 3;
                let mut depth = 1;
                let mut expect_member = true;
                while k < toks.len() && depth > 0 {
                    if punct(k, '{') {
                        depth += 1;
                    } else if punct(k, '}') {
                        depth -= 1;
                    } else if punct(k, ',') && depth == 1 {
                        expect_member = true;
                    } else if let (Some(name), true, 1) = (ident(k), expect_member, depth) {
                        let mut p = segs.clone();
                        p.push(name.to_owned());
                        out.push((line, p));
                        expect_member = false;
                    }
                    k += 1;
                }
                j = k;
                break;
            } else {
                break;
            }
        }
        out.push((line, segs));
        i = j.max(i + 1);
    }
    out
}

/// When a `#[cfg(test)]` attribute starts at `i`, the index of the last token of the item it
/// is on (its `;`, or its closing brace).
fn cfg_test_item(toks: &[(usize, Tok)], i: usize) -> Option<usize> {
    let ident = |i: usize, s: &str| matches!(toks.get(i), Some((_, Tok::Ident(x))) if x == s);
    let punct = |i: usize, c: char| matches!(toks.get(i), Some((_, Tok::Punct(x))) if *x == c);
    let cfg_test = punct(i, '#')
        && punct(i + 1, '[')
        && ident(i + 2, "cfg")
        && punct(i + 3, '(')
        && ident(i + 4, "test")
        && punct(i + 5, ')')
        && punct(i + 6, ']');
    if !cfg_test {
        return None;
    }
    let mut j = i + 7;
    let mut depth = 0usize;
    while j < toks.len() {
        if punct(j, '{') {
            depth += 1;
        } else if punct(j, '}') {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(j);
            }
        } else if punct(j, ';') && depth == 0 {
            return Some(j);
        }
        j += 1;
    }
    Some(toks.len())
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
    let named: Vec<Vec<String>> = paths(&tokens(
        "use super::{x, y::Z};\nuse crate::a::b;\n#[cfg(test)]\nuse crate::c;\nfn f() { super::super::d::e() }",
    ))
    .into_iter()
    .map(|(_, p)| p)
    .collect();
    let strs: Vec<Vec<&str>> = named
        .iter()
        .map(|p| p.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        strs,
        [
            vec!["super", "x"],
            vec!["super", "y"],
            vec!["super"],
            vec!["crate", "a", "b"],
            vec!["super", "super", "d", "e"],
        ]
    );
}
