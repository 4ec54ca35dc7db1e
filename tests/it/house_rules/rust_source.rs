//! Rust source read as far as the house rules need: tokens (comments dropped, a string
//! literal one token), the `allow(…)`s inside attributes, `mod` items, and the files a crate
//! root reaches through them as rustc finds them.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// A token: comments are dropped, and a string literal is one token (its text unescaped
/// only as far as paths need).
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
    Other,
}

/// The tokens of the file at `path`, each file read and tokenised once a test run: the rules
/// read the same few hundred files many times over, and the tokeniser is unoptimised code.
/// `None` when the file cannot be read.
pub(super) fn file_tokens(path: &Path) -> Option<Arc<Vec<(usize, Tok)>>> {
    type Cache = Mutex<HashMap<PathBuf, Arc<Vec<(usize, Tok)>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    if let Some(toks) = cache.lock().unwrap().get(path) {
        return Some(Arc::clone(toks));
    }
    let toks = Arc::new(tokens(&std::fs::read_to_string(path).ok()?));
    cache
        .lock()
        .unwrap()
        .insert(path.to_owned(), Arc::clone(&toks));
    Some(toks)
}

/// [`file_tokens`] of a file that must be there.
pub(super) fn tokens_of(path: &Path) -> Arc<Vec<(usize, Tok)>> {
    file_tokens(path).unwrap_or_else(|| panic!("{}: cannot be read", path.display()))
}

/// The tokens of `src`, each with its 1-based line.
pub(super) fn tokens(src: &str) -> Vec<(usize, Tok)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(c[i] == '\n');
                    i += 1;
                }
            }
        } else if ch == '"' {
            let start = line;
            let (text, end) = string(&c, i + 1, 0, &mut line);
            out.push((start, Tok::Str(text)));
            i = end;
        } else if ch == '\'' {
            // A char literal, or a lifetime (`'a`): skipped either way.
            i = char_literal(&c, i).unwrap_or(i + 1);
            out.push((line, Tok::Other));
        } else if ch == '_' || ch.is_alphabetic() {
            let start = i;
            while i < c.len() && (c[i] == '_' || c[i].is_alphanumeric()) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let raw_prefix = matches!(word.as_str(), "r" | "br" | "cr");
            let hashes = c[i..].iter().take_while(|&&h| h == '#').count();
            if raw_prefix && at(i + hashes) == '"' {
                let start = line;
                let (text, end) = string(&c, i + hashes + 1, hashes, &mut line);
                out.push((start, Tok::Str(text)));
                i = end;
            } else if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                let start = line;
                let (text, end) = string(&c, i + 1, 0, &mut line);
                out.push((start, Tok::Str(text)));
                i = end;
            } else if word == "b"
                && at(i) == '\''
                && let Some(end) = char_literal(&c, i)
            {
                i = end;
                out.push((line, Tok::Other));
            } else if word == "r" && hashes == 1 && (at(i + 1) == '_' || at(i + 1).is_alphabetic())
            {
                // A raw identifier, `r#type`.
                let start = i + 1;
                i = start;
                while i < c.len() && (c[i] == '_' || c[i].is_alphanumeric()) {
                    i += 1;
                }
                out.push((line, Tok::Ident(c[start..i].iter().collect())));
            } else {
                out.push((line, Tok::Ident(word)));
            }
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i] == '_' || c[i].is_alphanumeric()) {
                i += 1;
            }
            out.push((line, Tok::Other));
        } else {
            out.push((line, Tok::Punct(ch)));
            i += 1;
        }
    }
    out
}

/// The index after the char literal that opens at `c[i]` (`'a'`, `'\n'`, `'\u{1F600}'`), or
/// `None` for a lifetime.
fn char_literal(c: &[char], i: usize) -> Option<usize> {
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    if at(i + 1) == '\\' {
        let mut j = i + 3;
        while j < c.len() && c[j] != '\'' {
            j += 1;
        }
        Some(j + 1)
    } else if at(i + 2) == '\'' {
        Some(i + 3)
    } else {
        None
    }
}

/// A string literal's text from `c[i]` (after its opening quote) to its closing quote
/// followed by `hashes` `#`s (raw: no escapes), and the index after it.
fn string(c: &[char], mut i: usize, hashes: usize, line: &mut usize) -> (String, usize) {
    let mut text = String::new();
    while i < c.len() {
        let ch = c[i];
        if ch == '"'
            && c[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&h| h == '#')
                .count()
                == hashes
        {
            return (text, i + 1 + hashes);
        }
        if ch == '\\' && hashes == 0 && i + 1 < c.len() {
            // An escape; a line continuation keeps no newline, but counts its line.
            if c[i + 1] == '\n' {
                *line += 1;
            } else {
                text.push(c[i + 1]);
            }
            i += 2;
            continue;
        }
        *line += usize::from(ch == '\n');
        text.push(ch);
        i += 1;
    }
    (text, i)
}

/// Each `allow(…)` inside an attribute (`#[allow(…)]`, `#![allow(…)]`, or within
/// `cfg_attr`): its line and its first lint.
pub(super) fn allows(toks: &[(usize, Tok)]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let bang = usize::from(toks.get(i + 1).is_some_and(|t| t.1 == Tok::Punct('!')));
        let opens = toks[i].1 == Tok::Punct('#')
            && toks
                .get(i + 1 + bang)
                .is_some_and(|t| t.1 == Tok::Punct('['));
        if !opens {
            i += 1;
            continue;
        }
        let mut depth = 0;
        let mut j = i + 1 + bang;
        while j < toks.len() {
            match &toks[j].1 {
                Tok::Punct('[') => depth += 1,
                Tok::Punct(']') => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                Tok::Ident(w)
                    if w == "allow" && toks.get(j + 1).is_some_and(|t| t.1 == Tok::Punct('(')) =>
                {
                    let lint: String = toks[j + 2..]
                        .iter()
                        .map(|t| match &t.1 {
                            Tok::Ident(w) => w.clone(),
                            Tok::Punct(':') => ":".to_owned(),
                            _ => "\n".to_owned(),
                        })
                        .take_while(|s| s != "\n")
                        .collect();
                    out.push((toks[j].0, lint));
                }
                _ => {}
            }
            j += 1;
        }
        i = j + 1;
    }
    out
}

/// A `mod name;` item: the inline modules around it, its name, and its `#[path]` if any.
struct ModDecl {
    inline: Vec<String>,
    name: String,
    path: Option<String>,
}

/// The `mod name;` items of a file (those inside inline `mod name { … }` blocks too).
fn mod_decls(toks: &[(usize, Tok)]) -> Vec<ModDecl> {
    let ident = |i: usize| match toks.get(i) {
        Some((_, Tok::Ident(w))) => Some(w.as_str()),
        _ => None,
    };
    let punct = |i: usize, p: char| toks.get(i).is_some_and(|t| t.1 == Tok::Punct(p));
    let mut out = Vec::new();
    // Inline modules we are in, with the brace depth inside each.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut path = None;
    let mut i = 0;
    while i < toks.len() {
        if punct(i, '#')
            && punct(i + 1, '[')
            && ident(i + 2) == Some("path")
            && punct(i + 3, '=')
            && punct(i + 5, ']')
            && let Some((_, Tok::Str(p))) = toks.get(i + 4)
        {
            path = Some(p.clone());
            i += 6;
            continue;
        }
        if ident(i) == Some("mod")
            && let Some(name) = ident(i + 1)
        {
            if punct(i + 2, ';') {
                out.push(ModDecl {
                    inline: inline.iter().map(|(n, _)| n.clone()).collect(),
                    name: name.to_owned(),
                    path: path.take(),
                });
                i += 3;
                continue;
            }
            if punct(i + 2, '{') {
                depth += 1;
                inline.push((name.to_owned(), depth));
                path = None;
                i += 3;
                continue;
            }
        }
        if punct(i, '{') {
            depth += 1;
            path = None;
        } else if punct(i, '}') {
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
            depth -= 1;
            path = None;
        } else if punct(i, ';') {
            path = None;
        }
        i += 1;
    }
    out
}

/// Every file reached from crate root `root_file` through `mod` items, as rustc finds them:
/// `x.rs` or `x/mod.rs` in the module's folder (a root's or `mod.rs`'s own folder, else the
/// folder named after the file), inline modules as folders below it, `#[path]` relative to
/// the file's folder (or, inside inline modules, to the module's folder and theirs).
pub(super) fn modules_of(root_file: &Path) -> BTreeSet<PathBuf> {
    let mut reached = BTreeSet::new();
    // (file, the folder its child modules live in)
    let mut todo = vec![(root_file.to_owned(), root_file.parent().unwrap().to_owned())];
    while let Some((file, dir)) = todo.pop() {
        if !reached.insert(file.clone()) {
            continue;
        }
        let Some(toks) = file_tokens(&file) else {
            continue;
        };
        for decl in mod_decls(&toks) {
            let inner = decl.inline.iter().fold(dir.clone(), |d, m| d.join(m));
            let found = match &decl.path {
                Some(p) if decl.inline.is_empty() => {
                    let f = file.parent().unwrap().join(p);
                    let d = f.parent().unwrap().to_owned();
                    Some((f, d))
                }
                Some(p) => {
                    let f = inner.join(p);
                    let d = f.parent().unwrap().to_owned();
                    Some((f, d))
                }
                None => {
                    let flat = inner.join(format!("{}.rs", decl.name));
                    let folder = inner.join(&decl.name).join("mod.rs");
                    let d = inner.join(&decl.name);
                    if flat.is_file() {
                        Some((flat, d))
                    } else if folder.is_file() {
                        Some((folder, d))
                    } else {
                        None
                    }
                }
            };
            todo.extend(found);
        }
    }
    reached
}

#[test]
fn the_scanner_sees_code_not_comments_or_strings() {
    let src = "//! Doc.\n\
               // #[allow(dead_code)] in a comment\n\
               /* #[allow(a)] /* nested */ mod hidden; */\n\
               const S: &str = \"#[allow(b)] mod in_a_string;\";\n\
               const R: &str = r#\"#[allow(c)] \"mod x;\"\"#;\n\
               const C: [char; 2] = ['\"', '\\''];\n\
               #[cfg_attr(test, allow(clippy::unwrap_used))]\n\
               #[path = \"other.rs\"]\n\
               mod renamed;\n\
               mod outer {\n    fn f<'a>(x: &'a str) {}\n    mod inner;\n}\n\
               #![allow(unused)]\n";
    let toks = tokens(src);
    assert_eq!(
        allows(&toks),
        [
            (7, "clippy::unwrap_used".to_owned()),
            (14, "unused".to_owned())
        ]
    );
    let decls: Vec<(Vec<String>, String, Option<String>)> = mod_decls(&toks)
        .into_iter()
        .map(|d| (d.inline, d.name, d.path))
        .collect();
    assert_eq!(
        decls,
        [
            (vec![], "renamed".to_owned(), Some("other.rs".to_owned())),
            (vec!["outer".to_owned()], "inner".to_owned(), None),
        ]
    );
}
