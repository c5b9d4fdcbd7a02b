//! The reference decoder: an independent, straightforward reading of RFC 6455 §5 that
//! predicts the events the engine must produce for a byte stream (same check order as the
//! engine). It shares no code with the engine; comparing is the targets' job.

use tether_proto::{Bytes, CloseCode, Message, ProtocolError, Role};
use tether_testkit::xor_mask;

/// What the receiving endpoint accepts.
#[derive(Clone, Copy, Debug)]
pub struct RefRules {
    /// The receiver's role.
    pub role: Role,
    /// A server accepting unmasked frames.
    pub accept_unmasked: bool,
    /// Largest frame payload.
    pub max_frame: usize,
    /// Largest message.
    pub max_message: usize,
}

/// How the stream ended for the reference decoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefEnd {
    /// The stream stopped inside a frame (or between frames).
    NeedMore,
    /// The stream violates the protocol.
    Error(ProtocolError),
    /// A valid close frame: its code and reason, if any.
    PeerClose(Option<(CloseCode, String)>),
}

/// The reference decoder's prediction: the messages (ping/pong included), then the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefOutcome {
    /// Messages in order.
    pub messages: Vec<Message>,
    /// What ended the stream.
    pub end: RefEnd,
}

/// Decode `stream` as `rules.role` would receive it.
pub fn reference_decode(stream: &[u8], rules: &RefRules) -> RefOutcome {
    let mut messages = Vec::new();
    let end = reference_loop(stream, rules, &mut messages);
    RefOutcome { messages, end }
}

pub(crate) fn reference_loop(stream: &[u8], rules: &RefRules, messages: &mut Vec<Message>) -> RefEnd {
    let mut pos = 0;
    // An open fragmented message: text?, bytes so far.
    let mut partial: Option<(bool, Vec<u8>)> = None;
    loop {
        let buf = &stream[pos..];
        if buf.len() < 2 {
            return RefEnd::NeedMore;
        }
        let (b0, b1) = (buf[0], buf[1]);
        let rsv = (b0 >> 4) & 7;
        if rsv != 0 {
            return RefEnd::Error(ProtocolError::ReservedBitsSet { bits: rsv });
        }
        let opcode = b0 & 0x0F;
        if !matches!(opcode, 0 | 1 | 2 | 8 | 9 | 10) {
            return RefEnd::Error(ProtocolError::ReservedOpcode(opcode));
        }
        let fin = b0 & 0x80 != 0;
        let control = opcode >= 8;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        if control && !fin {
            return RefEnd::Error(ProtocolError::FragmentedControlFrame);
        }
        if control && len7 > 125 {
            return RefEnd::Error(ProtocolError::ControlFrameTooLarge { len: u64::from(len7) });
        }
        match (rules.role, masked) {
            (Role::Server, false) if !rules.accept_unmasked => {
                return RefEnd::Error(ProtocolError::UnmaskedClientFrame)
            }
            (Role::Client, true) => return RefEnd::Error(ProtocolError::MaskedServerFrame),
            _ => {}
        }
        let (len, mut hlen) = match len7 {
            126 if buf.len() < 4 => return RefEnd::NeedMore,
            126 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            127 if buf.len() < 10 => return RefEnd::NeedMore,
            127 => {
                let len = u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes"));
                if len >> 63 != 0 {
                    return RefEnd::Error(ProtocolError::PayloadLengthMsbSet);
                }
                (len, 10)
            }
            n => (u64::from(n), 2),
        };
        if len > rules.max_frame as u64 {
            return RefEnd::Error(ProtocolError::FrameTooLarge { size: len, max: rules.max_frame });
        }
        let key = if masked {
            if buf.len() < hlen + 4 {
                return RefEnd::NeedMore;
            }
            let k = [buf[hlen], buf[hlen + 1], buf[hlen + 2], buf[hlen + 3]];
            hlen += 4;
            Some(k)
        } else {
            None
        };
        // Rules that depend on what came before (§5.4) and the message limit.
        match opcode {
            0 => {
                let Some((_, so_far)) = &partial else {
                    return RefEnd::Error(ProtocolError::UnexpectedContinuation);
                };
                let size = so_far.len() as u64 + len;
                if size > rules.max_message as u64 {
                    return RefEnd::Error(ProtocolError::MessageTooLarge { size, max: rules.max_message });
                }
            }
            1 | 2 => {
                if partial.is_some() {
                    return RefEnd::Error(ProtocolError::DataFrameInsideFragmentedMessage);
                }
                if len > rules.max_message as u64 {
                    return RefEnd::Error(ProtocolError::MessageTooLarge { size: len, max: rules.max_message });
                }
            }
            _ => {}
        }
        let len = len as usize;
        let body = &buf[hlen..];
        let available = body.len().min(len);
        let mut payload = body[..available].to_vec();
        if let Some(k) = key {
            xor_mask(&mut payload, k);
        }
        let is_text = match opcode {
            1 => true,
            0 => partial.as_ref().is_some_and(|p| p.0),
            _ => false,
        };
        if is_text {
            // Fail fast: the bytes so far must still be a prefix of valid UTF-8.
            let mut so_far = match (&partial, opcode) {
                (Some((_, b)), 0) => b.clone(),
                _ => Vec::new(),
            };
            so_far.extend_from_slice(&payload);
            if let Err(e) = std::str::from_utf8(&so_far) {
                if e.error_len().is_some() {
                    return RefEnd::Error(ProtocolError::InvalidUtf8);
                }
            }
        }
        if available < len {
            return RefEnd::NeedMore;
        }
        pos += hlen + len;
        let finish = |text: bool, bytes: Vec<u8>| -> Result<Message, ProtocolError> {
            if text {
                let s = String::from_utf8(bytes).map_err(|_| ProtocolError::InvalidUtf8)?;
                Ok(Message::text(s))
            } else {
                Ok(Message::Binary(Bytes::from(bytes)))
            }
        };
        match opcode {
            1 | 2 if fin => match finish(opcode == 1, payload) {
                Ok(m) => messages.push(m),
                Err(e) => return RefEnd::Error(e),
            },
            1 | 2 => partial = Some((opcode == 1, payload)),
            0 => {
                let Some((text, mut so_far)) = partial.take() else {
                    return RefEnd::Error(ProtocolError::UnexpectedContinuation);
                };
                so_far.extend_from_slice(&payload);
                if fin {
                    match finish(text, so_far) {
                        Ok(m) => messages.push(m),
                        Err(e) => return RefEnd::Error(e),
                    }
                } else {
                    partial = Some((text, so_far));
                }
            }
            9 => messages.push(Message::Ping(Bytes::from(payload))),
            10 => messages.push(Message::Pong(Bytes::from(payload))),
            _ => {
                // Close (§5.5.1).
                return match payload.len() {
                    0 => RefEnd::PeerClose(None),
                    1 => RefEnd::Error(ProtocolError::ClosePayloadTooShort),
                    _ => {
                        let raw = u16::from_be_bytes([payload[0], payload[1]]);
                        let code = match CloseCode::new(raw) {
                            Some(c) if c.is_sendable() => c,
                            _ => return RefEnd::Error(ProtocolError::InvalidCloseCode(raw)),
                        };
                        match String::from_utf8(payload[2..].to_vec()) {
                            Ok(reason) => RefEnd::PeerClose(Some((code, reason))),
                            Err(_) => RefEnd::Error(ProtocolError::InvalidCloseReason),
                        }
                    }
                };
            }
        }
    }
}
