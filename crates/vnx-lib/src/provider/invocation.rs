//! How a worker CLI is started for one dispatch: its argv template (with `{prompt}` or
//! `{prompt_file}` where the prompt goes), extra environment, prompt transport, output format,
//! completion signal, hook and permission flags — for the built-in CLIs in both lanes (the
//! prompt's transport decided here, the rest by the CLI's module in `provider::cli`) and for
//! providers declared in `.vnx/config.yaml`.

use serde::{Deserialize, Serialize};

use super::cli;
pub use super::cli::argv::{
    Argv, MAX_PROMPT_ARG, PROMPT, PROMPT_FILE, Start, Wanted, literal, strs,
};
use super::declared::DeclaredProvider;
use super::hooks::HookKind;
use super::kinds::{Lane, OutputFormat, PromptTransport, ProviderCompletion};
use super::{Permission, Provider, ProviderError};

/// A worker start, fully decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    /// `argv[0]` is the program name (resolved to a path by the caller); later elements are
    /// templates where `{prompt}`/`{prompt_file}` are substituted and `{{`/`}}` are braces.
    pub argv: Vec<String>,
    /// Variables set for the worker only.
    pub env: Vec<(String, String)>,
    /// How the prompt reaches the worker.
    pub prompt_transport: PromptTransport,
    /// What the worker's stdout is.
    pub output: OutputFormat,
    /// What ends the dispatch successfully.
    pub completion: ProviderCompletion,
    /// The end-of-turn hook vnx installs for it.
    pub hooks: HookKind,
    /// The flags the permission posture added (also inside `argv`).
    pub permission_flags: Vec<String>,
    /// The command prefixes given to the CLI's own allow mechanism (in `argv`, or in a policy
    /// file its module writes); empty where the posture or the CLI's sandbox decides alone.
    #[serde(default)]
    pub allowed_commands: Vec<String>,
    /// What vnx reads of a declared TUI (its dialog); empty for the built-in CLIs, whose
    /// modules say it.
    #[serde(default)]
    pub tui: super::declared::DeclaredTui,
}

impl Invocation {
    /// The same start with the session a continuation resumes filled in where its argv
    /// holds [`SESSION_HOLE`](super::cli::argv::SESSION_HOLE) (ADR 0117); every other word
    /// stays the template it was.
    pub fn resuming(&self, session: &str) -> Invocation {
        let fill = |word: &String| {
            super::template::fill(word, &[("session", session)], cli::argv::literal)
        };
        Invocation {
            argv: self.argv.iter().map(fill).collect(),
            ..self.clone()
        }
    }

    /// The same start, its program (`argv[0]`) resolved to `binary`.
    pub fn with_program(mut self, binary: &std::path::Path) -> Invocation {
        if let Some(program) = self.argv.first_mut() {
            *program = binary.to_string_lossy().into_owned();
        }
        self
    }
}

/// Substitutes the placeholders of one template element (`{prompt}`, `{prompt_file}`; see
/// [`super::template::expand`]).
pub fn expand(template: &str, prompt: &str, prompt_file: &str) -> String {
    super::template::expand(
        template,
        &[("prompt", prompt), ("prompt_file", prompt_file)],
    )
}

impl Provider {
    /// How this built-in CLI is started.
    pub fn invocation(self, w: &Wanted<'_>) -> Result<Invocation, ProviderError> {
        let cli = cli::of(self);
        let large = w.prompt_len > MAX_PROMPT_ARG;
        // A TUI cannot take a prompt on stdin (stdin is the terminal): a large prompt is a
        // file it is told to read.
        let (transport, prompt_arg) = match (w.lane, large) {
            (Lane::Headless, _) if cli.prompt_on_stdin(Lane::Headless) => {
                (PromptTransport::Stdin, String::new())
            }
            (_, false) => (PromptTransport::Argument, PROMPT.to_owned()),
            (Lane::Headless, true) => (PromptTransport::Stdin, String::new()),
            (Lane::Interactive, true) => (
                PromptTransport::File,
                format!(
                    "Your assignment is in the file {PROMPT_FILE}. Read all of it, then carry \
                     it out."
                ),
            ),
        };
        let start = Start {
            w: *w,
            large,
            dir: literal(&w.dispatch_dir.to_string_lossy()),
            vnx: literal(&w.vnx.to_string_lossy()),
            perms: strs(match cli.plan_flags(w.lane).filter(|_| w.plan) {
                Some(flags) => flags,
                None => cli.permission_flags(w.lane, w.permission),
            }),
            transport,
            prompt_arg,
        };
        let made = cli.argv(&start)?;
        Ok(Invocation {
            argv: made.argv,
            env: made.env,
            prompt_transport: transport,
            output: made.output,
            completion: made.completion,
            hooks: made.hooks,
            permission_flags: start.perms,
            allowed_commands: cli.allowed_commands(w),
            tui: Default::default(),
        })
    }
}

/// How a declared provider is started: `binary`, its model arguments, its resume arguments
/// (a follow-up), the posture's flags, then the lane's argv.
pub fn declared_invocation(
    name: &str,
    def: &DeclaredProvider,
    w: &Wanted<'_>,
) -> Result<Invocation, ProviderError> {
    let lane = def
        .lane(w.lane)
        .ok_or_else(|| ProviderError::LaneUnsupported {
            provider: name.to_owned(),
            lane: w.lane,
        })?;
    if w.prompt_len > MAX_PROMPT_ARG && lane.prompt == PromptTransport::Argument {
        return Err(ProviderError::PromptTooLarge {
            provider: name.to_owned(),
            bytes: w.prompt_len,
        });
    }
    let perms = match w.permission {
        Permission::Ask => &def.permissions.ask,
        Permission::Edits => &def.permissions.edits,
        Permission::Full => &def.permissions.full,
    }
    .clone()
    .ok_or_else(|| ProviderError::PostureUndeclared {
        provider: name.to_owned(),
        permission: w.permission,
    })?;
    let mut argv = vec![def.binary.clone()];
    match w.model {
        Some(m) if def.model_args.is_empty() => {
            return Err(ProviderError::NoModelArgs {
                provider: name.to_owned(),
                model: m.to_owned(),
            });
        }
        Some(m) => argv.extend(def.model_argv(m).iter().map(|a| literal(a))),
        None => {}
    }
    if let Some(session) = w.resume.filter(|_| !def.resume_args.is_empty()) {
        argv.extend(def.resume_argv(session).iter().map(|a| literal(a)));
    }
    argv.extend(perms.iter().map(|f| literal(f)));
    argv.extend(lane.argv.iter().cloned());
    Ok(Invocation {
        argv,
        env: Vec::new(),
        prompt_transport: lane.prompt,
        output: lane.output.clone(),
        completion: lane.completion,
        hooks: HookKind::NONE,
        permission_flags: perms,
        allowed_commands: Vec::new(),
        tui: lane.tui.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::cli::testing::wanted;

    /// Every built-in CLI with a lane of its own, and the lane.
    fn lanes() -> Vec<(Provider, Lane)> {
        let mut out = Vec::new();
        for cli in cli::CLIS {
            for lane in [Lane::Headless, Lane::Interactive] {
                if cli
                    .provider()
                    .invocation(&wanted(lane, Permission::Edits, 10))
                    .is_ok()
                {
                    out.push((cli.provider(), lane));
                }
            }
        }
        out
    }

    #[test]
    fn a_session_id_never_reads_as_an_option() {
        // A worker could write the hook payload an id was read from (ids are checked where
        // they are read, `session::valid_id`); however it reads, it stays the option's value.
        let hostile = "--dangerously-skip-permissions";
        for (p, lane) in lanes() {
            if !p.cli().resumes_sessions(lane) {
                continue;
            }
            let w = Wanted {
                resume: Some(hostile),
                ..wanted(lane, Permission::Edits, 10)
            };
            let argv = p.invocation(&w).unwrap().argv;
            // The words an argv parser reads as options: those before a `--`.
            let options = argv.iter().take_while(|a| *a != "--");
            assert!(
                options.clone().all(|a| a != hostile),
                "{p:?} {lane:?}: {argv:?}"
            );
        }
    }

    #[test]
    fn a_roles_commands_are_never_allowed_in_ask() {
        let allow = ["cargo test".to_owned()];
        for (p, lane) in lanes() {
            let w = Wanted {
                allow: &allow,
                ..wanted(lane, Permission::Ask, 10)
            };
            let inv = p.invocation(&w).unwrap();
            assert!(!inv.argv.iter().any(|a| a.contains("cargo test")), "{p:?}");
            assert!(!inv.allowed_commands.contains(&allow[0]), "{p:?}");
        }
    }

    #[test]
    fn placeholders_expand_and_braces_escape() {
        assert_eq!(expand("--p={prompt}!", "hi {x}", "/f"), "--p=hi {x}!");
        assert_eq!(expand("{{prompt}}", "P", "/f"), "{prompt}");
        assert_eq!(
            expand(&literal("/a/{prompt}/b"), "P", "/f"),
            "/a/{prompt}/b"
        );
        assert_eq!(expand("{prompt_file}", "P", "/f"), "/f");
        assert_eq!(expand("{odd", "P", "/f"), "{odd");
    }

    #[test]
    fn nothing_defaults_to_skipping_permissions() {
        for (p, lane) in lanes() {
            let ask = p.cli().permission_flags(lane, Permission::Ask).join(" ");
            let edits = p.cli().permission_flags(lane, Permission::Edits).join(" ");
            for risky in ["dangerously", "yolo", "bypass"] {
                assert!(!ask.contains(risky) && !edits.contains(risky), "{p:?}");
            }
            // A CLI whose postures take flags gives `full` flags of its own.
            if !ask.is_empty() || !edits.is_empty() {
                let full = p.cli().permission_flags(lane, Permission::Full).join(" ");
                assert!(full != edits && full != ask, "{p:?}");
            }
        }
    }
}
