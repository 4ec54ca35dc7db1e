//! Tests of loading and validating `.vnx/config.yaml` (`gates` and `template` test their own).

use super::*;
use crate::provider::kinds::{Lane, OutputFormat, PromptTransport, ProviderCompletion};
use crate::yaml::YamlError;

const FULL: &str = "\
version: 1
project_id: my-project
providers:
  kimi:
    binary: kimi
    headless:
      argv: [\"--print\", \"{prompt}\"]
      prompt: argument
      output: text
      completion: exit
    interactive:
      argv: [\"--prompt-file={prompt_file}\", \"--json={{}}\"]
      prompt: file
      completion: report
    model_args: [\"--model\", \"{model}\"]
    resume_args: [\"--resume\", \"{session}\"]
    permissions:
      ask: []
      edits: [\"--auto-edit\"]
      full: [\"--yolo\", \"--config={{\\\"sandbox\\\": false}}\"]
    default_lane: interactive
  my_tool-2:
    binary: /opt/tool/bin/tool
    headless:
      argv: []
      prompt: stdin
      output: @STREAM@
concurrency:
  demo: 4
  kimi: 1
roles:
  implementer:
    skills: [implementer, 2nd-pass]
    gates: [tests, review]
  reviewer:
    writes: false
    gates: []
gates:
  tests: {kind: command, argv: [cargo, test], timeout: 900, idle_timeout: 120}
  review:
    kind: review
    provider: @REVIEWER@
    model: gpt-5.5
    extra_instructions: Mind the error paths.
notify: [notify-send, \"vnx {id}\", \"{state}\"]
stall_after_seconds: 120
background_wait_seconds: 90
limit_wait_seconds: 45
worktree:
  setup:
    - [npm, ci]
  teardown:
    - [docker, compose, down]
  ports: 41000-41999
  pool:
    size: 4
    keep: [target, ./web/node_modules/, target]
";

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn parse_ok(text: &str) -> Config {
    parse(text, Path::new(".vnx/config.yaml")).unwrap()
}

/// (line, column, message) of an invalid config; also used by `gates`' tests.
pub(super) fn parse_err(text: &str) -> (usize, usize, String) {
    match parse(text, Path::new(".vnx/config.yaml")) {
        Err(
            ConfigError::Invalid(crate::yaml::Spot {
                line,
                column,
                message,
                ..
            })
            | ConfigError::Yaml(YamlError::Invalid(crate::yaml::Spot {
                line,
                column,
                message,
                ..
            })),
        ) => (line, column, message),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn provider(body: &str) -> String {
    format!("version: 1\nproviders:\n  kimi:\n{body}")
}

#[test]
fn full_example() {
    // A built-in CLI's stream and a built-in reviewer that takes the model, whichever they are.
    let stream = crate::provider::cli::all_streams()
        .next()
        .unwrap()
        .format
        .clone();
    let reviewer = crate::provider::cli::CLIS
        .iter()
        .find(|c| c.can_review() && c.check_model(Some("gpt-5.5")).is_ok())
        .unwrap()
        .provider()
        .name();
    let full = FULL
        .replace("@STREAM@", stream.name())
        .replace("@REVIEWER@", reviewer);
    let config = parse_ok(&full);
    let kimi = DeclaredProvider {
        binary: "kimi".into(),
        headless: Some(DeclaredLane {
            argv: strings(&["--print", "{prompt}"]),
            prompt: PromptTransport::Argument,
            output: OutputFormat::TEXT,
            completion: ProviderCompletion::Exit,
            tui: Default::default(),
        }),
        interactive: Some(DeclaredLane {
            argv: strings(&["--prompt-file={prompt_file}", "--json={{}}"]),
            prompt: PromptTransport::File,
            output: OutputFormat::TEXT,
            completion: ProviderCompletion::Report,
            tui: Default::default(),
        }),
        model_args: strings(&["--model", "{model}"]),
        resume_args: strings(&["--resume", "{session}"]),
        permissions: DeclaredPermissions {
            ask: Some(vec![]),
            edits: Some(strings(&["--auto-edit"])),
            full: Some(strings(&["--yolo", "--config={\"sandbox\": false}"])),
        },
        default_lane: Lane::Interactive,
    };
    let tool = DeclaredProvider {
        binary: "/opt/tool/bin/tool".into(),
        headless: Some(DeclaredLane {
            argv: vec![],
            prompt: PromptTransport::Stdin,
            output: stream.clone(),
            completion: ProviderCompletion::Exit,
            tui: Default::default(),
        }),
        interactive: None,
        model_args: vec![],
        resume_args: vec![],
        permissions: DeclaredPermissions::default(),
        default_lane: Lane::Headless,
    };
    let expected = Config {
        project_id: Some("my-project".into()),
        providers: [("kimi".to_owned(), kimi), ("my_tool-2".to_owned(), tool)].into(),
        concurrency: [("demo".to_owned(), 4), ("kimi".to_owned(), 1)].into(),
        roles: [
            (
                "implementer".to_owned(),
                RoleConfig {
                    skills: strings(&["implementer", "2nd-pass"]),
                    gates: Some(strings(&["tests", "review"])),
                    writes: None,
                    allow: None,
                    open_pr: false,
                    plan: false,
                    ..Default::default()
                },
            ),
            (
                "reviewer".to_owned(),
                RoleConfig {
                    skills: vec![],
                    gates: Some(vec![]),
                    writes: Some(false),
                    allow: None,
                    open_pr: false,
                    plan: false,
                    ..Default::default()
                },
            ),
        ]
        .into(),
        gates: [
            (
                "tests".to_owned(),
                GateDef {
                    kind: GateKind::Command {
                        argv: strings(&["cargo", "test"]),
                    },
                    timeout: 900,
                    idle_timeout: Some(120),
                    required: true,
                },
            ),
            (
                "review".to_owned(),
                GateDef {
                    kind: GateKind::Review {
                        provider: reviewer.into(),
                        model: Some("gpt-5.5".into()),
                        extra_instructions: Some("Mind the error paths.".into()),
                    },
                    timeout: gates::DEFAULT_TIMEOUT,
                    idle_timeout: None,
                    required: true,
                },
            ),
        ]
        .into(),
        notify: strings(&["notify-send", "vnx {id}", "{state}"]),
        stall_after_seconds: Some(120),
        background_wait_seconds: Some(90),
        limit_wait_seconds: Some(45),
        worktree: WorktreeConfig {
            setup: vec![strings(&["npm", "ci"])],
            teardown: vec![strings(&["docker", "compose", "down"])],
            ports: Some((41000, 41999)),
            copy_ignored: Vec::new(),
            pool: PoolConfig {
                size: 4,
                keep: strings(&["target", "web/node_modules"]),
            },
        },
        // The sections the file leaves out (defaults, budget, prices, queue, sandbox, hosts,
        // forge, serve, mcp) are as a config without them has them.
        ..Default::default()
    };
    assert_eq!(config, expected);
    let kimi = &config.providers["kimi"];
    assert_eq!(kimi.lane(Lane::Interactive), kimi.interactive.as_ref());
    assert_eq!(config.providers["my_tool-2"].lane(Lane::Interactive), None);
}

#[test]
fn defaults_fill_in() {
    let config = parse_ok(&provider(
        "    binary: k\n    interactive:\n      argv: [\"{prompt}\"]\n",
    ));
    let kimi = &config.providers["kimi"];
    assert_eq!(kimi.default_lane, Lane::Interactive);
    let lane = kimi.interactive.as_ref().unwrap();
    assert_eq!(lane.prompt, PromptTransport::Argument);
    assert_eq!(lane.output, OutputFormat::TEXT);
    assert_eq!(lane.completion, ProviderCompletion::Report);
    assert_eq!(config.project_id, None);
}

#[test]
fn minimal_file_as_init_writes_it() {
    let text = "# vnx project configuration: committed, written by `vnx init`.\n\
                    version: 1\nproject_id: demo-project\n";
    let config = parse_ok(text);
    assert_eq!(
        config,
        Config {
            project_id: Some("demo-project".into()),
            ..Config::default()
        }
    );
    assert_eq!(parse_ok(""), Config::default());
    assert_eq!(
        parse_ok("project_id: ab\nproviders:\nroles: {}\n")
            .project_id
            .unwrap(),
        "ab"
    );
}

#[test]
fn load_reads_files_and_tolerates_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    assert_eq!(load(&path).unwrap(), Config::default());
    std::fs::write(&path, "version: 1\nproject_id: demo-project\n").unwrap();
    assert_eq!(
        load(&path).unwrap().project_id.as_deref(),
        Some("demo-project")
    );
    std::fs::write(&path, b"version: 1\nproject_id: d\xffx\n").unwrap();
    let err = load(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}:2:14: the file is not valid UTF-8", path.display())
    );
    assert!(err.hint().unwrap().contains("Declaring providers"));
    let err = load(dir.path()).unwrap_err();
    assert!(
        matches!(err, ConfigError::Yaml(YamlError::Io { .. })),
        "{err:?}"
    );
    assert_eq!(err.hint(), None);
}

#[test]
fn too_large_and_bombs() {
    let big = format!("version: 1\n#{}\n", "x".repeat(crate::yaml::MAX_BYTES));
    let (line, column, message) = parse_err(&big);
    assert_eq!((line, column), (0, 0));
    assert!(message.contains("1 MiB"), "{message}");
    let mut bomb = String::from("gates:\n  a: &a [1,1,1,1,1,1,1,1,1,1]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h"])
    {
        bomb.push_str(&format!(
            "  {name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 10].join(",")
        ));
    }
    // The config's schema has no place for nested lists, so the bomb is refused at its
    // first line; a reader that accepts any value is stopped by the budget (`yaml`'s tests).
    let (line, _, message) = parse_err(&bomb);
    assert!(line > 0, "{message}");
    let deep = format!("gates: {}{}\n", "[".repeat(100), "]".repeat(100));
    assert_eq!(parse_err(&deep).0, 1);
}

#[test]
fn yaml_and_type_errors_carry_their_location() {
    let (l, c, m) = parse_err("# comment\nversion: 1\nprojectid: x\n");
    assert_eq!((l, c), (3, 1));
    assert_eq!(
        m,
        "unknown field `projectid`, expected one of version, project_id, providers, concurrency, roles, gates, notify, stall_after_seconds, background_wait_seconds, limit_wait_seconds, worktree, queue, sandbox, hosts, forge, defaults, serve, mcp, budget, prices, schedules, admission"
    );
    let (l, c, m) = parse_err(&provider("    binary: k\n    bogus: 1\n"));
    assert_eq!((l, c), (5, 5));
    assert!(m.contains("unknown field `bogus`"), "{m}");
    let (l, c, m) = parse_err(&provider(
        "    binary: k\n    headless:\n      argv: []\n      promt: stdin\n",
    ));
    assert_eq!((l, c), (7, 7));
    assert!(m.contains("unknown field `promt`"), "{m}");
    let (l, _, m) = parse_err(&provider(
        "    binary: k\n    headless: {argv: [\"{prompt}\"]}\n    permissions:\n      yolo: []\n",
    ));
    assert_eq!(l, 7);
    assert!(
        m.contains("unknown field `yolo`, expected one of ask, edits, full"),
        "{m}"
    );
    let (l, _, m) = parse_err("roles:\n  a:\n    skill: [x]\n");
    assert_eq!(l, 3);
    assert!(m.contains("unknown field `skill`"), "{m}");
    let (l, c, m) = parse_err(&provider("    binary: [k]\n"));
    assert_eq!((l, c, m.as_str()), (4, 13, "expected a single value here"));
    let (l, c, m) = parse_err(&provider(
        "    binary: k\n    headless: {argv: \"{prompt}\"}\n",
    ));
    assert_eq!((l, c), (5, 22));
    assert_eq!(m, "expected a list (`[a, b]` or `- a` lines) here");
    let (l, c, m) = parse_err("42\n");
    assert_eq!(
        (l, c, m.as_str()),
        (1, 1, "expected a mapping (`key: value` entries) here")
    );
    let (l, c, m) = parse_err(&provider(
        "    binary: k\n    headless:\n      argv: []\n      prompt: pipe\n",
    ));
    assert_eq!((l, c), (7, 15));
    assert!(
        m.contains("unknown variant `pipe`, expected one of argument, stdin, file"),
        "{m}"
    );
    // An output format is a name one of the CLIs' parsers answers to, or text.
    let (l, c, m) = parse_err(&provider(
        "    binary: k\n    headless:\n      argv: [\"{prompt}\"]\n      output: xml-events\n",
    ));
    assert_eq!((l, c), (7, 15));
    assert!(
        m.contains("unknown output format `xml-events`, expected one of text, "),
        "{m}"
    );
    let (l, c, m) = parse_err("version: 1\nversion: 1\n");
    assert_eq!((l, c), (2, 1));
    assert!(m.contains("duplicate"), "{m}");
    let (l, _, _) = parse_err("version: 1\nproviders: [\n");
    assert!(l >= 2);
    let (l, c, m) = parse_err(&provider("    headless: {argv: [\"{prompt}\"]}\n"));
    assert_eq!((l, c), (4, 5));
    assert!(m.contains("missing field `binary`"), "{m}");
    let (l, _, m) = parse_err("version: 1\n---\nversion: 1\n");
    assert_eq!(l, 3, "{m}");
}

#[test]
fn version_and_project_id() {
    let (l, c, m) = parse_err("# c\nversion: 2\n");
    assert_eq!(
        (l, c, m.as_str()),
        (2, 10, "unsupported version `2`; this vnx reads version 1")
    );
    let (l, c, m) = parse_err("version: 1\nproject_id: My_Project\n");
    assert_eq!((l, c), (2, 13));
    assert!(
        m.starts_with("`My_Project` is not a valid project_id"),
        "{m}"
    );
    assert_eq!(parse_err("project_id: a\n").0, 1);
}

#[test]
fn provider_names() {
    let (l, c, m) = parse_err("version: 1\nproviders:\n  demo:\n    binary: c\n");
    assert_eq!(
        (l, c, m.as_str()),
        (3, 3, "`demo` is a built-in provider; declare a new name")
    );
    let (l, c, m) = parse_err("providers:\n  Kimi:\n    binary: c\n");
    assert_eq!((l, c), (2, 3));
    assert!(
        m.starts_with("`Kimi` is not a valid provider name: use 1-32 lowercase"),
        "{m}"
    );
    assert_eq!(
        parse_err(&format!(
            "providers:\n  {}: {{binary: c}}\n",
            "k".repeat(33)
        ))
        .0,
        2
    );
}

#[test]
fn binary() {
    let lane = "    headless: {argv: [\"{prompt}\"]}\n";
    for (binary, problem) in [
        ("\"\"", "is empty"),
        ("\"a\\0b\"", "contains a NUL byte"),
        ("bin/kimi", "is a relative path"),
    ] {
        let (l, c, m) = parse_err(&provider(&format!("    binary: {binary}\n{lane}")));
        assert_eq!((l, c), (4, 13), "{m}");
        assert_eq!(
            m,
            format!(
                "provider `kimi`: `binary` {problem}; give a program name looked up on PATH or an absolute path"
            )
        );
    }
}

#[test]
fn lanes_and_default_lane() {
    let (l, c, m) = parse_err(&provider("    binary: k\n    model_args: []\n"));
    assert_eq!((l, c), (3, 3));
    assert_eq!(
        m,
        "provider `kimi` declares no lane; add `headless:`, `interactive:` or both"
    );
    let (l, c, m) = parse_err(&provider(
        "    binary: k\n    headless: {argv: [\"{prompt}\"]}\n    default_lane: interactive\n",
    ));
    assert_eq!((l, c), (6, 19));
    assert_eq!(
        m,
        "provider `kimi`: `default_lane` is interactive, but no `interactive:` lane is declared"
    );
}

#[test]
fn argv_placeholders() {
    let lane = |body: &str| provider(&format!("    binary: k\n    headless:\n{body}"));
    let (l, c, m) = parse_err(&lane("      argv: [\"--m\", \"{model}\"]\n"));
    assert_eq!((l, c), (6, 21));
    assert_eq!(
        m,
        "provider `kimi`, headless lane: argv: unknown placeholder `{model}` in `{model}`; allowed here: {prompt}, {prompt_file} (write `{{` and `}}` for literal braces)"
    );
    let (l, c, m) = parse_err(&lane("      argv: [\"{prompt}\", \"x}\"]\n"));
    assert_eq!((l, c), (6, 26));
    assert!(m.contains("`x}` contains a lone `}`"), "{m}");
    let (_, _, m) = parse_err(&lane("      argv: [\"{prompt\"]\n"));
    assert!(m.contains("contains an unclosed `{`"), "{m}");
    let (l, c, m) = parse_err(&lane("      argv:\n        - --print\n"));
    assert_eq!((l, c), (7, 9));
    assert_eq!(
        m,
        "provider `kimi`, headless lane: `prompt: argument` needs `{prompt}` in argv, where the prompt goes"
    );
    let (l, c, m) = parse_err(&lane("      argv: [\"{{prompt}}\"]\n"));
    assert_eq!((l, c), (6, 13), "{m}");
    let (l, c, m) = parse_err(&lane("      argv: [\"{prompt}\", \"--again={prompt}\"]\n"));
    assert_eq!((l, c), (6, 26));
    assert_eq!(
        m,
        "provider `kimi`, headless lane: `{prompt}` must appear exactly once in argv"
    );
    let (l, c, m) = parse_err(&lane("      argv: [\"{prompt}\", \"{prompt_file}\"]\n"));
    assert_eq!((l, c), (6, 26));
    assert_eq!(
        m,
        "provider `kimi`, headless lane: `prompt: argument` cannot use `{prompt_file}`; it takes the prompt through `{prompt}`"
    );
    let (_, _, m) = parse_err(&lane("      argv: [\"{prompt}\"]\n      prompt: file\n"));
    assert_eq!(
        m,
        "provider `kimi`, headless lane: `prompt: file` cannot use `{prompt}`; it takes the prompt through `{prompt_file}`"
    );
    let (l, _, m) = parse_err(&lane("      prompt: file\n      argv: []\n"));
    assert_eq!(l, 7);
    assert!(
        m.contains("`prompt: file` needs `{prompt_file}` in argv"),
        "{m}"
    );
    let (_, _, m) = parse_err(&lane(
        "      argv: [\"-p={prompt}\"]\n      prompt: stdin\n",
    ));
    assert_eq!(
        m,
        "provider `kimi`, headless lane: `prompt: stdin` cannot use `{prompt}`; the prompt arrives on stdin"
    );
    let (_, _, m) = parse_err(&lane("      argv: [\"a\\0{prompt}\"]\n"));
    assert!(m.contains("contains a NUL byte"), "{m}");
}

#[test]
fn completion_by_output_needs_a_parsed_output() {
    let text = provider(
        "    binary: k\n    headless:\n      argv: [\"{prompt}\"]\n      completion: output\n",
    );
    let (l, _, m) = parse_err(&text);
    assert_eq!(l, 6);
    assert_eq!(
        m,
        "provider `kimi`, headless lane: `completion: output` is decided from an output vnx parses, and this lane's output is plain text; use exit or report"
    );
    // Any format a CLI's module parses.
    let parsed = crate::provider::cli::all_streams()
        .next()
        .unwrap()
        .format
        .clone();
    let text = provider(&format!(
        "    binary: k\n    headless:\n      argv: [\"{{prompt}}\"]\n      output: {}\n      completion: output\n",
        parsed.name()
    ));
    let config = parse_ok(&text);
    let lane = config.providers["kimi"].headless.as_ref().unwrap();
    assert_eq!(lane.completion, ProviderCompletion::Output);
}

#[test]
fn interactive_lane_refuses_stdin() {
    let text = provider("    binary: k\n    interactive:\n      argv: []\n      prompt: stdin\n");
    let (l, c, m) = parse_err(&text);
    assert_eq!((l, c), (7, 15));
    assert_eq!(
        m,
        "provider `kimi`, interactive lane: `prompt: stdin` is not allowed, stdin is the terminal; use argument or file"
    );
    let text = provider(
        "    binary: k\n    interactive:\n      argv: [\"{prompt}\"]\n      output: some-events\n",
    );
    assert_eq!(parse_err(&text).0, 7);
}

#[test]
fn model_args() {
    let base = "    binary: k\n    headless: {argv: [\"{prompt}\"]}\n";
    let (l, c, m) = parse_err(&provider(&format!("{base}    model_args: [\"--model\"]\n")));
    assert_eq!((l, c), (6, 17));
    assert_eq!(
        m,
        "provider `kimi`: `model_args` must contain `{model}`, where the model name goes"
    );
    let (l, c, m) = parse_err(&provider(&format!(
        "{base}    model_args: [\"-m\", \"{{prompt}}\"]\n"
    )));
    assert_eq!((l, c), (6, 24));
    assert!(
        m.contains("unknown placeholder `{prompt}`") && m.contains("allowed here: {model}"),
        "{m}"
    );
    let ok = parse_ok(&provider(&format!(
        "{base}    model_args: [\"--model={{model}}\"]\n"
    )));
    assert_eq!(ok.providers["kimi"].model_args, ["--model={model}"]);
    let ok = parse_ok(&provider(&format!(
        "{base}    model_args: [\"-m\", \"{{{{model}}}}={{model}}\"]\n"
    )));
    assert_eq!(ok.providers["kimi"].model_argv("m1"), ["-m", "{model}=m1"]);
}

#[test]
fn resume_args() {
    let base = "    binary: k\n    headless: {argv: [\"{prompt}\"]}\n";
    let (_, _, m) = parse_err(&provider(&format!(
        "{base}    resume_args: [\"--resume\"]\n"
    )));
    assert_eq!(
        m,
        "provider `kimi`: `resume_args` must contain `{session}`, where the session id goes"
    );
    let (_, _, m) = parse_err(&provider(&format!(
        "{base}    resume_args: [\"-r\", \"{{model}}\"]\n"
    )));
    assert!(m.contains("allowed here: {session}"), "{m}");
    let ok = parse_ok(&provider(&format!(
        "{base}    resume_args: [\"--resume={{session}}\"]\n"
    )));
    assert_eq!(ok.providers["kimi"].resume_argv("s-1"), ["--resume=s-1"]);
}

#[test]
fn permission_flags() {
    let base = "    binary: k\n    headless: {argv: [\"{prompt}\"]}\n    permissions:\n";
    let (l, c, m) = parse_err(&provider(&format!(
        "{base}      full: [\"--yolo\", \"\"]\n"
    )));
    assert_eq!((l, c), (7, 24));
    assert_eq!(
        m,
        "provider `kimi`: the `full` permission flags contain an empty flag"
    );
    let (l, _, m) = parse_err(&provider(&format!(
        "{base}      edits:\n        - \"--dir={{prompt_file}}\"\n"
    )));
    assert_eq!(l, 8);
    assert!(
        m.contains("unknown placeholder `{prompt_file}`")
            && m.contains("no placeholders are allowed here"),
        "{m}"
    );
    let (_, _, m) = parse_err(&provider(&format!("{base}      ask: [\"a\\0\"]\n")));
    assert!(m.contains("NUL"), "{m}");
}

#[test]
fn concurrency() {
    let (l, c, m) = parse_err("concurrency:\n  demo: 2\n  kimi: 1\n");
    assert_eq!((l, c), (3, 3));
    assert!(
        m.starts_with("concurrency names `kimi`, which is neither a built-in provider"),
        "{m}"
    );
    for (value, column) in [("0", 9), ("257", 9), ("-1", 9)] {
        let (l, c, m) = parse_err(&format!("concurrency:\n  demo: {value}\n"));
        assert_eq!((l, c), (2, column));
        assert_eq!(
            m,
            format!("concurrency for `demo` must be between 1 and 256, not {value}")
        );
    }
    assert_eq!(parse_err("concurrency:\n  demo: many\n").0, 2);
}

#[test]
fn sandbox_network_paths_and_providers() {
    use crate::sandbox::Network;
    let c = parse_ok(
        "sandbox:\n  enabled: true\n  network: on\n  loopback: [11434, 11434]\n  \
         read_only: [~/.m2, /opt/sdk]\n  writable: [~/.cache/pip]\n  providers:\n    \
         demo: {network: off}\n",
    );
    assert!(c.sandbox.enabled);
    assert_eq!(c.sandbox.network("other"), Network::On);
    assert_eq!(c.sandbox.network("demo"), Network::Off);
    assert_eq!(c.sandbox.loopback, [11434]);
    assert_eq!(c.sandbox.read_only, strings(&["~/.m2", "/opt/sdk"]));
    assert_eq!(c.sandbox.writable, strings(&["~/.cache/pip"]));
    assert!(!Config::default().sandbox.enabled);
    assert_eq!(Config::default().sandbox.network("demo"), Network::On);
    assert_eq!(Config::default().sandbox.network("other"), Network::On);
    let (l, _, m) = parse_err("sandbox:\n  network: sometimes\n");
    assert_eq!(l, 2);
    assert_eq!(m, "sandbox.network must be on or off, not `sometimes`");
    let (l, _, m) = parse_err("sandbox:\n  read_only: [relative/dir]\n");
    assert_eq!(l, 2);
    assert!(
        m.starts_with("sandbox.read_only: `relative/dir` is not an absolute"),
        "{m}"
    );
    let (_, _, m) = parse_err("sandbox:\n  writable: [~/../etc]\n");
    assert!(m.starts_with("sandbox.writable: `~/../etc`"), "{m}");
    let (_, _, m) = parse_err("sandbox:\n  loopback: [70000]\n");
    assert_eq!(m, "sandbox.loopback: 70000 is not a port (1 to 65535)");
    let (_, _, m) = parse_err("sandbox:\n  providers:\n    kimi: {network: off}\n");
    assert!(m.starts_with("sandbox.providers names `kimi`"), "{m}");
    let relayed = parse_ok("sandbox:\n  credentials: relay\n").sandbox;
    assert!(relayed.relay_credentials && !c.sandbox.relay_credentials);
    let (_, _, m) = parse_err("sandbox:\n  credentials: always\n");
    assert_eq!(m, "sandbox.credentials must be relay or pass, not `always`");
    let (_, _, m) = parse_err("sandbox:\n  mode: strict\n");
    assert!(m.contains("mode"), "{m}");
}

#[test]
fn queue_policy_and_lengths() {
    let c = parse_ok(
        "concurrency:\n  demo: 1\nqueue:\n  max_length: 8\n  providers:\n    demo: {policy: reject}\n",
    );
    assert_eq!(c.queue.rule("other").policy, QueuePolicy::Queue);
    assert_eq!(c.queue.rule("other").max_length, Some(8));
    assert_eq!(
        c.queue.rule("demo"),
        QueueRule {
            policy: QueuePolicy::Reject,
            max_length: Some(8)
        }
    );
    assert_eq!(Config::default().queue.rule("demo"), QueueRule::default());
    let (l, c, m) = parse_err("queue:\n  max_length: 0\n");
    assert_eq!((l, c), (2, 15));
    assert_eq!(m, "queue.max_length must be between 1 and 10000, not 0");
    let (l, _, m) = parse_err("queue:\n  providers:\n    kimi: {policy: queue}\n");
    assert_eq!(l, 3);
    assert!(m.starts_with("queue.providers names `kimi`"), "{m}");
    let (l, _, m) = parse_err("queue:\n  policy: wait\n");
    assert_eq!(l, 2);
    assert!(m.contains("queue") && m.contains("reject"), "{m}");
    let (_, _, m) = parse_err("queue:\n  providers:\n    demo: {max_length: -3}\n");
    assert_eq!(
        m,
        "queue.providers.demo.max_length must be between 1 and 10000, not -3"
    );
}

#[test]
fn worktree_commands_are_argvs_and_ports_a_range() {
    for (text, wanted) in [
        (
            "worktree:\n  setup: [[]]\n",
            "worktree.setup: each command is an argv",
        ),
        (
            "worktree:\n  teardown: [[\"\"]]\n",
            "worktree.teardown: each command",
        ),
        (
            "worktree:\n  ports: 80-90\n",
            "worktree.ports must be a range",
        ),
        (
            "worktree:\n  ports: 42000-41000\n",
            "worktree.ports must be a range",
        ),
        (
            "worktree:\n  ports: 41000\n",
            "worktree.ports must be a range",
        ),
        ("worktree:\n  cache: [target]\n", "unknown field `cache`"),
        (
            "worktree:\n  pool:\n    size: -1\n",
            "worktree.pool.size must be 0 to 64",
        ),
        (
            "worktree:\n  pool:\n    keep: [/abs]\n",
            "is not a directory inside the worktree",
        ),
    ] {
        let e = parse(text, Path::new(".vnx/config.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(wanted), "{text}: {e}");
    }
}

#[test]
fn roles() {
    let (l, c, m) = parse_err("roles:\n  Implementer:\n    skills: []\n");
    assert_eq!((l, c), (2, 3));
    assert!(
        m.starts_with("`Implementer` is not a valid role name"),
        "{m}"
    );
    let (l, c, m) = parse_err("roles:\n  implementer:\n    skills: [ok, \"Not ok\"]\n");
    assert_eq!((l, c), (3, 18));
    assert!(
        m.starts_with("role `implementer`: `Not ok` is not a valid skill name"),
        "{m}"
    );
}

#[test]
fn notify_is_an_argv_the_stall_time_bounded_and_messages_escaped() {
    let (_, _, m) = parse_err("project_id: \"a\\u001b[31m\"\n");
    assert!(m.starts_with("`a\\u{1b}[31m` is not"), "{m}");
    for (text, wanted) in [
        ("notify: []\n", "notify must be an argv list"),
        ("notify: [\"\"]\n", "notify must be an argv list"),
        (
            "stall_after_seconds: 0\n",
            "stall_after_seconds must be between 1",
        ),
    ] {
        let e = parse(text, Path::new(".vnx/config.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(wanted), "{text}: {e}");
        assert!(e.contains(".vnx/config.yaml:1:"), "{text}: {e}");
    }
}
