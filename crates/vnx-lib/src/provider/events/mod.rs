//! Parsing a headless worker CLI's stdout (the JSON event streams of the CLIs in
//! `provider::cli` that write one, or the plain text of one whose parser reads text) into the [`StreamSummary`] recorded in a `dispatch_completed`
//! receipt: session id, model, token usage, the CLI's own verdict, the last assistant message,
//! tool calls and permission denials.
//!
//! The line splitting, JSON decoding and bounds are here; what one CLI's events mean is its
//! [`StreamEvents`], in its module under `provider/cli/`.
//!
//! The parser is fed raw bytes as they stream, split anywhere. It never fails and never panics:
//! a line that is not a JSON object is counted in [`StreamSummary::unparsed_lines`], an object
//! of an unknown type or with missing or mistyped fields contributes what it can. Memory is
//! bounded: a pending partial line is capped at [`MAX_LINE_BYTES`] (a longer line is dropped and
//! counted), and stored strings are capped ([`LAST_MESSAGE_MAX_CHARS`],
//! [`ERROR_MESSAGE_MAX_CHARS`], [`ID_MAX_CHARS`]) with a trailing `…`.

use serde_json::Value;

use super::kinds::OutputFormat;

pub use crate::receipts::cli_events::{ERROR_MESSAGE_MAX_CHARS, LAST_MESSAGE_MAX_CHARS};
pub use crate::receipts::{CliVerdict as Verdict, StreamSummary, Usage};

use super::cli::stream::str_field;
pub use super::cli::stream::{ID_MAX_CHARS, StreamEvents};
/// The longest line kept, in bytes (without its `\n`); a longer one is dropped and counted as
/// unparsed.
pub use super::lines::MAX_LINE_BYTES;
use super::lines::{LineSplitter, Piece};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Incremental parser of one worker's stdout.
///
/// Feed it every chunk in order with [`EventParser::feed`], then call [`EventParser::finish`].
/// The summary depends only on the bytes, never on how they were split into chunks.
#[derive(Debug)]
pub struct EventParser {
    format: OutputFormat,
    /// The lines fed so far.
    lines: LineSplitter,
    summary: StreamSummary,
    /// What the CLI writing the stream makes of its events (none for text).
    cli: Option<Box<dyn StreamEvents>>,
}

impl EventParser {
    /// A parser for stdout in `format`. [`OutputFormat::TEXT`] is not parsed at all: its
    /// summary is always empty.
    pub fn new(format: OutputFormat) -> EventParser {
        EventParser {
            cli: super::cli::streaming(&format)
                .map(|stream| (stream.parser)())
                .or_else(|| super::openai_chat::stream_events(&format)),
            format,
            lines: LineSplitter::default(),
            summary: StreamSummary::default(),
        }
    }

    /// Feeds a chunk of stdout (any split, may cut lines and UTF-8 sequences).
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.format == OutputFormat::TEXT {
            return;
        }
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(chunk, |piece| self.piece(piece));
        self.lines = lines;
    }

    fn piece(&mut self, piece: Piece<'_>) {
        match piece {
            Piece::Line(line) => self.line(line),
            Piece::TooLong => self.summary.unparsed_lines += 1,
        }
    }

    /// The background work the events fed so far show running after the turn ended, which
    /// the CLI waits for (ADR 0096); empty when none.
    pub fn waiting_on_so_far(&self) -> Vec<crate::receipts::BackgroundTask> {
        self.cli
            .as_ref()
            .map(|c| c.waiting_on())
            .unwrap_or_default()
    }

    /// What the events fed so far record (a running worker's budget, ADR 0094): its token
    /// usage, model, session, cost (a CLI that records its cost as it runs, or only in its
    /// closing event; ADR 0098), whether they closed the run (the CLI's own verdict was said)
    /// and the usage limit the CLI met and has not got past (a turn that completes after it
    /// clears it; ADR 0117).
    pub fn so_far(&self) -> &StreamSummary {
        &self.summary
    }

    /// Ends the stream (a final line without newline counts) and returns the summary.
    #[must_use]
    pub fn finish(mut self) -> StreamSummary {
        if self.format == OutputFormat::TEXT {
            return StreamSummary::default();
        }
        let mut lines = std::mem::take(&mut self.lines);
        if let Some(piece) = lines.finish() {
            self.piece(piece);
        }
        if let Some(cli) = &mut self.cli {
            cli.finish(&mut self.summary);
        }
        self.summary
    }

    /// One complete line, without its `\n`.
    fn line(&mut self, line: &[u8]) {
        let line = line.strip_prefix(BOM).unwrap_or(line);
        if let Some(cli) = self.cli.as_mut().filter(|cli| cli.reads_text()) {
            let text = String::from_utf8_lossy(line);
            cli.text_line(text.strip_suffix('\r').unwrap_or(&text), &mut self.summary);
            return;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        // `\r` before `\n` is JSON whitespace, so the parser ignores it.
        let event = match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(map)) => Value::Object(map),
            _ => {
                self.summary.unparsed_lines += 1;
                return;
            }
        };
        self.summary.events += 1;
        let kind = str_field(&event, "type").unwrap_or("");
        if let Some(cli) = &mut self.cli {
            cli.event(kind, &event, &mut self.summary);
        }
    }
}

/// Whether vnx parses stdout in `format`: a built-in CLI's event stream, or a format no CLI
/// of its own writes (`provider::openai_chat`).
pub fn parses(format: &OutputFormat) -> bool {
    super::cli::streaming(format).is_some() || *format == super::openai_chat::FORMAT
}

/// Every format vnx parses, by name: [`OutputFormat::TEXT`] first, then the CLIs' streams,
/// then the others.
pub fn known() -> Vec<OutputFormat> {
    std::iter::once(OutputFormat::TEXT)
        .chain(super::cli::all_streams().map(|s| s.format.clone()))
        .chain([super::openai_chat::FORMAT])
        .collect()
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
