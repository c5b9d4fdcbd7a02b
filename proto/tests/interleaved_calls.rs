//! Hand-made interleavings of the engine's input calls (a loan, then `receive`, a commit of
//! the other kind, an empty `receive`, …), run through the connection fuzz harness's
//! interleaved mode: each once panicked the engine or lost input. The contract they hold the
//! engine to is on `Connection::read_buf` and `commit_read`.

#[allow(dead_code, unreachable_pub, unused_imports, missing_docs)]
#[path = "../../fuzz/src/lib.rs"]
mod checks;

use checks::{
    Amount, Call, ConnInput, ConnSettings, FeedMode, InterleavedInput, Op, PeerFrame, PeerOpcode, PeerPayload,
    PeerPiece, Quirk,
};
use tether_proto::Role;

fn run(script: Vec<Call>) {
    let frame = || {
        PeerPiece::Frame(PeerFrame {
            fin: true,
            opcode: PeerOpcode::Binary,
            payload: PeerPayload::Bytes(vec![1, 2, 3, 4, 5, 6, 7, 8, 9]),
            key: [1, 2, 3, 4],
            quirk: Quirk::None,
        })
    };
    let settings = ConnSettings {
        fragment_size: 0,
        auto_pong: true,
        idle_timeout: None,
        accept_unmasked: false,
        read_buffer: 0,
        seed: 1,
    };
    let ops = vec![Op::Peer { pieces: (0..4).map(|_| frame()).collect(), mode: FeedMode::Receive, max_chunk: 0 }];
    checks::run_interleaved(Role::Server, &InterleavedInput { script, input: ConnInput { settings, ops } });
}

#[test]
fn commit_read_after_receive_commits_nothing() {
    run(vec![Call::ReadBuf { write: 5 }, Call::Receive(3), Call::CommitRead(Amount::More(5)), Call::PollEvent]);
}

#[test]
fn commit_appended_does_not_take_a_read_buf_offer() {
    run(vec![Call::ReadBuf { write: 5 }, Call::CommitAppended, Call::CommitRead(Amount::Written), Call::PollEvent]);
}

#[test]
fn commit_read_does_not_take_an_uninit_offer() {
    run(vec![
        Call::ReadBufUninit { write: 5, past: false },
        Call::CommitRead(Amount::More(5)),
        Call::CommitAppended,
        Call::PollEvent,
    ]);
}

#[test]
fn an_empty_receive_voids_a_read_buf_offer() {
    run(vec![Call::ReadBuf { write: 5 }, Call::Receive(0), Call::CommitRead(Amount::More(5)), Call::PollEvent]);
}

#[test]
fn an_empty_receive_voids_an_uninit_offer() {
    run(vec![Call::ReadBufUninit { write: 5, past: false }, Call::Receive(0), Call::CommitAppended, Call::PollEvent]);
}
