//! `hyper_server ADDR [--tls CERT KEY] [--no-http2]` (default 127.0.0.1:8080): one hyper 1.x
//! port serving an HTML page at `GET /`, an echo WebSocket at `/ws` through
//! `tether_tokio::hyper` and its counters at `GET /stats`, over HTTP/1.1 and HTTP/2 (RFC 8441
//! extended CONNECT; with `--tls`, ALPN offers `h2` and `http/1.1`, and browsers open their
//! WebSockets on the page's HTTP/2 connection). `--no-http2`: HTTP/1.1 only. TLS needs the
//! `rustls` feature; with the `deflate` feature the WebSocket offers permessage-deflate.
//! The server itself is `hyper_app/app.rs` (shared with the tests).

#[path = "hyper_app/app.rs"]
#[cfg_attr(not(feature = "rustls"), allow(dead_code))] // `tls_config` serves `--tls` only
mod app;

use std::process::ExitCode;

/// Each WebSocket's configuration: room for 16 MiB messages (what Autobahn's and the
/// browsers' tests send), permessage-deflate with the `deflate` feature.
fn config() -> tether_tokio::Config {
    let builder = tether_tokio::server_config().to_builder().max_message_size(32 << 20).max_frame_size(32 << 20);
    #[cfg(feature = "deflate")]
    let builder = builder.deflate(Some(tether_tokio::DeflateConfig::default()));
    builder.build().expect("these limits are valid")
}

#[cfg(feature = "rustls")]
fn tls(cert: &str, key: &str, http2: bool) -> Result<tokio_rustls::TlsAcceptor, String> {
    let base = tether_tokio::TlsAcceptor::from_pem_files(cert, key).map_err(|e| e.to_string())?;
    Ok(tokio_rustls::TlsAcceptor::from(app::tls_config(&base.config(), http2)))
}

#[cfg(not(feature = "rustls"))]
fn tls(_cert: &str, _key: &str, _http2: bool) -> Result<tokio_rustls::TlsAcceptor, String> {
    Err("--tls needs the rustls feature".into())
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut addr = "127.0.0.1:8080".to_owned();
    let (mut cert_key, mut http2) = (None, true);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tls" => match (args.next(), args.next()) {
                (Some(cert), Some(key)) => cert_key = Some((cert, key)),
                _ => {
                    eprintln!("usage: hyper_server ADDR [--tls CERT KEY] [--no-http2]");
                    return ExitCode::from(2);
                }
            },
            "--no-http2" => http2 = false,
            _ => addr = arg,
        }
    }
    let tls = match cert_key.map(|(cert, key)| tls(&cert, &key, http2)).transpose() {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("TLS: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("bind {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    match listener.local_addr() {
        Ok(local) => println!("listening on {scheme}://{local}/ (HTTP/2: {http2})"),
        Err(e) => eprintln!("local address: {e}"),
    }
    match app::run(listener, tls, http2, app::App::new(config())).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accept: {e}");
            ExitCode::FAILURE
        }
    }
}
