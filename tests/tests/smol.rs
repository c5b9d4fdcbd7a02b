//! The cross-runtime suite (`../suite/`) on smol: this file is only the runtime shim, so
//! failures name the runtime.

mod rt {
    use std::future::Future;
    use std::net::SocketAddr;

    pub type R = tether_smol::Smol;
    pub type Stream = smol::net::TcpStream;
    pub type Listener = smol::net::TcpListener;

    pub fn block_on<F: Future>(f: F) -> F::Output {
        smol::block_on(f)
    }

    pub fn spawn<F>(f: F) -> impl Future<Output = F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        smol::spawn(f)
    }

    pub async fn listen() -> (Listener, SocketAddr) {
        let listener = Listener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        (listener, addr)
    }

    pub async fn accept(listener: &Listener) -> Stream {
        let (stream, _) = listener.accept().await.expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        stream
    }

    pub async fn connect(addr: SocketAddr) -> Stream {
        let stream = Stream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream
    }
}

#[path = "../suite/mod.rs"]
mod suite;
