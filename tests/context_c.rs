//! Issue 9's C calls abused and used from C: builds `tests/c/context.c`
//! strictly against `include/kino.h` and `libkino.so` with AddressSanitizer,
//! UBSan and LeakSanitizer, runs it against a real collector, and checks
//! what arrived: the pending records the program printed are exactly the
//! records received for them, metadata ordered with the calls and cut at
//! 1 KiB, nothing from the sampled-out session, nothing discarded.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::cbuild;
use support::collector::Collector;

#[test]
fn context_calls_from_c_pass_under_sanitizers_and_deliver_what_they_say() {
    let program = cbuild::compile("context", &["tests/c/context.c"], cbuild::SANITIZE);
    let collector = Collector::start();
    let url = collector.url();
    let spool = std::env::temp_dir().join(format!("kino-context-c-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    let cbuild::Checked {
        stdout,
        report,
        passed,
    } = cbuild::run_checks("context", &program, &[&url, spool.to_str().unwrap()], &[]);
    assert!(passed > 300, "only {passed} checks ran: {report}");
    assert!(
        !spool.exists(),
        "a sampled-out emitter never even makes its spool directory"
    );

    let mut sessions: BTreeMap<String, String> = BTreeMap::new();
    let mut silent = String::new();
    let mut pending: Vec<Value> = Vec::new();
    for line in stdout.lines() {
        let mut parts = line.splitn(2, ' ');
        match (parts.next(), parts.next()) {
            (Some("session"), Some(rest)) => {
                let (id, label) = rest.split_once(' ').unwrap();
                sessions.insert(label.to_owned(), id.to_owned());
            }
            (Some("silent"), Some(id)) => silent = id.to_owned(),
            (Some("pending"), Some(json)) => pending = serde_json::from_str(json).unwrap(),
            _ => {}
        }
    }
    // main 9 records, consent 3, cleared 3 (all flushed before the free).
    assert!(
        collector.wait_for_records(15, Duration::from_secs(10)),
        "{report}"
    );
    let mut by_session: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for r in collector.accepted_records() {
        let id = r["session_id"].as_str().unwrap().to_owned();
        by_session.entry(id).or_default().push(r);
    }
    for records in by_session.values_mut() {
        records.sort_by_key(|r| r["sequence"].as_u64().unwrap());
    }
    assert!(
        !by_session.contains_key(&silent),
        "the sampled-out session sent something"
    );
    assert_eq!(by_session.len(), 3, "{:?}", by_session.keys());

    let main = &by_session[&sessions["main"]];
    let names: Vec<&str> = main.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "load",
            "metadata",
            "quality_change",
            "play",
            "heartbeat",
            "rebuffer",
            "rebuffer_end",
            "end",
            "qoe"
        ]
    );
    assert_eq!(pending.len(), 7);
    assert_eq!(
        &main[..7],
        &pending[..],
        "pending = received, record for record, id for id"
    );
    let meta = &main[0]["metadata"];
    assert_eq!(
        meta["video_id"], "c-1",
        "set before the load, on the same thread"
    );
    assert_eq!(meta["app_name"], "c-test");
    assert!(meta.get("env").is_none(), "removed by the emitter");
    let title = meta["video_title"].as_str().unwrap();
    assert_eq!(title, "v".repeat(1024), "cut to 1 KiB");
    let series = meta["video_series"].as_str().unwrap();
    assert_eq!(series, "é".repeat(512), "cut on a character boundary");
    assert_eq!(main[1]["changed"], json!({"video_title": "Second title"}));
    assert_eq!(main[1]["view_id"], main[0]["view_id"]);
    assert_eq!(main[8]["metadata"]["video_title"], "Second title");

    let seqs = |label: &str| -> Vec<(String, u64)> {
        by_session[&sessions[label]]
            .iter()
            .map(|r| {
                (
                    r["event"].as_str().unwrap().to_owned(),
                    r["sequence"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let owned = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
        v.iter().map(|(e, s)| (e.to_string(), *s)).collect()
    };
    assert_eq!(
        seqs("consent"),
        owned(&[("load", 3), ("end", 4), ("qoe", 5)]),
        "nothing of before or during the withdrawal"
    );
    assert_eq!(
        seqs("cleared"),
        owned(&[("play", 5), ("end", 6), ("qoe", 7)]),
        "nothing of what was cleared; numbers go on"
    );
}
