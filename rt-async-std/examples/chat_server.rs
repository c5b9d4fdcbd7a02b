//! Chat server on async-std: `cargo run -p tether-async-std --features server --example chat_server -- 127.0.0.1:8080`,
//! then open `http://127.0.0.1:8080/`. The page, the rooms and the shutdown are shared with
//! the tokio and smol examples (`server/examples/chat_app/`); this file only binds the
//! listener. Ctrl-C shuts down gracefully.
//! Built with `--features redis`, `-- ADDR --redis redis://HOST:PORT` makes every instance
//! started with the same Redis one chat (rooms, presence and messages across instances).

#[path = "../../server/examples/chat_app/app.rs"]
mod app;

fn main() -> std::io::Result<()> {
    let (addr, redis) = app::args();
    async_std::task::block_on(async {
        let listener = async_std::net::TcpListener::bind(&addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let served = app::run::<tether_async_std::AsyncStd>(listener, redis.as_deref()).await?;
        println!("stopped: {} connections served, {} dropped at the deadline", served.accepted, served.abandoned);
        Ok(())
    })
}
