//! Client on tokio: `cargo run -p tether-tokio --example client -- URL [TEXT]` (with
//! `--features rustls-native-roots` for `wss://`, trusting the platform's roots and
//! `SSL_CERT_FILE`). Connects, sends TEXT (default `hello`), prints the reply, closes with
//! 1000 and prints how the connection closed. Proxies come from the environment as curl reads
//! them (`https_proxy` for `wss://`, `http_proxy` for `ws://`, `all_proxy`, `no_proxy`;
//! `http://`, `socks5://` or `socks5h://` proxies).

use tether_tokio::CloseCode;

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: client URL [TEXT]")?;
    let text = args.next().unwrap_or_else(|| "hello".to_owned());
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let mut ws = tether_tokio::connect(&url).await?;
        ws.send_text(text).await?;
        println!("{}", ws.recv_text().await?);
        ws.close(CloseCode::NORMAL, "bye").await?;
        println!("closed: {:?}", ws.closed());
        Ok(())
    })
}
