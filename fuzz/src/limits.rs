//! The engine's private limits, mirrored here (the harness checks the engine against them
//! from outside). What the engine may queue by itself is derived from them in `model.rs`.

/// The engine's read-ahead (`READ_AHEAD`, private to `tether-proto`): unparsed
/// input beyond which `read_buf` offers no space until events are taken.
pub const READ_AHEAD: usize = 64 << 10;

/// The largest read window `read_buf_uninit` offers (`MAX_READ_WINDOW`, private).
pub const MAX_READ_WINDOW: usize = 256 << 10;

/// The longest frame header (2 + 8 + 4).
pub const MAX_HEADER: usize = 14;

/// Unwritten pong bytes the engine queues before it keeps only the latest ping
/// (`URGENT_CAP`, private to `tether-proto`).
pub const URGENT_CAP: usize = 2 << 10;
