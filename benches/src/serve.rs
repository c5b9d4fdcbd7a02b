//! The scaffold every benchmark echo server shares: address from the first argument, a
//! single-threaded tokio runtime, `listening on ws://ADDR` once bound (what `run.sh` waits
//! for; the bound address, so `127.0.0.1:0` reports the free port it got), and one task per
//! accepted connection with `TCP_NODELAY` set. Each server binary supplies only its
//! connection handler, written the way its library's own example is.

use std::future::Future;

use tokio::net::{TcpListener, TcpStream};

/// Run the accept loop, handing each connection to `handle` in its own task.
///
/// # Errors
/// When the runtime cannot be built, the address cannot be bound, or accepting fails.
pub fn serve<F, Fut>(handle: F) -> std::io::Result<()>
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on ws://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(handle(stream));
        }
    })
}
