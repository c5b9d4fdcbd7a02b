//! yawc echo server with permessage-deflate, the shape of its own hyper example: hyper
//! HTTP/1 upgrade with `WebSocket::upgrade_with_options`, then a `next` / `send` loop
//! echoing every text and binary message (yawc reassembles fragments and inflates, and
//! compresses what it sends). Compression as the deflate benchmark sets it for every
//! server: level 6, 2^15 windows both ways, context takeover, UTF-8 checked. Single-threaded
//! runtime. Usage: `ADDR`.

use futures_util::{SinkExt as _, StreamExt as _};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use tether_benches::serve::serve;
use yawc::frame::OpCode;
use yawc::{CompressionLevel, Options, WebSocket};

async fn server_upgrade(mut req: Request<Incoming>) -> yawc::Result<yawc::HttpResponse> {
    let options = Options::default()
        .with_compression_level(CompressionLevel::new(6))
        .with_client_max_window_bits(15)
        .with_server_max_window_bits(15)
        .with_utf8()
        .with_limits(64 << 20, 64 << 20);
    let (response, fut) = WebSocket::upgrade_with_options(&mut req, options)?;
    tokio::spawn(async move {
        let Ok(mut ws) = fut.await else { return };
        while let Some(frame) = ws.next().await {
            let sent = match frame.opcode() {
                OpCode::Text | OpCode::Binary => ws.send(frame).await.is_ok(),
                OpCode::Close => false,
                _ => true,
            };
            if !sent {
                break;
            }
        }
    });
    Ok(response)
}

fn main() -> std::io::Result<()> {
    serve(|stream| async move {
        let io = hyper_util::rt::TokioIo::new(stream);
        let conn = http1::Builder::new().serve_connection(io, service_fn(server_upgrade)).with_upgrades();
        let _ = conn.await;
    })
}
