//! A real HTTP/1.1 collector on 127.0.0.1 (port 0) for tests and the demo.
//!
//! It records every request (headers and body) and answers as its
//! [`Reply`] policy says, so tests can make it accept, refuse, hang or
//! misbehave. Waiting for arrivals uses a condition variable, never sleeps.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One request as the collector received it.
#[derive(Debug, Clone)]
pub struct Beacon {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// 0, 1, 2… in arrival order.
    pub index: usize,
    pub at: Instant,
}

impl Beacon {
    /// The body parsed as a JSON array of records (empty if it is not one).
    pub fn records(&self) -> Vec<serde_json::Value> {
        match serde_json::from_slice::<serde_json::Value>(&self.body) {
            Ok(serde_json::Value::Array(items)) => items,
            _ => Vec::new(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// How to answer one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A status with extra headers (and an empty body).
    Status(u16, Vec<(String, String)>),
    /// Read the request, then never answer (until the collector is dropped).
    Hang,
    /// Close the connection without answering.
    Close,
    /// Write these bytes instead of an HTTP response, then close.
    Raw(Vec<u8>),
    /// Write this response one byte per `Duration`.
    Trickle(Vec<u8>, Duration),
}

type Policy = dyn Fn(&Beacon) -> Reply + Send + Sync;

struct State {
    beacons: Vec<Beacon>,
    /// Beacons answered with a 2xx.
    accepted: Vec<usize>,
}

struct Inner {
    state: Mutex<State>,
    arrived: Condvar,
    stop: AtomicBool,
    policy: Box<Policy>,
}

/// A running collector; stops when dropped.
pub struct Collector {
    inner: Arc<Inner>,
    addr: SocketAddr,
    accept_thread: Option<thread::JoinHandle<()>>,
}

impl Collector {
    /// A collector that answers 200 to everything.
    pub fn start() -> Collector {
        Self::with_policy(|_| Reply::Status(200, vec![]))
    }

    /// A collector that answers 503 until the returned flag is set, then
    /// 200: an outage that the test ends when it chooses.
    pub fn gated() -> (Collector, Arc<AtomicBool>) {
        let open = Arc::new(AtomicBool::new(false));
        let gate = Arc::clone(&open);
        let collector = Self::with_policy(move |_| {
            if gate.load(Ordering::SeqCst) {
                Reply::Status(200, vec![])
            } else {
                Reply::Status(503, vec![])
            }
        });
        (collector, open)
    }

    /// A collector whose answers `policy` decides, per request.
    pub fn with_policy(policy: impl Fn(&Beacon) -> Reply + Send + Sync + 'static) -> Collector {
        Self::on("127.0.0.1:0".parse().unwrap(), policy)
    }

    /// Like [`Collector::with_policy`], listening on `addr` (for a test
    /// that needs the server to appear at a known port).
    pub fn on(
        addr: SocketAddr,
        policy: impl Fn(&Beacon) -> Reply + Send + Sync + 'static,
    ) -> Collector {
        Self::serving(addr, None, policy)
    }

    /// An HTTPS collector answering 200, with the certificate chain and key
    /// in `tls` (a rustls server configuration).
    pub fn https(tls: Arc<rustls::ServerConfig>) -> Collector {
        Self::serving("127.0.0.1:0".parse().unwrap(), Some(tls), |_| {
            Reply::Status(200, vec![])
        })
    }

    /// `https://127.0.0.1:<port>/beacon`, for a collector made by
    /// [`Collector::https`], or with `host` (which must resolve to 127.0.0.1)
    /// instead of the address.
    pub fn https_url(&self, host: Option<&str>) -> String {
        match host {
            Some(host) => format!("https://{host}:{}/beacon", self.addr.port()),
            None => format!("https://{}/beacon", self.addr),
        }
    }

    fn serving(
        addr: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
        policy: impl Fn(&Beacon) -> Reply + Send + Sync + 'static,
    ) -> Collector {
        let listener = TcpListener::bind(addr).expect("bind collector address");
        let addr = listener.local_addr().expect("local addr");
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                beacons: Vec::new(),
                accepted: Vec::new(),
            }),
            arrived: Condvar::new(),
            stop: AtomicBool::new(false),
            policy: Box::new(policy),
        });
        let accept_inner = Arc::clone(&inner);
        let accept_thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_inner.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let conn_inner = Arc::clone(&accept_inner);
                    let tls = tls.clone();
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    thread::spawn(move || match tls {
                        None => serve(conn_inner, stream),
                        Some(config) => {
                            let Ok(conn) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            serve(conn_inner, rustls::StreamOwned::new(conn, stream));
                        }
                    });
                }
            }
        });
        Collector {
            inner,
            addr,
            accept_thread: Some(accept_thread),
        }
    }

    /// `http://127.0.0.1:<port>/beacon`
    pub fn url(&self) -> String {
        format!("http://{}/beacon", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order.
    pub fn beacons(&self) -> Vec<Beacon> {
        self.inner.state.lock().unwrap().beacons.clone()
    }

    /// The requests received after the first `n`, in arrival order.
    pub fn beacons_from(&self, n: usize) -> Vec<Beacon> {
        let state = self.inner.state.lock().unwrap();
        state.beacons.get(n..).unwrap_or_default().to_vec()
    }

    /// Records of the beacons that were answered 2xx, in arrival order.
    pub fn accepted_records(&self) -> Vec<serde_json::Value> {
        let state = self.inner.state.lock().unwrap();
        state
            .accepted
            .iter()
            .flat_map(|&i| state.beacons[i].records())
            .collect()
    }

    /// Waits until `pred` holds over the beacons received, or `timeout`.
    pub fn wait_until(&self, timeout: Duration, pred: impl Fn(&[Beacon]) -> bool) -> bool {
        self.wait_state(timeout, |state| pred(&state.beacons))
    }

    /// Waits until at least `n` accepted records have arrived.
    pub fn wait_for_records(&self, n: usize, timeout: Duration) -> bool {
        self.wait_state(timeout, |state| {
            let count: usize = state
                .accepted
                .iter()
                .map(|&i| state.beacons[i].records().len())
                .sum();
            count >= n
        })
    }

    /// Waits on the arrival condition variable until `pred` holds.
    fn wait_state(&self, timeout: Duration, pred: impl Fn(&State) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.inner.state.lock().unwrap();
        loop {
            if pred(&state) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .inner
                .arrived
                .wait_timeout(state, deadline - now)
                .unwrap()
                .0;
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.arrived.notify_all();
        // Unblock accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
    }
}

/// Method, path, headers (lower-cased names) and body of one request.
type Request = (String, String, HashMap<String, String>, Vec<u8>);

/// A connection the collector serves: plain TCP or TLS over it.
trait Conn: Read + Write {
    /// Ends the connection (after a reply that closes it).
    fn close(&mut self);
}

impl Conn for TcpStream {
    fn close(&mut self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Conn for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn close(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
        let _ = self.sock.shutdown(Shutdown::Both);
    }
}

/// Reads one request; `None` at end of stream or on a malformed request.
fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let mut body = Vec::new();
    if let Some(len) = headers.get("content-length") {
        let len: usize = len.parse().ok()?;
        body.resize(len, 0);
        reader.read_exact(&mut body).ok()?;
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line).ok()?;
            let size = usize::from_str_radix(size_line.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    Some((method, path, headers, body))
}

fn serve(inner: Arc<Inner>, stream: impl Conn) {
    let mut reader = BufReader::new(stream);
    while !inner.stop.load(Ordering::SeqCst) {
        let Some((method, path, headers, body)) = read_request(&mut reader) else {
            return;
        };
        let beacon = {
            let state = inner.state.lock().unwrap();
            Beacon {
                method,
                path,
                headers,
                body,
                index: state.beacons.len(),
                at: Instant::now(),
            }
        };
        let reply = (inner.policy)(&beacon);
        let accepted = matches!(reply, Reply::Status(s, _) if (200..300).contains(&s));
        {
            let mut state = inner.state.lock().unwrap();
            let index = state.beacons.len();
            state.beacons.push(Beacon { index, ..beacon });
            if accepted {
                state.accepted.push(index);
            }
        }
        match reply {
            Reply::Status(status, extra) => {
                let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n");
                for (n, v) in extra {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
                head.push_str("\r\n");
                // Count the arrival only once the answer is on its way, so a
                // test that waits for it sees the sender's view too.
                let ok = reader.get_mut().write_all(head.as_bytes()).is_ok();
                inner.arrived.notify_all();
                if !ok {
                    return;
                }
            }
            Reply::Hang => {
                inner.arrived.notify_all();
                let state = inner.state.lock().unwrap();
                let _unused = inner
                    .arrived
                    .wait_while(state, |_| !inner.stop.load(Ordering::SeqCst))
                    .unwrap();
                return;
            }
            Reply::Close => {
                inner.arrived.notify_all();
                reader.get_mut().close();
                return;
            }
            Reply::Raw(bytes) => {
                let _ = reader.get_mut().write_all(&bytes);
                inner.arrived.notify_all();
                reader.get_mut().close();
                return;
            }
            Reply::Trickle(bytes, every) => {
                inner.arrived.notify_all();
                for b in bytes {
                    if inner.stop.load(Ordering::SeqCst)
                        || reader.get_mut().write_all(&[b]).is_err()
                    {
                        return;
                    }
                    // The point of this reply is to be slow.
                    thread::sleep(every);
                }
                return;
            }
        }
    }
}
