//! How a connection ends: the one terminal `Closed` event and its cause, the close
//! handshake (ours and the peer's), failing on a protocol violation, aborting on a timeout
//! or a transport failure, and when the transport may be shut down. What does not live
//! here: when timers fire (`mod.rs`, `timer.rs`) and framing the close frame (`send.rs`).

use alloc::string::String;

use super::send::ClosePlace;
use super::timer::Timer;
use super::Connection;
use crate::close::{CloseCode, CloseFrame};
use crate::config::Role;
use crate::error::ProtocolError;
use crate::event::{CloseCause, Closed, Event};
use crate::message::Utf8Bytes;
use crate::tx::TxQueue;

/// Whether and how the connection has ended.
#[derive(Debug)]
pub(super) enum End {
    Running,
    /// Decided (a timeout, a transport failure) but not handed out yet: complete frames
    /// still buffered are delivered first.
    Pending(Closed),
    /// [`Event::Closed`] was handed out.
    Emitted(Closed),
}

/// After the end: when the transport may be shut down.
#[derive(Debug, Default)]
pub(super) struct Shutdown {
    /// Once the queue is flushed.
    pub(super) ready: bool,
    /// Now: give up on flushing and waiting.
    pub(super) now: bool,
}

impl Connection {
    /// The peer's close frame arrived (§5.5.1, §7.1.2).
    pub(super) fn peer_closed(&mut self, frame: Option<CloseFrame>) -> Event {
        let cause = if self.send.close_sent {
            CloseCause::LocallyInitiated
        } else {
            // Echo the code (no reason), after the data already queued: see the manual.
            let reply = frame.as_ref().map(|f| CloseFrame { code: f.code, reason: Utf8Bytes::default() });
            self.queue_close(reply, ClosePlace::AfterData);
            CloseCause::PeerInitiated
        };
        let (code, reason) = match frame {
            Some(f) => (f.code, f.reason),
            None => (CloseCode::NO_STATUS, Utf8Bytes::default()),
        };
        // The server ends TCP first (§7.1.1); a client waits a bounded time for it.
        self.shutdown.ready = self.role == Role::Server;
        self.emit(Closed { code, reason, cause })
    }

    /// Fail the WebSocket connection (§7.1.7): a close frame with the error's code after the
    /// data already queued, then end the transport once it is written.
    pub(super) fn fail(&mut self, error: ProtocolError) -> Event {
        let code = error.close_code();
        if !self.send.close_sent {
            // After data already queued: the application handed those messages over before
            // the violation was seen (Autobahn 3.2, 4.1.3, 5.15 expect the echo first).
            // `close_code` is always one that may be sent.
            let frame = CloseFrame::truncated(code, &reason_naming(&error)).ok();
            self.queue_close(frame, ClosePlace::AfterData);
        }
        self.shutdown.ready = true;
        self.emit(Closed { code, reason: Utf8Bytes::default(), cause: CloseCause::Protocol(error) })
    }

    /// The connection ends without a close handshake: report 1006 and hand the event out
    /// after the complete frames still buffered. A peer that stopped answering gets a 1011
    /// close best-effort (ahead of unstarted data, since it is not reading them); one that
    /// cannot be written to gets nothing more.
    pub(super) fn abort(&mut self, cause: CloseCause) {
        match cause {
            CloseCause::IdleTimeout if !self.send.close_sent => {
                let frame = CloseFrame { code: CloseCode::INTERNAL_ERROR, reason: Utf8Bytes::default() };
                self.queue_close(Some(frame), ClosePlace::Urgent);
            }
            CloseCause::TransportError => self.tx = TxQueue::default(),
            _ => {}
        }
        self.stop_sending();
        // Best effort only: do not wait for a flush.
        self.shutdown.now = true;
        self.end = End::Pending(Closed { code: CloseCode::ABNORMAL, reason: Utf8Bytes::default(), cause });
    }

    /// Hand out the one [`Event::Closed`]: forget what was being received, and bound the
    /// flush (and a client's wait for the server's end of the transport) by the close
    /// timeout.
    pub(super) fn emit(&mut self, closed: Closed) -> Event {
        self.end = End::Emitted(closed.clone());
        self.recv.reset();
        self.send.drop_pending_control();
        self.rx.release();
        self.timers.stop_all_but(Timer::Close);
        self.timers.set(Timer::Close, self.now() + self.config.close_timeout);
        Event::Closed(closed)
    }

    /// Our close: queue it after the data already queued and wait (bounded) for the peer's.
    pub(super) fn start_close(&mut self, frame: Option<CloseFrame>) {
        self.queue_close(frame, ClosePlace::AfterData);
        self.timers.set(Timer::Close, self.now() + self.config.close_timeout);
    }
}

/// A close reason naming the violation (cut to fit by [`CloseFrame::truncated`]).
fn reason_naming(error: &ProtocolError) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    let _ = write!(s, "{error}");
    s
}
