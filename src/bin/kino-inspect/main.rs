//! kino-inspect: the collector a player team runs while integrating kino.
//!
//! It takes kino's beacons in any of its formats (JSON array, NDJSON,
//! OTLP/JSON logs; gzip or not), prints every record, checks the
//! integration rules of docs/EVENTS.md (play before load, a rebuffer_end
//! without a rebuffer, a seek that never completes, heartbeats that stop
//! while playing, positions that jump without a seek, no initial
//! quality_change, sequence gaps, a view never closed, timestamps out of
//! order) and prints each finding with the record that shows it. It writes
//! a self-contained HTML report: per session and view a timeline, the QoE
//! table with the metadata, the findings where they happened.
//!
//! ```text
//! cargo run --bin kino-inspect -- [--listen ADDR] [--report PATH] [--url-file PATH]
//!     [--exit-after-end] [--exit-after-records N] [--timeout-s N] [--strict]
//!     [--heartbeat-gap-s S] [FILE...]
//! ```
//! Point kino at the URL it prints (any path; use `/v1/logs` for OTLP).
//! With FILEs it reads saved beacon bodies instead of listening.
//! Exit status 1 on delivery problems (a body it cannot read, a record id
//! seen twice, sequence numbers going back, a timeout while waiting for an
//! end); with `--strict`, on any finding too.
//!
//! `examples/collector.rs` (the development collector) is this program
//! under its old name, with the same flags and no report unless asked.

mod checks;
#[path = "../../../tests/support/collector.rs"]
mod collector;
mod decode;
mod report;
mod timeline;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use checks::{Checker, Finding, Limits};
use collector::{Beacon, Collector, Reply};

/// What differs between `kino-inspect` and its old name, the example
/// `collector`.
pub struct Defaults {
    /// Prefix of the lines it prints.
    pub prog: &'static str,
    /// Where the report goes without `--report`.
    pub report: Option<&'static str>,
}

/// `kino-inspect`: writes `kino-inspect.html` in the working directory.
pub const INSPECT: Defaults = Defaults {
    prog: "kino-inspect",
    report: Some("kino-inspect.html"),
};

/// `examples/collector`: the scripts' development collector, no report.
pub const COLLECTOR: Defaults = Defaults {
    prog: "collector",
    report: None,
};

pub fn main() {
    std::process::exit(run(&INSPECT, std::env::args().skip(1).collect()));
}

const USAGE: &str = "usage: kino-inspect [--listen ADDR] [--report PATH] [--url-file PATH] \
[--exit-after-end] [--exit-after-records N] [--timeout-s N] [--strict] [--heartbeat-gap-s S] [FILE...]";

struct Options {
    listen: SocketAddr,
    url_file: Option<PathBuf>,
    report: Option<PathBuf>,
    exit_after_end: bool,
    exit_after_records: Option<usize>,
    timeout: Duration,
    strict: bool,
    limits: Limits,
    files: Vec<PathBuf>,
}

fn parse(args: &[String], defaults: &Defaults) -> Result<Options, String> {
    let mut o = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        url_file: None,
        report: defaults.report.map(PathBuf::from),
        exit_after_end: false,
        exit_after_records: None,
        timeout: Duration::from_secs(3600),
        strict: false,
        limits: Limits::default(),
        files: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--listen" => {
                o.listen = value(a)?
                    .parse()
                    .map_err(|e| format!("--listen: {e} (e.g. 127.0.0.1:4318)"))?
            }
            "--url-file" => o.url_file = Some(value(a)?.into()),
            "--report" => o.report = Some(value(a)?.into()),
            "--exit-after-end" => o.exit_after_end = true,
            "--exit-after-records" => {
                o.exit_after_records = Some(value(a)?.parse().map_err(|e| format!("{a}: {e}"))?)
            }
            "--timeout-s" => {
                o.timeout = Duration::from_secs(value(a)?.parse().map_err(|e| format!("{a}: {e}"))?)
            }
            "--strict" => o.strict = true,
            "--heartbeat-gap-s" => {
                o.limits.heartbeat_gap_s = value(a)?.parse().map_err(|e| format!("{a}: {e}"))?
            }
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            file => o.files.push(file.into()),
        }
    }
    Ok(o)
}

/// Runs with `args` (no program name); the exit status.
pub fn run(defaults: &Defaults, args: Vec<String>) -> i32 {
    let options = match parse(&args, defaults) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{}: {e}", defaults.prog);
            }
            eprintln!("{USAGE}");
            return 2;
        }
    };
    let mut inspector = Inspector::new(defaults.prog, &options);
    if options.files.is_empty() {
        listen(&mut inspector, &options);
    } else {
        for (i, path) in options.files.iter().enumerate() {
            match std::fs::read(path) {
                Ok(body) => {
                    let label = format!("{} {}", i, path.display());
                    inspector.take(&label, None, &body);
                }
                Err(e) => {
                    println!("{}: cannot read {}: {e}", defaults.prog, path.display());
                    inspector.problems += 1;
                }
            }
        }
    }
    inspector.finish(options.strict)
}

fn listen(inspector: &mut Inspector, options: &Options) {
    let prog = inspector.prog;
    let collector = Collector::on(options.listen, |b: &Beacon| {
        if b.path.starts_with("/v1/logs") {
            // An OTLP/HTTP exporter expects an ExportLogsServiceResponse.
            Reply::Raw(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\
                  Connection: close\r\n\r\n{}"
                    .to_vec(),
            )
        } else {
            Reply::Status(200, vec![])
        }
    });
    println!("{prog}: listening on {}", collector.url());
    println!(
        "{prog}: any path takes JSON arrays and NDJSON; OTLP/JSON logs at http://{}/v1/logs",
        collector.addr()
    );
    if let Some(path) = &options.url_file {
        std::fs::write(path, collector.url()).expect("write url file");
    }
    let deadline = Instant::now() + options.timeout;
    let mut seen = 0;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            println!("{prog}: timed out");
            if options.exit_after_end || options.exit_after_records.is_some() {
                inspector.problems += 1;
            }
            break;
        }
        collector.wait_until(remaining, |b| b.len() > seen);
        let mut saw_end = false;
        for beacon in collector.beacons_from(seen) {
            seen += 1;
            let label = format!(
                "#{} {} {} ({} bytes, User-Agent {})",
                beacon.index,
                beacon.method,
                beacon.path,
                beacon.body.len(),
                beacon.header("user-agent").unwrap_or("?")
            );
            saw_end |= inspector.take(&label, beacon.header("content-encoding"), &beacon.body);
        }
        inspector.maybe_write_report(false);
        if options.exit_after_end && saw_end {
            break;
        }
        if options
            .exit_after_records
            .is_some_and(|n| inspector.summary.records >= n)
        {
            break;
        }
    }
}

/// Findings of one rule listed per session (a player that breaks a rule
/// on every call would drown the rest).
const MAX_PER_RULE: usize = 20;

struct Inspector {
    prog: &'static str,
    checker: Checker,
    /// Records by session, sessions in the order they first arrived.
    records: Vec<(String, Vec<Value>)>,
    metadata: BTreeMap<String, BTreeMap<String, String>>,
    findings: Vec<Finding>,
    summary: report::Summary,
    by_event: BTreeMap<String, usize>,
    /// Findings per session and rule; past MAX_PER_RULE only counted.
    per_rule: BTreeMap<(String, checks::Rule), usize>,
    unlisted: usize,
    problems: usize,
    report: Option<PathBuf>,
    written: Option<Instant>,
}

impl Inspector {
    fn new(prog: &'static str, options: &Options) -> Inspector {
        Inspector {
            prog,
            checker: Checker::new(options.limits),
            records: Vec::new(),
            metadata: BTreeMap::new(),
            findings: Vec::new(),
            summary: report::Summary::default(),
            by_event: BTreeMap::new(),
            per_rule: BTreeMap::new(),
            unlisted: 0,
            problems: 0,
            report: options.report.clone(),
            written: None,
        }
    }

    /// Takes one body; true if it held an `end`.
    fn take(&mut self, label: &str, encoding: Option<&str>, body: &[u8]) -> bool {
        let prog = self.prog;
        self.summary.beacons += 1;
        let decoded = match decode::decode(body, encoding) {
            Ok(d) => d,
            Err(e) => {
                println!("{prog}: beacon {label}: {e}");
                self.problems += 1;
                return false;
            }
        };
        let format = format!(
            "{}{}",
            decoded.format.name(),
            if decoded.gzip { " (gzip)" } else { "" }
        );
        println!(
            "{prog}: beacon {label}: {} records, {format}",
            decoded.records.len()
        );
        self.summary.formats.insert(format);
        for (session, meta) in decoded.session_metadata {
            self.metadata.entry(session).or_default().extend(meta);
        }
        let mut saw_end = false;
        for r in decoded.records {
            let event = r["event"].as_str().unwrap_or("?").to_owned();
            let seq = r["sequence"].as_u64().unwrap_or(0);
            let mut detail = r.clone();
            if let Some(o) = detail.as_object_mut() {
                for k in ["id", "session_id", "timestamp", "sequence", "event"] {
                    o.remove(k);
                }
            }
            println!("    #{seq:<3} {event:<15} {detail}");
            let found = self.checker.observe(&r);
            self.report_findings(found);
            saw_end |= event == "end";
            *self.by_event.entry(event).or_default() += 1;
            self.summary.records += 1;
            let session = r["session_id"].as_str().unwrap_or("?");
            let i = match self.records.iter().position(|(s, _)| s == session) {
                Some(i) => i,
                None => {
                    self.records.push((session.to_owned(), Vec::new()));
                    self.records.len() - 1
                }
            };
            // Records are kept only for the report.
            if self.report.is_some() {
                self.records[i].1.push(r);
            }
        }
        saw_end
    }

    fn report_findings(&mut self, found: Vec<Finding>) {
        for f in found {
            if f.rule.is_delivery() {
                self.problems += 1;
            }
            let n = self
                .per_rule
                .entry((f.session.clone(), f.rule))
                .or_default();
            *n += 1;
            if *n > MAX_PER_RULE {
                self.unlisted += 1;
                continue;
            }
            println!("    !! {}: {}", f.rule.code(), f.message);
            println!("       record: {}", f.record);
            if *n == MAX_PER_RULE {
                println!(
                    "    !! {}: {MAX_PER_RULE} in this session; further ones are counted, not listed",
                    f.rule.code()
                );
            }
            self.findings.push(f);
        }
    }

    fn timelines(&self) -> Vec<timeline::SessionTimeline> {
        self.records
            .iter()
            .map(|(s, rs)| {
                timeline::session(s, rs, self.metadata.get(s).cloned().unwrap_or_default())
            })
            .collect()
    }

    /// Rewrites the report, at most once a second while receiving.
    fn maybe_write_report(&mut self, complete: bool) {
        let Some(path) = self.report.clone() else {
            return;
        };
        if !complete
            && self
                .written
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        let first = self.written.is_none();
        self.written = Some(Instant::now());
        self.summary.problems = self.problems;
        self.summary.complete = complete;
        self.summary.generated =
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let html = report::render(&self.summary, &self.timelines(), &self.findings);
        match std::fs::write(&path, html) {
            Ok(()) if first && !complete => println!(
                "{}: report {} (rewritten as beacons arrive)",
                self.prog,
                path.display()
            ),
            Ok(()) => {}
            Err(e) => println!("{}: cannot write {}: {e}", self.prog, path.display()),
        }
    }

    /// End of the stream: the remaining rules, the summary, the report;
    /// the exit status.
    fn finish(mut self, strict: bool) -> i32 {
        let prog = self.prog;
        let found = self.checker.finish();
        if !found.is_empty() {
            println!("{prog}: at the end of the stream");
        }
        self.report_findings(found);
        println!(
            "{prog}: {} beacons, {} records, {} sessions, {} problems",
            self.summary.beacons,
            self.summary.records,
            self.records.len(),
            self.problems
        );
        for (event, n) in &self.by_event {
            println!("    {event:<15} {n}");
        }
        let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
        for ((_, rule), n) in &self.per_rule {
            *by_rule.entry(rule.code()).or_default() += n;
        }
        let total: usize = by_rule.values().sum();
        println!("{prog}: {total} findings");
        for (rule, n) in &by_rule {
            println!("    {rule:<30} {n}");
        }
        self.maybe_write_report(true);
        if let Some(path) = &self.report {
            let shown = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            println!("{prog}: report written to {}", shown.display());
        }
        let failed = self.problems > 0 || (strict && total > 0);
        i32::from(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Options {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&args, &COLLECTOR).unwrap()
    }

    #[test]
    fn the_collectors_flags_still_parse() {
        let o = options(&[
            "--url-file",
            "/tmp/u",
            "--exit-after-end",
            "--timeout-s",
            "60",
        ]);
        assert_eq!(o.url_file, Some(PathBuf::from("/tmp/u")));
        assert!(o.exit_after_end);
        assert_eq!(o.timeout, Duration::from_secs(60));
        assert_eq!(
            o.report, None,
            "the collector writes no report unless asked"
        );
        let args = vec!["--report".to_string(), "r.html".into(), "a.ndjson".into()];
        let o = parse(&args, &INSPECT).unwrap();
        assert_eq!(
            (o.report, o.files),
            (Some("r.html".into()), vec!["a.ndjson".into()])
        );
        assert!(parse(&["--bogus".to_string()], &INSPECT).is_err());
        assert!(parse(&["--timeout-s".to_string()], &INSPECT).is_err());
    }

    #[test]
    fn a_rule_broken_on_every_call_is_listed_twenty_times_and_counted() {
        let mut inspector = Inspector::new("t", &options(&[]));
        let body: String = (1..=30)
            .map(|n| {
                format!(
                    "{{\"id\":\"{n}\",\"session_id\":\"s\",\"timestamp\":\"2026-11-25T14:00:00Z\",\
                     \"sequence\":{n},\"event\":\"play\",\"position\":0.0}}\n"
                )
            })
            .collect();
        inspector.take("#0", None, body.as_bytes());
        assert_eq!(inspector.findings.len(), MAX_PER_RULE);
        assert_eq!(inspector.unlisted, 30 - MAX_PER_RULE);
        assert_eq!(
            inspector.per_rule[&("s".to_string(), checks::Rule::PlayBeforeLoad)],
            30
        );
        assert_eq!(inspector.records.len(), 1, "the session is known");
        assert!(
            inspector.records[0].1.is_empty(),
            "records kept only for a report"
        );
        assert_eq!(inspector.finish(true), 1, "--strict fails on findings");
    }
}
