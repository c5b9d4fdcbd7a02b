//! Memory per connection with permessage-deflate (feature `deflate`): `cargo run --release
//! -p tether-benches --features deflate --bin deflate_memory -- CONNS off|BITS [nct|kt]
//! [MEMLEVEL]`. Opens CONNS Tether client/server pairs over loopback in this one process
//! (tokio, current thread), with deflate off or with both windows at 2^BITS (`nct`: no
//! context takeover on either side; `kt`, the default, keeps it) and zlib memory level
//! MEMLEVEL (default 8), and prints the resident memory per connection end twice: idle (upgraded,
//! nothing sent) and busy (after one compressible 4 KiB text each way on every connection,
//! so every compressor and decompressor that is kept between messages exists). What is
//! not here: throughput (`run.sh`), the server-only idle measurement (`loadgen idle`).

use std::time::Duration;

use tether_benches::procfs::vm_rss_kib;
use tether_tokio::{Config, DeflateConfig, Message};

type Ws = tether_tokio::WebSocket;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let conns: usize = args.next().unwrap_or_else(|| "1000".into()).parse()?;
    let bits = args.next().unwrap_or_else(|| "15".into());
    let nct = args.next().as_deref() == Some("nct");
    let memory_level: u8 = args.next().unwrap_or_else(|| "8".into()).parse()?;
    let deflate = match bits.as_str() {
        "off" => None,
        n => {
            let n: u8 = n.parse()?;
            Some(
                DeflateConfig::default()
                    .window_bits(n)
                    .peer_window_bits(n)
                    .no_context_takeover(nct)
                    .peer_no_context_takeover(nct),
            )
        }
    };
    let config = tether_tokio::default_config().to_builder().deflate(deflate.clone()).build()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(measure(
        conns,
        config,
        deflate.is_some(),
        format!("bits={bits} nct={nct} memory_level={memory_level}"),
    ))
}

async fn measure(conns: usize, config: Config, deflate: bool, label: String) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/", listener.local_addr()?);
    // Warm-up: one pair, one message, so lazily created state is not counted per connection.
    let mut warm = open(&listener, &url, &config, deflate).await?;
    exchange(&mut warm).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let me = std::process::id() as usize;
    let before = vm_rss_kib(me)?;
    let mut pairs = Vec::with_capacity(conns);
    for _ in 0..conns {
        pairs.push(open(&listener, &url, &config, deflate).await?);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = vm_rss_kib(me)?;
    for pair in &mut pairs {
        exchange(pair).await?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy = vm_rss_kib(me)?;
    let per_end = |kib: u64| (kib.saturating_sub(before) as f64 * 1024.0 / (2 * conns) as f64).round();
    println!("{label} conns={conns} idle_bytes_per_end={} busy_bytes_per_end={}", per_end(idle), per_end(busy));
    Ok(())
}

async fn open(
    listener: &tokio::net::TcpListener,
    url: &str,
    config: &Config,
    deflate: bool,
) -> Result<(Ws, Ws), Box<dyn std::error::Error>> {
    // Over the plain TCP stream (`connect` would hand back a MaybeTlsStream), so both ends
    // have one type.
    let client = async {
        let tcp = tokio::net::TcpStream::connect(listener.local_addr()?).await?;
        tcp.set_nodelay(true)?;
        Ok::<_, Box<dyn std::error::Error>>(tether_tokio::client(url).config(config.clone()).connect_on(tcp).await?)
    };
    let server = async {
        let (tcp, _) = listener.accept().await?;
        Ok::<_, Box<dyn std::error::Error>>(
            tether_tokio::Upgrade::read_with_config(tcp, config.clone()).await?.accept().await?,
        )
    };
    let (client, server) = tokio::join!(client, server);
    let (client, server) = (client?, server?);
    if client.deflate().is_some() != deflate || server.deflate().is_some() != deflate {
        return Err("permessage-deflate was not agreed as configured".into());
    }
    Ok((client, server))
}

/// One compressible 4 KiB text each way.
async fn exchange((client, server): &mut (Ws, Ws)) -> Result<(), Box<dyn std::error::Error>> {
    let text: String = (0..200).map(|i| format!("{{\"id\":{i},\"v\":\"x{}\"}}", i % 7)).collect::<String>();
    let text = &text[..4096.min(text.len())];
    client.send(Message::text(text.to_owned())).await?;
    let got = server.recv_text().await?;
    server.send(Message::text(got)).await?;
    if client.recv_text().await?.as_str() != text {
        return Err("echo mismatch".into());
    }
    Ok(())
}
