//! The order several dispatches merge in: at each turn, the one that shares the fewest files
//! with those still waiting (then with other dispatches in play, then as given), so that the
//! merges least likely to conflict land first and a conflict meets as few of them as it can.
//! A dispatch that started after others of the batch (`--after`) always comes after them.

use std::collections::BTreeSet;

use super::Radar;
use crate::ids::DispatchId;

/// A batch in merge order, each with why it is where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ordered {
    /// The ids, in the order they merge.
    pub ids: Vec<DispatchId>,
    /// Why, for each id in that order: the files it shares with the others of the batch (and
    /// with whom), or that it shares none.
    pub why: Vec<String>,
    /// Whether the order differs from the one given.
    pub moved: bool,
}

/// How many files of the batch shown in a reason before `+N more`.
const SHOWN: usize = 3;

/// `ids` in merge order by `radar` (see the module's rule).
pub fn order(radar: &Radar, ids: &[DispatchId]) -> Ordered {
    order_after(radar, ids, &Default::default())
}

/// [`order`], each id after those of the batch it started after (`after`, by id).
pub fn order_after(
    radar: &Radar,
    ids: &[DispatchId],
    after: &std::collections::BTreeMap<DispatchId, Vec<DispatchId>>,
) -> Ordered {
    let mut waiting: Vec<&DispatchId> = Vec::new();
    for id in ids {
        if !waiting.contains(&id) {
            waiting.push(id);
        }
    }
    let mut out = Vec::with_capacity(waiting.len());
    while !waiting.is_empty() {
        let score = |id: &DispatchId| {
            let overlaps = radar.overlaps(id);
            let in_batch = overlaps
                .iter()
                .filter(|o| o.with.iter().any(|w| w != id && waiting.contains(&w)))
                .count();
            (in_batch, overlaps.len())
        };
        // Only one whose dependencies in the batch merged already (all, if a cycle).
        let free = |id: &DispatchId| {
            (after.get(id).into_iter().flatten()).all(|d| !waiting.contains(&d) || d == id)
        };
        let any_free = waiting.iter().any(|id| free(id));
        let (at, _) = waiting
            .iter()
            .enumerate()
            .filter(|(_, id)| !any_free || free(id))
            .min_by_key(|(i, id)| (score(id), *i))
            .map(|(i, id)| (i, (*id).clone()))
            .unwrap_or((0, waiting[0].clone()));
        out.push(waiting.remove(at).clone());
    }
    let why = out.iter().map(|id| reason(radar, id, ids)).collect();
    let moved = out.len() != ids.len() || out.iter().zip(ids).any(|(a, b)| a != b);
    Ordered {
        ids: out,
        why,
        moved,
    }
}

/// Why `id` merges where it does: the files it shares with the rest of `batch`.
fn reason(radar: &Radar, id: &DispatchId, batch: &[DispatchId]) -> String {
    if radar.changed(id).is_some_and(|c| c.unseen.is_some()) {
        return "its changes could not be read".into();
    }
    let shared: Vec<_> = radar
        .overlaps(id)
        .into_iter()
        .filter_map(|o| {
            let with: BTreeSet<DispatchId> =
                o.with.into_iter().filter(|w| batch.contains(w)).collect();
            (!with.is_empty()).then_some((o.file, with))
        })
        .collect();
    if shared.is_empty() {
        return "shares no file with the others".into();
    }
    let with: BTreeSet<&DispatchId> = shared.iter().flat_map(|(_, w)| w.iter()).collect();
    let files: Vec<&str> = shared.iter().map(|(f, _)| f.as_str()).take(SHOWN).collect();
    let more = shared.len().saturating_sub(SHOWN);
    let more = if more > 0 {
        format!(" (+{more} more)")
    } else {
        String::new()
    };
    format!(
        "shares {}{more} with {}",
        files.join(", "),
        with.iter()
            .map(|w| w.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )
}
