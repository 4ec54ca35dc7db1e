//! The actions of the dashboard's keys and the web page's buttons ([`Action`]) done in process
//! at the project's desk (`vnx::actions::act`) as the vnx command of the same name would, by
//! the person at this terminal or a device paired with `vnx serve`, saying what became of
//! each.

use vnx::actions::act::{Action, Done, Settings};

use crate::action::Outcome;
use crate::cli::CliError;
use crate::cli::util::settings;

/// What the front ends' actions need of this process's settings.
pub(crate) fn action_settings() -> Settings {
    let (overrides, override_reasons) = settings::constraint_overrides();
    Settings {
        anchoring: settings::anchoring(),
        overrides,
        override_reasons,
    }
}

/// Does `action` at the project's desk, as its command would, `by` acting (the user here
/// when `None`), and says what became of it (attaching needs the terminal: the caller does
/// that one).
pub(crate) fn act(action: &Action, by: Option<&str>) -> Outcome {
    let done = crate::cli::util::context::with_desk_as(None, by, |desk| {
        let done = vnx::actions::act::act(desk, action, &action_settings())?;
        // A refused merge is the error `vnx merge` prints, its hint included.
        if let Done::Merged(entry) = &done
            && let Some(refused) = crate::cli::util::error::merge_verdict(entry)
        {
            return Err(refused);
        }
        Ok((done.code(), done.line()))
    });
    outcome_of(action, done)
}

/// The footer's outcome of an action done in process: its code and line, or its error and
/// the error's hint.
fn outcome_of(action: &Action, done: Result<(i32, String), CliError>) -> Outcome {
    let (code, summary, hint) = match done {
        Ok((code, summary)) => (code, vnx::dashboard::model::plain(&summary), None),
        Err(e) => (
            e.exit_status() as i32,
            e.one_line(),
            e.hint().map(vnx::dashboard::model::plain),
        ),
    };
    Outcome {
        action: action.clone(),
        code: Some(code),
        summary,
        hint,
    }
}
