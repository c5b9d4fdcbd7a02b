//! Payload masking (RFC 6455 §5.3): XOR with a 4-byte key, word-wide, in safe code. Which
//! key to use and when is decided by the connection, not here.

/// XOR `buf` with `key`, as if `buf` started `phase` bytes into the masked payload.
///
/// Masking and unmasking are the same operation. `phase` lets a payload be processed in
/// pieces: pass the number of payload bytes already processed.
///
/// ```
/// use tether_proto::apply_mask;
/// let key = [1, 2, 3, 4];
/// let mut whole = *b"hello world";
/// apply_mask(&mut whole, key, 0);
/// let mut split = *b"hello world";
/// let (a, b) = split.split_at_mut(3);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 3);
/// assert_eq!(whole, split);
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], phase: usize) {
    let shift = phase & 3;
    let key = [key[shift], key[(shift + 1) & 3], key[(shift + 2) & 3], key[(shift + 3) & 3]];
    if buf.len() < 16 {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[i & 3];
        }
        return;
    }
    // 32-byte blocks of four u64 lanes: the compiler turns this into vector XORs.
    let word = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        for lane in block.chunks_exact_mut(8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(lane);
            lane.copy_from_slice(&(u64::from_ne_bytes(w) ^ word).to_ne_bytes());
        }
    }
    // Block sizes are multiples of 4, so the key phase at the tail is unchanged.
    for (i, b) in blocks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn naive(buf: &mut [u8], key: [u8; 4], phase: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(i + phase) % 4];
        }
    }

    // RFC 6455 §5.3: the word-wide loop equals the byte-wise definition at every length,
    // phase and alignment.
    #[test]
    fn matches_bytewise_definition_rfc6455_5_3() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for start in 0..8 {
            for len in 0..200 {
                for phase in 0..4 {
                    let mut a = data[start..start + len].to_vec();
                    let mut b = a.clone();
                    apply_mask(&mut a, key, phase);
                    naive(&mut b, key, phase);
                    assert_eq!(a, b, "start {start} len {len} phase {phase}");
                }
            }
        }
    }

    // The example of §5.7: "Hello" masked with 37 fa 21 3d.
    #[test]
    fn rfc6455_5_7_example() {
        let mut p = *b"Hello";
        apply_mask(&mut p, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(p, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }
}
