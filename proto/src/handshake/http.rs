//! HTTP/1.1 plumbing shared by both handshake roles: the incremental head reader that
//! enforces the byte and line caps while bytes arrive, the read/complete/failed state
//! machine, linear list splitting, header validation and formatting helpers. No WebSocket
//! rule lives here (those are in `server.rs` and `client.rs`).

use alloc::string::String;
use alloc::vec::Vec;

use bytes::Bytes;

use super::Header;
use crate::error::{ApiMisuse, HandshakeError, PeerMisbehaved};

/// Where the head scanner stands. Line ends are `\n`, optionally preceded by `\r`: httparse
/// accepts bare LF (RFC 9112 §2.2 lets recipients do so), and the scanner must agree with
/// httparse on where the head ends, so it accepts exactly the same terminators
/// (`\r\n\r\n`, `\n\n`, `\r\n\n`, `\n\r\n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scan {
    /// Before the start line. Empty lines here are skipped, as httparse does (RFC 9112 §2.2:
    /// a server SHOULD ignore at least one empty line before the request line).
    Start,
    /// Saw `\r` before the start line.
    StartCr,
    /// Inside a non-empty line.
    Line,
    /// Just after a line end: an empty line now ends the head.
    LineStart,
    /// Just after a line end and a `\r`.
    LineStartCr,
}

/// Reads one HTTP head incrementally.
///
/// Each input byte is looked at exactly once, whatever the chunking (CVE-2023-43669 was a
/// re-scan from byte 0 per read). The header-line count and the byte count are checked as
/// each byte arrives, so a hostile peer is cut off at the cap, not after it has sent
/// everything. At most `max_bytes` bytes are ever buffered, and only head bytes: whatever
/// follows the head stays in the caller's slice.
#[derive(Debug)]
pub(crate) struct HeadReader {
    buf: Vec<u8>,
    scan: Scan,
    header_lines: usize,
    max_bytes: usize,
    max_headers: usize,
    /// Bytes examined so far, to prove linearity in tests.
    #[cfg(test)]
    pub(crate) scanned: usize,
}

impl HeadReader {
    pub(crate) fn new(max_bytes: usize, max_headers: usize) -> Self {
        HeadReader {
            buf: Vec::new(),
            scan: Scan::Start,
            header_lines: 0,
            max_bytes,
            max_headers,
            #[cfg(test)]
            scanned: 0,
        }
    }

    /// Feed bytes. `Ok(Some(n))`: the head ended after `data[..n]` (the rest of `data` is not
    /// part of it); `Ok(None)`: all of `data` was buffered and more is needed.
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<Option<usize>, HandshakeError> {
        // Only look at as many bytes as may still belong to the head: the next one would be
        // over the cap whatever it is.
        let room = self.max_bytes - self.buf.len();
        let window = &data[..data.len().min(room)];
        for (i, &b) in window.iter().enumerate() {
            #[cfg(test)]
            {
                self.scanned += 1;
            }
            let (next, line_begins, ends) = match (self.scan, b) {
                (Scan::Start, b'\n') => (Scan::Start, false, false),
                (Scan::Start, b'\r') => (Scan::StartCr, false, false),
                (Scan::StartCr, b'\n') => (Scan::Start, false, false),
                (Scan::Start | Scan::StartCr, _) => (Scan::Line, false, false),
                (Scan::Line, b'\n') => (Scan::LineStart, false, false),
                (Scan::Line, _) => (Scan::Line, false, false),
                (Scan::LineStart, b'\n') | (Scan::LineStartCr, b'\n') => (Scan::LineStart, false, true),
                (Scan::LineStart, b'\r') => (Scan::LineStartCr, false, false),
                // A lone CR inside a line is invalid; httparse rejects it once the head is
                // complete, so the scanner only has to keep counting.
                (Scan::LineStart, _) => (Scan::Line, true, false),
                (Scan::LineStartCr, _) => (Scan::Line, true, false),
            };
            self.scan = next;
            if ends {
                self.append(&data[..=i]);
                return Ok(Some(i + 1));
            }
            if line_begins {
                self.header_lines += 1;
                if self.header_lines > self.max_headers {
                    return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::TooManyHeaders {
                        max: self.max_headers,
                    }));
                }
            }
        }
        if data.len() > room {
            return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::HeadTooLarge { max: self.max_bytes }));
        }
        self.append(window);
        Ok(None)
    }

    /// Header lines begun so far (the start line and the final empty line are not counted).
    pub(crate) fn header_lines(&self) -> usize {
        self.header_lines
    }

    /// The buffered head, moved out (no copy) so parsed headers can share it as `Bytes`.
    pub(crate) fn take(&mut self) -> Bytes {
        Bytes::from(core::mem::take(&mut self.buf))
    }

    fn append(&mut self, bytes: &[u8]) {
        let needed = self.buf.len() + bytes.len();
        if needed > self.buf.capacity() {
            // Grow geometrically (amortised O(1) per byte under 1-byte feeds) but never past
            // the cap, so the allocation itself stays within `max_bytes`.
            let target = needed.max(self.buf.capacity() * 2).max(256).min(self.max_bytes).max(needed);
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend_from_slice(bytes);
    }
}

/// A handshake side's progress: reading the head, done (with the bytes that followed it), or
/// failed for good.
#[derive(Debug)]
pub(crate) enum Progress<T> {
    Reading(HeadReader),
    Complete { head: T, leftover: Vec<u8> },
    Failed(HandshakeError),
}

impl<T> Progress<T> {
    pub(crate) fn new(max_bytes: usize, max_headers: usize) -> Self {
        Progress::Reading(HeadReader::new(max_bytes, max_headers))
    }

    /// Feed `data`; once the head is complete, `finish(head, header_lines)` validates it.
    /// Errors are sticky: every later call returns the same error. Bytes fed after completion
    /// are appended to the leftover (they belong to the connection).
    pub(crate) fn receive(
        &mut self,
        data: &[u8],
        finish: impl FnOnce(Bytes, usize) -> Result<T, HandshakeError>,
    ) -> Result<Option<&T>, HandshakeError> {
        let outcome = match self {
            Progress::Failed(e) => return Err(e.clone()),
            Progress::Complete { leftover, .. } => {
                leftover.extend_from_slice(data);
                None
            }
            Progress::Reading(reader) => match reader.push(data) {
                Ok(None) => return Ok(None),
                Ok(Some(n)) => {
                    let lines = reader.header_lines();
                    Some(finish(reader.take(), lines).map(|head| (head, data[n..].to_vec())))
                }
                Err(e) => Some(Err(e)),
            },
        };
        match outcome {
            Some(Ok((head, leftover))) => *self = Progress::Complete { head, leftover },
            Some(Err(e)) => {
                *self = Progress::Failed(e.clone());
                return Err(e);
            }
            None => {}
        }
        Ok(self.head())
    }

    /// Fail with `e` (a timeout), unless already failed.
    pub(crate) fn fail(&mut self, e: HandshakeError) {
        if !matches!(self, Progress::Failed(_)) {
            *self = Progress::Failed(e);
        }
    }

    /// The error, once failed.
    pub(crate) fn error(&self) -> Option<&HandshakeError> {
        match self {
            Progress::Failed(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn head(&self) -> Option<&T> {
        match self {
            Progress::Complete { head, .. } => Some(head),
            _ => None,
        }
    }

    /// The completed head and its leftover, or the error explaining why there is none.
    pub(crate) fn into_complete(self) -> Result<(T, Vec<u8>), HandshakeError> {
        match self {
            Progress::Complete { head, leftover } => Ok((head, leftover)),
            Progress::Failed(e) => Err(e),
            Progress::Reading(_) => Err(HandshakeError::ApiMisuse(ApiMisuse::Incomplete)),
        }
    }

    /// The bytes received after the head (test accessor; `accept`/`into_connection` move
    /// them into the connection).
    #[cfg(test)]
    pub(crate) fn leftover(&self) -> Option<&[u8]> {
        match self {
            Progress::Complete { leftover, .. } => Some(leftover),
            _ => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn reader(&self) -> Option<&HeadReader> {
        match self {
            Progress::Reading(r) => Some(r),
            _ => None,
        }
    }
}

/// A complete HTTP response head, parsed: the status, the minor version (`1` for HTTP/1.1)
/// and the headers, whose values share the head's bytes.
pub(crate) struct ResponseHead {
    pub(crate) status: u16,
    pub(crate) minor_version: Option<u8>,
    pub(crate) headers: Vec<Header>,
}

/// Parses a complete response head (`header_lines` slots are enough: the head reader
/// counted them), for the client handshake and the proxy's `CONNECT` answer alike.
pub(crate) fn parse_response_head(head: &Bytes, header_lines: usize) -> Result<ResponseHead, HandshakeError> {
    let mut slots = alloc::vec![httparse::EMPTY_HEADER; header_lines];
    let mut parsed = httparse::Response::new(&mut slots);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Ok(_) => return Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::MalformedHttp("incomplete HTTP head"))),
        Err(e) => return Err(malformed(e)),
    }
    Ok(ResponseHead {
        status: parsed.code.unwrap_or_default(),
        minor_version: parsed.version,
        headers: own_headers(head, parsed.headers),
    })
}

/// Maps an httparse error to a static description.
pub(crate) fn malformed(e: httparse::Error) -> HandshakeError {
    HandshakeError::PeerMisbehaved(PeerMisbehaved::MalformedHttp(match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token in start line",
        httparse::Error::TooManyHeaders => "unexpected header line",
        httparse::Error::Version => "invalid HTTP version",
    }))
}

/// Copies parsed headers into owned [`Header`]s whose values share `head` (no copy).
pub(crate) fn own_headers(head: &Bytes, parsed: &[httparse::Header<'_>]) -> Vec<Header> {
    parsed.iter().map(|h| Header { name: String::from(h.name), value: head.slice_ref(h.value) }).collect()
}

/// Values of every header called `name` (ASCII case-insensitive), in order.
pub(crate) fn values<'a>(headers: &'a [Header], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| &h.value[..])
}

/// The first value of `name` as UTF-8, if any.
pub(crate) fn first_str<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    let h = headers.iter().find(|h| h.name.eq_ignore_ascii_case(name))?;
    core::str::from_utf8(&h.value).ok()
}

/// Strips optional whitespace (SP / HTAB, RFC 9110 §5.6.3) from both ends. Linear: each
/// byte is looked at at most once from each side.
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// The non-empty, trimmed elements of a comma-separated list (RFC 9110 §5.6.1). One pass:
/// `a,,,,…` and long runs of spaces cost O(n) (CVE-2021-32640 was a backtracking regex).
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows).filter(|e| !e.is_empty())
}

/// Whether any header `name` has a list element equal to `token` (ASCII case-insensitive);
/// repeated headers count as one list (RFC 9110 §5.3).
pub(crate) fn has_token(headers: &[Header], name: &str, token: &str) -> bool {
    values(headers, name).any(|v| list_elements(v).any(|e| e.eq_ignore_ascii_case(token.as_bytes())))
}

/// Splits at commas that are outside quoted strings (extension parameters may quote
/// commas), trimming and skipping empties. One pass; a backslash escapes the next byte
/// inside quotes.
pub(crate) fn split_top_level(value: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, &b) in value.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted {
            match b {
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == b',' {
            out.push(trim_ows(&value[start..i]));
            start = i + 1;
        }
    }
    out.push(trim_ows(&value[start..]));
    out.retain(|e| !e.is_empty());
    out
}

/// Whether `s` is an HTTP token (RFC 9110 §5.6.2): header names and subprotocols.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Whether `s` may be sent as a field value: HTAB, visible ASCII, SP, or non-ASCII
/// (RFC 9110 §5.5), i.e. no CR, LF, NUL or other control byte that could end the line or
/// inject a header ([hostile peers](crate::manual::hostile_peers) B5, undici
/// CVE-2026-1527). This is exactly what httparse accepts on the other end.
pub(crate) fn is_field_value(s: &[u8]) -> bool {
    s.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
}

/// Checks an application-supplied header: the name must be a token, the value a valid field
/// value, and the name none of `reserved` (headers the handshake writes itself; a second
/// copy would make the head ambiguous). The error names the header, never its value, which
/// may be a secret.
pub(crate) fn check_extra_header(name: &str, value: &str, reserved: &[&str]) -> Result<(), HandshakeError> {
    if !is_token(name.as_bytes())
        || !is_field_value(value.as_bytes())
        || reserved.iter().any(|r| r.eq_ignore_ascii_case(name))
    {
        return Err(HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(String::from(name))));
    }
    Ok(())
}

/// Appends `name: value\r\n`.
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The reason phrase for common statuses; others get an empty phrase, which HTTP/1.1 allows
/// (RFC 9112 §4) and clients ignore anyway.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader() -> HeadReader {
        HeadReader::new(8192, 64)
    }

    // RFC 9112 §2.1: the head ends with an empty line; the bytes after it are not consumed.
    #[test]
    fn head_ends_at_crlfcrlf_and_stops_there() {
        let mut r = reader();
        let data = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nXYZ";
        assert_eq!(r.push(data), Ok(Some(data.len() - 3)));
        assert_eq!(&r.take()[..], &data[..data.len() - 3]);
        assert_eq!(r.header_lines(), 1);
    }

    // RFC 9112 §2.2: bare LF line ends are accepted, consistently with httparse, in every mix.
    #[test]
    fn bare_lf_terminators_are_accepted_like_httparse() {
        for data in [
            &b"GET / HTTP/1.1\nHost: a\n\n!"[..],
            b"GET / HTTP/1.1\r\nHost: a\r\n\n!",
            b"GET / HTTP/1.1\nHost: a\n\r\n!",
        ] {
            let mut r = reader();
            let n = r.push(data).unwrap().unwrap();
            assert_eq!(&data[n..], b"!");
            let mut slots = [httparse::EMPTY_HEADER; 4];
            let parsed = httparse::Request::new(&mut slots).parse(&data[..n]).unwrap();
            assert_eq!(parsed, httparse::Status::Complete(n), "scanner and httparse agree on the end");
        }
    }

    // RFC 9112 §2.2: empty lines before the start line are skipped, not taken as the end.
    #[test]
    fn leading_empty_lines_are_skipped() {
        let mut r = reader();
        let data = b"\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(r.push(data), Ok(Some(data.len())));
        assert_eq!(r.header_lines(), 1);
    }

    // Hostile peers A4 / CVE-2023-43669: every split gives the same result and every byte is
    // examined exactly once, however the input is chunked.
    #[test]
    fn one_byte_feeds_scan_each_byte_once() {
        let data = b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\nleft";
        let mut r = reader();
        let mut end = None;
        for (i, b) in data.iter().enumerate() {
            if let Some(n) = r.push(core::slice::from_ref(b)).unwrap() {
                assert_eq!(n, 1);
                end = Some(i + 1);
                break;
            }
        }
        assert_eq!(end, Some(data.len() - 4));
        assert_eq!(r.scanned, data.len() - 4);
    }

    // Hostile peers A2: the byte cap is exact: a head of exactly `max` bytes passes, one more
    // byte without a terminator fails, and the buffer never holds more than `max`.
    #[test]
    fn byte_cap_is_exact() {
        let max = 256;
        let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
        head.resize(max - 4, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(head.len(), max);
        assert_eq!(HeadReader::new(max, 64).push(&head), Ok(Some(max)));

        let mut long = head[..max - 4].to_vec();
        long.extend_from_slice(b"a\r\n\r\n");
        let mut r = HeadReader::new(max, 64);
        assert_eq!(r.push(&long), Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::HeadTooLarge { max })));
        assert!(r.buf.capacity() <= max);
        assert_eq!(r.scanned, max, "stopped at the cap, did not scan the rest");
    }

    // Hostile peers A2: under 1-byte feeds the allocation never exceeds the cap either.
    #[test]
    fn buffer_capacity_stays_within_cap() {
        let max = 1000; // not a power of two, so doubling would overshoot
        let mut r = HeadReader::new(max, 64);
        let mut fed = 0;
        loop {
            match r.push(b"a") {
                Ok(None) => fed += 1,
                Err(e) => {
                    assert_eq!(e, HandshakeError::PeerMisbehaved(PeerMisbehaved::HeadTooLarge { max }));
                    break;
                }
                Ok(Some(_)) => panic!("no terminator was sent"),
            }
            assert!(r.buf.capacity() <= max);
        }
        assert_eq!(fed, max);
    }

    // Hostile peers A3: the line cap fires on the first byte of the line that exceeds it.
    #[test]
    fn line_cap_fires_as_soon_as_exceeded() {
        let mut r = HeadReader::new(8192, 8);
        let mut data = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..8 {
            data.extend_from_slice(b"a: x\r\n");
        }
        assert_eq!(r.push(&data), Ok(None));
        assert_eq!(r.push(b"\r\n"), Ok(Some(2)), "exactly max lines is fine");

        let mut r = HeadReader::new(8192, 8);
        data.push(b'a');
        assert_eq!(r.push(&data), Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::TooManyHeaders { max: 8 })));
        assert_eq!(r.scanned, data.len());
    }

    // RFC 9110 §5.6.1 lists; hostile peers A9: linear in the presence of long runs.
    #[test]
    fn list_elements_trim_and_skip_empties() {
        let v: Vec<&[u8]> = list_elements(b" a ,, b\t,\t, c d ,").collect();
        assert_eq!(v, [&b"a"[..], b"b", b"c d"]);
        assert_eq!(list_elements(b" , ,").count(), 0);
    }

    // RFC 7692 §5 parameters may carry quoted strings containing commas.
    #[test]
    fn top_level_split_respects_quotes() {
        let v = split_top_level(br#"permessage-deflate; x="a,b\",c", foo ,, bar; y"#);
        assert_eq!(v, [&br#"permessage-deflate; x="a,b\",c""#[..], b"foo", b"bar; y"]);
        // An unterminated quote swallows the rest instead of failing.
        assert_eq!(split_top_level(br#"a; x="1, b"#), [&br#"a; x="1, b"#[..]]);
    }

    #[test]
    fn token_and_field_value_rules() {
        assert!(is_token(b"Sec-WebSocket-Protocol"));
        assert!(is_token(b"chat.v2+json"));
        for bad in [&b""[..], b"a b", b"a:b", b"a\r", b"a,b", b"\xc3\xa9", b"(x)", b"a/b"] {
            assert!(!is_token(bad), "{bad:?}");
        }
        assert!(is_field_value(b"text/html; q=0.9\t\xc3\xa9"));
        for bad in [&b"a\r\nX: y"[..], b"a\n", b"a\r", b"a\0", b"a\x7f", b"\x01"] {
            assert!(!is_field_value(bad), "{bad:?}");
        }
    }

    // Hostile peers B5 / I: application headers are validated before anything is written.
    #[test]
    fn extra_headers_are_checked() {
        assert_eq!(check_extra_header("X-Ok", "v", &["Host"]), Ok(()));
        for (n, v) in [("X-Bad", "a\r\nInjected: 1"), ("Bad Name", "v"), ("", "v"), ("host", "v"), ("X:y", "v")] {
            assert_eq!(
                check_extra_header(n, v, &["Host"]),
                Err(HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader(String::from(n))))
            );
        }
    }
}
