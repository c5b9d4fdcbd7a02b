//! The hand-written RFC 6455 §5.2 frame encoder: any raw opcode, FIN and RSV bits, an
//! optional mask key, minimal or deliberately longer length encodings and announced lengths
//! that disagree with the payload (for hostile-peer tests). Parsing lives in `parse.rs`,
//! the XOR itself in `mask.rs`.

use crate::mask::xor_mask;

/// Opcode of a continuation frame.
pub const CONTINUATION: u8 = 0x0;
/// Opcode of a text frame.
pub const TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub const BINARY: u8 = 0x2;
/// Opcode of a close frame.
pub const CLOSE: u8 = 0x8;
/// Opcode of a ping frame.
pub const PING: u8 = 0x9;
/// Opcode of a pong frame.
pub const PONG: u8 = 0xA;

/// The mask key of RFC 6455 §5.7's examples; [`client_frame`] masks with it.
pub const RFC_MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// How the payload length is written (RFC 6455 §5.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LengthForm {
    /// The shortest form: 7 bits up to 125, 16 bits up to 65 535, 64 bits beyond.
    #[default]
    Minimal,
    /// Always the 16-bit form (126 + two bytes), also for lengths under 126, which a
    /// receiver may reject as non-minimal. Panics when encoding a length over 65 535.
    Extended16,
    /// Always the 64-bit form (127 + eight bytes), also for lengths that fit in fewer.
    Extended64,
}

/// One frame to encode, built up from [`Frame::new`] (FIN set, RSV clear, unmasked, minimal
/// length) and encoded with [`encode`](Self::encode) or [`encode_into`](Self::encode_into).
/// Nothing is validated: any opcode, RSV bits, length form or announced length is written
/// as asked, so tests can script hostile peers.
///
/// ```
/// use tether_testkit::{Frame, LengthForm, BINARY, CONTINUATION};
/// // A non-final binary fragment with RSV1 set and a 16-bit length for 3 bytes.
/// let wire = Frame::new(BINARY, b"abc").fin(false).rsv(0b100).length_form(LengthForm::Extended16).encode();
/// assert_eq!(wire, [0x42, 126, 0, 3, b'a', b'b', b'c']);
/// // A masked continuation announcing 10 bytes but carrying 2.
/// let wire = Frame::new(CONTINUATION, b"hi").mask(Some([0; 4])).announce(10).encode();
/// assert_eq!(wire, [0x80, 0x80 | 10, 0, 0, 0, 0, b'h', b'i']);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    length_form: LengthForm,
    announced: Option<u64>,
    payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// A final frame with `opcode` (its low four bits, any value) carrying `payload`:
    /// RSV clear, unmasked, minimal length.
    #[inline]
    pub fn new(opcode: u8, payload: &'a [u8]) -> Frame<'a> {
        Frame {
            fin: true,
            rsv: 0,
            opcode: opcode & 0x0F,
            mask: None,
            length_form: LengthForm::Minimal,
            announced: None,
            payload,
        }
    }

    /// Set or clear the FIN bit.
    #[inline]
    pub fn fin(mut self, fin: bool) -> Self {
        self.fin = fin;
        self
    }

    /// The three RSV bits (RSV1 is `0b100`); higher bits are ignored.
    #[inline]
    pub fn rsv(mut self, bits: u8) -> Self {
        self.rsv = bits & 7;
        self
    }

    /// Mask the payload with `key` and set the mask bit (`Some`, as a client sends), or
    /// send it unmasked (`None`, as a server sends).
    #[inline]
    pub fn mask(mut self, key: Option<[u8; 4]>) -> Self {
        self.mask = key;
        self
    }

    /// How the length is written.
    #[inline]
    pub fn length_form(mut self, form: LengthForm) -> Self {
        self.length_form = form;
        self
    }

    /// Write `len` as the payload length instead of the payload's real length: the frame
    /// then runs into what follows it (a longer `len`) or ends early (a shorter one). The
    /// payload itself is written whole either way.
    #[inline]
    pub fn announce(mut self, len: u64) -> Self {
        self.announced = Some(len);
        self
    }

    /// Append the encoded frame to `out`.
    #[inline]
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let len = self.announced.unwrap_or(self.payload.len() as u64);
        out.push((u8::from(self.fin) << 7) | (self.rsv << 4) | self.opcode);
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let form = match self.length_form {
            LengthForm::Minimal if len < 126 => None,
            LengthForm::Minimal if len <= 0xFFFF => Some(LengthForm::Extended16),
            LengthForm::Minimal => Some(LengthForm::Extended64),
            other => Some(other),
        };
        match form {
            None => out.push(mask_bit | len as u8),
            Some(LengthForm::Extended16) => {
                let len = u16::try_from(len).expect("a 16-bit length form for a length over 65 535");
                out.push(mask_bit | 126);
                out.extend_from_slice(&len.to_be_bytes());
            }
            Some(_) => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        match self.mask {
            Some(key) => {
                out.extend_from_slice(&key);
                let start = out.len();
                out.extend_from_slice(self.payload);
                xor_mask(&mut out[start..], key);
            }
            None => out.extend_from_slice(self.payload),
        }
    }

    /// The encoded frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(14 + self.payload.len());
        self.encode_into(&mut out);
        out
    }
}

/// A frame as a client sends it: masked with [`RFC_MASK_KEY`], minimal length, RSV clear.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    Frame::new(opcode, payload).fin(fin).mask(Some(RFC_MASK_KEY)).encode()
}

/// A frame as a server sends it: unmasked, minimal length, RSV clear.
pub fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    Frame::new(opcode, payload).fin(fin).encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6455 §5.7, every example.
    #[test]
    fn rfc_6455_examples() {
        // A single-frame unmasked text message.
        assert_eq!(server_frame(true, TEXT, b"Hello"), [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        // A single-frame masked text message.
        assert_eq!(
            client_frame(true, TEXT, b"Hello"),
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        // A fragmented unmasked text message.
        assert_eq!(server_frame(false, TEXT, b"Hel"), [0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert_eq!(server_frame(true, CONTINUATION, b"lo"), [0x80, 0x02, 0x6c, 0x6f]);
        // Unmasked ping, masked pong.
        assert_eq!(server_frame(true, PING, b"Hello"), [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(
            client_frame(true, PONG, b"Hello"),
            [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        // 256 bytes binary in a single unmasked frame: 0x82 0x7E 0x0100 [256 bytes].
        let wire = server_frame(true, BINARY, &[0xAB; 256]);
        assert_eq!(wire[..4], [0x82, 0x7e, 0x01, 0x00]);
        assert_eq!((wire.len(), wire[4..].iter().all(|&b| b == 0xAB)), (260, true));
        // 64 KiB binary in a single unmasked frame: 0x82 0x7F 0x0000000000010000 [65536 bytes].
        let wire = server_frame(true, BINARY, &[0xCD; 65536]);
        assert_eq!(wire[..10], [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(wire.len(), 10 + 65536);
    }

    #[test]
    fn length_boundaries_are_minimal() {
        for (len, header) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
            let wire = Frame::new(BINARY, &vec![0; len]).encode();
            assert_eq!(wire.len(), header + len, "length {len}");
        }
    }

    #[test]
    fn longer_forms_and_announced_lengths() {
        let wire = Frame::new(TEXT, b"x").length_form(LengthForm::Extended64).encode();
        assert_eq!(wire, [0x81, 127, 0, 0, 0, 0, 0, 0, 0, 1, b'x']);
        let wire = Frame::new(TEXT, b"").announce(1 << 63).encode();
        assert_eq!(wire, [0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        let wire = Frame::new(TEXT, b"ab").announce(300).mask(Some([1, 2, 3, 4])).encode();
        assert_eq!(wire, [0x81, 0x80 | 126, 0x01, 0x2c, 1, 2, 3, 4, b'a' ^ 1, b'b' ^ 2]);
    }

    #[test]
    #[should_panic(expected = "16-bit length form")]
    fn a_16_bit_form_cannot_hold_a_larger_length() {
        let _ = Frame::new(BINARY, b"").announce(70_000).length_form(LengthForm::Extended16).encode();
    }

    #[test]
    fn raw_opcodes_and_rsv_bits_are_written_as_given() {
        assert_eq!(Frame::new(0x3, b"").fin(false).rsv(0b111).encode(), [0x73, 0x00]);
        assert_eq!(Frame::new(0xFB, b"").rsv(0xFF).encode(), [0xFB, 0x00], "only the low bits count");
    }
}
