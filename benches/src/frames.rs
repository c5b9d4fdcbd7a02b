//! The inputs of the framing benchmarks: runs of masked client frames and text mixes, and
//! the compressible JSON-like text of the deflate benchmarks. The
//! frames are encoded by hand with `tether-testkit` (no WebSocket library), as are the load
//! generator's requests and the raw reference echo's frames; measuring does not live here.

use tether_testkit::{Chunker, Frame};

/// `count` masked client frames of `opcode`, each carrying `payload`, back to back.
pub fn masked_frames(count: usize, opcode: u8, payload: &[u8]) -> Vec<u8> {
    // Keys differ from frame to frame, as on the wire, and are the same on every run.
    let mut keys = Chunker::new(0x9e37_79b9, 0);
    let mut out = Vec::with_capacity(count * (payload.len() + 14));
    for _ in 0..count {
        Frame::new(opcode, payload).mask(Some(keys.mask_key())).encode_into(&mut out);
    }
    out
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

/// Compressible text of `size` bytes, shaped like a JSON API's records (ASCII).
pub fn json_text(size: usize) -> Vec<u8> {
    let mut out = b"[".to_vec();
    let mut i = 0u32;
    while out.len() < size {
        let record = format!(
            r#"{{"id":{i},"name":"item {}","tags":["alpha","beta"],"price":{}.{:02},"in_stock":{}}},"#,
            i % 17,
            i % 100,
            i % 97,
            i % 3 == 0
        );
        out.extend_from_slice(record.as_bytes());
        i += 1;
    }
    out.truncate(size);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_utf8() {
        assert!(std::str::from_utf8(&ascii_text(1 << 20)).is_ok());
        let mixed = mixed_text(1 << 20);
        assert_eq!(mixed.len(), 1 << 20);
        let s = std::str::from_utf8(&mixed).unwrap();
        assert!(s.chars().filter(|c| !c.is_ascii()).count() > 100_000);
    }
}
