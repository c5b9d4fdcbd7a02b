//! `tether-benches`: shared helpers for the framing benchmarks and the echo and fan-out
//! loads — their inputs (frames encoded by hand with `tether-testkit`, text mixes), an
//! in-memory stream, the hand-written upgrade (client and raw server), the servers' accept
//! loop, the load generators' bounded `main`, `/proc` readings and small statistics. The
//! measurements themselves live in `benches/` (criterion) and `src/bin/` (load generators,
//! servers, profiling driver); nothing here is part of the library.

pub mod cli;
pub mod frames;
pub mod framing;
pub mod handshake;
pub mod mem_stream;
pub mod procfs;
pub mod serve;
pub mod stats;
pub mod tls;
