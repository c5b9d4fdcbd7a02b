//! The raw reference echo: no WebSocket library, hand-parsed frames. Each read is parsed in
//! place, unmasked, and every complete message is answered in one write per read — the
//! least work an echo can do on a single-threaded tokio runtime. It trusts its peer (our load
//! generator): it is a yardstick, not a server. Usage: `ADDR [--owned]`.
//!
//! `--owned` (reported as `raw-owned`) adds the one cost no API that hands out owned
//! messages can skip: each payload is copied into its own `Bytes` (one allocation, as an
//! owned message that holds only its own bytes needs) and freed once echoed. Next to `raw`
//! it shows what that contract costs by itself on this machine's allocator.

use bytes::Bytes;
use tether_benches::handshake::{head_end, server_response};
use tether_benches::serve::serve;
use tether_testkit::{parse_header, xor_mask, Frame, BINARY, CLOSE, PING, PONG, TEXT};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

async fn echo<const OWNED: bool>(mut stream: TcpStream) -> std::io::Result<()> {
    let mut input: Vec<u8> = Vec::with_capacity(4096);
    let head = loop {
        if stream.read_buf(&mut input).await? == 0 {
            return Ok(());
        }
        if let Some(end) = head_end(&input) {
            break end;
        }
    };
    let Some(response) = server_response(&input[..head]) else { return Ok(()) };
    stream.write_all(response.as_bytes()).await?;
    input.drain(..head);
    let mut output: Vec<u8> = Vec::new();
    loop {
        let mut start = 0;
        while let Some(h) = parse_header(&input[start..]) {
            let end = start + h.header_len + h.len;
            if input.len() < end {
                break;
            }
            let payload = &mut input[start + h.header_len..end];
            if let Some(key) = h.mask {
                xor_mask(payload, key);
            }
            match h.opcode {
                TEXT | BINARY if OWNED => {
                    // The optimizer may not drop the allocation: the message is opaque.
                    let message = std::hint::black_box(Bytes::from(Box::<[u8]>::from(&*payload)));
                    Frame::new(h.opcode, &message).encode_into(&mut output);
                }
                TEXT | BINARY => Frame::new(h.opcode, payload).encode_into(&mut output),
                PING => Frame::new(PONG, payload).encode_into(&mut output),
                CLOSE => {
                    Frame::new(CLOSE, &payload[..payload.len().min(2)]).encode_into(&mut output);
                    stream.write_all(&output).await?;
                    return Ok(());
                }
                _ => {}
            }
            start = end;
        }
        if !output.is_empty() {
            stream.write_all(&output).await?;
            output.clear();
        }
        input.drain(..start);
        if input.capacity() - input.len() < 4096 {
            input.reserve(64 << 10);
        }
        if stream.read_buf(&mut input).await? == 0 {
            return Ok(());
        }
    }
}

fn main() -> std::io::Result<()> {
    if std::env::args().nth(2).as_deref() == Some("--owned") {
        serve(|stream| async move {
            let _ = echo::<true>(stream).await;
        })
    } else {
        serve(|stream| async move {
            let _ = echo::<false>(stream).await;
        })
    }
}
