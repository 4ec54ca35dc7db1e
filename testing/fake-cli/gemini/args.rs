//! Gemini CLI's command line as yargs parses it in strict mode: `--kebab`/`--camelCase`
//! spellings, `--opt=value`, greedy array options (`--allowed-tools`,
//! `--include-directories`), positional words joined into one query, yargs' messages (exit 1).

use crate::Refusal;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GeminiArgs {
    pub prompt: Option<String>,
    pub prompt_interactive: Option<String>,
    /// Positional words, joined with spaces.
    pub query: Option<String>,
    pub output_format: Option<String>,
    pub model: Option<String>,
    pub yolo: bool,
    pub approval_mode: Option<String>,
    pub allowed_tools: Vec<String>,
    pub include_directories: Vec<String>,
    pub skip_trust: bool,
    /// `--policy` files.
    pub policies: Vec<String>,
    /// `--resume`: a session UUID, an index, or `latest`.
    pub resume: Option<String>,
}

#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(Box<GeminiArgs>),
    Help,
    Version,
}

pub const VERSION: &str = "0.61.0";

pub const HELP: &str = "Usage: gemini [options] [command]

Gemini CLI - Launch an interactive CLI, use -p/--prompt for non-interactive mode

Commands:
  gemini [query..]             Launch Gemini CLI  [default]

Positionals:
  query  Positional prompt. Defaults to one-shot; use -i/--prompt-interactive for interactive.

Options:
  -m, --model                  Model  [string]
  -p, --prompt                 Prompt. Appended to input on stdin (if any).  [string]
  -i, --prompt-interactive     Execute the provided prompt and continue in interactive mode  [string]
  -y, --yolo                   Automatically accept all actions  [boolean] [default: false]
      --approval-mode          Set the approval mode  [string] [choices: \"default\", \"auto_edit\", \"yolo\", \"plan\"]
      --allowed-tools          Tools that are allowed to run without confirmation  [array]
      --include-directories    Additional directories to include in the workspace (comma-separated or multiple --include-directories)  [array]
      --skip-trust             Trust the current workspace for this session  [boolean]
      --policy                 Additional policy files or directories to load (comma-separated or multiple --policy)  [array]
  -r, --resume                 Resume a previous session. Use \"latest\" for most recent or index number (e.g. --resume 5)  [string]
  -o, --output-format          The format of the CLI output.  [string] [choices: \"text\", \"json\", \"stream-json\"]
  -v, --version                Show version number  [boolean]
  -h, --help                   Show help  [boolean]
";

fn kebab(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        match c {
            '-' => upper = true,
            c if upper => {
                out.push(c.to_ascii_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

fn yargs_error(message: String) -> Refusal {
    Refusal {
        message: format!("{message}\n\n{HELP}"),
        code: 1,
    }
}

fn split_commas(values: Vec<String>) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

pub fn parse(args: &[String]) -> Result<Parsed, Refusal> {
    let mut out = GeminiArgs::default();
    let (mut positional, mut unknown) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            positional.extend(args[i..].iter().cloned());
            break;
        }
        if !arg.starts_with('-') || arg == "-" || arg.parse::<f64>().is_ok() {
            positional.push(arg.clone());
            continue;
        }
        let (raw, inline) = match arg.trim_start_matches('-').split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.trim_start_matches('-').to_string(), None),
        };
        let name = match (arg.starts_with("--"), raw.as_str()) {
            (false, "p") => "prompt".to_string(),
            (false, "i") => "prompt-interactive".to_string(),
            (false, "o") => "output-format".to_string(),
            (false, "m") => "model".to_string(),
            (false, "y") => "yolo".to_string(),
            (false, "v") => "version".to_string(),
            (false, "h") => "help".to_string(),
            (false, "r") => "resume".to_string(),
            (false, _) => String::new(),
            (true, long) => kebab(long),
        };
        // A string option's value: glued, else the next word unless it looks like an option.
        let mut string = || -> String {
            if let Some(v) = &inline {
                return v.clone();
            }
            match args
                .get(i)
                .filter(|a| !a.starts_with('-') || a.as_str() == "-")
            {
                Some(v) => {
                    i += 1;
                    v.clone()
                }
                None => String::new(),
            }
        };
        match name.as_str() {
            "help" => return Ok(Parsed::Help),
            "version" => return Ok(Parsed::Version),
            "yolo" => out.yolo = inline.as_deref() != Some("false"),
            "skip-trust" => out.skip_trust = inline.as_deref() != Some("false"),
            "prompt" => out.prompt = Some(string()),
            "prompt-interactive" => out.prompt_interactive = Some(string()),
            "output-format" => out.output_format = Some(string()),
            "model" => out.model = Some(string()),
            "resume" => out.resume = Some(string()),
            "approval-mode" => out.approval_mode = Some(string()),
            "allowed-tools" | "include-directories" | "policy" => {
                let mut values: Vec<String> = inline.iter().cloned().collect();
                while let Some(v) = args.get(i).filter(|a| !a.starts_with('-')) {
                    values.push(v.clone());
                    i += 1;
                }
                let values = split_commas(values);
                if name == "allowed-tools" {
                    out.allowed_tools.extend(values);
                } else if name == "policy" {
                    out.policies.extend(values);
                } else {
                    out.include_directories.extend(values);
                }
            }
            _ => {
                unknown.push(raw.clone());
                if raw.contains('-') {
                    unknown.push(camel(&raw));
                }
            }
        }
    }
    match unknown.len() {
        0 => {}
        1 => return Err(yargs_error(format!("Unknown argument: {}", unknown[0]))),
        _ => {
            return Err(yargs_error(format!(
                "Unknown arguments: {}",
                unknown.join(", ")
            )));
        }
    }
    let choices: [(&str, &Option<String>, &[&str]); 2] = [
        (
            "output-format",
            &out.output_format,
            &["text", "json", "stream-json"],
        ),
        (
            "approval-mode",
            &out.approval_mode,
            &["default", "auto_edit", "yolo", "plan"],
        ),
    ];
    for (arg, given, allowed) in choices {
        if let Some(given) = given.as_deref().filter(|g| !allowed.contains(g)) {
            let list: Vec<String> = allowed.iter().map(|c| format!("\"{c}\"")).collect();
            return Err(yargs_error(format!(
                "Invalid values:\n  Argument: {arg}, Given: \"{given}\", Choices: {}",
                list.join(", ")
            )));
        }
    }
    out.query = (!positional.is_empty()).then(|| positional.join(" "));
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if set(&out.prompt) && set(&out.query) {
        return Err(yargs_error(
            "Cannot use both a positional prompt and the --prompt (-p) flag together".into(),
        ));
    }
    if set(&out.prompt) && set(&out.prompt_interactive) {
        return Err(yargs_error(
            "Cannot use both --prompt (-p) and --prompt-interactive (-i) together".into(),
        ));
    }
    if out.yolo && set(&out.approval_mode) {
        return Err(yargs_error(
            "Cannot use both --yolo (-y) and --approval-mode together. Use --approval-mode=yolo instead."
                .into(),
        ));
    }
    Ok(Parsed::Run(Box::new(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn run(args: &[&str]) -> GeminiArgs {
        match parse(&strs(args)) {
            Ok(Parsed::Run(a)) => *a,
            other => panic!("{other:?}"),
        }
    }

    fn refused(args: &[&str]) -> String {
        match parse(&strs(args)) {
            Err(r) => {
                assert_eq!(r.code, 1);
                r.message.lines().next().unwrap_or_default().to_string()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn headless_stream_json() {
        let a = run(&[
            "-p",
            "do it",
            "-o",
            "stream-json",
            "--approval-mode=auto_edit",
            "-m",
            "gemini-x",
            "--include-directories",
            "/a,/b",
            "/c",
            "--skip-trust",
        ]);
        assert_eq!(a.prompt.as_deref(), Some("do it"));
        assert_eq!(a.output_format.as_deref(), Some("stream-json"));
        assert_eq!(a.approval_mode.as_deref(), Some("auto_edit"));
        assert_eq!(a.model.as_deref(), Some("gemini-x"));
        assert_eq!(a.include_directories, vec!["/a", "/b", "/c"]);
        assert!(a.skip_trust && !a.yolo);
    }

    #[test]
    fn array_options_are_greedy_and_words_join() {
        let a = run(&[
            "--allowed-tools",
            "run_shell_command(vnx report)",
            "fix",
            "it",
            "-y",
        ]);
        assert_eq!(
            a.allowed_tools,
            vec!["run_shell_command(vnx report)", "fix", "it"]
        );
        assert_eq!(a.query, None);
        let a = run(&["fix", "the", "--yolo", "bug"]);
        assert_eq!(a.query.as_deref(), Some("fix the bug"));
        assert!(a.yolo);
    }

    #[test]
    fn camel_case_spellings_are_the_same_option() {
        let a = run(&["--approvalMode", "yolo", "--allowedTools=run_shell_command"]);
        assert_eq!(a.approval_mode.as_deref(), Some("yolo"));
        assert_eq!(a.allowed_tools, vec!["run_shell_command"]);
    }

    #[test]
    fn refusals_read_like_yargs() {
        assert_eq!(refused(&["--x"]), "Unknown argument: x");
        assert_eq!(
            refused(&["--no-such"]),
            "Unknown arguments: no-such, noSuch"
        );
        assert_eq!(refused(&["-o", "yaml"]), "Invalid values:");
        assert!(refused(&["-p", "a", "b"]).starts_with("Cannot use both a positional prompt"));
        assert!(refused(&["-p", "a", "-i", "b"]).starts_with("Cannot use both --prompt (-p)"));
        assert!(refused(&["-y", "--approval-mode", "yolo"]).starts_with("Cannot use both --yolo"));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(&strs(&["-h"])).unwrap(), Parsed::Help);
        assert_eq!(parse(&strs(&["--version"])).unwrap(), Parsed::Version);
    }
}
