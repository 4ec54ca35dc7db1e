//! A notice's signed link (`/l/TOKEN`, ADR 0090): a GET only says what the link would do
//! (chat apps fetch a link to preview it) and offers a button; a POST follows it. The token
//! itself is the credential, good once for the one request it names, so these pages need no
//! paired device; they say in words why a link does nothing (replayed, expired, forged, or
//! its request already answered). And the notices themselves, posted after each change.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use vnx::actions::link::{Peeked, Redeemed};
use vnx::notice::LinkKey;

use super::App;
use super::auth::html_response;
use super::html::{esc, page};

/// What following a link showed or did.
struct Said {
    status: StatusCode,
    heading: &'static str,
    words: String,
    button: Option<&'static str>,
}

/// `GET /l/TOKEN`: what the link would do, and a button that does it.
pub async fn look(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    follow(app, token, false).await
}

/// `POST /l/TOKEN`: the link followed.
pub async fn act(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    follow(app, token, true).await
}

async fn follow(app: Arc<App>, token: String, act: bool) -> Response {
    let key_dir = app.data_dir.clone();
    let by = format!("{} via a notification link (vnx serve)", app.user);
    let acting = Arc::clone(&app);
    let token_shown = token.clone();
    let said = tokio::task::spawn_blocking(move || {
        let key = LinkKey::load_or_create(&key_dir).map_err(|e| e.to_string())?;
        let now = jiff::Timestamp::now();
        let mut said = None;
        (acting.calls.desk)(Some(&by), &mut |desk| {
            said = Some(if act {
                redeemed(
                    vnx::actions::link::redeem(desk, &key, &token, now)
                        .map_err(|e| e.to_string())?,
                )
            } else {
                peeked(
                    vnx::actions::link::peek(desk, &key, &token, now).map_err(|e| e.to_string())?,
                )
            });
            Ok(())
        })?;
        said.ok_or_else(|| "nothing was said".to_owned())
    })
    .await;
    let said = (said.map_err(|e| e.to_string()).and_then(|said| said)).unwrap_or_else(|e| Said {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        heading: "This link could not be followed",
        words: e,
        button: None,
    });
    if act && said.status == StatusCode::OK {
        app.say(&format!("a notification link: {}", said.words));
        app.changed();
    }
    let button = said.button.map_or_else(String::new, |label| {
        format!(
            "<form method=\"post\" action=\"/l/{}\"><button class=\"b-approve\" type=\"submit\">{label}</button></form>",
            esc(&token_shown)
        )
    });
    html_response(
        said.status,
        &page(
            said.heading,
            "",
            &format!(
                "<h1>{}</h1><p class=\"said\">{}</p>{button}",
                said.heading,
                esc(&said.words)
            ),
        ),
    )
}

fn peeked(p: Peeked) -> Said {
    match p {
        Peeked::Would { link, state, what } => {
            let verb = link_verb(&link);
            let title = state.title.as_deref().unwrap_or_default();
            Said {
                status: StatusCode::OK,
                heading: "A notification link",
                words: format!("{verb} {what} for {} ({title})", link.dispatch),
                button: Some(if verb == "approve" { "Approve" } else { "Deny" }),
            }
        }
        Peeked::Refused(r) => refused(&r.says()),
    }
}

fn redeemed(r: Redeemed) -> Said {
    let words = match r {
        Redeemed::Answered { receipt, .. } => {
            let line = vnx::actions::answer::line(&receipt);
            format!("{}  {line}", receipt.dispatch_id)
        }
        Redeemed::PlanDecided { link, line } => format!("{}  {line}", link.dispatch),
        Redeemed::Refused(r) => return refused(&r.says()),
    };
    Said {
        status: StatusCode::OK,
        heading: "Done",
        words,
        button: None,
    }
}

fn refused(says: &str) -> Said {
    Said {
        status: StatusCode::CONFLICT,
        heading: "This link does nothing",
        words: says.to_owned(),
        button: None,
    }
}

fn link_verb(link: &vnx::notice::Link) -> &'static str {
    match link.action {
        vnx::notice::LinkAction::Approve => "approve",
        vnx::notice::LinkAction::Deny => "deny",
    }
}

/// Posts the notices due now (what needs a person and was not sent before), saying at the
/// terminal where one could not be posted. Nothing is sent unless `serve.notify` lists where.
pub fn send_notices(app: &App) {
    if app.serve.notify.is_empty() {
        return;
    }
    // The states as the actions read them (each with the receipt that announced it).
    let mut states = Vec::new();
    let read = (app.calls.desk)(None, &mut |desk| {
        states = desk.states().map_err(|e| e.to_string())?;
        Ok(())
    });
    if let Err(e) = read {
        return app.say(&format!("notices: {e}"));
    }
    let key = match LinkKey::load_or_create(&app.data_dir) {
        Ok(k) => k,
        Err(e) => return app.say(&format!("notices: {e}")),
    };
    let sent = vnx::notice::send_due(
        &app.data_dir,
        &states,
        &app.serve,
        &key,
        jiff::Timestamp::now(),
        vnx::notice::POST_TIMEOUT,
    );
    match sent {
        Ok(sent) => {
            for s in sent {
                for (endpoint, e) in s.failed {
                    app.say(&format!(
                        "a notice was not posted to {}: {e}",
                        endpoint.shown()
                    ));
                }
            }
        }
        Err(e) => app.say(&format!("notices: {e}")),
    }
}
