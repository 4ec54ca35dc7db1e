//! Claude Code's command line as Commander.js parses it: long/short options anywhere,
//! `--opt=value`, variadic `--allowedTools`/`--add-dir` that swallow following words
//! (the prompt too), `--` ending options, and Commander's error messages (exit 1).

use crate::Refusal;
use crate::engine::{Policy, RunRule};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
    StreamJson,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClaudeArgs {
    pub print: bool,
    pub output_format: OutputFormat,
    pub verbose: bool,
    pub model: Option<String>,
    pub permission_mode: Option<String>,
    pub skip_permissions: bool,
    pub settings: Option<String>,
    /// Allow rules, already split (`Bash(vnx report:*)`, `Edit`, ...).
    pub allowed_tools: Vec<String>,
    pub add_dirs: Vec<String>,
    pub session_id: Option<String>,
    pub resume: Option<String>,
    pub prompt: Option<String>,
}

#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(Box<ClaudeArgs>),
    Help,
    Version,
}

pub const VERSION: &str = "2.1.197 (Claude Code)";

pub const HELP: &str = "Usage: claude [options] [command] [prompt]

Claude Code - starts an interactive session by default, use -p/--print for non-interactive output

Arguments:
  prompt                                 Your prompt

Options:
  -p, --print                            Print response and exit (useful for pipes)
  --output-format <format>               Output format (only works with --print): \"text\" (default), \"json\" (single result), or \"stream-json\" (realtime streaming) (choices: \"text\", \"json\", \"stream-json\")
  --verbose                              Override verbose mode setting from config
  --model <model>                        Model for the current session
  --permission-mode <mode>               Permission mode to use for the session (choices: \"acceptEdits\", \"bypassPermissions\", \"default\", \"dontAsk\", \"plan\")
  --dangerously-skip-permissions         Bypass all permission checks
  --settings <file-or-json>              Path to a settings JSON file or a JSON string to load additional settings from
  --allowedTools, --allowed-tools <tools...>  Comma or space-separated list of tool names to allow (e.g. \"Bash(git:*) Edit\")
  --add-dir <directories...>             Additional directories to allow tool access to
  --session-id <uuid>                    Use a specific session ID for the conversation (must be a valid UUID)
  -r, --resume <sessionId>               Resume a conversation by session ID
  -v, --version                          Output the version number
  -h, --help                             Display help for command
";

const PERMISSION_MODES: [&str; 5] = [
    "acceptEdits",
    "bypassPermissions",
    "default",
    "dontAsk",
    "plan",
];

fn error(message: String) -> Refusal {
    Refusal {
        message: format!("error: {message}"),
        code: 1,
    }
}

fn check_choice(flag: &str, value: &str, choices: &[&str]) -> Result<(), Refusal> {
    if choices.contains(&value) {
        return Ok(());
    }
    Err(error(format!(
        "option '{flag}' argument '{value}' is invalid. Allowed choices are {}.",
        choices.join(", ")
    )))
}

/// Splits one `--allowedTools` value into rules at commas and spaces outside parentheses.
pub fn split_rules(value: &str) -> Vec<String> {
    let mut rules = Vec::new();
    let (mut cur, mut depth) = (String::new(), 0usize);
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' | ' ' | '\t' | '\n' if depth == 0 => {
                if !cur.is_empty() {
                    rules.push(std::mem::take(&mut cur));
                }
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        rules.push(cur);
    }
    rules
}

/// Adds Claude permission rules (`Bash`, `Bash(prefix:*)`, `Bash(exact)`, `Write`, `Edit`)
/// to `policy`. Other tools' rules do not matter to the fake.
pub fn apply_rules(rules: &[String], policy: &mut Policy) {
    for rule in rules {
        let (tool, spec) = match rule.split_once('(') {
            Some((tool, rest)) => (tool, rest.strip_suffix(')')),
            None => (rule.as_str(), None),
        };
        match (tool, spec) {
            ("Bash", None) | ("Bash", Some("*")) => policy.run_rules.push(RunRule::Any),
            ("Bash", Some(spec)) => policy.run_rules.push(
                match spec.strip_suffix(":*").or_else(|| spec.strip_suffix('*')) {
                    Some(prefix) => RunRule::Prefix(prefix.to_string()),
                    None => RunRule::Exact(spec.to_string()),
                },
            ),
            ("Write" | "Edit" | "MultiEdit", _) => policy.writes_allowed = true,
            _ => {}
        }
    }
}

pub fn parse(args: &[String]) -> Result<Parsed, Refusal> {
    let mut out = ClaudeArgs::default();
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            positional.extend(args[i..].iter().cloned());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            positional.push(arg.clone());
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let flag = |out: &mut bool| -> Result<(), Refusal> {
            match inline {
                Some(_) => Err(error(format!("unknown option '{arg}'"))),
                None => {
                    *out = true;
                    Ok(())
                }
            }
        };
        // The value of a `<value>` option: inline, else the next word whatever it is.
        let mut value = |shown: &str| -> Result<String, Refusal> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            let v = args
                .get(i)
                .cloned()
                .ok_or_else(|| error(format!("option '{shown}' argument missing")))?;
            i += 1;
            Ok(v)
        };
        match name {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-v" | "--version" => return Ok(Parsed::Version),
            "-p" | "--print" => flag(&mut out.print)?,
            "--verbose" => flag(&mut out.verbose)?,
            "--dangerously-skip-permissions" => flag(&mut out.skip_permissions)?,
            "--output-format" => {
                let v = value("--output-format <format>")?;
                check_choice(
                    "--output-format <format>",
                    &v,
                    &["text", "json", "stream-json"],
                )?;
                out.output_format = match v.as_str() {
                    "json" => OutputFormat::Json,
                    "stream-json" => OutputFormat::StreamJson,
                    _ => OutputFormat::Text,
                };
            }
            "--model" => out.model = Some(value("--model <model>")?),
            "--permission-mode" => {
                let v = value("--permission-mode <mode>")?;
                check_choice("--permission-mode <mode>", &v, &PERMISSION_MODES)?;
                out.permission_mode = Some(v);
            }
            "--settings" => out.settings = Some(value("--settings <file-or-json>")?),
            "--session-id" => out.session_id = Some(value("--session-id <uuid>")?),
            "-r" | "--resume" => out.resume = Some(value("-r, --resume <sessionId>")?),
            "--allowedTools" | "--allowed-tools" | "--add-dir" => {
                let shown = if name == "--add-dir" {
                    "--add-dir <directories...>"
                } else {
                    "--allowedTools, --allowed-tools <tools...>"
                };
                // Variadic: the first value, then every following word up to an option.
                let mut values = vec![value(shown)?];
                while let Some(next) = args.get(i).filter(|a| !a.starts_with('-')) {
                    values.push(next.clone());
                    i += 1;
                }
                if name == "--add-dir" {
                    out.add_dirs.extend(values);
                } else {
                    out.allowed_tools
                        .extend(values.iter().flat_map(|v| split_rules(v)));
                }
            }
            _ => return Err(error(format!("unknown option '{arg}'"))),
        }
    }
    if positional.len() > 1 {
        return Err(error(format!(
            "too many arguments. Expected 1 argument but got {}.",
            positional.len()
        )));
    }
    out.prompt = positional.pop();
    Ok(Parsed::Run(Box::new(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> ClaudeArgs {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&args) {
            Ok(Parsed::Run(a)) => *a,
            other => panic!("{other:?}"),
        }
    }

    fn refused(args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&args) {
            Err(r) => {
                assert_eq!(r.code, 1);
                r.message
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn headless_stream_json_line() {
        let a = run(&[
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--model=opus",
            "--permission-mode",
            "acceptEdits",
            "--settings",
            "/s.json",
            "--session-id",
            "0b5c4f1e-5a4c-4d2b-9c1e-1f2e3d4c5b6a",
            "the prompt",
            "--add-dir",
            "/a",
            "/b",
        ]);
        assert!(a.print && a.verbose);
        assert_eq!(a.output_format, OutputFormat::StreamJson);
        assert_eq!(a.model.as_deref(), Some("opus"));
        assert_eq!(a.permission_mode.as_deref(), Some("acceptEdits"));
        assert_eq!(a.prompt.as_deref(), Some("the prompt"));
        assert_eq!(a.add_dirs, vec!["/a", "/b"]);
    }

    #[test]
    fn variadic_allowed_tools_swallow_the_prompt() {
        let a = run(&["-p", "--allowedTools", "Bash(vnx report:*),Edit", "do it"]);
        assert_eq!(
            a.allowed_tools,
            vec!["Bash(vnx report:*)", "Edit", "do", "it"]
        );
        assert_eq!(a.prompt, None);
        let a = run(&[
            "-p",
            "do it",
            "--allowed-tools",
            "Bash(vnx report:*) Write",
            "--verbose",
        ]);
        assert_eq!(a.allowed_tools, vec!["Bash(vnx report:*)", "Write"]);
        assert_eq!(a.prompt.as_deref(), Some("do it"));
    }

    #[test]
    fn double_dash_ends_options() {
        let a = run(&["-p", "--", "--not-a-flag"]);
        assert_eq!(a.prompt.as_deref(), Some("--not-a-flag"));
    }

    #[test]
    fn refusals_read_like_commander() {
        assert_eq!(refused(&["--x"]), "error: unknown option '--x'");
        assert_eq!(
            refused(&["-p", "--model"]),
            "error: option '--model <model>' argument missing"
        );
        assert!(
            refused(&["--output-format", "yaml"])
                .contains("Allowed choices are text, json, stream-json.")
        );
        assert!(refused(&["--permission-mode", "auto"]).contains("'auto' is invalid"));
        assert!(refused(&["a", "b"]).contains("too many arguments"));
        assert_eq!(
            refused(&["--verbose=1"]),
            "error: unknown option '--verbose=1'"
        );
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(&["-h".to_string()]).unwrap(), Parsed::Help);
        assert_eq!(parse(&["--version".to_string()]).unwrap(), Parsed::Version);
    }

    #[test]
    fn rules_become_policy() {
        let mut p = Policy::new(crate::engine::Posture::Ask, Vec::new());
        apply_rules(
            &split_rules("Bash(vnx report:*) Bash(git status),Read"),
            &mut p,
        );
        assert_eq!(
            p.run_rules,
            vec![
                RunRule::Prefix("vnx report".into()),
                RunRule::Exact("git status".into())
            ]
        );
        assert!(!p.writes_allowed);
        apply_rules(&["Edit".to_string()], &mut p);
        assert!(p.writes_allowed);
    }
}
