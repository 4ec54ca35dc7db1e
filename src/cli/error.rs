//! How the CLI reports failure: `error: …`, the cause chain, a `hint:`, and the exit code.

use std::error::Error;
use std::fmt::Write as _;
use std::process::ExitCode;

use vnx::ledger::LedgerError;
use vnx::ledger::checkpoint::CheckpointError;

/// A failed command.
#[derive(Debug)]
pub struct CliError {
    message: String,
    causes: Vec<String>,
    hint: Option<String>,
    code: u8,
}

impl CliError {
    /// A failure (exit 1) with a message.
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            causes: Vec::new(),
            hint: None,
            code: 1,
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            code: 2,
            ..CliError::new(message)
        }
    }

    /// From any error: its message, then its sources as causes.
    pub fn from_error(e: &(dyn Error + 'static)) -> CliError {
        let mut err = CliError::new(e.to_string());
        let mut source = e.source();
        while let Some(s) = source {
            err.causes.push(s.to_string());
            source = s.source();
        }
        err
    }

    /// Adds an error and its sources to the cause chain.
    pub fn with_cause(mut self, e: &(dyn Error + 'static)) -> CliError {
        let mut source: Option<&(dyn Error + 'static)> = Some(e);
        while let Some(s) = source {
            self.causes.push(s.to_string());
            source = s.source();
        }
        self
    }

    /// Puts a new top line above this error, which becomes the first cause.
    pub fn context(mut self, message: impl Into<String>) -> CliError {
        let old = std::mem::replace(&mut self.message, message.into());
        self.causes.insert(0, old);
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }

    fn with_hint_opt(mut self, hint: Option<String>) -> CliError {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// Prints the error to stderr and returns its exit code.
    pub fn report(&self) -> ExitCode {
        use super::output::escape;
        let mut text = format!("error: {}\n", escape(&self.message));
        for cause in &self.causes {
            let _ = writeln!(text, "  caused by: {}", escape(cause));
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(text, "hint: {}", escape(hint));
        }
        eprint!("{text}");
        ExitCode::from(self.code)
    }
}

/// Library errors become CLI errors with their cause chain and their own hint.
macro_rules! hinted {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for CliError {
            fn from(e: $error) -> CliError {
                CliError::from_error(&e).with_hint_opt(e.hint())
            }
        }
    )*};
}

hinted!(
    LedgerError,
    vnx::init::InitError,
    CheckpointError,
    vnx::constraints::LoadError,
    vnx::dispatch::DispatchError,
    vnx::gate::GateError,
    vnx::merge::MergeError,
    vnx::release::ReleaseError,
);

/// A dispatch id given on the command line, or a usage error.
pub fn check_dispatch_id(id: &str) -> Result<(), CliError> {
    if vnx::ledger::receipt::is_dispatch_id(id) {
        Ok(())
    } else {
        Err(CliError::usage(format!("{id:?} is not a dispatch id")))
    }
}
