//! A local beacon collector for development.
//!
//! Listens on 127.0.0.1 (a free port), prints every beacon it receives,
//! checks it (a JSON array of records, sequence increasing per session, no
//! duplicate ids), and prints a summary.
//!
//! ```text
//! cargo run --example collector -- [--url-file PATH] [--exit-after-end] [--timeout-s N]
//! ```
//! `--url-file` writes the beacon URL to PATH once listening; with
//! `--exit-after-end` it exits after the first batch holding an `end`
//! event (exit status 1 if any check failed).

#[path = "../tests/support/collector.rs"]
mod collector;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use collector::Collector;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|a| a == name);
    let url_file = flag("--url-file").and_then(|i| args.get(i + 1)).cloned();
    let exit_after_end = flag("--exit-after-end").is_some();
    let timeout = flag("--timeout-s")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(3600u64);

    let collector = Collector::start();
    println!("collector: listening on {}", collector.url());
    if let Some(path) = &url_file {
        std::fs::write(path, collector.url()).expect("write url file");
    }

    let mut seen = 0usize;
    let mut ids = HashSet::new();
    let mut last_seq: HashMap<String, u64> = HashMap::new();
    let mut problems = 0usize;
    let mut by_event: HashMap<String, usize> = HashMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        if remaining.is_zero() {
            println!("collector: timed out");
            problems += 1;
            break;
        }
        collector.wait_until(remaining, |b| b.len() > seen);
        let beacons = collector.beacons();
        let mut saw_end = false;
        for beacon in &beacons[seen..] {
            let ua = beacon.header("user-agent").unwrap_or("?");
            let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&beacon.body);
            let Ok(serde_json::Value::Array(records)) = parsed else {
                println!("collector: beacon #{} is not a JSON array", beacon.index);
                problems += 1;
                continue;
            };
            println!(
                "collector: beacon #{} {} {} ({} records, {} bytes, User-Agent {ua})",
                beacon.index,
                beacon.method,
                beacon.path,
                records.len(),
                beacon.body.len()
            );
            for r in &records {
                let event = r["event"].as_str().unwrap_or("?").to_string();
                let seq = r["sequence"].as_u64().unwrap_or(0);
                let session = r["session_id"].as_str().unwrap_or("?").to_string();
                let id = r["id"].as_str().unwrap_or("").to_string();
                let mut detail = r.clone();
                if let Some(o) = detail.as_object_mut() {
                    for k in ["id", "session_id", "timestamp", "sequence", "event"] {
                        o.remove(k);
                    }
                }
                println!("    #{seq:<3} {event:<15} {detail}");
                if !ids.insert(id) {
                    println!("    !! duplicate id");
                    problems += 1;
                }
                let last = last_seq.entry(session).or_insert(0);
                if seq <= *last {
                    println!("    !! sequence {seq} after {last}");
                    problems += 1;
                }
                *last = seq;
                *by_event.entry(event.clone()).or_default() += 1;
                saw_end |= event == "end";
            }
        }
        seen = beacons.len();
        if exit_after_end && saw_end {
            break;
        }
    }
    let mut counts: Vec<_> = by_event.into_iter().collect();
    counts.sort();
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    println!(
        "collector: {seen} beacons, {total} records, {} sessions, {problems} problems",
        last_seq.len()
    );
    for (event, n) in counts {
        println!("    {event:<15} {n}");
    }
    std::process::exit(if problems == 0 { 0 } else { 1 });
}
