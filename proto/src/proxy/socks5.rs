//! The SOCKS5 exchange (RFC 1928, with RFC 1929 username/password): method choice,
//! optional authentication, then `CONNECT` to the target, each reply read into a buffer no
//! larger than the longest reply can be. What does not live here: HTTP `CONNECT`
//! (`http_connect.rs`) and choosing a proxy (`env.rs`).

use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::time::Duration;

use super::{ProxyError, Socks5Reply};
use crate::time::Instant;
use crate::transmit::{Deadline, Outbox};

const VERSION: u8 = 0x05;
const NO_AUTH: u8 = 0x00;
const USER_PASS: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xFF;
const CONNECT: u8 = 0x01;
const ATYP_IPV4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Sent the greeting; waiting for the method choice (2 bytes).
    Method,
    /// Sent username/password; waiting for its verdict (2 bytes).
    Auth,
    /// Sent CONNECT; waiting for the reply (variable length, at most 262 bytes).
    Reply,
    Open,
    Failed,
}

#[derive(Debug)]
pub(super) struct Socks5 {
    pub(super) outbox: Outbox,
    step: Step,
    /// The reply being read; never longer than the reply it waits for.
    buf: Vec<u8>,
    /// The CONNECT request, sent after the method (and authentication) is settled.
    connect: Vec<u8>,
    /// The username/password request, if credentials were given.
    auth: Option<Vec<u8>>,
    deadline: Deadline,
    failed: Option<ProxyError>,
}

impl Socks5 {
    pub(super) fn new(
        host: &str,
        port: u16,
        credentials: Option<(&str, &str)>,
        timeout: Duration,
    ) -> Result<Socks5, ProxyError> {
        let mut connect = Vec::with_capacity(7 + host.len());
        connect.extend_from_slice(&[VERSION, CONNECT, 0x00]);
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            connect.push(ATYP_IPV4);
            connect.extend_from_slice(&ip.octets());
        } else if let Ok(ip) = host.parse::<Ipv6Addr>() {
            connect.push(ATYP_IPV6);
            connect.extend_from_slice(&ip.octets());
        } else {
            let len = u8::try_from(host.len())
                .map_err(|_| ProxyError::InvalidTarget("a SOCKS5 host name is at most 255 bytes"))?;
            connect.extend_from_slice(&[ATYP_DOMAIN, len]);
            connect.extend_from_slice(host.as_bytes());
        }
        connect.extend_from_slice(&port.to_be_bytes());

        let auth = match credentials {
            None => None,
            Some((user, password)) => {
                let too_long = || ProxyError::InvalidTarget("a SOCKS5 user name or password is 1 to 255 bytes");
                let ulen = u8::try_from(user.len()).ok().filter(|&n| n > 0).ok_or_else(too_long)?;
                let plen = u8::try_from(password.len()).ok().filter(|&n| n > 0).ok_or_else(too_long)?;
                let mut req = Vec::with_capacity(3 + user.len() + password.len());
                req.extend_from_slice(&[0x01, ulen]);
                req.extend_from_slice(user.as_bytes());
                req.push(plen);
                req.extend_from_slice(password.as_bytes());
                Some(req)
            }
        };

        let mut outbox = Outbox::default();
        // Offer username/password only with credentials: a proxy that insists on them then
        // answers "no acceptable method", which says what is missing.
        if auth.is_some() {
            outbox.push(&[VERSION, 2, NO_AUTH, USER_PASS]);
        } else {
            outbox.push(&[VERSION, 1, NO_AUTH]);
        }
        Ok(Socks5 {
            outbox,
            step: Step::Method,
            buf: Vec::new(),
            connect,
            auth,
            deadline: Deadline::new(timeout),
            failed: None,
        })
    }

    pub(super) fn receive(&mut self, now: Instant, mut data: &[u8]) -> Result<Option<Vec<u8>>, ProxyError> {
        if self.step == Step::Open {
            return Ok(Some(data.to_vec()));
        }
        self.handle_timeout(now);
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        loop {
            let need = self.needed();
            let take = need.saturating_sub(self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() < self.needed() {
                // `needed` may have grown once the reply's address type is known.
                if data.is_empty() {
                    return Ok(None);
                }
                continue;
            }
            match self.advance() {
                Ok(true) => {
                    self.step = Step::Open;
                    return Ok(Some(data.to_vec()));
                }
                Ok(false) => {
                    if data.is_empty() {
                        return Ok(None);
                    }
                }
                Err(e) => {
                    self.step = Step::Failed;
                    return Err(self.failed.insert(e).clone());
                }
            }
        }
    }

    /// How long the reply being read is, as far as its bytes so far tell.
    fn needed(&self) -> usize {
        match self.step {
            Step::Method | Step::Auth => 2,
            // A wrong version or a failure code is acted on at once: the rest of such a
            // reply does not matter, and a proxy may close without sending it.
            Step::Reply if self.buf.len() >= 2 && (self.buf[0] != VERSION || self.buf[1] != 0) => self.buf.len(),
            Step::Reply => match self.buf.get(3) {
                None => 4,
                Some(&ATYP_IPV4) => 4 + 4 + 2,
                Some(&ATYP_IPV6) => 4 + 16 + 2,
                Some(&ATYP_DOMAIN) => match self.buf.get(4) {
                    None => 5,
                    Some(&len) => 5 + usize::from(len) + 2,
                },
                // An unknown address type: fail on the 4 bytes we have.
                Some(_) => 4,
            },
            Step::Open | Step::Failed => 0,
        }
    }

    /// Acts on a complete reply; `Ok(true)` when the tunnel is open.
    fn advance(&mut self) -> Result<bool, ProxyError> {
        let reply = core::mem::take(&mut self.buf);
        let misbehaved = ProxyError::MalformedSocks5;
        match self.step {
            Step::Method => {
                if reply[0] != VERSION {
                    return Err(misbehaved("SOCKS5 method reply with a wrong version"));
                }
                match reply[1] {
                    NO_AUTH => self.send_connect(),
                    USER_PASS => match self.auth.take() {
                        Some(auth) => {
                            self.outbox.push(&auth);
                            self.step = Step::Auth;
                        }
                        None => return Err(misbehaved("SOCKS5 proxy chose a method that was not offered")),
                    },
                    NO_ACCEPTABLE => return Err(ProxyError::NoAcceptableAuth),
                    _ => return Err(misbehaved("SOCKS5 proxy chose a method that was not offered")),
                }
                Ok(false)
            }
            Step::Auth => {
                // RFC 1929 §2: version 1; some servers answer with 5. Status 0 is success.
                if reply[0] != 0x01 && reply[0] != VERSION {
                    return Err(misbehaved("SOCKS5 authentication reply with a wrong version"));
                }
                if reply[1] != 0 {
                    return Err(ProxyError::AuthRejected);
                }
                self.send_connect();
                Ok(false)
            }
            Step::Reply => {
                if reply[0] != VERSION {
                    return Err(misbehaved("SOCKS5 reply with a wrong version"));
                }
                if reply[1] != 0 {
                    return Err(ProxyError::Socks5Failed(Socks5Reply::from_code(reply[1])));
                }
                if !matches!(reply[3], ATYP_IPV4 | ATYP_IPV6 | ATYP_DOMAIN) {
                    return Err(misbehaved("SOCKS5 reply with an unknown address type"));
                }
                Ok(true)
            }
            Step::Open | Step::Failed => Ok(self.step == Step::Open),
        }
    }

    fn send_connect(&mut self) {
        let connect = core::mem::take(&mut self.connect);
        self.outbox.push(&connect);
        self.step = Step::Reply;
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.step, Step::Method | Step::Auth | Step::Reply) && self.deadline.is_expired(now) {
            self.step = Step::Failed;
            self.failed = Some(ProxyError::Timeout { after: self.deadline.timeout() });
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        match self.step {
            Step::Method | Step::Auth | Step::Reply => self.deadline.at(),
            Step::Open | Step::Failed => None,
        }
    }

    pub(super) fn error(&self) -> Option<&ProxyError> {
        self.failed.as_ref()
    }

    /// Bytes of a reply read so far (bounded by the longest reply).
    #[cfg(test)]
    pub(super) fn buffered_reply(&self) -> usize {
        self.buf.len()
    }
}
