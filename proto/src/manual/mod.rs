//! The manual: why Tether is shaped the way it is, which hostile peers it is tested against,
//! and what its hot paths were measured to cost. Documentation only: the chapters are
//! rustdoc modules with no code in them.
//!
//! The workspace's design notes live here rather than in comments scattered through the
//! code; a comment that needs the reasoning behind a rule points to the chapter that gives
//! it (for example "see the manual, hostile peers C3").
//!
//! # Chapters
//! - [`design`]: the rules — what lives in which crate, the sans-IO engine and its four
//!   kinds of methods, the one ending and its causes, what is sent in which order, buffers
//!   and memory, the async layer's drive loop (write coalescing and its deferral rule, split
//!   halves), the defaults, the house style and how claims are proven.
//! - [`hostile_peers`]: the catalogue of faults and attacks a WebSocket endpoint must
//!   survive, items A1 to I4, each with Tether's behaviour and the tests that show it (or
//!   what is missing, or why it does not apply).
//! - [`performance`]: every hot-path decision — receive buffer and read windows, copy-out
//!   of small messages, the decode fast path, the send path, header encoding, the async
//!   layer's futures, timers, write coalescing — with what was chosen, why, and the figures
//!   measured when it was chosen.
//!
//! The crate's own API documentation starts at the [crate root](crate); the async API is
//! documented in `tether-rt`, whose `WebSocket` every adapter crate re-exports.

pub mod design;
pub mod hostile_peers;
pub mod performance;
