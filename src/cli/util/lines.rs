//! The lines several commands print about the same thing, worded once: a gate that finished,
//! a person's acceptance or dismissal, what a blocked dispatch's request is, what
//! `worktree-release` and `tidy` measure against and what they released, a place vnx made
//! removed with its dispatch's work.

use super::output::say;

/// A person's acceptance in one line, escaped: `by ann at <time>, head 1a2b3c4d5e6f (ended
/// needs_input): <note>`.
pub(crate) fn accepted_line(a: &vnx::dispatch::state::Accepted) -> String {
    let mut line = format!(
        "by {}{}, head {} (ended {})",
        a.by,
        a.at.as_deref()
            .map(|t| format!(" at {t}"))
            .unwrap_or_default(),
        crate::shown::short(a.head_commit.as_str()),
        a.previous_status
    );
    if let Some(note) = &a.note {
        line.push_str(": ");
        line.push_str(note);
    }
    crate::cli::util::output::escape(&line).into_owned()
}

/// What a blocked dispatch's request is: a hook call's word, which the worker can make up.
pub(crate) const REQUEST_IS_THE_HOOKS: &str = "(the request is what a hook call in its dispatch \
     said, which its worker can make itself; its pane shows what the CLI asks: vnx attach)";

/// A dismissal, for a person: `by ana at …: note`.
pub(crate) fn dismissed_line(d: &vnx::dispatch::state::Dismissed) -> String {
    let mut line = format!("by {}", crate::cli::util::output::escape(&d.by));
    if let Some(at) = &d.at {
        line.push_str(&format!(" at {at}"));
    }
    if let Some(note) = &d.note {
        line.push_str(&format!(": {}", crate::cli::util::output::escape(note)));
    }
    line
}

/// The line a finished gate gets on stderr: its name, status, time and why.
pub(crate) fn finished(outcome: &vnx::gate::GateOutcome) -> String {
    format!(
        "gate {}: {} in {:.1} s{}",
        outcome.gate,
        outcome.status.name(),
        outcome.duration_seconds,
        why(outcome.reason.as_deref())
    )
}

/// `: WHY` after a gate's line when it says why, else nothing.
pub(crate) fn why(reason: Option<&str>) -> String {
    reason.map(|r| format!(": {r}")).unwrap_or_default()
}

/// The warning when the ledger could not be anchored after gates ran (`why`).
pub(crate) fn unanchored(why: &str) -> String {
    format!(
        "warning: could not checkpoint the ledger: {why}\nhint: `vnx merge` needs a \
         checkpoint; run `vnx audit-chain checkpoint`"
    )
}

/// The line `worktree-release` and `tidy` start with: what "landed" is measured against.
pub(crate) fn release_base(base: &vnx::release::Base, remote: &str) -> String {
    let name = match &base.branch {
        Some(b) => format!("{b} ({})", base.reference),
        None => base.reference.clone(),
    };
    let commit = crate::shown::short(base.commit.as_str());
    format!("base {name} at {commit}; remote {remote}")
}

/// The line `worktree-release` and `tidy` end with: how many were released and kept, or in
/// a dry run how many `flag` would release.
pub(crate) fn release_summary(
    applied: bool,
    (released, to_release, kept): (usize, usize, usize),
    flag: &str,
) -> String {
    if applied {
        format!(
            "{released} released (each recorded as a {} receipt), {kept} kept",
            vnx::release::EVENT
        )
    } else {
        format!("dry run, nothing changed: {to_release} to release, {kept} kept; {flag} releases")
    }
}

/// Says that the place vnx made for a dispatch whose work is `done` (merged, released,
/// discarded) was removed, or warns that it could not be.
pub(crate) fn place_removed(removed: &vnx::actions::remote::PlaceRemoved, done: &str) {
    if let Some(first) = removed.kept_for.first() {
        let ids: Vec<&str> = removed.kept_for.iter().map(|i| i.as_str()).collect();
        say!(
            "kept {}: the work of {} is only there (`vnx accept {first}` brings it here, \
             `vnx follow-up {first}` goes on with it)",
            removed.place,
            ids.join(", ")
        );
        return;
    }
    match &removed.failed {
        None => say!("removed {}: its work is {done}", removed.place),
        Some(why) => say!(
            "warning: could not remove {}, whose work is {done}: {why}",
            removed.place
        ),
    }
}

/// A review comment as `vnx review` and `vnx show` list it, each line escaped: `FILE:LINE`,
/// whether it is stale, who made it and which follow-up addressed it; the line it is on; then
/// what it says, one line per line of it.
pub(crate) fn review_comment(c: &vnx::review::Comment) -> Vec<String> {
    use crate::cli::util::output::escape;
    let r = &c.receipt;
    let stale = if c.stale { "  stale" } else { "" };
    let fate = c.addressed_by.as_ref().map_or_else(
        || "open".to_owned(),
        |f| format!("addressed by follow-up {f}"),
    );
    let mut lines = vec![
        format!(
            "{}{stale}  by {}  {fate}",
            escape(&c.anchor()),
            escape(&r.by)
        ),
        format!("    | {}", escape(&r.line_text.replace('\t', "    "))),
    ];
    lines.extend(r.body.lines().map(|l| format!("    {}", escape(l))));
    lines
}
