//! What a CLI's words say of a usage limit it met: when it resets, read from the API's own
//! text that the CLIs pass on ("Please try again in 3600s.", "resets in 12 s"). Shared by the
//! CLIs' event parsers; each CLI's module decides which of its events name a limit (ADR 0117).
//! The text is the worker's CLI's: hostile, read bounded, never trusted for more than a wait.

use crate::receipts::UsageLimit;

/// The longest wait a CLI's words may set: a day. A limit that says more is waited for a day
/// (then the worker is continued once, and may meet it again).
pub const MAX_RESET_SECONDS: u64 = 24 * 3600;

/// The phrases after which a duration says when a limit resets.
const LEADS: [&str; 5] = [
    "try again in ",
    "retry in ",
    "retry after ",
    "resets in ",
    "reset in ",
];

/// The seconds until the limit resets, as `text` says them (`in 3600s`, `in 20 seconds`,
/// `in 1m30s`, `in 1.5s`, `in 2 minutes`, `in 1h`), at most [`MAX_RESET_SECONDS`]; `None`
/// when it names no duration after one of the phrases vnx knows.
pub fn resets_in(text: &str) -> Option<u64> {
    // Bounded: a phrase is looked for in the first 8 KiB only.
    let mut cut = text.len().min(8192);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    let lower = head.to_ascii_lowercase();
    LEADS.iter().find_map(|lead| {
        let at = lower.find(lead)? + lead.len();
        duration(&lower[at..]).map(|s| s.min(MAX_RESET_SECONDS))
    })
}

/// A duration at the start of `text`: one or more `NUMBER UNIT` parts (`1m30s`, `2 hours`),
/// rounded up to whole seconds.
fn duration(text: &str) -> Option<u64> {
    let mut rest = text;
    let mut total = 0f64;
    let mut parts = 0;
    loop {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            break;
        }
        let Ok(n) = rest[..digits].parse::<f64>() else {
            break;
        };
        let after = rest[digits..].trim_start_matches(' ');
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let scale = match &after[..unit_len] {
            "ms" | "millisecond" | "milliseconds" => 0.001,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            _ => break,
        };
        total += n * scale;
        parts += 1;
        rest = &after[unit_len..];
    }
    (parts > 0 && total.is_finite()).then(|| total.ceil().min(u64::MAX as f64) as u64)
}

/// A limit a CLI said: its words cut to what a receipt keeps, with the reset they name.
pub fn said(text: &str) -> UsageLimit {
    UsageLimit {
        said: super::stream::truncate(text.trim(), super::stream::ERROR_MESSAGE_MAX_CHARS),
        resets_in_seconds: resets_in(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_apis_own_words_say_when_it_resets() {
        let api = "429 Rate limit reached for requests. Please try again in 3600s.";
        assert_eq!(resets_in(api), Some(3600));
        assert_eq!(resets_in("Please try again in 20 seconds"), Some(20));
        assert_eq!(resets_in("Please try again in 1m30s."), Some(90));
        assert_eq!(resets_in("Please retry in 15.2s."), Some(16));
        assert_eq!(resets_in("usage limit reached; resets in 3 s"), Some(3));
        assert_eq!(resets_in("Try again in 2 hours"), Some(7200));
        assert_eq!(resets_in("try again in 450ms"), Some(1));
    }

    #[test]
    fn words_without_a_duration_say_no_reset() {
        assert_eq!(resets_in("Please try again later."), None);
        assert_eq!(resets_in("Try again later or check your quotas."), None);
        assert_eq!(resets_in("try again in a while"), None);
        assert_eq!(resets_in(""), None);
    }

    #[test]
    fn a_reset_is_never_more_than_a_day_away() {
        assert_eq!(
            resets_in("try again in 99999999999h"),
            Some(MAX_RESET_SECONDS)
        );
        assert_eq!(said(&"x".repeat(5000)).said.chars().count(), 2000);
    }

    proptest! {
        #[test]
        fn any_text_reads_without_panic_and_within_a_day(text in ".{0,200}") {
            let r = resets_in(&text);
            prop_assert!(r.is_none_or(|s| s <= MAX_RESET_SECONDS));
        }

        #[test]
        fn a_stated_number_of_seconds_is_read_back(n in 0u64..=86_400) {
            let text = format!("Rate limit reached. Please try again in {n}s.");
            prop_assert_eq!(resets_in(&text), Some(n));
        }
    }
}
