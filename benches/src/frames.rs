//! Frames encoded and parsed by hand (RFC 6455 §5.2), with no WebSocket library: the
//! inputs of the framing benchmarks, the load generator's pre-encoded requests, and the raw
//! reference echo. Test data (text mixes) lives here too; measuring does not.

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

/// Append one final frame (`fin` set) with `opcode` and `payload`, masked with `mask` if
/// given (a client frame) or unmasked (a server frame). Lengths use the minimal form.
pub fn encode_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    out.push(0x80 | opcode);
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            let start = out.len();
            out.extend_from_slice(payload);
            xor_mask(&mut out[start..], key);
        }
        None => out.extend_from_slice(payload),
    }
}

/// A deterministic sequence of mask keys (xorshift), so inputs are reproducible but keys
/// differ from frame to frame as they do on the wire.
#[derive(Clone, Debug)]
pub struct KeySeq(u32);

impl KeySeq {
    /// A sequence starting from `seed` (any non-zero value).
    pub fn new(seed: u32) -> Self {
        KeySeq(seed.max(1))
    }

    /// The next key.
    pub fn next_key(&mut self) -> [u8; 4] {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x.to_ne_bytes()
    }
}

/// `count` masked client frames of `opcode`, each carrying `payload`, back to back.
pub fn masked_frames(count: usize, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut keys = KeySeq::new(0x9e37_79b9);
    let mut out = Vec::with_capacity(count * (payload.len() + 14));
    for _ in 0..count {
        encode_frame(&mut out, opcode, payload, Some(keys.next_key()));
    }
    out
}

/// XOR `buf` with the 4-byte `key` from phase 0: the plain reference loop (u64 lanes, then
/// bytes), written here so the raw reference uses no library code.
pub fn xor_mask(buf: &mut [u8], key: [u8; 4]) {
    let word = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut lanes = buf.chunks_exact_mut(8);
    for lane in &mut lanes {
        let mut w = [0u8; 8];
        w.copy_from_slice(lane);
        lane.copy_from_slice(&(u64::from_ne_bytes(w) ^ word).to_ne_bytes());
    }
    for (i, b) in lanes.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// FIN bit.
    pub fin: bool,
    /// Opcode (low 4 bits of the first byte).
    pub opcode: u8,
    /// Mask key, for masked frames.
    pub mask: Option<[u8; 4]>,
    /// Payload length.
    pub len: usize,
    /// Header length in bytes (2-14).
    pub header_len: usize,
}

/// Parse a header at the start of `buf`; `None` if more bytes are needed. No validation
/// beyond what is needed to find the payload: the peers here are our own programs.
pub fn parse_header(buf: &[u8]) -> Option<Header> {
    if buf.len() < 2 {
        return None;
    }
    let (b0, b1) = (buf[0], buf[1]);
    let masked = b1 & 0x80 != 0;
    let (len, mut pos) = match b1 & 0x7f {
        126 => {
            if buf.len() < 4 {
                return None;
            }
            (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4)
        }
        127 => {
            if buf.len() < 10 {
                return None;
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b) as usize, 10)
        }
        n => (usize::from(n), 2),
    };
    let mask = if masked {
        if buf.len() < pos + 4 {
            return None;
        }
        let key = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
        pos += 4;
        Some(key)
    } else {
        None
    };
    Some(Header { fin: b0 & 0x80 != 0, opcode: b0 & 0x0f, mask, len, header_len: pos })
}

/// `len` bytes of printable ASCII text.
pub fn ascii_text(len: usize) -> Vec<u8> {
    let line = b"The quick brown fox jumps over the lazy dog; 0123456789 {\"k\":[1,2,3]}\n";
    line.iter().copied().cycle().take(len).collect()
}

/// About `len` bytes (never more) of mixed text: ASCII with 2-, 3- and 4-byte characters
/// (Latin, Cyrillic, CJK, emoji), about half the bytes outside ASCII. Always valid UTF-8.
pub fn mixed_text(len: usize) -> Vec<u8> {
    let piece = "Grüße, мир! 日本語のテキスト 🎉🚀 café — naïve ñ; ".as_bytes();
    let mut out = Vec::with_capacity(len);
    while out.len() + piece.len() <= len {
        out.extend_from_slice(piece);
    }
    while out.len() < len {
        out.push(b'.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_through_parse() {
        for len in [0usize, 5, 125, 126, 65535, 65536, 1 << 20] {
            let payload = vec![7u8; len];
            let mut out = Vec::new();
            encode_frame(&mut out, BINARY, &payload, Some([1, 2, 3, 4]));
            let h = parse_header(&out).unwrap();
            assert_eq!((h.len, h.opcode, h.fin, h.mask), (len, BINARY, true, Some([1, 2, 3, 4])));
            let mut body = out[h.header_len..].to_vec();
            xor_mask(&mut body, [1, 2, 3, 4]);
            assert_eq!(body, payload);
        }
    }

    #[test]
    fn texts_are_utf8() {
        assert!(std::str::from_utf8(&ascii_text(1 << 20)).is_ok());
        let mixed = mixed_text(1 << 20);
        assert_eq!(mixed.len(), 1 << 20);
        let s = std::str::from_utf8(&mixed).unwrap();
        assert!(s.chars().filter(|c| !c.is_ascii()).count() > 100_000);
    }
}
