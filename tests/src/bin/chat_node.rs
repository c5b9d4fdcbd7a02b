//! `chat_node`: the chat_server examples' app (`server/examples/chat_app/app.rs`) on tokio,
//! as a binary of this crate so that tests can start several and `kill -9` one:
//! `chat_node ADDR [--redis URL]` (the `redis` feature for `--redis`). It prints
//! `listening on http://ADDR` once it accepts. Nothing else lives here.

#[path = "../../../server/examples/chat_app/app.rs"]
mod app;

fn main() -> std::io::Result<()> {
    let (addr, redis) = app::args();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let served = app::run::<tether_tokio::Tokio>(listener, redis.as_deref()).await?;
        println!("stopped: {} connections served", served.accepted);
        Ok(())
    })
}
