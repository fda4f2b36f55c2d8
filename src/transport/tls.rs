//! What kino trusts for an `https://` collector: Mozilla's root
//! certificates (webpki-root-certs), plus any CA the host configures
//! (`kino_config_set_ca_file` / `kino_config_set_ca_pem`: a private
//! collector, a test CA). With the `platform-verifier` feature and no CA
//! configured, the operating system's trust store instead. The crypto is
//! rustls with ring.

use std::sync::{Arc, OnceLock};

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::{Error, Result};

/// Mozilla's roots as ureq certificates, made once per process.
fn mozilla_roots() -> &'static [Certificate<'static>] {
    static ROOTS: OnceLock<Vec<Certificate<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()))
            .collect()
    })
}

/// The TLS settings for an emitter whose host configured `extra_cas`
/// (DER certificates, already checked by [`parse_ca_pem`]).
pub fn tls_config(extra_cas: &[Vec<u8>]) -> TlsConfig {
    let roots = if extra_cas.is_empty() && cfg!(feature = "platform-verifier") {
        RootCerts::PlatformVerifier
    } else {
        let certs: Vec<Certificate<'static>> = mozilla_roots()
            .iter()
            .cloned()
            .chain(
                extra_cas
                    .iter()
                    .map(|der| Certificate::from_der(der).to_owned()),
            )
            .collect();
        RootCerts::Specific(Arc::new(certs))
    };
    TlsConfig::builder()
        .root_certs(roots)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build()
}

/// The CA certificates in `pem` (one or more `-----BEGIN CERTIFICATE-----`
/// blocks; other blocks are ignored), as DER, each checked to be usable as
/// a root. `InvalidArgument` if there is none, or one does not parse.
pub fn parse_ca_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert.der().to_vec()),
            Ok(_) => {}
            Err(e) => return Err(Error::invalid(format!("CA PEM does not parse: {e}"))),
        }
    }
    if certs.is_empty() {
        return Err(Error::invalid(
            "CA PEM holds no certificate (-----BEGIN CERTIFICATE----- block)",
        ));
    }
    for (i, der) in certs.iter().enumerate() {
        let mut store = rustls::RootCertStore::empty();
        if let Err(e) = store.add(rustls::pki_types::CertificateDer::from(der.as_slice())) {
            return Err(Error::invalid(format!(
                "CA certificate {} of {} cannot be a root: {e}",
                i + 1,
                certs.len()
            )));
        }
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mozillas_roots_are_there() {
        assert!(mozilla_roots().len() > 100);
    }

    #[test]
    fn bad_pem_is_refused_with_a_reason() {
        let e = parse_ca_pem(b"not a pem at all").unwrap_err();
        assert!(e.message.contains("no certificate"), "{}", e.message);
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = parse_ca_pem(garbage).unwrap_err();
        assert!(e.message.contains("cannot be a root"), "{}", e.message);
    }
}
