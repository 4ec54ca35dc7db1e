//! A notice's signed link answers the real CLIs (ADR 0090): claude's, codex's and gemini's
//! TUIs asking before their commit are noticed through the real curl, and the approve link,
//! followed as `vnx serve` follows it, lets each go on to done with its work committed; the
//! link followed again is refused as used.

use std::time::Duration;

use vnx::actions::link::{Redeemed, Refusal, redeem};
use vnx::notice::{self, LinkKey};

use super::{Rig, asks_before_committing, step, within};
use crate::common::{ledger_path, run};
use crate::notice_links::{at_desk, listener};

#[test]
#[ignore = "needs the real claude, codex and gemini (~740 MB from npm, tests/support/install-clis.sh)"]
fn a_notices_approve_link_lets_a_real_cli_go_on() {
    let rig = Rig::new();
    let (port, took) = listener(200);
    // The address kept outside the repository, as only such an address gets links (ADR 0104).
    let kept = rig.repo.env.home().join(".config/vnx/hook");
    std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
    std::fs::write(&kept, format!("http://127.0.0.1:{port}/hook\n")).unwrap();
    let text = "version: 1\nserve:\n  url: https://laptop.example:8787\n  notify:\n    - webhook: file:~/.config/vnx/hook\n";
    let mut serve = vnx::config::parse(text, std::path::Path::new("c"))
        .unwrap()
        .serve;
    serve.notify[0] =
        vnx::notice::address::read_kept(&serve.notify[0], &kept, rig.repo.env.path()).unwrap();
    let data = rig.repo.env.path().join(".vnx-data");
    for cli in ["claude", "codex", "gemini"] {
        let at = step(cli, "interactive", "approved from a notice");
        let marker = format!("{cli} approved from a link");
        let file = format!("{cli}-link.txt");
        let id = rig.detach(
            cli,
            "interactive",
            240,
            &asks_before_committing(cli, &marker, &file),
        );
        let blocked = || {
            ledger_path(&rig.repo).exists()
                && rig
                    .repo
                    .receipts(&id)
                    .iter()
                    .any(|r| r["event_type"] == "dispatch_blocked")
        };
        assert!(within(180, blocked), "{at} never blocked");
        let key = LinkKey::load_or_create(&data).unwrap();
        let now = jiff::Timestamp::now();
        let sent = at_desk(&rig.repo, |desk| {
            let states = desk.states().unwrap();
            notice::send_due(&data, &states, &serve, &key, now, Duration::from_secs(20)).unwrap()
        });
        let n = sent
            .iter()
            .map(|s| &s.notice)
            .find(|n| n.dispatch.as_str() == id && n.state == "blocked")
            .unwrap_or_else(|| panic!("{at} no notice: {sent:?}"));
        // Each notice of this round was posted (the dispatch before this one's `done` too).
        let posted: Vec<_> = (0..sent.len())
            .map(|_| took.recv_timeout(Duration::from_secs(20)).unwrap())
            .collect();
        assert!(
            posted
                .iter()
                .any(|p| p.body["dispatch_id"] == id.as_str() && p.body["state"] == "blocked"),
            "{at} {posted:?}"
        );
        let approve = n.approve.as_deref().unwrap();
        let token = approve.rsplit('/').next().unwrap();
        at_desk(&rig.repo, |desk| {
            let done = redeem(desk, &key, token, now).unwrap();
            assert!(matches!(done, Redeemed::Answered { .. }), "{at} {done:?}");
            let again = redeem(desk, &key, token, now).unwrap();
            assert!(
                matches!(again, Redeemed::Refused(Refusal::AlreadyUsed { .. })),
                "{at} {again:?}"
            );
        });
        let r = run(rig.vnx().args(["wait", "--timeout", "200", &id]));
        assert!(
            r.stdout.contains(&format!("{id}  done")),
            "{at} {}{}",
            r.stdout,
            r.stderr
        );
        assert_eq!(
            rig.repo.on_branch(&id, &file),
            format!("{marker}\n"),
            "{at}"
        );
        let answered: Vec<_> = rig
            .repo
            .receipts(&id)
            .into_iter()
            .filter(|r| r["event_type"] == "dispatch_answered")
            .collect();
        assert_eq!(answered.len(), 1, "{at} {answered:?}");
        assert_eq!(answered[0]["by"], "phone", "{at}");
    }
    rig.repo.verify_ok();
}
