//! The check bodies of every fuzz target (one `pub fn TARGET(data: &[u8])` each) and the
//! models they compare the engine against, one module per concern: input decoding
//! (`input`), driving the engine's IO calls (`drive`, and `interleave` for any order of the
//! input calls), the event rules (`events`), the reference decoder (`reference`), the strict
//! output parser (`output`), the scripted peer (`peer`), the connection model (`model`), and
//! one module per target, and the permessage-deflate runs (`deflate`, inputs tagged
//! `deflate:`). What does not live here: the libFuzzer glue (`fuzz_targets/*.rs`,
//! one line each) and the CI corpus replay (`proto/tests/fuzz_corpus.rs`, which includes
//! this very file with `#[path]`, so modules refer to each other with `super::`, never
//! `crate::`), so the same code runs under libFuzzer and under a plain `cargo test`. Nothing
//! here may use `libfuzzer-sys`.
//!
//! Every check panics (with a message naming the broken invariant) instead of returning an
//! error: a panic is what both libFuzzer and the replay report.

mod client_handshake;
mod connection;
mod deflate;
mod drive;
mod events;
mod frame_decode;
mod handshake;
mod input;
mod interleave;
mod limits;
mod model;
mod output;
mod peer;
mod reference;
mod roundtrip;
mod server_handshake;
mod tally;

pub use client_handshake::{client_handshake, RESPONSES};
pub use connection::{
    connection_client, connection_server, run_connection, run_interleaved, ConnInput, ConnSettings, InterleavedInput,
    Op, INTERLEAVED_TAG,
};
pub use deflate::{DeflateConnInput, DeflateMessage, DeflateRoundtripInput, DeflateSide, DeflateStep, DEFLATE_TAG};
pub use drive::{drain, FeedMode};
pub use events::EventLog;
pub use frame_decode::frame_decode;
pub use interleave::{Amount, Call};
pub use limits::{MAX_HEADER, MAX_READ_WINDOW, READ_AHEAD, URGENT_CAP};
pub use output::{check_with_peer_engine, parse_output, OutItem, Output};
pub use peer::{PeerFrame, PeerOpcode, PeerPayload, PeerPiece, Quirk};
pub use reference::{reference_decode, RefEnd, RefOutcome, RefRules};
pub use roundtrip::{roundtrip, run_roundtrip, RoundtripInput, RtMessage};
pub use server_handshake::{server_handshake, REQUESTS};
pub use tally::take_tally;
/// The deterministic chunker every target draws chunk sizes and coin flips from
/// (`tether-testkit`'s, seeded with [`Chunker::mixed`]).
pub use tether_testkit::Chunker;

/// A target's check: panics on a broken invariant.
pub type Check = fn(&[u8]);

/// Every target, by corpus directory name, for the replay.
pub const TARGETS: &[(&str, Check)] = &[
    ("frame_decode", frame_decode),
    ("server_handshake", server_handshake),
    ("client_handshake", client_handshake),
    ("connection_server", connection_server),
    ("connection_client", connection_client),
    ("roundtrip", roundtrip),
];
