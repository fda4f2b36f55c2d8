//! The C example player (examples-c/player.c), compiled strictly against
//! include/kino.h and run against a real collector.

mod support;

use std::time::Duration;

use support::cbuild;
use support::collector::Collector;

#[test]
fn example_player_delivers_its_whole_session() {
    let player = cbuild::compile("player", &["examples-c/player.c"], &[]);
    let collector = Collector::start();
    let url = collector.url();
    let out = cbuild::run(&player, &[], &[("KINO_BEACON_URL", url.as_str())]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "player failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(collector.wait_for_records(1, Duration::from_secs(5)));
    let records = collector.accepted_records();
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"load"));
    assert_eq!(
        names[names.len() - 2..],
        ["end", "qoe"],
        "the end closes the view; its qoe record follows"
    );
    for kind in [
        "play",
        "pause",
        "seek",
        "rebuffer",
        "rebuffer_end",
        "quality_change",
        "state_change",
        "error",
        "heartbeat",
        "custom",
        "qoe",
    ] {
        assert!(names.contains(&kind), "{kind} missing from {names:?}");
    }
    let seqs: Vec<u64> = records
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=records.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        records[0]["url"], "https://cdn.example/movie/master.m3u8",
        "the access token never leaves the device"
    );
    for b in collector.beacons() {
        assert_eq!(b.header("x-player"), Some("kino-example/1"));
    }
    assert!(stdout.contains(&format!(
        "emitted={n} delivered={n} failed=0 dropped=0 queued=0",
        n = records.len()
    )));
    assert!(stdout.contains("refused NaN position: KINO_STATUS_INVALID_ARGUMENT"));
    assert!(stdout.contains("5 s startup: score 85.0"));
}
