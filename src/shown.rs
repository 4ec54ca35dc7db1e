//! What the command line and the dashboard both show, worded once: a pull request's lines
//! (`vnx show`, the dashboard's receipts view), a commit cut to 12 digits, a cell cut to its
//! width, an age, how long ago a dispatch started (`vnx status`, the dashboard, the page).

use vnx::forge::watch::PrStatus;

/// A commit's first 12 hex digits, as messages show it.
pub(crate) fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// A pull request as lines of a key and its value, every forge text made safe by `clean`:
/// its line, address, head against the recorded one, each check, the review decision, the
/// new reviews and comments (who, and their first line), and why the read is stale.
pub(crate) fn pr_lines(pr: &PrStatus, clean: impl Fn(&str) -> String) -> Vec<(&str, String)> {
    let short = |c: &str| self::short(c).to_owned();
    let head = if pr.head_commit.is_empty() {
        format!("recorded {} (not read)", short(&pr.recorded_head))
    } else if pr.head_commit == pr.recorded_head {
        format!("{} (the recorded head)", short(&pr.head_commit))
    } else {
        format!(
            "{} on the forge, recorded {}",
            clean(&short(&pr.head_commit)),
            short(&pr.recorded_head)
        )
    };
    let mut lines = vec![
        ("pr", clean(&pr.line())),
        ("url", clean(&pr.url)),
        ("head", head),
    ];
    for (name, state) in &pr.checks {
        lines.push(("check", format!("{}: {state}", clean(name))));
    }
    if !pr.review_decision.is_empty() {
        lines.push(("review", clean(&pr.review_decision)));
    }
    for s in &pr.said {
        let kind = if s.kind == "comment" {
            String::new()
        } else {
            format!(" ({})", clean(&s.kind))
        };
        let said = format!("{}{kind}: {}", clean(&s.author), clean(&s.line));
        lines.push(("new", said));
    }
    lines.extend(pr.stale.iter().map(|why| ("stale", clean(why))));
    lines
}

/// `text` in at most `width` characters, the last an `…` when it was cut.
pub(crate) fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// How long before `now` a dispatch started, by its `started_at`; `unknown` when it has
/// none or it does not parse.
pub(crate) fn started_age(started: Option<&str>, now: jiff::Timestamp, unknown: &str) -> String {
    started
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or_else(
            || unknown.to_owned(),
            |t| age(now.as_second() - t.as_second()),
        )
}

/// An age in the largest unit that fits (`42s`, `7m`, `3h`, `2d`).
pub(crate) fn age(seconds: i64) -> String {
    match seconds.max(0) {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}
