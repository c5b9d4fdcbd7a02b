//! The opening handshake (RFC 6455 §4), both roles: parsing and validating HTTP heads,
//! building requests and responses. Framing lives in the connection, not here.
//!
//! STUB: the API below is fixed; the bodies are being written (issue 2).

use alloc::string::String;
use alloc::vec::Vec;

use bytes::Bytes;

use crate::config::Config;
use crate::connection::Connection;
use crate::error::HandshakeError;

/// One HTTP header, as received or to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The name, as it appeared on the wire (compare case-insensitively).
    pub name: String,
    /// The raw value.
    pub value: Bytes,
}

/// A parsed, validated upgrade request (server side).
#[derive(Clone, Debug)]
pub struct Request {
    _p: (),
}

/// How a server accepts a request.
#[derive(Clone, Debug, Default)]
pub struct AcceptOptions {
    _p: (),
}

/// The server side of the opening handshake.
#[derive(Debug)]
pub struct ServerHandshake {
    _p: (),
}

impl ServerHandshake {
    /// A server handshake that reads a request under `config`'s limits.
    pub fn new(_config: Config) -> Self {
        todo!("issue 2")
    }
    /// Feed received bytes.
    ///
    /// # Errors
    /// When the request is invalid.
    pub fn receive(&mut self, _data: &[u8]) -> Result<Option<&Request>, HandshakeError> {
        todo!("issue 2")
    }
    /// Accept.
    ///
    /// # Errors
    /// When the options are invalid.
    pub fn accept(self, _options: &AcceptOptions) -> Result<Connection, HandshakeError> {
        todo!("issue 2")
    }
}

/// What a client asks for.
#[derive(Clone, Debug)]
pub struct ClientRequest {
    _p: (),
}

impl ClientRequest {
    /// Parse a URL.
    ///
    /// # Errors
    /// When the URL is invalid.
    pub fn from_url(_url: &str) -> Result<ClientRequest, HandshakeError> {
        todo!("issue 2")
    }
}

/// The server's accepted response (client side).
#[derive(Clone, Debug)]
pub struct Response {
    _p: (),
}

/// The client side of the opening handshake.
#[derive(Debug)]
pub struct ClientHandshake {
    _p: (),
}

impl ClientHandshake {
    /// Build.
    ///
    /// # Errors
    /// When the request is invalid.
    pub fn new(
        _request: ClientRequest,
        _config: Config,
    ) -> Result<ClientHandshake, HandshakeError> {
        todo!("issue 2")
    }
    /// The request bytes.
    pub fn request_bytes(&self) -> &[u8] {
        todo!("issue 2")
    }
    /// Feed received bytes.
    ///
    /// # Errors
    /// When the response is invalid.
    pub fn receive(&mut self, _data: &[u8]) -> Result<Option<&Response>, HandshakeError> {
        todo!("issue 2")
    }
    /// Finish.
    ///
    /// # Errors
    /// When incomplete.
    pub fn into_connection(self) -> Result<Connection, HandshakeError> {
        todo!("issue 2")
    }
}

#[allow(dead_code)]
fn _unused(_: Vec<u8>) {}
