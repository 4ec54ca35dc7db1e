//! Every `#[ignore]`d test is one that `bin/test` runs when its prerequisites are here: each
//! is taken in by a test-name filter of bin/test's `ignored` list (a podman test once went
//! unlisted, and a machine with some prerequisites absent never ran it).

use std::path::Path;

use super::{check, read, root, rust_files};

/// The test-name filters of bin/test's `ignored+=(…)` lists.
fn filters(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in script.split("ignored+=(").skip(1) {
        let list = part.split(')').next().unwrap_or_default();
        out.extend(list.split_whitespace().map(str::to_owned));
    }
    out
}

/// Each `#[ignore]`d test of the `it` suite under `dir`, as its file's module path and its
/// function (`crash_points::place_launch::a_launch_…`).
fn ignored_tests(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in rust_files(dir) {
        let rel = file
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let module = rel
            .trim_end_matches(".rs")
            .trim_end_matches("/mod")
            .replace('/', "::");
        let text = read(&file);
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if !line.trim_start().starts_with("#[ignore") {
                continue;
            }
            let name = lines
                .by_ref()
                .find_map(|l| l.trim_start().strip_prefix("fn "))
                .and_then(|rest| rest.split('(').next());
            if let Some(name) = name {
                out.push(format!("{module}::{name}"));
            }
        }
    }
    out
}

#[test]
fn every_ignored_test_is_one_bin_test_runs() {
    let filters = filters(&read(&root().join("bin/test")));
    assert!(filters.len() >= 10, "bin/test's filters: {filters:?}");
    let tests = ignored_tests(&root().join("tests/it"));
    assert!(
        tests.len() >= 100,
        "only {} #[ignore]d tests found",
        tests.len()
    );
    let missed: Vec<String> = tests
        .into_iter()
        .filter(|t| !filters.iter().any(|f| t.contains(f.as_str())))
        .collect();
    check(
        "every #[ignore]d test is taken in by a filter of bin/test's `ignored` list (add its \
         module's filter where bin/test checks what it needs)",
        &missed,
    );
}

#[test]
fn the_filters_are_read_from_each_list() {
    let script = "  ignored+=(a:: b::c\n    d::)\nx=(no)\n  ignored+=(e)\n";
    assert_eq!(filters(script), ["a::", "b::c", "d::", "e"]);
}
