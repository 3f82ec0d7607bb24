//! Faults around a Redis stream, against a real redis-server: a full
//! bounded stream, a server that restarts mid-run, a server that is not
//! there, settings that cannot work and messages that cannot be encoded.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use stage::redis::{ConnectError, LocalServer, SendError, Stream};
use support::{server, within, worker_1};

#[tokio::test]
async fn a_bounded_sender_waits_until_the_receivers_catch_up() {
    let (_server, orders) = server();
    let tx = orders.sender::<u32>().max_len(2).connect().await.unwrap();
    tx.send_batch(vec![1, 2]).await.unwrap();
    let third = tokio::spawn({
        let tx = tx.clone();
        async move { tx.send(3).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!third.is_finished(), "the stream is full: the send waits");
    assert!(tx.stats().full > 0);
    assert_eq!(tx.backlog().await.unwrap(), 2, "nothing trimmed");
    let inbox = worker_1(&orders).await;
    assert_eq!(within("a receive", inbox.recv()).await, 1);
    within("the third send", third).await.unwrap();
    for expected in [2, 3] {
        assert_eq!(within("a receive", inbox.recv()).await, expected);
    }
}

#[tokio::test]
async fn a_redis_restart_mid_run_loses_nothing_acknowledged() {
    let mut server = LocalServer::start_durable().unwrap();
    let orders = Stream::open(server.url(), "orders").unwrap();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    let inbox = orders
        .receiver::<u32>("billing", "worker-1")
        .batch(16)
        .connect()
        .await
        .unwrap();
    const N: u32 = 2000;
    let producer = tokio::spawn(async move {
        // Slow enough that the restart comes while it sends.
        for chunk in (0..N).collect::<Vec<_>>().chunks(20) {
            tx.send_batch(chunk.to_vec()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tx
    });
    let consumer = tokio::spawn({
        let inbox = inbox.clone();
        async move {
            let mut seen: HashMap<u32, u32> = HashMap::new();
            while seen.len() < N as usize {
                let order = inbox.recv_guarded().await;
                *seen.entry(*order).or_default() += 1;
                order.ack();
            }
            seen
        }
    });
    // A quarter in, the server dies and comes back with what it had
    // written.
    within("half the messages", async {
        while inbox.stats().acked < u64::from(N) / 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let down = tokio::task::spawn_blocking(move || {
        server.kill();
        std::thread::sleep(Duration::from_millis(300));
        server.restart().unwrap();
        server
    });
    let _server = within("the restart", down).await.unwrap();
    let seen = within("every message", consumer).await.unwrap();
    let tx = within("every send", producer).await.unwrap();
    let all: BTreeSet<u32> = seen.keys().copied().collect();
    assert_eq!(all, (0..N).collect(), "every message was handled");
    // A handled message comes again only if its acknowledgement was on
    // its way when the server died, or a send retried after its reply
    // was lost.
    let again = seen.values().filter(|n| **n > 1).count();
    assert!(again <= 200, "{again} handled twice");
    within("the acknowledgements", inbox.flush()).await;
    assert_eq!(within("the backlog", tx.backlog()).await.unwrap(), 0);
    let stats = inbox.stats();
    assert!(stats.errors > 0 && stats.reconnects > 0, "{stats:?}");
}

#[tokio::test]
async fn connecting_to_a_server_that_is_not_there_fails_at_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let orders = Stream::open(format!("redis://127.0.0.1:{port}/"), "orders").unwrap();
    let refused = within("the sender", orders.sender::<u32>().connect()).await;
    assert!(
        matches!(refused, Err(ConnectError::Redis(_))),
        "{refused:?}"
    );
    let refused = within(
        "the receiver",
        orders.receiver::<u32>("billing", "worker-1").connect(),
    )
    .await;
    assert!(
        matches!(refused, Err(ConnectError::Redis(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused_with_the_reason() {
    let (_server, orders) = server();
    let receiver = || orders.receiver::<u32>("billing", "worker-1");
    for (builder, reason) in [
        (receiver().batch(0), "batch"),
        (receiver().max_attempts(0), "attempts"),
        (receiver().claim_after(Duration::ZERO), "claim"),
    ] {
        match builder.connect().await {
            Err(ConnectError::Invalid(what)) => assert!(what.contains(reason), "{what}"),
            other => panic!("{reason}: {other:?}"),
        }
    }
    let huge = receiver()
        .batch(usize::MAX)
        .claim_after(Duration::MAX)
        .max_attempts(u32::MAX)
        .connect()
        .await;
    assert!(huge.is_ok(), "large settings are only large");
    let empty = orders.receiver::<u32>("", "worker-1").connect().await;
    assert!(matches!(empty, Err(ConnectError::Invalid(_))));
    let bound = orders.sender::<u32>().max_len(0).connect().await;
    assert!(matches!(bound, Err(ConnectError::Invalid(_))));
    // From a plain thread, outside any runtime: refused at once.
    let outside = std::thread::spawn({
        let orders = orders.clone();
        move || {
            futures_util::FutureExt::now_or_never(
                orders.receiver::<u32>("billing", "worker-9").connect(),
            )
            .expect("refused without waiting")
        }
    })
    .join()
    .unwrap();
    assert!(matches!(outside, Err(ConnectError::NoRuntime)));
}

#[tokio::test]
async fn a_message_that_cannot_be_encoded_is_handed_back() {
    let (_server, orders) = server();
    // JSON maps need string keys.
    let tx = orders
        .sender::<HashMap<(u8, u8), u8>>()
        .connect()
        .await
        .unwrap();
    let message = HashMap::from([((1, 2), 3)]);
    match tx.send(message.clone()).await {
        Err(SendError::Encode { message: back, .. }) => assert_eq!(back, message),
        other => panic!("{other:?}"),
    }
    match tx.send_batch(vec![HashMap::new(), message.clone()]).await {
        Err(error @ SendError::Encode { .. }) => {
            assert!(error.to_string().contains("encoded"));
            assert_eq!(error.into_inner().len(), 2, "none sent, all handed back");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(tx.backlog().await.unwrap(), 0);
}

#[tokio::test]
async fn a_key_that_is_not_a_stream_is_refused_not_retried() {
    let (server, orders) = server();
    let mut raw = support::connection(&server).await;
    let _: () = redis::cmd("SET")
        .arg("orders")
        .arg("a string")
        .query_async(&mut raw)
        .await
        .unwrap();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    match within("the send", tx.send(1)).await {
        Err(SendError::Redis { message, .. }) => assert_eq!(message, 1),
        other => panic!("{other:?}"),
    }
    let refused = orders
        .receiver::<u32>("billing", "worker-1")
        .connect()
        .await;
    assert!(
        matches!(refused, Err(ConnectError::Redis(_))),
        "{refused:?}"
    );
}
