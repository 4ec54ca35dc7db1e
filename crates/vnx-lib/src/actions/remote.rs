//! Asking the place a remote dispatch runs in (an ssh host, its container) to act on it with
//! its own vnx — `cancel`, a resume's `resume --close-only` — and catching up with it after:
//! the CLI's `cancel` and `resume` and the dashboard's keys call this one function. A
//! container that stopped is made again on its volume first. Starting a follow-up of a
//! dispatch that ran on a host, there (`vnx follow-up`, the dashboard's `f`). Following a
//! remote dispatch to its end through its host, riding out a lost link. And removing a place
//! vnx made for a dispatch, once that dispatch is merged.

use std::time::Duration;

use super::{ActionError, Desk};
use crate::ids::DispatchId;
use crate::place_name::PlaceName;
use crate::remote::{self, Link, RemoteError};

/// How long the place's vnx may take to answer.
const ASK_LIMIT: Duration = Duration::from_secs(120);

/// What the place's vnx answered.
pub struct Answered {
    /// Its exit status (`None`: killed).
    pub status: Option<i32>,
    /// What it printed (the place's bytes: escape before showing).
    pub stdout: String,
    /// What it said on stderr (likewise).
    pub stderr: String,
    /// The catch-up after it, when it failed (a warning: the answer stands).
    pub not_caught_up: Option<RemoteError>,
}

/// Runs the place's `vnx ARGS…` for dispatches `ids`, which run in the place named `place`,
/// then catches up with them.
pub fn ask(
    desk: &Desk<'_>,
    place: &PlaceName,
    args: &[String],
    ids: &[DispatchId],
) -> Result<Answered, ActionError> {
    let link = link(desk, place)?;
    link.place.make(&desk.ctx.project.root, false)?;
    let out = link.place.vnx(args, None, ASK_LIMIT)?;
    Ok(Answered {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        not_caught_up: remote::catch_up(&link, ids).err(),
    })
}

/// Has the place dispatch `id` ran in accept the work its worker left uncommitted there (its
/// own `vnx accept`, which commits it on its branch), and brings that branch here: what
/// `vnx accept` of a dispatch that ran in a place does before it accepts here.
pub fn accept_in_place(
    desk: &Desk<'_>,
    place: &PlaceName,
    id: &DispatchId,
) -> Result<(), ActionError> {
    let note = format!("accepted by {} from the dispatching machine", desk.by);
    let args = [
        "accept".to_owned(),
        id.to_string(),
        "--note".to_owned(),
        note,
    ];
    let told = ask(desk, place, &args, std::slice::from_ref(id))?;
    if told.status != Some(0) {
        return Err(ActionError::InPlace {
            id: id.clone(),
            place: place.to_string(),
            command: "accept".into(),
            said: crate::forge::text::line(&told.stderr, 300),
        });
    }
    let link = link(desk, place)?;
    link.place.make(&desk.ctx.project.root, false)?;
    remote::sync::fetch_work(&link, id)?;
    Ok(())
}

/// What following a remote dispatch to its end saw of its link.
pub enum LinkNews {
    /// The link was lost (said once per loss): the dispatch goes on there, retried every
    /// second.
    Lost(RemoteError),
    /// The host answers again and was caught up with.
    Back,
}

/// Catches up with the link's host, by long polls, until dispatch `id` has ended here or been
/// given up on with its host; `on` hears when the link is lost and when it is back.
pub fn follow_to_end(
    link: &Link<'_>,
    id: &DispatchId,
    on: &mut dyn FnMut(LinkNews),
) -> Result<(), ActionError> {
    let ids = [id.clone()];
    let mut down = false;
    while crate::dispatch::view::completion(link.ledger, id)?.is_none()
        && !crate::dispatch::view::remote_lost(link.ledger, id)?
    {
        match remote::catch_up_asking(link, &ids, &[], Duration::from_secs(2)) {
            Ok(_) if down => {
                down = false;
                on(LinkNews::Back);
            }
            Ok(_) => {}
            Err(e) => {
                if !down {
                    on(LinkNews::Lost(e));
                }
                down = true;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    Ok(())
}

/// Starts `request`, a follow-up ([`crate::actions::follow_up::FollowUp::on_host_request`]),
/// in the place the dispatch it follows up ran in, by that place's own vnx; `Ok(None)` when
/// that dispatch did not run on a host.
pub fn follow_up_on_host(
    desk: &Desk<'_>,
    request: &remote::RemoteRequest,
) -> Result<Option<remote::RemoteLaunched>, ActionError> {
    let ctx = desk.ctx;
    let original = (request.follows.as_deref()).and_then(|o| DispatchId::parse(o).ok());
    let Some(place) = original.and_then(|o| crate::dispatch::view::remote_of(ctx.ledger, &o))
    else {
        return Ok(None);
    };
    Ok(Some(remote::launch(&link(desk, &place)?, request)?))
}

/// `request`, a new dispatch for a host, as the host's `vnx dispatch-agent` takes it: its
/// task as flags (the instruction as text), queued there with `ticket`'s priority and start
/// time; with `plan`, planned first.
pub fn request_for_host(
    request: &crate::dispatch::Request,
    ticket: &crate::dispatch::queue::Ticket,
    plan: bool,
) -> remote::RemoteRequest {
    let skills = (request.skills.iter()).map(|k| ("--skill", Some(k.clone())));
    let gates = (request.gates.iter()).map(|g| ("--gate", Some(g.clone())));
    let mut args = remote::launch::flags(
        [
            ("--agent", Some(request.role.clone())),
            ("--provider", request.provider.clone()),
            ("--model", request.model.clone()),
            ("--instruction", Some(request.instruction.clone())),
            // Only when given: a host's vnx from before titles takes none.
            ("--title", request.title.clone()),
            ("--deadline", Some(request.deadline.as_secs().to_string())),
            ("--permission", Some(request.permission.name().to_owned())),
            ("--lane", request.lane.map(|l| l.name().to_owned())),
            (
                "--stall-after",
                request.stall_after.map(|s| s.as_secs().to_string()),
            ),
            ("--priority", Some(ticket.priority.to_string())),
            ("--start-by", ticket.start_by.map(|t| t.to_string())),
            // Only when given: a host's vnx from before budgets takes none.
            ("--budget", request.budget.as_ref().map(budget_flag)),
        ]
        .into_iter()
        .chain(skills)
        .chain(gates),
    );
    if plan {
        args.push("--plan".into());
    }
    args.extend(remote::launch::sandbox_flags(
        request.sandbox,
        request.network,
    ));
    remote::RemoteRequest {
        id: request.id.clone(),
        base_ref: request.base_ref.clone(),
        args,
        follows: None,
        base_commit: None,
        dispatcher: None,
    }
}

/// `--budget`'s text for a budget, as the host's vnx reads it.
fn budget_flag(b: &crate::receipts::Budget) -> String {
    let tokens = b.tokens.map(|t| format!("tokens={t}"));
    let cost = b.cost_usd.map(|c| format!("cost={c}"));
    tokens.into_iter().chain(cost).collect::<Vec<_>>().join(",")
}

/// A new dispatch `request` for a host, given the sandbox this project's `config` asks for
/// by default (`sandbox.enabled`) when its arguments chose none (an instruction that reads
/// `--sandbox` chooses nothing), whatever the host's own config says; a follow-up keeps its
/// dispatch's, there as here.
pub fn with_project_sandbox(config: &crate::config::Config, request: &mut remote::RemoteRequest) {
    let a = &request.args;
    let chosen =
        |flag: &str| (0..a.len()).any(|i| a[i] == flag && (i == 0 || a[i - 1] != "--instruction"));
    if request.follows.is_none() && !chosen("--sandbox") && !chosen("--no-sandbox") {
        let sandbox = Some(config.sandbox.enabled);
        (request.args).extend(remote::launch::sandbox_flags(sandbox, None));
    }
}

/// The place vnx made for dispatch `id` (a container, a pod), when it ran in one no dispatch
/// still runs in, with the other dispatches whose work exists only there (see
/// [`holds_work`]): [`remove_places`] removes it once the dispatch is merged only when there
/// are none, as a local worktree would be kept.
fn place_to_remove(
    desk: &Desk<'_>,
    id: &DispatchId,
    states: &[crate::dispatch::view::DispatchState],
) -> Result<Option<(PlaceName, Vec<DispatchId>)>, ActionError> {
    let ledger = desk.ctx.ledger;
    let Some(place) = crate::dispatch::view::remote_of(ledger, id) else {
        return Ok(None);
    };
    if place.made_for().is_none() {
        return Ok(None);
    }
    let live = crate::dispatch::view::remote_live(ledger, None)?;
    if live.iter().any(|(_, at)| *at == place) {
        return Ok(None);
    }
    let held = (states.iter())
        .filter(|s| s.id != *id && s.place.place() == Some(&place) && holds_work(s))
        .map(|s| s.id.clone())
        .collect();
    Ok(Some((place, held)))
}

/// Whether dispatch `s`, which ran in a place, may have work that exists only there: it is
/// not merged or released, and it did not end with its work committed (and so fetched here)
/// or with nothing to keep: it runs, is lost, or ended with changes left uncommitted.
fn holds_work(s: &crate::dispatch::view::DispatchState) -> bool {
    use crate::receipts::TeardownClass;
    s.landed.is_none()
        && !matches!(
            s.teardown_class,
            Some(TeardownClass::Clean | TeardownClass::Committed | TeardownClass::Pushed)
        )
}

/// What removing a place vnx made for a dispatch came to.
#[derive(Clone, Debug)]
pub struct PlaceRemoved {
    /// The place.
    pub place: PlaceName,
    /// Why it is still there, when it is.
    pub failed: Option<String>,
    /// The dispatches whose work is only there, which keep it (it was not removed).
    pub kept_for: Vec<DispatchId>,
}

/// Removes the places vnx made for dispatches `ids` whose work is merged, released or
/// discarded (one no dispatch still runs in, and whose other dispatches' work is not only
/// there).
pub fn remove_places<'a>(
    desk: &Desk<'_>,
    ids: impl IntoIterator<Item = &'a DispatchId>,
) -> Result<Vec<PlaceRemoved>, ActionError> {
    let mut out = Vec::new();
    let states = desk.states()?;
    for id in ids {
        match place_to_remove(desk, id, &states)? {
            Some((place, kept_for)) if !kept_for.is_empty() => out.push(PlaceRemoved {
                place,
                failed: None,
                kept_for,
            }),
            Some((place, _)) => {
                let failed = remove(desk, &place).err().map(|e| e.to_string());
                out.push(PlaceRemoved {
                    place,
                    failed,
                    kept_for: Vec::new(),
                });
            }
            None => {}
        }
    }
    Ok(out)
}

/// The places vnx made that no dispatch needs any more: those whose dispatches all ended
/// given up or landed ([`crate::dispatch::view::place_left_over`]: a cancelled dispatch's volume); with
/// `apply`, each removed as an orphan is (its storage kept when it holds work not here). The
/// hosts whose places could not be listed, each with why, besides.
pub fn left_places(
    desk: &Desk<'_>,
    apply: bool,
) -> Result<(Vec<remote::orphans::Cleared>, Vec<String>), ActionError> {
    let ctx = desk.ctx;
    let hosts = ctx.project.load_config()?.hosts;
    if !hosts.values().any(remote::kinds::per_dispatch) {
        return Ok((Vec::new(), Vec::new()));
    }
    let states = desk.states()?;
    let data = ctx.project.data_dir();
    let here = ctx.here(&data);
    let (found, failed) = remote::orphans::orphans(&hosts, here, |place| {
        crate::dispatch::view::place_left_over(&states, place)
    });
    let mut places: Vec<_> = (found.into_iter())
        .filter(|f| f.ended.is_some())
        .map(remote::orphans::Cleared::found)
        .collect();
    if apply {
        for place in &mut places {
            place.remove(&hosts, here, &ctx.project.root);
        }
    }
    let unlisted = (failed.into_iter())
        .map(|(host, e)| format!("{host}: {e}"))
        .collect();
    Ok((places, unlisted))
}

/// Removes the place named `place`, which vnx made, and the work it held.
fn remove(desk: &Desk<'_>, place: &PlaceName) -> Result<(), ActionError> {
    link(desk, place)?.place.remove()?;
    Ok(())
}

/// The link to the place named `place`, as the project's hosts declare it.
fn link<'a>(desk: &Desk<'a>, place: &PlaceName) -> Result<Link<'a>, ActionError> {
    let ctx = desk.ctx;
    let hosts = ctx.project.load_config()?.hosts;
    Ok(Link {
        project: ctx.project,
        ledger: ctx.ledger,
        attestor: ctx.attestor,
        place: remote::kinds::open(&hosts, place, ctx.here(&ctx.project.data_dir()))?,
    })
}

#[cfg(test)]
mod tests {
    use super::with_project_sandbox;
    use crate::remote::RemoteRequest;

    fn request(args: &[&str], follows: Option<&str>) -> RemoteRequest {
        RemoteRequest {
            id: None,
            base_ref: "HEAD".into(),
            base_commit: None,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            follows: follows.map(str::to_owned),
            dispatcher: None,
        }
    }

    fn sandboxed(on: bool) -> crate::config::Config {
        let text = format!("version: 1\nsandbox: {{enabled: {on}}}\n");
        crate::config::parse(&text, std::path::Path::new("c.yaml")).expect("a config")
    }

    #[test]
    fn a_host_dispatch_gets_the_projects_sandbox_unless_it_chose() {
        let mut r = request(&["--instruction", "go"], None);
        with_project_sandbox(&sandboxed(true), &mut r);
        assert_eq!(r.args, ["--instruction", "go", "--sandbox"]);
        let mut r = request(&["--instruction", "go"], None);
        with_project_sandbox(&sandboxed(false), &mut r);
        assert_eq!(r.args, ["--instruction", "go", "--no-sandbox"]);
        // Chosen: kept as chosen.
        let mut r = request(&["--no-sandbox", "--instruction", "go"], None);
        with_project_sandbox(&sandboxed(true), &mut r);
        assert_eq!(r.args, ["--no-sandbox", "--instruction", "go"]);
        // An instruction that reads `--sandbox` chooses nothing.
        let mut r = request(&["--instruction", "--sandbox"], None);
        with_project_sandbox(&sandboxed(false), &mut r);
        assert_eq!(r.args, ["--instruction", "--sandbox", "--no-sandbox"]);
        // A follow-up keeps its dispatch's.
        let mut r = request(&["--instruction", "go"], Some("d1"));
        with_project_sandbox(&sandboxed(true), &mut r);
        assert_eq!(r.args, ["--instruction", "go"]);
    }
}
