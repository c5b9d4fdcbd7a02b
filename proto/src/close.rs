//! Close codes (RFC 6455 §7.4) and the close frame payload (§5.5.1): which codes exist,
//! which may be sent or received, and how a close payload is parsed and encoded.

use core::fmt;
use core::num::NonZeroU16;

use alloc::string::String;

use crate::error::{ProtocolError, SendError};
use crate::frame::MAX_CLOSE_REASON;
use crate::message::Utf8Bytes;
use bytes::{BufMut, Bytes};

/// A close status code (RFC 6455 §7.4). Zero is not a code; everything else is
/// representable, and [`is_sendable`](CloseCode::is_sendable) tells which codes may appear
/// on the wire.
///
/// ```
/// use tether_proto::CloseCode;
/// assert!(CloseCode::NORMAL.is_sendable());
/// assert!(!CloseCode::ABNORMAL.is_sendable());      // 1006 is reported, never sent
/// assert!(CloseCode::new(4000).unwrap().is_sendable());
/// assert_eq!(CloseCode::new(0), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseCode(NonZeroU16);

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $v:expr;)*) => {
        impl CloseCode {
            $($(#[$doc])* pub const $name: CloseCode = CloseCode(match NonZeroU16::new($v) { Some(v) => v, None => panic!() });)*
        }
    };
}

codes! {
    /// 1000: the purpose of the connection was fulfilled.
    NORMAL = 1000;
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    GOING_AWAY = 1001;
    /// 1002: protocol error.
    PROTOCOL_ERROR = 1002;
    /// 1003: a data type the endpoint cannot accept.
    UNSUPPORTED_DATA = 1003;
    /// 1005: reported when a close frame carried no code; never sent.
    NO_STATUS = 1005;
    /// 1006: reported when the connection ended without a close frame; never sent.
    ABNORMAL = 1006;
    /// 1007: payload inconsistent with the message type (invalid UTF-8 in text).
    INVALID_PAYLOAD = 1007;
    /// 1008: the message violates the endpoint's policy.
    POLICY_VIOLATION = 1008;
    /// 1009: a message too big to process.
    MESSAGE_TOO_BIG = 1009;
    /// 1010: the client expected an extension the server did not negotiate.
    MANDATORY_EXTENSION = 1010;
    /// 1011: the server hit an unexpected condition.
    INTERNAL_ERROR = 1011;
    /// 1012: the service is restarting.
    SERVICE_RESTART = 1012;
    /// 1013: try again later.
    TRY_AGAIN_LATER = 1013;
    /// 1014: a gateway received an invalid response.
    BAD_GATEWAY = 1014;
    /// 1015: reported when TLS failed; never sent.
    TLS_HANDSHAKE = 1015;
}

impl CloseCode {
    /// The code `value`, or `None` for 0.
    pub const fn new(value: u16) -> Option<CloseCode> {
        match NonZeroU16::new(value) {
            Some(v) => Some(CloseCode(v)),
            None => None,
        }
    }

    /// The numeric value.
    pub const fn as_u16(self) -> u16 {
        self.0.get()
    }

    /// Whether this code may appear in a close frame on the wire (§7.4.1, §7.4.2): 1000-1003,
    /// 1007-1014 and 3000-4999.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0.get(), 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.as_u16()
    }
}

/// The content of a close frame: a code and a UTF-8 reason of at most 123 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason (may be empty).
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// A close frame, checked for what may be sent: the code must be sendable and the reason
    /// at most 123 bytes.
    ///
    /// # Errors
    /// [`SendError::InvalidCloseCode`] or [`SendError::CloseReasonTooLong`].
    ///
    /// ```
    /// use tether_proto::{CloseCode, CloseFrame};
    /// assert!(CloseFrame::new(CloseCode::NORMAL, "bye").is_ok());
    /// assert!(CloseFrame::new(CloseCode::ABNORMAL, "").is_err());
    /// ```
    pub fn new(code: CloseCode, reason: impl Into<Utf8Bytes>) -> Result<CloseFrame, SendError> {
        let reason = reason.into();
        if !code.is_sendable() {
            return Err(SendError::InvalidCloseCode(code.as_u16()));
        }
        if reason.len() > MAX_CLOSE_REASON {
            return Err(SendError::CloseReasonTooLong { len: reason.len() });
        }
        Ok(CloseFrame { code, reason })
    }

    /// A close frame with `reason` cut to the longest prefix that fits (123 bytes, at a
    /// character boundary): for reasons built from text of any length, such as an error's
    /// message.
    ///
    /// # Errors
    /// [`SendError::InvalidCloseCode`] for a code that may not be sent.
    ///
    /// ```
    /// use tether_proto::{CloseCode, CloseFrame};
    /// let long = "é".repeat(100); // 200 bytes
    /// let frame = CloseFrame::truncated(CloseCode::POLICY_VIOLATION, &long).unwrap();
    /// assert_eq!(frame.reason.len(), 122); // 61 whole characters
    /// ```
    pub fn truncated(code: CloseCode, reason: &str) -> Result<CloseFrame, SendError> {
        let mut cut = reason.len().min(MAX_CLOSE_REASON);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        CloseFrame::new(code, String::from(&reason[..cut]))
    }

    /// Parse a received close payload (§5.5.1). `Ok(None)` for an empty payload.
    pub(crate) fn parse(payload: &[u8]) -> Result<Option<CloseFrame>, ProtocolError> {
        match payload.len() {
            0 => Ok(None),
            1 => Err(ProtocolError::ClosePayloadTooShort),
            _ => {
                let raw = u16::from_be_bytes([payload[0], payload[1]]);
                let code = match CloseCode::new(raw) {
                    Some(code) if code.is_sendable() => code,
                    _ => return Err(ProtocolError::InvalidCloseCode(raw)),
                };
                let reason = Utf8Bytes::try_from(Bytes::copy_from_slice(&payload[2..]))
                    .map_err(|_| ProtocolError::InvalidCloseReason)?;
                Ok(Some(CloseFrame { code, reason }))
            }
        }
    }

    /// Append the wire payload (code + reason).
    pub(crate) fn encode_into(&self, out: &mut impl BufMut) {
        out.put_u16(self.code.as_u16());
        out.put_slice(self.reason.as_bytes());
    }

    /// The payload length on the wire.
    pub(crate) fn wire_len(&self) -> usize {
        2 + self.reason.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6455 §7.4.1/§7.4.2, hostile peers E5 (see the manual): exactly these ranges are
    // valid on the wire.
    #[test]
    fn sendable_ranges_rfc6455_7_4() {
        for v in 1..=u16::MAX {
            let code = CloseCode::new(v).unwrap();
            let expected = matches!(v, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(code.is_sendable(), expected, "code {v}");
        }
        for bad in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            let payload = bad.to_be_bytes();
            assert_eq!(CloseFrame::parse(&payload), Err(ProtocolError::InvalidCloseCode(bad)));
        }
    }

    // §5.5.1, hostile peers E4, E6, E7.
    #[test]
    fn close_payload_parsing_rfc6455_5_5_1() {
        assert_eq!(CloseFrame::parse(&[]), Ok(None));
        assert_eq!(CloseFrame::parse(&[3]), Err(ProtocolError::ClosePayloadTooShort));
        assert_eq!(CloseFrame::parse(&[3, 0xe8, 0xff, 0xfe]), Err(ProtocolError::InvalidCloseReason));
        let ok = CloseFrame::parse(&[3, 0xe8, b'h', b'i']).unwrap().unwrap();
        assert_eq!(ok.code, CloseCode::NORMAL);
        assert_eq!(ok.reason, "hi");
    }

    // Hostile peers I1: invalid local close frames are typed errors.
    #[test]
    fn local_close_frames_are_checked() {
        for code in [1005u16, 1006, 1015, 999, 5000] {
            assert_eq!(CloseFrame::new(CloseCode::new(code).unwrap(), ""), Err(SendError::InvalidCloseCode(code)));
        }
        let long = "x".repeat(124);
        assert_eq!(CloseFrame::new(CloseCode::NORMAL, long.as_str()), Err(SendError::CloseReasonTooLong { len: 124 }));
        assert!(CloseFrame::new(CloseCode::NORMAL, "x".repeat(123).as_str()).is_ok());
    }

    // One rule for cutting a reason: the longest prefix of at most 123 bytes that ends on a
    // character boundary; the result is always a frame `new` accepts.
    #[test]
    fn truncated_reasons_fit_on_a_character_boundary() {
        for (reason, expected) in [("", 0), ("short", 5), (&*"x".repeat(200), 123), (&*"€".repeat(50), 123)] {
            let frame = CloseFrame::truncated(CloseCode::NORMAL, reason).unwrap();
            assert_eq!(frame.reason.len(), expected, "{reason:?}");
            assert!(reason.starts_with(frame.reason.as_str()));
            assert_eq!(CloseFrame::new(frame.code, frame.reason.clone()), Ok(frame));
        }
        let emoji = "😀".repeat(40); // 4-byte characters: 120 of 123 bytes fit
        assert_eq!(CloseFrame::truncated(CloseCode::NORMAL, &emoji).unwrap().reason.len(), 120);
        assert_eq!(CloseFrame::truncated(CloseCode::ABNORMAL, "x"), Err(SendError::InvalidCloseCode(1006)));
    }
}
