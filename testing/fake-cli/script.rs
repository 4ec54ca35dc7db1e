//! The `@fake` directive language: which lines of a prompt script the fake model, and what
//! each one asks it to do.

/// The final message of a turn that ends with a question (`@fake ask`).
pub const QUESTION: &str = "Should I also update the documentation?";

/// The final message when no `@fake say`/`@fake ask` is given.
pub const DEFAULT_FINAL: &str = "Done.";

#[derive(Clone, Debug, PartialEq)]
pub enum Directive {
    /// A file-writing tool call: `TEXT` plus a newline into `PATH` (relative to the cwd).
    Write { path: String, text: String },
    /// A shell tool call running `git add -A && git commit -q -m MESSAGE`.
    Commit { message: String },
    /// A shell tool call running `sh -c COMMAND`.
    Run { command: String },
    /// A shell tool call asking to run outside the sandbox (which a personality's TUI may ask
    /// a person about: `Policy::escalation`); elsewhere the same as `Run`.
    Escalate { command: String },
    /// Sets the turn's final assistant message.
    Say(String),
    /// Ends the turn with a question.
    Ask,
    /// The model API answers HTTP 400: the turn fails and no tool call runs.
    Fail,
    /// Sleeps this many seconds before the turn finishes.
    Sleep(f64),
    /// A model call that uses this many tokens, recorded where the personality's CLI records
    /// usage as it runs (a message with its usage in its session file, for one whose real CLI
    /// writes it so).
    Spend(u64),
    /// Ignores SIGTERM from here on.
    IgnoreTerm,
    /// Starts a background `sleep 3600` grandchild in the same process group.
    SpawnChild,
    /// A shell tool call that runs `sh -c COMMAND` in the background and goes on at once (a
    /// personality without background tasks ignores it).
    Background { command: String },
}

impl Directive {
    /// The shell command a commit directive runs.
    pub fn commit_command(message: &str) -> String {
        format!(
            "git add -A && git commit -q -m {}",
            crate::sys::shell_quote(message)
        )
    }
}

/// Splits `s` at its first run of whitespace: (first word, rest with leading space removed).
fn split_word(s: &str) -> (&str, &str) {
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

/// The directives of `prompt`, in order, plus a warning for each `@fake` line that makes no
/// sense (it is then ignored, as a model would ignore it).
pub fn parse(prompt: &str) -> (Vec<Directive>, Vec<String>) {
    let mut directives = Vec::new();
    let mut warnings = Vec::new();
    for raw in prompt.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim_start();
        let Some(rest) = line.strip_prefix("@fake") else {
            continue;
        };
        if !rest.starts_with([' ', '\t']) {
            if rest.is_empty() {
                warnings.push("empty @fake directive ignored".to_string());
            }
            continue;
        }
        let (verb, args) = split_word(rest.trim_start());
        let directive = match verb {
            "write" => {
                let (path, text) = split_word(args);
                (!path.is_empty()).then(|| Directive::Write {
                    path: path.to_string(),
                    text: text.to_string(),
                })
            }
            "commit" => (!args.is_empty()).then(|| Directive::Commit {
                message: args.to_string(),
            }),
            "run" => (!args.is_empty()).then(|| Directive::Run {
                command: args.to_string(),
            }),
            "escalate" => (!args.is_empty()).then(|| Directive::Escalate {
                command: args.to_string(),
            }),
            "say" => Some(Directive::Say(args.to_string())),
            "ask" => Some(Directive::Ask),
            "fail" => Some(Directive::Fail),
            "sleep" => args
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Directive::Sleep),
            "spend" => args.trim().parse::<u64>().ok().map(Directive::Spend),
            "ignore-term" => Some(Directive::IgnoreTerm),
            "spawn-child" => Some(Directive::SpawnChild),
            "background" => (!args.is_empty()).then(|| Directive::Background {
                command: args.to_string(),
            }),
            _ => {
                warnings.push(format!("unknown directive '@fake {verb}' ignored"));
                continue;
            }
        };
        match directive {
            Some(d) => directives.push(d),
            None => warnings.push(format!("malformed directive '{line}' ignored")),
        }
    }
    (directives, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(prompt: &str) -> Vec<Directive> {
        let (d, w) = parse(prompt);
        assert!(w.is_empty(), "{w:?}");
        d
    }

    #[test]
    fn plain_prose_has_no_directives() {
        assert!(only("fix the bug\nplease @fake write x y\n").is_empty());
    }

    #[test]
    fn every_verb_parses_in_order() {
        let prompt = "Task header\n  @fake write notes/a.txt hello  world \n@fake commit add notes\n\
                      \t@fake run echo hi && echo there\n@fake say All good.\n@fake ask\n\
                      @fake fail\n@fake sleep 0.25\n@fake ignore-term\n@fake spawn-child\r\n";
        assert_eq!(
            only(prompt),
            vec![
                Directive::Write {
                    path: "notes/a.txt".into(),
                    text: "hello  world ".into()
                },
                Directive::Commit {
                    message: "add notes".into()
                },
                Directive::Run {
                    command: "echo hi && echo there".into()
                },
                Directive::Say("All good.".into()),
                Directive::Ask,
                Directive::Fail,
                Directive::Sleep(0.25),
                Directive::IgnoreTerm,
                Directive::SpawnChild,
            ]
        );
    }

    #[test]
    fn write_without_text_writes_an_empty_line() {
        assert_eq!(
            only("@fake write empty.txt"),
            vec![Directive::Write {
                path: "empty.txt".into(),
                text: String::new()
            }]
        );
    }

    #[test]
    fn bad_directives_warn_and_are_skipped() {
        let (d, w) = parse("@fake explode\n@fake sleep soon\n@fake run\n@fake\n@fakery x");
        assert!(d.is_empty());
        assert_eq!(w.len(), 4, "{w:?}");
    }

    #[test]
    fn commit_command_quotes_the_message() {
        assert_eq!(
            Directive::commit_command("it's done"),
            r"git add -A && git commit -q -m 'it'\''s done'"
        );
    }
}
