//! `tether-testkit`: the tools tether's tests, fuzz targets and benchmarks share, written
//! independently of `tether-proto` (no dependency on it): a deterministic [`Chunker`]
//! (chunk sizes, coin flips, mask keys, splitting a byte slice), a hand-written RFC 6455
//! frame encoder ([`Frame`]) and parser ([`parse_frame`], [`parse_header`]), and a
//! reference XOR mask ([`xor_mask`]). Not here: anything that drives an engine (feeding,
//! draining, checking invariants), which lives with the tests that need it.
//!
//! ```
//! use tether_testkit::{client_frame, parse_frame, Chunker, TEXT};
//! let wire = client_frame(true, TEXT, b"Hello");
//! assert_eq!(wire, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
//! let chunks = Chunker::new(7, 3).split(&wire);
//! assert_eq!(chunks.concat(), wire);
//! assert_eq!(parse_frame(&wire).unwrap().header.opcode, TEXT);
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod chunker;
mod frame;
mod mask;
mod parse;

pub use chunker::Chunker;
pub use frame::{
    client_frame, server_frame, Frame, LengthForm, BINARY, CLOSE, CONTINUATION, PING, PONG, RFC_MASK_KEY, TEXT,
};
pub use mask::xor_mask;
pub use parse::{parse_frame, parse_header, Header, ParsedFrame};
