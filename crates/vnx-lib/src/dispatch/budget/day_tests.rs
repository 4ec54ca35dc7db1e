//! Tests of the project's day budget held across dispatches running side by side.

use super::*;

fn id(s: &str) -> DispatchId {
    DispatchId::parse(s).unwrap()
}

fn at(t: &str) -> jiff::Timestamp {
    t.parse().unwrap()
}

const NOW: &str = "2026-11-23T10:00:00Z";

fn completed(id: &str, when: &str, tokens: u64) -> String {
    format!(
        r#"{{"event_type":"dispatch_completed","timestamp":"{when}","dispatch_id":"{id}","status":"done","token_usage":{{"input_tokens":{tokens},"output_tokens":0,"total_tokens":{tokens}}}}}"#
    )
}

fn raised(id: &str, when: &str, to: u64, budget: Option<&str>) -> String {
    let budget = budget.map_or(String::new(), |b| format!(r#","budget":"{b}""#));
    format!(
        r#"{{"event_type":"budget_raised","timestamp":"{when}","dispatch_id":"{id}","added_tokens":500,"tokens_limit":{to},"by":"ann"{budget}}}"#
    )
}

fn append(ledger: &Path, lines: &[String]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(ledger)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn live(dir: &Path, who: &str, tokens: u64, when: &str) {
    publish(
        dir,
        &LiveUse {
            dispatch_id: id(who),
            tokens,
            cost_usd: Some(0.5),
            at: at(when),
        },
    )
    .unwrap();
}

#[test]
fn the_day_counts_each_dispatch_once_ended_or_running() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, dir) = (tmp.path().join("ledger"), tmp.path().join("live"));
    append(
        &ledger,
        &[
            completed("D-1", "2026-11-23T08:00:00Z", 1000),
            // Yesterday's counts for nothing today.
            completed("D-2", "2026-11-22T23:00:00Z", 9000),
        ],
    );
    let mut spent = Spent::default();
    spent.catch_up(&ledger, at(NOW), None).unwrap();
    // D-1 published less than its completion says; D-3 runs; D-4 is the one asking.
    live(&dir, "D-1", 800, "2026-11-23T07:59:00Z");
    live(&dir, "D-3", 500, "2026-11-23T09:59:00Z");
    live(&dir, "D-4", 700, "2026-11-23T09:59:00Z");
    live(&dir, "D-5", 4000, "2026-11-22T09:59:00Z");
    let others = spent.used_by_others(&read_live(&dir, at(NOW)), Some(&id("D-4")));
    assert_eq!(
        others,
        (1500, 1.0),
        "D-1's completion and D-3's published use"
    );
    // D-3 ends with more than it published: its completion counts, once.
    append(&ledger, &[completed("D-3", "2026-11-23T10:00:00Z", 650)]);
    spent.catch_up(&ledger, at(NOW), None).unwrap();
    let others = spent.used_by_others(&read_live(&dir, at(NOW)), Some(&id("D-4")));
    assert_eq!(others.0, 1650);
    let all = spent.used_by_others(&read_live(&dir, at(NOW)), None);
    assert_eq!(all.0, 2350, "with D-4 too");
}

#[test]
fn the_day_is_raised_to_the_highest_raise_of_today() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = tmp.path().join("ledger");
    let config = Budget {
        tokens: Some(2000),
        ..Budget::default()
    };
    append(
        &ledger,
        &[
            raised("D-1", "2026-11-23T08:00:00Z", 3000, Some(PROJECT_DAY)),
            // A dispatch's own raise, and yesterday's raise of the day, do not raise today.
            raised("D-2", "2026-11-23T08:00:00Z", 9000, None),
            raised("D-1", "2026-11-22T08:00:00Z", 8000, Some(PROJECT_DAY)),
        ],
    );
    let mut spent = Spent::read(&ledger, at(NOW), None).unwrap();
    assert_eq!(spent.limit(&config).tokens, Some(3000));
    // A second stopped dispatch raised to the same: no more than that.
    append(
        &ledger,
        &[
            raised("D-3", "2026-11-23T09:00:00Z", 3000, Some(PROJECT_DAY)),
            raised("D-3", "2026-11-23T09:00:00Z", 2500, Some(PROJECT_DAY)),
        ],
    );
    spent.catch_up(&ledger, at(NOW), None).unwrap();
    assert_eq!(spent.limit(&config).tokens, Some(3000));
    // A config raised above every raise holds.
    let higher = Budget {
        tokens: Some(5000),
        ..Budget::default()
    };
    assert_eq!(spent.limit(&higher).tokens, Some(5000));
    // A ledger replaced by a shorter one is read again whole.
    std::fs::write(&ledger, "").unwrap();
    spent.catch_up(&ledger, at(NOW), None).unwrap();
    assert_eq!(spent.limit(&config).tokens, Some(2000));
}

#[test]
fn a_hold_counts_what_the_others_publish_as_they_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, dir) = (tmp.path().join("ledger"), tmp.path().join("live"));
    let config = Budget {
        tokens: Some(1000),
        ..Budget::default()
    };
    let now = jiff::Timestamp::now();
    let stamp = now.to_string();
    let me = id("D-9");
    let mut hold = DayHold::new((&ledger, &dir), &me, &config, &Prices::default(), now).unwrap();
    assert_eq!(hold.step(300, None), None);
    hold.publish(300, None, now);
    let mine = read_live(&dir, now);
    assert_eq!(mine.get(&me), Some(&(300, 0.0)), "published for the others");
    // Another dispatch runs up 500: with this one's 300, the day is at 80 %.
    live(&dir, "D-8", 500, &stamp);
    hold.refresh(now).unwrap();
    let Some(Crossed::Warning(r)) = hold.step(300, None) else {
        panic!("warned")
    };
    assert_eq!(r.tokens, 800);
    // It finishes with 750: the day is used up at this one's next reading.
    append(&ledger, &[completed("D-8", &stamp, 750)]);
    hold.refresh(now).unwrap();
    let Some(Crossed::Reached(r)) = hold.step(260, None) else {
        panic!("reached")
    };
    assert_eq!((r.tokens, hold.tally().limit), (1010, Some(1000)));
    // A person raises the day: the tally holds to the raised limit.
    append(&ledger, &[raised("D-9", &stamp, 1500, Some(PROJECT_DAY))]);
    hold.refresh(now).unwrap();
    assert_eq!(hold.tally().limit, Some(1500));
}

#[test]
#[expect(
    clippy::disallowed_methods,
    reason = "a test makes a FIFO with mkfifo(1)"
)]
fn published_files_are_read_as_hostile_input() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("live");
    live(&dir, "D-1", 100, NOW);
    // A file naming another dispatch than its name.
    let lie = serde_json::json!({"dispatch_id": "D-2", "tokens": 1, "at": NOW});
    std::fs::write(dir.join("D-3.json"), lie.to_string()).unwrap();
    // A link to a real file, a FIFO, a huge file, junk, a negative cost.
    symlink(dir.join("D-1.json"), dir.join("D-4.json")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(dir.join("D-5.json"))
        .status();
    assert!(made.unwrap().success());
    let huge = format!(
        r#"{{"dispatch_id":"D-6","tokens":5,"at":"{NOW}","pad":"{}"}}"#,
        "x".repeat(8000)
    );
    std::fs::write(dir.join("D-6.json"), huge).unwrap();
    std::fs::write(dir.join("D-7.json"), "not json").unwrap();
    let negative =
        serde_json::json!({"dispatch_id": "D-8", "tokens": 2, "cost_usd": -5.0, "at": NOW});
    std::fs::write(dir.join("D-8.json"), negative.to_string()).unwrap();
    let read = read_live(&dir, at(NOW));
    let ids: Vec<&str> = read.keys().map(DispatchId::as_str).collect();
    assert_eq!(ids, ["D-1", "D-8"]);
    assert_eq!(read[&id("D-8")], (2, 0.0), "a negative cost counts as none");
}

#[test]
fn old_published_files_are_pruned() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("live");
    live(&dir, "D-1", 100, NOW);
    prune(&dir, jiff::Timestamp::now());
    assert!(dir.join("D-1.json").exists(), "written just now");
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(49);
    prune(&dir, later);
    assert!(!dir.join("D-1.json").exists());
}

#[test]
fn a_ledger_that_cannot_be_read_still_holds_the_day_by_the_published_use() {
    let tmp = tempfile::tempdir().unwrap();
    // A directory where the ledger should be.
    let (ledger, dir) = (tmp.path().to_owned(), tmp.path().join("live"));
    let config = Budget {
        tokens: Some(1000),
        ..Budget::default()
    };
    let now = jiff::Timestamp::now();
    let mut hold = DayHold::new(
        (&ledger, &dir),
        &id("D-9"),
        &config,
        &Prices::default(),
        now,
    )
    .expect("held though the ledger is unreadable");
    live(&dir, "D-8", 1200, &now.to_string());
    assert!(hold.refresh(now).is_err(), "the ledger's error is said");
    assert!(matches!(hold.step(1, None), Some(Crossed::Reached(_))));
}
