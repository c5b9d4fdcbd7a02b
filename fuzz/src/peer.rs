//! The scripted peer of the connection targets: frames as a peer might send them (valid by
//! default, with quirks), raw bytes and fragmented messages, as `Arbitrary` input, encoded
//! with `tether-testkit`'s hand-written encoder. How the bytes are fed is `drive.rs`'s and
//! `interleave.rs`'s business.

use arbitrary::Arbitrary;
use tether_proto::Role;
use tether_testkit::{Frame, LengthForm};

/// What a frame from the peer carries.
#[derive(Arbitrary, Debug)]
pub enum PeerPayload {
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// UTF-8 text.
    Text(String),
    /// `len` copies of `byte` (large frames from a small input).
    Repeat {
        /// The byte.
        byte: u8,
        /// How many.
        len: u16,
    },
    /// A close payload.
    Close {
        /// The code.
        code: u16,
        /// The reason.
        reason: String,
    },
}

/// A frame's opcode.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum PeerOpcode {
    /// 0x0
    Continuation,
    /// 0x1
    Text,
    /// 0x2
    Binary,
    /// 0x8
    Close,
    /// 0x9
    Ping,
    /// 0xA
    Pong,
    /// Any 4 bits.
    Raw(u8),
}

/// One frame as the peer might send it: valid by default, with optional quirks.
#[derive(Arbitrary, Debug)]
pub struct PeerFrame {
    /// FIN bit.
    pub fin: bool,
    /// Opcode.
    pub opcode: PeerOpcode,
    /// Payload.
    pub payload: PeerPayload,
    /// Mask key (used when the peer is a client).
    pub key: [u8; 4],
    /// Deviations from a well-formed frame.
    pub quirk: Quirk,
}

/// Ways a peer frame deviates from a well-formed one.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Quirk {
    /// Well-formed.
    None,
    /// Mask bit the wrong way for the role.
    WrongMask,
    /// RSV bits.
    Rsv(u8),
    /// A longer length encoding than needed.
    NonMinimalLength,
    /// Announce `len + extra` bytes (the payload then runs into what follows).
    LengthPlus(u16),
}

/// Peer bytes: frames and raw bytes, concatenated.
#[derive(Arbitrary, Debug)]
pub enum PeerPiece {
    /// A frame.
    Frame(PeerFrame),
    /// Raw bytes.
    Raw(Vec<u8>),
    /// A well-formed fragmented message: `count` frames of `each` bytes (reaches the message
    /// limit, which single frames cannot).
    Fragmented {
        /// Text (ASCII) or binary.
        text: bool,
        /// Frames.
        count: u8,
        /// Bytes per frame.
        each: u16,
        /// Mask key (when the peer is a client).
        key: [u8; 4],
    },
}

/// Peer bytes one step builds at most (beyond this, pieces are skipped).
const PEER_BYTES_PER_STEP: usize = 256 << 10;

/// Close codes worth trying: every boundary of the sendable ranges, and then any value.
pub(crate) fn close_code_from(raw: u16) -> u16 {
    const INTERESTING: [u16; 24] = [
        1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 1016, 2999,
        3000, 3999, 4000, 4999, 5000, 0,
    ];
    if raw < 0x8000 {
        INTERESTING[usize::from(raw) % INTERESTING.len()]
    } else {
        raw & 0x7FFF
    }
}

pub(crate) fn encode_peer_frame(f: &PeerFrame, peer: Role, out: &mut Vec<u8>) {
    let payload = match &f.payload {
        PeerPayload::Bytes(b) => b.clone(),
        PeerPayload::Text(s) => s.as_bytes().to_vec(),
        PeerPayload::Repeat { byte, len } => vec![*byte; usize::from(*len)],
        PeerPayload::Close { code, reason } => {
            let mut p = close_code_from(*code).to_be_bytes().to_vec();
            p.extend_from_slice(reason.as_bytes());
            p
        }
    };
    let opcode = match f.opcode {
        PeerOpcode::Continuation => 0,
        PeerOpcode::Text => 1,
        PeerOpcode::Binary => 2,
        PeerOpcode::Close => 8,
        PeerOpcode::Ping => 9,
        PeerOpcode::Pong => 10,
        PeerOpcode::Raw(b) => b & 0xF,
    };
    let len = payload.len() as u64;
    let masked = (peer == Role::Client) != matches!(f.quirk, Quirk::WrongMask);
    let mut frame = Frame::new(opcode, &payload).fin(f.fin).mask(masked.then_some(f.key));
    match f.quirk {
        Quirk::None | Quirk::WrongMask => {}
        Quirk::Rsv(r) => frame = frame.rsv(r),
        // One form longer than needed: 16 bits for short lengths, 64 bits otherwise.
        Quirk::NonMinimalLength => {
            frame = frame.length_form(if len < 126 { LengthForm::Extended16 } else { LengthForm::Extended64 })
        }
        Quirk::LengthPlus(extra) => frame = frame.announce(len + u64::from(extra)),
    }
    frame.encode_into(out);
}

/// The bytes a peer of role `peer` sends for `pieces`, concatenated: at most about
/// [`PEER_BYTES_PER_STEP`] (enough for any limit the targets set), to keep runs fast.
pub(crate) fn peer_bytes(pieces: &[PeerPiece], peer: Role) -> Vec<u8> {
    let mut bytes = Vec::new();
    for p in pieces {
        if bytes.len() >= PEER_BYTES_PER_STEP {
            break;
        }
        match p {
            PeerPiece::Frame(f) => encode_peer_frame(f, peer, &mut bytes),
            PeerPiece::Raw(r) => bytes.extend_from_slice(r),
            PeerPiece::Fragmented { text, count, each, key } => {
                let count = usize::from(*count % 16) + 1;
                for i in 0..count {
                    let frame = PeerFrame {
                        fin: i + 1 == count,
                        opcode: match (i, *text) {
                            (0, true) => PeerOpcode::Text,
                            (0, false) => PeerOpcode::Binary,
                            _ => PeerOpcode::Continuation,
                        },
                        payload: PeerPayload::Repeat { byte: b'f', len: *each },
                        key: *key,
                        quirk: Quirk::None,
                    };
                    encode_peer_frame(&frame, peer, &mut bytes);
                }
            }
        }
    }
    bytes
}
