//! Chat server on tokio: `cargo run -p tether-tokio --features server --example chat_server -- 127.0.0.1:8080`,
//! then open `http://127.0.0.1:8080/` in two browser tabs. The page, the rooms and the
//! shutdown are shared with the async-std and smol examples (`server/examples/chat_app/`);
//! this file only builds the runtime and binds the listener. Ctrl-C shuts down gracefully.
//! Built with `--features redis`, `-- ADDR --redis redis://HOST:PORT` makes every instance
//! started with the same Redis one chat (rooms, presence and messages across instances).

#[path = "../../server/examples/chat_app/app.rs"]
mod app;

fn main() -> std::io::Result<()> {
    let (addr, redis) = app::args();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let served = app::run::<tether_tokio::Tokio>(listener, redis.as_deref()).await?;
        println!("stopped: {} connections served, {} dropped at the deadline", served.accepted, served.abandoned);
        Ok(())
    })
}
