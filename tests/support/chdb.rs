//! Runs one of the tests/py scripts over kino's NDJSON beacons in chDB
//! (the embedded ClickHouse engine from PyPI; scripts/test-deps.sh
//! installs it) and hands back what the script printed.

use std::ffi::OsString;
use std::process::Command;

use serde_json::Value;

/// Writes `ndjson` to a file of its own, runs `python3 tests/py/<script>
/// <args…> <file>` and returns its standard output parsed as JSON. A
/// script that fails (chdb missing included) fails the test with its
/// standard error.
pub fn run(script: &str, args: &[OsString], ndjson: &[u8]) -> Value {
    let stem = script.trim_end_matches(".py");
    let dir = std::env::temp_dir().join(format!("kino-chdb-{stem}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("beacons.ndjson");
    std::fs::write(&file, ndjson).unwrap();
    let out = Command::new("python3")
        .arg(super::cbuild::root().join("tests/py").join(script))
        .args(args)
        .arg(&file)
        .output()
        .expect("run python3");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "chDB script {script} failed (is chdb installed? scripts/test-deps.sh):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
