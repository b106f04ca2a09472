//! TLS settings for the production runtime: the server side of `--tls` (certificate, key, and
//! the CA that client certificates must chain to) and the client side a replica uses with
//! `--tls_replication`. Built once at startup from PEM files; any unreadable or inconsistent
//! file is a startup error with the file's name, never a panic later.

use super::tls_verify::ChainOnlyVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::sync::Arc;
use std::time::Duration;

/// How long an accepted connection may take to finish its handshake before it is dropped
/// (a client that connects and stays silent must not hold a slot for ever).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether clients must present a certificate when a CA is configured (Redis's
/// `tls-auth-clients`: yes, no, optional).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    Required,
    Optional,
    Off,
}

/// The file names and switches TLS is built from (empty = not given).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: String,
    pub key: String,
    pub ca: String,
    /// `--tls`: serve TLS on the main port.
    pub serve: bool,
    /// `--tls_replication`: the link to a primary uses TLS.
    pub replication: bool,
    pub client_auth: ClientAuth,
}

/// The ready-to-use TLS contexts.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: Option<tokio_rustls::TlsAcceptor>,
    pub connector: Option<tokio_rustls::TlsConnector>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.2 and 1.3, as Dragonfly allows (it sets 1.2 as the minimum).
const VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

impl Tls {
    /// Builds what `files` asks for; `Ok(None)` when neither serving nor replication uses TLS.
    pub fn load(files: &TlsFiles) -> Result<Option<Tls>, String> {
        if !files.serve && !files.replication {
            return Ok(None);
        }
        let acceptor = if files.serve { Some(server_config(files)?.into()) } else { None };
        let connector = if files.replication { Some(client_config(files)?.into()) } else { None };
        Ok(Some(Tls { acceptor, connector }))
    }
}

fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, String> {
    if files.cert.is_empty() || files.key.is_empty() {
        return Err("--tls needs --tls_cert_file and --tls_key_file".into());
    }
    let certs = read_certs(&files.cert, "--tls_cert_file")?;
    let key = read_key(&files.key)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = if files.ca.is_empty() || files.client_auth == ClientAuth::Off {
        builder.with_no_client_auth()
    } else {
        let roots = Arc::new(read_roots(&files.ca)?);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider());
        let verifier =
            if files.client_auth == ClientAuth::Optional { verifier.allow_unauthenticated() } else { verifier };
        builder
            .with_client_cert_verifier(verifier.build().map_err(|e| format!("--tls_ca_cert_file {}: {e}", files.ca))?)
    };
    // No ALPN list: a client offering only protocols we do not list would be refused, and
    // HTTP clients (Prometheus's https scrape of /metrics) use HTTP/1.1 without one.
    let config = builder.with_single_cert(certs, key).map_err(|e| pair_error(files, e))?;
    Ok(Arc::new(config))
}

fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, String> {
    // As Redis: the primary's certificate must chain to a CA we were given.
    if files.ca.is_empty() {
        return Err("--tls_replication needs --tls_ca_cert_file (the CA the primary's certificate chains to)".into());
    }
    let roots = Arc::new(read_roots(&files.ca)?);
    let verifier =
        ChainOnlyVerifier::new(roots, provider()).map_err(|e| format!("--tls_ca_cert_file {}: {e}", files.ca))?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    // A replica presents its own certificate, which a primary requiring client certificates
    // checks (Redis uses tls-cert-file the same way).
    let config = if files.cert.is_empty() && files.key.is_empty() {
        builder.with_no_client_auth()
    } else if files.cert.is_empty() || files.key.is_empty() {
        return Err("a replica's certificate needs both --tls_cert_file and --tls_key_file".into());
    } else {
        let certs = read_certs(&files.cert, "--tls_cert_file")?;
        builder.with_client_auth_cert(certs, read_key(&files.key)?).map_err(|e| pair_error(files, e))?
    };
    Ok(Arc::new(config))
}

fn read_certs(path: &str, flag: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{flag} {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{flag} {path}: no PEM certificate in the file"));
    }
    Ok(certs)
}

fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!("--tls_key_file {path}: no PEM private key in the file"),
        e => format!("--tls_key_file {path}: {e}"),
    })
}

/// A certificate and key that do not go together, or a key rustls cannot use.
fn pair_error(files: &TlsFiles, e: rustls::Error) -> String {
    let why = match e {
        rustls::Error::InconsistentKeys(_) => "the key does not belong to the certificate".to_string(),
        e => e.to_string(),
    };
    format!("--tls_cert_file {} and --tls_key_file {}: {why}", files.cert, files.key)
}

fn read_roots(path: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path, "--tls_ca_cert_file")? {
        roots.add(cert).map_err(|e| format!("--tls_ca_cert_file {path}: {e}"))?;
    }
    Ok(roots)
}
