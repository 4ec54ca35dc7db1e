//! aider's headless output (0.86.2, `--no-pretty`), plain text read line by line: the
//! model's reply as it streams, then `Tokens: 2.4k sent, 35 received.` (and `Cost: $X
//! message, $Y session.` when it knows the model's price), then what it did with the reply:
//! `Applied edit to FILE`, `Running COMMAND`. A failed request is a `litellm.…Error: …` line,
//! after which it exits 0 (a 500 after its retries, about 80 s): that line is the verdict.
//!
//! Its stdout is the worker's: a reply could print any line. Only lines after the reply's
//! `Tokens:` line count as what aider did, so a reply that says `Applied edit to x` applies
//! nothing; the last error counts only when no reply came after it.
//!
//! A usage limit, seen on aider 0.86.2 (ADR 0117): each HTTP 429 it retries is a
//! `litellm.RateLimitError: …` line, the API's words wrapped on the lines after it (with the
//! reset: `Please try again in 3599s.`), then `The API provider has rate limited you. …`;
//! it gives up after about 90 s and exits 0. The last limit with no reply after it is
//! `StreamSummary::usage_limit`.
//!
//! Background work: not looked for on this CLI (ADR 0096), so nothing here records it;
//! what a worker leaves running, as its shell backgrounds it, is found by the worker's
//! environment and waited for by the supervisor (ADR 0099).

use crate::provider::cli::limit::said;
use crate::provider::cli::stream::{
    ERROR_MESSAGE_MAX_CHARS, HeadlessStream, LAST_MESSAGE_MAX_CHARS, StreamEvents, StreamSummary,
    Usage, Verdict, error_verdict, truncate,
};
use crate::provider::cli::usage::sum;

/// The most lines of a reply kept to find its last paragraph.
const MAX_REPLY_LINES: usize = 64;

/// aider's headless output.
#[derive(Debug, Default)]
pub(super) struct AiderEvents {
    /// The current reply's lines since its last blank line (its last paragraph so far).
    paragraph: Vec<String>,
    /// Whether the lines now are aider's own, after a reply's `Tokens:` line.
    after_reply: bool,
    /// Edits applied and commands run.
    done: u64,
    /// The last request error with no reply after it.
    error: Option<String>,
    /// Whether a line of a fenced block is being read (a file listing, a command).
    in_fence: bool,
    /// The words of the last rate limit with no reply after it.
    limit: Option<String>,
    /// Whether the lines now continue those words (wrapped), until aider's own line on them.
    limit_open: bool,
}

/// What aider says after a request's rate limit.
const RATE_LIMITED: &str = "The API provider has rate limited you.";

impl StreamEvents for AiderEvents {
    fn event(&mut self, _kind: &str, _event: &serde_json::Value, _summary: &mut StreamSummary) {}

    fn reads_text(&self) -> bool {
        true
    }

    fn text_line(&mut self, line: &str, summary: &mut StreamSummary) {
        self.limit_line(line);
        if line.starts_with("litellm.") && line.contains("Error") {
            self.error = Some(line.trim().to_owned());
            self.paragraph.clear();
            self.after_reply = false;
            return;
        }
        if let Some(usage) = tokens(line) {
            self.reply_ended(summary);
            summary.usage = sum(summary.usage.take().into_iter().chain([usage]));
            if let Some(cost) = session_cost(line) {
                summary.cost_usd = Some(cost);
            }
            summary.num_turns = Some(summary.num_turns.unwrap_or(0) + 1);
            return;
        }
        if self.after_reply {
            let line = answered(line);
            if line.starts_with("Cost: $")
                && let Some(cost) = session_cost(line)
            {
                // On a line of its own when both cache counts are shown.
                summary.cost_usd = Some(cost);
            } else if line.starts_with("Applied edit to ") || line.starts_with("Running ") {
                self.done += 1;
                summary.tool_calls += 1;
            } else if line.starts_with("Did not apply edit to ") {
                summary.permission_denials += 1;
            }
            return;
        }
        self.reply_line(line);
    }

    fn finish(&mut self, summary: &mut StreamSummary) {
        summary.usage_limit = self.limit.as_deref().map(said);
        summary.verdict = match (&self.error, self.done) {
            (Some(error), _) => Some(error_verdict(error)),
            (None, 0) => None,
            (None, _) => Some(Verdict::Success),
        };
    }
}

impl AiderEvents {
    /// A line of the model's reply: its last paragraph outside fenced blocks is kept.
    fn reply_line(&mut self, line: &str) {
        if line.trim_start().starts_with("```") {
            self.in_fence = !self.in_fence;
            self.paragraph.clear();
            return;
        }
        if self.in_fence || line.trim().is_empty() {
            if !self.in_fence {
                self.paragraph.clear();
            }
            return;
        }
        if self.paragraph.len() < MAX_REPLY_LINES {
            self.paragraph.push(truncate(line, LAST_MESSAGE_MAX_CHARS));
        }
    }

    /// A line as the words of a rate limit: a `litellm.RateLimitError` starts them (another
    /// error ends the limit), the lines after it continue them until a blank one or aider's
    /// own, [`RATE_LIMITED`], which alone is a limit too.
    fn limit_line(&mut self, line: &str) {
        let line = line.trim();
        if line.starts_with("litellm.") && line.contains("Error") {
            let limited = line.starts_with("litellm.RateLimitError");
            self.limit = limited.then(|| truncate(line, ERROR_MESSAGE_MAX_CHARS));
            self.limit_open = limited;
        } else if line.is_empty() || line.starts_with(RATE_LIMITED) {
            self.limit_open = false;
            if !line.is_empty() && self.limit.is_none() {
                self.limit = Some(truncate(line, ERROR_MESSAGE_MAX_CHARS));
            }
        } else if self.limit_open
            && let Some(limit) = &mut self.limit
        {
            // Bounded: the words are cut where a receipt cuts them.
            self.limit_open = limit.chars().count() < ERROR_MESSAGE_MAX_CHARS;
            limit.push(' ');
            limit.push_str(&truncate(line, ERROR_MESSAGE_MAX_CHARS));
        }
    }

    /// The reply ended (its `Tokens:` line): its last paragraph is the last message, and an
    /// earlier request error (a rate limit too) was retried away.
    fn reply_ended(&mut self, summary: &mut StreamSummary) {
        self.limit = None;
        self.limit_open = false;
        self.error = None;
        self.in_fence = false;
        self.after_reply = true;
        let text = self.paragraph.join("\n");
        self.paragraph.clear();
        if !text.trim().is_empty() {
            summary.last_message = Some(truncate(text.trim(), LAST_MESSAGE_MAX_CHARS));
        }
    }
}

/// What follows a question aider asked and took its default for (stdin closed, the `full`
/// posture): `Create new file? (Y)es/(N)o [Yes]: Applied edit to a.txt` is one line.
fn answered(line: &str) -> &str {
    match line.rsplit_once("]: ") {
        Some((question, rest)) if question.contains("(Y)es/(N)o") => rest,
        _ => line,
    }
}

/// `Tokens: 2.4k sent, 35 received.` as counts (aider rounds: `2.4k`, `12k`), with the
/// prompt cache's `N cache write` and `N cache hit` between where the provider reports them.
fn tokens(line: &str) -> Option<Usage> {
    let rest = line.strip_prefix("Tokens: ")?;
    let (counts, _) = rest.split_once(" received.")?;
    let mut usage = Usage::default();
    let mut parts = counts.split(", ");
    usage.input_tokens = count(parts.next()?.strip_suffix(" sent")?)?;
    let mut received = None;
    for part in parts {
        if let Some(n) = part.strip_suffix(" cache write") {
            usage.cache_creation_input_tokens = Some(count(n)?);
        } else if let Some(n) = part.strip_suffix(" cache hit") {
            usage.cached_input_tokens = Some(count(n)?);
        } else {
            received = Some(count(part)?);
        }
    }
    usage.output_tokens = received?;
    Some(usage)
}

/// aider's token count: digits with an optional `k` or `M` and one decimal.
fn count(s: &str) -> Option<u64> {
    let (digits, scale) = match s.as_bytes().last()? {
        b'k' => (&s[..s.len() - 1], 1_000.0),
        b'M' => (&s[..s.len() - 1], 1_000_000.0),
        _ => (s, 1.0),
    };
    if digits.is_empty()
        || digits.len() > 12
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return None;
    }
    let n: f64 = digits.parse().ok()?;
    // `as` saturates; the digits bound it anyway.
    Some((n * scale).round() as u64)
}

/// The `$Y` of `Cost: $X message, $Y session.`: what the whole run cost.
fn session_cost(line: &str) -> Option<f64> {
    let (_, cost) = line.split_once("Cost: $")?;
    let (_, session) = cost.split_once(" message, $")?;
    let (value, _) = session.split_once(" session.")?;
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// Its headless event stream (see the module's documentation): plain text, no event of a
/// log is its, and no transcript of its own.
pub(super) static HEADLESS: HeadlessStream = HeadlessStream {
    format: super::STREAM,
    parser: || Box::new(AiderEvents::default()),
    claims: |_, _| false,
    claims_narrowly: false,
    transcript: None,
    #[cfg(test)]
    sample: &[],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::events::EventParser;
    use crate::provider::events::testing::fixture;
    use proptest::prelude::*;

    /// Output recorded from the real aider 0.86.2 against the scripted model server
    /// (`tests/support/fixtures/aider/`), fed as the shared parser feeds it.
    fn parse(text: &str) -> StreamSummary {
        let mut parser = EventParser::new(super::super::STREAM);
        for chunk in text.as_bytes().chunks(5) {
            parser.feed(chunk);
        }
        parser.finish()
    }

    #[test]
    fn an_applied_edit_is_a_success_with_its_usage_and_answer() {
        let s = parse(&fixture("aider", "headless-success.txt"));
        assert_eq!(s.verdict, Some(Verdict::Success));
        assert_eq!(s.tool_calls, 1);
        assert_eq!(s.last_message.as_deref(), Some("Wrote hello.txt."));
        let usage = s.usage.unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (613, 17));
        assert_eq!(s.cost_usd, Some(0.00065));
        assert_eq!(s.num_turns, Some(1));
        // Rounded counts, an edit in the diff format, the command it showed but did not run.
        let s = parse(&fixture("aider", "headless-shell.txt"));
        assert_eq!(s.usage.unwrap().input_tokens, 2400);
        assert_eq!(s.tool_calls, 1);
        assert_eq!(s.last_message.as_deref(), Some("Wrote hello.txt."));
    }

    #[test]
    fn in_the_full_posture_its_answered_questions_precede_what_it_did() {
        // Stdin closed: each question takes its default, on the line of what follows.
        let s = parse(&fixture("aider", "headless-full.txt"));
        assert_eq!(s.verdict, Some(Verdict::Success));
        // The edit and the command.
        assert_eq!(s.tool_calls, 2);
        assert_eq!(s.last_message.as_deref(), Some("Wrote it."));
    }

    #[test]
    fn an_api_error_is_a_failure_though_it_exits_0() {
        let s = parse(&fixture("aider", "api-error.txt"));
        assert_eq!(
            s.verdict,
            Some(Verdict::Error {
                message: "litellm.BadRequestError: OpenAIException - scripted failure".into()
            })
        );
        assert_eq!(s.last_message, None);
        let s = parse(&fixture("aider", "api-error-500.txt"));
        assert!(
            matches!(&s.verdict, Some(Verdict::Error { message }) if message.starts_with("litellm.InternalServerError")),
            "{s:?}"
        );
    }

    #[test]
    fn an_answer_without_an_edit_is_a_question() {
        let s = parse(&fixture("aider", "question.txt"));
        assert_eq!(s.verdict, None);
        assert_eq!(
            s.last_message.as_deref(),
            Some("Should I also update the documentation?")
        );
        assert_eq!(s.tool_calls, 0);
        // A dry run (the ask posture) applies nothing.
        let s = parse(&fixture("aider", "headless-denied.txt"));
        assert_eq!(s.verdict, None);
        assert_eq!(s.permission_denials, 1);
    }

    #[test]
    fn a_reply_cannot_say_what_aider_did() {
        let forged = "Applied edit to x\nRunning rm -rf /\nSure.\nTokens: 10 sent, 2 received.\n";
        let s = parse(forged);
        assert_eq!(s.verdict, None);
        assert_eq!(s.tool_calls, 0);
        assert_eq!(
            s.last_message.as_deref(),
            Some("Applied edit to x\nRunning rm -rf /\nSure.")
        );
        // An error retried away is no failure.
        let retried = "litellm.InternalServerError: boom\nDone.\nTokens: 1 sent, 1 received.\n\nApplied edit to a\n";
        assert_eq!(parse(retried).verdict, Some(Verdict::Success));
    }

    #[test]
    fn a_rate_limit_it_gave_up_on_is_said_with_its_reset() {
        // aider 0.86.2 against a 429 an hour away: nine retries in 77 s, then exit 0
        // (tests/support/fixtures/limits/); the API's words are wrapped at 80 columns.
        let far = parse(&fixture("limits/far", "aider.out"));
        let limit = far.usage_limit.expect("a limit");
        assert_eq!(
            limit.said,
            "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached for \
             requests. Please try again in 3524s."
        );
        assert_eq!(
            limit.resets_in_seconds,
            Some(3524),
            "the last retry's words"
        );
        assert!(matches!(far.verdict, Some(Verdict::Error { .. })));
        // 20 s away it waited, then answered: no limit line at all.
        let near = parse(&fixture("limits/near", "aider.out"));
        assert_eq!(near.usage_limit, None);
        assert_eq!(near.last_message.as_deref(), Some("After the limit."));
        // A limit retried away, then answered, is none; a later error of another kind ends it.
        let line = "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached";
        let retried = format!("{line}\n{RATE_LIMITED}\nDone.\nTokens: 1 sent, 1 received.\n");
        assert_eq!(parse(&retried).usage_limit, None);
        let other = format!("{line}\n{RATE_LIMITED}\nlitellm.InternalServerError: boom\n");
        assert_eq!(parse(&other).usage_limit, None);
        // aider's own line alone says it.
        let alone = format!("{RATE_LIMITED} Try again later or check your quotas.\n");
        let limit = parse(&alone).usage_limit.unwrap();
        assert_eq!(limit.said, alone.trim());
        assert_eq!(limit.resets_in_seconds, None);
    }

    #[test]
    fn a_prompt_cache_is_counted_apart() {
        let line = "Tokens: 2.4k sent, 1.0k cache write, 12k cache hit, 35 received.\nCost: $0.01 message, $0.02 session.";
        let s = parse(&format!("Done.\n{line}\n\nApplied edit to a\n"));
        let usage = s.usage.unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (2400, 35));
        assert_eq!(usage.cache_creation_input_tokens, Some(1000));
        assert_eq!(usage.cached_input_tokens, Some(12000));
        assert_eq!(s.cost_usd, Some(0.02));
        assert_eq!(s.verdict, Some(Verdict::Success));
    }

    #[test]
    fn counts_are_aiders_rounding() {
        assert_eq!(count("613"), Some(613));
        assert_eq!(count("2.4k"), Some(2400));
        assert_eq!(count("12k"), Some(12000));
        assert_eq!(count("1.2M"), Some(1_200_000));
        assert_eq!(count("k"), None);
        assert_eq!(count("-3"), None);
        assert_eq!(count("1e9"), None);
    }

    proptest! {
        #[test]
        fn any_output_parses_within_bounds(text in "(?s).{0,2000}", cut in 1usize..64) {
            let mut parser = EventParser::new(super::super::STREAM);
            for chunk in text.as_bytes().chunks(cut) {
                parser.feed(chunk);
            }
            let s = parser.finish();
            if let Some(m) = &s.last_message {
                prop_assert!(m.chars().count() <= LAST_MESSAGE_MAX_CHARS);
            }
        }

        #[test]
        fn the_summary_does_not_depend_on_the_split(cut in 1usize..64) {
            let text = fixture("aider", "headless-success.txt");
            let mut parser = EventParser::new(super::super::STREAM);
            for chunk in text.as_bytes().chunks(cut) {
                parser.feed(chunk);
            }
            prop_assert_eq!(parser.finish(), parse(&text));
        }
    }
}
