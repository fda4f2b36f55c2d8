//! README's "build against it in place" recipe, run exactly as written:
//! the shell block after `<!-- recipe:in-place -->`, from the repository
//! root, with `KINO_BEACON_URL` pointing at a real collector. A recipe that
//! links but cannot run (a missing SONAME link, a missing feature macro)
//! fails here.

mod support;

use std::process::Command;
use std::time::Duration;

use support::cbuild;
use support::collector::Collector;

/// The lines of the first fenced block after `marker` in `text`.
fn block_after(text: &str, marker: &str) -> String {
    let rest = &text[text.find(marker).expect("recipe marker in README.md") + marker.len()..];
    let start = rest
        .find("```sh\n")
        .expect("a ```sh block after the marker")
        + 6;
    let body = &rest[start..];
    body[..body.find("```").expect("the block's closing fence")].to_owned()
}

#[test]
fn the_in_place_recipe_builds_a_player_that_runs() {
    let root = cbuild::root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let script = block_after(&readme, "<!-- recipe:in-place -->");
    assert!(script.contains("make lib") && script.contains("./player"));
    let collector = Collector::start();
    let player = root.join("player");
    let mut cmd = Command::new("sh");
    cbuild::clean_env(&mut cmd)
        .current_dir(&root)
        .args(["-eu", "-c", &script])
        .env("KINO_BEACON_URL", collector.url());
    let out = cmd.output().expect("run the recipe");
    let _ = std::fs::remove_file(&player);
    assert!(
        out.status.success(),
        "the README recipe failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(collector.wait_for_records(1, Duration::from_secs(5)));
    let names: Vec<String> = collector
        .accepted_records()
        .iter()
        .map(|r| r["event"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        names.iter().any(|n| n == "end"),
        "the player's session arrived: {names:?}"
    );
}
