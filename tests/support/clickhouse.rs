//! A real `clickhouse-server` (Debian's 18.16 package) for tests: started on
//! 127.0.0.1 on a free port with its own data directory and a user with a
//! password, stopped (and its directory removed) when dropped. Only the
//! HTTP interface listens.
//!
//! It runs as the test's user, root in CI: 18.16 has no objection, since it
//! owns the data directory it creates. The binary is `clickhouse-server`
//! from PATH or /usr/sbin, or `$KINO_CLICKHOUSE_SERVER`
//! (scripts/test-deps.sh installs it).

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The user the tests' server knows, and its password.
pub const USER: &str = "kino";
pub const KEY: &str = "kino-test-key";

/// The insert query of schema-18.16.sql's entrance, URL-encoded: each
/// NDJSON line whole into `kino.beacons` (docs/CLICKHOUSE.md).
pub const BEACONS_18_16: &str =
    "query=INSERT%20INTO%20kino.beacons%20FORMAT%20CSV&format_csv_delimiter=%01";

pub struct Server {
    child: Child,
    dir: PathBuf,
    port: u16,
}

fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("KINO_CLICKHOUSE_SERVER") {
        return PathBuf::from(p);
    }
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/usr/bin"])
    {
        let p = Path::new(dir).join("clickhouse-server");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "clickhouse-server not found: run scripts/test-deps.sh (apt-get install clickhouse-server)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Server {
    /// Starts a server and waits until it answers `/ping`.
    pub fn start() -> Server {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kino-clickhouse-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let port = free_port();
        let d = dir.display();
        std::fs::write(
            dir.join("config.xml"),
            format!(
                r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/server.err.log</errorlog></logger>
  <http_port>{port}</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mlock_executable>false</mlock_executable>
</yandex>
"#
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("users.xml"),
            format!(
                r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <{USER}>
      <password>{KEY}</password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </{USER}>
  </users>
  <quotas><default></default></quotas>
</yandex>
"#
            ),
        )
        .unwrap();
        let child = Command::new(binary())
            .arg(format!(
                "--config-file={}",
                dir.join("config.xml").display()
            ))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start clickhouse-server");
        let mut server = Server { child, dir, port };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(mut r) = ureq::get(&format!("{}/ping", self.base())).call() {
                if r.body_mut().read_to_string().unwrap_or_default().trim() == "Ok." {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "clickhouse-server exited ({status}):\n{}",
                    std::fs::read_to_string(self.dir.join("server.err.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "clickhouse-server did not come up"
            );
            // Polling a process we do not control: nothing to wait on.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:<port>`
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The URL for `query` (already URL-encoded, `a=b&c=d`).
    pub fn url(&self, query: &str) -> String {
        format!("{}/?{query}", self.base())
    }

    /// POSTs `body` to `url` as the test user (or with `key`); the status
    /// and the answer's text. Gzips the body when `gzip`.
    pub fn post_as(&self, url: &str, key: &str, body: &[u8], gzip: bool) -> (u16, String) {
        let mut req = ureq::post(url)
            .config()
            .http_status_as_error(false)
            .build()
            .header("X-ClickHouse-User", USER)
            .header("X-ClickHouse-Key", key);
        let sent = if gzip {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(body).unwrap();
            req = req.header("Content-Encoding", "gzip");
            req.send(&enc.finish().unwrap()[..])
        } else {
            req.send(body)
        };
        let mut resp = sent.expect("clickhouse-server answers");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap_or_default())
    }

    /// Runs `sql`, panicking on an error; the answer's text.
    pub fn query(&self, sql: &str) -> String {
        let (status, text) = self.post_as(
            &self.url("output_format_json_quote_64bit_integers=0"),
            KEY,
            sql.as_bytes(),
            false,
        );
        assert_eq!(status, 200, "{sql}\n{text}");
        text
    }

    /// Runs `sql` with `FORMAT JSONEachRow`; the rows.
    pub fn rows(&self, sql: &str) -> Vec<serde_json::Value> {
        self.query(&format!("{sql} FORMAT JSONEachRow"))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Makes `kino_strict.records`, a JSONEachRow table with `from`/`to`
    /// typed as numbers (the schema issue 12 warns against), and returns
    /// the insert URL with the documented settings: any `state_change`
    /// line in a batch makes the server answer 500 for the whole batch.
    pub fn poison_table_url(&self) -> String {
        self.query("CREATE DATABASE IF NOT EXISTS kino_strict");
        self.query(
            "CREATE TABLE IF NOT EXISTS kino_strict.records \
             (event String, `from` Float64, `to` Float64) ENGINE = Memory",
        );
        self.url(
            "query=INSERT%20INTO%20kino_strict.records%20FORMAT%20JSONEachRow\
             &date_time_input_format=best_effort&input_format_skip_unknown_fields=1",
        )
    }

    /// Runs tests/py/clickhouse_schema.py's http `command` (`apply` a
    /// schema, or the `queries` of a file) against this server.
    pub fn script(&self, command: &str, path: &Path) -> serde_json::Value {
        let root = crate::support::cbuild::root();
        let out = Command::new("python3")
            .arg(root.join("tests/py/clickhouse_schema.py"))
            .args(["http", &self.base(), USER, KEY, command])
            .arg(path)
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "clickhouse_schema.py {command} {}:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
