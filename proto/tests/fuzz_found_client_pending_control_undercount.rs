//! Found while building the fuzz targets: for a client, `buffered_transmit()`
//! counts a pending keepalive ping, or a pending pong beyond the urgent cap, as 2 header
//! bytes + payload, but the frame `poll_transmit` then writes is masked: 6 + payload. Only
//! this reproduction lives here; the fuzz check (`drain`) is in `fuzz/src/drive.rs`.

use core::time::Duration;

use tether_proto::{Config, Connection, Instant, Role};

/// Write everything the connection has to send; returns the byte count.
fn written(conn: &mut Connection) -> usize {
    let mut total = 0;
    loop {
        let mut chunks = [&[][..]; 16];
        let n = conn.poll_transmit(&mut chunks);
        if n == 0 {
            return total;
        }
        let len: usize = chunks[..n].iter().map(|c| c.len()).sum();
        conn.consume_transmit(len);
        total += len;
    }
}

#[test]
fn client_counts_the_mask_of_a_pending_keepalive_ping() {
    let config = Config::builder().keepalive_interval(Some(Duration::from_secs(1))).build().unwrap();
    let mut client = Connection::new(Role::Client, config);
    client.handle_timeout(Instant::ZERO);
    client.handle_timeout(Instant::ZERO + Duration::from_secs(2));
    let announced = client.buffered_transmit();
    assert_eq!(announced, written(&mut client), "buffered_transmit() vs the bytes then written");
}

#[test]
fn client_counts_the_mask_of_a_pending_pong() {
    let mut client = Connection::new(Role::Client, Config::default());
    // Pings of 125 bytes until the urgent queue is full and the last one is only pending.
    let mut ping = vec![0x89, 125];
    ping.extend_from_slice(&[b'p'; 125]);
    for _ in 0..20 {
        client.receive(Instant::ZERO, &ping);
        while client.poll_event().is_some() {}
    }
    let announced = client.buffered_transmit();
    assert_eq!(announced, written(&mut client), "buffered_transmit() vs the bytes then written");
}
