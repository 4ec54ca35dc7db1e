//! One module per place kind (issue 70), as `cli_names` is one per coding CLI: outside a
//! kind's own places, only the registry and the config schema name it. A kind's own places are
//! its module, `crates/vnx-lib/src/remote/kinds/NAME.rs` (and `NAME/`), and its config
//! section, `crates/vnx-lib/src/config/hosts/NAME.rs` (the config sits on a floor below
//! `remote`); and a stand-in of its program (`testing/fake-kubectl/`). The files counted are
//! the product's and the stand-ins' (`crates/*/src`, `src`, `testing`), not the tests, which
//! drive the kinds by name: neither `tests/` nor a `#[cfg(test)]` item of a product file.
//!
//! A file names a kind when an identifier of its code holds the kind's name as one of its
//! words (`ssh`, `Ssh`, `ssh_host`, `HostKind::Container`, `KubernetesHost`): the words
//! `ssh` and `container` are too common in comments and messages for the text to count, as
//! it does for the CLIs. The kinds are the registry's (`remote::kinds::names`), so a new one
//! is counted from its first line there.

use super::rust_source::{Tok, tokens, tokens_of};
use super::{product_files, root, rust_files};

/// The registry: it declares every kind's module and registers it.
const REGISTRY: &str = "crates/vnx-lib/src/remote/kinds/mod.rs";

/// The config schema: a host's sections, one per kind (`hosts:`'s `RawHost`, `HostKind`).
const SCHEMA: &str = "crates/vnx-lib/src/config/hosts/mod.rs";

/// The Rust files outside its own places that may name any kind.
const ALLOWED: [&str; 2] = [REGISTRY, SCHEMA];

/// A kind's stand-in, whose program it drives: (the kind, the stand-in's folder).
const STAND_INS: [(&str, &str); 1] = [("kubernetes", "testing/fake-kubectl/")];

/// Another kind's word in a kind's own places, which is not that kind: (the word, where).
/// What runs in a pod is Kubernetes' `container` (`core::Container`, `kubectl exec -c`), and
/// the stand-in kubectl makes its pods as a container engine's containers.
const WORDS_OF_ITS_OWN: [(&str, &str); 2] = [
    ("container", "crates/vnx-lib/src/remote/kinds/kubernetes"),
    ("container", "testing/fake-kubectl/"),
];

/// The kinds counted: the registry's.
fn kinds() -> Vec<&'static str> {
    let names: Vec<&str> = vnx::remote::kinds::names().collect();
    for known in ["ssh", "container", "kubernetes"] {
        assert!(names.contains(&known), "{known} is not in {names:?}");
    }
    names
}

/// Whether `path` (as shown) is one of `kind`'s own places.
fn own(kind: &str, path: &str) -> bool {
    let places = [
        format!("crates/vnx-lib/src/remote/kinds/{kind}.rs"),
        format!("crates/vnx-lib/src/remote/kinds/{kind}/"),
        format!("crates/vnx-lib/src/config/hosts/{kind}.rs"),
        format!("crates/vnx-lib/src/config/hosts/{kind}/"),
    ];
    places.iter().any(|p| path.starts_with(p.as_str()))
        || STAND_INS
            .iter()
            .any(|(k, f)| *k == kind && path.starts_with(f))
        || WORDS_OF_ITS_OWN
            .iter()
            .any(|(w, f)| *w == kind && path.starts_with(f))
}

/// The counted files outside `kind`'s own places whose code names it, sorted.
fn naming(kind: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (name, file) in product_files() {
        let tests = name.ends_with("/tests.rs") || name.contains("/tests/");
        if !tests && !own(kind, &name) && names_in(&tokens_of(&file), kind) {
            out.push(name);
        }
    }
    out.sort();
    out
}

/// Whether the code of `src` (not its comments, strings or `#[cfg(test)]` items) names
/// `kind`: an identifier with the kind's name as one of its words.
fn names(src: &str, kind: &str) -> bool {
    names_in(&tokens(src), kind)
}

/// [`names`] over tokens already read.
fn names_in(toks: &[(usize, Tok)], kind: &str) -> bool {
    let mut i = 0;
    while i < toks.len() {
        if let Some(end) = super::imports::cfg_test_item(toks, i) {
            i = end + 1;
            continue;
        }
        if let (_, Tok::Ident(id)) = &toks[i]
            && words(id).iter().any(|w| w == kind)
        {
            return true;
        }
        i += 1;
    }
    false
}

/// An identifier's words, lowercase: split at `_` and where a lowercase letter or a digit
/// meets an uppercase one (`KubernetesHost` → `kubernetes`, `host`).
fn words(id: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut prev_lower = false;
    for c in id.chars() {
        if c == '_' {
            out.push(String::new());
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            out.push(String::new());
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        out.last_mut().unwrap().extend(c.to_lowercase());
    }
    out.retain(|w| !w.is_empty());
    out
}

#[test]
fn each_place_kind_is_named_outside_its_module_only_by_the_registry_and_the_config_schema() {
    let mut problems = Vec::new();
    for kind in kinds() {
        let stray: Vec<String> = naming(kind)
            .into_iter()
            .filter(|f| !ALLOWED.contains(&f.as_str()))
            .collect();
        if !stray.is_empty() {
            problems.push(format!(
                "the place kind {kind} is named outside remote/kinds/{kind} and \
                 config/hosts/{kind} by files other than the registry ({REGISTRY}) and the \
                 config schema ({SCHEMA}): put what vnx knows about it in its module, register \
                 it there, and ask the registry (remote::kinds) instead. The files:\n    {}",
                stray.join("\n    ")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_count_sees_a_place_kind_named_in_a_shared_file() {
    // The counter is not blind: the registry and the schema name every kind.
    for kind in kinds() {
        let files = naming(kind);
        for shared in ALLOWED {
            assert!(files.iter().any(|f| f == shared), "{kind}: {files:?}");
        }
    }
    // It reads code, not comments, strings or tests.
    assert!(names(
        "fn f(h: &HostKind) { matches!(h, HostKind::Ssh { .. }) }",
        "ssh"
    ));
    assert!(names(
        "use crate::config::hosts::container::Engine;",
        "container"
    ));
    assert!(names(
        "static K: Spec = KubernetesHost::new();",
        "kubernetes"
    ));
    assert!(!names(
        "// an ssh host\nfn f() -> &'static str { \"a container\" }",
        "ssh"
    ));
    assert!(!names(
        "fn f() -> &'static str { \"a container\" }",
        "container"
    ));
    // Each word of its own is still there.
    for (word, place) in WORDS_OF_ITS_OWN {
        let file = root().join(format!("{}.rs", place.trim_end_matches('/')));
        let files = rust_files(&root().join(place))
            .into_iter()
            .chain(file.is_file().then_some(file));
        assert!(
            files.into_iter().any(|f| names_in(&tokens_of(&f), word)),
            "{word}: {place}"
        );
    }
    assert!(!names("#[cfg(test)]\nmod tests { use super::Ssh; }", "ssh"));
    assert!(!names("fn sshd() {}\nstruct Containers;", "ssh"));
    assert_eq!(words("MADE_CLONE"), ["made", "clone"]);
    assert_eq!(words("ContainerHost"), ["container", "host"]);
}
