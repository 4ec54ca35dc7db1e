//! The documentation is tested: the README's and the reference's console examples and every
//! example of every
//! `--help` (kept, with what they print, in docs/examples.md) run against the demo provider and
//! must print what the documents say; the command synopses of the README and the reference name
//! only commands and flags the program has.

use std::collections::BTreeMap;
use std::process::Command;

use crate::common::console::{self, Session};
use crate::common::{hermetic, repo_dir};

/// `vnx ARGS --help`, run hermetically.
fn help(path: &[String]) -> String {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vnx"));
    hermetic(&mut cmd, home.path());
    let out = cmd.args(path).arg("--help").output().unwrap();
    assert!(out.status.success(), "vnx {} --help failed", path.join(" "));
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommand names a `--help` of a command that takes one lists under `Commands:`, or
/// under the headings `vnx --help` groups them by, up to `Options:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    let takes_one = help
        .lines()
        .any(|l| l.starts_with("Usage:") && l.ends_with("<COMMAND>"));
    help.lines()
        .skip_while(|l| !l.starts_with("Usage:"))
        .skip(1)
        .take_while(|l| takes_one && *l != "Options:")
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .flat_map(|l| {
            // A command's aliases (`[alias: run]`) are commands too.
            let aliases = l
                .rsplit_once("[alias: ")
                .or_else(|| l.rsplit_once("[aliases: "))
                .map(|(_, a)| a.trim_end_matches(']').split(", ").collect::<Vec<_>>())
                .unwrap_or_default();
            l.split_whitespace().next().into_iter().chain(aliases)
        })
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every command of the program (`[]` is vnx itself) with its long help.
fn help_tree() -> BTreeMap<Vec<String>, String> {
    let mut tree = BTreeMap::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let text = help(&path);
        for sub in subcommands(&text) {
            let mut child = path.clone();
            child.push(sub);
            todo.push(child);
        }
        tree.insert(path, text);
    }
    tree
}

/// A command with its `\`-continued lines joined into one.
fn one_line(command: &str) -> String {
    let re = regex::Regex::new(r"\\\n\s*").unwrap();
    re.replace_all(command.trim(), " ").into_owned()
}

/// The `$ ` examples under a help's `Examples:`.
fn examples(help: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in help.lines().skip_while(|l| *l != "Examples:").skip(1) {
        if let Some(command) = current.as_mut().filter(|c| c.ends_with('\\')) {
            command.push('\n');
            command.push_str(line);
            continue;
        }
        found.extend(current.take());
        match line.strip_prefix("  $ ") {
            Some(command) => current = Some(command.to_owned()),
            None => break,
        }
    }
    found.extend(current);
    found.iter().map(|c| one_line(c)).collect()
}

#[test]
fn the_readme_examples_do_what_it_says() {
    let mut session = Session::new();
    console::check_file(&mut session, "README.md");
    // The guide goes on in the project the README's first dispatch made.
    console::check_file(&mut session, "docs/guide.md");
}

/// The README is the newcomer's page (what vnx is, the two commands, install, a first
/// dispatch, where to read on); the manual is `docs/guide.md`.
#[test]
fn the_readme_stays_a_newcomers_page() {
    let size = std::fs::metadata(repo_dir().join("README.md"))
        .unwrap()
        .len();
    assert!(
        size < 24 * 1024,
        "README.md is {size} bytes: move the manual's parts to docs/"
    );
}

#[test]
fn the_reference_examples_do_what_it_says() {
    let mut session = Session::new();
    console::check_file(&mut session, "docs/reference.md");
}

#[test]
fn every_help_example_runs_in_docs_examples() {
    let tree = help_tree();
    let documented: Vec<String> =
        console::steps(&std::fs::read_to_string(repo_dir().join("docs/examples.md")).unwrap())
            .iter()
            .map(|s| one_line(&s.command))
            .collect();
    let mut missing = Vec::new();
    let mut count = 0;
    for (path, text) in &tree {
        for example in examples(text) {
            count += 1;
            if !documented.contains(&example) {
                missing.push(format!("vnx {} --help: {example}", path.join(" ")));
            }
        }
    }
    assert!(count >= 20, "only {count} examples found in the help texts");
    assert!(
        missing.is_empty(),
        "help examples docs/examples.md does not run:\n{}",
        missing.join("\n")
    );
    let mut session = Session::new();
    console::check_file(&mut session, "docs/examples.md");
}

/// The `vnx …` command lines of the ```` ```sh ```` blocks of `markdown` (continuations joined,
/// comments and `;`-separated commands split off).
fn synopses(markdown: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_block = false;
    let mut pending: Option<(usize, String)> = None;
    let separators = regex::Regex::new(r"; | && | \|\| | \| ").unwrap();
    for (n, line) in markdown.lines().enumerate() {
        if line.starts_with("```") {
            in_block = line.trim_end() == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let code = match line.find(" #") {
            Some(i) => &line[..i],
            None => line,
        };
        let code = code.trim_end();
        if let Some((start, mut text)) = pending.take() {
            text.push(' ');
            text.push_str(code.trim_start().trim_end_matches('\\'));
            if code.ends_with('\\') {
                pending = Some((start, text));
            } else {
                found.push((start, text));
            }
            continue;
        }
        for part in separators.split(code) {
            let part = part.trim();
            let part = part.strip_prefix("id=$(").unwrap_or(part);
            if part.starts_with("vnx ") {
                if part.ends_with('\\') {
                    pending = Some((n + 1, part.trim_end_matches('\\').to_owned()));
                } else {
                    found.push((n + 1, part.to_owned()));
                }
            }
        }
    }
    found
}

/// What a synopsis line gets wrong: a subcommand or a flag the program does not have.
/// Alternatives (`pool status|fill|clear`) are each checked, with every flag that follows.
fn synopsis_errors(
    tree: &BTreeMap<Vec<String>, String>,
    file: &str,
    line: usize,
    text: &str,
) -> Vec<String> {
    // Quoted text is an argument's value, never a flag.
    let unquoted = regex::Regex::new(r#""[^"]*"|'[^']*'"#)
        .unwrap()
        .replace_all(text, "X");
    let mut words = unquoted.split_whitespace().skip(1).peekable();
    let mut paths: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(word) = words.peek() {
        let next: Vec<Vec<String>> = paths
            .iter()
            .flat_map(|p| {
                word.split('|').map(move |alt| {
                    let mut child = p.clone();
                    child.push(alt.to_owned());
                    child
                })
            })
            .collect();
        if next.iter().all(|c| tree.contains_key(c)) {
            paths = next;
            words.next();
        } else {
            break;
        }
    }
    let rest: Vec<&str> = words.collect();
    let mut errors = Vec::new();
    let flag = regex::Regex::new(r"(?:^|[\[|(])(--?[A-Za-z][A-Za-z0-9-]*)").unwrap();
    for path in &paths {
        let help = &tree[path];
        if path.is_empty() {
            errors.push(format!("{file}:{line}: `{text}` names no vnx subcommand"));
            continue;
        }
        if !subcommands(help).is_empty() {
            errors.push(format!(
                "{file}:{line}: `{text}` names no subcommand of vnx {}",
                path.join(" ")
            ));
            continue;
        }
        for word in &rest {
            for m in flag.captures_iter(word) {
                let flag = &m[1];
                let listed = regex::Regex::new(&format!(
                    r"(?m)(?:^|\s|,){}(?:[\s,=\[<]|$)",
                    regex::escape(flag)
                ))
                .unwrap();
                if !listed.is_match(help) {
                    errors.push(format!(
                        "{file}:{line}: vnx {} has no {flag} (in `{text}`)",
                        path.join(" ")
                    ));
                }
            }
        }
    }
    errors
}

#[test]
fn the_synopses_name_real_commands_and_flags() {
    let tree = help_tree();
    let mut errors = Vec::new();
    let mut count = 0;
    for file in ["README.md", "docs/guide.md", "docs/reference.md"] {
        let text = std::fs::read_to_string(repo_dir().join(file)).unwrap();
        for (line, synopsis) in synopses(&text) {
            count += 1;
            errors.extend(synopsis_errors(&tree, file, line, &synopsis));
        }
    }
    assert!(count >= 40, "only {count} synopses found");
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn a_synopsis_with_a_flag_the_program_lacks_is_caught() {
    let tree = help_tree();
    assert!(synopsis_errors(&tree, "t", 1, "vnx status --running").is_empty());
    assert!(synopsis_errors(&tree, "t", 1, "vnx receipts tail -n 5 -f").is_empty());
    let wrong = synopsis_errors(&tree, "t", 1, "vnx status [--runing]");
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(!synopsis_errors(&tree, "t", 1, "vnx stat").is_empty());
    assert!(!synopsis_errors(&tree, "t", 1, "vnx audit-chain --json").is_empty());
    assert!(synopsis_errors(&tree, "t", 1, "vnx audit-chain verify --json").is_empty());
}

#[test]
fn a_transcript_binds_ids_and_catches_a_wrong_output() {
    let mut session = Session::new();
    let steps = console::steps(
        "```console\n\
         $ printf 'dispatched %s\\n' D-0badc0de\n\
         dispatched D-1a2b3c4d5e6f\n\
         $ echo D-1a2b3c4d5e6f; echo \"in $HOME\"\n\
         D-1a2b3c4d5e6f\n\
         in ~\n\
         $ echo one; echo two; echo three\n\
         one\n\
         ...\n\
         $ exit_with() { return \"$1\"; }; exit_with 3\n\
         ? 3\n\
         $ echo 'almost [..] right'\n\
         almost wrong\n\
         $ echo ready; read -r answer; test \"$answer\" = yes\n\
         ? screen y e s Enter\n\
         ready\n\
         $ echo ready; read -r answer; test \"$answer\" = yes\n\
         ? screen n o Enter\n\
         ready\n\
         ```\n",
    );
    assert_eq!(steps.len(), 7);
    for step in &steps[..4] {
        session
            .run(step)
            .unwrap_or_else(|m| panic!("{}", m.message));
    }
    let wrong = session.run(&steps[4]);
    assert!(wrong.is_err_and(|m| m.output_only && m.message.contains("+almost [..] right")));
    // On a terminal: the keys are typed once the screen shows `ready`; the exit status counts.
    session
        .run(&steps[5])
        .unwrap_or_else(|m| panic!("{}", m.message));
    let refused = session.run(&steps[6]);
    assert!(refused.is_err_and(|m| m.message.contains("ended with status Some(\"1\")")));
}

/// A documented output holding a calendar date or a clock time passes only on the day it was
/// written (`vnx cost --by day` printed `2026-11-23` and failed from the next midnight on):
/// such a field is a `[..]` wildcard. Dates in the commands themselves (`--since 2026-11-01`)
/// are inputs and stay.
#[test]
fn no_documented_output_depends_on_the_date_or_the_clock() {
    let date_or_time = regex::Regex::new(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{2}:\d{2}:\d{2}\b").unwrap();
    let mut found = Vec::new();
    for file in [
        "README.md",
        "docs/guide.md",
        "docs/reference.md",
        "docs/examples.md",
    ] {
        let text = std::fs::read_to_string(repo_dir().join(file)).unwrap();
        for step in console::steps(&text) {
            for line in &step.expected {
                if date_or_time.is_match(line) {
                    found.push(format!(
                        "{file}: `{}` prints {line:?}",
                        one_line(&step.command)
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "documented outputs that change with the date or the clock (use [..]):\n{}",
        found.join("\n")
    );
}
