//! Shutdown is explicit and observable: nothing is dropped silently.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use stage::mailbox::{RecvError, TryRecvError, TrySendError};

use support::settle;

#[tokio::test]
async fn close_lets_receivers_drain_then_tells_them_it_is_closed() {
    let (tx, rx) = stage::mailbox(4);
    tx.send(1).await.unwrap();
    tx.send(2).await.unwrap();
    assert!(tx.close());

    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.recv_or_closed().await, Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(rx.recv_or_closed().await, Err(RecvError));
}

#[tokio::test]
async fn sends_after_close_hand_the_message_back() {
    let (tx, rx) = stage::mailbox(4);
    rx.close();
    assert_eq!(tx.send("a").await.unwrap_err().into_inner(), "a");
    assert_eq!(tx.try_send("b"), Err(TrySendError::Closed("b")));
    assert_eq!(tx.send_blocking("c").unwrap_err().0, "c");
}

#[tokio::test]
async fn close_releases_a_sender_waiting_on_a_full_mailbox_with_its_message() {
    let (tx, rx) = stage::mailbox(1);
    tx.send(1).await.unwrap();
    let waiting = tokio::spawn({
        let tx = tx.clone();
        async move { tx.send(2).await }
    });
    settle().await;
    assert!(
        !waiting.is_finished(),
        "the mailbox is full: the send waits"
    );
    rx.close();
    assert_eq!(waiting.await.unwrap().unwrap_err().into_inner(), 2);
    // The message queued before the close is still there.
    assert_eq!(rx.recv_or_closed().await, Ok(1));
}

#[tokio::test]
async fn close_wakes_every_waiting_receiver() {
    let (tx, rx) = stage::mailbox::<u8>(1);
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move { rx.recv_or_closed().await })
        })
        .collect();
    settle().await;
    tx.close();
    for w in waiting {
        assert_eq!(w.await.unwrap(), Err(RecvError));
    }
}

#[tokio::test]
async fn the_stream_view_ends_once_closed_and_drained() {
    let (tx, rx) = stage::mailbox(8);
    let consumer = tokio::spawn(rx.collect::<Vec<u32>>());
    for i in 0..5 {
        tx.send(i).await.unwrap();
    }
    tx.close();
    assert_eq!(consumer.await.unwrap(), [0, 1, 2, 3, 4]);
}

#[tokio::test(start_paused = true)]
async fn plain_recv_keeps_waiting_on_a_closed_and_drained_mailbox() {
    // `recv` is the receive of supervised consumers: it returns a message or
    // waits; it never invents one. (The clock is paused, so this timeout
    // elapses without sleeping.)
    let (tx, rx) = stage::mailbox::<u8>(1);
    tx.close();
    let waited = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await;
    assert!(waited.is_err());
}

#[tokio::test]
async fn dropping_every_sender_does_not_close_the_mailbox() {
    let (tx, rx) = stage::mailbox(2);
    tx.send(1).await.unwrap();
    drop(tx);
    assert!(!rx.is_closed());
    assert_eq!(rx.recv().await, 1);
}
