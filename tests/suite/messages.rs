//! Messages over sockets: text, binary, empty and 16 MiB payloads, ping/pong delivery on
//! request, typed receives, and the futures `Stream`/`Sink` implementations.

use futures_util::{SinkExt, StreamExt};
use tether_rt::Bytes;

use super::*;

#[test]
fn text_binary_and_empty_messages_round_trip() {
    run(async {
        let (mut client, server) = pair().await;
        let server = rt::spawn(echo(server));
        client.send_text("héllo").await.unwrap();
        client.send_bytes(vec![0u8, 1, 2, 255]).await.unwrap();
        client.send_text("").await.unwrap();
        client.send_bytes(Vec::new()).await.unwrap();
        assert_eq!(client.recv_text().await.unwrap(), "héllo");
        assert_eq!(&client.recv_bytes().await.unwrap()[..], &[0, 1, 2, 255]);
        assert_eq!(client.recv().await.unwrap(), Some(Message::text("")));
        assert_eq!(client.recv().await.unwrap(), Some(Message::binary(Vec::new())));
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(server.await.unwrap().is_clean());
    })
}

// The borrowed send path takes owned and borrowed payloads alike.
#[test]
fn send_text_and_send_bytes_take_owned_and_borrowed_payloads() {
    run(async {
        let (mut client, server) = pair().await;
        let server = rt::spawn(echo(server));
        let owned = String::from("owned");
        client.send_text(&owned).await.unwrap();
        client.send_text(owned).await.unwrap();
        client.send_text("borrowed").await.unwrap();
        client.send_text(tether_rt::Utf8Bytes::from("utf8bytes")).await.unwrap();
        client.send_bytes(vec![1u8, 2]).await.unwrap();
        client.send_bytes(&[3u8, 4][..]).await.unwrap();
        client.send_bytes([5u8, 6]).await.unwrap();
        client.send_bytes(Bytes::from_static(b"bytes")).await.unwrap();
        let (reader, sender) = client.split();
        sender.send_text(String::from("split")).await.unwrap();
        sender.send_bytes(Bytes::from_static(b"split")).await.unwrap();
        let mut client = reader.reunite(sender).unwrap();
        for text in ["owned", "owned", "borrowed", "utf8bytes"] {
            assert_eq!(client.recv_text().await.unwrap(), text);
        }
        for bytes in [&[1u8, 2][..], &[3, 4], &[5, 6], b"bytes"] {
            assert_eq!(&client.recv_bytes().await.unwrap()[..], bytes);
        }
        assert_eq!(client.recv_text().await.unwrap(), "split");
        assert_eq!(&client.recv_bytes().await.unwrap()[..], b"split");
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(server.await.unwrap().is_clean());
    })
}

// `send` is lazy: a future dropped before its first poll queued nothing (the first case of
// its cancel-safety promise), on an unsplit connection and on a `Sender`.
#[test]
fn a_send_future_dropped_unpolled_sends_nothing() {
    run(async {
        let (mut client, server) = pair().await;
        let server = rt::spawn(echo(server));
        drop(client.send(Message::text("never")));
        client.send(Message::text("first")).await.unwrap();
        let (reader, sender) = client.split();
        drop(sender.send(Message::text("never either")));
        sender.send(Message::text("second")).await.unwrap();
        let mut client = reader.reunite(sender).unwrap();
        assert_eq!(client.recv_text().await.unwrap(), "first");
        assert_eq!(client.recv_text().await.unwrap(), "second");
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(server.await.unwrap().is_clean());
    })
}

#[test]
fn typed_receive_returns_an_unexpected_message_intact() {
    run(async {
        let (mut client, mut server) = pair().await;
        client.send_bytes(&b"bin"[..]).await.unwrap();
        client.flush().await.unwrap();
        match server.recv_text().await {
            Err(Error::UnexpectedMessage(Message::Binary(b))) => assert_eq!(&b[..], b"bin"),
            other => panic!("{other:?}"),
        }
    })
}

#[test]
fn sixteen_mib_message_round_trips() {
    run(async {
        let (mut client, server) = pair().await;
        let server = rt::spawn(echo(server));
        let big: Vec<u8> = (0..16usize << 20).map(|i| (i % 251) as u8).collect();
        let big = Bytes::from(big);
        client.send_bytes(big.clone()).await.unwrap();
        let back = client.recv_bytes().await.unwrap();
        assert_eq!(back.len(), big.len());
        assert!(back == big, "payload differs");
        client.close(CloseCode::NORMAL, "").await.unwrap();
        server.await;
    })
}

#[test]
fn pings_are_answered_and_delivered_only_when_asked() {
    run(async {
        let (mut client, mut server) = pair().await;
        client.set_control_messages(true);
        server.set_control_messages(true);
        let server = rt::spawn(async move {
            // The ping is delivered (asked for) and answered automatically.
            assert_eq!(server.recv().await.unwrap(), Some(Message::Ping(Bytes::from_static(b"p1"))));
            server.set_control_messages(false);
            echo(server).await
        });
        client.ping(&b"p1"[..]).await.unwrap();
        assert_eq!(client.recv().await.unwrap(), Some(Message::Pong(Bytes::from_static(b"p1"))));
        // Not asked for: the pong is consumed silently and the next data message arrives.
        client.set_control_messages(false);
        client.ping(&b"p2"[..]).await.unwrap();
        client.send_text("after").await.unwrap();
        assert_eq!(client.recv().await.unwrap(), Some(Message::text("after")));
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(server.await.unwrap().is_clean());
    })
}

#[test]
fn stream_and_sink() {
    run(async {
        let (mut client, server) = pair().await;
        let server = rt::spawn(echo(server));
        SinkExt::send(&mut client, Message::text("one")).await.unwrap();
        SinkExt::send(&mut client, Message::text("two")).await.unwrap();
        assert_eq!(StreamExt::next(&mut client).await.unwrap().unwrap(), Message::text("one"));
        assert_eq!(StreamExt::next(&mut client).await.unwrap().unwrap(), Message::text("two"));
        SinkExt::close(&mut client).await.unwrap();
        assert!(StreamExt::next(&mut client).await.is_none());
        assert!(server.await.unwrap().is_clean());
    })
}

// An unsplit connection owns its state; split halves share it. Reuniting while another
// Sender clone is still alive must keep both working on the one connection (the state
// stays shared until that clone is gone), and messages queued by either side keep their
// order.
#[test]
fn reunite_with_a_sender_clone_still_alive_keeps_both_working() {
    run(async {
        let (client, server) = pair().await;
        let server = rt::spawn(echo(server));
        let (reader, sender) = client.split();
        let other = sender.clone();
        let mut client = reader.reunite(sender).unwrap();
        client.send_text("from the connection").await.unwrap();
        other.send_text("from the clone").await.unwrap();
        assert_eq!(client.recv_text().await.unwrap(), "from the connection");
        assert_eq!(client.recv_text().await.unwrap(), "from the clone");
        drop(other);
        // Split and reunite again with no clone left: back to an owned connection.
        let (reader, sender) = client.split();
        let mut client = reader.reunite(sender).unwrap();
        client.send_text("again").await.unwrap();
        assert_eq!(client.recv_text().await.unwrap(), "again");
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(client.closed().is_some_and(|c| c.is_clean()));
        assert!(server.await.unwrap().is_clean());
    })
}
