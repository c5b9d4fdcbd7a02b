//! The catalogue of hostile peers: 77 faults and attacks a WebSocket endpoint must survive,
//! items A1 to I4, each with what Tether does and the tests that show it — or, plainly, what
//! is not tested yet or why the item cannot apply. Documentation only; no code lives here.
//!
//! Many items are modelled on bugs that hurt real implementations (the CVE or advisory is
//! named where there is one): the cheapest way not to repeat a known mistake is a test that
//! replays it.
//!
//! # How to read an item
//! Each item gives the hostile input, the behaviour Tether has, and where it is tested:
//! - **engine**: tests inside `tether-proto`, named by their module path (run one with
//!   `cargo test -p tether-proto NAME`): unit tests, property tests in `proptests`, and the
//!   fuzz targets (`fuzz/src/lib.rs`), whose corpora and saved crashes `cargo test` replays
//!   through `proto/tests/fuzz_corpus.rs`;
//! - **sockets**: tests in `tests/suite/FILE.rs`, named `FILE::function`, run over real
//!   loopback TCP on each of the three runtimes (the suite is compiled once per runtime by
//!   the `tether-tests` test targets; run one with `cargo test -p tether-tests NAME`);
//! - **not covered yet** says exactly what is missing; **does not apply** says why.
//!
//! "Fail the connection" is RFC 6455 §7.1.7 as the [design](super::design#one-ending-and-its-cause)
//! describes it: a close frame with the violation's code goes out after the data the
//! application had already queued, nothing further is delivered, the last event is
//! [`Closed`](crate::Closed) with cause [`Protocol`](crate::CloseCause::Protocol), and the
//! transport is ended once the close frame is written. Three properties hold for every
//! item and are checked across all inputs rather than per item: no input from the network
//! panics, errors are typed enums, and buffered input stays bounded — the property test
//! `proptests::arbitrary_bytes_are_survivable` (any bytes, either role, random chunking:
//! no event after `Closed`, input buffered below one max-size frame plus the read-ahead)
//! and the fuzz targets `frame_decode`, `connection_server`, `connection_client` and
//! `roundtrip` (exact events against a reference decoder, exact buffer accounting, strictly
//! valid output).
//!
//! # A. Opening handshake, server side
//!
//! **A1 · Slowloris.** A valid request arrives a byte at a time, or a header every few
//! seconds. The async layer gives the whole handshake one deadline
//! ([`Config::handshake_timeout`](crate::Config::handshake_timeout), 10 s) that arriving bytes
//! do not reset; the head buffer never grows past the byte cap. Engine:
//! `handshake::http::tests::buffer_capacity_stays_within_cap`. Sockets:
//! `hostile::slowloris_is_cut_at_the_total_handshake_deadline` (a drip every 20 ms is cut at a
//! 600 ms deadline with `HandshakeTimeout`).
//!
//! **A2 · One endless header.** `X: aaaa…` for a megabyte, never terminated. Refused with 431
//! as soon as the 8 KiB byte cap is passed, having scanned no further than the cap; the
//! reader never re-scans from the start, so a drip costs linear work (the quadratic re-parse
//! of CVE-2023-43669). Engine: `handshake::server::tests::one_mib_header_is_431_at_the_cap`,
//! `handshake::http::tests::byte_cap_is_exact`, `handshake::http::tests::buffer_capacity_stays_within_cap`,
//! `handshake::http::tests::one_byte_feeds_scan_each_byte_once`. Sockets:
//! `hostile::one_huge_header_gets_431_and_close` (16 KiB of one header: a 431 response, then
//! the connection is closed).
//!
//! **A3 · Thousands of headers.** 10 000 lines of `a: x` (and 2 000, as in CVE-2024-37890).
//! 431 at the 65th line; the line cap and the byte cap are checked together, and whichever
//! trips first gives 431. Engine: `handshake::server::tests::many_headers_are_431`,
//! `handshake::http::tests::line_cap_fires_as_soon_as_exceeded`. Sockets:
//! `hostile::ten_thousand_headers_get_431_and_close`.
//!
//! **A4 · A valid request in 1-byte segments.** Accepted, at linear total cost: there is no
//! minimum-read heuristic that would refuse slow drips (a policy choice: the total deadline
//! and the caps bound them instead). Engine:
//! `handshake::server::tests::one_byte_at_a_time_succeeds`,
//! `handshake::http::tests::one_byte_feeds_scan_each_byte_once`,
//! `handshake::tests::random_chunking_is_equivalent`. Sockets:
//! `slow::slow_transport_echo_and_close` (the whole handshake over 1-byte reads on both
//! ends).
//!
//! **A5 · Wrong or missing version.** `Sec-WebSocket-Version: 8`, or none. 426 Upgrade
//! Required naming version 13; the version is checked last, so 426 only answers requests
//! that are otherwise well-formed. Engine: `handshake::server::tests::version_rules_and_426`,
//! `handshake::server::tests::check_order_is_as_documented`. Sockets:
//! `hostile::invalid_request_gets_its_error_response` (version 8 gets its 426 before the
//! stream is dropped).
//!
//! **A6 · A bad key.** `Sec-WebSocket-Key` missing, not base64, or not 16 bytes once
//! decoded: 400. Engine: `handshake::server::tests::key_rules`. Sockets:
//! `hostile_sockets::handshake_faults_get_their_status` (every runtime).
//!
//! **A7 · Not an upgrade.** `Upgrade: websocket` missing, `Connection` without the
//! `upgrade` token, method POST, HTTP/1.0. A method other than GET gets 405 with `Allow:
//! GET`; the rest get 400. Tokens match case-insensitively anywhere in comma lists spread
//! over repeated headers, so Firefox's `Connection: keep-alive, Upgrade` is accepted and a
//! substring is not a token. Engine: `handshake::server::tests::non_get_is_405`,
//! `handshake::server::tests::http_1_0_is_refused`,
//! `handshake::server::tests::upgrade_header_rules`,
//! `handshake::server::tests::connection_header_rules`,
//! `handshake::tests::firefox_connection_header_is_accepted`. Sockets:
//! `hostile_sockets::handshake_faults_get_their_status` (every runtime).
//!
//! **A8 · Duplicate key or Host.** Ambiguous, so 400 (a missing Host too). Engine:
//! `handshake::server::tests::duplicate_key_or_host_is_400`. Sockets:
//! `hostile_sockets::handshake_faults_get_their_status` (every runtime).
//!
//! **A9 · Pathological lists.** `Sec-WebSocket-Protocol: b` + 100 000 spaces + `x`, or
//! `a` + 10 000 commas (the backtracking regex of CVE-2021-32640). Lists are split in one
//! linear pass; only a protocol the client offered (and that is a token) can be chosen. Engine:
//! `handshake::server::tests::pathological_lists_parse_linearly`,
//! `handshake::http::tests::list_elements_trim_and_skip_empties`,
//! `handshake::server::tests::accept_rejects_unoffered_protocol`. Sockets:
//! `hostile_sockets::hostile_lists_and_extension_offers_are_declined` (6 000 commas or
//! spaces, within the default head cap; every runtime).
//!
//! **A10 · Hostile extension offers.** `constructor`, `permessage-deflate;
//! server_max_window_bits=99`, repeated or junk parameters. No crash; the offers are exposed
//! raw through [`Request::extensions`](crate::Request::extensions) and declined (only a
//! server that enabled permessage-deflate negotiates it, from a valid offer; a parameter is
//! never echoed unchecked); control bytes in the header
//! make the request malformed (400). Engine:
//! `handshake::server::tests::hostile_extension_offers_are_declined`. Sockets:
//! `hostile_sockets::hostile_lists_and_extension_offers_are_declined` (every runtime).
//!
//! **A11 · Frames glued to the request.** `GET …\r\n\r\n\x81\x85…` in one read. The bytes
//! after the head go to the new connection exactly once and are decoded as frames, also
//! when more arrive after the request was returned. Engine:
//! `handshake::server::tests::leftover_is_exact`, `handshake::tests::client_server_round_trip`,
//! `handshake::tests::accept_hands_response_leftover_and_protocol_to_the_connection`,
//! `handshake::tests::random_chunking_is_equivalent`, fuzz target `server_handshake`.
//! Sockets: `handshake::frames_glued_to_the_request_are_not_lost`.
//!
//! **A12 · Cross-site request.** `Origin: https://evil.example` (cross-site WebSocket
//! hijacking, RFC 6455 §10.2). The `Origin` is on the [`Request`](crate::Request) before
//! anything is answered, and [`reject`](crate::ServerHandshake::reject) writes a complete
//! 403 with a body. Engine:
//! `handshake::server::tests::cross_site_origin_is_exposed_and_rejected_with_403`. Sockets:
//! `handshake::reject_sends_status_and_body`, `handshake::accept_inspects_request_and_chooses_subprotocol`.
//!
//! **A13 · A flood of idle connections.** Many TCP connections that never send a byte or
//! never finish upgrading. Each is closed at the handshake deadline; before the 101 a
//! connection holds no receive buffer (the handshake reads through a small stack buffer
//! that exists only while its future is polled, and the head buffer grows with what
//! arrived); a server-wide `HandshakeLimit` in `tether-rt` refuses, rather than queues,
//! connections beyond its bound. Sockets: `limits::pending_handshakes_are_bounded_and_closed_at_the_deadline`,
//! `limits::pending_handshake_memory_per_connection` (1 000 pending handshakes, at most
//! 16 KiB of resident and heap memory each), `limits::handshake_state_does_not_stay_in_the_connection_task`;
//! the limit's own unit test is `limit::tests::permits_are_bounded_and_released_on_drop` in
//! `tether-rt`. Not covered yet: the catalogue's scale of 100 000 connections (the memory
//! test opens 1 000).
//!
//! # B. Opening handshake, client side
//!
//! **B1 · No 101.** The server answers 200, 302 or 403. A typed
//! [`HandshakeError::UnexpectedStatus`](crate::HandshakeError::UnexpectedStatus) with the
//! status and every header; redirects are never followed, so credentials can never be
//! carried to another origin. Engine: `handshake::client::tests::non_101_is_unexpected_status`,
//! `handshake::tests::python_websockets_responses`. Sockets:
//! `handshake::non_101_answer_is_a_typed_error_with_status_and_headers` (a 302 whose
//! `Location` is exposed, not followed), `handshake::reject_sends_status_and_body` (our
//! client sees our server's 403).
//!
//! **B2 · Wrong accept key.** `Sec-WebSocket-Accept` missing, empty, wrong, in the wrong case
//! or repeated: the handshake fails ([`BadAccept`](crate::HandshakeError::PeerMisbehaved(PeerMisbehaved::BadAccept))).
//! Engine: `handshake::client::tests::bad_accept_fails`. Sockets:
//! `hostile_peer::wrong_or_missing_accept_key_fails_the_handshake` (every runtime).
//!
//! **B3 · Unoffered subprotocol or extension.** A 101 naming a subprotocol the client did not
//! offer (or offered in another case, or two of them), or any extension at all — including
//! `permessage-deflate` with `server_max_window_bits=7`, `16` or `abc`: the handshake fails.
//! Engine: `handshake::client::tests::unoffered_protocol_or_extension_fails`, fuzz target
//! `client_handshake`. Sockets:
//! `hostile_peer::unoffered_subprotocol_or_extension_fails_the_handshake` (every runtime).
//!
//! **B4 · A hostile response head.** A megabyte of headers, 10 000 header lines, or no
//! answer at all. The response is held to the same byte and line caps as a request, checked
//! while reading, and the same total deadline applies to the client. Engine:
//! `handshake::client::tests::response_caps`,
//! `handshake::client::tests::byte_at_a_time_with_leftover`. Sockets:
//! `hostile_peer::client_handshake_times_out_when_the_server_never_answers`,
//! `hostile_peer::client_rejects_a_response_head_of_one_mib`,
//! `hostile_peer::client_rejects_ten_thousand_response_headers`.
//!
//! **B5 · Header injection by the application.** Header values (or the host, the origin, a
//! subprotocol) containing CR, LF or NUL, or names that are not tokens or that the handshake
//! writes itself. Refused with [`InvalidHeader`](crate::HandshakeError::ApiMisuse(ApiMisuse::InvalidHeader)) before
//! a byte of the request is built (the injection of undici CVE-2026-1527); the server side
//! checks the 101's extra headers the same way; URLs with user info are refused. Engine:
//! `handshake::client::tests::header_injection_is_refused`,
//! `handshake::http::tests::extra_headers_are_checked`,
//! `handshake::server::tests::accept_rejects_invalid_extra_headers`,
//! `handshake::url::tests::fragment_and_userinfo_rejected`, fuzz target `client_handshake`
//! (whatever `ClientHandshake::new` accepts is a well-formed head without injected lines).
//! Sockets: `hostile_peer::header_injection_is_refused_before_anything_is_sent` (the server
//! sees no byte; every runtime).
//!
//! **B6 · Predictable mask keys.** Every frame a client sends has a fresh key from a
//! cryptographic generator (§5.3, §10.3): each client connection masks with its own ChaCha12
//! stream seeded with 32 bytes from the configured [`Rng`](crate::Rng) (the OS generator by
//! default) and reseeded every 16 384 keys; handshake keys come from the same `Rng`.
//! Engine: `connection::tests::fresh_mask_key_per_frame_rfc6455_5_3`,
//! `rng::tests::mask_keys_follow_the_configured_rng_and_reseed_from_it`,
//! `connection::tests::only_a_client_seeds_a_mask_key_stream`,
//! `handshake::client::tests::keys_come_from_the_config_rng`. Not covered yet: the
//! catalogue's birthday check over 10⁶ keys — the test draws 10⁴ and allows two repeats.
//!
//! **B7 · A hostile proxy.** A client that reaches its server through an HTTP `CONNECT` or
//! SOCKS5 proxy ([`ProxyHandshake`](crate::ProxyHandshake)) meets the proxy's answer first:
//! a refusal (407 with its `Proxy-Authenticate`), a head of endless headers, a SOCKS reply
//! with a wrong version, an unknown address type, a method it was not offered, a failure
//! code, or silence. Each is a typed [`ProxyError`](crate::ProxyError); the HTTP head has the
//! handshake's caps, the SOCKS reply buffer never exceeds the longest reply, and one total
//! deadline bounds the exchange. Engine: `proxy::tests::http_connect_refusals_are_typed_and_sticky`,
//! `proxy::tests::http_connect_answer_is_bounded`, `proxy::tests::socks5_failures_are_typed`,
//! `proxy::tests::deadlines_count_from_the_first_instant_and_fail_once`,
//! `proxy::tests::hostile::any_answer_in_any_chunking_is_handled` (property test).
//!
//! # C. Framing
//!
//! **C1 · Unmasked client frame.** `81 05 hello` at a server. Fail with 1002. Accepting
//! them is an opt-in
//! ([`Config::accept_unmasked_frames`](crate::Config::accept_unmasked_frames)), off by
//! default. Engine: `connection::tests::framing_violations_fail_with_1002`,
//! `frame::tests::mask_direction_rfc6455_5_1`, `connection::tests::unmasked_frames_opt_in`,
//! fuzz target `frame_decode`. Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime).
//!
//! **C2 · Masked server frame.** `81 85 <key> …` at a client. Fail with 1002. Engine:
//! `connection::tests::client_rejects_masked_frames_rfc6455_5_1`,
//! `frame::tests::mask_direction_rfc6455_5_1`. Sockets:
//! `hostile_peer::masked_server_frame_fails_the_client_with_1002` (every runtime).
//!
//! **C3 · Length with the top bit set.** `82 7f 80 00 00 00 00 00 00 00`. Fail with 1002,
//! decided from the header alone, before anything is reserved (no overflow: NATS
//! CVE-2026-27889, Tomcat CVE-2020-13935). Engine:
//! `frame::tests::length_msb_set_fails_rfc6455_5_2`,
//! `connection::tests::framing_violations_fail_with_1002` (the masked server form).
//! Sockets: `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends`
//! (every runtime).
//!
//! **C4 · A huge announced length.** 2⁶³−1 bytes, or anything over the max frame size. 1009
//! at header time; nothing is reserved. The length is compared as a 64-bit number before it
//! is ever converted to `usize`. Engine:
//! `frame::tests::oversized_frame_fails_at_header_time`,
//! `connection::tests::frame_and_message_limits_rfc6455_10_4` (decided from the first four
//! bytes), `connection::tests::announced_length_reserves_nothing`. Not covered yet: no test
//! runs on a 32-bit target (where 2³²+1 matters). Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime).
//!
//! **C5 · A large length, then silence.** 16 MiB − 1 announced, a trickle or nothing after.
//! The receive buffer grows only with bytes that arrived (at most doubling them), never to
//! the announced size; the keepalive or idle timeout reaps a silent connection. Engine:
//! `connection::tests::announced_length_reserves_nothing`,
//! `connection::tests::keepalive_detects_dead_peer`. Sockets:
//! `hostile_sockets::a_raw_peer_is_not_left_hanging_when_it_stops_mid_header` (every
//! runtime), and at scale `limits::a_thousand_peers_announcing_16_mib_frames_cost_what_they_sent`
//! (1 000 peers under the client-sized limits each announce 16 MiB − 1 and send 4 KiB: the
//! heap grows by at most twice what was sent plus 16 KiB per connection). Under the server
//! defaults such a header is refused at once with 1009:
//! `limits::server_defaults_refuse_announced_16_mib_frames_from_many_peers_with_1009`.
//!
//! **C6 · Non-minimal lengths.** `7e 00 05` for a 5-byte payload. Accepted (RFC 6455 §5.2
//! binds senders), never emitted. Engine: `frame::tests::non_minimal_length_accepted`,
//! `frame::tests::lengths_roundtrip_minimal_rfc6455_5_2`,
//! `frame::tests::header_bytes_follow_the_rfc_layout_rfc6455_5_2`; every fuzz target that
//! parses our output requires minimal lengths. Sockets:
//! `hostile_sockets::non_minimal_lengths_are_accepted` (every runtime).
//!
//! **C7 · Reserved bits.** RSV1, RSV2 or RSV3 set with no extension negotiated (`c1 …`, `a2
//! 00`). Fail with 1002; messages before it are delivered, and an echo the application
//! already queued goes out before the close (Autobahn 3.x). Engine:
//! `frame::tests::reserved_bits_and_opcodes_rfc6455_5_2`,
//! `connection::tests::framing_violations_fail_with_1002`,
//! `connection::tests::autobahn_echo_precedes_failure_close`. Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime); Autobahn 3.x against every adapter in `tests/autobahn.sh`.
//!
//! **C8 · Reserved opcodes.** 0x3–0x7 and 0xB–0xF. Fail with 1002, as C7 (Autobahn 4.x).
//! Engine: `frame::tests::reserved_bits_and_opcodes_rfc6455_5_2` (every reserved value),
//! `connection::tests::framing_violations_fail_with_1002`,
//! `connection::tests::autobahn_echo_precedes_failure_close`. Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime); Autobahn 4.x against every adapter in `tests/autobahn.sh`.
//!
//! **C9 · Extreme chunking.** A header split at every byte; 10 000 frames in one read.
//! Identical events however the bytes are cut; decoding is a loop that hands out one message
//! per [`poll_event`](crate::Connection::poll_event), with no recursion. Engine: most
//! connection tests feed their input whole and byte by byte and compare,
//! `proptests::chunking_never_changes_events`,
//! `proptests::fast_path_decodes_like_the_general_decoder`,
//! `connection::tests::empty_continuation_flood_is_flat` (10 000 frames per read). Sockets:
//! `slow::slow_transport_echo_and_close`, `slow::slow_transport_batches_and_split` (1-byte
//! reads). Not covered yet: fairness — no test checks that a task receiving a flood lets
//! other tasks run. A `recv` that finds a message already decoded returns it without
//! touching the socket, so a runtime's cooperative budget, where it has one, is charged
//! only when the socket is read.
//!
//! **C10 · At the limit and one past it.** A frame or message exactly at the limit is
//! accepted; one byte more fails with 1009 (§7.4.1, §10.4). Engine:
//! `connection::tests::frame_and_message_limits_rfc6455_10_4`. Sockets:
//! `messages::sixteen_mib_message_round_trips` (a frame of exactly the default 16 MiB
//! limit), `hostile_sockets::limits_at_and_one_past` (a 4 KiB cap: at it echoed, one past
//! it 1009; every runtime).
//!
//! # D. Fragmentation
//!
//! **D1 · Continuation with nothing to continue.** `80 …` first. Fail with 1002
//! ([`UnexpectedContinuation`](crate::ProtocolError::UnexpectedContinuation); Autobahn
//! 5.9–5.12, 5.15). Engine: `connection::tests::framing_violations_fail_with_1002`,
//! `connection::tests::autobahn_echo_precedes_failure_close`. Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime).
//!
//! **D2 · A new message inside a fragmented one.** A text or binary frame while a message
//! is open. Fail with 1002 (Autobahn 5.18). Engine:
//! `connection::tests::framing_violations_fail_with_1002`. Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime).
//!
//! **D3 · Fragmented control frame.** A ping, pong or close with FIN clear. Fail with 1002
//! (§5.4, §5.5), decided from the header. Engine:
//! `frame::tests::control_frame_rules_rfc6455_5_5`,
//! `connection::tests::framing_violations_fail_with_1002`. Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime).
//!
//! **D4 · Control frames between fragments.** A ping between two fragments is answered at
//! once and the message still completes; a close between fragments is honoured like any
//! close (the unfinished message is dropped). Engine:
//! `connection::tests::fragmentation_with_interleaved_ping_rfc6455_5_4`. Not covered yet: no
//! engine test puts a close frame between fragments (the `frame_decode` fuzz target's
//! reference decoder models the case, but no corpus input is known to reach it). Sockets:
//! `hostile_sockets::control_and_close_faults_over_sockets` (a ping between fragments is
//! answered first, then the message; a close between fragments is answered and the
//! unfinished message dropped; every runtime).
//!
//! **D5 · Thousands of tiny fragments.** A 4 MiB message in 65 536 fragments of 64 bytes
//! (Autobahn 9.3.1). Accepted; fragments are appended to one contiguous buffer, with no
//! object per fragment. Engine: `connection::tests::many_small_fragments_rfc6455_5_4`.
//! Sockets: `hostile_sockets::floods_of_tiny_fragments_reassemble` (every runtime).
//!
//! **D6 · Endless empty continuations.** A million 0-byte continuation frames with FIN clear.
//! Memory stays flat: reassembly is accounted in bytes against the max message size, and an
//! empty fragment adds nothing (there is no fragment-count cap to trip). Engine:
//! `connection::tests::empty_continuation_flood_is_flat` (10⁶ frames; the receive buffer
//! stays under 256 KiB). Not covered yet: 1-byte fragments up to the message cap are not a
//! test of their own (D7's byte accounting is what bounds them). Sockets:
//! `hostile_sockets::floods_of_tiny_fragments_reassemble` (100 000 empty continuations
//! inside one message; every runtime).
//!
//! **D7 · Fragments that add up past the message cap.** Each frame is under the max frame
//! size, their sum is not. 1009 at the header of the frame that crosses the cap, not at FIN
//!. Engine: `connection::tests::frame_and_message_limits_rfc6455_10_4`.
//! Sockets: `hostile_sockets::limits_at_and_one_past` (five fragments of 1 KiB against a
//! 4 KiB cap fail before any final fragment; four make a message at the cap; every runtime).
//!
//! **D8 · A slow application behind a streaming API.** Does not apply: the engine hands out
//! whole messages only, so there is no frame stream that could accumulate behind a slow
//! application; what is buffered is bounded by the max message size and the read-side
//! backpressure.
//!
//! # E. Control frames and close
//!
//! **E1 · Oversized control frame.** A ping with a 126-byte payload (`89 7e 00 7e …`); the
//! same for pong and close. Fail with 1002 at the header (Autobahn 2.5). Engine:
//! `frame::tests::control_frame_rules_rfc6455_5_5` (ping, pong and close),
//! `connection::tests::framing_violations_fail_with_1002` (ping and pong). Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime).
//!
//! **E2 · Ping flood from a peer that never reads.** 125-byte pings, endlessly. Every ping
//! of a burst is answered while less than 2 KiB of pongs wait unwritten; beyond that only
//! the latest ping is kept (§5.5.3), so the queue stays at about 2 KiB plus one frame.
//! Engine: `connection::tests::ping_flood_keeps_pong_memory_bounded` (10⁵ pings, nothing
//! written, the latest one answered),
//! `connection::tests::autobahn_2_10_every_ping_of_a_burst_is_answered`,
//! `client_counts_the_mask_of_a_pending_pong` in
//! `proto/tests/fuzz_found_client_pending_control_undercount.rs`; a pong owed when the
//! peer's close arrives goes out before our close frame
//! (`connection::tests::pending_pong_is_sent_before_the_close_answer`). Sockets:
//! `hostile_sockets::ping_flood_from_a_peer_that_never_reads_keeps_the_heap_bounded`
//! (200 000 pings from a peer that reads nothing until it has sent them all: the server
//! keeps reading, its heap grows by well under 1 MiB, the last ping is answered; every
//! runtime).
//!
//! **E3 · Unsolicited or mismatched pongs.** Pongs nobody asked for, five for one ping, a
//! payload that matches nothing. Harmless: a pong is an event the async layer swallows
//! unless the application asked for control messages; payloads are never compared, and any
//! inbound traffic counts as liveness for the keepalive. Engine:
//! `connection::tests::unsolicited_pongs_are_harmless`,
//! `connection::tests::keepalive_is_satisfied_by_any_traffic`. Sockets:
//! `hostile_sockets::control_and_close_faults_over_sockets` (three unsolicited pongs, then
//! an echo; every runtime).
//!
//! **E4 · One-byte close payload.** `88 01 03`. Fail with 1002 (Autobahn 7.3.2). Engine:
//! `close::tests::close_payload_parsing_rfc6455_5_5_1`,
//! `connection::tests::framing_violations_fail_with_1002`. Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime).
//!
//! **E5 · Invalid close codes.** 0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
//! 5000, 65535. Fail with 1002 (Autobahn 7.9.x, 7.13.x). Exactly 1000–1003, 1007–1014 and
//! 3000–4999 are valid on the wire; a valid code is echoed in our answer, and 1005, 1006
//! and 1015 can never be sent. Engine: `close::tests::sendable_ranges_rfc6455_7_4` (every
//! code), `connection::tests::framing_violations_fail_with_1002`,
//! `connection::tests::close_initiated_by_server_rfc6455_7_1_1` (4000 reaches the client),
//! `close::tests::local_close_frames_are_checked`. Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime).
//!
//! **E6 · Close reason that is not UTF-8.** `88 04 03 e8 ff fe`. Fail with 1007 (Autobahn
//! 7.5.1). Engine: `connection::tests::invalid_close_reason_fails_1007`,
//! `close::tests::close_payload_parsing_rfc6455_5_5_1`. Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime).
//!
//! **E7 · Close reason at and past its limit.** A 123-byte reason is accepted; 124 makes the
//! control payload 126 bytes, which fails with 1002 at the header (Autobahn 7.3.5, 7.3.6).
//! Engine: `connection::tests::close_reason_lengths`. Sockets:
//! `hostile_sockets::control_and_close_faults_over_sockets` (123 accepted, 124 a 1002;
//! every runtime).
//!
//! **E8 · Data after the peer's close.** The peer closes and keeps sending data frames. They
//! are discarded, never delivered, and exactly one close frame answers. Engine:
//! `connection::tests::data_after_close_is_discarded`. Sockets:
//! `hostile_sockets::control_and_close_faults_over_sockets` (every runtime).
//!
//! **E9 · No answer to our close.** We close; the peer never answers, or keeps streaming.
//! After the close timeout (5 s) the connection ends with 1006 and
//! [`CloseTimeout`](crate::CloseCause::CloseTimeout), and the transport is dropped — also
//! when its half-close cannot complete. Messages that arrive meanwhile still pass through
//! the read-side backpressure (the async layer's `close` discards them). Engine:
//! `connection::tests::close_timeout_reports_1006`. Sockets:
//! `close::close_times_out_when_the_peer_never_answers`,
//! `close::a_shutdown_that_never_completes_is_bounded_by_the_close_timeout`. Not covered
//! yet: a peer that streams data at a closing connection until the timeout.
//!
//! **E10 · Both sides close at once.** Each side sends exactly one close frame; both end
//! cleanly with 1000 and cause [`LocallyInitiated`](crate::CloseCause::LocallyInitiated), no
//! error. Engine: `connection::tests::simultaneous_close`. Sockets:
//! `hostile_sockets::simultaneous_close_is_clean_on_both_sides` (every runtime).
//!
//! **E11 · Who closes TCP first.** After the close handshake the server ends TCP first
//! (§7.1.1); a client waits for it, at most the close timeout, then ends it itself. Engine:
//! `connection::tests::close_initiated_by_client_rfc6455_7_1_2`,
//! `connection::tests::close_initiated_by_server_rfc6455_7_1_1`,
//! `connection::tests::client_waits_bounded_for_server_eof`. Sockets:
//! `close::we_close_cleanly_and_the_peer_sees_code_and_reason`,
//! `close::peer_close_is_a_typed_error_from_typed_receives` (clean closes in both
//! directions); not covered yet over sockets: which side's FIN comes first.
//!
//! # F. UTF-8
//!
//! **F1 · Invalid text.** A surrogate (`ed a0 80`), an overlong form (`c0 af`), a code
//! point above U+10FFFF (`f4 90 80 80`). Fail with 1007 (Autobahn 6.x). Engine:
//! `utf8::tests::rejects_invalid_sequences_rfc6455_8_1`,
//! `connection::tests::invalid_utf8_fails_with_1007_rfc6455_8_1`. Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime).
//!
//! **F2 · A character split across fragments.** `f0 9f` then `98 80`. Accepted: the
//! validator carries a partial character from one piece to the next. Engine:
//! `utf8::tests::accepts_split_code_point`,
//! `connection::tests::invalid_utf8_fails_with_1007_rfc6455_8_1`. Sockets: not covered yet.
//!
//! **F3 · Invalid byte in the first of three fragments.** Fail with 1007 at once, before
//! the later fragments arrive — even in the middle of a frame whose rest has not arrived
//! (Autobahn 6.4.x). Engine: `utf8::tests::fails_fast_on_impossible_prefix`,
//! `connection::tests::utf8_fails_fast_rfc6455_8_1`. Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime).
//!
//! **F4 · Truncated last character.** `e2 82` and FIN. Fail with 1007. Engine:
//! `utf8::tests::truncated_end_fails`,
//! `connection::tests::invalid_utf8_fails_with_1007_rfc6455_8_1`. Sockets:
//! `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends` (every
//! runtime).
//!
//! **F5 · The fast validator against the standard one.** The validator (SIMD-accelerated,
//! from the `simdutf8` crate) fed in random pieces gives the verdict of
//! `core::str::from_utf8` on the whole, for random bytes and for valid text. Engine:
//! `utf8::tests::differential_against_std`, `utf8::tests::differential_on_valid_text`
//! (property tests, inputs under 64 bytes), and for the inputs the vector kernel takes:
//! `utf8::tests::differential_long_inputs_at_every_alignment` (64 to 4096 bytes at all 64
//! alignments in memory, faults planted at the 16/32/64-byte block boundaries) and
//! `utf8::tests::long_inputs_fail_fast_at_every_split` (every two-piece split and
//! three-piece splits around the fault: the failure comes exactly at the piece that makes
//! the prefix impossible), and the property test
//! `utf8::tests::differential_long_inputs_chunked_at_any_alignment` joining the two (64 to
//! 4096 bytes, any alignment, a fault at a block boundary or anywhere, random pieces and
//! often a cut inside the fault: std's verdict, failing at exactly the right piece).
//! Not covered yet: a run under Miri. `tether-proto` itself
//! contains no `unsafe` block; the SIMD code is the dependency's.
//!
//! # G. Resources, flow control, liveness
//!
//! **G1 · A reader that stops reading.** The peer never reads while we send. `send` waits at
//! the write high-water mark (128 KiB by default); the queue never exceeds the mark plus one
//! message, and nothing is dropped; a borrowed send abandoned while waiting queues nothing.
//! A peer that never reads again ends the connection once queued output has made no
//! progress for the write timeout (30 s by default): 1006 reported, cause
//! [`WriteTimeout`](crate::CloseCause::WriteTimeout), on every write path (`send`, `flush`,
//! `close`, a `Sender` with no reader polled). Engine:
//! `connection::tests::stalled_output_ends_at_the_write_timeout`. Sockets:
//! `flow::backpressure_bounds_memory_against_a_peer_that_stops_reading`,
//! `deadlines::send_in_a_loop_ends_with_the_write_timeout`,
//! `deadlines::flush_ends_with_the_write_timeout`, `deadlines::close_ends_with_the_write_timeout`,
//! `deadlines::sender_close_without_a_reader_ends_with_the_write_timeout`,
//! `deadlines::sender_send_loop_without_a_reader_ends_with_the_write_timeout`. Not covered yet:
//! the catalogue's gigabyte with resident memory measured (the test asserts the queue length).
//!
//! **G2 · A slow drain.** The peer reads a byte every 10 ms. As G1; the bytes that do arrive
//! are exactly the start of what was sent. The write timeout counts time without progress,
//! so a drain that is slow but steady keeps the connection. Engine:
//! `connection::tests::slow_progress_keeps_the_connection`. Sockets:
//! `hostile_peer::slow_drain_keeps_the_send_queue_bounded`.
//!
//! **G3 · A half-open connection.** The peer vanishes without FIN or RST. The adapters'
//! keepalive pings after 20 s without inbound traffic and, if nothing arrives within 20 s
//! more, ends the connection: 1006 reported, cause
//! [`IdleTimeout`](crate::CloseCause::IdleTimeout), 1011 sent best-effort. Engine:
//! `connection::tests::keepalive_detects_dead_peer`, `connection::tests::idle_timeout_closes`.
//! Sockets: `close::keepalive_detects_a_vanished_peer`; the adapter with a pausable clock
//! also pins the timer's re-arming (`no_keepalive_ping_while_messages_arrive_and_one_soon_after_they_stop`
//! in its `tests/keepalive_timer.rs`). Not covered yet: real packet loss — the vanished peer
//! is simulated by one that holds the socket open and stays silent.
//!
//! **G4 · Reset mid-frame.** TCP RST inside a frame. The transport error ends the
//! connection through the engine: every call reports `Closed` with 1006 and
//! [`TransportError`](crate::CloseCause::TransportError); the partial message is discarded;
//! nothing panics. Sockets: `close::reset_mid_frame_is_typed_and_senders_learn_it` (reset inside a
//! payload). Not covered yet: a reset inside a frame header.
//!
//! **G5 · EOF mid-frame.** The transport ends inside a frame, with no close frame. 1006 and
//! [`TransportEof`](crate::CloseCause::TransportEof); complete messages before it are
//! delivered, the partial one is dropped. Engine:
//! `connection::tests::eof_mid_frame_reports_1006`. Sockets:
//! `close::eof_mid_frame_is_abnormal_closure`.
//!
//! **G6 · The peer half-closes.** It sends FIN but keeps reading. Tether treats the end of
//! input as the peer going away: the connection ends with 1006 and
//! [`TransportEof`](crate::CloseCause::TransportEof), what was already queued is flushed and
//! our side of TCP ends promptly, well within the close timeout. No close frame is sent
//! then (none is owed after an abnormal end), where the catalogue suggests finishing our
//! own close. Sockets: `hostile_peer::peer_half_close_ends_the_connection_and_we_drop_it`.
//!
//! **G7 · A receive cancelled mid-frame.** A `recv` future dropped in `select!` or by a
//! timeout while a frame is half-received. No byte is lost or duplicated: every byte read
//! is committed to the engine before the future yields, and all partial state lives in the
//! engine. Sockets: `flow::cancelled_recv_loses_nothing` (a frame dribbled byte by byte
//! while `recv` is cancelled again and again).
//!
//! **G8 · A sender held while the reader fails.** The application keeps a `Sender` clone
//! while the reader hits a transport error. The sender gets the typed `Closed` error, no
//! deadlock; pongs are written by the receiving loop, so they go out while the application
//! only reads. Sockets: `close::reset_mid_frame_is_typed_and_senders_learn_it`,
//! `flow::split_senders_from_many_tasks_never_interleave`,
//! `messages::pings_are_answered_and_delivered_only_when_asked`. Not covered yet: a ping
//! answered by a split connection's `Reader` while every sender is idle.
//!
//! **G9 · Many idle connections.** Steady-state memory per upgraded connection is measured
//! and bounded. Sockets: `limits::idle_upgraded_connection_memory` (2 000 idle echo
//! connections, at most 16 KiB of resident and heap memory each),
//! `limits::handshake_state_does_not_stay_in_the_connection_task` (the futures a
//! connection's task keeps stay a few words). The benchmarks measure 10 000 idle
//! connections per adapter (`benches/run.sh`; the figures are in the README).
//!
//! **G10 · A long soak.** An hour of echo at 10 000 messages a second with random sizes,
//! watching resident memory and file descriptors. Sockets: `scripts/soak.sh [MINUTES]` (the
//! load in `tests/src/bin/soak.rs`: random sizes, fragments, pipelining, clean closes,
//! resets mid-frame, slow readers, dropped handshakes) against every runtime's echo
//! server; it fails on a wrong echo, memory still growing after warm-up, or descriptors
//! left open. CI runs 2 minutes; the README gives the last 60-minute run.
//!
//! **G11 · A flood of messages or bytes.** The peer sends as fast as TCP takes it: tiny
//! messages, pings, or bulk bytes. With a [`RateLimit`](crate::RateLimit) set (off by
//! default; the design chapter's [inbound rate limits](super::design#inbound-rate-limits)),
//! Throttle stops reading at the limit, so the peer is pushed back by TCP and at most
//! `burst + rate * elapsed` messages (and bytes) are admitted, exactly; Close fails the
//! connection with 1008 and [`RateLimitExceeded`](crate::CloseCause::RateLimitExceeded).
//! Pings count as messages. Engine: `connection::rate_tests::throttle_admits_exactly_the_burst_then_the_rate`,
//! `connection::rate_tests::byte_limit_caps_read_space`,
//! `connection::rate_tests::close_policy_closes_with_1008_beyond_the_message_limit`,
//! `connection::rate_tests::pings_are_counted_and_throttled`, and the property test
//! `connection::rate_tests::admitted_never_exceeds_burst_plus_rate_times_elapsed` (any
//! chunking and timing). Sockets: `rate_limit::a_message_flood_is_throttled_to_burst_plus_rate`
//! (also bounds the reading side's polls: no busy loop while throttled),
//! `rate_limit::a_byte_flood_is_throttled_to_burst_plus_rate`,
//! `rate_limit::a_flood_beyond_the_limit_is_closed_with_1008`. Without a limit, the flood is
//! bounded only by what the application takes: read-side backpressure (64 KiB buffered)
//! and TCP.
//!
//! # H. permessage-deflate (RFC 7692)
//! With the `deflate` feature and `Config::deflate` set (the design
//! chapter's [permessage-deflate](super::design#permessage-deflate) section); without
//! them every offer is declined (`handshake::server::tests::hostile_extension_offers_are_declined`),
//! a client fails a 101 that names any extension
//! (`handshake::client::tests::unoffered_protocol_or_extension_fails`,
//! `deflate::tests::client_without_deflate_refuses_an_answer`) and RSV1 fails with 1002 (H4).
//! The fuzz targets `connection_server`, `connection_client` and `roundtrip` run
//! permessage-deflate inputs (tagged `deflate:`, `fuzz/src/deflate.rs`): negotiated through
//! the real handshakes, honest compressed traffic checked exactly, hostile bytes, flipped
//! bits and bombs mixed in.
//!
//! **H1 · Decompression bomb.** About 1 KB that inflates to a gigabyte, in one frame, in
//! many fragments, or as a later message of a context-takeover stream. The limit is
//! `max_message_size` on the decompressed size, enforced as output is produced: output
//! never grows past limit + 1 bytes, and the connection fails with 1009. Engine:
//! `connection::deflate_tests::bombs_stop_at_the_limit` (16 MiB of zeros against 1 MiB,
//! single-frame, in 100-byte fragments, and after two messages just under the limit),
//! fuzz inputs `deflate:` (step `Bomb`, checking at most limit + 1 bytes held). Sockets:
//! `deflate::a_compression_bomb_closes_with_1009_within_bounded_memory` (8 MiB of zeros
//! against 512 KiB, 1009 on both sides, the process's peak heap within 2 MiB), and the same
//! bomb in 1 KiB compressed fragments
//! (`deflate::a_fragmented_compression_bomb_closes_with_1009_within_bounded_memory`) and
//! after a first 64 KiB message on the same context
//! (`deflate::a_compression_bomb_across_context_takeover_closes_with_1009_within_bounded_memory`).
//!
//! **H2 · A bomb followed by corrupt data.** The bomb's limit fires first (1009); nothing
//! after it is inflated. Engine: as H1 (the connection fails at the limit, so later
//! frames are never decompressed), fuzz inputs `deflate:` (`Bomb` then `Raw`/`Flipped`).
//!
//! **H3 · RSV1 on a control or continuation frame.** Fail with 1002 (RFC 7692 §6.1: RSV1
//! only on a message's first frame); RSV2 and RSV3 stay reserved. Engine:
//! `connection::deflate_tests::rsv1_misuse_fails_with_1002` (continuation, continuation of
//! a compressed message, ping, close, RSV2, RSV1+RSV3), fuzz target `frame_decode`. Sockets:
//! `deflate::corrupt_compressed_data_and_rsv1_misuse_close_the_connection`.
//!
//! **H4 · RSV1 on a data frame without deflate.** Fail with 1002. Engine:
//! `frame::tests::reserved_bits_and_opcodes_rfc6455_5_2` (`c1 00`),
//! `connection::tests::framing_violations_fail_with_1002`,
//! `connection::deflate_tests::rsv1_misuse_fails_with_1002` (feature on, not negotiated).
//! Sockets: `hostile_sockets::framing_faults_get_their_close_code_and_the_connection_ends`
//! (every runtime).
//!
//! **H5 · Invalid DEFLATE data.** A reserved block type, a distance before the start of
//! the window (a message that needs a context the peer promised not to keep), garbage.
//! Fail with 1007 (`ProtocolError::InvalidCompressedData`); text
//! that decompresses to invalid UTF-8 fails with 1007 too. Data after a final block is
//! ignored, as RFC 7692 §7.2.3.4 intends. Engine:
//! `connection::deflate_tests::corrupt_streams_and_bad_text_fail_with_1007`,
//! `connection::deflate_tests::rfc7692_examples_decode`, fuzz inputs `deflate:` (`Raw`,
//! `Flipped`). Sockets: `deflate::corrupt_compressed_data_and_rsv1_misuse_close_the_connection`.
//!
//! **H6 · Compression context memory.** By zlib's formula about 256 KiB per connection
//! for a 15-bit compressor at memory level 8 kept across messages, and a 32 KiB window for
//! a decompressor. Both are allocated on
//! first use and freed after every message when their side takes no context over; a
//! server can ask for smaller peer windows and for no client context takeover, and the
//! feature and the setting are off by default. Engine:
//! `connection::deflate_tests::roundtrip_both_roles_both_context_modes` (which states are
//! allocated after traffic, in each context mode). Measured per connection, idle and busy,
//! at several window sizes and context modes: `benches/src/bin/deflate_memory.rs`, figures
//! in `benches/README.md`.
//!
//! **H7 · Window bits of 8, or out of range.** An offer with `server_max_window_bits=8`
//! (which zlib cannot honour) is declined and the next offer taken; an answer with
//! `client_max_window_bits=8` fails the client handshake; values outside 8-15, leading
//! zeros and missing values are malformed (offer declined, answer failed). Engine:
//! `deflate::tests::window_bits_8_for_our_compressor_is_declined`,
//! `deflate::tests::malformed_offers_are_declined`,
//! `deflate::tests::forbidden_responses_fail_the_client`.
//!
//! **H8 · Secrets compressed with attacker data.** Compression side channels (CRIME, BREACH;
//! RFC 7692 §9). `Connection::send_uncompressed`
//! sends a message plain, and a connection can take no context over. Engine:
//! `connection::deflate_tests::rsv1_marks_first_frames_of_compressed_messages_only`.
//! Sockets: `WebSocket::send_uncompressed` and `Sender::send_uncompressed`,
//! `deflate::rsv1_and_context_takeover_on_the_wire` (RSV1 clear, payload as is),
//! `deflate::send_uncompressed_round_trips`.
//!
//! # I. Local API misuse
//!
//! **I1 · An invalid close from the application.** A reason over 123 bytes, or code 1005,
//! 1006 or 1015 (or any code outside the valid ranges). A typed
//! [`SendError`](crate::SendError) at the call; nothing reaches the wire. A reason that is
//! not UTF-8 cannot be expressed (it is a `&str`). Engine:
//! `close::tests::local_close_frames_are_checked`,
//! `connection::tests::local_misuse_is_a_typed_error`. Sockets:
//! `close::invalid_close_code_is_rejected_locally`.
//!
//! **I2 · An oversized ping from the application.** Over 125 bytes:
//! [`SendError::ControlPayloadTooLarge`](crate::SendError::ControlPayloadTooLarge), for pongs
//! too. Engine: `connection::tests::local_misuse_is_a_typed_error`. Sockets: not covered yet.
//!
//! **I3 · An impossible configuration.** `max_frame_size` 0, a frame limit above the message
//! limit, zero buffer sizes or timeouts. [`ConfigBuilder::build`](crate::ConfigBuilder::build)
//! returns a typed [`ConfigError`](crate::ConfigError); nothing panics later. Engine:
//! `config::tests::builder_rejects_impossible_settings`.
//!
//! **I4 · Send after close, close twice.** The engine answers
//! [`SendError::AlreadyClosed`](crate::SendError::AlreadyClosed) to either; the async
//! layer's `close` is idempotent (a second call only finishes the ending) and a send after
//! the end is the typed `Closed` error. Engine:
//! `connection::tests::local_misuse_is_a_typed_error`,
//! `connection::tests::borrowed_send_after_close_is_a_typed_error`,
//! `connection::tests::close_initiated_by_client_rfc6455_7_1_2`. Sockets:
//! `close::we_close_cleanly_and_the_peer_sees_code_and_reason`.
//!
//! # Where the catalogue stands
//! An item counts under "engine" or "sockets" when at least one test of that kind covers
//! it; most items with an engine test have no socket test, because the bytes reach the same
//! engine either way. Items marked "not covered yet" above have a gap named even when
//! they are counted as covered. The Autobahn|Testsuite (`tests/autobahn.sh`, run by the
//! whole-suite script) sends most of the framing, fragmentation, close and UTF-8 faults
//! (C7, C8, D1–D5, E1, E4–E7, F1–F4; the case numbers are given with each item) over
//! sockets to every adapter in both roles; it is not counted here.
//!
//! | of 77 items | count |
//! |---|---:|
//! | covered by engine tests | 70 |
//! | covered over sockets, on all three runtimes | 62 |
//! | covered only over sockets (async-layer behaviour) | 6 |
//! | not covered at all | 0 |
//! | does not apply (D8) | 1 |
