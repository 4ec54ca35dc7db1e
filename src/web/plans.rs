//! A plan that waits for a person (ADR 0092), as the page offers it on its dispatch's page
//! and in its row of the list: approved or sent back, bound to the SHA-256 of the plan shown;
//! or, when its planning changed files (which the library's approval refuses), sent back
//! only, the library's refusal said in place of Approve.

use std::collections::HashMap;

use vnx::ids::DispatchId;

use super::App;
use super::html::esc;

/// Why each plan of `ids` is not approved, in the library's words, for those whose planning
/// changed files (read as `vnx approve` reads it: [`vnx::dispatch::planned::planning_change`]
/// over the attested receipts). A plan whose change cannot be read here is offered: its
/// approval reads it again and refuses, said on the page it returns to.
pub fn refusals(app: &App, ids: &[DispatchId]) -> HashMap<DispatchId, String> {
    let mut refused = HashMap::new();
    if ids.is_empty() {
        return refused;
    }
    let read = (app.calls.desk)(None, &mut |desk| {
        for id in ids {
            let ledger = desk.ctx.ledger;
            let ev = vnx::evidence::Evidence::read(ledger, id, desk.trusted)
                .map_err(|e| e.to_string())?;
            let change = vnx::dispatch::planned::planning_change(ledger, desk.trusted, &ev)
                .map_err(|e| e.to_string())?;
            if let Some(change) = change {
                let why = vnx::actions::ActionError::PlanningChanged {
                    id: id.clone(),
                    change: change.to_string(),
                };
                refused.insert(id.clone(), why.to_string());
            }
        }
        Ok(())
    });
    if let Err(e) = read {
        app.say(&format!(
            "cannot read what the waiting plans' planning changed: {e}"
        ));
    }
    refused
}

/// Where Approve would be: the refusal `why` (worker text may be in it: escaped here).
pub fn refusal(why: &str) -> String {
    format!("<p class=\"refused\" role=\"alert\">{}</p>", esc(why))
}

/// A plan's approval or its sending back, bound to the SHA-256 of the plan the page shows: a
/// plan the worker changed since is refused, not approved. With `note`, a field for what the
/// person adds (a dispatch's page); without, one button (a row of the list).
pub fn form(id: &DispatchId, csrf: &str, sha: &str, approve: bool, note: bool) -> String {
    let (action, label, hint, confirm) = if approve {
        (
            "approve-plan",
            "Approve the plan",
            "a note for the worker (optional)",
            "Approve this plan? The worker goes on to carry it out.",
        )
    } else {
        (
            "deny-plan",
            if note {
                "Send it back"
            } else {
                "Deny the plan"
            },
            "what to change: the worker plans again",
            "Send this plan back to be planned again?",
        )
    };
    let (class, field) = if note {
        (
            " class=\"msg\"",
            format!("<textarea name=\"message\" rows=\"2\" placeholder=\"{hint}\"></textarea>"),
        )
    } else {
        ("", String::new())
    };
    let attrs = format!("{class} data-confirm=\"{confirm}\"");
    let sha = format!(
        "<input type=\"hidden\" name=\"plan_sha256\" value=\"{}\">",
        esc(sha)
    );
    super::pages::form(id, csrf, &attrs, action, &(sha + &field), (action, label))
}
