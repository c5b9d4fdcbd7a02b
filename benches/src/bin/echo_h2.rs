//! Echo servers for WebSockets over HTTP/2 (RFC 8441 extended CONNECT), for `benches/h2.sh`:
//! one hyper 1.x HTTP/2 server (cleartext, prior knowledge — h2c — with
//! `SETTINGS_ENABLE_CONNECT_PROTOCOL` on and hyper's default windows), the WebSocket library
//! chosen by the second argument — `tether` (`tether_tokio::hyper::HyperUpgrade`, the
//! `hyper_server` example's handler) or `yawc` (`yawc::WebSocket::upgrade_with_options`, its
//! own HTTP/2 server support). Both echo text and binary messages at `/ws` with their
//! library's receive/send loop, 1 MiB message limits, no compression, on a single-threaded
//! tokio runtime with `TCP_NODELAY`. The HTTP/2 layer (hyper, h2) is the same for both, so
//! the WebSocket code on the streams is what differs. What is not here: HTTP/1.1 (`echo_http`),
//! TLS, permessage-deflate. Usage: `echo_h2 ADDR tether|yawc`.

use std::convert::Infallible;

use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tether_benches::serve::serve;
use tether_tokio::hyper::HyperUpgrade;
use tether_tokio::{AcceptOptions, Bytes, Config};

/// The largest message either server accepts (and the largest frame).
const MAX_MESSAGE: usize = 1 << 20;

fn tether_config() -> Config {
    tether_tokio::server_config()
        .to_builder()
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .build()
        .expect("these limits are valid")
}

fn status(code: StatusCode) -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = code;
    response
}

async fn tether(mut req: Request<Incoming>, options: AcceptOptions) -> Result<Response<Empty<Bytes>>, Infallible> {
    if req.uri().path() != "/ws" {
        return Ok(status(StatusCode::NOT_FOUND));
    }
    match HyperUpgrade::new(&mut req).and_then(|upgrade| upgrade.accept(&options)) {
        Ok((response, pending)) => {
            tokio::spawn(async move {
                let Ok(mut ws) = pending.await else { return };
                while let Ok(Some(message)) = ws.recv().await {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
            Ok(response)
        }
        Err(e) => Ok(e.response()),
    }
}

async fn yawc(mut req: Request<Incoming>) -> Result<Response<Empty<Bytes>>, Infallible> {
    if req.uri().path() != "/ws" {
        return Ok(status(StatusCode::NOT_FOUND));
    }
    let options = yawc::Options::default().with_utf8().with_limits(MAX_MESSAGE, MAX_MESSAGE);
    let Ok((response, fut)) = yawc::WebSocket::upgrade_with_options(&mut req, options) else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    tokio::spawn(async move {
        let Ok(mut ws) = fut.await else { return };
        while let Some(frame) = ws.next().await {
            let sent = match frame.opcode() {
                yawc::frame::OpCode::Text | yawc::frame::OpCode::Binary => ws.send(frame).await.is_ok(),
                yawc::frame::OpCode::Close => false,
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
    let library = std::env::args().nth(2).unwrap_or_default();
    let is_tether = match library.as_str() {
        "tether" => true,
        "yawc" => false,
        _ => {
            eprintln!("usage: echo_h2 ADDR tether|yawc");
            std::process::exit(2);
        }
    };
    let options = AcceptOptions::new().config(tether_config());
    serve(move |stream| {
        let options = options.clone();
        async move {
            let io = TokioIo::new(stream);
            let mut builder = http2::Builder::new(TokioExecutor::new());
            builder.enable_connect_protocol();
            let _ = if is_tether {
                builder.serve_connection(io, service_fn(move |req| tether(req, options.clone()))).await
            } else {
                builder.serve_connection(io, service_fn(yawc)).await
            };
        }
    })
}
