//! The reference XOR mask (RFC 6455 §5.3), written here so tests and the raw benchmark
//! reference do not borrow the engine's. Which key a frame uses is decided by the callers.

/// XOR `buf` with the 4-byte `key`, starting at key byte 0 (masking and unmasking are the
/// same operation): eight bytes at a time, then byte by byte.
///
/// ```
/// use tether_testkit::xor_mask;
/// let mut b = *b"Hello";
/// xor_mask(&mut b, [0x37, 0xfa, 0x21, 0x3d]);
/// assert_eq!(b, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// ```
#[inline]
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

#[cfg(test)]
mod tests {
    use super::*;

    // Against the definition (§5.3: octet i XOR key[i mod 4]) for every length around the
    // eight-byte lanes.
    #[test]
    fn matches_the_definition() {
        let key = [0x01, 0x80, 0x7f, 0xff];
        for len in 0..40 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37) as u8).collect();
            let mut got = data.clone();
            xor_mask(&mut got, key);
            let expected: Vec<u8> = data.iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
            assert_eq!(got, expected, "length {len}");
            xor_mask(&mut got, key);
            assert_eq!(got, data, "masking twice restores the data");
        }
    }
}
