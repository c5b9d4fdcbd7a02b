//! Live dashboard on async-std: `cargo run -p tether-async-std --features server --example dashboard -- 127.0.0.1:8080`,
//! then open `http://127.0.0.1:8080/`: the server pushes an update per topic every second to
//! its subscribers through the hub, and its own counters (connections, close causes, messages
//! and bytes each way) on the `server` topic. The page, the topics and the publisher are
//! shared with the tokio and smol examples (`server/examples/dashboard_app/`); this file only
//! binds the listener. Ctrl-C shuts down gracefully.

use std::time::Duration;

#[path = "../../server/examples/dashboard_app/app.rs"]
mod app;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".into());
    async_std::task::block_on(async {
        let listener = async_std::net::TcpListener::bind(&addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let served = app::run::<tether_async_std::AsyncStd>(listener, Duration::from_secs(1), app::ctrl_c()).await;
        println!("stopped: {} connections served, {} dropped at the deadline", served.accepted, served.abandoned);
        Ok(())
    })
}
