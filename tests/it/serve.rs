//! `vnx serve` over real HTTP: nobody gets in without pairing (a wrong code five times closes
//! pairing, a code pairs once), a paired device's page lists what needs a person first with
//! worker text escaped, every change needs the device's anti-forgery value from the page's own
//! origin on a host the server answers for, the page's actions are the commands' (a question
//! answered in a follow-up, a blocked worker approved, a merge), each receipt names the
//! device, a refusal reads as one with the command's hint, the list tells a plan from a
//! question from a stopped worker, a revoked device is out at once, and an open page hears of
//! a ledger change. Its connections and pairing under load and abuse: `limits`; only the
//! answers the library would take offered: `refusals`.

mod limits;
mod refusals;

use std::time::Duration;

use crate::common::serve::Server;
use crate::common::{Fakes, Repo, configure, run, wait_for};

/// A title a worker could not choose, but a person pasting an issue could.
const HOSTILE: &str = "<script>alert(1)</script> \u{1b}[31m\"quoted\" & <img src=x onerror=y>";

#[test]
fn nobody_gets_in_without_pairing_and_a_code_pairs_once() {
    let repo = Repo::new();
    let mut server = Server::start(repo.vnx(), &[]);
    let r = server.get("/", None);
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/pair")),
        "{r:?}"
    );
    let id = repo.dispatched("ask", false);
    let r = server.post(&format!("/d/{id}"), &[("action", "dismiss")], None, None);
    assert_eq!(r.status, 401, "{r:?}");
    // A forged cookie of the right form is no device.
    let forged = format!("vnx_device={}", "a".repeat(64));
    assert_eq!(server.get("/", Some(&forged)).status, 303);

    let cookie = server.pair("phone");
    assert_eq!(server.get("/", Some(&cookie)).status, 200);
    // The same code again pairs nothing.
    let again = server.post("/pair", &[("code", &server.code.clone())], None, None);
    assert_eq!(again.status, 403, "{again:?}");
    assert!(again.body.contains("was used"), "{}", again.body);

    // Five wrong codes close pairing, even for the right one after.
    server.new_code();
    for _ in 0..5 {
        let r = server.post("/pair", &[("code", "AAAA-AAAA")], None, None);
        assert_eq!(r.status, 403);
    }
    let r = server.post("/pair", &[("code", &server.code.clone())], None, None);
    assert!(r.body.contains("too many wrong codes"), "{}", r.body);
    server.wait_for("was refused: too many wrong codes");
    // The device's token is not in any URL it was given, nor in the terminal.
    let token = cookie.split('=').nth(1).unwrap();
    assert!(!server.said.iter().any(|l| l.contains(token)));
}

#[test]
fn changes_need_the_pages_value_its_origin_and_a_known_host() {
    let repo = Repo::new();
    let id = repo.dispatched("ask", false);
    let server = Server::start(repo.vnx(), &[]);
    let cookie = server.pair("desk");
    let page = server.get(&format!("/d/{id}"), Some(&cookie));
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let dismiss = |csrf: &str, origin: Option<&str>| {
        let form = [("action", "dismiss"), ("csrf", csrf)];
        server.post(&format!("/d/{id}"), &form, Some(&cookie), origin)
    };
    assert_eq!(dismiss("", None).status, 403);
    assert_eq!(dismiss(&"0".repeat(32), None).status, 403);
    assert_eq!(dismiss(&csrf, Some("http://evil.example")).status, 403);
    // A name that resolves to loopback, from another site's page: not answered.
    let host = [("Host", "evil.example")];
    let r = server.request("GET", "/", Some(&cookie), &host, "");
    assert_eq!(r.status, 421, "{r:?}");
    assert!(
        repo.events("dispatch_dismissed").is_empty(),
        "nothing was dismissed yet"
    );
    // Every response says how it may be used.
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.header("cache-control"), Some("no-store"));

    let r = dismiss(&csrf, None);
    assert_eq!(r.status, 303, "{r:?}");
    let said = r.header("location").unwrap();
    assert!(said.contains("vnx%20dismiss"), "{said}");
    let dismissed = repo.events("dispatch_dismissed");
    assert_eq!(dismissed.len(), 1);
    let by = dismissed[0]["by"].as_str().unwrap();
    assert!(
        by.contains("via desk (dev-"),
        "the receipt names the device: {by}"
    );
}

#[test]
fn the_list_puts_what_needs_you_first_and_escapes_worker_text() {
    let repo = Repo::new();
    let done = repo.dispatched("commit", false);
    // It ends needs_input: a negative verdict.
    let r = repo.dispatch("ask", &["--instruction", HOSTILE]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let server = Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    let list = server.get("/", Some(&cookie)).body;
    let needs = list.find("Needs you").unwrap();
    let rest = list.find("The rest").unwrap();
    let asks = list.find("needs_input").unwrap();
    let ended = list.find(&format!("/d/{done}")).unwrap();
    assert!(needs < asks && asks < rest && rest < ended, "{list}");
    let main = &list[list.find("<main>").unwrap()..];
    for bad in ["<script", "<img", "\u{1b}"] {
        assert!(!main.contains(bad), "{bad:?} in {main}");
    }
    assert!(
        list.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{list}"
    );

    // The dispatch page: its diff per file, numbered and anchored, and its receipts.
    let page = server.get(&format!("/d/{done}"), Some(&cookie)).body;
    assert!(
        page.contains("<summary>demo-output.txt</summary>"),
        "{page}"
    );
    assert!(
        page.contains("data-file=\"demo-output.txt\" data-line=\"1\""),
        "{page}"
    );
    assert!(page.contains("dispatch_completed"), "{page}");
    assert!(
        page.contains("value=\"merge\""),
        "a done dispatch offers its merge"
    );
    assert_eq!(
        server.get("/d/not-an-id", Some(&cookie)).status,
        404,
        "an id that is none"
    );
}

#[test]
fn a_question_answered_from_the_page_goes_on_in_a_follow_up_and_a_merge_lands() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let asked = repo.dispatched("ask", false);
    let done = repo.dispatched("commit", false);
    let server = Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    let csrf = server.get("/", Some(&cookie)).csrf();
    let answer = [
        ("action", "answer"),
        ("csrf", &csrf),
        ("message", "English, please"),
    ];
    let r = server.post(&format!("/d/{asked}"), &answer, Some(&cookie), None);
    assert_eq!(r.status, 303, "{r:?}");
    assert!(
        r.header("location").unwrap().contains("started%20D-"),
        "{r:?}"
    );
    let follow = repo
        .events("dispatch_started")
        .into_iter()
        .find(|s| s["continues"]["dispatch_id"].as_str() == Some(asked.as_str()))
        .expect("a follow-up continues the question");
    let by = follow["started_by"].as_str().unwrap();
    assert!(by.contains("via phone (dev-"), "{follow}");

    // Its gates from the page (which anchors a checkpoint, as `gate-check` does), then its
    // merge.
    let gates = [("action", "gate-check"), ("csrf", &csrf)];
    let r = server.post(&format!("/d/{done}"), &gates, Some(&cookie), None);
    assert!(r.header("location").unwrap().contains("GO"), "{r:?}");
    let merge = [("action", "merge"), ("csrf", &csrf)];
    let r = server.post(&format!("/d/{done}"), &merge, Some(&cookie), None);
    let said = r.header("location").unwrap().to_owned();
    assert!(said.contains("%3A%20ok%3A"), "{said}");
    let merged = repo.events("merge_completed");
    assert_eq!(merged.len(), 1, "{said}");
    repo.verify_ok();
}

#[test]
fn a_blocked_worker_is_approved_from_the_page_and_the_receipt_names_the_device() {
    let repo = Repo::new();
    let fakes = Fakes::new();
    let id = repo.dispatched_asking_claude(&fakes);
    let blocked = || run(repo.vnx().args(["wait", "--until-blocked", &id])).code == 1;
    assert!(wait_for(blocked), "it blocks");
    let server = Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    let list = server.get("/", Some(&cookie));
    assert!(
        list.body.contains("value=\"approve\""),
        "a quick approve: {}",
        list.body
    );
    // Its row's own buttons answer it: what it waits for, not the terminal's commands.
    assert!(
        list.body.contains("waits for permission: ") && !list.body.contains("(answer: vnx"),
        "{}",
        list.body
    );
    let page = server.get(&format!("/d/{id}"), Some(&cookie)).body;
    assert!(
        page.contains("Waits for you") && page.contains("git commit"),
        "{page}"
    );
    // The page's own buttons answer it: not the terminal's commands.
    assert!(!page.contains("(answer: vnx approve"), "{page}");
    let form = [("action", "approve"), ("csrf", &list.csrf())];
    let r = server.post(&format!("/d/{id}"), &form, Some(&cookie), None);
    assert!(r.header("location").unwrap().contains("approved"), "{r:?}");
    let answered = repo.events("dispatch_answered");
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0]["answer"], "approve");
    assert!(
        answered[0]["by"]
            .as_str()
            .unwrap()
            .contains("via phone (dev-")
    );
    let done = || {
        run(repo.vnx().args(["status", "--state", "done", &id]))
            .stdout
            .contains(&id)
    };
    assert!(wait_for(done), "the worker went on and finished");
}

#[test]
fn a_revoked_device_is_out_at_once_and_an_open_page_hears_of_changes() {
    let repo = Repo::new();
    let server = Server::start(repo.vnx(), &[]);
    let cookie = server.pair("old phone");
    let listed = run(repo.vnx().args(["serve", "--devices", "--json"]));
    let devices: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(devices[0]["name"], "old phone", "{devices}");
    assert!(!listed.stdout.contains(cookie.split('=').nth(1).unwrap()));

    server.events_until(&cookie, "event: change", Duration::from_secs(30), || {
        repo.dispatched("noop", false);
    });

    let r = run(repo.vnx().args(["serve", "--revoke", "old phone"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(server.get("/", Some(&cookie)).status, 303);
    let r = run(repo.vnx().args(["serve", "--revoke", "old phone"]));
    assert_eq!(r.code, 2, "no such device now: {}", r.stderr);
}

#[test]
fn listening_beyond_loopback_needs_the_flag_that_says_the_risk() {
    let repo = Repo::new();
    let r = run(repo.vnx().args(["serve", "--listen", "0.0.0.0:0"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--expose"), "{}", r.stderr);
}

#[test]
fn a_notice_is_posted_and_its_link_approves_once_through_the_server() {
    let Some((repo, took)) = notifying("") else {
        return;
    };
    let fakes = Fakes::new();
    let id = repo.dispatched_asking_claude(&fakes);
    let blocked = || run(repo.vnx().args(["wait", "--until-blocked", &id])).code == 1;
    assert!(wait_for(blocked), "it blocks");
    let mut server = Server::start(repo.vnx(), &[]);
    // The server posts what needs a person once it starts (and after each change).
    let Ok(notice) = took.recv_timeout(Duration::from_secs(30)) else {
        server.wait_for("(nothing: show what it said)");
        unreachable!()
    };
    assert_eq!(notice.body["dispatch_id"], id.as_str());
    let approve = notice.body["approve"].as_str().unwrap();
    let path = approve
        .strip_prefix("http://localhost:1")
        .unwrap()
        .to_owned();
    assert!(path.starts_with("/l/"), "{approve}");

    // A look (what a chat app's preview does) changes nothing and offers the button.
    let look = server.get(&path, None);
    assert_eq!(look.status, 200, "{look:?}");
    assert!(
        look.body.contains("approve") && look.body.contains("git commit"),
        "{}",
        look.body
    );
    assert!(repo.events("dispatch_answered").is_empty());
    // No device and no page value: the link is the credential, good once.
    let r = server.post(&path, &[], None, None);
    assert_eq!(r.status, 200, "{r:?}");
    let answered = repo.events("dispatch_answered");
    assert_eq!(answered.len(), 1);
    assert!(
        answered[0]["by"]
            .as_str()
            .unwrap()
            .contains("via a notification link")
    );
    let again = server.post(&path, &[], None, None);
    assert_eq!(again.status, 409, "{again:?}");
    assert!(again.body.contains("used"), "{}", again.body);
    let forged = server.post(&format!("{path}x"), &[], None, None);
    assert_eq!(forged.status, 409, "{forged:?}");
    assert_eq!(repo.events("dispatch_answered").len(), 1);
}

#[test]
fn a_diff_line_commented_on_the_page_is_sent_to_the_worker() {
    let repo = Repo::new();
    let done = repo.dispatched("commit", false);
    let server = Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    let page = server.get(&format!("/d/{done}"), Some(&cookie));
    assert!(page.body.contains("id=\"comment-form\""), "{}", page.body);
    let csrf = page.csrf();
    let said = "Name the hash's algorithm: <b>sha256</b>";
    let comment = [
        ("action", "comment"),
        ("csrf", csrf.as_str()),
        ("file", "demo-output.txt"),
        ("line", "2"),
        ("message", said),
    ];
    let r = server.post(&format!("/d/{done}"), &comment, Some(&cookie), None);
    assert!(r.header("location").unwrap().contains("recorded"), "{r:?}");
    let comments = repo.events("review_comment");
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0]["body"], said);
    assert!(
        comments[0]["by"]
            .as_str()
            .unwrap()
            .contains("via phone (dev-")
    );
    // A line not in the diff is refused, in words.
    let mut off = comment;
    off[3] = ("line", "99");
    let r = server.post(&format!("/d/{done}"), &off, Some(&cookie), None);
    assert!(
        r.header("location")
            .unwrap()
            .contains("is%20not%20a%20line"),
        "{r:?}"
    );

    let page = server.get(&format!("/d/{done}"), Some(&cookie)).body;
    assert!(page.contains("<code>demo-output.txt:2</code>"), "{page}");
    assert!(page.contains("&lt;b&gt;sha256&lt;/b&gt;") && !page.contains("<b>sha256"));
    let send = [("action", "send-review"), ("csrf", csrf.as_str())];
    let r = server.post(&format!("/d/{done}"), &send, Some(&cookie), None);
    assert!(
        r.header("location").unwrap().contains("started%20D-"),
        "{r:?}"
    );
    let sent = repo.events("review_sent");
    assert_eq!(sent.len(), 1);
    let follow = sent[0]["follow_up"].as_str().unwrap().to_owned();
    let prompt = std::fs::read_to_string(
        repo.env
            .path()
            .join(format!(".vnx-data/dispatches/{follow}/prompt.md")),
    )
    .unwrap();
    assert!(
        prompt.contains(said) && prompt.contains("demo-output.txt"),
        "{prompt}"
    );
}

#[test]
fn a_plan_is_approved_from_the_page_bound_to_the_plan_it_showed() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let c = crate::common::completion(
        &repo.dispatch("commit", &["--plan", "--instruction", "add a greeting"]),
    );
    assert_eq!(c["status"], "needs_input", "{c}");
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let server = Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    let page = server.get(&format!("/d/{id}"), Some(&cookie));
    assert!(
        page.body.contains("Its plan waits for you"),
        "{}",
        page.body
    );
    let at = page.body.find("name=\"plan_sha256\" value=\"").unwrap() + 26;
    let sha = page.body[at..].split('"').next().unwrap().to_owned();
    assert_eq!(sha.len(), 64, "{sha}");
    let csrf = page.csrf();
    // A hash that is not the plan's (the plan changed since the page was drawn): refused.
    let stale = [
        ("action", "approve-plan"),
        ("csrf", csrf.as_str()),
        ("plan_sha256", &"0".repeat(64)),
    ];
    let r = server.post(&format!("/d/{id}"), &stale, Some(&cookie), None);
    assert!(
        r.header("location").unwrap().contains("%3A%20no%3A"),
        "{r:?}"
    );
    assert!(repo.events("plan_approved").is_empty());

    let approve = [
        ("action", "approve-plan"),
        ("csrf", csrf.as_str()),
        ("plan_sha256", sha.as_str()),
    ];
    let r = server.post(&format!("/d/{id}"), &approve, Some(&cookie), None);
    assert!(
        r.header("location").unwrap().contains("%3A%20ok%3A"),
        "{r:?}"
    );
    let approved = repo.events("plan_approved");
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["plan_sha256"], sha.as_str());
    assert!(
        approved[0]["by"]
            .as_str()
            .unwrap()
            .contains("via phone (dev-")
    );
}

#[test]
fn a_plan_is_approved_from_a_notices_link() {
    let Some((repo, took)) = notifying("roles:\n  implementer: {gates: []}\n") else {
        return;
    };
    let c = crate::common::completion(
        &repo.dispatch("commit", &["--plan", "--instruction", "add a greeting"]),
    );
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    let server = Server::start(repo.vnx(), &[]);
    let notice = took
        .recv_timeout(Duration::from_secs(30))
        .expect("a notice");
    assert_eq!(notice.body["dispatch_id"], id.as_str());
    assert!(
        notice.body["title"]
            .as_str()
            .unwrap()
            .contains("has a plan to approve"),
        "{:?}",
        notice.body
    );
    let approve = notice.body["approve"].as_str().expect("an approve link");
    let path = approve
        .strip_prefix("http://localhost:1")
        .unwrap()
        .to_owned();
    let look = server.get(&path, None);
    assert!(look.body.contains("the plan (sha256"), "{}", look.body);
    let r = server.post(&path, &[], None, None);
    assert_eq!(r.status, 200, "{r:?}");
    let approved = repo.events("plan_approved");
    assert_eq!(approved.len(), 1);
    assert!(
        approved[0]["by"]
            .as_str()
            .unwrap()
            .contains("via a notification link")
    );
    // The deny link of the same notice now finds nothing waiting.
    let deny = notice.body["deny"].as_str().unwrap();
    let deny = deny.strip_prefix("http://localhost:1").unwrap();
    assert_eq!(server.post(deny, &[], None, None).status, 409);
    assert!(repo.events("plan_denied").is_empty());
}

/// A project whose `vnx serve` posts its notices to a webhook here (config `more` besides),
/// and what that webhook takes; `None` (said) without curl.
fn notifying(more: &str) -> Option<(Repo, std::sync::mpsc::Receiver<crate::notice_links::Took>)> {
    if !crate::notice_links::curl_here() {
        return None;
    }
    let (port, took) = crate::notice_links::listener(200);
    let repo = Repo::new();
    let address = format!("http://127.0.0.1:{port}/hook");
    // The address is kept outside the repository, where workers do not read it (`file:~/…`,
    // the test's own home): only such an address gets links (ADR 0104).
    let kept = repo.env.home().join(".config/vnx/hook");
    std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
    std::fs::write(&kept, format!("{address}\n")).unwrap();
    let serve =
        "serve:\n  url: http://localhost:1\n  notify:\n    - webhook: file:~/.config/vnx/hook\n";
    configure(&repo, &format!("{more}{serve}"));
    Some((repo, took))
}

#[test]
fn a_new_projects_first_merge_from_the_page_makes_the_checkpoint_it_needs() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let done = repo.dispatched("commit", false);
    let server = Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    let csrf = server.get("/", Some(&cookie)).csrf();
    // No gate to run, so nothing anchored the ledger yet: the merge makes its first
    // checkpoint (after the ledger verified), then merges.
    let merge = [("action", "merge"), ("csrf", csrf.as_str())];
    let r = server.post(&format!("/d/{done}"), &merge, Some(&cookie), None);
    let said = r.header("location").unwrap().to_owned();
    assert!(
        said.contains("%3A%20ok%3A") && said.contains("ok=1"),
        "{said}"
    );
    assert_eq!(repo.events("merge_completed").len(), 1, "{said}");
    repo.verify_ok();
}

#[test]
fn a_refused_merge_reads_as_a_refusal_with_the_hint_vnx_merge_prints() {
    let repo = Repo::new();
    configure(
        &repo,
        "gates:\n  strict: {kind: command, argv: [sh, -c, 'exit 1']}\nroles:\n  implementer: {gates: [strict]}\n",
    );
    let done = repo.dispatched("commit", false);
    let server = Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    let csrf = server.get("/", Some(&cookie)).csrf();
    let merge = [("action", "merge"), ("csrf", csrf.as_str())];
    let r = server.post(&format!("/d/{done}"), &merge, Some(&cookie), None);
    let back = r.header("location").unwrap().to_owned();
    assert!(
        back.contains("%3A%20no%3A") && back.contains("ok=0"),
        "{back}"
    );
    assert!(repo.events("merge_completed").is_empty());
    let page = server.get(&back, Some(&cookie)).body;
    let alert = page
        .find("<div class=\"said bad\" role=\"alert\">")
        .unwrap_or_else(|| panic!("the refusal is an alert: {page}"));
    let alert = &page[alert..page[alert..].find("</div>").unwrap() + alert];
    assert!(alert.contains("gates_passed"), "{alert}");
    // The hint is the library's, as `vnx merge` prints it.
    let cli = crate::common::run(repo.vnx().args(["merge", &done]));
    let hint = cli
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("hint: "))
        .unwrap_or_else(|| panic!("vnx merge gives a hint: {}", cli.stderr));
    assert!(
        alert.contains(&format!("hint: {}", crate::common::serve::html_text(hint))),
        "{alert}\nvs {hint}"
    );
    // A done action is a status, not an alert.
    let ok = format!("/d/{done}?said=vnx%20gate-check%3A%20ok&ok=1");
    let page = server.get(&ok, Some(&cookie)).body;
    assert!(
        page.contains("<p class=\"said ok\" role=\"status\">"),
        "{page}"
    );
}

#[test]
fn the_list_tells_a_plan_from_a_question_from_a_stopped_worker_and_approves_the_plan() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let c = crate::common::completion(
        &repo.dispatch("commit", &["--plan", "--instruction", "add a greeting"]),
    );
    let planned = c["dispatch_id"].as_str().unwrap().to_owned();
    let asked = crate::common::completion(&repo.dispatch("ask", &["--instruction", "x"]));
    let asked = asked["dispatch_id"].as_str().unwrap().to_owned();
    let stopped = crate::common::completion(&repo.dispatch("forget", &["--instruction", "x"]));
    let stopped = stopped["dispatch_id"].as_str().unwrap().to_owned();
    let server = Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    let list = server.get("/", Some(&cookie));
    let row = |id: &str| {
        let at = list.body.find(&format!("href=\"/d/{id}\"")).unwrap();
        let end = list.body[at..].find("</li>").unwrap() + at;
        list.body[at..end].to_owned()
    };
    assert!(
        row(&planned).contains("<span class=\"badge\">plan waits</span>"),
        "{}",
        row(&planned)
    );
    assert!(
        row(&asked).contains("<span class=\"badge\">question</span>"),
        "{}",
        row(&asked)
    );
    assert!(
        row(&stopped).contains("<span class=\"badge\">stopped</span>"),
        "{}",
        row(&stopped)
    );
    // The plan's row approves it, bound to the plan it lists.
    let plan_row = row(&planned);
    assert!(plan_row.contains("value=\"deny-plan\""), "{plan_row}");
    let at = plan_row.find("name=\"plan_sha256\" value=\"").unwrap() + 26;
    let sha = plan_row[at..].split('"').next().unwrap().to_owned();
    let csrf = list.csrf();
    let approve = [
        ("action", "approve-plan"),
        ("csrf", csrf.as_str()),
        ("plan_sha256", sha.as_str()),
    ];
    let r = server.post(&format!("/d/{planned}"), &approve, Some(&cookie), None);
    assert!(r.header("location").unwrap().contains("ok=1"), "{r:?}");
    let approved = repo.events("plan_approved");
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["plan_sha256"], sha.as_str());
}
