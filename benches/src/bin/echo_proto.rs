//! The engine alone: `tether-proto` embedded in a hand-written tokio loop, the way a team
//! writing its own server would use it — no `tether-rt`, no adapter. Its handshake, then:
//! take every event (`poll_event`), queue each message back (`send`), write what is queued
//! in one write (vectored when it is several chunks), read into the engine's buffer, repeat.
//! Next to the raw reference (no library) and tether-tokio (the full async API), it splits
//! the echo cost into the engine's part and the async layer's. Usage: `ADDR`.
//!
//! The engine's default config has no keepalive or idle timer (those are the adapters'
//! defaults), so this loop has no timer to drive until the close handshake, which it ends
//! by flushing and dropping the connection.

use std::io::IoSlice;
use std::time::Instant as Clock;

use tether_benches::serve::serve;
use tether_proto::{AcceptOptions, Config, Connection, Event, Instant, ServerHandshake, Transmit};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Chunks per vectored write.
const CHUNKS: usize = 16;

async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let epoch = Clock::now();
    let now = || Instant::from_duration(epoch.elapsed());
    let mut handshake = ServerHandshake::new(Config::default());
    let mut head = [0u8; 4096];
    loop {
        let n = stream.read(&mut head).await?;
        if n == 0 {
            return Ok(());
        }
        match handshake.receive(now(), &head[..n]) {
            Ok(Some(_request)) => break,
            Ok(None) => {}
            Err(_) => {
                let mut response = Vec::new();
                handshake.drain_transmit(&mut response);
                stream.write_all(&response).await?;
                return Ok(());
            }
        }
    }
    let Ok(mut conn) = handshake.accept(&AcceptOptions::default()) else { return Ok(()) };
    loop {
        let mut ended = false;
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Message(message) => {
                    // Pings are answered by the engine; only data is echoed.
                    if message.is_data() {
                        let _ = conn.send(message);
                    }
                }
                _ => ended = true,
            }
        }
        write_out(&mut stream, &mut conn).await?;
        if ended || conn.should_shutdown() {
            return Ok(());
        }
        let t = now();
        if stream.read_buf(&mut conn.read_buf_uninit()).await? == 0 {
            conn.receive_eof(t);
        } else {
            conn.commit_appended(t);
        }
    }
}

/// Write everything the engine has queued.
async fn write_out(stream: &mut TcpStream, conn: &mut Connection) -> std::io::Result<()> {
    loop {
        let mut chunks: [&[u8]; CHUNKS] = [&[]; CHUNKS];
        let n = conn.poll_transmit(&mut chunks);
        if n == 0 {
            return Ok(());
        }
        // One chunk (the common case: small frames are copied together) is a plain write,
        // which costs the kernel less than a one-iovec `writev`.
        let written = if n == 1 {
            stream.write(chunks[0]).await?
        } else {
            let slices: [IoSlice<'_>; CHUNKS] = chunks.map(IoSlice::new);
            stream.write_vectored(&slices[..n]).await?
        };
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        conn.consume_transmit(written);
    }
}

fn main() -> std::io::Result<()> {
    serve(|stream| async move {
        let _ = echo(stream).await;
    })
}
