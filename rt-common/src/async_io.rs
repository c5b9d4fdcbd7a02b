//! The one implementation of the runtimes built on async-io (smol, async-std): their
//! `Runtime` impl and adapter surface as a macro, expanded by each thin adapter crate with
//! its own timer and TCP types. Nothing here names those crates (they are the adapters'
//! dependencies, not this crate's); tokio's adapter is separate (it needs a compat shim).

/// Defines an async-io runtime type `$name` (async-io's `Timer`, a TCP stream that already
/// speaks futures-io, `Plain` transports) and the adapter's whole public surface
/// ([`adapter_surface!`](crate::adapter_surface)). `tether-smol` and `tether-async-std`
/// invoke it with their timer, TCP stream and listener types and how they spawn a detached
/// task; the expanding crate must depend on `futures-io`.
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
        }

        $crate::adapter_surface!(crate::$name, $tcp, $lit, S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin);
    };
}
