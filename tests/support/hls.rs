//! A real adaptive HLS ladder (scripts/make-hls.sh: 320x180 / 640x360 /
//! 1280x720 at 0.4 / 0.95 / 2.8 Mbit/s, 2 s segments), generated once and
//! reused by every test binary, and a real HTTP server on 127.0.0.1 (port
//! 0) that serves it through a bandwidth schedule shared by all its
//! connections, like one access link.
//!
//! The schedule's clock starts at the server's first request, so a phase
//! lines up with the player's startup however long the process took to
//! start. Pacing a response is done by sleeping between chunks: that is
//! the simulated link, not synchronisation.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::cbuild;

/// Seconds of content in the shared ladder.
pub const LADDER_SECONDS: u32 = 30;

/// The ladder's directory (master.m3u8, v0/ v1/ v2/), made on first use.
/// It lives under target/tmp, keyed by the script's contents, so a change
/// to the script makes a new one; every test binary reuses it.
pub fn ladder() -> &'static Path {
    static LADDER: OnceLock<PathBuf> = OnceLock::new();
    LADDER.get_or_init(|| {
        let script = cbuild::root().join("scripts/make-hls.sh");
        let text = std::fs::read(&script).expect("read scripts/make-hls.sh");
        let key = text
            .iter()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            })
            .wrapping_add(u64::from(LADDER_SECONDS));
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = tmp.join(format!("hls-ladder-{key:016x}"));
        if dir.join("master.m3u8").exists() {
            return dir;
        }
        // Made beside it, then renamed: a concurrent or interrupted run
        // never leaves half a ladder under the final name.
        let work = tmp.join(format!(".hls-ladder-{key:016x}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        let out = Command::new("bash")
            .arg(&script)
            .arg(&work)
            .arg(LADDER_SECONDS.to_string())
            .output()
            .expect("run scripts/make-hls.sh (needs ffmpeg: scripts/test-deps.sh)");
        assert!(
            out.status.success(),
            "make-hls.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if std::fs::rename(&work, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&work); // another process won
        }
        assert!(dir.join("master.m3u8").exists(), "no ladder in {dir:?}");
        dir
    })
}

/// One phase of the link: from `at` (since the first request) on, this
/// rate in bytes per second; `None` is unlimited, `Some(0)` passes nothing.
#[derive(Clone, Copy, Debug)]
pub struct Phase {
    pub at: Duration,
    pub bytes_per_s: Option<u64>,
}

/// A phase of `mbit` Mbit/s (0 passes nothing) from `at_s` seconds on.
pub fn mbit(at_s: f64, mbit: f64) -> Phase {
    Phase {
        at: Duration::from_secs_f64(at_s),
        bytes_per_s: Some((mbit * 1e6 / 8.0) as u64),
    }
}

/// An unlimited phase from `at_s` seconds on.
pub fn unlimited(at_s: f64) -> Phase {
    Phase {
        at: Duration::from_secs_f64(at_s),
        bytes_per_s: None,
    }
}

/// One request as served.
#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub status: u16,
    /// Since the first request.
    pub at: Duration,
    pub bytes: usize,
}

struct Link {
    first: OnceLock<Instant>,
    schedule: Vec<Phase>,
    /// When the link is next free (shared pacing across connections).
    next_free: Mutex<Instant>,
    /// After this many segment requests the server stops (None: never).
    stop_after_segments: Option<usize>,
    segments: AtomicUsize,
    stopped: AtomicBool,
    log: Mutex<Vec<Request>>,
    connections: Mutex<Vec<TcpStream>>,
}

impl Link {
    fn since_first(&self) -> Duration {
        self.first.get_or_init(Instant::now).elapsed()
    }

    fn rate(&self) -> Option<u64> {
        let t = self.since_first();
        self.schedule
            .iter()
            .rev()
            .find(|p| p.at <= t)
            .and_then(|p| p.bytes_per_s)
    }

    /// Waits until `n` more bytes may pass, at the rate in force.
    fn pace(&self, n: usize) {
        loop {
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            match self.rate() {
                None => return,
                // Nothing passes: look again at the next phase boundary or
                // in 50 ms, whichever is first.
                Some(0) => thread::sleep(Duration::from_millis(50)),
                Some(rate) => {
                    let cost = Duration::from_secs_f64(n as f64 / rate as f64);
                    let until = {
                        let mut next = self.next_free.lock().unwrap();
                        let start = (*next).max(Instant::now());
                        *next = start + cost;
                        *next
                    };
                    thread::sleep(until.saturating_duration_since(Instant::now()));
                    return;
                }
            }
        }
    }
}

/// A running HLS server; stops when dropped.
pub struct HlsServer {
    link: Arc<Link>,
    addr: SocketAddr,
    accept: Option<thread::JoinHandle<()>>,
}

impl HlsServer {
    /// Serves `dir` through `schedule` (empty: unlimited).
    pub fn start(dir: &Path, schedule: Vec<Phase>) -> HlsServer {
        Self::with(dir, schedule, None)
    }

    /// Serves `dir` unlimited, and stops (closes every connection, refuses
    /// new ones) once `n` segment requests have been made: a server that
    /// goes away mid-stream.
    pub fn stopping_after(dir: &Path, n: usize) -> HlsServer {
        Self::with(dir, Vec::new(), Some(n))
    }

    fn with(dir: &Path, schedule: Vec<Phase>, stop_after_segments: Option<usize>) -> HlsServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind HLS server");
        let addr = listener.local_addr().unwrap();
        let link = Arc::new(Link {
            first: OnceLock::new(),
            schedule,
            next_free: Mutex::new(Instant::now()),
            stop_after_segments,
            segments: AtomicUsize::new(0),
            stopped: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
            connections: Mutex::new(Vec::new()),
        });
        let dir = dir.to_path_buf();
        let accept_link = Arc::clone(&link);
        let accept = thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_link.stopped.load(Ordering::SeqCst) {
                    break; // the listener closes: connections are refused
                }
                let Ok(stream) = stream else { continue };
                if let Ok(clone) = stream.try_clone() {
                    accept_link.connections.lock().unwrap().push(clone);
                }
                let (link, dir) = (Arc::clone(&accept_link), dir.clone());
                thread::spawn(move || serve(&link, &dir, stream));
            }
        });
        HlsServer {
            link,
            addr,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:<port>/<path>`
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path)
    }

    /// Every request served so far.
    pub fn requests(&self) -> Vec<Request> {
        self.link.log.lock().unwrap().clone()
    }

    fn stop(&self) {
        if self.link.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        for c in self.link.connections.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

impl Drop for HlsServer {
    fn drop(&mut self) {
        self.stop();
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn content_type(path: &str) -> &'static str {
    if path.ends_with(".m3u8") {
        "application/vnd.apple.mpegurl"
    } else if path.ends_with(".ts") {
        "video/mp2t"
    } else {
        "application/octet-stream"
    }
}

/// Answers one request (`Connection: close`), paced by the link.
fn serve(link: &Link, dir: &Path, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim_end().is_empty() {
            break;
        }
    }
    let at = link.since_first();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts
        .next()
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_string();
    if path.ends_with(".ts") {
        let n = link.segments.fetch_add(1, Ordering::SeqCst) + 1;
        if link.stop_after_segments.is_some_and(|max| n > max) {
            link.stopped.store(true, Ordering::SeqCst);
            for c in link.connections.lock().unwrap().drain(..) {
                let _ = c.shutdown(Shutdown::Both);
            }
            return;
        }
    }
    let file = (!path.contains("..")).then(|| dir.join(&path));
    let body = file.and_then(|f| std::fs::read(f).ok());
    let status = if body.is_some() { 200 } else { 404 };
    let body = body.unwrap_or_default();
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        if status == 200 { "OK" } else { "Not Found" },
        content_type(&path),
        body.len()
    );
    let mut sent = 0;
    if writer.write_all(head.as_bytes()).is_ok() && method != "HEAD" {
        // Chunks of at most 50 ms at the rate in force, so a phase change
        // takes effect within one chunk.
        while sent < body.len() && !link.stopped.load(Ordering::SeqCst) {
            let chunk = match link.rate() {
                Some(rate) if rate > 0 => ((rate / 20) as usize).clamp(1024, 64 * 1024),
                _ => 64 * 1024,
            };
            let end = (sent + chunk).min(body.len());
            link.pace(end - sent);
            if link.stopped.load(Ordering::SeqCst) || writer.write_all(&body[sent..end]).is_err() {
                break;
            }
            sent = end;
        }
    }
    link.log.lock().unwrap().push(Request {
        path,
        status,
        at,
        bytes: sent,
    });
    let _ = writer.shutdown(Shutdown::Both);
}
