//! The one implementation of the runtimes built on async-io (smol, async-std): their
//! `Runtime` impl, their plain-or-TLS stream (`MaybeTlsStream`, futures-rustls with the
//! adapter's feature `rustls`) and adapter surface as a macro, expanded by each thin adapter
//! crate with its own timer and TCP types. Nothing here names those crates (they are the
//! adapters' dependencies, not this crate's); tokio's adapter is separate (it needs a
//! compat shim and uses tokio-rustls).

/// Defines an async-io runtime type `$name` (async-io's `Timer`, a TCP stream that already
/// speaks futures-io, `Plain` transports) and the adapter's whole public surface
/// ([`adapter_surface!`](crate::adapter_surface)). `tether-smol` and `tether-async-std`
/// invoke it with their timer, TCP stream and listener types and how they spawn a detached
/// task; the expanding crate must depend on `futures-io`, and on `futures-rustls` under its
/// own feature `rustls`.
#[doc(hidden)]
#[macro_export]
// `crate::$name` is meant: the runtime type of the expanding adapter, named from the
// adapter surface's `server` module too.
#[allow(clippy::crate_in_macro_def)]
macro_rules! async_io_runtime {
    (
        $(#[$doc:meta])* $name:ident,
        timer = $timer:ty,
        tcp = $tcp:ty,
        listener = $listener:ty,
        spawn = |$fut:ident| $spawn:expr,
        runtime_name = $lit:literal
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl $crate::Runtime for $name {
            type Io<S> = $crate::Plain<S>;
            type Sleep = $timer;
            type TcpStream = $tcp;
            type TcpListener = $listener;

            fn wrap<S>(stream: S) -> $crate::Plain<S> {
                $crate::Plain::new(stream)
            }

            fn now() -> ::std::time::Instant {
                ::std::time::Instant::now()
            }

            fn sleep_until(deadline: ::std::time::Instant) -> $timer {
                <$timer>::at(deadline)
            }

            fn reset(sleep: &mut $timer, deadline: ::std::time::Instant) {
                sleep.set_at(deadline);
            }

            fn connect_tcp(
                host: &str,
                port: u16,
            ) -> impl ::std::future::Future<Output = ::std::io::Result<$tcp>> + Send {
                let host = host.to_owned();
                async move {
                    let stream = <$tcp>::connect((host.as_str(), port)).await?;
                    // Frames are written whole; waiting for more (Nagle) only adds latency.
                    stream.set_nodelay(true)?;
                    Ok(stream)
                }
            }

            fn accept_tcp(
                listener: &$listener,
            ) -> impl ::std::future::Future<Output = ::std::io::Result<($tcp, ::std::net::SocketAddr)>> + Send + '_ {
                async move {
                    let (stream, peer) = listener.accept().await?;
                    stream.set_nodelay(true)?;
                    Ok((stream, peer))
                }
            }

            fn spawn<F: ::std::future::Future<Output = ()> + Send + 'static>($fut: F) {
                $spawn;
            }

            type MaybeTls = MaybeTlsStream;

            fn plain(tcp: $tcp) -> MaybeTlsStream {
                MaybeTlsStream::Plain(tcp)
            }

            #[cfg(feature = "rustls")]
            fn tls_connect(
                tcp: $tcp,
                config: ::std::sync::Arc<futures_rustls::rustls::ClientConfig>,
                name: futures_rustls::rustls::pki_types::ServerName<'static>,
            ) -> impl ::std::future::Future<Output = ::std::io::Result<MaybeTlsStream>> + Send {
                async move {
                    let tls = futures_rustls::TlsConnector::from(config).connect(name, tcp).await?;
                    Ok(MaybeTlsStream::Tls(Box::new(tls.into())))
                }
            }

            #[cfg(feature = "rustls")]
            fn tls_accept(
                tcp: $tcp,
                config: ::std::sync::Arc<futures_rustls::rustls::ServerConfig>,
            ) -> impl ::std::future::Future<Output = ::std::io::Result<MaybeTlsStream>> + Send {
                async move {
                    let tls = futures_rustls::TlsAcceptor::from(config).accept(tcp).await?;
                    Ok(MaybeTlsStream::Tls(Box::new(tls.into())))
                }
            }
        }

        /// A TCP stream, or TLS over one: what [`connect`] hands back (`ws://` or `wss://`)
        /// and what `Upgrade::read_tls` (feature `rustls`) reads from.
        #[derive(Debug)]
        #[non_exhaustive]
        pub enum MaybeTlsStream {
            /// Plain TCP (`ws://`).
            Plain($tcp),
            /// TLS over TCP (`wss://`, or a TLS server's accepted connection), through
            /// futures-rustls. Boxed: the TLS state is large, and a plain stream should not
            /// carry its size.
            #[cfg(feature = "rustls")]
            #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
            Tls(Box<futures_rustls::TlsStream<$tcp>>),
        }

        impl MaybeTlsStream {
            /// The TCP stream underneath (for its peer address, or socket options).
            pub fn tcp(&self) -> &$tcp {
                match self {
                    MaybeTlsStream::Plain(tcp) => tcp,
                    #[cfg(feature = "rustls")]
                    MaybeTlsStream::Tls(tls) => tls.get_ref().0,
                }
            }

            /// Whether this is a TLS stream.
            pub fn is_tls(&self) -> bool {
                !matches!(self, MaybeTlsStream::Plain(_))
            }
        }

        impl futures_io::AsyncRead for MaybeTlsStream {
            fn poll_read(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                match self.get_mut() {
                    MaybeTlsStream::Plain(s) => ::std::pin::Pin::new(s).poll_read(cx, buf),
                    #[cfg(feature = "rustls")]
                    MaybeTlsStream::Tls(s) => ::std::pin::Pin::new(s).poll_read(cx, buf),
                }
            }
        }

        impl futures_io::AsyncWrite for MaybeTlsStream {
            fn poll_write(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                match self.get_mut() {
                    MaybeTlsStream::Plain(s) => ::std::pin::Pin::new(s).poll_write(cx, buf),
                    #[cfg(feature = "rustls")]
                    MaybeTlsStream::Tls(s) => ::std::pin::Pin::new(s).poll_write(cx, buf),
                }
            }

            fn poll_write_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                match self.get_mut() {
                    MaybeTlsStream::Plain(s) => ::std::pin::Pin::new(s).poll_write_vectored(cx, bufs),
                    #[cfg(feature = "rustls")]
                    MaybeTlsStream::Tls(s) => ::std::pin::Pin::new(s).poll_write_vectored(cx, bufs),
                }
            }

            fn poll_flush(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                match self.get_mut() {
                    MaybeTlsStream::Plain(s) => ::std::pin::Pin::new(s).poll_flush(cx),
                    #[cfg(feature = "rustls")]
                    MaybeTlsStream::Tls(s) => ::std::pin::Pin::new(s).poll_flush(cx),
                }
            }

            /// For TLS, sends close_notify, then closes TCP's write side.
            fn poll_close(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                match self.get_mut() {
                    MaybeTlsStream::Plain(s) => ::std::pin::Pin::new(s).poll_close(cx),
                    #[cfg(feature = "rustls")]
                    MaybeTlsStream::Tls(s) => ::std::pin::Pin::new(s).poll_close(cx),
                }
            }
        }

        $crate::adapter_surface!(crate::$name, $tcp, $lit, S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin);
    };
}
