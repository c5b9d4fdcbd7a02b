//! `Config` and its builder: every limit, timeout and switch of the engine, with the defaults
//! listed in the manual's design chapter, validated once at build time. `Role` lives here too;
//! the rate-limit settings' own type is `rate_limit.rs`'s.

use alloc::sync::Arc;
use core::time::Duration;

use crate::error::ConfigError;
use crate::rate_limit::RateLimit;
use crate::rng::{OsRng, Rng, SharedRng};

/// [`Config::server`]'s message and frame size limit.
const SERVER_MAX_MESSAGE: usize = 256 << 10;

/// Which end of the connection an engine plays. Clients mask their frames; servers must not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that sent the opening handshake request.
    Client,
    /// The end that answered it.
    Server,
}

/// The engine's limits, timeouts and switches. Build one with [`Config::builder`], or take
/// [`Config::default`] (the same as [`Config::client`]) or [`Config::server`] (smaller
/// limits, for servers facing the internet: see [`Config::worst_case_memory`]).
///
/// | setting | default ([`server`](Config::server)) |
/// |---|---|
/// | [`max_message_size`](ConfigBuilder::max_message_size) | 64 MiB (server: 256 KiB) |
/// | [`max_frame_size`](ConfigBuilder::max_frame_size) | 16 MiB (server: 256 KiB) |
/// | [`max_handshake_bytes`](ConfigBuilder::max_handshake_bytes) / [`max_handshake_headers`](ConfigBuilder::max_handshake_headers) | 8 KiB / 64 |
/// | [`handshake_timeout`](ConfigBuilder::handshake_timeout) | 10 s, one deadline that bytes do not reset (enforced by adapters) |
/// | [`close_timeout`](ConfigBuilder::close_timeout) | 5 s |
/// | [`keepalive_interval`](ConfigBuilder::keepalive_interval) | off in the engine (adapters: 20 s) |
/// | [`keepalive_timeout`](ConfigBuilder::keepalive_timeout) | 20 s |
/// | [`idle_timeout`](ConfigBuilder::idle_timeout) | off |
/// | [`write_high_water_mark`](ConfigBuilder::write_high_water_mark) | 128 KiB (server: 64 KiB; answered by [`Connection::is_transmit_full`](crate::Connection::is_transmit_full)) |
/// | [`write_timeout`](ConfigBuilder::write_timeout) | 30 s without a byte written while output waits |
/// | [`read_buffer_size`](ConfigBuilder::read_buffer_size) | 1 KiB initial, grows on demand (up to 64 KiB per read, 256 KiB into uninitialized space) |
/// | [`auto_pong`](ConfigBuilder::auto_pong) | on |
/// | [`accept_unmasked_frames`](ConfigBuilder::accept_unmasked_frames) | off |
/// | [`fragment_size`](ConfigBuilder::fragment_size) | off (each message is one frame) |
/// | `deflate` (feature `deflate`) | off (neither offered nor accepted) |
/// | [`rate_limit`](ConfigBuilder::rate_limit) | off |
///
/// ```
/// use core::time::Duration;
/// use tether_proto::Config;
/// let config = Config::builder()
///     .max_message_size(1 << 20)
///     .max_frame_size(1 << 20)
///     .keepalive_interval(Some(Duration::from_secs(20)))
///     .build()
///     .unwrap();
/// assert_eq!(config.max_message_size(), 1 << 20);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    pub(crate) max_message_size: usize,
    pub(crate) max_frame_size: usize,
    pub(crate) max_handshake_bytes: usize,
    pub(crate) max_handshake_headers: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) keepalive_interval: Option<Duration>,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) write_high_water_mark: usize,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) read_buffer_size: usize,
    pub(crate) auto_pong: bool,
    pub(crate) accept_unmasked_frames: bool,
    pub(crate) fragment_size: Option<usize>,
    pub(crate) rng: SharedRng,
    pub(crate) rate_limit: Option<RateLimit>,
    #[cfg(feature = "deflate")]
    pub(crate) deflate: Option<crate::deflate::DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_message_size: 64 << 20,
            max_frame_size: 16 << 20,
            max_handshake_bytes: 8 << 10,
            max_handshake_headers: 64,
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            keepalive_interval: None,
            keepalive_timeout: Duration::from_secs(20),
            idle_timeout: None,
            write_high_water_mark: 128 << 10,
            write_timeout: Some(Duration::from_secs(30)),
            read_buffer_size: 1 << 10,
            auto_pong: true,
            accept_unmasked_frames: false,
            fragment_size: None,
            rng: SharedRng(Arc::new(OsRng)),
            rate_limit: None,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

/// What one connection may cost beyond its buffers: the engine's own state, the async
/// layer's driver and task, and the socket's user-space state (the suite bounds an idle
/// upgraded connection at 16 KiB, `limits::idle_upgraded_connection_memory`).
const FIXED_PER_CONNECTION: usize = 16 << 10;

/// Per-connection zlib state besides its window and hash tables (a generous allowance).
#[cfg(feature = "deflate")]
const ZLIB_STATE: usize = 16 << 10;

impl Config {
    /// The defaults for a server facing the internet: the same as [`Config::default`] but
    /// with 256 KiB for [`max_message_size`](Self::max_message_size) and
    /// [`max_frame_size`](Self::max_frame_size) and 64 KiB for the
    /// [`write_high_water_mark`](Self::write_high_water_mark), so that one connection costs
    /// at most [`worst_case_memory`](Self::worst_case_memory) ≈ 1.6 MiB against a hostile
    /// peer: 10 000 of them fit in 16 GiB. Larger limits are one setting away:
    ///
    /// ```
    /// use tether_proto::Config;
    /// let config = Config::server();
    /// assert!(config.worst_case_memory() * 10_000 <= 16 << 30);
    /// // A server whose clients send up to 16 MiB (about 67 MiB per connection at worst):
    /// let big = Config::server().to_builder().max_message_size(16 << 20).max_frame_size(16 << 20).build().unwrap();
    /// assert!(big.worst_case_memory() < 70 << 20);
    /// ```
    pub fn server() -> Config {
        Config {
            max_message_size: SERVER_MAX_MESSAGE,
            max_frame_size: SERVER_MAX_MESSAGE,
            write_high_water_mark: 64 << 10,
            ..Config::default()
        }
    }

    /// The defaults for a client, which trusts the server it chose to connect to more than a
    /// server trusts the internet: the same as [`Config::default`] (64 MiB messages, 16 MiB
    /// frames).
    pub fn client() -> Config {
        Config::default()
    }

    /// An upper bound on the memory one connection holds under these settings, whatever
    /// the peer sends (the application's own sends beyond the write high-water mark, and
    /// messages it keeps after receiving them, are its own):
    ///
    /// - receiving: `2 × (max_message_size + max_frame_size + 256 KiB)` — the message being
    ///   reassembled and the frame being received (together at most `max_message_size` of
    ///   payload; a frame larger than the rest of the message is refused at its header), one
    ///   read window ahead (at most 256 KiB), and buffers that grow by doubling (up to twice
    ///   what they hold);
    /// - sending: [`write_high_water_mark`](Self::write_high_water_mark) plus 2 KiB of
    ///   urgent control frames (pongs; beyond that only the latest ping is answered);
    /// - with permessage-deflate: the decompressed message (`max_message_size`), the
    ///   compressor (`2^(window_bits + 2) + 2^(memory_level + 9)`, zlib's formula), the
    ///   decompressor's window (`2^peer_window_bits`) and 16 KiB each of zlib state;
    /// - 16 KiB for the connection itself, its driver and task.
    ///
    /// A frame announcing more than the limits is refused (1009) at its header, before
    /// anything is reserved, and buffers grow only with bytes that arrived: a peer that
    /// announces much and trickles little costs what it sent.
    ///
    /// ```
    /// use tether_proto::Config;
    /// // 2 × (64 + 16 MiB + 256 KiB) + 128 KiB + 2 KiB + 16 KiB
    /// assert_eq!(Config::client().worst_case_memory(), 2 * ((80 << 20) + (256 << 10)) + (146 << 10));
    /// ```
    pub fn worst_case_memory(&self) -> usize {
        let window = crate::connection::MAX_READ_WINDOW;
        let receive =
            self.max_message_size.saturating_add(self.max_frame_size).saturating_add(window).saturating_mul(2);
        let send = self.write_high_water_mark.saturating_add(crate::connection::URGENT_CAP);
        #[allow(unused_mut)]
        let mut total = receive.saturating_add(send).saturating_add(FIXED_PER_CONNECTION);
        #[cfg(feature = "deflate")]
        if let Some(d) = &self.deflate {
            let compressor = (1usize << (d.window_bits + 2)) + (1usize << (d.memory_level + 9));
            let decompressor = 1usize << d.peer_window_bits;
            total =
                total.saturating_add(self.max_message_size).saturating_add(compressor + decompressor + 2 * ZLIB_STATE);
        }
        total
    }

    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder { config: Config::default() }
    }

    /// A builder starting from this configuration (to change a few settings).
    pub fn to_builder(&self) -> ConfigBuilder {
        ConfigBuilder { config: self.clone() }
    }

    /// Largest message (sum of its frames' payloads) accepted before failing with 1009.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }
    /// Largest single frame payload accepted before failing with 1009.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }
    /// Cap on the bytes of an HTTP handshake head (request line or status line + headers).
    pub fn max_handshake_bytes(&self) -> usize {
        self.max_handshake_bytes
    }
    /// Cap on the number of header lines in an HTTP handshake head.
    pub fn max_handshake_headers(&self) -> usize {
        self.max_handshake_headers
    }
    /// Total time an opening handshake may take (adapters enforce it; bytes do not reset it).
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }
    /// How long to wait for the peer's close frame (or, for a client, the server's end of
    /// the transport) before giving up.
    pub fn close_timeout(&self) -> Duration {
        self.close_timeout
    }
    /// Send a ping after this long without inbound traffic (`None` = no keepalive).
    pub fn keepalive_interval(&self) -> Option<Duration> {
        self.keepalive_interval
    }
    /// After a keepalive ping, how long to wait for any inbound traffic before closing.
    pub fn keepalive_timeout(&self) -> Duration {
        self.keepalive_timeout
    }
    /// Close after this long without inbound traffic (`None` = never).
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }
    /// Queued outgoing bytes at which a driver stops queueing messages and waits for the
    /// transport ([`Connection::is_transmit_full`](crate::Connection::is_transmit_full)).
    #[inline]
    pub fn write_high_water_mark(&self) -> usize {
        self.write_high_water_mark
    }
    /// How long queued output may go without a byte written before the connection ends
    /// ([`CloseCause::WriteTimeout`](crate::CloseCause::WriteTimeout)): a peer that stopped
    /// reading, or vanished, cannot hold a sender forever. `None` = wait forever.
    pub fn write_timeout(&self) -> Option<Duration> {
        self.write_timeout
    }
    /// Initial receive buffer capacity; it grows only as bytes arrive.
    pub fn read_buffer_size(&self) -> usize {
        self.read_buffer_size
    }
    /// Whether pings are answered automatically.
    pub fn auto_pong(&self) -> bool {
        self.auto_pong
    }
    /// Whether a server accepts unmasked client frames (against RFC 6455 §5.1).
    pub fn accept_unmasked_frames(&self) -> bool {
        self.accept_unmasked_frames
    }
    /// Outgoing data messages larger than this are split into frames of this size.
    pub fn fragment_size(&self) -> Option<usize> {
        self.fragment_size
    }
    /// permessage-deflate (RFC 7692): `None` = a client does not offer it and a server
    /// declines every offer. See [`DeflateConfig`](crate::DeflateConfig).
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<&crate::deflate::DeflateConfig> {
        self.deflate.as_ref()
    }
    /// Per-connection limits on what the peer sends (`None` = unlimited). See [`RateLimit`].
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        self.rate_limit.as_ref()
    }
    pub(crate) fn rng(&self) -> &dyn Rng {
        &*self.rng.0
    }
}

/// Builds a [`Config`]; [`build`](ConfigBuilder::build) rejects inconsistent settings.
#[derive(Clone, Debug)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.config.$name = value;
            self
        }
    };
}

impl ConfigBuilder {
    setter!(
        /// See [`Config::max_message_size`]. Must be at least 1.
        max_message_size: usize
    );
    setter!(
        /// See [`Config::max_frame_size`]. Must be at least 1 and at most the max message size.
        max_frame_size: usize
    );
    setter!(
        /// See [`Config::max_handshake_bytes`]. Must be at least 256.
        max_handshake_bytes: usize
    );
    setter!(
        /// See [`Config::max_handshake_headers`]. Must be at least 8.
        max_handshake_headers: usize
    );
    setter!(
        /// See [`Config::handshake_timeout`]. Must be non-zero.
        handshake_timeout: Duration
    );
    setter!(
        /// See [`Config::close_timeout`]. Must be non-zero.
        close_timeout: Duration
    );
    setter!(
        /// See [`Config::keepalive_interval`]. Must be non-zero when set.
        keepalive_interval: Option<Duration>
    );
    setter!(
        /// See [`Config::keepalive_timeout`]. Must be non-zero.
        keepalive_timeout: Duration
    );
    setter!(
        /// See [`Config::idle_timeout`]. Must be non-zero when set.
        idle_timeout: Option<Duration>
    );
    setter!(
        /// See [`Config::write_high_water_mark`]. Must be at least 1.
        write_high_water_mark: usize
    );
    setter!(
        /// See [`Config::write_timeout`]. Must be non-zero when set.
        write_timeout: Option<Duration>
    );
    setter!(
        /// See [`Config::read_buffer_size`]. Must be between 64 bytes and 1 MiB.
        read_buffer_size: usize
    );
    setter!(
        /// See [`Config::auto_pong`].
        auto_pong: bool
    );
    setter!(
        /// See [`Config::accept_unmasked_frames`].
        accept_unmasked_frames: bool
    );
    setter!(
        /// See [`Config::fragment_size`]. Must be at least 1 when set.
        fragment_size: Option<usize>
    );

    /// See [`Config::deflate`]. The settings are checked by [`build`](Self::build).
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, value: Option<crate::deflate::DeflateConfig>) -> Self {
        self.config.deflate = value;
        self
    }

    /// See [`Config::rate_limit`]: a [`RateLimit`] to set one, `None` to remove it. Rates
    /// and bursts must be at least 1.
    ///
    /// ```
    /// use tether_proto::{Config, RateLimit};
    /// let config = Config::builder().rate_limit(RateLimit::messages(100, 200).close()).build().unwrap();
    /// assert_eq!(config.rate_limit().unwrap().message_rate().unwrap().per_second(), 100);
    /// ```
    pub fn rate_limit(mut self, value: impl Into<Option<RateLimit>>) -> Self {
        self.config.rate_limit = value.into();
        self
    }

    /// The source of mask and handshake keys (default: [`OsRng`]).
    pub fn rng(mut self, rng: Arc<dyn Rng>) -> Self {
        self.config.rng = SharedRng(rng);
        self
    }

    /// Check the settings and produce the [`Config`].
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first inconsistent setting.
    pub fn build(self) -> Result<Config, ConfigError> {
        let c = self.config;
        if c.max_message_size == 0 {
            return Err(ConfigError::Zero("max_message_size"));
        }
        if c.max_frame_size == 0 {
            return Err(ConfigError::Zero("max_frame_size"));
        }
        if c.max_frame_size > c.max_message_size {
            return Err(ConfigError::FrameLargerThanMessage {
                max_frame_size: c.max_frame_size,
                max_message_size: c.max_message_size,
            });
        }
        if c.max_handshake_bytes < 256 {
            return Err(ConfigError::TooSmall { setting: "max_handshake_bytes", min: 256 });
        }
        if c.max_handshake_headers < 8 {
            return Err(ConfigError::TooSmall { setting: "max_handshake_headers", min: 8 });
        }
        if c.read_buffer_size < 64 || c.read_buffer_size > (1 << 20) {
            return Err(ConfigError::OutOfRange { setting: "read_buffer_size", min: 64, max: 1 << 20 });
        }
        if c.write_high_water_mark == 0 {
            return Err(ConfigError::Zero("write_high_water_mark"));
        }
        if c.fragment_size == Some(0) {
            return Err(ConfigError::Zero("fragment_size"));
        }
        if let Some(limit) = &c.rate_limit {
            limit.validate()?;
        }
        #[cfg(feature = "deflate")]
        if let Some(d) = &c.deflate {
            d.validate()?;
        }
        for (name, d) in [
            ("handshake_timeout", Some(c.handshake_timeout)),
            ("close_timeout", Some(c.close_timeout)),
            ("keepalive_timeout", Some(c.keepalive_timeout)),
            ("keepalive_interval", c.keepalive_interval),
            ("idle_timeout", c.idle_timeout),
            ("write_timeout", c.write_timeout),
        ] {
            if d == Some(Duration::ZERO) {
                return Err(ConfigError::Zero(name));
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hostile peers I3 (see the manual): impossible settings are typed errors at build time,
    // never panics later.
    #[test]
    fn builder_rejects_impossible_settings() {
        assert_eq!(Config::builder().max_frame_size(0).build().unwrap_err(), ConfigError::Zero("max_frame_size"));
        assert_eq!(
            Config::builder().max_message_size(10).max_frame_size(11).build().unwrap_err(),
            ConfigError::FrameLargerThanMessage { max_frame_size: 11, max_message_size: 10 }
        );
        assert!(Config::builder().read_buffer_size(0).build().is_err());
        assert!(Config::builder().write_high_water_mark(0).build().is_err());
        assert!(Config::builder().fragment_size(Some(0)).build().is_err());
        assert!(Config::builder().close_timeout(Duration::ZERO).build().is_err());
        assert!(Config::builder().keepalive_interval(Some(Duration::ZERO)).build().is_err());
        assert!(Config::builder().max_handshake_bytes(10).build().is_err());
        assert_eq!(
            Config::builder().rate_limit(crate::RateLimit::messages(0, 10)).build().unwrap_err(),
            ConfigError::Zero("rate_limit messages per_second")
        );
        assert!(Config::builder().build().is_ok());
    }

    // Safe server defaults: 10 000 connections of hostile peers at worst fit in 16 GiB; the
    // client's defaults are the larger ones, and the bound follows every setting it names.
    #[test]
    fn server_defaults_fit_ten_thousand_hostile_connections_in_16_gib() {
        let server = Config::server();
        let bound = server.worst_case_memory();
        assert!(bound * 10_000 <= 16 << 30, "{bound} bytes per connection");
        assert_eq!(bound, 2 * (3 * (256 << 10)) + (64 << 10) + (2 << 10) + (16 << 10));
        assert!(Config::client().worst_case_memory() > 100 << 20);
        assert_eq!(Config::client().max_message_size(), Config::default().max_message_size());

        let mib = server.to_builder().max_message_size(1 << 20).max_frame_size(1 << 20).build().unwrap();
        assert!(mib.worst_case_memory() > 4 << 20 && mib.worst_case_memory() < 5 << 20);
        #[cfg(feature = "deflate")]
        {
            let deflate = server.to_builder().deflate(Some(crate::DeflateConfig::default())).build().unwrap();
            // 256 KiB more for the message, 128 + 128 KiB for the compressor, a 32 KiB window.
            assert_eq!(deflate.worst_case_memory() - bound, (256 << 10) + (256 << 10) + (32 << 10) + (32 << 10));
        }
    }

    #[test]
    fn defaults_match_the_design() {
        let c = Config::default();
        assert_eq!(c.max_message_size(), 64 << 20);
        assert_eq!(c.max_frame_size(), 16 << 20);
        assert_eq!(c.max_handshake_bytes(), 8192);
        assert_eq!(c.max_handshake_headers(), 64);
        assert_eq!(c.handshake_timeout(), Duration::from_secs(10));
        assert_eq!(c.close_timeout(), Duration::from_secs(5));
        assert_eq!(c.write_high_water_mark(), 128 << 10);
        assert_eq!(c.write_timeout(), Some(Duration::from_secs(30)));
        assert!(c.read_buffer_size() <= 8 << 10);
        assert!(c.auto_pong());
        assert!(!c.accept_unmasked_frames());
        assert!(c.rate_limit().is_none());
    }
}
