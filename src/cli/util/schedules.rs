//! The config's `schedules:` from the command line, as `vnx schedule list`, `vnx status` and
//! `vnx serve` share them: what each schedule last did and when it fires next, what is due
//! fired once, and the firing kept up until the process stops, sleeping until the next
//! slot (at most [`MAX_SLEEP`] at a time).

use std::time::Duration;

use vnx::schedule::{Action, Listed, Outcome};

use super::context::with_desk;
use super::output::say;
use super::settings;
use crate::cli::CliError;

/// The longest sleep between two looks at what is due: a config changed meanwhile counts
/// within it.
pub(crate) const MAX_SLEEP: Duration = Duration::from_secs(60);

/// The project's schedules as listed at `now`: name, when, next firing, last firing.
pub(crate) fn listed(
    project: &vnx::project::Project,
    now: jiff::Timestamp,
) -> Result<Vec<Listed>, CliError> {
    let config = project.load_config()?;
    if config.schedules.is_empty() {
        return Ok(Vec::new());
    }
    let ledger = project.ledger();
    let trusted = settings::attestation(None, &ledger).map_or_else(|_| Vec::new(), |(_, k)| k);
    let last = vnx::schedule::recorded(&ledger, &trusted)?;
    Ok(vnx::schedule::list(&config.schedules, &last, now))
}

/// A listed schedule's line: `schedule NAME: next 2026-12-01 03:00 UTC (every 1d)`.
pub(crate) fn line(s: &Listed) -> String {
    let next = match (&s.next, s.due, s.enabled) {
        (_, _, false) => "disabled".to_owned(),
        (Some(_), true, _) => "due now".to_owned(),
        (Some(n), false, _) => format!("next {}", shown_time(n)),
        (None, _, _) => "never".to_owned(),
    };
    format!("schedule {}: {next} ({})", s.name, s.when)
}

/// An RFC 3339 time in UTC as a person reads it: `2026-12-01 03:00 UTC`.
fn shown_time(t: &str) -> String {
    t.parse::<jiff::Timestamp>()
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| t.to_owned())
}

/// What a run did with one slot, in a line.
pub(crate) fn outcome_line(o: &Outcome) -> String {
    let missed = match o.missed {
        0 => String::new(),
        n => format!(
            " ({n} missed slot{} before it)",
            if n == 1 { "" } else { "s" }
        ),
    };
    let what = match o.action {
        Action::Fired => "fired",
        Action::Resumed => "resumed the firing",
        Action::Skipped => "skipped",
    };
    format!(
        "schedule {}: {what} for {}{missed}: {}",
        o.schedule,
        shown_time(o.slot.as_str()),
        o.detail
    )
}

/// Fires what is due at `now` in the project here, once; each note of a start said.
pub(crate) fn fire_once(
    tmux_socket: Option<String>,
    now: jiff::Timestamp,
) -> Result<Vec<Outcome>, CliError> {
    let project = settings::project()?;
    let config = project.load_config()?;
    if config.schedules.is_empty() {
        return Ok(Vec::new());
    }
    let (overrides, override_reasons) = settings::constraint_overrides();
    let base = vnx::dispatch::Request {
        overrides,
        override_reasons,
        ..vnx::dispatch::Request::of(String::new())
    };
    with_desk(tmux_socket, |desk| {
        let told = |note: vnx::actions::start::Note| say!("{}", note.line());
        Ok(vnx::schedule::fire(desk, &config, &base, now, &told)?)
    })
}

/// How long to sleep before the next look: until the soonest next firing, at most
/// [`MAX_SLEEP`], at least five seconds (an error is not retried in a tight loop).
pub(crate) fn until_next(now: jiff::Timestamp) -> Duration {
    let soonest = settings::project().ok().and_then(|p| {
        let listed = listed(&p, now).ok()?;
        (listed.iter())
            .filter_map(|s| s.next.as_deref()?.parse::<jiff::Timestamp>().ok())
            .min()
    });
    let wait = soonest
        .and_then(|t| Duration::try_from(t.duration_since(now)).ok())
        .unwrap_or(MAX_SLEEP);
    wait.clamp(Duration::from_secs(5), MAX_SLEEP)
}

/// Fires what is due, then sleeps until the next slot, until the process stops; each
/// outcome said, an error said and tried again at the next look.
pub(crate) fn keep_firing(tmux_socket: Option<String>) -> ! {
    loop {
        match fire_once(tmux_socket.clone(), jiff::Timestamp::now()) {
            Ok(done) => {
                for o in &done {
                    say!("{}", outcome_line(o));
                }
            }
            Err(e) => say!("schedules: {}", e.one_line()),
        }
        std::thread::sleep(until_next(jiff::Timestamp::now()));
    }
}
