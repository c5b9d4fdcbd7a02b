//! Input decoding for the targets that read raw bytes (configuration bytes off the front of
//! an input) and the deterministic configs built from them. The structured inputs
//! (`Arbitrary` types) live with their targets and with the peer model (`peer.rs`).

use std::sync::Arc;

use tether_proto::{Config, SeededRng};

/// Reads configuration bytes off the front of a raw input; zeros once it runs out.
pub(crate) struct Cursor<'a> {
    pub(crate) data: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    pub(crate) fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| (acc << 8) | u64::from(self.u8()))
    }
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.data)
    }
}

/// A config with deterministic mask keys, from a builder function.
pub(crate) fn config_with(
    seed: u64,
    f: impl FnOnce(tether_proto::ConfigBuilder) -> tether_proto::ConfigBuilder,
) -> Config {
    f(Config::builder().rng(Arc::new(SeededRng::new(seed)))).build().expect("the harness builds only valid configs")
}
