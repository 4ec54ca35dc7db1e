//! A crate's modules as a graph: which name which (`crate::…` and `super::…` paths in code
//! other than tests), and the loops in it, between top-level modules and between files of
//! different folders. The crates are the layers the compiler checks; inside the dispatcher
//! library the floors are this graph's, drawn in ARCHITECTURE.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::rust_source::{Tok, tokens, tokens_of};

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
            let toks = tokens_of(&file);
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
/// (through `crate::`, `super::` and `self::` paths and paths into its own child modules), each
/// path taken to the file that defines what it names: through the re-exports (`pub use`) of the
/// modules on the way, which are not themselves edges. With a file and line for each.
pub(super) fn file_graph(src: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut files: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
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
        files.insert(module, file);
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let mut named_by: BTreeMap<String, Vec<Named>> = BTreeMap::new();
    for (module, file) in &files {
        let toks = tokens_of(file);
        let is_child = |name: &str| modules.contains(&child(module, name));
        named_by.insert(module.clone(), paths(&toks, &is_child));
    }
    let tree = Tree {
        modules: &modules,
        named_by: &named_by,
    };
    let mut graph = BTreeMap::new();
    for (module, file) in &files {
        let mut named = BTreeMap::new();
        for n in named_by[module].iter().filter(|n| !n.reexport) {
            if let Some(t) = tree.definer(module, &n.segs, 0).filter(|t| t != module) {
                named
                    .entry(t)
                    .or_insert_with(|| format!("{}:{}", super::shown(file), n.line));
            }
        }
        graph.insert(module.clone(), named);
    }
    graph
}

/// `module`'s child module `name`.
fn child(module: &str, name: &str) -> String {
    if module.is_empty() {
        name.to_owned()
    } else {
        format!("{module}/{name}")
    }
}

/// A crate's file modules and the paths each names, to resolve a path to its definer.
struct Tree<'a> {
    modules: &'a BTreeSet<String>,
    named_by: &'a BTreeMap<String, Vec<Named>>,
}

impl Tree<'_> {
    /// The file module that defines what `path`, named in `here`, names: the deepest module
    /// the path walks into, then on through that module's re-export of the next segment.
    fn definer(&self, here: &str, path: &[String], depth: u8) -> Option<String> {
        let parts: Vec<&str> = here.split('/').filter(|p| !p.is_empty()).collect();
        let (mut base, rest): (Vec<&str>, &[String]) = match path.first().map(String::as_str)? {
            "crate" => (Vec::new(), &path[1..]),
            "self" => (parts.clone(), &path[1..]),
            "super" => {
                // Each `super` is the module above, whether a file or a folder's `mod.rs`.
                let supers = path.iter().take_while(|p| *p == "super").count();
                let keep = parts.len().checked_sub(supers)?;
                (parts[..keep].to_vec(), &path[supers..])
            }
            _ => (parts.clone(), path),
        };
        let mut walked = 0;
        for seg in rest {
            base.push(seg);
            if self.modules.contains(&base.join("/")) {
                walked += 1;
            } else {
                base.pop();
                break;
            }
        }
        let target = base.join("/");
        if !self.modules.contains(&target) {
            return None;
        }
        let Some(name) = rest.get(walked) else {
            return Some(target);
        };
        if depth < 8 {
            for export in self.named_by[&target].iter().filter(|n| n.reexport) {
                let through = match export.segs.split_last() {
                    Some((last, _)) if last == name => {
                        [export.segs.as_slice(), &rest[walked + 1..]].concat()
                    }
                    Some((last, head)) if last == "*" => [head, &rest[walked..]].concat(),
                    _ => continue,
                };
                if let Some(found) = self.definer(&target, &through, depth + 1) {
                    return Some(found);
                }
            }
        }
        Some(target)
    }
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

/// A path a file names outside `#[cfg(test)]` items: its segments (a glob's last is `*`), its
/// line, and whether it is a re-export (in a `pub use`).
#[derive(Debug)]
struct Named {
    line: usize,
    segs: Vec<String>,
    reexport: bool,
}

/// Every `crate::…`, `super::…` and `self::…` path, and every path into one of the file's own
/// child modules (`is_child`). A `use` group (`crate::a::{b, c::d}`) gives one path per member.
fn paths(toks: &[(usize, Tok)], is_child: &dyn Fn(&str) -> bool) -> Vec<Named> {
    let ident = |i: usize| match toks.get(i) {
        Some((_, Tok::Ident(x))) => Some(x.as_str()),
        _ => None,
    };
    let punct = |i: usize, c: char| matches!(toks.get(i), Some((_, Tok::Punct(x))) if *x == c);
    let mut out = Vec::new();
    // Inside a `use` item until its `;`: whether it is a `pub` one.
    let mut in_use: Option<bool> = None;
    let mut i = 0;
    while i < toks.len() {
        if let Some(end) = cfg_test_item(toks, i) {
            i = end + 1;
            continue;
        }
        if ident(i) == Some("use") {
            let public = ident(i.wrapping_sub(1)) == Some("pub")
                || (punct(i.wrapping_sub(1), ')') && {
                    let mut k = i - 1;
                    while k > 0 && !punct(k, '(') {
                        k -= 1;
                    }
                    ident(k.wrapping_sub(1)) == Some("pub")
                });
            in_use = Some(public);
            i += 1;
            continue;
        }
        if punct(i, ';') {
            in_use = None;
        }
        let after_path = i > 1 && punct(i - 1, ':') && punct(i - 2, ':');
        let starts = match ident(i) {
            Some("crate" | "super" | "self") => !after_path && punct(i + 1, ':'),
            Some(name) => {
                !after_path
                    && !punct(i.wrapping_sub(1), '.')
                    && punct(i + 1, ':')
                    && punct(i + 2, ':')
                    && is_child(name)
            }
            None => false,
        };
        if !starts {
            i += 1;
            continue;
        }
        let line = toks[i].0;
        let reexport = in_use == Some(true);
        let mut segs = vec![ident(i).unwrap_or_default().to_owned()];
        let mut j = i + 1;
        while punct(j, ':') && punct(j + 1, ':') {
            if let Some(next) = ident(j + 2) {
                segs.push(next.to_owned());
                j += 3;
            } else if punct(j + 2, '*') {
                segs.push("*".to_owned());
                j += 3;
                break;
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
                    } else if expect_member && depth == 1 && (ident(k).is_some() || punct(k, '*')) {
                        let mut p = segs.clone();
                        p.push(ident(k).unwrap_or("*").to_owned());
                        out.push(Named {
                            line,
                            segs: p,
                            reexport,
                        });
                        expect_member = false;
                    }
                    k += 1;
                }
                segs.clear();
                j = k;
                break;
            } else {
                break;
            }
        }
        if !segs.is_empty() {
            out.push(Named {
                line,
                segs,
                reexport,
            });
        }
        i = j.max(i + 1);
    }
    out
}

/// When a `#[cfg(test)]` attribute starts at `i`, the index of the last token of the item it
/// is on (its `;`, or its closing brace).
pub(super) fn cfg_test_item(toks: &[(usize, Tok)], i: usize) -> Option<usize> {
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
    let named: Vec<(Vec<String>, bool)> = paths(
        &tokens(
            "use super::{x, y::Z};\nuse crate::a::b;\n#[cfg(test)]\nuse crate::c;\n\
             fn f() { super::super::d::e(); kid::g(); other::h() }\npub(crate) use kid::*;",
        ),
        &|name| name == "kid",
    )
    .into_iter()
    .map(|n| (n.segs, n.reexport))
    .collect();
    let strs: Vec<(Vec<&str>, bool)> = named
        .iter()
        .map(|(p, r)| (p.iter().map(String::as_str).collect(), *r))
        .collect();
    assert_eq!(
        strs,
        [
            (vec!["super", "x"], false),
            (vec!["super", "y"], false),
            (vec!["crate", "a", "b"], false),
            (vec!["super", "super", "d", "e"], false),
            (vec!["kid", "g"], false),
            (vec!["kid", "*"], true),
        ]
    );
    // A path to an item a module re-exports leads to the file that defines it.
    let modules: BTreeSet<String> = ["a", "a/b", "a/c"].map(String::from).into();
    let named_by: BTreeMap<String, Vec<Named>> = [
        ("a", "pub use b::Thing;\npub(crate) use c::*;"),
        ("a/b", "pub struct Thing;"),
        ("a/c", "use super::Thing; use super::Other;"),
    ]
    .into_iter()
    .map(|(m, src)| {
        let is_child = |name: &str| modules.contains(&child(m, name));
        (m.to_owned(), paths(&tokens(src), &is_child))
    })
    .collect();
    let tree = Tree {
        modules: &modules,
        named_by: &named_by,
    };
    let path = |p: &str| p.split("::").map(String::from).collect::<Vec<_>>();
    assert_eq!(
        tree.definer("a/c", &path("super::Thing"), 0).as_deref(),
        Some("a/b")
    );
    assert_eq!(
        tree.definer("a/c", &path("crate::a::Other"), 0).as_deref(),
        Some("a/c")
    );
    assert_eq!(tree.definer("a/b", &path("super"), 0).as_deref(), Some("a"));
}
