//! The hand-written frame parser: a header (RFC 6455 §5.2) and the payload that follows,
//! with no validation beyond finding where the frame ends. Strict checking of what an engine
//! wrote belongs to the tests that need it (the fuzz harness has its own strict parser).

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// FIN bit.
    pub fin: bool,
    /// The three RSV bits (RSV1 is `0b100`).
    pub rsv: u8,
    /// Opcode (the low four bits of the first byte).
    pub opcode: u8,
    /// Mask key, for masked frames.
    pub mask: Option<[u8; 4]>,
    /// Payload length, as announced.
    pub len: usize,
    /// Header length in bytes (2 to 14).
    pub header_len: usize,
}

/// Parse a header at the start of `buf`; `None` if more bytes are needed (or the announced
/// length does not fit in `usize`). Any opcode, RSV bits and length form are accepted.
///
/// ```
/// use tether_testkit::{parse_header, Header};
/// let h = parse_header(&[0x82, 0x80 | 126, 0x01, 0x00, 1, 2, 3, 4]).unwrap();
/// assert_eq!(h, Header { fin: true, rsv: 0, opcode: 2, mask: Some([1, 2, 3, 4]), len: 256, header_len: 8 });
/// assert_eq!(parse_header(&[0x82, 126, 0x01]), None);
/// ```
#[inline]
pub fn parse_header(buf: &[u8]) -> Option<Header> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let (len, mut header_len) = match b1 & 0x7f {
        126 => (u64::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)), 4),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let mask = if b1 & 0x80 != 0 {
        let key: [u8; 4] = buf.get(header_len..header_len + 4)?.try_into().ok()?;
        header_len += 4;
        Some(key)
    } else {
        None
    };
    Some(Header {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 7,
        opcode: b0 & 0x0f,
        mask,
        len: usize::try_from(len).ok()?,
        header_len,
    })
}

/// A frame parsed by [`parse_frame`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedFrame<'a> {
    /// Its header.
    pub header: Header,
    /// Its payload as on the wire: still masked when `header.mask` is `Some` (unmask with
    /// [`xor_mask`](crate::xor_mask)); as sent for the unmasked frames a server writes.
    pub payload: &'a [u8],
}

impl ParsedFrame<'_> {
    /// Bytes the whole frame takes on the wire (header and payload): where the next frame
    /// starts.
    pub fn wire_len(&self) -> usize {
        self.header.header_len + self.header.len
    }
}

/// Parse one frame at the start of `bytes`; `None` until all of it is there.
///
/// ```
/// use tether_testkit::{parse_frame, TEXT};
/// let wire = [0x81, 0x05, b'H', b'e', b'l', b'l', b'o', 0x89, 0x00];
/// let f = parse_frame(&wire).unwrap();
/// assert_eq!((f.header.opcode, f.payload, f.wire_len()), (TEXT, &b"Hello"[..], 7));
/// assert_eq!(parse_frame(&wire[..6]), None);
/// ```
pub fn parse_frame(bytes: &[u8]) -> Option<ParsedFrame<'_>> {
    let header = parse_header(bytes)?;
    let payload = bytes.get(header.header_len..header.header_len.checked_add(header.len)?)?;
    Some(ParsedFrame { header, payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{xor_mask, Frame, LengthForm, BINARY, CLOSE};

    #[test]
    fn parses_what_the_encoder_writes() {
        for len in [0usize, 5, 125, 126, 65535, 65536, 1 << 20] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for mask in [None, Some([1, 2, 3, 4])] {
                let wire = Frame::new(BINARY, &payload).mask(mask).encode();
                let f = parse_frame(&wire).unwrap();
                assert_eq!((f.header.len, f.header.opcode, f.header.fin, f.header.mask), (len, BINARY, true, mask));
                assert_eq!(f.wire_len(), wire.len());
                let mut body = f.payload.to_vec();
                if let Some(key) = mask {
                    xor_mask(&mut body, key);
                }
                assert_eq!(body, payload);
                assert_eq!(parse_frame(&wire[..wire.len() - 1]), None, "one byte short");
            }
        }
    }

    #[test]
    fn flags_and_longer_length_forms() {
        let wire = Frame::new(CLOSE, b"ab").fin(false).rsv(0b011).length_form(LengthForm::Extended64).encode();
        let f = parse_frame(&wire).unwrap();
        assert_eq!(f.header, Header { fin: false, rsv: 0b011, opcode: CLOSE, mask: None, len: 2, header_len: 10 });
        assert_eq!(f.payload, b"ab");
    }

    #[test]
    fn every_prefix_of_a_header_needs_more() {
        let wire = Frame::new(BINARY, &[0; 70_000]).mask(Some([9; 4])).encode();
        for cut in 0..14 {
            assert_eq!(parse_header(&wire[..cut]), None, "{cut} bytes");
        }
        assert_eq!(parse_header(&wire[..14]).map(|h| h.header_len), Some(14));
    }
}
