//! The local development collector: `kino-inspect` (src/bin/kino-inspect)
//! under its old name, for the scripts that start it (demo, benchmarks,
//! valgrind, GStreamer): the same checks and flags, no HTML report unless
//! `--report PATH` is given.
//!
//! ```text
//! cargo run --example collector -- [--url-file PATH] [--exit-after-end] [--timeout-s N]
//! ```
//! `--url-file` writes the beacon URL to PATH once listening; with
//! `--exit-after-end` it exits after the first batch holding an `end`
//! event (exit status 1 on delivery problems: a body that is not kino's,
//! a record id seen twice, a sequence number going back, a timeout).

#[allow(dead_code)]
#[path = "../src/bin/kino-inspect/main.rs"]
mod kino_inspect;

fn main() {
    std::process::exit(kino_inspect::run(
        &kino_inspect::COLLECTOR,
        std::env::args().skip(1).collect(),
    ));
}
