//! `vnx status`: dispatches as the ledger and tmux show them, as a table or JSON.

use std::path::Path;
use std::process::ExitCode;

use vnx::dispatch::fold::Want;
use vnx::dispatch::view::{self, DispatchState};
use vnx::provider::transcript;
use vnx::tmux::Tmux;

use super::CliError;
use super::util::error::Exit;
use super::util::lines::{REQUEST_IS_THE_HOOKS, accepted_line, dismissed_line};
use super::util::output::{Out, escape, paint, say};
use super::util::settings;
use super::util::states::verified_states;

/// List dispatches
///
/// Without ids or filters, the dispatches that are unfinished or wait for you, and the
/// 20 started last (`--all` lists every one). One row per dispatch: its state (queued, running, blocked, stalled, lost, done, failed,
/// needs_input, timeout, cancelled, expired, merged or released), teardown, provider and
/// model, role, age, and where to look next (the queue position of a queued one, the tmux
/// session of a live one, the worktree or branch of an ended one). A blocked one also says
/// what it waits for. A queued dispatch whose latest start time passed is `expired`: it never
/// started.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx status --state blocked --state needs_input")]
pub struct Args {
    /// Only these dispatches (ids, or their starts)
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// Only dispatches in this state (repeatable): queued, running, blocked, stalled, lost,
    /// done, failed, needs_input, timeout, cancelled, expired, merged, released, unverified
    #[arg(long = "state", value_name = "STATE", value_parser = view::STATUSES)]
    states: Vec<String>,
    /// Only running dispatches (running, blocked or stalled)
    #[arg(long)]
    running: bool,
    /// Only dispatches of this provider
    #[arg(long, value_name = "P")]
    provider: Option<String>,
    /// Only dispatches of this role
    #[arg(long, value_name = "ROLE")]
    role: Option<String>,
    /// Every dispatch, however old (without ids or filters, only the unfinished ones, those
    /// waiting for you, and the 20 started last are listed)
    #[arg(long, short = 'a')]
    all: bool,
    /// Every column: teardown, model, role and where to look next (the queue position, the
    /// tmux session of a live one, the worktree or branch of an ended one), however wide
    #[arg(long, short = 'w')]
    wide: bool,
    /// Print as JSON (an array; see docs/json.md)
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
    /// Read each pull request from the forge now, however fresh its cached read
    #[arg(long, conflicts_with = "no_forge")]
    refresh: bool,
    /// Show the pull requests as last read, never calling gh
    #[arg(long)]
    no_forge: bool,
}

/// A dispatch's state and its pull request, as `--json` prints it.
#[derive(serde::Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    state: &'a DispatchState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pr: Option<&'a vnx::forge::watch::PrStatus>,
    /// The files it changed that another running or unmerged dispatch changed too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    overlaps: Vec<vnx::radar::Overlap>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (project, ids) = crate::cli::util::ids::project_for(&args.ids)?;
    let args = Args {
        ids: ids.iter().map(ToString::to_string).collect(),
        ..args
    };
    super::util::drain::recover_queue_here(args.tmux.tmux_socket.clone(), true);
    super::util::hosts::catch_up_warning(&project, (!ids.is_empty()).then_some(&ids[..]));
    let tmux = Tmux::new(settings::tmux_socket(args.tmux.tmux_socket.clone()));
    let ledger = project.ledger();
    let recent = !args.all && ids.is_empty() && args.unfiltered();
    // Those overlapping with the dispatches listed are read too: the conflict radar needs
    // every one in play, whether the read goes through the index or the whole ledger.
    let want = if !ids.is_empty() {
        Want::IdsInPlay(&ids)
    } else if recent {
        Want::Recent(RECENT)
    } else {
        Want::All
    };
    let read = verified_states(&project, &tmux, want)?;
    for socket in vnx::tmux::silent_sockets() {
        say!(
            "warning: the tmux server on socket {socket} does not answer (stopped?): its \
             dispatches are shown as they were, not called lost; `kill -CONT` it, or `tmux -L \
             {socket} kill-server` and `vnx resume` what it ran"
        );
    }
    // A provider held by a usage limit starts nothing new until its reset (ADR 0117).
    for hold in vnx::dispatch::queue::held::all(&project.data_dir()) {
        say!(
            "note: {}: new dispatches on it wait in the queue until then",
            hold.describe()
        );
    }
    // A person's pause holds what it covers (ADR 0119).
    for pause in vnx::dispatch::queue::paused::all(&project.data_dir()) {
        say!(
            "note: {}: nothing it covers launches; `vnx resume` lifts it",
            pause.describe()
        );
    }
    // Only a best-of candidate has a group to show (reading them is a pass of its own).
    let grouped = read.grouped;
    // The conflict radar, over every dispatch in play (not only those listed).
    let radar = vnx::radar::scan(&project.root, &read.states, &mut Default::default());
    let (all, older) = if recent {
        view::recent(read.states, RECENT, read.listed)
    } else {
        (read.states, 0)
    };
    if let Some(unknown) = ids.iter().find(|id| !all.iter().any(|s| s.id == **id)) {
        return Err(CliError::usage(format!("unknown dispatch {unknown}"))
            .with_hint("`vnx status` lists the dispatches on the ledger"));
    }
    let states: Vec<&DispatchState> = all.iter().filter(|s| args.keeps(s)).collect();
    if older > 0 {
        say!(
            "note: {older} older dispatch{} not listed: `vnx status --all` lists every one",
            if older == 1 { " is" } else { "es are" }
        );
    }
    let with_branch: Vec<(vnx::ids::DispatchId, String)> = states
        .iter()
        .filter_map(|s| Some((s.id.clone(), s.branch.clone()?)))
        .collect();
    let prs = super::util::pr_watch::read(
        &project,
        &with_branch,
        super::util::pr_watch::mode(args.no_forge, args.refresh),
    );
    // The places made for dispatches with no record here, in the listing without filters.
    let orphans = if ids.is_empty() && args.unfiltered() {
        // A place's dispatches judged only from all of them (`--all`); the recent listing
        // shows those with no record here.
        let judged: &[DispatchState] = if recent { &[] } else { &all };
        let (found, notes) = super::util::hosts::orphans(&project, judged);
        for note in notes {
            say!("{note}");
        }
        found
    } else {
        Vec::new()
    };
    // The config's schedules, each with its next firing, in the listing without filters.
    let schedules = if ids.is_empty() && args.unfiltered() {
        super::util::schedules::listed(&project, jiff::Timestamp::now()).unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut out = Out::new();
    if args.json {
        let mut listed: Vec<serde_json::Value> = states
            .iter()
            .map(|s| {
                serde_json::to_value(Listed {
                    state: s,
                    pr: prs.get(&s.id),
                    overlaps: radar.overlaps(&s.id),
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|e| CliError::new(format!("status as JSON: {e}")).exit(Exit::Bug))?;
        listed.extend(orphans.iter().map(|o| tagged("orphan", o)));
        listed.extend(schedules.iter().map(|s| tagged("schedule", s)));
        out.json(&listed)?;
        return Ok(ExitCode::SUCCESS);
    }
    if states.is_empty() {
        say!(
            "no dispatches{}",
            if all.is_empty() { "" } else { " match" }
        );
        orphan_lines(&mut out, &orphans)?;
        schedule_lines(&mut out, &schedules)?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = jiff::Timestamp::now();
    // The local branches, listed once (not looked up once per row).
    let branches: std::collections::HashSet<String> = git2::Repository::open(&project.root)
        .ok()
        .and_then(|g| {
            let listed = g.branches(Some(git2::BranchType::Local)).ok()?;
            Some(
                listed
                    .flatten()
                    .filter_map(|(b, _)| b.name().ok().flatten().map(str::to_owned))
                    .collect(),
            )
        })
        .unwrap_or_default();
    let branch_exists = |b: &str| branches.contains(b);
    let rows: Vec<[String; 8]> = states.iter().map(|s| row(s, now, &branch_exists)).collect();
    let header = [
        "DISPATCH",
        "STATE",
        "TITLE",
        "TEARDOWN",
        "PROVIDER/MODEL",
        "ROLE",
        "AGE",
        "WHERE",
    ]
    .map(str::to_owned);
    // Without --wide, the columns a person scans, within the terminal's width (80 when it
    // is not known): the ids whole, the titles cut to what is left.
    let width = settings::terminal_width().or((!args.wide).then_some(NARROW));
    let columns: &[usize] = if args.wide { &WIDE } else { &NARROW_COLUMNS };
    // Escaped before they are measured and cut (escaping again changes nothing).
    let pick = |cells: &[String; 8]| -> Vec<String> {
        columns
            .iter()
            .map(|&i| escape(&cells[i]).into_owned())
            .collect()
    };
    let narrow_cell = |cells: &[String; 8]| {
        let mut picked = pick(cells);
        if !args.wide {
            // The provider alone: its model is in `--wide` and `vnx show`.
            let provider =
                &mut picked[NARROW_COLUMNS.iter().position(|&c| c == MODEL).unwrap_or(0)];
            if let Some((p, _)) = provider.split_once('/') {
                *provider = p.to_owned();
            }
        }
        picked
    };
    let mut header = pick(&header);
    if !args.wide {
        header[NARROW_COLUMNS.iter().position(|&c| c == MODEL).unwrap_or(0)] = "PROVIDER".into();
    }
    let mut rows: Vec<Vec<String>> = rows.iter().map(narrow_cell).collect();
    let title = columns.iter().position(|&c| c == TITLE).unwrap_or(0);
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // The titles take what the width leaves after the other columns (at least MIN_TITLE
    // characters), the longer ones cut with `…`.
    if let Some(width) = width {
        let others: usize = widths
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != title)
            .map(|(_, w)| w + 2)
            .sum();
        let fit = width
            .saturating_sub(others + usize::from(title + 1 != widths.len()) * 2)
            .max(if args.wide { MIN_WIDE_TITLE } else { MIN_TITLE });
        if fit < widths[title] {
            widths[title] = fit;
            for r in &mut rows {
                r[title] = crate::shown::fit(&r[title], fit);
            }
        }
    }
    let line = |cells: &[String], state: Option<&str>| {
        let text: String = (cells.iter().zip(&widths).enumerate())
            .map(|(i, (cell, w))| {
                let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
                let cell = match (i, state) {
                    (1, Some(state)) => paint(state, cell),
                    _ => escape(cell).into_owned(),
                };
                // The last cell's padding goes with the trimmed end.
                format!("{cell}{pad}  ")
            })
            .collect();
        text.trim_end().to_owned()
    };
    // A line under a row, wrapped to the width at spaces.
    let under = |out: &mut Out, text: &str| -> Result<(), CliError> {
        for l in wrap(text, if args.wide { None } else { width }) {
            out.line(&l)?;
        }
        Ok(())
    };
    out.styled(&line(&header, None))?;
    let groups = if grouped {
        super::util::groups::memberships(&ledger)
    } else {
        Default::default()
    };
    let around = vnx::dispatch::queue::after::Around::of(&all);
    for (s, r) in states.iter().zip(&rows) {
        out.styled(&line(r, Some(s.status)))?;
        let live = s.state.is_live();
        let notes = [
            groups
                .get(&s.id)
                .map(|m| format!("group {}", m.describe(&s.id))),
            (s.background.as_ref().filter(|_| live))
                .map(|b| format!("waiting on {}", b.describe())),
            s.limited.as_ref().filter(|_| live).map(|l| l.describe()),
            s.paused.as_ref().filter(|_| live).map(|p| p.describe()),
        ];
        // Then what it waits for, or waited for, and what waits for it (`--after`).
        for l in notes.into_iter().flatten().chain(around.lines(s)) {
            under(&mut out, &format!("  {}", escape(&l)))?;
        }
        if let Some(b) = &s.blocked {
            under(&mut out, &format!("  waits for {}", escape(&b.describe())))?;
            if b.waiting_for == vnx::receipts::WaitingFor::Permission {
                under(&mut out, &format!("  {REQUEST_IS_THE_HOOKS}"))?;
            }
        }
        // Only while it waits: a question a follow-up answered, a landing settled or a person
        // dismissed asks nothing any more.
        if let Some(q) = s.question.as_deref().filter(|_| s.waiting()) {
            // A short form, in one line: `vnx show` has the whole question.
            let label = s.question_label();
            let room = width.map_or(100, |w| w.saturating_sub(label.len() + 4).clamp(20, 100));
            out.line(&format!("  {label}: {}", transcript::question(q, room)))?;
        }
        // Then what else it says: its budget, its dismissal, a pull request that needs you,
        // its denials, its pull request, what it overlaps and its acceptance.
        let more = [
            s.budget.as_ref().map(|b| b.line()),
            (s.dismissed.as_ref()).map(|d| format!("dismissed {}", dismissed_line(d))),
            (s.escalated.as_ref().filter(|_| s.waiting()))
                .map(|e| format!("needs you: pull request #{}: {}", e.number, escape(&e.why))),
            denials_line(s),
            prs.get(&s.id).map(|pr| escape(&pr.line()).into_owned()),
            radar.line(&s.id).map(|line| escape(&line).into_owned()),
            (s.accepted.as_ref().filter(|_| s.landed.is_none()))
                .map(|a| format!("accepted {}", accepted_line(a))),
        ];
        for line in more.into_iter().flatten() {
            under(&mut out, &format!("  {line}"))?;
        }
    }
    orphan_lines(&mut out, &orphans)?;
    schedule_lines(&mut out, &schedules)?;
    Ok(ExitCode::SUCCESS)
}

/// `value`'s fields after `"tag": true`, as `--json` lists a place with no dispatch record
/// here or a schedule among the dispatches.
fn tagged(tag: &str, value: impl serde::Serialize) -> serde_json::Value {
    let mut v = serde_json::json!({ tag: true });
    if let (Some(map), Ok(serde_json::Value::Object(found))) =
        (v.as_object_mut(), serde_json::to_value(value))
    {
        map.extend(found);
    }
    v
}

/// The places made for dispatches with no record here, a line each, and how to remove them.
fn orphan_lines(out: &mut Out, orphans: &[vnx::remote::orphans::Found]) -> Result<(), CliError> {
    if orphans.is_empty() {
        return Ok(());
    }
    out.line("places with no dispatch record here:")?;
    for o in orphans {
        out.line(&format!(
            "  {}",
            escape(&super::util::hosts::orphan_line(o))
        ))?;
    }
    say!(
        "hint: `vnx clean --orphans` removes them: what runs in each, and its storage unless it \
         holds work this repository lacks (then it is kept, and said)"
    );
    Ok(())
}

/// Each schedule's line with its next firing: `schedule nightly: next 2026-12-01 03:00 UTC
/// (cron 0 3 * * *)`.
fn schedule_lines(out: &mut Out, schedules: &[vnx::schedule::Listed]) -> Result<(), CliError> {
    for s in schedules {
        out.line(&escape(&super::util::schedules::line(s)))?;
    }
    Ok(())
}

/// How many dispatches started last `status` lists besides the open ones.
const RECENT: usize = 20;

impl Args {
    /// Whether no filter narrows the list.
    fn unfiltered(&self) -> bool {
        self.states.is_empty() && !self.running && self.provider.is_none() && self.role.is_none()
    }

    fn keeps(&self, s: &DispatchState) -> bool {
        (self.ids.is_empty() || self.ids.iter().any(|i| *i == s.id))
            && (self.states.is_empty() || self.states.iter().any(|st| st == s.status))
            && (!self.running || s.state.is_live())
            && self
                .provider
                .as_ref()
                .is_none_or(|p| s.provider.as_ref() == Some(p))
            && self
                .role
                .as_ref()
                .is_none_or(|r| s.role.as_ref() == Some(r))
    }
}

/// The TITLE column's place in a row.
const TITLE: usize = 2;
/// The PROVIDER/MODEL column's place in a row.
const MODEL: usize = 4;
/// The fewest characters of a title shown, however narrow the terminal.
const MIN_TITLE: usize = 12;
/// The same, with --wide.
const MIN_WIDE_TITLE: usize = 24;
/// The width `status` fits its lines in when the terminal's is not known.
const NARROW: usize = 80;
/// The columns of a row shown without --wide, in order: id, state, age, provider, title.
const NARROW_COLUMNS: [usize; 5] = [0, 1, 6, MODEL, TITLE];
/// Every column, in order (--wide).
const WIDE: [usize; 8] = [0, 1, 2, 3, 4, 5, 6, 7];

/// `text` in lines of at most `width` characters, broken at spaces (a word longer than the
/// width stands alone), the lines after the first indented as the first is, plus two.
fn wrap(text: &str, width: Option<usize>) -> Vec<String> {
    let Some(width) = width.filter(|w| text.chars().count() > *w) else {
        return vec![text.to_owned()];
    };
    let indent = text.len() - text.trim_start().len();
    let more = " ".repeat(indent + 2);
    let mut lines = vec![" ".repeat(indent)];
    for word in text.split_whitespace() {
        let last = lines.last_mut().expect("a line");
        let blank = last.trim().is_empty();
        if !blank && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(format!("{more}{word}"));
        } else {
            if !blank {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// One table row: id, state, title, teardown, provider/model, role, age, where to look.
fn row(
    s: &DispatchState,
    now: jiff::Timestamp,
    branch_exists: &dyn Fn(&str) -> bool,
) -> [String; 8] {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let age = crate::shown::started_age(s.started_at.as_deref(), now, "-");
    let place = if let Some(q) = &s.queue
        && s.state == view::State::Queued
    {
        match q.position {
            Some(n) => format!("queue #{n} (priority {})", q.priority),
            None => "queue (starting)".into(),
        }
    } else if let Some(next) = &s.continued_by {
        format!("continued by {next}")
    } else if s.state.is_live() {
        s.session
            .as_ref()
            .map_or_else(|| "-".into(), |n| format!("tmux {n}"))
    } else {
        match &s.worktree {
            Some(wt) if Path::new(wt).exists() => wt.clone(),
            _ => match &s.branch {
                Some(b) if branch_exists(b) => format!("branch {b}"),
                _ => "-".into(),
            },
        }
    };
    let model = match &s.model {
        Some(m) => format!("{}/{m}", dash(&s.provider)),
        None => dash(&s.provider),
    };
    [
        s.id.to_string(),
        s.status.to_owned(),
        // A dispatch recorded before titles: `-` (its role is in its own column).
        s.title
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "-".into()),
        s.teardown_class.map_or("-", |t| t.name()).to_owned(),
        model,
        dash(&s.role),
        age,
        place,
    ]
}

/// The permission prompts denied to the worker, when there were any: `denied 2 prompts,
/// its CLI refused 1 tool use (vnx show ID lists them)`.
fn denials_line(s: &DispatchState) -> Option<String> {
    let plural = |n: u32, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = Vec::new();
    if s.denials > 0 {
        parts.push(format!("denied {}", plural(s.denials, "prompt", "prompts")));
    }
    if s.cli_denials > 0 {
        parts.push(format!(
            "its CLI refused {}",
            plural(s.cli_denials, "tool use", "tool uses")
        ));
    }
    (!parts.is_empty()).then(|| format!("{} (vnx show {} lists them)", parts.join(", "), s.id))
}
