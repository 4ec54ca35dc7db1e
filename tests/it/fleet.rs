//! A fleet of hosts under faults (issue 52): three podman containers running sshd on loopback
//! ports, declared as `hosts:` of capacity 2, take 30 demo dispatches for `--host any` —
//! placed by capacity, the rest queued, none refused — while one host is killed mid-dispatch
//! and restarted, one paused, one cut off (port 22 dropped in its network namespace); every
//! host line mirrored and verified, every done dispatch's branch here, a lost dispatch `lost`
//! and `resume`/`recover` treating it as the reference says, one its host runs still when it
//! answers again running again here, a dead host passed over, and a host showing two
//! histories caught. The same through container places (`podman exec`, no
//! sshd), smaller. Needs podman and mmdebstrap, so `#[ignore]`d.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::fleet::Fleet;
use crate::common::{Repo, run};

/// `vnx status --all --json` (which drains the queue and catches up with the hosts).
fn statuses(repo: &Repo) -> Vec<Value> {
    let r = run(repo.vnx().args(["status", "--all", "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    serde_json::from_str::<Value>(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
        .as_array()
        .unwrap()
        .clone()
}

/// How many dispatches of `list` read each status (a place listed beside them, `orphan`, is
/// no dispatch).
fn tally(list: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for s in list.iter().filter(|s| s["orphan"] != true) {
        *out.entry(s["status"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    out
}

fn status_of<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter()
        .find(|s| s["dispatch_id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list:#?}"))
}

/// Polls `status` until `done` holds of its list (at most `limit`): the last list.
fn settle(repo: &Repo, what: &str, limit: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let t0 = Instant::now();
    loop {
        let list = statuses(repo);
        if done(&list) {
            eprintln!("fleet: {what} after {:?}: {:?}", t0.elapsed(), tally(&list));
            return list;
        }
        assert!(
            t0.elapsed() < limit,
            "{what}: not after {limit:?}: {:?}\n{list:#?}",
            tally(&list)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A detached dispatch of demo `model` for `--host any`: its id and whether it was queued.
fn dispatch_any(repo: &Repo, model: &str, n: usize) -> (String, bool) {
    let r = run(repo.dispatch_cmd(model).args([
        "--host",
        "any",
        "--detach",
        "--json",
        "--instruction",
        &format!("task {n}"),
    ]));
    assert_eq!(
        r.code, 0,
        "dispatch {n} ({model}): {}{}",
        r.stdout, r.stderr
    );
    let v: Value = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
    (
        v["dispatch_id"].as_str().unwrap().to_owned(),
        v["state"] == "queued",
    )
}

/// `audit-chain verify --json` of the repository's ledger: its exit status and report.
fn verify(repo: &Repo) -> (i32, Value) {
    let r = run(repo.vnx().args(["audit-chain", "verify", "--json"]));
    let v =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
    (r.code, v)
}

/// The host each `admitted` queue decision named, in order.
fn admitted(repo: &Repo) -> Vec<(String, String)> {
    repo.events("queue_decision")
        .iter()
        .filter(|d| d["decision"] == "admitted")
        .map(|d| {
            (
                d["dispatch_id"].as_str().unwrap().to_owned(),
                d["host"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_fleet_of_ssh_hosts_keeps_every_dispatch_through_kill_pause_and_cut() {
    let t0 = Instant::now();
    let fleet = Fleet::new(&["a", "b", "c"], 2, 6);
    let repo = &fleet.repo;
    eprintln!("fleet: three hosts up after {:?}", t0.elapsed());
    // Six slow ones fill the six slots (the freest host first, then by name: a b c a b c);
    // the 24 quick ones after them wait in the hosts' line.
    let mut slow = Vec::new();
    for n in 0..6 {
        let (id, queued) = dispatch_any(repo, "slow", n);
        assert!(!queued, "slow dispatch {n} was queued");
        slow.push(id);
    }
    let quick_models = ["commit", "commit", "ask", "fail"];
    let mut quick = Vec::new();
    for n in 0..24 {
        let model = quick_models[n % 4];
        let (id, queued) = dispatch_any(repo, model, 6 + n);
        assert!(queued, "dispatch {} was not queued", 6 + n);
        quick.push((id, model));
    }
    let list = statuses(repo);
    for (i, id) in slow.iter().enumerate() {
        let s = status_of(&list, id);
        assert_eq!(s["status"], "running", "{s:#}");
        assert_eq!(s["host"], ["a", "b", "c"][i % 3], "{s:#}");
    }
    assert_eq!(tally(&list)["queued"], 24, "{:?}", tally(&list));
    eprintln!(
        "fleet: 30 dispatched (6 running, 24 queued) after {:?}",
        t0.elapsed()
    );

    // Host a is killed mid-dispatch: its two are lost once it has not answered for 6 s.
    fleet.kill("a");
    let list = settle(repo, "a's dispatches lost", Duration::from_secs(60), |l| {
        [&slow[0], &slow[3]]
            .iter()
            .all(|id| status_of(l, id)["status"] == "lost")
    });
    // a has two free slots now, yet nothing is placed there: it does not answer.
    assert_eq!(tally(&list)["queued"], 24, "{:?}", tally(&list));
    assert_eq!(admitted(repo), vec![], "placed while a was dead");

    // b is paused and c cut off: theirs are lost in turn.
    fleet.pause("b");
    fleet.cut("c", true);
    let list = settle(
        repo,
        "b's and c's dispatches lost",
        Duration::from_secs(120),
        |l| slow.iter().all(|id| status_of(l, id)["status"] == "lost"),
    );
    assert_eq!(
        tally(&list)["queued"],
        24,
        "queued, not refused: {:?}",
        tally(&list)
    );
    assert_eq!(admitted(repo), vec![], "placed while no host answered");
    eprintln!(
        "fleet: every host down, 6 lost, 24 queued after {:?}",
        t0.elapsed()
    );

    // b and c answer again: the line drains through them, never onto a, still dead.
    fleet.unpause("b");
    fleet.cut("c", false);
    fleet.wait_answers("b");
    fleet.wait_answers("c");
    // b and c ran their two each all along. Asked after, each runs again here (holding its
    // host's slot), and is then ended: b's from here, c's by c's own user, whose ends the
    // next contact brings.
    let found = [&slow[1], &slow[4], &slow[2], &slow[5]];
    let r = run(repo
        .vnx()
        .args(["status", "--json"])
        .args(found.iter().map(|s| s.as_str())));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("runs again on host"), "{}", r.stderr);
    let list = statuses(repo);
    for id in found {
        assert_eq!(status_of(&list, id)["status"], "running", "{id}");
    }
    for id in [&slow[1], &slow[4]] {
        let r = run(repo.vnx().args(["cancel", id]));
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    }
    for id in [&slow[2], &slow[5]] {
        let r = fleet.exec("c", &["vnx", "cancel", id]);
        assert_eq!(r.code, 0, "cancel on c: {}{}", r.stdout, r.stderr);
    }
    let ended = |l: &[Value], n: usize| {
        quick
            .iter()
            .filter(|(id, _)| {
                !["queued", "running"].contains(&status_of(l, id)["status"].as_str().unwrap())
            })
            .count()
            >= n
    };
    settle(
        repo,
        "8 quick ones ended on b and c",
        Duration::from_secs(180),
        |l| ended(l, 8),
    );
    let before_restart = admitted(repo);
    assert!(
        before_restart.iter().all(|(_, h)| h != "a"),
        "placed on dead a: {before_restart:?}"
    );
    // a restarts: the line is placed on it again.
    fleet.restart("a");
    let list = settle(
        repo,
        "every quick one ended",
        Duration::from_secs(300),
        |l| ended(l, 24),
    );
    let on_a = admitted(repo)
        .iter()
        .skip(before_restart.len())
        .filter(|(_, h)| h == "a")
        .count();
    eprintln!(
        "fleet: {} admitted before a's restart, {on_a} on a after it ({:?})",
        before_restart.len(),
        t0.elapsed()
    );
    assert!(on_a > 0, "nothing placed on a after its restart");
    let t = tally(&list);
    eprintln!("fleet: the quick ones settled: {t:?}");
    for (id, model) in &quick {
        let s = status_of(&list, id);
        let want = match *model {
            "commit" => "done",
            "fail" => "failed",
            _ => "needs_input",
        };
        assert_eq!(s["status"], want, "{model}: {s:#}");
        if *model == "commit" {
            assert!(!repo.on_branch(id, "demo-output.txt").is_empty(), "{id}");
        }
    }

    // A lost dispatch: `recover` sends to its host (its worker never reported there);
    // `resume` closes it here and on its restarted host and continues it there.
    let r = run(repo.vnx().args(["recover", &slow[0]]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("its end is recovered there"),
        "{}",
        r.stderr
    );
    let r = run(repo.vnx().args(["resume", &slow[0]]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let follow = r.stdout.lines().next().unwrap().trim().to_owned();
    assert!(r.stderr.contains("continuing it there"), "{}", r.stderr);
    let list = statuses(repo);
    assert_eq!(status_of(&list, &slow[0])["status"], "cancelled");
    assert_eq!(status_of(&list, &follow)["status"], "running");
    assert_eq!(status_of(&list, &follow)["host"], "a");
    let r = run(repo.vnx().args(["cancel", &follow]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // A's other one stays lost: its host, restarted, no longer runs it.
    let r = run(repo.dispatch_cmd("commit").args([
        "--host",
        "c",
        "--json",
        "--instruction",
        "one more",
    ]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let list = statuses(repo);
    let t = tally(&list);
    eprintln!("fleet: final tally {t:?}");
    for id in [&slow[1], &slow[2], &slow[4], &slow[5]] {
        assert_eq!(status_of(&list, id)["status"], "cancelled", "{id}");
    }
    assert_eq!(status_of(&list, &slow[3])["status"], "lost");
    let want: BTreeMap<String, usize> = [
        ("done", 13),
        ("failed", 6),
        ("needs_input", 6),
        ("lost", 1),
        ("cancelled", 6),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(t, want);
    // Every done dispatch's branch is here.
    let done: Vec<&Value> = list.iter().filter(|s| s["status"] == "done").collect();
    for s in &done {
        let id = s["dispatch_id"].as_str().unwrap();
        assert!(!repo.on_branch(id, "demo-output.txt").is_empty(), "{id}");
    }
    // Every host line mirrored, byte for byte, and nothing else.
    let mut total = 0;
    for h in ["a", "b", "c"] {
        let lines = fleet.host_ledger(h);
        let mirrored: Vec<Value> = repo
            .events("remote_receipt")
            .into_iter()
            .filter(|m| m["host"] == h)
            .collect();
        eprintln!(
            "fleet: host {h}: {} ledger lines, {} mirrored",
            lines.len(),
            mirrored.len()
        );
        assert_eq!(mirrored.len(), lines.len(), "host {h}");
        for (i, m) in mirrored.iter().enumerate() {
            assert_eq!(m["remote_seq"], i + 1, "host {h}");
            assert_eq!(
                m["line"].as_str().unwrap(),
                lines[i],
                "host {h} line {}",
                i + 1
            );
        }
        total += mirrored.len();
    }
    let (code, report) = verify(repo);
    assert_eq!(code, 0, "{report:#}");
    eprintln!(
        "fleet: {} done branches here, {total} host lines mirrored, verified",
        done.len()
    );

    // c shows two histories: its ledger cut back two lines, then grown by a dispatch of its
    // own user. The next contact refuses it and keeps the changed line as evidence.
    let mirrored_from_c = fleet.host_ledger("c").len();
    let r = fleet.exec(
        "c",
        &[
            "sh",
            "-c",
            "L=.vnx-data/state/t0_receipts.ndjson; head -n -2 $L > $L.new && mv $L.new $L",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = fleet.exec(
        "c",
        &[
            "vnx",
            "dispatch-agent",
            "--agent",
            "implementer",
            "--provider",
            "demo",
            "--model",
            "commit",
            "--instruction",
            "x",
        ],
    );
    assert_eq!(r.code, 0, "on c: {}{}", r.stdout, r.stderr);
    assert!(
        fleet.host_ledger("c").len() >= mirrored_from_c,
        "c's new history is as long as what was mirrored"
    );
    let r = run(repo.dispatch_cmd("commit").args([
        "--host",
        "c",
        "--json",
        "--instruction",
        "refused",
    ]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("host `c`'s ledger does not extend what was mirrored from it"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("changed since it was mirrored"),
        "{}",
        r.stderr
    );
    // The changed line is kept as evidence, and verify names it: one rewritten host line.
    let (code, report) = verify(repo);
    let found = crate::common::violations(&report);
    eprintln!("fleet: two histories refused; verify {code}: {found:?}");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        found.iter().map(|(_, k)| k.as_str()).collect::<Vec<_>>(),
        ["remote_rewritten"],
        "{report:#}"
    );
    eprintln!("fleet: took {:?}", t0.elapsed());
}

#[test]
#[ignore = "needs podman and mmdebstrap (bin/test --all installs them)"]
fn a_container_host_keeps_every_dispatch_when_one_container_is_killed() {
    use crate::common::container::{container_of, exists, gone, worker_image};
    let t0 = Instant::now();
    let image = worker_image();
    let repo = Repo::new();
    repo.env.git(&["config", "user.name", "t"]);
    repo.env.git(&["config", "user.email", "t@example.com"]);
    crate::common::configure(
        &repo,
        &format!("hosts:\n  box:\n    container: {{image: \"{image}\"}}\n    capacity: 3\n"),
    );
    // Every container this test's dispatches made goes, also when it fails.
    let ids = std::cell::RefCell::new(Vec::<String>::new());
    let _cleanup = Cleanup(&ids);
    let mut slow = Vec::new();
    for n in 0..3 {
        let (id, queued) = dispatch_any(&repo, "slow", n);
        assert!(!queued, "slow dispatch {n} was queued");
        ids.borrow_mut().push(id.clone());
        slow.push(id);
    }
    let models = ["commit", "ask", "fail"];
    let mut quick = Vec::new();
    for n in 0..7 {
        let (id, queued) = dispatch_any(&repo, models[n % 3], 3 + n);
        assert!(queued, "dispatch {} was not queued", 3 + n);
        ids.borrow_mut().push(id.clone());
        quick.push((id, models[n % 3]));
    }
    eprintln!(
        "fleet/box: 10 dispatched (3 running, 7 queued) after {:?}",
        t0.elapsed()
    );
    // One container is killed: its dispatch is lost at the next catch-up, its volume kept.
    crate::common::fleet::podman(&["kill", &container_of(&slow[0])]);
    let list = settle(&repo, "the killed one lost", Duration::from_secs(60), |l| {
        status_of(l, &slow[0])["status"] == "lost"
    });
    assert_eq!(tally(&list)["queued"], 7, "{:?}", tally(&list));
    assert!(
        exists("volume", &container_of(&slow[0])),
        "its work is kept"
    );
    // The other two slow ones are cancelled: the line drains through the three slots.
    let r = run(repo.vnx().args(["cancel", &slow[1], &slow[2]]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let list = settle(
        &repo,
        "every quick one ended",
        Duration::from_secs(300),
        |l| {
            quick.iter().all(|(id, _)| {
                !["queued", "running"].contains(&status_of(l, id)["status"].as_str().unwrap())
            })
        },
    );
    eprintln!("fleet/box: tally {:?}", tally(&list));
    for (id, model) in &quick {
        let s = status_of(&list, id);
        let want = match *model {
            "commit" => "done",
            "fail" => "failed",
            _ => "needs_input",
        };
        assert_eq!(s["status"], want, "{model}: {s:#}");
        if *model == "commit" {
            assert!(!repo.on_branch(id, "demo-output.txt").is_empty(), "{id}");
        }
    }
    // The lost one: `recover` sends to its place; `resume` makes a new container on its
    // volume and continues it there.
    let r = run(repo.vnx().args(["recover", &slow[0]]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("its end is recovered there"),
        "{}",
        r.stderr
    );
    let r = run(repo.vnx().args(["resume", &slow[0]]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let follow = r.stdout.lines().next().unwrap().trim().to_owned();
    let list = statuses(&repo);
    assert_eq!(status_of(&list, &follow)["status"], "running");
    assert_eq!(
        status_of(&list, &follow)["host"],
        format!("box.{}", slow[0])
    );
    assert!(exists("container", &container_of(&slow[0])), "made again");
    let r = run(repo.vnx().args(["cancel", &follow]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let list = statuses(&repo);
    let t = tally(&list);
    eprintln!("fleet/box: final tally {t:?}");
    let want: BTreeMap<String, usize> = [
        ("done", 3),
        ("failed", 2),
        ("needs_input", 2),
        ("cancelled", 4),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(t, want);
    // The volumes of the dispatches given up on (cancelled, failed) are listed as no
    // dispatch's any more; those of a done or waiting one are kept for its follow-up.
    let mut left: Vec<&str> = (list.iter())
        .filter(|s| s["orphan"] == true && s["ended"].is_string())
        .map(|s| s["dispatch_id"].as_str().unwrap())
        .collect();
    left.sort_unstable();
    let mut given_up: Vec<&str> = slow.iter().map(String::as_str).collect();
    given_up.extend(
        (quick.iter())
            .filter(|(_, m)| *m == "fail")
            .map(|(id, _)| id.as_str()),
    );
    given_up.sort_unstable();
    assert_eq!(left, given_up, "{list:#?}");
    // Every container is gone once its work is here, the resumed one's too (each volume
    // stays for a follow-up until a merge); every place's lines are mirrored under its own
    // name.
    let mirrored = repo.events("remote_receipt");
    for id in ids.borrow().iter() {
        let name = container_of(id);
        assert!(gone("container", &name), "{name} left");
        let place = format!("box.{id}");
        assert!(
            mirrored.iter().any(|m| m["host"] == place.as_str()),
            "{place}"
        );
    }
    let (code, report) = verify(&repo);
    assert_eq!(code, 0, "{report:#}");
    eprintln!(
        "fleet/box: {} host lines mirrored from 10 places, verified; took {:?}",
        mirrored.len(),
        t0.elapsed()
    );
}

/// Removes the containers and volumes of the dispatches listed, when dropped.
struct Cleanup<'a>(&'a std::cell::RefCell<Vec<String>>);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for id in self.0.borrow().iter() {
            let name = crate::common::container::container_of(id);
            let _ = std::process::Command::new("podman")
                .args(["rm", "-f", "-t", "0", &name])
                .output();
            let _ = std::process::Command::new("podman")
                .args(["volume", "rm", "-f", &name])
                .output();
        }
    }
}
