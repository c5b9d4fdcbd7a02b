//! Autobahn|Testsuite client on async-std: `cargo run -p tether-async-std --example autobahn_client
//! -- ws://127.0.0.1:9001 tether-async-std`. Asks the fuzzing server for the case count, runs
//! every case echoing each message back, then asks it to update the reports.
//! Built with the `deflate` feature it offers permessage-deflate (Autobahn 12.* and 13.*).

use tether_async_std::CloseCode;

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = args.next().unwrap_or_else(|| "tether-async-std".into());
    async_std::task::block_on(async {
        let mut ws = tether_async_std::connect(&format!("{url}/getCaseCount")).await?;
        let count: u32 = ws.recv_text().await?.parse().unwrap_or(0);
        let _ = ws.close(CloseCode::NORMAL, "").await;
        println!("{count} cases");
        for case in 1..=count {
            let url = format!("{url}/runCase?case={case}&agent={agent}");
            match tether_async_std::client(&url).config(config()).connect().await {
                Ok(ws) => echo(ws).await,
                Err(e) => eprintln!("case {case}: {e}"),
            }
        }
        let mut ws = tether_async_std::connect(&format!("{url}/updateReports?agent={agent}")).await?;
        while ws.recv().await?.is_some() {}
        Ok(())
    })
}

async fn echo(mut ws: tether_async_std::WebSocket<tether_async_std::MaybeTlsStream>) {
    while let Ok(Some(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

/// The adapter's defaults, with permessage-deflate when the feature is built.
fn config() -> tether_async_std::Config {
    let builder = tether_async_std::default_config().to_builder();
    #[cfg(feature = "deflate")]
    let builder = builder.deflate(Some(tether_async_std::DeflateConfig::default()));
    builder.build().expect("valid config")
}
