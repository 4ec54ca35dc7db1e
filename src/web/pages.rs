//! The pages `vnx serve` draws and the actions their buttons post: one dispatch's page (what
//! it waits for, its actions, gates, pull request, screenshots, diff, transcript tail,
//! receipts), and the action a form posts, done in process as the vnx command of the same name
//! would do it, recorded as done by the paired device, its outcome said on the page it returns
//! to (a refusal as an alert with its hint). The list is `list`'s.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use vnx::ids::DispatchId;

use super::auth::{Paired, html_response};
use super::html::{self, esc, page};
use super::{App, Form, plans};
use crate::action::Action;
use vnx::actions::act::Reply;
use vnx::actions::table::Front;

/// One dispatch's page.
pub async fn dispatch(
    p: Paired,
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Ok(id) = DispatchId::parse(&id) else {
        return html_response(
            StatusCode::NOT_FOUND,
            &page("Not found", "", "<h1>No such dispatch</h1>"),
        );
    };
    let said = Said {
        line: q.get("said").cloned().unwrap_or_default(),
        ok: q.get("ok").is_some_and(|v| v == "1"),
        hint: q.get("hint").cloned().filter(|h| !h.is_empty()),
    };
    blocking(move || dispatch_page(&app, &p, &id, &said)).await
}

/// An action a dispatch page's form posts.
pub async fn act(
    p: Paired,
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    axum::extract::Form(form): Form,
) -> Response {
    let Ok(id) = DispatchId::parse(&id) else {
        return (StatusCode::NOT_FOUND, "no such dispatch\n").into_response();
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if !p.csrf_ok(field("csrf")) {
        return (
            StatusCode::FORBIDDEN,
            "the page's anti-forgery value is missing or wrong: reload it\n",
        )
            .into_response();
    }
    let action = match form_action(&id, &field) {
        Ok(action) => action,
        Err(refused) => return *refused,
    };
    let by = app.by(&p);
    let said = format!("vnx {}", action.command());
    app.say(&format!("{said} {id} by {by}"));
    let acting = Arc::clone(&app);
    let outcome = tokio::task::spawn_blocking(move || (acting.calls.act)(&action, &by)).await;
    let said = match outcome {
        Ok(o) => Said {
            line: o.message(),
            ok: o.ok(),
            hint: o.hint,
        },
        Err(e) => Said {
            line: format!("{said}: failed: {e}"),
            ok: false,
            hint: None,
        },
    };
    app.changed();
    back_saying(&id, &said)
}

/// The action a dispatch page's form asks for (`field` reads the form), or the page that
/// says why there is none.
fn form_action<'f>(
    id: &DispatchId,
    field: &dyn Fn(&str) -> &'f str,
) -> Result<Action, Box<Response>> {
    let message = field("message").trim().to_owned();
    Ok(match field("action") {
        "deny" => Action::Deny(
            id.clone(),
            Reply {
                plan_sha256: None,
                message: (!message.is_empty()).then_some(message),
            },
        ),
        "answer" if !message.is_empty() => Action::FollowUp(id.clone(), message),
        "answer" => return Err(Box::new(back(id, "an answer needs words"))),
        "comment" if !message.is_empty() => {
            let at = format!("{}:{}", field("file"), field("line"));
            Action::Comment(id.clone(), at, message)
        }
        "comment" => return Err(Box::new(back(id, "a comment needs words"))),
        "send-review" => Action::SendReview(id.clone()),
        "raise-budget" => match raise_field(field("tokens"), field("usd")) {
            Some(r) => {
                let micros = vnx::dispatch::state::micros(r.usd);
                Action::RaiseBudget(id.clone(), r.tokens, micros)
            }
            None => {
                return Err(Box::new(back(
                    id,
                    "a raise needs tokens or dollars above 0",
                )));
            }
        },
        "approve-plan" | "deny-plan" => {
            let reply = Reply {
                plan_sha256: Some(field("plan_sha256").to_owned()),
                message: (!message.is_empty()).then_some(message),
            };
            if field("action") == "approve-plan" {
                Action::Approve(id.clone(), reply)
            } else {
                Action::Deny(id.clone(), reply)
            }
        }
        // The rest as the table of actions gives the page.
        other => match Action::on(other, id.clone()) {
            Some(action) if action.row().fronts.contains(&Front::Page) => action,
            _ => {
                let no = format!("no action {:?}\n", html::esc(other));
                return Err(Box::new((StatusCode::BAD_REQUEST, no).into_response()));
            }
        },
    })
}

/// What an action's outcome said on the page it returns to: its line, whether it did what
/// was asked, and the hint its refusal or failure carries (the library's, as the vnx
/// command of the same name prints it).
struct Said {
    line: String,
    ok: bool,
    hint: Option<String>,
}

impl Said {
    /// The outcome as the page shows it: a done action as a status, a refusal or failure as
    /// an alert with its hint.
    fn html(&self) -> String {
        if self.line.is_empty() {
            return String::new();
        }
        if self.ok {
            return format!(
                "<p class=\"said ok\" role=\"status\">{}</p>",
                esc(&self.line)
            );
        }
        let hint = (self.hint.as_deref())
            .map(|h| format!("<p class=\"said-hint\">hint: {}</p>", esc(h)))
            .unwrap_or_default();
        format!(
            "<div class=\"said bad\" role=\"alert\"><p>{}</p>{hint}</div>",
            esc(&self.line)
        )
    }
}

fn not_found() -> Response {
    html_response(
        StatusCode::NOT_FOUND,
        &page(
            "Not found",
            "",
            "<h1>No such dispatch</h1><p><a href=\"/\">All dispatches</a></p>",
        ),
    )
}

/// "Raise and continue"'s fields: tokens and dollars to add (a number each, either left
/// empty) as `vnx approve --budget` reads them; `None` when neither adds anything.
fn raise_field(tokens: &str, usd: &str) -> Option<vnx::dispatch::budget::Raise> {
    let tokens = tokens.trim().trim_start_matches('+');
    let usd = usd.trim().trim_start_matches('+').trim_start_matches('$');
    if tokens.contains(',') || usd.contains(',') {
        return None;
    }
    let mut parts = Vec::new();
    if !tokens.is_empty() {
        parts.push(format!("+{tokens}"));
    }
    if !usd.is_empty() {
        parts.push(format!("+${usd}"));
    }
    vnx::dispatch::budget::parse_raise(&parts.join(",")).ok()
}

/// The fields "Raise and continue" shows: tokens where the budget limits tokens, dollars
/// where it limits dollars (ADR 0098).
fn raise_fields(note: &vnx::dispatch::state::BudgetNote) -> String {
    let mut out = String::new();
    if note.limit > 0 {
        out.push_str(
            "<label>Raise by <input name=\"tokens\" inputmode=\"numeric\" \
             pattern=\"[0-9]+[kM]?\"> tokens</label> ",
        );
    }
    if note.cost_micros.is_some() {
        out.push_str(
            "<label>Raise by $<input name=\"usd\" inputmode=\"decimal\" \
             pattern=\"[0-9]*[.]?[0-9]+\"></label>",
        );
    }
    out
}

/// Back to the dispatch's page, saying why what was asked was not done.
fn back(id: &DispatchId, refused: &str) -> Response {
    back_saying(
        id,
        &Said {
            line: refused.to_owned(),
            ok: false,
            hint: None,
        },
    )
}

/// Back to the dispatch's page, saying what became of an action.
fn back_saying(id: &DispatchId, said: &Said) -> Response {
    let mut to = format!(
        "/d/{id}?said={}&ok={}",
        url_encode(&said.line),
        u8::from(said.ok)
    );
    if let Some(hint) = &said.hint {
        let _ = write!(to, "&hint={}", url_encode(hint));
    }
    Redirect::to(&to).into_response()
}

/// `text` as a URL's query value.
fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes().take(600) {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// One of a dispatch's screenshots (`shots`).
pub async fn shot(
    _: Paired,
    State(app): State<Arc<App>>,
    Path((id, gate, n)): Path<(String, String, usize)>,
) -> Response {
    let Ok(id) = DispatchId::parse(&id) else {
        return (StatusCode::NOT_FOUND, "no such dispatch\n").into_response();
    };
    let read = move || super::shots::image(shots_of(&app, &id), &gate, n);
    (tokio::task::spawn_blocking(read).await)
        .unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}

/// Each screenshots gate's latest result for `id`'s head, its evidence read through the
/// read index (the dispatch's own lines, not the ledger).
fn shots_of(app: &App, id: &DispatchId) -> Result<Vec<vnx::receipts::GateResult>, String> {
    let reloader = app.reloader.lock().map_err(|e| e.to_string())?;
    let ev = (reloader.evidence(&app.sources, id)).map_err(|e| e.to_string())?;
    Ok(vnx::gate::shots::latest(&ev).into_iter().cloned().collect())
}

/// What a page's reading says of a dispatch the ledger never started.
const NOT_FOUND: &str = "no such dispatch";

pub(super) async fn blocking(
    f: impl FnOnce() -> Result<String, String> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(html)) => html_response(StatusCode::OK, &html),
        Ok(Err(e)) if e == NOT_FOUND => not_found(),
        Ok(Err(e)) => html_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &page(
                "Error",
                "",
                &format!("<h1>Cannot read the project</h1><p>{}</p>", esc(&e)),
            ),
        ),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A form posting `action` for dispatch `id` with the anti-forgery value `csrf`, as every
/// button and field of the pages is drawn: `attrs` after its target (a class, a
/// confirmation), `fields` before its button, which says `label` coloured as `b-{class}`.
pub(super) fn form(
    id: &DispatchId,
    csrf: &str,
    attrs: &str,
    action: &str,
    fields: &str,
    (class, label): (&str, &str),
) -> String {
    format!(
        "<form method=\"post\" action=\"/d/{id}\"{attrs}><input type=\"hidden\" name=\"csrf\" \
         value=\"{csrf}\"><input type=\"hidden\" name=\"action\" value=\"{action}\">\
         {fields}<button class=\"b-{class}\" type=\"submit\">{label}</button></form>",
    )
}

/// A form of one button posting `action` for dispatch `id`, asking `confirm` first.
pub(super) fn button(
    id: &DispatchId,
    csrf: &str,
    action: &str,
    label: &str,
    confirm: Option<&str>,
) -> String {
    let confirm = confirm
        .map(|c| format!(" data-confirm=\"{}\"", esc(c)))
        .unwrap_or_default();
    form(id, csrf, &confirm, action, "", (action, label))
}

/// Approve for a blocked worker's permission prompt where the library would give that
/// answer; else its refusal in Approve's place (a planning worker's prompt is denied, never
/// approved).
pub(super) fn approve(s: &vnx::dispatch::state::DispatchState, csrf: &str) -> String {
    match vnx::dispatch::answer::answerable(s, vnx::receipts::PermissionAnswer::Approve) {
        Ok(_) => button(
            &s.id,
            csrf,
            "approve",
            "Approve",
            Some("Allow what this worker asks to do?"),
        ),
        Err(e) => plans::refusal(&e.to_string()),
    }
}

/// A form posting `action` with a message typed in.
fn with_message(
    id: &DispatchId,
    csrf: &str,
    action: &str,
    label: &str,
    hint: &str,
    required: bool,
) -> String {
    let req = if required { " required" } else { "" };
    let field =
        format!("<textarea name=\"message\" rows=\"3\" placeholder=\"{hint}\"{req}></textarea>");
    form(id, csrf, " class=\"msg\"", action, &field, (action, label))
}

fn dispatch_page(app: &App, p: &Paired, id: &DispatchId, said: &Said) -> Result<String, String> {
    let Some(d) = app.detail(id)? else {
        return Err(NOT_FOUND.to_owned());
    };
    let s = &d.state;
    let now = jiff::Timestamp::now();
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>{}</h1><p class=\"meta\"><span class=\"badge st-{status}\">{status}</span> {id} · {cli}{model} · {role} · {age}{host}</p>",
        esc(s.title.as_deref().unwrap_or("(no title)")),
        status = esc(s.status),
        cli = esc(s.provider.as_deref().unwrap_or("?")),
        model = s
            .model
            .as_deref()
            .map(|m| format!(" ({})", esc(m)))
            .unwrap_or_default(),
        role = esc(s.role.as_deref().unwrap_or("")),
        age = crate::shown::started_age(s.started_at.as_deref(), now, "?"),
        host = (s.place.place())
            .map(|h| format!(" · on {}", esc(&h.to_string())))
            .unwrap_or_default(),
    );
    b.push_str(&said.html());
    let csrf = p.token.csrf();
    let live = s.state.is_live();
    if let (Some(blocked), true) = (&s.blocked, live) {
        // Whether it may be approved is the library's to say: a planning worker's prompt is
        // refused, and said so, never offered as a prompt to approve.
        let _ = write!(
            b,
            "<section class=\"needs\"><h2>Waits for you</h2><pre class=\"ask\">{}</pre><div class=\"acts\">{}</div>{}</section>",
            // What it waits for; the buttons below answer it (not the terminal's commands).
            esc(&blocked.what()),
            approve(s, &csrf),
            with_message(
                id,
                &csrf,
                "deny",
                "Deny",
                "why (optional): the worker is told",
                false
            ),
        );
    }
    let mut said = Vec::new();
    if let Some(note) = &s.budget {
        if vnx::actions::budget::waits(s).is_some() {
            let _ = write!(
                b,
                "<section class=\"needs\"><h2>Its budget is reached</h2><p>{}</p>{}</section>",
                esc(&note.line()),
                form(
                    id,
                    &csrf,
                    " class=\"acts\" data-confirm=\"Raise the budget and let the worker go on?\"",
                    "raise-budget",
                    &format!("{} ", raise_fields(note)),
                    ("approve", "Raise and continue"),
                ),
            );
        } else {
            said.push(note.line());
        }
    }
    said.extend(s.limited.as_ref().filter(|_| live).map(|l| l.describe()));
    said.extend(s.paused.as_ref().filter(|_| live).map(|p| p.describe()));
    said.extend(d.graph.iter().cloned());
    if !d.graph.is_empty()
        && let Some((spend, n)) = app.graph_cost(id)
    {
        said.push(format!(
            "The graph from here: {n} dispatch{}, {}",
            if n == 1 { "" } else { "es" },
            vnx::cost::describe(&spend)
        ));
    }
    if let Some(bg) = s.background.as_ref().filter(|_| live) {
        said.push(format!("Waiting on {}", bg.describe()));
    }
    for line in said {
        let _ = write!(b, "<p class=\"said\">{}</p>", esc(&line));
    }
    if let Some(e) = s.escalated.as_ref().filter(|_| s.waiting()) {
        let _ = write!(
            b,
            "<section class=\"needs\"><h2>Its pull request needs you</h2><p>#{} ({}): {}</p>\
             <p class=\"quiet\"><code>vnx pr watch</code> stopped reacting to it.</p></section>",
            e.number,
            esc(&e.rule),
            esc(&e.why),
        );
    }
    if let Some((plan, sha)) = s.plan_waiting() {
        // Whether it may be approved is the library's to say: a plan whose planning changed
        // files is refused, and said so in place of Approve.
        let approve = match plans::refusals(app, std::slice::from_ref(id)).remove(id) {
            Some(why) => plans::refusal(&why),
            None => plans::form(id, &csrf, sha, true, true),
        };
        let _ = write!(
            b,
            "<section class=\"needs\"><h2>Its plan waits for you</h2><pre class=\"ask plan\">{}</pre>\
             <p class=\"meta\">sha256 {}</p>{approve}{}</section>",
            esc(plan),
            esc(sha),
            plans::form(id, &csrf, sha, false, true),
        );
    } else if let (true, Some(q)) = (s.waiting(), s.question.as_deref()) {
        let _ = write!(
            b,
            "<section class=\"needs\"><h2>Asks</h2><pre class=\"ask\">{}</pre>{}<div class=\"acts\">{}</div></section>",
            esc(q),
            with_message(
                id,
                &csrf,
                "answer",
                "Answer",
                "your answer: sent as a follow-up in the same session",
                true
            ),
            button(
                id,
                &csrf,
                "dismiss",
                "Dismiss",
                Some("Close this question without answering it?")
            ),
        );
    }
    // The table's buttons, where the dispatch's state calls for them.
    let mut acts = String::new();
    for r in vnx::actions::table::ACTIONS {
        let action = Action::on(r.command, id.clone()).filter(|a| a.called_for(s));
        if let (Some((label, confirm)), Some(_)) = (r.button, action) {
            acts.push_str(&button(id, &csrf, r.command, label, confirm));
        }
    }
    if !acts.is_empty() {
        let _ = write!(b, "<div class=\"acts\">{acts}</div>");
    }
    if let Some(line) = app.overlaps(id) {
        let _ = write!(
            b,
            "<h2>Overlaps</h2><p class=\"said overlap\">⚠ {}</p>",
            esc(&line)
        );
    }
    if !d.gates.is_empty() {
        b.push_str("<h2>Gates</h2><ul class=\"gates\">");
        for g in &d.gates {
            let _ = write!(
                b,
                "<li class=\"gate-{st}\">{name}: {st}{why}</li>",
                name = esc(&g.gate),
                st = esc(&g.status),
                why = g
                    .reason
                    .as_deref()
                    .map(|r| format!(" ({})", esc(r)))
                    .unwrap_or_default(),
            );
        }
        b.push_str("</ul>");
    }
    if let Some(pr) = app.pr_of(s) {
        b.push_str("<h2>Pull request</h2><dl class=\"pr\">");
        for (k, v) in crate::shown::pr_lines(&pr, |t| t.to_owned()) {
            let _ = write!(b, "<dt>{k}</dt><dd>{}</dd>", esc(&v));
        }
        b.push_str("</dl>");
    }
    b.push_str(&review_html(app, &csrf, &d));
    b.push_str(&super::shots::section(id, shots_of(app, id)));
    let diff = vnx::dispatch::detail::diff_with(&app.sources.root, &d, false, &[], true)
        .unwrap_or_else(|e| format!("(no diff: {e})"));
    let _ = write!(
        b,
        "<h2>Diff</h2><p class=\"quiet hint\">Tap a line to comment on it.</p>\
         <div class=\"diffs\">{}</div>{}",
        html::diff(&diff),
        comment_form(id, &csrf),
    );
    let transcript = vnx::dashboard::model::preview(s, &app.sources.root, &app.sources.tmux);
    let tail: Vec<&str> = transcript.lines().rev().take(200).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    let _ = write!(
        b,
        "<h2>Transcript</h2><pre class=\"log\">{}</pre>",
        esc(&tail.join("\n"))
    );
    b.push_str("<h2>Receipts</h2><pre class=\"receipts\">");
    for r in &d.receipts {
        let _ = writeln!(b, "{}", esc(&r.to_string()));
    }
    b.push_str("</pre>");
    Ok(page(s.title.as_deref().unwrap_or(id.as_str()), &csrf, &b))
}

/// The review comments on a dispatch's diff: each with its place, whether its line changed
/// since, and the follow-up that addressed it; and the button that sends the open ones.
fn review_html(app: &App, csrf: &str, d: &vnx::dispatch::detail::Detail) -> String {
    let id = &d.state.id;
    let mut review = None;
    let read = (app.calls.desk)(None, &mut |desk| {
        let states = || vnx::dispatch::view::list(desk.ctx.ledger, desk.ctx.tmux);
        let comments = vnx::review::shown(
            &desk.ctx.project.root,
            desk.ctx.ledger,
            d,
            desk.trusted,
            states,
        )
        .map_err(|e| e.to_string())?;
        review = Some(vnx::actions::review::Review {
            dispatch_id: id.clone(),
            comments,
        });
        Ok(())
    });
    let Some(review) = review else {
        return match read {
            Err(e) => format!("<p class=\"said bad\">No review comments: {}</p>", esc(&e)),
            Ok(()) => String::new(),
        };
    };
    if review.comments.is_empty() {
        return String::new();
    }
    let mut b = String::from("<h2>Review comments</h2><ul class=\"comments\">");
    for c in &review.comments {
        let state = match (&c.addressed_by, c.stale) {
            (Some(by), _) => format!("<a href=\"/d/{by}\">sent in {by}</a>"),
            (None, true) => "<span class=\"badge st-stale\">stale</span>".to_owned(),
            (None, false) => "<span class=\"badge\">open</span>".to_owned(),
        };
        let _ = write!(
            b,
            "<li><code>{}</code> {state}<pre class=\"ask\">{}</pre><span class=\"meta\">{}</span></li>",
            esc(&c.anchor()),
            esc(&c.receipt.body),
            esc(&c.receipt.by),
        );
    }
    b.push_str("</ul>");
    let open = review.comments.iter().filter(|c| c.is_open()).count();
    if open > 0 {
        let label = format!(
            "Send {open} comment{} to the worker",
            if open == 1 { "" } else { "s" }
        );
        b.push_str(&button(
            id,
            csrf,
            "send-review",
            &label,
            Some("Send the open comments to the worker as one follow-up?"),
        ));
    }
    b
}

/// The form a tapped diff line opens (hidden until then; the page's script fills in the
/// file and line and moves it under the line).
fn comment_form(id: &DispatchId, csrf: &str) -> String {
    let fields = "<input type=\"hidden\" name=\"file\"><input type=\"hidden\" name=\"line\">\
         <label class=\"meta\">Comment on <code class=\"at\"></code></label>\
         <textarea name=\"message\" rows=\"3\" required placeholder=\"what is wrong here: the worker gets it with the line\"></textarea>";
    let attrs = " id=\"comment-form\" class=\"msg\" hidden";
    form(
        id,
        csrf,
        attrs,
        "comment",
        fields,
        ("answer", "Add comment"),
    )
}

#[cfg(test)]
mod tests {
    use super::{DispatchId, form_action, raise_field};

    /// The page offers exactly the actions the library's table gives it: every value a form
    /// may post (each string of the page's sources, each command of the table) tried, every
    /// other field filled.
    #[test]
    fn the_page_offers_the_actions_the_table_gives_it() {
        use vnx::actions::table::{ACTIONS, Front, offered};
        let id = DispatchId::parse("D-0a1b2c3d4e5f").unwrap();
        let sources = [
            include_str!("pages.rs"),
            include_str!("plans.rs"),
            include_str!("list.rs"),
        ];
        let strings = sources.iter().flat_map(|s| s.split(['"', '\\']));
        let mut offers = std::collections::BTreeSet::new();
        for name in strings.chain(ACTIONS.iter().map(|r| r.command)) {
            let field = |k: &str| match k {
                "action" => name,
                "tokens" => "5",
                "usd" => "",
                "line" => "1",
                _ => "x",
            };
            if let Ok(action) = form_action(&id, &field) {
                offers.insert(action.command());
            }
        }
        let table = offered(Front::Page).into_iter().collect();
        assert_eq!(offers, table);
    }

    #[test]
    fn raise_and_continue_reads_tokens_dollars_or_both() {
        let r = |t, u| raise_field(t, u).map(|r| (r.tokens, r.usd));
        assert_eq!(r("+2000", ""), Some((2000, 0.0)));
        assert_eq!(r("", "1.5"), Some((0, 1.5)));
        assert_eq!(r("50k", "$2"), Some((50_000, 2.0)));
        for (t, u) in [
            ("", ""),
            ("lots", ""),
            ("", "-1"),
            ("0", "0"),
            ("1,+$5", ""),
        ] {
            assert_eq!(r(t, u), None, "{t:?} {u:?}");
        }
    }
}
