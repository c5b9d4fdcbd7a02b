//! TLS for the wss echo benchmark: test certificates made with rcgen (a CA and a leaf for
//! 127.0.0.1 and localhost, written as PEM files), rustls configurations on the aws-lc-rs
//! provider (the one Tether uses) for the benchmark's servers and its load generator, and
//! the load generator's stream — plain TCP, or TLS when `LOADGEN_TLS_CA` names the CA.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// Anything the load generator reads and writes: TCP, or TLS over it.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// The load generator's connection.
pub type Stream = Box<dyn Io>;

type Error = Box<dyn std::error::Error>;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Writes `ca.pem`, `cert.pem` and `key.pem` (a CA and a leaf for 127.0.0.1 and localhost
/// signed by it) into `dir`.
///
/// # Errors
/// When a certificate cannot be made or a file written.
pub fn make_pki(dir: &Path) -> Result<(), Error> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name.push(rcgen::DnType::CommonName, "Tether bench CA");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let key = rcgen::KeyPair::generate()?;
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let cert = leaf.signed_by(&key, &issuer)?;
    std::fs::write(dir.join("ca.pem"), ca_cert.pem())?;
    std::fs::write(dir.join("cert.pem"), cert.pem())?;
    std::fs::write(dir.join("key.pem"), key.serialize_pem())?;
    Ok(())
}

/// A server configuration for the certificate and key in these PEM files (ALPN
/// `http/1.1`).
///
/// # Errors
/// When a file cannot be read or parsed.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, Error> {
    let certs = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Connect to `addr` with `TCP_NODELAY`; then, if `LOADGEN_TLS_CA` names a CA file, run a
/// TLS handshake trusting only it (server name 127.0.0.1).
///
/// # Errors
/// When connecting, reading the CA or the TLS handshake fails.
pub async fn connect(addr: SocketAddr) -> Result<Stream, Error> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let Some(ca) = std::env::var_os("LOADGEN_TLS_CA") else {
        return Ok(Box::new(tcp));
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(Path::new(&ca))? {
        roots.add(cert?)?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(addr.ip().to_string())?;
    Ok(Box::new(connector.connect(name, tcp).await?))
}
