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
        "metadata",
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
    // Metadata set before the load is on it, with the session's and kino's.
    let meta = &records[0]["metadata"];
    assert_eq!(meta["video_id"], "movie-42");
    assert_eq!(meta["viewer_id"], "viewer-7");
    assert_eq!(meta["experiment_variant"], "b");
    assert_eq!(meta["kino_version"], env!("CARGO_PKG_VERSION"));
    let change = records.iter().find(|r| r["event"] == "metadata").unwrap();
    assert_eq!(
        change["changed"],
        serde_json::json!({"video_language": "fr"})
    );
    assert_eq!(change["view_id"], records[0]["view_id"]);
    let qoe = records.last().unwrap();
    assert_eq!(qoe["metadata"]["video_language"], "fr");
    assert_eq!(qoe["sample_rate"], 1.0);
    // The CMCD a segment request would carry: the view's ids, its state.
    let view_id = records[0]["view_id"].as_str().unwrap();
    assert!(stdout.contains(&format!(
        "CMCD-Session: cid=\"movie-42\",sid=\"{view_id}\",st=v"
    )));
    assert!(
        stdout.contains(&format!(
            "  CMCD=br%3D800%2Ccid%3D%22movie-42%22%2Csid%3D%22{view_id}%22%2Cst%3Dv%2Csu\n"
        )),
        "startup: {stdout}"
    );
    assert!(
        stdout.contains("CMCD-Request: bl=0,su"),
        "stalled: {stdout}"
    );
    assert!(stdout.contains("CMCD-Status: bs"), "{stdout}");
    assert!(stdout.contains(&format!(
        "emitted={n} delivered={n} failed=0 dropped=0 queued=0",
        n = records.len()
    )));
    assert!(stdout.contains("refused NaN position: KINO_STATUS_INVALID_ARGUMENT"));
    assert!(stdout.contains("5 s startup: score 85.0"));
}
