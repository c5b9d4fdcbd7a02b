//! The HTTP/1.1 upgrade by hand (RFC 6455 §4): the load generator's request and the raw
//! reference server's minimal answer. Just enough for our own programs to talk to each
//! other and to every echo server under test; no validation that a library would do.

use base64::Engine as _;

/// The `Sec-WebSocket-Key` every generated request carries (the RFC's example value).
pub const CLIENT_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// The request the load generators send for `path`.
pub fn client_request(host: &str, path: &str) -> String {
    client_request_offering(host, path, None)
}

/// The request for `path`, offering `extensions` (a `Sec-WebSocket-Extensions` value).
pub fn client_request_offering(host: &str, path: &str, extensions: Option<&str>) -> String {
    let offer = extensions.map(|e| format!("Sec-WebSocket-Extensions: {e}\r\n")).unwrap_or_default();
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {CLIENT_KEY}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    )
}

/// Connects to `addr`, upgrades `path` and returns the stream with any bytes read past the
/// response head (the server's first frames).
///
/// # Errors
/// When connecting fails, the server closes or refuses the upgrade, or its head is over
/// 16 KiB.
pub async fn upgrade(
    addr: std::net::SocketAddr,
    path: &str,
) -> Result<(crate::tls::Stream, Vec<u8>), Box<dyn std::error::Error>> {
    let (stream, _head, leftover) = upgrade_offering(addr, path, None).await?;
    Ok((stream, leftover))
}

/// As [`upgrade`], offering `extensions`; also returns the response head (to read what
/// the server agreed to). Over TLS when `LOADGEN_TLS_CA` names a CA file
/// ([`crate::tls::connect`]).
///
/// # Errors
/// As [`upgrade`].
pub async fn upgrade_offering(
    addr: std::net::SocketAddr,
    path: &str,
    extensions: Option<&str>,
) -> Result<(crate::tls::Stream, String, Vec<u8>), Box<dyn std::error::Error>> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = crate::tls::connect(addr).await?;
    stream.write_all(client_request_offering(&addr.to_string(), path, extensions).as_bytes()).await?;
    let mut buf = Vec::with_capacity(1024);
    loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err("server closed during the handshake".into());
        }
        if let Some(end) = head_end(&buf) {
            if !buf.starts_with(b"HTTP/1.1 101") {
                return Err(format!("handshake refused: {}", String::from_utf8_lossy(&buf[..end])).into());
            }
            let rest = buf.split_off(end);
            return Ok((stream, String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        if buf.len() > 16 << 10 {
            return Err("handshake response too long".into());
        }
    }
}

/// `Sec-WebSocket-Accept` for `key`.
pub fn accept_key(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes())
}

/// End of the HTTP head in `buf` (index after `\r\n\r\n`), if complete.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// The raw server's 101 response to a request head, or `None` if it has no key.
pub fn server_response(head: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(head).ok()?;
    let key = text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("sec-websocket-key").then(|| value.trim())
    })?;
    Some(format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6455 §1.3's worked example.
    #[test]
    fn accept_key_rfc6455_1_3() {
        assert_eq!(accept_key(CLIENT_KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn response_answers_request() {
        let req = client_request("127.0.0.1:1", "/");
        let end = head_end(req.as_bytes()).unwrap();
        assert_eq!(end, req.len());
        assert!(server_response(req.as_bytes()).unwrap().contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    }
}
