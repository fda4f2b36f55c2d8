//! Beacons over TLS to a real HTTPS collector on 127.0.0.1 (issue 10), with
//! a CA made by the test: delivered when the CA is configured (as a file,
//! and as PEM through the C API), refused with kino's built-in roots, and
//! refused for a certificate of another host name. A certificate failure
//! keeps the data, says TLS in the stats, and waits the longest back-off
//! instead of retrying hot. With the `platform-verifier` build, the
//! operating system's trust store is used: a C program linked against
//! that build reaches the collector with the CA given as `SSL_CERT_FILE`.

mod support;

use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use kino::event::AnalyticsEvent;
use kino::stats::DeliveryError;
use kino::{Config, Emitter, ErrorKind};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use support::cbuild;
use support::collector::Collector;

const WAIT: Duration = Duration::from_secs(20);

/// A test CA, and a server certificate it signed.
struct Pki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

/// A CA and a certificate for `names` (DNS names) plus 127.0.0.1 when
/// `with_ip`.
fn pki(names: &[&str], with_ip: bool) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "kino test CA");
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    if with_ip {
        leaf.subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
    let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("kino-https-{name}-{}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn config(url: &str) -> Config {
    let mut c = Config::default();
    c.set_beacon_url(Some(url)).unwrap();
    // A hot loop would retry at the minimum; a certificate failure must
    // wait the maximum instead.
    c.set_retry_backoff_ms(10, 60_000).unwrap();
    c
}

fn emit_three(emitter: &Emitter) {
    for i in 0..3 {
        emitter
            .emit(AnalyticsEvent::Play { position: i as f64 })
            .unwrap();
    }
}

#[test]
fn a_configured_ca_file_lets_beacons_through() {
    let pki = pki(&["localhost"], true);
    let collector = Collector::https(pki.server.clone());
    let ca = temp_file("ca-file", &pki.ca_pem);
    let mut config = config(&collector.https_url(None));
    config.set_ca_file(Some(ca.to_str().unwrap())).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    emit_three(&emitter);
    emitter.flush(WAIT).unwrap();
    let s = emitter.stats();
    assert_eq!((s.delivered, s.failed, s.queued), (3, 0, 0));
    assert_eq!(collector.accepted_records().len(), 3);
    let _ = std::fs::remove_file(ca);
}

#[test]
fn a_ca_given_as_pem_through_the_c_api_lets_beacons_through() {
    use kino::ffi::config::*;
    use kino::ffi::emit::kino_emit_play;
    use kino::ffi::emitter::*;
    use kino::ffi::KinoStatus;
    let pki = pki(&["localhost"], true);
    let collector = Collector::https(pki.server.clone());
    let cfg = kino_config_new();
    let url = CString::new(collector.https_url(Some("localhost"))).unwrap();
    assert_eq!(
        kino_config_set_beacon_url(cfg, url.as_ptr()),
        KinoStatus::Ok
    );
    let pem = pki.ca_pem.as_bytes();
    assert_eq!(
        kino_config_set_ca_pem(cfg, pem.as_ptr().cast(), pem.len()),
        KinoStatus::Ok
    );
    let mut h = std::ptr::null_mut();
    assert_eq!(kino_emitter_new(cfg, &mut h), KinoStatus::Ok);
    kino_config_free(cfg);
    assert_eq!(kino_emit_play(h, 1.0), KinoStatus::Ok);
    assert_eq!(kino_emitter_flush(h, 20_000), KinoStatus::Ok);
    let mut s = KinoStats::default();
    assert_eq!(kino_emitter_stats(h, &mut s), KinoStatus::Ok);
    kino_emitter_free(h);
    assert_eq!((s.delivered, s.failed), (1, 0));
    assert_eq!(collector.accepted_records().len(), 1);
}

/// What a refused certificate must look like: nothing sent or lost, the
/// data kept, TLS named, and no retry within the flush's wait (the back-off
/// is at its 60 s maximum).
fn assert_refused_and_kept(emitter: &Emitter, collector: &Collector) {
    let flushed = emitter.flush(Duration::from_millis(500));
    assert_eq!(flushed.unwrap_err().kind, ErrorKind::Timeout);
    let s = emitter.stats();
    assert_eq!((s.delivered, s.failed, s.queued), (0, 0, 3), "kept: {s:?}");
    assert_eq!(s.last_error, DeliveryError::Tls as u64, "{s:?}");
    assert_eq!(s.retries, 0, "no hot retry loop: {s:?}");
    let message = emitter.last_error_message().to_lowercase();
    assert!(
        message.contains("certificate") || message.contains("tls"),
        "{message}"
    );
    assert!(collector.accepted_records().is_empty());
}

#[test]
fn kinos_built_in_roots_refuse_a_private_ca() {
    let pki = pki(&["localhost"], true);
    let collector = Collector::https(pki.server.clone());
    let emitter = Emitter::new(&config(&collector.https_url(None))).unwrap();
    emit_three(&emitter);
    assert_refused_and_kept(&emitter, &collector);
}

#[test]
fn a_certificate_for_another_host_name_is_refused() {
    let pki = pki(&["collector.other.example"], false);
    let collector = Collector::https(pki.server.clone());
    let mut config = config(&collector.https_url(Some("localhost")));
    config.set_ca_pem(Some(pki.ca_pem.as_bytes())).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    emit_three(&emitter);
    assert_refused_and_kept(&emitter, &collector);
}

#[test]
fn bad_ca_input_is_refused_with_a_reason() {
    let mut config = Config::default();
    let e = config.set_ca_file(Some("/nonexistent/ca.pem")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(e.message.contains("/nonexistent/ca.pem"), "{}", e.message);
    let junk = temp_file("junk", "not a certificate");
    let e = config
        .set_ca_file(Some(junk.to_str().unwrap()))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(e.message.contains("no certificate"), "{}", e.message);
    let _ = std::fs::remove_file(junk);
    config.set_ca_pem(None).unwrap();
}

/// The C program for the platform-verifier case: one event, flushed, and
/// its delivered count as the exit status check.
const PLATFORM_PLAYER: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include "kino.h"
int main(int argc, char **argv) {
    unsigned timeout_ms = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
    KinoEmitter *e = NULL;
    if (kino_emitter_new(NULL, &e) != KINO_STATUS_OK) { fprintf(stderr, "%s\n", kino_last_error_message()); return 2; }
    kino_emit_play(e, 1.0);
    KinoStatus s = kino_emitter_flush(e, timeout_ms);
    KinoStats st;
    kino_emitter_stats(e, &st);
    char why[512] = "";
    kino_emitter_last_delivery_error(e, why, sizeof why, NULL);
    printf("flush %s delivered %llu error %s\n", kino_status_str(s), (unsigned long long)st.delivered, why);
    kino_emitter_free(e);
    return st.delivered == 1 ? 0 : 1;
}
"#;

#[test]
fn the_platform_verifier_build_trusts_the_systems_store() {
    // The `platform-verifier` build of libkino, made once into its own
    // target directory (a nested cargo build: cargo released its lock).
    let root = cbuild::root();
    let target = root.join("target").join("platform-verifier");
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cbuild::clean_env(&mut build)
        .current_dir(&root)
        .args([
            "build",
            "--lib",
            "--quiet",
            "--features",
            "platform-verifier",
        ])
        .arg("--target-dir")
        .arg(&target);
    assert!(
        build.status().unwrap().success(),
        "the platform-verifier build"
    );
    let lib = target.join("debug");
    let _ = std::os::unix::fs::symlink("libkino.so", lib.join("libkino.so.0"));
    let source = temp_file("platform.c", PLATFORM_PLAYER);
    let program = cbuild::out_dir().join("platform_player");
    let cc = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Werror", "-I"])
        .arg(root.join("include"))
        .arg("-x")
        .arg("c")
        .arg(&source)
        .arg("-o")
        .arg(&program)
        .arg(format!("-L{}", lib.display()))
        .arg("-lkino")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .output()
        .unwrap();
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );

    let pki = pki(&["localhost"], true);
    let collector = Collector::https(pki.server.clone());
    let ca = temp_file("system-store", &pki.ca_pem);
    let url = collector.https_url(None);
    let run = |timeout_ms: &str, env: &[(&str, &str)]| {
        let mut cmd = Command::new(&program);
        cmd.arg(timeout_ms);
        // LD_LIBRARY_PATH (cargo's) would load the default build instead.
        cmd.env_remove("LD_LIBRARY_PATH")
            .env_remove("SSL_CERT_DIR")
            .env("KINO_BEACON_URL", &url);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    // The CA in the system store (SSL_CERT_FILE, as OpenSSL reads it).
    let trusted = run("20000", &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    let stdout = String::from_utf8_lossy(&trusted.stdout);
    assert!(
        trusted.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    assert_eq!(collector.accepted_records().len(), 1);
    // A store without it: refused.
    let empty = temp_file("empty-store", "");
    let refused = run("1000", &[("SSL_CERT_FILE", empty.to_str().unwrap())]);
    let stdout = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success(), "{stdout}");
    assert!(stdout.contains("flush KINO_STATUS_TIMEOUT"), "{stdout}");
    for f in [ca, empty, source] {
        let _ = std::fs::remove_file(f);
    }
}
