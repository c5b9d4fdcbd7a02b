//! `tether-benches`: shared helpers for the framing benchmarks and the echo load — their
//! inputs (frames encoded by hand with `tether-testkit`, text mixes), an in-memory stream,
//! the raw reference's handshake, the echo servers' accept loop, `/proc` readings and small
//! statistics. The
//! measurements themselves live in `benches/` (criterion) and `src/bin/` (load generator,
//! echo servers, profiling driver); nothing here is part of the library.

pub mod frames;
pub mod framing;
pub mod handshake;
pub mod mem_stream;
pub mod procfs;
pub mod serve;
pub mod stats;
