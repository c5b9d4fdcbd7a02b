//! permessage-deflate (RFC 7692), behind the `deflate` feature: its settings
//! ([`DeflateConfig`], in this endpoint's own terms), what a handshake agreed
//! ([`DeflateParams`]) and the negotiation in both roles — the client's offer and its check
//! of the server's answer, the server's choice among the client's offers. Compressing and
//! decompressing live in `codec.rs`; RSV1 and message assembly live in the connection.

pub(crate) mod codec;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use crate::error::{ConfigError, DeflateResponseFault};

/// The extension's name in `Sec-WebSocket-Extensions`.
pub(crate) const EXTENSION: &str = "permessage-deflate";

/// The smallest LZ77 window (as a power of two) this engine compresses or decompresses
/// with. RFC 7692 allows 8, but zlib (and zlib-rs) cannot write raw DEFLATE with a 256-byte
/// window: asked for 8 it uses 9, which a peer that truly decompresses with 8 cannot read.
/// So a request to compress with 8 is declined (server) or fails the handshake (client),
/// and a peer announcing 8 is decompressed with a 512-byte window (a superset).
pub const MIN_WINDOW_BITS: u8 = 9;

/// The largest LZ77 window, 32 KiB (RFC 7692 §7.1.2).
pub const MAX_WINDOW_BITS: u8 = 15;

/// permessage-deflate settings, in this endpoint's terms: *our* compressor and the
/// *peer's* (which our decompressor must follow). A client turns them into its offer, a
/// server into its choice among the client's offers; the role decides which of RFC 7692's
/// `server_*` / `client_*` parameters each one becomes.
///
/// | setting | default | RFC 7692 parameter (client / server) |
/// |---|---|---|
/// | [`window_bits`](Self::window_bits) | 15 | `client_max_window_bits` / `server_max_window_bits` |
/// | [`peer_window_bits`](Self::peer_window_bits) | 15 (no limit asked) | `server_max_window_bits` / `client_max_window_bits` |
/// | [`no_context_takeover`](Self::no_context_takeover) | off | `client_no_context_takeover` / `server_no_context_takeover` |
/// | [`peer_no_context_takeover`](Self::peer_no_context_takeover) | off | `server_no_context_takeover` / `client_no_context_takeover` |
/// | [`level`](Self::level) | 6 | — |
/// | [`memory_level`](Self::memory_level) | 8 | — |
/// | [`min_size`](Self::min_size) | 32 bytes | — |
/// | [`release_idle_compressor`](Self::release_idle_compressor) | after 10 s without compressing | — |
///
/// ```
/// use tether_proto::{Config, DeflateConfig};
/// let deflate = DeflateConfig::default().peer_window_bits(12).peer_no_context_takeover(true).level(1);
/// let config = Config::builder().deflate(Some(deflate)).build().unwrap();
/// assert_eq!(config.deflate().unwrap().get_peer_window_bits(), 12);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    pub(crate) window_bits: u8,
    pub(crate) peer_window_bits: u8,
    pub(crate) no_context_takeover: bool,
    pub(crate) peer_no_context_takeover: bool,
    pub(crate) level: u8,
    pub(crate) memory_level: u8,
    pub(crate) min_size: usize,
    /// Whole seconds (0: never), not an `Option<Duration>`: this struct sits inline in
    /// `Config`, which futures of the async layer hold across their awaits, and a `u16`
    /// fits beside the byte-sized fields (a test bounds those futures' size).
    pub(crate) release_idle_secs: u16,
}

/// How long a kept compressor may sit unused before it is freed, by default.
pub(crate) const DEFAULT_COMPRESSOR_IDLE_RELEASE: Duration = Duration::from_secs(10);

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            window_bits: MAX_WINDOW_BITS,
            peer_window_bits: MAX_WINDOW_BITS,
            no_context_takeover: false,
            peer_no_context_takeover: false,
            level: 6,
            memory_level: 8,
            min_size: 32,
            release_idle_secs: DEFAULT_COMPRESSOR_IDLE_RELEASE.as_secs() as u16,
        }
    }
}

impl DeflateConfig {
    /// The largest LZ77 window our compressor uses, as a power of two
    /// ([`MIN_WINDOW_BITS`]..=[`MAX_WINDOW_BITS`]); the peer may ask for less.
    pub fn window_bits(mut self, bits: u8) -> Self {
        self.window_bits = bits;
        self
    }
    /// The largest window we let the peer compress with (our decompressor's memory:
    /// 2^bits bytes). Below 15 it is asked for in the handshake; a client that does not
    /// support the parameter may still use 32 KiB, and is decompressed with it.
    pub fn peer_window_bits(mut self, bits: u8) -> Self {
        self.peer_window_bits = bits;
        self
    }
    /// Compress each message on its own (no LZ77 history across messages): the compressor
    /// is freed after every message, at the price of compression ratio.
    pub fn no_context_takeover(mut self, on: bool) -> Self {
        self.no_context_takeover = on;
        self
    }
    /// Ask the peer to compress each message on its own; our decompressor is then freed
    /// after every message.
    pub fn peer_no_context_takeover(mut self, on: bool) -> Self {
        self.peer_no_context_takeover = on;
        self
    }
    /// zlib compression level, 0 (store) to 9 (smallest).
    pub fn level(mut self, level: u8) -> Self {
        self.level = level;
        self
    }
    /// zlib memory level, 1 to 9: memory for the compressor's hash tables against speed
    /// and ratio.
    pub fn memory_level(mut self, level: u8) -> Self {
        self.memory_level = level;
        self
    }
    /// Messages shorter than this are sent uncompressed (RSV1 clear).
    pub fn min_size(mut self, bytes: usize) -> Self {
        self.min_size = bytes;
        self
    }

    /// With context takeover on our side, free our compressor once it has compressed
    /// nothing for this long (`None`: keep it for the connection's life). The next message
    /// then starts a fresh compressor: valid for the peer, whose decompressor keeps its
    /// window as RFC 7692 requires — a fresh stream simply refers back to nothing older —
    /// and it costs that one message some ratio. With zlib-rs a compressor is most of a
    /// busy connection's memory (its hash table is allocated whole whatever the memory
    /// level), so a server whose connections go quiet gets it back. The decompressor
    /// cannot be freed while the peer keeps its context: its window is the peer's
    /// reference.
    ///
    /// Kept in whole seconds, rounded up (at least 1 s, at most 65 535 s).
    pub fn release_idle_compressor(mut self, after: Option<Duration>) -> Self {
        self.release_idle_secs = after.map_or(0, |d| {
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            u16::try_from(secs).unwrap_or(u16::MAX).max(1)
        });
        self
    }

    /// See [`window_bits`](Self::window_bits).
    pub fn get_window_bits(&self) -> u8 {
        self.window_bits
    }
    /// See [`peer_window_bits`](Self::peer_window_bits).
    pub fn get_peer_window_bits(&self) -> u8 {
        self.peer_window_bits
    }
    /// See [`no_context_takeover`](Self::no_context_takeover).
    pub fn get_no_context_takeover(&self) -> bool {
        self.no_context_takeover
    }
    /// See [`peer_no_context_takeover`](Self::peer_no_context_takeover).
    pub fn get_peer_no_context_takeover(&self) -> bool {
        self.peer_no_context_takeover
    }
    /// See [`level`](Self::level).
    pub fn get_level(&self) -> u8 {
        self.level
    }
    /// See [`memory_level`](Self::memory_level).
    pub fn get_memory_level(&self) -> u8 {
        self.memory_level
    }
    /// See [`min_size`](Self::min_size).
    pub fn get_min_size(&self) -> usize {
        self.min_size
    }
    /// See [`release_idle_compressor`](Self::release_idle_compressor).
    pub fn get_release_idle_compressor(&self) -> Option<Duration> {
        (self.release_idle_secs > 0).then(|| Duration::from_secs(u64::from(self.release_idle_secs)))
    }

    /// The server's side of the negotiation, for servers that do their own HTTP upgrade
    /// (this crate's [`ServerHandshake`](crate::ServerHandshake) does it by itself): given
    /// the values of every `Sec-WebSocket-Extensions` header of the request, in order, the
    /// first offer these settings can honour, and the header value to answer it with. Pass
    /// the parameters to [`Connection::with_deflate`](crate::Connection::with_deflate).
    /// `None`: no acceptable offer (send no `Sec-WebSocket-Extensions` header).
    ///
    /// ```
    /// use tether_proto::DeflateConfig;
    /// let offers: [&[u8]; 2] = [b"x-webkit-deflate-frame", b"permessage-deflate; client_max_window_bits"];
    /// let (params, answer) = DeflateConfig::default().peer_window_bits(12).negotiate_server(offers).unwrap();
    /// assert_eq!(answer, "permessage-deflate; client_max_window_bits=12");
    /// assert_eq!((params.window_bits, params.peer_window_bits), (15, 12));
    /// ```
    pub fn negotiate_server<'a>(
        &self,
        header_values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Option<(DeflateParams, String)> {
        let elements: Vec<&[u8]> = header_values.into_iter().flat_map(crate::handshake::split_top_level).collect();
        server_accept(self, elements.into_iter())
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let bits = usize::from(MIN_WINDOW_BITS)..=usize::from(MAX_WINDOW_BITS);
        for (setting, value) in
            [("deflate window_bits", self.window_bits), ("deflate peer_window_bits", self.peer_window_bits)]
        {
            if !bits.contains(&usize::from(value)) {
                return Err(ConfigError::OutOfRange { setting, min: *bits.start(), max: *bits.end() });
            }
        }
        if self.level > 9 {
            return Err(ConfigError::OutOfRange { setting: "deflate level", min: 0, max: 9 });
        }
        if !(1..=9).contains(&self.memory_level) {
            return Err(ConfigError::OutOfRange { setting: "deflate memory_level", min: 1, max: 9 });
        }
        Ok(())
    }
}

/// What the handshake agreed for permessage-deflate, in this endpoint's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateParams {
    /// Our compressor's window (2^bits bytes).
    pub window_bits: u8,
    /// The window the peer compresses with at most; our decompressor uses at least
    /// [`MIN_WINDOW_BITS`].
    pub peer_window_bits: u8,
    /// We compress each message on its own.
    pub no_context_takeover: bool,
    /// The peer compresses each message on its own.
    pub peer_no_context_takeover: bool,
}

/// One extension element's parameters as parsed: at most one of each, known names only.
#[derive(Default, Debug, PartialEq, Eq)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// `Some(None)`: present without a value.
    server_max_window_bits: Option<Option<u8>>,
    client_max_window_bits: Option<Option<u8>>,
}

/// Why an element could not be parsed as permessage-deflate parameters.
#[derive(Debug, PartialEq, Eq)]
enum ParseFault {
    NotDeflate,
    Bad(DeflateResponseFault),
}

/// A parameter value: a token or a quoted string (RFC 7692 §7.1 allows both), unquoted.
fn unquote(v: &[u8]) -> Option<Vec<u8>> {
    match v {
        [b'"', inner @ .., b'"'] => {
            let mut out = Vec::with_capacity(inner.len());
            let mut escaped = false;
            for &b in inner {
                if escaped {
                    out.push(b);
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    return None;
                } else {
                    out.push(b);
                }
            }
            (!escaped).then_some(out)
        }
        _ => Some(v.to_vec()),
    }
}

/// A window-bits value: `1*DIGIT` without a leading zero, 8 to 15 (RFC 7692 §7.1.2).
fn window_value(v: &[u8]) -> Option<u8> {
    let v = unquote(v)?;
    match v.as_slice() {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

/// Parse one `Sec-WebSocket-Extensions` element as permessage-deflate.
fn parse_element(element: &[u8]) -> Result<Offer, ParseFault> {
    let mut parts = element.split(|&b| b == b';').map(crate::handshake::trim_ows);
    let name = parts.next().unwrap_or_default();
    if !name.eq_ignore_ascii_case(EXTENSION.as_bytes()) {
        return Err(ParseFault::NotDeflate);
    }
    let mut offer = Offer::default();
    for part in parts {
        let (key, value) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (crate::handshake::trim_ows(&part[..i]), Some(crate::handshake::trim_ows(&part[i + 1..]))),
            None => (part, None),
        };
        let flag = |present: &mut bool| -> Result<(), ParseFault> {
            if *present {
                return Err(ParseFault::Bad(DeflateResponseFault::DuplicateParameter));
            }
            if value.is_some() {
                return Err(ParseFault::Bad(DeflateResponseFault::InvalidValue));
            }
            *present = true;
            Ok(())
        };
        let key = key.to_ascii_lowercase();
        match key.as_slice() {
            b"server_no_context_takeover" => flag(&mut offer.server_no_context_takeover)?,
            b"client_no_context_takeover" => flag(&mut offer.client_no_context_takeover)?,
            b"server_max_window_bits" | b"client_max_window_bits" => {
                let slot = if key.starts_with(b"server") {
                    &mut offer.server_max_window_bits
                } else {
                    &mut offer.client_max_window_bits
                };
                if slot.is_some() {
                    return Err(ParseFault::Bad(DeflateResponseFault::DuplicateParameter));
                }
                *slot = Some(match value {
                    None => None,
                    Some(v) => Some(window_value(v).ok_or(ParseFault::Bad(DeflateResponseFault::InvalidValue))?),
                });
            }
            _ => return Err(ParseFault::Bad(DeflateResponseFault::UnknownParameter)),
        }
    }
    // server_max_window_bits always needs a value (§7.1.2.1).
    if offer.server_max_window_bits == Some(None) {
        return Err(ParseFault::Bad(DeflateResponseFault::InvalidValue));
    }
    Ok(offer)
}

/// The client's offer: one element, from the client's settings.
pub(crate) fn client_offer(config: &DeflateConfig) -> String {
    let mut out = String::from(EXTENSION);
    if config.no_context_takeover {
        out.push_str("; client_no_context_takeover");
    }
    if config.peer_no_context_takeover {
        out.push_str("; server_no_context_takeover");
    }
    if config.peer_window_bits < MAX_WINDOW_BITS {
        out.push_str(&format!("; server_max_window_bits={}", config.peer_window_bits));
    }
    // Always announce support, so a server may limit our window; a value is a hint.
    if config.window_bits < MAX_WINDOW_BITS {
        out.push_str(&format!("; client_max_window_bits={}", config.window_bits));
    } else {
        out.push_str("; client_max_window_bits");
    }
    out
}

/// The server's choice: the first offer in `elements` (every `Sec-WebSocket-Extensions`
/// element, in order) that is a well-formed permessage-deflate offer this server can
/// honour, with the response element to send. Malformed offers and offers that cannot be
/// honoured are declined (skipped), never an error.
pub(crate) fn server_accept<'a>(
    config: &DeflateConfig,
    elements: impl Iterator<Item = &'a [u8]>,
) -> Option<(DeflateParams, String)> {
    elements.filter_map(|e| parse_element(e).ok()).find_map(|offer| server_answer(config, &offer))
}

fn server_answer(config: &DeflateConfig, offer: &Offer) -> Option<(DeflateParams, String)> {
    // Our compressor: at most what the client asks for; below 9 cannot be honoured.
    let window_bits = match offer.server_max_window_bits {
        Some(Some(n)) if n < MIN_WINDOW_BITS => return None,
        Some(Some(n)) => n.min(config.window_bits),
        _ => config.window_bits,
    };
    // The client's compressor: limited only if it announced support.
    let peer_window_bits = match offer.client_max_window_bits {
        None => MAX_WINDOW_BITS,
        Some(None) => config.peer_window_bits,
        Some(Some(n)) => n.min(config.peer_window_bits),
    };
    let no_context_takeover = offer.server_no_context_takeover || config.no_context_takeover;
    // The client's own client_no_context_takeover is only a hint (§7.1.1.2): clients go by
    // the answer (Autobahn's keeps its context unless the answer says otherwise), so it is
    // acknowledged in the answer, and only then relied on.
    let peer_no_context_takeover = config.peer_no_context_takeover || offer.client_no_context_takeover;
    let mut response = String::from(EXTENSION);
    if no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if peer_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    if offer.server_max_window_bits.is_some() || window_bits < MAX_WINDOW_BITS {
        response.push_str(&format!("; server_max_window_bits={window_bits}"));
    }
    let limit_client = match offer.client_max_window_bits {
        None => false,
        Some(None) => peer_window_bits < MAX_WINDOW_BITS,
        Some(Some(n)) => peer_window_bits < n,
    };
    if limit_client {
        response.push_str(&format!("; client_max_window_bits={peer_window_bits}"));
    }
    let params = DeflateParams { window_bits, peer_window_bits, no_context_takeover, peer_no_context_takeover };
    Some((params, response))
}

/// The client's check of the server's answer. `elements` are every element of every
/// `Sec-WebSocket-Extensions` header of the response; `Ok(None)` when there are none (the
/// server declined). Anything RFC 7692 §7.1 forbids is a fault.
pub(crate) fn client_check<'a>(
    config: &DeflateConfig,
    mut elements: impl Iterator<Item = &'a [u8]>,
) -> Result<Option<DeflateParams>, ClientCheckFault> {
    let Some(first) = elements.next() else {
        return Ok(None);
    };
    let offer = match parse_element(first) {
        Ok(offer) => offer,
        Err(ParseFault::NotDeflate) => return Err(ClientCheckFault::Unoffered(String::from_utf8_lossy(first).into())),
        Err(ParseFault::Bad(fault)) => return Err(ClientCheckFault::Deflate(fault)),
    };
    if let Some(second) = elements.next() {
        return Err(match parse_element(second) {
            Err(ParseFault::NotDeflate) => ClientCheckFault::Unoffered(String::from_utf8_lossy(second).into()),
            _ => ClientCheckFault::Deflate(DeflateResponseFault::SeveralResponses),
        });
    }
    let fault = |f| Err(ClientCheckFault::Deflate(f));
    // What we asked the server to do must be in its answer (§7.1.1.1, §7.1.2.1).
    if config.peer_no_context_takeover && !offer.server_no_context_takeover {
        return fault(DeflateResponseFault::MissingParameter);
    }
    let peer_window_bits = match offer.server_max_window_bits {
        Some(Some(n)) if n > config.peer_window_bits => {
            return fault(DeflateResponseFault::WindowBitsLargerThanOffered)
        }
        Some(Some(n)) => n,
        _ if config.peer_window_bits < MAX_WINDOW_BITS => return fault(DeflateResponseFault::MissingParameter),
        _ => MAX_WINDOW_BITS,
    };
    let window_bits = match offer.client_max_window_bits {
        None => config.window_bits,
        // §7.1.2.2: a value is required in a response.
        Some(None) => return fault(DeflateResponseFault::InvalidValue),
        // zlib cannot compress raw DEFLATE with a 256-byte window (see MIN_WINDOW_BITS).
        Some(Some(n)) if n < MIN_WINDOW_BITS => return fault(DeflateResponseFault::UnsupportedWindowBits),
        // Our offered value was a hint; a larger limit is no limit on us.
        Some(Some(n)) => n.min(config.window_bits),
    };
    Ok(Some(DeflateParams {
        window_bits,
        peer_window_bits,
        no_context_takeover: config.no_context_takeover || offer.client_no_context_takeover,
        peer_no_context_takeover: offer.server_no_context_takeover,
    }))
}

/// A response the client must fail.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ClientCheckFault {
    /// An extension we did not offer.
    Unoffered(String),
    /// A permessage-deflate answer RFC 7692 forbids.
    Deflate(DeflateResponseFault),
}

#[cfg(test)]
mod tests;
