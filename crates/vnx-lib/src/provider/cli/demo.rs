//! vnx's own offline stand-in (`vnx __demo-worker MODEL PROMPT`), acting out the behaviour its
//! model names; it writes text, reports like any worker and keeps no state of its own. Its
//! plan mode (`--plan`, ADR 0092) changes nothing and ends with the plan of its behaviour.

use super::argv::{Argv, PROMPT_FILE, Start, literal};
use super::coding_cli::{CodingCli, check_valid};
use super::error::ProviderError;
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
}

impl DemoBehaviour {
    /// Every behaviour, in the order `--model` lists them.
    pub const ALL: [DemoBehaviour; 8] = [
        DemoBehaviour::Commit,
        DemoBehaviour::Dirty,
        DemoBehaviour::Noop,
        DemoBehaviour::Fail,
        DemoBehaviour::Ask,
        DemoBehaviour::Forget,
        DemoBehaviour::Slow,
        DemoBehaviour::Stubborn,
    ];

    /// The behaviour as `--model` names it.
    pub fn name(self) -> &'static str {
        match self {
            DemoBehaviour::Commit => "commit",
            DemoBehaviour::Dirty => "dirty",
            DemoBehaviour::Noop => "noop",
            DemoBehaviour::Fail => "fail",
            DemoBehaviour::Ask => "ask",
            DemoBehaviour::Forget => "forget",
            DemoBehaviour::Slow => "slow",
            DemoBehaviour::Stubborn => "stubborn",
        }
    }

    /// The behaviour a `--model` names, if any.
    pub fn parse(name: &str) -> Option<DemoBehaviour> {
        DemoBehaviour::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// The demo worker.
#[derive(Debug)]
pub struct Demo;

impl CodingCli for Demo {
    /// vnx itself, offline: exempt from the egress policy by default.
    fn egress_exempt(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "demo"
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

    /// `--plan`: it writes nothing and ends with its plan, in either lane.
    fn plan_flags(&self, _lane: crate::receipts::kinds::Lane) -> Option<&'static [&'static str]> {
        Some(&["--plan"])
    }

    fn argv(&self, s: &Start<'_>) -> Result<Argv, ProviderError> {
        let mut argv = vec![s.vnx.clone(), "__demo-worker".into()];
        argv.extend(s.perms.iter().cloned());
        argv.push(literal(s.w.model.unwrap_or_default()));
        match s.transport {
            PromptTransport::Argument => argv.push(s.prompt_arg.clone()),
            PromptTransport::File => {
                argv.extend(["--prompt-file".into(), PROMPT_FILE.into()]);
            }
            PromptTransport::Stdin => {}
        }
        Ok(Argv {
            argv,
            output: OutputFormat::TEXT,
            completion: ProviderCompletion::Report,
            hooks: HookKind::NONE,
            env: Vec::new(),
        })
    }
}
