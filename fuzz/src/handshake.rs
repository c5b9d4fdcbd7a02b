//! What both handshake targets share: reading HTTP heads (where a head ends, the lines we
//! wrote, header values, tokens) and checking the connection a handshake produced against
//! the reference decoder. The targets themselves are `server_handshake.rs` and
//! `client_handshake.rs`.

use tether_proto::{CloseCause, Config, Connection, Instant};
use tether_testkit::Chunker;

use super::drive::{drain, feed, FeedMode};
use super::events::{same_messages, EventLog};
use super::output::parse_output;
use super::reference::{reference_decode, RefEnd, RefRules};

/// Where the HTTP head in `bytes` ends: after the first empty line (CRLF or bare LF) that
/// follows the start line; empty lines before the start line are skipped (RFC 9112 §2.2).
pub(crate) fn head_end(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'\n'), _) => i += 1,
            (Some(b'\r'), Some(b'\n')) => i += 2,
            _ => break,
        }
    }
    let mut j = i;
    while j < bytes.len() {
        if bytes[j] == b'\n' {
            match (bytes.get(j + 1), bytes.get(j + 2)) {
                (Some(b'\n'), _) => return Some(j + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(j + 3),
                _ => {}
            }
        }
        j += 1;
    }
    None
}

/// The lines of a head we wrote: CRLF only, no NUL, no bare CR or LF, ending in an empty
/// line. Returns the lines (without the final empty one).
pub(crate) fn written_head_lines<'a>(head: &'a [u8], what: &str) -> Vec<&'a [u8]> {
    let end = find(head, b"\r\n\r\n").unwrap_or_else(|| panic!("{what}: head never ends"));
    let head = &head[..end + 2];
    for (i, &b) in head.iter().enumerate() {
        assert!(b != 0, "{what}: NUL in the head");
        if b == b'\n' {
            assert!(i > 0 && head[i - 1] == b'\r', "{what}: bare LF in the head");
        }
        if b == b'\r' {
            assert_eq!(head.get(i + 1), Some(&b'\n'), "{what}: bare CR in the head");
        }
    }
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').map(|l| &l[..l.len().saturating_sub(1)]).collect();
    lines.pop();
    lines
}

/// A well-formed HTTP/1.1 response head with `status`; returns its header lines.
pub(crate) fn check_response_head<'a>(bytes: &'a [u8], status: u16, what: &str) -> Vec<&'a [u8]> {
    let prefix = format!("HTTP/1.1 {status} ");
    assert!(
        bytes.starts_with(prefix.as_bytes()),
        "{what}: response does not start with {prefix:?}: {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
    );
    let mut lines = written_head_lines(bytes, what);
    lines.remove(0);
    for line in &lines {
        let colon = line.iter().position(|&b| b == b':');
        assert!(
            colon.is_some_and(|c| c > 0),
            "{what}: header line without a name: {:?}",
            String::from_utf8_lossy(line)
        );
    }
    lines
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of header `name` in our own written lines.
pub(crate) fn line_value<'a>(lines: &[&'a [u8]], name: &str) -> Option<&'a [u8]> {
    lines.iter().find_map(|l| {
        let c = l.iter().position(|&b| b == b':')?;
        l[..c].eq_ignore_ascii_case(name.as_bytes()).then(|| l[c + 1..].trim_ascii())
    })
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The connection a handshake produced holds `stream[..already]`; feed the rest and compare
/// with the reference decoder.
pub(crate) fn check_after_handshake(
    mut conn: Connection,
    stream: &[u8],
    already: usize,
    config: &Config,
    chunker: &mut Chunker,
) {
    let role = conn.role();
    let mut log = EventLog::new(config);
    log.poll_all(&mut conn);
    feed(&mut conn, Instant::ZERO, &stream[already..], chunker, FeedMode::Mixed, &mut log);
    let expected = reference_decode(
        stream,
        &RefRules {
            role,
            accept_unmasked: config.accept_unmasked_frames(),
            max_frame: config.max_frame_size(),
            max_message: config.max_message_size(),
        },
    );
    same_messages(
        &log.messages,
        &expected.messages,
        &format!("{role:?}: messages after the handshake vs the reference"),
    );
    match (&expected.end, &log.closed) {
        (RefEnd::NeedMore, None) => {}
        (RefEnd::Error(e), Some(c)) => assert_eq!(c.cause, CloseCause::Protocol(e.clone())),
        (RefEnd::PeerClose(_), Some(c)) => assert_eq!(c.cause, CloseCause::PeerInitiated),
        (end, closed) => panic!("{role:?}: expected {end:?}, got {closed:?}"),
    }
    let mut wire = Vec::new();
    drain(&mut conn, chunker, &mut wire);
    parse_output(&wire, role, config.fragment_size());
}
