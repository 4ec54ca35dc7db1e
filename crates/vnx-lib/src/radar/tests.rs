//! The radar's overlaps, lines and merge order on changes given as data.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn id(s: &str) -> DispatchId {
    DispatchId::parse(s).unwrap()
}

fn radar(of: &[(&str, &[&str])]) -> Radar {
    Radar::of(
        of.iter()
            .map(|(i, files)| {
                (
                    id(i),
                    Changed {
                        files: files.iter().map(|f| (*f).to_owned()).collect(),
                        ..Changed::default()
                    },
                )
            })
            .collect::<BTreeMap<_, _>>(),
    )
}

#[test]
fn overlaps_name_the_shared_files_and_the_others() {
    let r = radar(&[
        ("d-a", &["src/a.rs", "src/b.rs"]),
        ("d-b", &["src/b.rs", "README.md"]),
        ("d-c", &["src/b.rs", "src/c.rs"]),
        ("d-d", &["docs/x.md"]),
    ]);
    assert!(r.any());
    assert_eq!(
        r.overlaps(&id("d-a")),
        vec![Overlap {
            file: "src/b.rs".into(),
            with: vec![id("d-b"), id("d-c")],
        }]
    );
    assert!(r.overlaps(&id("d-d")).is_empty());
    assert_eq!(
        r.line(&id("d-b")).as_deref(),
        Some("shares src/b.rs with d-a; src/b.rs with d-c")
    );
    assert_eq!(r.line(&id("d-d")), None);
    assert!(r.overlaps(&id("d-zz")).is_empty());
    assert!(!radar(&[("d-a", &["x"]), ("d-b", &["y"])]).any());
}

#[test]
fn the_batch_merges_the_least_overlapping_first_and_says_why() {
    let r = radar(&[
        ("d-a", &["src/a.rs", "src/shared.rs"]),
        ("d-b", &["src/shared.rs"]),
        ("d-c", &["docs/c.md"]),
    ]);
    let o = order(&r, &[id("d-a"), id("d-b"), id("d-c")]);
    assert_eq!(o.ids, vec![id("d-c"), id("d-a"), id("d-b")]);
    assert!(o.moved);
    assert_eq!(o.why[0], "shares no file with the others");
    assert_eq!(o.why[1], "shares src/shared.rs with d-b");
    assert_eq!(o.why[2], "shares src/shared.rs with d-a");
    // Nothing shared: the order given.
    let o = order(&r, &[id("d-c"), id("d-a")]);
    assert_eq!(o.ids, vec![id("d-c"), id("d-a")]);
    assert!(!o.moved);
}

#[test]
fn a_dispatch_sharing_with_one_still_running_goes_after_one_sharing_nothing() {
    // d-b shares a file with d-live, which is not in the batch: it goes second.
    let r = radar(&[("d-a", &["a"]), ("d-b", &["b"]), ("d-live", &["b"])]);
    let o = order(&r, &[id("d-b"), id("d-a")]);
    assert_eq!(o.ids, vec![id("d-a"), id("d-b")]);
    // Only the batch is named as the reason: d-live is not merged here.
    assert_eq!(o.why[1], "shares no file with the others");
}

#[test]
fn many_shared_files_are_cut_in_the_reason() {
    let r = radar(&[
        ("d-a", &["1", "2", "3", "4", "5"]),
        ("d-b", &["1", "2", "3", "4", "5"]),
    ]);
    let o = order(&r, &[id("d-a"), id("d-b")]);
    assert_eq!(o.why[0], "shares 1, 2, 3 (+2 more) with d-b");
}

proptest! {
    #[test]
    fn the_order_is_a_permutation_of_the_batch(
        files in proptest::collection::vec(proptest::collection::btree_set(0u8..6, 0..4), 1..7)
    ) {
        let ids: Vec<DispatchId> = (0..files.len()).map(|i| id(&format!("d-{i}"))).collect();
        let r = Radar::of(ids.iter().zip(&files).map(|(i, f)| (i.clone(), Changed {
            files: f.iter().map(|n| format!("f{n}")).collect(),
            ..Changed::default()
        })).collect());
        let o = order(&r, &ids);
        let mut sorted = o.ids.clone();
        sorted.sort();
        let mut given = ids.clone();
        given.sort();
        prop_assert_eq!(sorted, given);
        prop_assert_eq!(o.why.len(), ids.len());
        // The first merged shares no more files with the rest than any other would.
        let shared = |d: &DispatchId| r.overlaps(d).len();
        prop_assert!(ids.iter().all(|d| shared(&o.ids[0]) <= shared(d)));
    }
}
