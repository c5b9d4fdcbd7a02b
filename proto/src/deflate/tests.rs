//! permessage-deflate negotiation tests (RFC 7692 §7.1), both roles: every parameter
//! combination offered and configured, malformed and unhonourable offers declined, and
//! every response a client must refuse.

use super::*;
use alloc::format;
use alloc::vec;

fn accept(config: &DeflateConfig, header: &str) -> Option<(DeflateParams, String)> {
    let elements = crate::handshake::split_list(header.as_bytes());
    server_accept(config, elements.into_iter())
}

fn check(config: &DeflateConfig, header: &str) -> Result<Option<DeflateParams>, ClientCheckFault> {
    let elements = crate::handshake::split_list(header.as_bytes());
    client_check(config, elements.into_iter())
}

fn bad(fault: DeflateResponseFault) -> Result<Option<DeflateParams>, ClientCheckFault> {
    Err(ClientCheckFault::Deflate(fault))
}

/// Every client setting worth distinguishing.
fn configs() -> Vec<DeflateConfig> {
    let mut out = Vec::new();
    for window_bits in [9, 12, 15] {
        for peer_window_bits in [9, 11, 15] {
            for no_context_takeover in [false, true] {
                for peer_no_context_takeover in [false, true] {
                    out.push(
                        DeflateConfig::default()
                            .window_bits(window_bits)
                            .peer_window_bits(peer_window_bits)
                            .no_context_takeover(no_context_takeover)
                            .peer_no_context_takeover(peer_no_context_takeover),
                    );
                }
            }
        }
    }
    out
}

// §7.1: whatever each side is configured with, the client's offer is accepted by the
// server, the server's answer passes the client's check, and both agree: what one
// compresses with, the other decompresses with.
#[test]
fn every_client_config_meets_every_server_config() {
    for client in configs() {
        for server in configs() {
            let offer = client_offer(&client);
            let (server_params, answer) = accept(&server, &offer).unwrap_or_else(|| panic!("declined {offer}"));
            let client_params = check(&client, &answer)
                .unwrap_or_else(|e| panic!("client refused {answer:?} to {offer:?}: {e:?}"))
                .unwrap();
            assert_eq!(client_params.window_bits, server_params.peer_window_bits, "{offer} / {answer}");
            assert_eq!(server_params.window_bits, client_params.peer_window_bits, "{offer} / {answer}");
            assert_eq!(client_params.no_context_takeover, server_params.peer_no_context_takeover, "{offer} / {answer}");
            assert_eq!(server_params.no_context_takeover, client_params.peer_no_context_takeover, "{offer} / {answer}");
            // Each side's limits hold.
            assert!(client_params.window_bits <= client.window_bits);
            assert!(server_params.window_bits <= server.window_bits);
            assert!(client_params.peer_window_bits <= client.peer_window_bits);
            assert!(server_params.peer_window_bits <= server.peer_window_bits);
            assert!(client_params.no_context_takeover >= client.no_context_takeover);
            assert!(server_params.no_context_takeover >= server.no_context_takeover);
            assert!(client_params.peer_no_context_takeover >= client.peer_no_context_takeover);
        }
    }
}

// §7.1.1, §7.1.2: each parameter an offer may carry, with and without a value, in every
// combination, against a default server and a restrictive one.
#[test]
fn every_offer_combination_is_answered_within_the_rfc() {
    let server_opts = ["", "; server_no_context_takeover"];
    let client_opts = ["", "; client_no_context_takeover"];
    let smwb = ["", "; server_max_window_bits=9", "; server_max_window_bits=12", "; server_max_window_bits=15"];
    let cmwb = ["", "; client_max_window_bits", "; client_max_window_bits=9", "; client_max_window_bits=13"];
    let servers = [DeflateConfig::default(), DeflateConfig::default().window_bits(10).peer_window_bits(10)];
    for s in server_opts {
        for c in client_opts {
            for sm in smwb {
                for cm in cmwb {
                    for server in &servers {
                        let offer = format!("permessage-deflate{s}{c}{sm}{cm}");
                        let (params, answer) = accept(server, &offer).unwrap_or_else(|| panic!("declined {offer}"));
                        let parsed = parse_element(answer.as_bytes()).unwrap();
                        // Asked not to take context over: the answer says so (§7.1.1.1).
                        if !s.is_empty() {
                            assert!(parsed.server_no_context_takeover && params.no_context_takeover, "{offer}");
                        }
                        // We free our decompressor per message only when the answer binds
                        // the client to it (a client's own offer is a hint it may ignore).
                        assert_eq!(parsed.client_no_context_takeover, params.peer_no_context_takeover, "{offer}");
                        if !c.is_empty() {
                            assert!(params.peer_no_context_takeover, "{offer}");
                        }
                        // Our window within the client's limit, and announced (§7.1.2.1).
                        if let Some(n) = sm.rsplit('=').next().and_then(|n| n.parse::<u8>().ok()) {
                            assert!(params.window_bits <= n, "{offer}");
                            assert_eq!(parsed.server_max_window_bits, Some(Some(params.window_bits)), "{offer}");
                        }
                        // client_max_window_bits only when offered, always with a value
                        // (§7.1.2.2).
                        match parsed.client_max_window_bits {
                            Some(v) => {
                                assert!(!cm.is_empty(), "{offer} -> {answer}");
                                assert_eq!(v, Some(params.peer_window_bits));
                            }
                            None if cm.is_empty() => assert_eq!(params.peer_window_bits, 15, "{offer}"),
                            None => {}
                        }
                        if let Some(n) = cm.rsplit('=').next().and_then(|n| n.parse::<u8>().ok()) {
                            assert!(params.peer_window_bits <= n, "{offer}");
                        }
                    }
                }
            }
        }
    }
}

// §7.1: several offers, in one header or across headers (the caller joins the elements):
// the first acceptable one wins; other extensions are skipped.
#[test]
fn first_acceptable_offer_wins() {
    let server = DeflateConfig::default();
    let (params, answer) =
        accept(&server, "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10, permessage-deflate")
            .unwrap();
    assert_eq!((params.window_bits, answer.as_str()), (10, "permessage-deflate; server_max_window_bits=10"));
    // The first one is malformed: the second is taken.
    let (params, _) =
        accept(&server, "permessage-deflate; foo=1, permessage-deflate; client_no_context_takeover").unwrap();
    assert_eq!(params.window_bits, 15);
    // Across headers: the handshake flattens every header's elements in order.
    let elements = vec![
        &b"permessage-deflate; server_max_window_bits=8"[..],
        &b"permessage-deflate; server_max_window_bits=11"[..],
    ];
    let (params, _) = server_accept(&server, elements.into_iter()).unwrap();
    assert_eq!(params.window_bits, 11);
    // Names are case-insensitive; values may be quoted (§7.1).
    let (params, _) = accept(&server, "Permessage-Deflate; Server_Max_Window_Bits=\"12\"").unwrap();
    assert_eq!(params.window_bits, 12);
    assert!(accept(&server, "x-other").is_none());
    assert!(accept(&server, "").is_none());
}

// §7.1: malformed offers are declined (not a failed handshake): unknown and duplicate
// parameters, values where none belong, missing and out-of-range values.
#[test]
fn malformed_offers_are_declined() {
    let server = DeflateConfig::default();
    for offer in [
        "permessage-deflate; foo",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=\"\"",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=1O",
        "permessage-deflate; server_max_window_bits=\"10",
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; client_max_window_bits=255",
        "permessage-deflate; client_max_window_bits=-9",
    ] {
        assert_eq!(accept(&server, offer), None, "{offer}");
    }
}

// §7.1.2.1 with zlib: a client asking the server to compress with a 256-byte window
// cannot be honoured (zlib writes 512-byte windows for "8"), so that offer is declined and
// the next one taken. A client announcing it compresses with 8 is fine: we decompress
// with 9, a superset.
#[test]
fn window_bits_8_for_our_compressor_is_declined() {
    let server = DeflateConfig::default();
    assert_eq!(accept(&server, "permessage-deflate; server_max_window_bits=8"), None);
    let (params, _) =
        accept(&server, "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9")
            .unwrap();
    assert_eq!(params.window_bits, 9);
    let (params, answer) = accept(&server, "permessage-deflate; client_max_window_bits=8").unwrap();
    assert_eq!((params.peer_window_bits, answer.as_str()), (8, "permessage-deflate"));
    // The client refuses to be limited to 8 (it cannot comply).
    let client = DeflateConfig::default();
    assert_eq!(
        check(&client, "permessage-deflate; client_max_window_bits=8"),
        bad(DeflateResponseFault::UnsupportedWindowBits)
    );
    // ...and accepts a server that says it compresses with 8.
    let params = check(&client, "permessage-deflate; server_max_window_bits=8").unwrap().unwrap();
    assert_eq!(params.peer_window_bits, 8);
    // Out of range settings are refused at build time.
    assert!(DeflateConfig::default().window_bits(8).validate().is_err());
    assert!(DeflateConfig::default().peer_window_bits(16).validate().is_err());
    assert!(DeflateConfig::default().level(10).validate().is_err());
    assert!(DeflateConfig::default().memory_level(0).validate().is_err());
}

// §7.1 on the client: what the RFC forbids in a response fails the handshake.
#[test]
fn forbidden_responses_fail_the_client() {
    let client = DeflateConfig::default();
    assert_eq!(check(&client, ""), Ok(None));
    assert_eq!(check(&client, "x-foo"), Err(ClientCheckFault::Unoffered("x-foo".into())));
    assert_eq!(check(&client, "permessage-deflate, x-foo"), Err(ClientCheckFault::Unoffered("x-foo".into())));
    assert_eq!(check(&client, "permessage-deflate, permessage-deflate"), bad(DeflateResponseFault::SeveralResponses));
    assert_eq!(check(&client, "permessage-deflate; foo"), bad(DeflateResponseFault::UnknownParameter));
    assert_eq!(
        check(&client, "permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
        bad(DeflateResponseFault::DuplicateParameter)
    );
    for value in ["7", "16", "08", "x", ""] {
        assert_eq!(
            check(&client, &format!("permessage-deflate; server_max_window_bits={value}")),
            bad(DeflateResponseFault::InvalidValue),
            "{value}"
        );
        assert_eq!(
            check(&client, &format!("permessage-deflate; client_max_window_bits={value}")),
            bad(DeflateResponseFault::InvalidValue),
            "{value}"
        );
    }
    // §7.1.2.2: a response's client_max_window_bits has a value.
    assert_eq!(check(&client, "permessage-deflate; client_max_window_bits"), bad(DeflateResponseFault::InvalidValue));
    assert_eq!(check(&client, "permessage-deflate; server_max_window_bits"), bad(DeflateResponseFault::InvalidValue));
    // What we asked for must be answered (§7.1.1.1, §7.1.2.1).
    let asking = DeflateConfig::default().peer_no_context_takeover(true).peer_window_bits(10);
    assert_eq!(
        check(&asking, "permessage-deflate; server_max_window_bits=10"),
        bad(DeflateResponseFault::MissingParameter)
    );
    assert_eq!(
        check(&asking, "permessage-deflate; server_no_context_takeover"),
        bad(DeflateResponseFault::MissingParameter)
    );
    assert_eq!(
        check(&asking, "permessage-deflate; server_no_context_takeover; server_max_window_bits=11"),
        bad(DeflateResponseFault::WindowBitsLargerThanOffered)
    );
    let ok =
        check(&asking, "permessage-deflate; server_no_context_takeover; server_max_window_bits=9").unwrap().unwrap();
    assert_eq!((ok.peer_window_bits, ok.peer_no_context_takeover), (9, true));
    // The server may tell us to take no context over, and limit our window.
    let ok =
        check(&client, "permessage-deflate; client_no_context_takeover; client_max_window_bits=10").unwrap().unwrap();
    assert_eq!((ok.window_bits, ok.no_context_takeover), (10, true));
}

#[test]
fn client_offers_are_exact() {
    assert_eq!(client_offer(&DeflateConfig::default()), "permessage-deflate; client_max_window_bits");
    let all = DeflateConfig::default()
        .window_bits(10)
        .peer_window_bits(11)
        .no_context_takeover(true)
        .peer_no_context_takeover(true);
    assert_eq!(
        client_offer(&all),
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10"
    );
}

/// Run both handshakes with these settings; the client's result and the two connections.
fn handshake(
    client: Option<DeflateConfig>,
    server: Option<DeflateConfig>,
) -> (crate::Connection, crate::Connection, String, String) {
    use crate::{AcceptOptions, ClientHandshake, ClientRequest, Config, Instant, ServerHandshake, Transmit};
    let config = |d| Config::builder().deflate(d).build().unwrap();
    let mut c = ClientHandshake::new(ClientRequest::new("example.com", "/"), config(client)).unwrap();
    let mut request = Vec::new();
    c.drain_transmit(&mut request);
    let mut s = ServerHandshake::new(config(server));
    s.receive(Instant::ZERO, &request).unwrap().unwrap();
    let mut server_conn = s.accept(&AcceptOptions::new()).unwrap();
    let mut response = Vec::new();
    server_conn.drain_transmit(&mut response);
    let response_text = String::from_utf8(response.clone()).unwrap();
    let response_params = c.receive(Instant::ZERO, &response).unwrap().unwrap().deflate().copied();
    let client_conn = c.into_connection().unwrap();
    assert_eq!(client_conn.deflate().copied(), response_params);
    (client_conn, server_conn, String::from_utf8(request).unwrap(), response_text)
}

// RFC 7692 §5 through the real handshakes: offered and answered in the headers, agreed
// by both connections; either side without it means no compression and no header.
#[test]
fn handshakes_negotiate_end_to_end() {
    let (client, server, request, response) = handshake(Some(DeflateConfig::default()), Some(DeflateConfig::default()));
    assert!(
        request.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"),
        "{request}"
    );
    assert!(response.contains("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"), "{response}");
    assert_eq!(client.deflate().map(|p| p.window_bits), Some(15));
    assert_eq!(server.deflate().map(|p| p.window_bits), Some(15));

    let (client, server, request, response) = handshake(Some(DeflateConfig::default()), None);
    assert!(request.contains("permessage-deflate"));
    assert!(!response.contains("Sec-WebSocket-Extensions"), "{response}");
    assert!(client.deflate().is_none() && server.deflate().is_none());

    let (client, server, request, _) = handshake(None, Some(DeflateConfig::default()));
    assert!(!request.contains("Sec-WebSocket-Extensions"));
    assert!(client.deflate().is_none() && server.deflate().is_none());

    let strict = DeflateConfig::default().peer_window_bits(10).peer_no_context_takeover(true);
    let (client, server, _, response) = handshake(Some(DeflateConfig::default()), Some(strict));
    assert!(
        response.contains("permessage-deflate; client_no_context_takeover; client_max_window_bits=10\r\n"),
        "{response}"
    );
    let (c, s) = (client.deflate().unwrap(), server.deflate().unwrap());
    assert_eq!(
        (c.window_bits, c.no_context_takeover, s.peer_window_bits, s.peer_no_context_takeover),
        (10, true, 10, true)
    );
}

// RFC 6455 §4.1 item 5 with the feature on: a client that did not offer deflate still
// fails any extension in the response, deflate included.
#[test]
fn client_without_deflate_refuses_an_answer() {
    use crate::{HandshakeError, PeerMisbehaved};
    assert!(matches!(
        client_receives(None, "permessage-deflate"),
        Err(HandshakeError::PeerMisbehaved(PeerMisbehaved::UnofferedExtension(_)))
    ));
    // With the offer made, a forbidden answer is a typed handshake failure.
    assert_eq!(
        client_receives(Some(DeflateConfig::default()), "permessage-deflate; client_max_window_bits=8").unwrap_err(),
        HandshakeError::PeerMisbehaved(PeerMisbehaved::DeflateResponse(DeflateResponseFault::UnsupportedWindowBits))
    );
    assert_eq!(
        client_receives(Some(DeflateConfig::default()), "permessage-deflate; bogus").unwrap_err(),
        HandshakeError::PeerMisbehaved(PeerMisbehaved::DeflateResponse(DeflateResponseFault::UnknownParameter))
    );
    assert!(client_receives(Some(DeflateConfig::default()), "permessage-deflate; server_no_context_takeover").unwrap());
}

/// A client handshake with `deflate` given a 101 whose extensions header is `extensions`:
/// whether it took the answer as a deflate agreement.
fn client_receives(deflate: Option<DeflateConfig>, extensions: &str) -> Result<bool, crate::HandshakeError> {
    use crate::{ClientHandshake, ClientRequest, Config, Instant, Transmit};
    let config = Config::builder().deflate(deflate).build().unwrap();
    let mut c = ClientHandshake::new(ClientRequest::new("example.com", "/"), config).unwrap();
    let mut request = Vec::new();
    c.drain_transmit(&mut request);
    let text = String::from_utf8(request).unwrap();
    let key = text.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: {extensions}\r\n\r\n",
        crate::handshake::accept_key(key.as_bytes())
    );
    c.receive(Instant::ZERO, response.as_bytes()).map(|r| r.unwrap().deflate().is_some())
}
