//! Entropy for mask keys and handshake keys: the `Rng` trait, the OS-backed default and a
//! seeded generator for reproducible tests. Nothing here decides when keys are drawn.

use alloc::sync::Arc;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

/// A source of random bytes for frame mask keys (RFC 6455 §5.3, §10.3) and
/// `Sec-WebSocket-Key` values (§4.1).
///
/// Implementations are shared between connections through an `Arc` in [`Config`], so
/// they take `&self`. The default, [`OsRng`], reads the operating system's CSPRNG.
///
/// [`Config`]: crate::Config
pub trait Rng: Send + Sync {
    /// Fill `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]);
}

/// The operating system's CSPRNG (through `getrandom`). The default [`Rng`].
///
/// Connections draw from it in blocks and keep a small local cache, so masking a frame does
/// not cost a system call.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill(&self, dest: &mut [u8]) {
        if getrandom::fill(dest).is_err() {
            // The OS refused entropy (this does not happen on supported platforms). Mask keys
            // must not become predictable silently, and there is no caller to return to from
            // a mask-key draw, so this is the one deliberate abort in the engine.
            panic!("tether-proto: the operating system's random number generator failed");
        }
    }
}

/// A deterministic generator (SplitMix64) for tests and reproducible fuzzing.
///
/// **Not for production**: its output is predictable, which defeats the purpose of masking
/// (RFC 6455 §10.3).
///
/// ```
/// use tether_proto::{Rng, SeededRng};
/// let (a, b) = (SeededRng::new(7), SeededRng::new(7));
/// let (mut x, mut y) = ([0u8; 8], [0u8; 8]);
/// a.fill(&mut x);
/// b.fill(&mut y);
/// assert_eq!(x, y);
/// ```
#[derive(Debug)]
pub struct SeededRng {
    state: AtomicU64,
}

impl SeededRng {
    /// A generator whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRng { state: AtomicU64::new(seed) }
    }

    fn next_u64(&self) -> u64 {
        let mut z = self.state.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Rng for SeededRng {
    fn fill(&self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// The shared handle stored in `Config`.
#[derive(Clone)]
pub(crate) struct SharedRng(pub(crate) Arc<dyn Rng>);

impl fmt::Debug for SharedRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rng")
    }
}

/// A per-connection cache of random bytes, refilled from the shared [`Rng`] in blocks.
pub(crate) struct KeyCache {
    buf: [u8; 64],
    pos: usize,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.write_str("KeyCache")
    }
}

impl KeyCache {
    pub(crate) fn new() -> Self {
        KeyCache { buf: [0; 64], pos: 64 }
    }

    /// Four fresh random bytes: a frame's mask key.
    pub(crate) fn mask_key(&mut self, rng: &dyn Rng) -> [u8; 4] {
        if self.pos + 4 > self.buf.len() {
            rng.fill(&mut self.buf);
            self.pos = 0;
        }
        let mut key = [0u8; 4];
        key.copy_from_slice(&self.buf[self.pos..self.pos + 4]);
        // Used key bytes are wiped so a later memory disclosure cannot replay them.
        self.buf[self.pos..self.pos + 4].fill(0);
        self.pos += 4;
        key
    }
}
