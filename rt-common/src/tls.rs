//! TLS configuration shared by every adapter (feature `rustls`): [`TlsConnector`] for
//! clients (platform or bundled trust roots, or the caller's `ClientConfig`), [`TlsAcceptor`]
//! for servers (PEM files, or the caller's `ServerConfig`), both on an explicitly chosen
//! crypto provider, and [`TlsError`], which says what failed; the default connector `connect`
//! uses and the SNI name of a URL host. What does not live here: the TLS streams
//! themselves (tokio-rustls / futures-rustls, in each adapter's `MaybeTlsStream`).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The ALPN protocol a WebSocket over HTTP/1.1 announces (RFC 7301; RFC 6455 upgrades
/// an HTTP/1.1 request).
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// Why a TLS configuration could not be built, or a TLS handshake failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// No trust root could be loaded (the platform store is empty or unreadable, and no
    /// bundled roots were asked for).
    #[error("no trust roots: {0}")]
    NoRoots(String),
    /// A PEM file or buffer could not be read or holds no usable item.
    #[error("PEM {what}: {detail}")]
    Pem {
        /// What was being read (`certificate chain`, `private key`, `trust root`).
        what: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// The peer's certificate was refused; [`CertificateProblem`] says why.
    #[error("the peer's certificate was refused: {0:?}")]
    Certificate(CertificateProblem),
    /// The peer does not speak TLS (for example plain HTTP sent to a TLS port), or broke
    /// the TLS protocol.
    #[error("the peer broke the TLS protocol: {0}")]
    Protocol(String),
    /// The URL's host is neither a DNS name nor an IP address, so it cannot be checked
    /// against a certificate.
    #[error("{0:?} cannot be a TLS server name")]
    InvalidServerName(String),
    /// Any other TLS failure, as rustls reports it.
    #[error("TLS: {0}")]
    Other(rustls::Error),
}

/// Why a certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// Signed by an authority that is not trusted.
    UnknownIssuer,
    /// Valid, but not for the name that was connected to.
    NotValidForName,
    /// Expired.
    Expired,
    /// Not valid yet.
    NotValidYet,
    /// Revoked.
    Revoked,
    /// Anything else rustls reports about the certificate.
    Other(String),
}

impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> TlsError {
        use rustls::CertificateError as C;
        match e {
            rustls::Error::InvalidCertificate(c) => TlsError::Certificate(match c {
                C::UnknownIssuer => CertificateProblem::UnknownIssuer,
                C::NotValidForName | C::NotValidForNameContext { .. } => CertificateProblem::NotValidForName,
                C::Expired | C::ExpiredContext { .. } => CertificateProblem::Expired,
                C::NotValidYet | C::NotValidYetContext { .. } => CertificateProblem::NotValidYet,
                C::Revoked => CertificateProblem::Revoked,
                other => CertificateProblem::Other(format!("{other:?}")),
            }),
            rustls::Error::InvalidMessage(m) => TlsError::Protocol(format!("{m:?}")),
            rustls::Error::InappropriateMessage { .. } | rustls::Error::InappropriateHandshakeMessage { .. } => {
                TlsError::Protocol(e.to_string())
            }
            other => TlsError::Other(other),
        }
    }
}

impl TlsError {
    /// The TLS error inside an IO error from a TLS stream (tokio-rustls and futures-rustls
    /// report handshake failures as `io::Error`s wrapping a `rustls::Error`), typed.
    pub fn from_io(e: &std::io::Error) -> Option<TlsError> {
        let inner = e.get_ref()?.downcast_ref::<rustls::Error>()?;
        Some(TlsError::from(inner.clone()))
    }
}

/// The crypto provider Tether uses: aws-lc-rs (rustls' recommended provider, with the
/// post-quantum hybrid key exchange), chosen here explicitly, so no process-wide default
/// provider is needed — or can be missing, which is the panic other libraries hit when two
/// providers end up in one build.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A client's TLS settings, cheap to clone and meant to be reused across connections (the
/// session cache inside is shared).
///
/// ```no_run
/// # fn f() -> Result<(), tether_rt::TlsError> {
/// use tether_rt::TlsConnector;
/// let tls = TlsConnector::with_roots_from_pem_file("ca.pem")?; // a private CA
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TlsConnector {
    config: Arc<ClientConfig>,
}

impl TlsConnector {
    /// The platform's trust roots (honouring `SSL_CERT_FILE` and `SSL_CERT_DIR`), TLS 1.2
    /// and 1.3, ALPN `http/1.1`.
    ///
    /// # Errors
    /// [`TlsError::NoRoots`] when no root could be loaded.
    #[cfg(feature = "rustls-native-roots")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls-native-roots")))]
    pub fn with_platform_roots() -> Result<TlsConnector, TlsError> {
        let loaded = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
        if added == 0 {
            let why = loaded.errors.first().map_or_else(|| "the platform store is empty".to_owned(), |e| e.to_string());
            return Err(TlsError::NoRoots(why));
        }
        Self::with_roots(roots)
    }

    /// The Mozilla trust roots bundled in the binary (the `webpki-roots` crate): the same
    /// everywhere, whatever the platform has.
    #[cfg(feature = "rustls-webpki-roots")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls-webpki-roots")))]
    pub fn with_webpki_roots() -> TlsConnector {
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        Self::with_roots(roots).unwrap_or_else(|_| unreachable!("the bundled roots are never empty"))
    }

    /// Trusts exactly the certificates in a PEM file (a private CA, or a test CA).
    ///
    /// # Errors
    /// [`TlsError::Pem`] when the file cannot be read or holds no certificate.
    pub fn with_roots_from_pem_file(path: impl AsRef<Path>) -> Result<TlsConnector, TlsError> {
        let pem = std::fs::read(path.as_ref())
            .map_err(|e| TlsError::Pem { what: "trust root", detail: format!("{}: {e}", path.as_ref().display()) })?;
        Self::with_roots_from_pem(&pem)
    }

    /// Trusts exactly the certificates in a PEM buffer.
    ///
    /// # Errors
    /// [`TlsError::Pem`] when it holds no certificate.
    pub fn with_roots_from_pem(pem: &[u8]) -> Result<TlsConnector, TlsError> {
        let mut roots = RootCertStore::empty();
        for cert in certs(pem, "trust root")? {
            roots.add(cert).map_err(|e| TlsError::Pem { what: "trust root", detail: e.to_string() })?;
        }
        Self::with_roots(roots)
    }

    fn with_roots(roots: RootCertStore) -> Result<TlsConnector, TlsError> {
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
        Ok(TlsConnector { config: Arc::new(config) })
    }

    /// The caller's own configuration, used as given (set its ALPN to `http/1.1` for a
    /// WebSocket over HTTP/1.1; client certificates, roots and provider are the caller's).
    pub fn from_config(config: Arc<ClientConfig>) -> TlsConnector {
        TlsConnector { config }
    }

    /// The rustls configuration, for building a tokio-rustls or futures-rustls connector.
    pub fn config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.config)
    }

    /// The connector `connect` uses for `wss://` when none was given: the platform's roots
    /// (feature `rustls-native-roots`), else the bundled ones (`rustls-webpki-roots`).
    /// Built once per process and shared (the platform store is read once).
    ///
    /// # Errors
    /// [`TlsError::NoRoots`] when neither feature is on or the platform store is empty.
    pub fn default_roots() -> Result<TlsConnector, TlsError> {
        static DEFAULT: std::sync::OnceLock<TlsConnector> = std::sync::OnceLock::new();
        if let Some(connector) = DEFAULT.get() {
            return Ok(connector.clone());
        }
        let connector = Self::build_default()?;
        Ok(DEFAULT.get_or_init(|| connector).clone())
    }

    #[cfg(feature = "rustls-native-roots")]
    fn build_default() -> Result<TlsConnector, TlsError> {
        Self::with_platform_roots()
    }

    #[cfg(all(feature = "rustls-webpki-roots", not(feature = "rustls-native-roots")))]
    fn build_default() -> Result<TlsConnector, TlsError> {
        Ok(Self::with_webpki_roots())
    }

    #[cfg(not(any(feature = "rustls-native-roots", feature = "rustls-webpki-roots")))]
    fn build_default() -> Result<TlsConnector, TlsError> {
        Err(TlsError::NoRoots(
            "no roots feature (rustls-native-roots, rustls-webpki-roots): pass ClientBuilder::tls".to_owned(),
        ))
    }
}

/// The SNI name (and the name the certificate is checked against) for a URL host: a DNS
/// name, or an IP address (IPv6 with or without its brackets).
pub(crate) fn server_name(host: &str) -> Result<rustls::pki_types::ServerName<'static>, TlsError> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    rustls::pki_types::ServerName::try_from(bare.to_owned()).map_err(|_| TlsError::InvalidServerName(host.to_owned()))
}

/// A server's TLS settings, cheap to clone.
///
/// ```no_run
/// # fn f() -> Result<(), tether_rt::TlsError> {
/// use tether_rt::TlsAcceptor;
/// let tls = TlsAcceptor::from_pem_files("cert.pem", "key.pem")?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
}

impl TlsAcceptor {
    /// A certificate chain and its private key from PEM files (PKCS#8, PKCS#1 or SEC1), TLS
    /// 1.2 and 1.3, ALPN `http/1.1`.
    ///
    /// # Errors
    /// [`TlsError::Pem`] when a file cannot be read or holds no usable item;
    /// [`TlsError::Other`] when the key does not fit the certificate.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        private_key: impl AsRef<Path>,
    ) -> Result<TlsAcceptor, TlsError> {
        let read = |what, path: &Path| {
            std::fs::read(path).map_err(|e| TlsError::Pem { what, detail: format!("{}: {e}", path.display()) })
        };
        let chain = read("certificate chain", cert_chain.as_ref())?;
        let key = read("private key", private_key.as_ref())?;
        Self::from_pem(&chain, &key)
    }

    /// A certificate chain and its private key from PEM buffers.
    ///
    /// # Errors
    /// As [`from_pem_files`](TlsAcceptor::from_pem_files).
    pub fn from_pem(cert_chain: &[u8], private_key: &[u8]) -> Result<TlsAcceptor, TlsError> {
        let chain = certs(cert_chain, "certificate chain")?;
        let key = PrivateKeyDer::from_pem_slice(private_key)
            .map_err(|e| TlsError::Pem { what: "private key", detail: e.to_string() })?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Other)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(TlsError::Other)?;
        config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
        Ok(TlsAcceptor { config: Arc::new(config) })
    }

    /// The caller's own configuration, used as given.
    pub fn from_config(config: Arc<ServerConfig>) -> TlsAcceptor {
        TlsAcceptor { config }
    }

    /// The rustls configuration, for building a tokio-rustls or futures-rustls acceptor.
    pub fn config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config)
    }
}

fn certs(pem: &[u8], what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem { what, detail: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsError::Pem { what, detail: "no certificate in it".to_owned() });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test CA: its parameters and key (to sign leaves with) and its certificate as PEM.
    fn test_ca(name: &str) -> ((rcgen::CertificateParams, rcgen::KeyPair), String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).unwrap().pem();
        ((params, key), pem)
    }

    #[test]
    fn configs_build_from_pem_and_announce_http_1_1() {
        let (_, ca_pem) = test_ca("Tether test CA");
        let client = TlsConnector::with_roots_from_pem(ca_pem.as_bytes()).unwrap();
        assert_eq!(client.config().alpn_protocols, [b"http/1.1".to_vec()]);

        let leaf = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let server =
            TlsAcceptor::from_pem(leaf.cert.pem().as_bytes(), leaf.signing_key.serialize_pem().as_bytes()).unwrap();
        assert_eq!(server.config().alpn_protocols, [b"http/1.1".to_vec()]);
    }

    #[test]
    fn bad_pem_is_a_typed_error_that_names_the_item() {
        assert!(matches!(TlsConnector::with_roots_from_pem(b""), Err(TlsError::Pem { what: "trust root", .. })));
        assert!(matches!(
            TlsConnector::with_roots_from_pem_file("/nonexistent/ca.pem"),
            Err(TlsError::Pem { what: "trust root", .. })
        ));
        let leaf = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        assert!(matches!(
            TlsAcceptor::from_pem(leaf.cert.pem().as_bytes(), b"not a key"),
            Err(TlsError::Pem { what: "private key", .. })
        ));
        assert!(matches!(
            TlsAcceptor::from_pem(b"", leaf.signing_key.serialize_pem().as_bytes()),
            Err(TlsError::Pem { what: "certificate chain", .. })
        ));
        let other = rcgen::KeyPair::generate().unwrap();
        assert!(matches!(
            TlsAcceptor::from_pem(leaf.cert.pem().as_bytes(), other.serialize_pem().as_bytes()),
            Err(TlsError::Other(_))
        ));
    }

    #[test]
    fn certificate_errors_are_classified() {
        use rustls::CertificateError as C;
        let classify = |c| match TlsError::from(rustls::Error::InvalidCertificate(c)) {
            TlsError::Certificate(p) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(classify(C::UnknownIssuer), CertificateProblem::UnknownIssuer);
        assert_eq!(classify(C::NotValidForName), CertificateProblem::NotValidForName);
        assert_eq!(classify(C::Expired), CertificateProblem::Expired);
        let io =
            std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::InvalidCertificate(C::UnknownIssuer));
        assert!(matches!(TlsError::from_io(&io), Some(TlsError::Certificate(CertificateProblem::UnknownIssuer))));
        assert!(TlsError::from_io(&std::io::Error::other("plain")).is_none());
    }

    /// A leaf certificate for `localhost` signed by `ca`, valid from 2020 to `until`: its PEM
    /// and its key's PEM.
    fn leaf_signed_by(ca: &(rcgen::CertificateParams, rcgen::KeyPair), until: i32) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(until, 1, 1);
        let issuer = rcgen::Issuer::from_params(&ca.0, &ca.1);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Runs a real rustls handshake in memory; the client's error, if any.
    fn handshake(client: &TlsConnector, server: &TlsAcceptor, name: &str) -> Result<(), TlsError> {
        let name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
        let mut c = rustls::ClientConnection::new(client.config(), name).unwrap();
        let mut s = rustls::ServerConnection::new(server.config()).unwrap();
        for _ in 0..20 {
            let mut wire = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut wire).unwrap();
            }
            let mut rd = &wire[..];
            while !rd.is_empty() {
                s.read_tls(&mut rd).unwrap();
            }
            if s.process_new_packets().is_err() {
                // The server's alert goes back to the client, which reports its own error.
            }
            let mut wire = Vec::new();
            while s.wants_write() {
                s.write_tls(&mut wire).unwrap();
            }
            let mut rd = &wire[..];
            while !rd.is_empty() {
                c.read_tls(&mut rd).unwrap();
            }
            c.process_new_packets().map_err(TlsError::from)?;
            if !c.is_handshaking() && !s.is_handshaking() {
                return Ok(());
            }
        }
        panic!("handshake did not finish");
    }

    #[test]
    fn real_handshakes_report_what_failed() {
        let (ca, ca_pem) = test_ca("Tether test CA");
        let (other_ca, other_pem) = test_ca("Someone else's CA");
        let client = TlsConnector::with_roots_from_pem(ca_pem.as_bytes()).unwrap();
        let (cert, key) = leaf_signed_by(&ca, 2100);
        let server = TlsAcceptor::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        handshake(&client, &server, "localhost").unwrap();

        let wrong_name = handshake(&client, &server, "other.example").unwrap_err();
        assert!(matches!(wrong_name, TlsError::Certificate(CertificateProblem::NotValidForName)), "{wrong_name:?}");

        let stranger = TlsConnector::with_roots_from_pem(other_pem.as_bytes()).unwrap();
        let unknown = handshake(&stranger, &server, "localhost").unwrap_err();
        assert!(matches!(unknown, TlsError::Certificate(CertificateProblem::UnknownIssuer)), "{unknown:?}");

        let (old_cert, old_key) = leaf_signed_by(&ca, 2021);
        let expired_server = TlsAcceptor::from_pem(old_cert.as_bytes(), old_key.as_bytes()).unwrap();
        let expired = handshake(&client, &expired_server, "localhost").unwrap_err();
        assert!(matches!(expired, TlsError::Certificate(CertificateProblem::Expired)), "{expired:?}");
        drop(other_ca);
    }

    #[cfg(feature = "rustls-webpki-roots")]
    #[test]
    fn bundled_roots_load() {
        assert!(!TlsConnector::with_webpki_roots().config().alpn_protocols.is_empty());
    }
}
