//! The list of `vnx serve`: what needs you first (a blocked worker with Approve and Deny at
//! hand, a plan that waits with its own, a question, a stopped worker, each labelled; each
//! answer offered only where the library would take it, its refusal said in place of one it
//! would not), then what runs, then the rest; drawn once per shared read for every device,
//! its forms' anti-forgery value filled in per request.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use vnx::dashboard::model::Row;
use vnx::dispatch::view::State as Live;
use vnx::ids::DispatchId;

use super::auth::Paired;
use super::html::{esc, page};
use super::pages::{approve, blocking, button};
use super::{App, plans};

/// The most finished dispatches the list shows.
const FINISHED_SHOWN: usize = 100;

/// The list of the project's dispatches.
pub async fn list(p: Paired, State(app): State<Arc<App>>) -> Response {
    blocking(move || list_page(&app, &p)).await
}

/// Where a list drawn once for every device has the anti-forgery value each puts in: a
/// control character, which no escaped text holds.
pub const CSRF_MARK: &str = "\u{1}csrf\u{1}";

fn list_page(app: &App, p: &Paired) -> Result<String, String> {
    let body = app.listed(|snapshot| list_body(app, snapshot))?;
    let csrf = p.token.csrf();
    Ok(page("vnx", &csrf, &body.replace(CSRF_MARK, &csrf)))
}

/// The list's body, its forms' anti-forgery value left as [`CSRF_MARK`].
fn list_body(app: &App, snapshot: &vnx::dashboard::Snapshot) -> String {
    let prs = app.prs(snapshot.rows.iter().map(|r| &r.state));
    let plans: Vec<DispatchId> = (snapshot.rows.iter())
        .filter(|r| r.state.plan_waiting().is_some())
        .map(|r| r.state.id.clone())
        .collect();
    let refused = plans::refusals(app, &plans);
    let now = snapshot.now;
    let mut body = String::new();
    let groups: [(u8, &str); 3] = [(0, "Needs you"), (1, "Running"), (2, "The rest")];
    for (group, heading) in groups {
        let rows: Vec<&Row> = snapshot
            .rows
            .iter()
            .filter(|r| r.group() == group)
            .collect();
        if rows.is_empty() && group != 0 {
            continue;
        }
        let _ = write!(
            body,
            "<section class=\"g{group}\"><h2>{heading} <span class=\"count\">{}</span></h2><ul class=\"rows\">",
            rows.len()
        );
        if rows.is_empty() {
            body.push_str("<li class=\"quiet\">Nothing waits for you.</li>");
        }
        let shown = if group == 2 {
            FINISHED_SHOWN
        } else {
            usize::MAX
        };
        for row in rows.iter().take(shown) {
            body.push_str(&row_html(
                row,
                now,
                prs.get(&row.state.id).map(String::as_str),
                refused.get(&row.state.id).map(String::as_str),
            ));
        }
        if rows.len() > shown {
            let _ = write!(
                body,
                "<li class=\"quiet\">and {} more (<code>vnx status</code>)</li>",
                rows.len() - shown
            );
        }
        body.push_str("</ul></section>");
    }
    if snapshot.older > 0 {
        let _ = write!(
            body,
            "<p class=\"quiet\">{} older dispatches are not listed.</p>",
            snapshot.older
        );
    }
    let health = match &snapshot.health {
        vnx::dashboard::Health::Broken { line, detail } => {
            format!(
                "<p class=\"said bad\">The ledger does not verify from line {line}: {}</p>",
                esc(detail)
            )
        }
        _ => String::new(),
    };
    format!("{health}{body}")
}

/// One dispatch's row of the list, its buttons' anti-forgery value left as [`CSRF_MARK`];
/// `refused`: why its plan, which waits, is not approved (see [`plans::refusals`]).
fn row_html(row: &Row, now: jiff::Timestamp, pr: Option<&str>, refused: Option<&str>) -> String {
    let csrf = CSRF_MARK;
    let s = &row.state;
    let title = s.title.as_deref().unwrap_or("(no title)");
    let age = crate::shown::started_age(s.started_at.as_deref(), now, "?");
    let cli = s.provider.as_deref().unwrap_or("?");
    let pr = pr
        .map(|pr| format!(" · <span class=\"pr\">{}</span>", esc(pr)))
        .unwrap_or_default();
    let waits = waits_label(s);
    let mut activity = esc(&row.activity);
    let quick = if let Some((_, sha)) = s.plan_waiting() {
        // The plan's own decision (`vnx approve`/`vnx deny` of its SHA-256), as its page's
        // forms post it; Approve only where the library would approve it.
        let approve = match refused {
            Some(why) => plans::refusal(why),
            None => plans::form(&s.id, csrf, sha, true, false),
        };
        format!(
            "<div class=\"quick\">{approve}{}</div>",
            plans::form(&s.id, csrf, sha, false, false),
        )
    } else if let Some((blocked, quick)) = prompt_buttons(s, csrf) {
        // Its own buttons answer it: what it waits for, not the terminal's commands.
        activity = format!("waits for {}", esc(&blocked.what()));
        quick
    } else {
        String::new()
    };
    format!(
        "<li class=\"row st-{status}\"><a href=\"/d/{id}\"><span class=\"badge\">{badge}</span> \
         <b>{title}</b><span class=\"meta\">{cli} · {age} · {short}{pr}</span>\
         {overlap}<span class=\"act\">{activity}</span></a>{quick}</li>",
        status = esc(s.status),
        badge = esc(waits.unwrap_or(s.status)),
        id = s.id,
        title = esc(title),
        cli = esc(cli),
        short = esc(s.id.as_str()),
        overlap = row
            .overlaps
            .as_deref()
            .map(|o| format!("<span class=\"overlap\">⚠ {}</span>", esc(o)))
            .unwrap_or_default(),
    )
}

/// What an ended dispatch that needs input waits for, as the list labels it: its plan (a
/// decision on it), a question (an answer), or nothing asked: its worker stopped (at its
/// budget, or having said something that is no question). `None` for any other dispatch.
fn waits_label(s: &vnx::dispatch::state::DispatchState) -> Option<&'static str> {
    let needs_input = s.state == Live::Ended(vnx::receipts::DispatchStatus::NeedsInput);
    if !(needs_input && s.waiting()) {
        return None;
    }
    Some(if vnx::actions::plan::waits(s) {
        "plan waits"
    } else if vnx::actions::budget::waits(s).is_none() && s.question_label() == "asks" {
        "question"
    } else {
        "stopped"
    })
}

/// The Approve and Deny a blocked worker's row answers its permission prompt with, each where
/// the library would give that answer (a planning worker's prompt is denied, not approved:
/// its refusal is said in place of Approve), and the prompt; `None` when nothing on the page
/// answers what it waits for (a question in its pane, answered by attaching).
fn prompt_buttons<'s>(
    s: &'s vnx::dispatch::state::DispatchState,
    csrf: &str,
) -> Option<(&'s vnx::receipts::DispatchBlocked, String)> {
    if !s.state.is_live() {
        return None;
    }
    let deny = vnx::receipts::PermissionAnswer::Deny;
    let blocked = vnx::dispatch::answer::answerable(s, deny).ok()?;
    let deny = button(
        &s.id,
        csrf,
        "deny",
        "Deny",
        Some("Refuse what this worker asks to do?"),
    );
    Some((
        blocked,
        format!("<div class=\"quick\">{}{deny}</div>", approve(s, csrf)),
    ))
}
