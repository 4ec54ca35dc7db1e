//! `vnx serve` offers only the answers the library would take: a plan whose planning turn
//! changed files gets no Approve, in its row of the list or on its page, but the library's
//! refusal in its place and Send back; a planning worker's permission prompt gets Deny and
//! the refusal, not Approve; a prompt the list answers is said without the terminal's
//! `(answer: vnx approve …)`.

use crate::common::serve::Server;
use crate::common::{Fakes, Repo, configure, run, wait_for};

/// The list item of dispatch `id` in the list page `body`.
fn row(body: &str, id: &str) -> String {
    let at = body
        .find(&format!("href=\"/d/{id}\""))
        .unwrap_or_else(|| panic!("{id} is not listed: {body}"));
    let start = body[..at].rfind("<li").unwrap();
    let end = body[at..].find("</li>").unwrap() + at;
    body[start..end].to_owned()
}

#[test]
fn a_plan_whose_planning_changed_files_gets_no_approve_on_the_list_or_its_page() {
    let repo = Repo::new();
    // A declared CLI with no plan mode, whose worker edits anyway: it commits a file during
    // its planning turn, then says a plan whose words try to script the page.
    let bin = repo.env.home().join("hostile-planner");
    std::fs::write(
        &bin,
        "#!/bin/sh\necho sneaked > committed.txt\ngit add committed.txt\n\
         git -c user.name=w -c user.email=w@example.com commit -qm sneaked\n\
         printf 'Plan: change nothing <script>alert(1)</script>\\n'\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    configure(
        &repo,
        &format!(
            "roles:\n  implementer: {{gates: []}}\nproviders:\n  planner:\n    binary: {}\n    \
             headless:\n      argv: [\"{{prompt}}\"]\n    permissions:\n      ask: []\n      \
             edits: []\n",
            bin.display()
        ),
    );
    let r = run(repo.vnx().args([
        "dispatch-agent",
        "--agent",
        "implementer",
        "--provider",
        "planner",
        "--plan",
        "--json",
        "--instruction",
        "add a greeting",
    ]));
    let c = crate::common::completion(&r);
    assert_eq!(c["status"], "needs_input", "{c}");
    let id = c["dispatch_id"].as_str().unwrap().to_owned();
    // A plan that changed nothing, beside it: its row keeps its Approve.
    let clean = crate::common::completion(
        &repo.dispatch("commit", &["--plan", "--instruction", "plan a greeting"]),
    );
    let clean = clean["dispatch_id"].as_str().unwrap().to_owned();

    let server = Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    let list = server.get("/", Some(&cookie)).body;
    let changed = row(&list, &id);
    assert!(
        changed.contains("<span class=\"badge\">plan waits</span>"),
        "{changed}"
    );
    let refusal = format!(
        "<p class=\"refused\" role=\"alert\">the plan of {id} is not approved: its planning \
         changed files: it moved its branch from"
    );
    assert!(changed.contains(&refusal), "{changed}");
    assert!(!changed.contains("value=\"approve-plan\""), "{changed}");
    assert!(changed.contains("value=\"deny-plan\""), "{changed}");
    let kept = row(&list, &clean);
    assert!(kept.contains("value=\"approve-plan\""), "{kept}");
    assert!(!kept.contains("class=\"refused\""), "{kept}");

    let page = server.get(&format!("/d/{id}"), Some(&cookie)).body;
    assert!(page.contains("Its plan waits for you"), "{page}");
    assert!(page.contains(&refusal), "{page}");
    assert!(!page.contains("value=\"approve-plan\""), "{page}");
    assert!(page.contains("value=\"deny-plan\""), "{page}");
    assert!(
        page.contains("change nothing &lt;script&gt;alert(1)&lt;/script&gt;")
            && !page.contains("<script>alert"),
        "{page}"
    );
    // Sending it back is what the page offers, and it works.
    let at = page.find("name=\"plan_sha256\" value=\"").unwrap() + 26;
    let sha = page[at..].split('"').next().unwrap().to_owned();
    let csrf = server.get("/", Some(&cookie)).csrf();
    let deny = [
        ("action", "deny-plan"),
        ("csrf", csrf.as_str()),
        ("plan_sha256", sha.as_str()),
    ];
    let r = server.post(&format!("/d/{id}"), &deny, Some(&cookie), None);
    assert!(r.header("location").unwrap().contains("ok=1"), "{r:?}");
    assert_eq!(repo.events("plan_denied").len(), 1);
    assert!(repo.events("plan_approved").is_empty());
}

#[test]
fn a_planning_workers_prompt_is_denied_from_the_list_never_approved() {
    let repo = Repo::new();
    configure(&repo, "roles:\n  implementer: {gates: []}\n");
    let fakes = Fakes::new();
    // codex in its TUI, planning, asks before it writes (as the real one does).
    let mut cmd = repo.vnx();
    cmd.env("PATH", fakes.path())
        .env("VNX_FAKE_LOG_DIR", fakes.log_dir())
        .args([
            "dispatch-agent",
            "--agent",
            "implementer",
            "--detach",
            "--plan",
        ])
        .args([
            "--provider",
            "codex",
            "--lane",
            "interactive",
            "--deadline",
            "60",
        ])
        .args([
            "--instruction",
            "@fake write early.txt too soon\n@fake say Plan: none",
        ]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = r.stdout.trim().to_owned();
    let blocked = || run(repo.vnx().args(["wait", "--until-blocked", &id])).code == 1;
    assert!(wait_for(blocked), "it asks");

    let server = Server::start(repo.vnx(), &[]);
    let cookie = server.pair("phone");
    let list = server.get("/", Some(&cookie));
    let asking = row(&list.body, &id);
    assert!(
        asking.contains(&format!(
            "<p class=\"refused\" role=\"alert\">dispatch {id} is planning: a planning turn \
             changes nothing"
        )),
        "{asking}"
    );
    assert!(!asking.contains("value=\"approve\""), "{asking}");
    assert!(asking.contains("value=\"deny\""), "{asking}");
    // What it waits for, without the terminal's way to answer it.
    assert!(asking.contains("waits for permission: "), "{asking}");
    assert!(!asking.contains("(answer: vnx"), "{asking}");
    let csrf = list.csrf();
    let deny = [("action", "deny"), ("csrf", csrf.as_str())];
    let r = server.post(&format!("/d/{id}"), &deny, Some(&cookie), None);
    assert!(r.header("location").unwrap().contains("ok=1"), "{r:?}");
    let answered = repo.events("dispatch_answered");
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0]["answer"], "deny");
}
