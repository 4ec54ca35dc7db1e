//! What the tests of the CLIs' event parsers share: parsing a stream whole, in chunks and in
//! every split, one CLI's events fed to its own parser, lines, the output the CLIs' tests
//! recorded, and the types they compare.

use super::StreamEvents;
pub(crate) use super::{
    ERROR_MESSAGE_MAX_CHARS, EventParser, LAST_MESSAGE_MAX_CHARS, MAX_LINE_BYTES, StreamSummary,
    Usage, Verdict,
};
pub(crate) use crate::provider::kinds::OutputFormat;

/// What a real CLI wrote, recorded for the tests: `tests/support/fixtures/CLI/NAME`.
pub(crate) fn fixture(cli: &str, name: &str) -> String {
    let path = format!(
        "{}/../../tests/support/fixtures/{cli}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What `events` makes of `text`, one JSON event a line, fed to it as the shared parser feeds
/// them (by their `type`), then the stream's end.
pub(crate) fn summary_of(mut events: impl StreamEvents, text: &str) -> StreamSummary {
    let mut summary = StreamSummary::default();
    for line in text.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let kind = crate::provider::cli::stream::str_field(&event, "type").unwrap_or("");
        events.event(kind, &event, &mut summary);
    }
    events.finish(&mut summary);
    summary
}

pub(crate) fn parse(format: OutputFormat, bytes: &[u8]) -> StreamSummary {
    let mut parser = EventParser::new(format);
    parser.feed(bytes);
    parser.finish()
}

pub(crate) fn parse_chunks<'a>(
    format: OutputFormat,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> StreamSummary {
    let mut parser = EventParser::new(format);
    for chunk in chunks {
        parser.feed(chunk);
    }
    parser.finish()
}

/// Parses `bytes` whole, byte by byte, and split in two at every position; all must agree.
pub(crate) fn parse_every_split(format: OutputFormat, bytes: &[u8]) -> StreamSummary {
    let whole = parse(format.clone(), bytes);
    assert_eq!(
        parse_chunks(format.clone(), bytes.chunks(1)),
        whole,
        "byte by byte"
    );
    for at in 0..=bytes.len() {
        let (a, b) = bytes.split_at(at);
        assert_eq!(parse_chunks(format.clone(), [a, b]), whole, "split at {at}");
    }
    for size in [2, 3, 7, 64, 4096] {
        assert_eq!(
            parse_chunks(format.clone(), bytes.chunks(size)),
            whole,
            "chunks of {size}"
        );
    }
    whole
}

pub(crate) fn lines(lines: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

pub(crate) fn error(message: &str) -> Option<Verdict> {
    Some(Verdict::Error {
        message: message.to_owned(),
    })
}
