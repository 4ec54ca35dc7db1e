//! vnx's own offline stand-in (`vnx __demo-worker MODEL PROMPT`), acting out the behaviour its
//! model names; it writes text, reports like any worker and keeps no state of its own. Its
//! plan mode (`--plan`, ADR 0092) changes nothing and ends with the plan of its behaviour.
//! Its `limit` model meets a usage limit that resets a few seconds later and finishes when
//! continued in its session (`--resume=ID`, ADR 0117): the only line of its output vnx reads
//! says so ([`LIMIT_LINE`]). Its `long` model works on until a pause stops it, naming its
//! session ([`SESSION_LINE`]), and finishes when continued in it (ADR 0119).

use super::argv::{Argv, PROMPT_FILE, Start, literal};
use super::coding_cli::{CliFacts, CodingCli, check_valid};
use super::error::ProviderError;
use super::stream::{HeadlessStream, StreamEvents, StreamSummary};
use crate::receipts::kinds::{HookKind, OutputFormat, PromptTransport, ProviderCompletion};

/// What the demo provider acts out; the model name selects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DemoBehaviour {
    /// Writes a file and commits it.
    Commit,
    /// Writes a file, leaves it uncommitted and reports done (vnx then commits it).
    Dirty,
    /// Changes nothing.
    Noop,
    /// Writes a file, leaves it uncommitted, reports `failed` and exits with status 3.
    Fail,
    /// Ends with a question and no report (needs input).
    Ask,
    /// Writes a file and commits it, then ends without a report (needs input): work a person
    /// accepts with `vnx accept`.
    Forget,
    /// Sleeps for an hour (past any deadline).
    Slow,
    /// Sleeps for an hour ignoring SIGTERM (only SIGKILL stops it).
    Stubborn,
    /// Writes a file, then meets a usage limit that resets in [`LIMIT_RESETS_IN`] seconds
    /// and exits 1; continued in its session, commits the file and reports done.
    Limit,
    /// Writes a file and works on for an hour, naming its session ([`SESSION_LINE`]);
    /// continued in its session (`--resume=ID`), commits the file and reports done: a worker
    /// to pause and continue (ADR 0119).
    Long,
}

/// How the demo worker's output names its session, when its behaviour does: the line goes
/// on with the session's id.
pub const SESSION_LINE: &str = "vnx demo: session ";

/// How many seconds after the `limit` model meets its usage limit the limit resets.
pub const LIMIT_RESETS_IN: u64 = 3;

/// How the demo worker's output starts the line that says it met a usage limit; the line
/// goes on `(session ID); resets in N s`.
pub const LIMIT_LINE: &str = "vnx demo: usage limit reached";

/// The demo worker's output: plain text, of which only [`LIMIT_LINE`] is read.
const STREAM: OutputFormat = OutputFormat::named("demo-text");

/// Reads the demo worker's usage limit (the session it names and the reset) and keeps its
/// last paragraph, its last message (a question, a plan), as vnx keeps plain text's.
#[derive(Debug, Default)]
struct DemoEvents {
    /// The lines since the last blank one, at most ten.
    paragraph: std::collections::VecDeque<String>,
    /// Whether a blank line came after them.
    blank: bool,
}

impl StreamEvents for DemoEvents {
    fn event(&mut self, _kind: &str, _event: &serde_json::Value, _summary: &mut StreamSummary) {}

    fn reads_text(&self) -> bool {
        true
    }

    fn text_line(&mut self, line: &str, summary: &mut StreamSummary) {
        if line.trim().is_empty() {
            self.blank = true;
        } else {
            if std::mem::take(&mut self.blank) {
                self.paragraph.clear();
            }
            if self.paragraph.len() == 10 {
                self.paragraph.pop_front();
            }
            self.paragraph.push_back(line.to_owned());
        }
        if let Some(id) = line.strip_prefix(SESSION_LINE) {
            if super::session::valid_other_id(id.trim_end()) {
                summary.session_id = Some(id.trim_end().to_owned());
            }
            return;
        }
        let Some(rest) = line.strip_prefix(LIMIT_LINE) else {
            return;
        };
        summary.usage_limit = Some(super::limit::said(line));
        let session = rest
            .strip_prefix(" (session ")
            .and_then(|r| r.split_once(')'))
            .map(|(id, _)| id);
        if let Some(id) = session.filter(|id| super::session::valid_other_id(id)) {
            summary.session_id = Some(id.to_owned());
        }
    }

    fn finish(&mut self, summary: &mut StreamSummary) {
        let paragraph = Vec::from(std::mem::take(&mut self.paragraph)).join("\n");
        let paragraph = paragraph.trim();
        if summary.last_message.is_none() && !paragraph.is_empty() {
            summary.last_message = Some(super::stream::truncate_message(paragraph));
        }
    }
}

static HEADLESS: HeadlessStream = HeadlessStream {
    format: STREAM,
    parser: || Box::new(DemoEvents::default()),
    claims: |_, _| false,
    claims_narrowly: false,
    transcript: None,
    #[cfg(test)]
    sample: &[],
};

impl DemoBehaviour {
    /// Every behaviour, in the order `--model` lists them.
    pub const ALL: [DemoBehaviour; 10] = [
        DemoBehaviour::Commit,
        DemoBehaviour::Dirty,
        DemoBehaviour::Noop,
        DemoBehaviour::Fail,
        DemoBehaviour::Ask,
        DemoBehaviour::Forget,
        DemoBehaviour::Slow,
        DemoBehaviour::Stubborn,
        DemoBehaviour::Limit,
        DemoBehaviour::Long,
    ];

    /// The behaviour as `--model` names it.
    pub fn name(self) -> &'static str {
        [
            "commit", "dirty", "noop", "fail", "ask", "forget", "slow", "stubborn", "limit", "long",
        ][self as usize]
    }

    /// The behaviour a `--model` names, if any.
    pub fn parse(name: &str) -> Option<DemoBehaviour> {
        DemoBehaviour::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// The demo worker.
#[derive(Debug)]
pub struct Demo;

/// What it is as data.
static FACTS: CliFacts = CliFacts {
    stream: Some(&HEADLESS),
    // Its memory is its dispatch's folder, whose `MEMORY.md` it says it loaded, and where
    // it writes a lesson when a test asks.
    keeps_memory: true,
    // `--plan`: it writes nothing and ends with its plan, in either lane.
    plan_flags: Some(&["--plan"]),
    ..CliFacts::named("demo", argv)
};

impl CodingCli for Demo {
    fn facts(&self) -> &'static CliFacts {
        &FACTS
    }

    /// vnx itself, offline: exempt from the egress policy by default.
    fn egress_exempt(&self) -> bool {
        true
    }

    fn separate_binary(&self) -> bool {
        false
    }

    /// Its models follow a script; none reads a diff.
    fn can_review(&self) -> bool {
        false
    }

    /// Its model names the behaviour it acts out; there is no default.
    fn check_model(&self, model: Option<&str>) -> Result<(), ProviderError> {
        match model {
            None => Err(ProviderError::NeedsModel { provider: "demo" }),
            Some(m) if DemoBehaviour::parse(m).is_none() => Err(ProviderError::BadModel {
                provider: "demo",
                model: m.to_owned(),
            }),
            _ => check_valid(self.name(), model),
        }
    }
}

/// Its argv: vnx's own binary as the demo worker, the behaviour its model names.
fn argv(s: &Start<'_>) -> Result<Argv, ProviderError> {
    let mut argv = vec![s.vnx.clone(), "__demo-worker".into()];
    argv.extend(s.perms.iter().cloned());
    argv.push(literal(s.w.model.unwrap_or_default()));
    argv.extend(s.resume("--resume"));
    match s.transport {
        PromptTransport::Argument => argv.push(s.prompt_arg.clone()),
        PromptTransport::File => {
            argv.extend(["--prompt-file".into(), PROMPT_FILE.into()]);
        }
        PromptTransport::Stdin => {}
    }
    Ok(Argv {
        argv,
        output: STREAM,
        completion: ProviderCompletion::Report,
        hooks: HookKind::NONE,
        env: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::events::EventParser;

    fn summary_of(out: &str) -> StreamSummary {
        let mut parser = EventParser::new(STREAM);
        parser.feed(out.as_bytes());
        parser.finish()
    }

    #[test]
    fn its_limit_line_says_the_limit_its_reset_and_its_session() {
        let out = format!(
            "demo worker: limit (12 byte prompt)\nwrote x\n{LIMIT_LINE} (session demo-D-1); \
             resets in 3 s\n"
        );
        let s = summary_of(&out);
        let limit = s.usage_limit.unwrap();
        assert_eq!(limit.resets_in_seconds, Some(3));
        assert!(limit.said.starts_with(LIMIT_LINE), "{}", limit.said);
        assert_eq!(s.session_id.as_deref(), Some("demo-D-1"));
    }

    #[test]
    fn other_output_says_nothing() {
        let s = summary_of("demo worker: ask (12 byte prompt)\n\nEnglish or Dutch?\n\n");
        assert_eq!(s.last_message.as_deref(), Some("English or Dutch?"));
        assert!(s.usage_limit.is_none() && s.session_id.is_none(), "{s:?}");
        // A session that is no id is not taken.
        let s = summary_of(&format!("{LIMIT_LINE} (session a b/c); resets in 3 s\n"));
        assert!(s.session_id.is_none() && s.usage_limit.is_some());
    }
}
