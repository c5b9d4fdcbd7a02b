//! Chat server on smol: `cargo run -p tether-smol --features server --example chat_server -- 127.0.0.1:8080`,
//! then open `http://127.0.0.1:8080/`. The page, the rooms and the shutdown are shared with
//! the tokio and async-std examples (`server/examples/chat_app/`); this file only binds the
//! listener. Ctrl-C shuts down gracefully.

#[path = "../../server/examples/chat_app/app.rs"]
mod app;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".into());
    smol::block_on(async {
        let listener = smol::net::TcpListener::bind(&addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let served = app::run::<tether_smol::Smol>(listener).await;
        println!("stopped: {} connections served, {} dropped at the deadline", served.accepted, served.abandoned);
        Ok(())
    })
}
