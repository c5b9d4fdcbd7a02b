//! The same conversations over a slow transport (1-byte reads, 7-byte writes, `Pending`
//! between every call), on both ends: every partial read, partial write and resume path.

use tether_rt::Bytes;

use super::*;

type SlowWs = Ws<Slow<Stream>>;

async fn slow_pair() -> (SlowWs, SlowWs) {
    let (listener, addr) = rt::listen().await;
    let accepted = rt::spawn(async move {
        let stream = Slow::new(rt::accept(&listener).await);
        Upgrade::<Slow<Stream>, R>::read(stream)
            .await
            .expect("read")
            .accept_with(&AcceptOptions::new().protocol("p"))
            .await
            .expect("accept")
    });
    let client = ClientBuilder::<R>::new(&format!("ws://{addr}/slow?x=1"))
        .protocol("p")
        .connect_on(Slow::new(rt::connect(addr).await))
        .await
        .expect("connect");
    (client, accepted.await)
}

#[test]
fn slow_transport_echo_and_close() {
    run(async {
        let (mut client, server) = slow_pair().await;
        assert_eq!(client.protocol(), Some("p"));
        let server = rt::spawn(echo(server));
        client.send_text("over a slow link").await.unwrap();
        assert_eq!(client.recv_text().await.unwrap(), "over a slow link");
        let mid: Bytes = (0..20_000u32).map(|i| i as u8).collect::<Vec<u8>>().into();
        client.send_bytes(mid.clone()).await.unwrap();
        assert_eq!(client.recv_bytes().await.unwrap(), mid);
        client.set_control_messages(true);
        client.ping(&b"slow"[..]).await.unwrap();
        assert_eq!(client.recv().await.unwrap(), Some(Message::Pong(Bytes::from_static(b"slow"))));
        client.close(CloseCode::NORMAL, "done").await.unwrap();
        assert!(client.closed().unwrap().is_clean());
        let closed = server.await.unwrap();
        assert_eq!(closed.reason, "done");
    })
}

#[test]
fn slow_transport_batches_and_split() {
    run(async {
        let (client, server) = slow_pair().await;
        let server = rt::spawn(echo(server));
        let (mut reader, sender) = client.split();
        let batch: Vec<Message> = (0..20).map(|i| Message::text(format!("b{i}"))).collect();
        sender.send_batch(batch.clone()).await.unwrap();
        let mut got = Vec::new();
        while got.len() < batch.len() {
            got.extend(reader.recv_batch(batch.len(), Duration::from_secs(5)).await.unwrap());
        }
        assert_eq!(got, batch);
        sender.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(reader.recv().await.unwrap().is_none());
        assert!(server.await.unwrap().is_clean());
    })
}
