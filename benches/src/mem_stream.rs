//! `MemStream`: an in-memory transport for driving WebSocket libraries without sockets —
//! reads come from a prepared buffer, writes are counted and dropped. It implements both
//! std's `Read`/`Write` (tungstenite) and tokio's `AsyncRead`/`AsyncWrite` (the async
//! peers), always ready. No framing here.

use std::io::{self, IoSlice, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Reads `input` (then end-of-file); accepts and counts every write.
#[derive(Debug, Default)]
pub struct MemStream {
    input: Bytes,
    pos: usize,
    written: usize,
}

impl MemStream {
    /// A stream that will read `input`.
    pub fn new(input: Bytes) -> Self {
        MemStream { input, pos: 0, written: 0 }
    }

    /// A stream with nothing to read: for encoding.
    pub fn sink() -> Self {
        MemStream::default()
    }

    /// Start reading `input` from the beginning again (and reset the write count).
    pub fn reset(&mut self, input: Bytes) {
        self.input = input;
        self.pos = 0;
        self.written = 0;
    }

    /// Bytes written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    fn read_into(&mut self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(self.remaining());
        dst[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        n
    }
}

impl Read for MemStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_into(buf))
    }
}

impl Write for MemStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n: usize = bufs.iter().map(|b| b.len()).sum();
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MemStream {
    fn poll_read(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = buf.remaining().min(this.remaining());
        buf.put_slice(&this.input[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemStream {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(self.get_mut().write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.get_mut().write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
