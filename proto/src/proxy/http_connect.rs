//! The HTTP `CONNECT` exchange (RFC 9110 §9.3.6): the request for a tunnel and the proxy's
//! answer, read with the handshake's bounded head reader. What does not live here: SOCKS5
//! (`socks5.rs`) and choosing a proxy (`env.rs`).

use alloc::format;
use alloc::vec::Vec;
use core::time::Duration;

use base64::Engine as _;
use bytes::Bytes;

use super::ProxyError;
use crate::error::{HandshakeError, PeerMisbehaved};
use crate::handshake::http::{self, Progress};
use crate::time::Instant;
use crate::transmit::{Deadline, Outbox};

/// The proxy's answer may be at most this long, over at most `MAX_HEADERS` lines: the
/// opening handshake's default caps.
const MAX_HEAD_BYTES: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;

#[derive(Debug)]
pub(super) struct HttpConnect {
    pub(super) outbox: Outbox,
    progress: Progress<u16>,
    deadline: Deadline,
    open: bool,
    /// Sticky: every later call reports it again.
    failed: Option<ProxyError>,
}

impl HttpConnect {
    pub(super) fn new(host: &str, port: u16, credentials: Option<(&str, &str)>, timeout: Duration) -> HttpConnect {
        let authority = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n").into_bytes();
        if let Some((user, password)) = credentials {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            http::write_header(&mut request, "Proxy-Authorization", format!("Basic {token}").as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        let mut outbox = Outbox::default();
        outbox.push(&request);
        HttpConnect {
            outbox,
            progress: Progress::new(MAX_HEAD_BYTES, MAX_HEADERS),
            deadline: Deadline::new(timeout),
            open: false,
            failed: None,
        }
    }

    pub(super) fn receive(&mut self, now: Instant, data: &[u8]) -> Result<Option<Vec<u8>>, ProxyError> {
        if self.open {
            return Ok(Some(data.to_vec()));
        }
        self.handle_timeout(now);
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.progress.receive(data, parse_answer) {
            Ok(None) => return Ok(None),
            Ok(Some(_)) => {}
            Err(e) => return Err(self.failed.insert(map(e)).clone()),
        }
        let progress = core::mem::replace(&mut self.progress, Progress::new(0, 0));
        let (_, leftover) = progress.into_complete().map_err(map)?;
        self.open = true;
        Ok(Some(leftover))
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if !self.open && self.failed.is_none() && self.deadline.is_expired(now) {
            self.failed = Some(ProxyError::Timeout { after: self.deadline.timeout() });
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        if self.open || self.failed.is_some() {
            return None;
        }
        self.deadline.at()
    }

    pub(super) fn error(&self) -> Option<&ProxyError> {
        self.failed.as_ref()
    }
}

/// A complete answer head: a 2xx status opens the tunnel (RFC 9110 §9.3.6: any body or
/// length header of a 2xx answer to CONNECT is ignored, the bytes after the head are the
/// tunnel's); any other status refuses it.
fn parse_answer(head: Bytes, header_lines: usize) -> Result<u16, HandshakeError> {
    let http::ResponseHead { status, headers, .. } = http::parse_response_head(&head, header_lines)?;
    if !(200..300).contains(&status) {
        return Err(HandshakeError::UnexpectedStatus { status, headers });
    }
    Ok(status)
}

fn map(e: HandshakeError) -> ProxyError {
    match e {
        HandshakeError::UnexpectedStatus { status, headers } => ProxyError::Refused { status, headers },
        HandshakeError::PeerMisbehaved(p) => ProxyError::PeerMisbehaved(p),
        HandshakeError::Timeout { after } => ProxyError::Timeout { after },
        HandshakeError::ApiMisuse(_) => {
            ProxyError::PeerMisbehaved(PeerMisbehaved::MalformedHttp("incomplete HTTP head"))
        }
    }
}
