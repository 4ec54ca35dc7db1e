//! Unit tests of the transcript renderer: splitting, escaping, bounds, unknown input. The
//! real CLIs' output is snapshot-tested in `tests/it/transcript.rs`.

use super::*;
use crate::provider::lines::MAX_LINE_BYTES;

#[test]
fn the_lines_do_not_depend_on_how_the_bytes_were_split() {
    // Each CLI's real stream, cut in two at every byte.
    let samples: Vec<String> = crate::provider::cli::all_streams()
        .map(|s| s.sample.iter().map(|l| format!("{l}\n")).collect())
        .filter(|s: &String| !s.is_empty())
        .collect();
    assert!(samples.len() >= 3);
    for sample in samples {
        let whole = render(sample.as_bytes());
        assert!(whole.len() > 2, "{whole:?}");
        for cut in 1..sample.len() {
            let mut t = Transcript::new();
            let mut lines = t.feed(&sample.as_bytes()[..cut]);
            lines.extend(t.feed(&sample.as_bytes()[cut..]));
            lines.extend(t.finish());
            assert_eq!(lines, whole, "cut at {cut}");
        }
    }
}

#[test]
fn control_characters_are_escaped_and_lines_are_cut() {
    let long = "x".repeat(1000);
    let event = serde_json::json!({
        "type": "item.completed",
        "item": {"type": "agent_message", "text": format!("\u{1b}[2Jhi\u{7}\n{long}")},
    });
    let lines = render(format!("{event}\n").as_bytes());
    assert_eq!(lines[0], "says    \\e[2Jhi\\u{7}");
    assert_eq!(lines[1].chars().count(), 8 + MAX_LINE_CHARS + 1);
    assert!(lines[1].ends_with('…'));
    assert!(lines.iter().all(|l| !l.chars().any(char::is_control)));
}

#[test]
fn long_messages_and_results_are_bounded() {
    let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
    let event = serde_json::json!({"type": "message", "role": "assistant", "content": text});
    let lines = render(format!("{event}\n").as_bytes());
    assert_eq!(lines.len(), MAX_MESSAGE_LINES + 1);
    assert_eq!(lines.last().unwrap(), "        … (60 more lines)");
}

#[test]
fn text_that_is_not_an_event_is_shown_as_it_is() {
    let lines = render(b"plain output\n\x1b[31mred\x1b[0m\x1b[2J\n{\"no\":\"type\"}\nvnx: a note");
    assert_eq!(
        lines,
        [
            "plain output",
            // Its colours left out; any other escape shown, never obeyed.
            "red\\e[2J",
            r#"event   {"no":"type"}"#,
            "vnx: a note",
        ]
    );
}

#[test]
fn an_overlong_line_is_left_out_and_said_so() {
    let mut data = vec![b'{'; MAX_LINE_BYTES + 10];
    data.extend_from_slice(b"\nafter\n");
    assert_eq!(
        render(&data),
        ["vnx     (a line too long to show was left out)", "after"]
    );
}

#[test]
fn the_last_line_skips_a_partial_first_line() {
    let tail = br#""text":"cut"}}
{"type":"item.completed","item":{"type":"agent_message","text":"Done."}}
"#;
    assert_eq!(last_line(tail, true).as_deref(), Some("says Done."));
    assert_eq!(last_line(b"", false), None);
}

#[test]
fn a_question_or_a_request_to_answer_asks_and_a_statement_says() {
    for asking in [
        "Which file should I change?",
        "Which file should I change?**",
        "Should I go on? (y/n)?\n\n",
        "I found two configs. Please answer.",
        "Which port? Please answer.",
        "Please confirm the port:",
        "Kindly reply with the branch name!",
        "Please let me know which one you want.",
        "Done with the draft. Let me know whether to keep the old API.",
        "I cannot go on without it; I need your decision.",
        "I am waiting for your answer.",
        "**Please choose one of the options above.**",
    ] {
        assert!(asks(asking), "{asking:?}");
        assert_eq!(label(asking), "asks", "{asking:?}");
    }
    for saying in [
        "",
        "I changed three files.",
        "Done. Please review the diff.",
        "Please note that the tests pass.",
        "Let me know if you need anything else.",
        "Thanks for your input.",
        "Please let it run overnight.",
        "The answer is 42.",
    ] {
        assert!(!asks(saying), "{saying:?}");
        assert_eq!(label(saying), "said", "{saying:?}");
    }
}

proptest::proptest! {
    /// Whatever came before, a message that ends with a question or a request to answer asks;
    /// whitespace after the last word changes nothing; no text makes it panic.
    #[test]
    fn the_end_of_a_message_decides_whether_it_asks(
        before in "\\PC{0,200}",
        tail in "[ \\t\\n]{0,4}",
    ) {
        let asked = format!("{before}?{tail}");
        proptest::prop_assert!(asks(&asked), "{:?}", asked);
        let requested = format!("{before}\nPlease answer.{tail}");
        proptest::prop_assert!(asks(&requested), "{:?}", requested);
        let requested = format!("{before}. Please answer{tail}");
        proptest::prop_assert!(asks(&requested), "{:?}", requested);
        let spaced = format!("{before}{tail}");
        proptest::prop_assert_eq!(asks(&before), asks(&spaced));
        let said = format!("{before}\nI changed nothing.{tail}");
        proptest::prop_assert!(!asks(&said), "{:?}", said);
    }
}
