//! Frame headers (RFC 6455 §5.2): opcodes, the size limits of frames (header lengths, the
//! 125-byte control payload, the 123-byte close reason), and decoding/encoding the 2-14 byte
//! header with every check that needs only the header itself — all frame-size arithmetic
//! lives here. Rules that need connection state (continuations, limits, close handling)
//! live in the connection.

use crate::config::Role;
use crate::error::ProtocolError;

/// A frame opcode (§5.2). Reserved values never get this far: they fail decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Result<OpCode, ProtocolError> {
        Ok(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => return Err(ProtocolError::ReservedOpcode(other)),
        })
    }

    pub(crate) fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    pub(crate) fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub(crate) fin: bool,
    pub(crate) opcode: OpCode,
    pub(crate) mask: Option<[u8; 4]>,
    pub(crate) payload_len: u64,
    /// RSV1 on the first frame of a message: compressed (RFC 7692 §6). Only ever set when
    /// the rules allow it.
    pub(crate) compressed: bool,
}

/// Largest header: 2 + 8 (64-bit length) + 4 (mask key).
pub(crate) const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame (§5.5).
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest close reason: a control payload less the 2-byte status code (§5.5.1).
pub(crate) const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

/// The length of a header for a payload of `payload_len` bytes, with the mask key when
/// `masked`: minimal length encoding (§5.2).
#[inline]
pub(crate) const fn header_len(payload_len: usize, masked: bool) -> usize {
    let length = if payload_len < 126 {
        0
    } else if payload_len <= u16::MAX as usize {
        2
    } else {
        8
    };
    2 + length + if masked { 4 } else { 0 }
}

/// A masked, final text or binary frame header with a 7- or 16-bit length and no RSV bits:
/// the header a server receives most, parsed by its byte pattern alone.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MaskedDataHeader {
    /// Text (else binary).
    pub(crate) text: bool,
    /// The payload length.
    pub(crate) len: usize,
    pub(crate) key: [u8; 4],
    /// Header bytes, mask key included: where the payload starts.
    pub(crate) header_len: usize,
}

/// The byte pattern of a [`MaskedDataHeader`]: whether it is text, the payload length and
/// where the mask key starts; `None` for any other first bytes.
#[inline(always)]
fn masked_data_prefix(buf: &[u8]) -> Option<(bool, usize, usize)> {
    match *buf {
        [b0 @ (0x81 | 0x82), b1 @ 0x80..=0xFD, ..] => Some((b0 == 0x81, usize::from(b1 & 0x7F), 2)),
        [b0 @ (0x81 | 0x82), 0xFE, l0, l1, ..] => Some((b0 == 0x81, usize::from(u16::from_be_bytes([l0, l1])), 4)),
        _ => None,
    }
}

/// The header at the start of `buf` if it is a [`MaskedDataHeader`] and complete; `None`
/// for any other (or incomplete) header, which [`decode_header`] parses in full.
#[inline(always)]
pub(crate) fn masked_data_header(buf: &[u8]) -> Option<MaskedDataHeader> {
    let (text, len, at) = masked_data_prefix(buf)?;
    let key = buf.get(at..at + 4)?;
    Some(MaskedDataHeader { text, len, key: [key[0], key[1], key[2], key[3]], header_len: at + 4 })
}

/// A whole [`MaskedDataHeader`] frame of at most `max_len` payload bytes at the start of
/// `buf`: what a server's decoder takes without the general path.
#[inline(always)]
pub(crate) fn small_masked_frame(buf: &[u8], max_len: usize) -> Option<MaskedDataHeader> {
    let (text, len, at) = masked_data_prefix(buf)?;
    if len > max_len || buf.len() < at + 4 + len {
        return None;
    }
    Some(MaskedDataHeader { text, len, key: [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]], header_len: at + 4 })
}

/// What the decoder checks that depends on the local endpoint, not on connection state.
pub(crate) struct DecodeRules {
    pub(crate) role: Role,
    pub(crate) accept_unmasked: bool,
    pub(crate) max_frame_size: usize,
    /// permessage-deflate was negotiated: RSV1 may mark the first frame of a data message.
    pub(crate) rsv1: bool,
}

/// Decode a header from the start of `buf`. `Ok(None)` means more bytes are needed; the
/// checks run in an order that never needs more than the header (so an impossible length
/// fails before anything is reserved: [hostile peers](crate::manual::hostile_peers) C3, C4).
pub(crate) fn decode_header(buf: &[u8], rules: &DecodeRules) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
    // The frame a server sees most, recognised by pattern: every check below passes for it,
    // so the result is the same.
    if rules.role == Role::Server {
        if let Some(h) = masked_data_header(buf) {
            if h.len <= rules.max_frame_size {
                let opcode = if h.text { OpCode::Text } else { OpCode::Binary };
                let header =
                    FrameHeader { fin: true, opcode, mask: Some(h.key), payload_len: h.len as u64, compressed: false };
                return Ok(Some((header, h.header_len)));
            }
        }
    }
    if buf.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (buf[0], buf[1]);
    let rsv = (b0 >> 4) & 0x7;
    // RSV1 means "compressed" on the first frame of a data message when permessage-deflate
    // is in use (RFC 7692 §6.1); on a control or continuation frame, or without the
    // extension, it is as reserved as RSV2 and RSV3.
    let compressed = rsv == 0b100 && rules.rsv1 && matches!(b0 & 0x0F, 0x1 | 0x2);
    if rsv != 0 && !compressed {
        return Err(ProtocolError::ReservedBitsSet { bits: rsv });
    }
    let opcode = OpCode::from_bits(b0 & 0x0F)?;
    let fin = b0 & 0x80 != 0;
    let masked = b1 & 0x80 != 0;
    let len7 = b1 & 0x7F;
    if opcode.is_control() {
        if !fin {
            return Err(ProtocolError::FragmentedControlFrame);
        }
        if usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(ProtocolError::ControlFrameTooLarge { len: u64::from(len7) });
        }
    }
    match (rules.role, masked) {
        (Role::Server, false) if !rules.accept_unmasked => return Err(ProtocolError::UnmaskedClientFrame),
        (Role::Client, true) => return Err(ProtocolError::MaskedServerFrame),
        _ => {}
    }
    let (payload_len, mut pos) = match len7 {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            let len = u64::from_be_bytes(b);
            if len >> 63 != 0 {
                return Err(ProtocolError::PayloadLengthMsbSet);
            }
            (len, 10)
        }
        n => (u64::from(n), 2),
    };
    // Non-minimal length encodings (e.g. 7E 00 05) are accepted, as most receivers do;
    // RFC 6455 §5.2 binds senders, and this engine never emits them (hostile peers C6).
    if payload_len > rules.max_frame_size as u64 {
        return Err(ProtocolError::FrameTooLarge { size: payload_len, max: rules.max_frame_size });
    }
    let mask = if masked {
        if buf.len() < pos + 4 {
            return Ok(None);
        }
        let key = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
        pos += 4;
        Some(key)
    } else {
        None
    };
    Ok(Some((FrameHeader { fin, opcode, mask, payload_len, compressed }, pos)))
}

/// An encoded frame header (§5.2): `len` bytes, at most [`MAX_HEADER_LEN`].
///
/// Built in one integer and written with one fixed-size store: assembled byte by byte in
/// memory and then copied, the copy's load waited on several smaller stores (a
/// store-forwarding stall; what it cost is in
/// [the manual](crate::manual::performance#header-encoding)).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    word: u128,
    len: usize,
}

impl Header {
    /// The size of [`bytes`](Self::bytes): every header fits, with room to store it whole.
    pub(crate) const BYTES: usize = 16;

    /// The header of a frame: minimal length encoding, mask key last.
    #[inline]
    pub(crate) fn new(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload_len: usize) -> Header {
        let mask_bit: u128 = if mask.is_some() { 0x80 } else { 0 };
        let first = u128::from((u8::from(fin) << 7) | opcode.bits());
        let (second, length, mut len): (u128, u128, usize) = if payload_len < 126 {
            (payload_len as u128, 0, 2)
        } else if payload_len <= usize::from(u16::MAX) {
            (126, u128::from(u16::from_le_bytes((payload_len as u16).to_be_bytes())), 4)
        } else {
            (127, u128::from(u64::from_le_bytes((payload_len as u64).to_be_bytes())), 10)
        };
        let mut word = first | ((mask_bit | second) << 8) | (length << 16);
        if let Some(key) = mask {
            word |= u128::from(u32::from_le_bytes(key)) << (8 * len);
            len += 4;
        }
        Header { word, len }
    }

    /// The same header with RSV1 set: the first frame of a compressed message
    /// (RFC 7692 §6).
    #[cfg(feature = "deflate")]
    pub(crate) fn with_rsv1(self) -> Header {
        Header { word: self.word | 0x40, len: self.len }
    }

    /// How many bytes the header has.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The header in the first [`len`](Self::len) bytes; the rest are zero.
    #[inline]
    pub(crate) fn bytes(&self) -> [u8; Header::BYTES] {
        self.word.to_le_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(role: Role) -> DecodeRules {
        DecodeRules { role, accept_unmasked: false, max_frame_size: 16 << 20, rsv1: false }
    }

    fn dec(role: Role, bytes: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        decode_header(bytes, &rules(role))
    }

    // §5.2: 7-, 16- and 64-bit lengths round-trip, always in the minimal form.
    #[test]
    fn lengths_roundtrip_minimal_rfc6455_5_2() {
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 1 << 20] {
            let header = Header::new(true, OpCode::Binary, None, len);
            let (buf, n) = (header.bytes(), header.len());
            let expected = if len < 126 {
                2
            } else if len <= 65535 {
                4
            } else {
                10
            };
            assert_eq!(n, expected, "len {len}");
            let (h, used) = dec(Role::Client, &buf[..n]).unwrap().unwrap();
            assert_eq!((h.payload_len, used, h.fin, h.opcode), (len as u64, n, true, OpCode::Binary));
            // Every strict prefix asks for more bytes instead of guessing.
            for cut in 0..n {
                assert_eq!(dec(Role::Client, &buf[..cut]).unwrap(), None);
            }
        }
    }

    // §5.2 byte by byte: the integer-built header equals the layout the RFC draws, for every
    // length form, with and without a mask key, for every opcode and FIN bit.
    #[test]
    fn header_bytes_follow_the_rfc_layout_rfc6455_5_2() {
        let opcodes = [OpCode::Continuation, OpCode::Text, OpCode::Binary, OpCode::Close, OpCode::Ping, OpCode::Pong];
        for len in [0usize, 1, 125, 126, 127, 0x1234, 65535, 65536, 0x0102_0304_0506, usize::MAX >> 1] {
            for mask in [None, Some([0xA1, 0xB2, 0xC3, 0xD4])] {
                for fin in [false, true] {
                    for opcode in opcodes {
                        let mut expected = alloc::vec![(u8::from(fin) << 7) | opcode.bits()];
                        let mask_bit = if mask.is_some() { 0x80 } else { 0 };
                        if len < 126 {
                            expected.push(mask_bit | len as u8);
                        } else if len <= 65535 {
                            expected.push(mask_bit | 126);
                            expected.extend_from_slice(&(len as u16).to_be_bytes());
                        } else {
                            expected.push(mask_bit | 127);
                            expected.extend_from_slice(&(len as u64).to_be_bytes());
                        }
                        if let Some(key) = mask {
                            expected.extend_from_slice(&key);
                        }
                        let header = Header::new(fin, opcode, mask, len);
                        let bytes = header.bytes();
                        assert_eq!(
                            &bytes[..header.len()],
                            &expected[..],
                            "len {len} mask {mask:?} fin {fin} {opcode:?}"
                        );
                        assert!(bytes[header.len()..].iter().all(|&b| b == 0));
                        assert!(header.len() <= MAX_HEADER_LEN);
                        assert_eq!(header.len(), header_len(len, mask.is_some()));
                    }
                }
            }
        }
    }

    // Hostile peers C3: a 64-bit length with the MSB set fails before anything is reserved.
    #[test]
    fn length_msb_set_fails_rfc6455_5_2() {
        let bytes = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(dec(Role::Client, &bytes), Err(ProtocolError::PayloadLengthMsbSet));
    }

    // Hostile peers C4: a huge announced length fails at header time with 1009.
    #[test]
    fn oversized_frame_fails_at_header_time() {
        let bytes = [0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(dec(Role::Client, &bytes), Err(ProtocolError::FrameTooLarge { .. })));
    }

    // Hostile peers C6: non-minimal lengths are accepted (documented policy).
    #[test]
    fn non_minimal_length_accepted() {
        let (h, n) = dec(Role::Client, &[0x81, 0x7e, 0x00, 0x05]).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (5, 4));
    }

    // Hostile peers C1, C2 (§5.1): masking direction is enforced.
    #[test]
    fn mask_direction_rfc6455_5_1() {
        assert_eq!(dec(Role::Server, &[0x81, 0x05]), Err(ProtocolError::UnmaskedClientFrame));
        assert_eq!(dec(Role::Client, &[0x81, 0x85, 1, 2, 3, 4]), Err(ProtocolError::MaskedServerFrame));
        let lenient = DecodeRules { role: Role::Server, accept_unmasked: true, max_frame_size: 100, rsv1: false };
        assert!(decode_header(&[0x81, 0x05], &lenient).unwrap().is_some());
    }

    // Hostile peers C7, C8 (§5.2): reserved bits and opcodes.
    #[test]
    fn reserved_bits_and_opcodes_rfc6455_5_2() {
        assert_eq!(dec(Role::Client, &[0xc1, 0x00]), Err(ProtocolError::ReservedBitsSet { bits: 4 }));
        assert_eq!(dec(Role::Client, &[0xa2, 0x00]), Err(ProtocolError::ReservedBitsSet { bits: 2 }));
        for op in (0x3..=0x7).chain(0xB..=0xF) {
            assert_eq!(dec(Role::Client, &[0x80 | op, 0x00]), Err(ProtocolError::ReservedOpcode(op)));
        }
    }

    // Hostile peers D3, E1 (§5.5): control frames are short and never fragmented.
    #[test]
    fn control_frame_rules_rfc6455_5_5() {
        assert_eq!(dec(Role::Client, &[0x09, 0x00]), Err(ProtocolError::FragmentedControlFrame));
        assert_eq!(dec(Role::Client, &[0x89, 0x7e, 0x00, 0x7e]), Err(ProtocolError::ControlFrameTooLarge { len: 126 }));
        assert_eq!(dec(Role::Client, &[0x8a, 0x7e]), Err(ProtocolError::ControlFrameTooLarge { len: 126 }));
        assert_eq!(dec(Role::Client, &[0x88, 0x7f]), Err(ProtocolError::ControlFrameTooLarge { len: 127 }));
        assert!(dec(Role::Client, &[0x89, 0x7d]).unwrap().is_some());
    }

    // The pattern parser of the server's common frame agrees with the general decoder on
    // every two-byte prefix it can see (FIN/RSV/opcode byte × mask/length byte), for 7- and
    // 16-bit lengths, whole or cut anywhere.
    #[test]
    fn the_fast_header_parser_agrees_with_the_general_one() {
        let server = DecodeRules { role: Role::Server, accept_unmasked: false, max_frame_size: 1 << 20, rsv1: false };
        for b0 in 0..=255u8 {
            for b1 in 0..=255u8 {
                let mut frame = alloc::vec![b0, b1, 0x01, 0x02, 9, 8, 7, 6];
                frame.extend(core::iter::repeat_n(0u8, 300));
                for cut in [0, 1, 2, 3, 4, 5, 6, 7, 8, frame.len()] {
                    let buf = &frame[..cut];
                    let Some(fast) = masked_data_header(buf) else { continue };
                    let (header, used) = decode_header(buf, &server).unwrap().unwrap();
                    assert_eq!(used, fast.header_len, "{b0:#x} {b1:#x} cut {cut}");
                    assert_eq!(header.payload_len, fast.len as u64);
                    assert_eq!(header.mask, Some(fast.key));
                    assert!(header.fin);
                    assert_eq!(header.opcode, if fast.text { OpCode::Text } else { OpCode::Binary });
                    let whole = small_masked_frame(buf, usize::MAX).is_some();
                    assert_eq!(whole, buf.len() >= fast.header_len + fast.len);
                }
            }
        }
    }
}
