//! The parser on what every CLI's stream shares: the samples of each CLI that parses one (its
//! module's tests hold its own cases), any chunking, garbage, and plain text.
use super::*;
use crate::provider::cli::all_streams;
use crate::provider::cli::stream::{CappedText, truncate};
use proptest::prelude::*;
use testing::*;

/// Each CLI's format that has a sample, with the sample.
fn samples() -> Vec<(OutputFormat, &'static [&'static str])> {
    all_streams()
        .map(|s| (s.format.clone(), s.sample))
        .filter(|(_, s)| !s.is_empty())
        .collect()
}

#[test]
fn every_format_survives_every_transcript() {
    let samples = samples();
    assert!(samples.len() >= 3, "{samples:?}");
    let all: Vec<u8> = samples.iter().flat_map(|(_, t)| lines(t)).collect();
    let count = samples.iter().map(|(_, t)| t.len() as u64).sum::<u64>();
    for (format, _) in samples {
        let summary = parse(format.clone(), &all);
        assert_eq!(summary.events, count, "{format:?}");
        assert_eq!(summary.unparsed_lines, 0, "{format:?}");
    }
}

#[test]
fn truncation_keeps_char_boundaries() {
    assert_eq!(truncate("abc", 3), "abc");
    assert_eq!(truncate("abcd", 3), "ab…");
    assert_eq!(truncate("héllo wörld", 5), "héll…");
    assert_eq!(truncate("🦀🦀🦀🦀", 2), "🦀…");
    assert_eq!(truncate("", 1), "");
    assert_eq!(truncate("ab", 0), "");
}

#[test]
fn capped_text_keeps_exactly_the_cap() {
    let mut exact = CappedText::default();
    exact.push(&"y".repeat(LAST_MESSAGE_MAX_CHARS - 1));
    exact.push("z");
    assert_eq!(
        truncate(&exact.text, LAST_MESSAGE_MAX_CHARS),
        format!("{}z", "y".repeat(LAST_MESSAGE_MAX_CHARS - 1))
    );
}

#[test]
fn text_format_is_not_parsed() {
    let (stream, sample) = samples().remove(0);
    let mut bytes = lines(sample);
    bytes.extend_from_slice(b"plain text output\n\xff\xfe garbage");
    let summary = parse(OutputFormat::TEXT, &bytes);
    assert_eq!(summary, StreamSummary::default());
    assert!(summary.is_empty());
    assert!(parse(stream.clone(), b"").is_empty());
    assert!(!parse(stream, b"junk").is_empty());
}

#[test]
fn serializes_without_absent_fields() {
    let summary = StreamSummary {
        session_id: Some("s".into()),
        usage: Some(Usage {
            input_tokens: 1,
            output_tokens: 2,
            ..Usage::default()
        }),
        verdict: Some(Verdict::Error {
            message: "boom".into(),
        }),
        events: 3,
        ..StreamSummary::default()
    };
    assert_eq!(
        serde_json::to_string(&summary).unwrap(),
        r#"{"session_id":"s","usage":{"input_tokens":1,"output_tokens":2},"verdict":{"status":"error","message":"boom"},"tool_calls":0,"permission_denials":0,"events":3,"unparsed_lines":0}"#
    );
    assert_eq!(
        serde_json::to_string(&Verdict::Success).unwrap(),
        r#"{"status":"success"}"#
    );
}

fn any_format() -> impl Strategy<Value = OutputFormat> {
    let formats: Vec<OutputFormat> = std::iter::once(OutputFormat::TEXT)
        .chain(all_streams().map(|s| s.format.clone()))
        .collect();
    proptest::sample::select(formats)
}

/// Transcript lines mixed with garbage, as bytes.
fn any_stream() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        proptest::sample::select(
            samples()
                .into_iter()
                .flat_map(|(_, t)| t.iter().copied())
                .collect::<Vec<_>>()
        )
        .prop_map(|l| l.as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
        Just(b"\r".to_vec()),
        Just(b"\xEF\xBB\xBF{\"type\":\"init\",\"session_id\":\"\xe2\x82\xac\"}".to_vec()),
    ];
    proptest::collection::vec(line, 0..24).prop_map(|lines| lines.join(&b'\n'))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        format in any_format(),
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16),
    ) {
        let summary = parse_chunks(format.clone(), chunks.iter().map(Vec::as_slice));
        if format == OutputFormat::TEXT {
            prop_assert!(summary.is_empty());
        }
        let _ = serde_json::to_string(&summary).unwrap();
    }

    #[test]
    fn chunking_never_changes_the_summary(
        format in any_format(),
        stream in any_stream(),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..12),
    ) {
        let whole = parse(format.clone(), &stream);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        at.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for cut in at {
            chunks.push(&stream[start..cut]);
            start = cut;
        }
        chunks.push(&stream[start..]);
        prop_assert_eq!(parse_chunks(format, chunks), whole);
    }
}
