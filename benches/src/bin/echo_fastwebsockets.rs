//! fastwebsockets echo server, the shape of its own example: hyper HTTP/1 upgrade, then a
//! `FragmentCollector` loop of `read_frame` / `write_frame` (one write per frame), in
//! `tokio::task::unconstrained` as the example does. Single-threaded runtime. Usage: `ADDR`.

use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tether_benches::serve::serve;

async fn handle_client(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(fut.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
    Ok(())
}

async fn server_upgrade(mut req: Request<Incoming>) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, fut) = upgrade::upgrade(&mut req)?;
    tokio::spawn(async move {
        let _ = tokio::task::unconstrained(handle_client(fut)).await;
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
