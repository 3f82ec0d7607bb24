//! Mailboxes survive their consumers: a consumer that panics or is aborted
//! takes no queued message with it and strands no waiting peer.

mod support;

use std::time::Duration;

use support::settle;

#[tokio::test]
async fn a_panicking_consumer_leaves_queued_messages_for_the_next_one() {
    let (tx, rx) = stage::mailbox(8);
    for i in 0..4 {
        tx.send(i).await.unwrap();
    }
    let crashing = tokio::spawn({
        let rx = rx.clone();
        async move {
            let m: u32 = rx.recv().await;
            panic!("handler crashed on message {m}");
        }
    });
    assert!(crashing.await.unwrap_err().is_panic());

    // Senders are unaffected, and the other messages wait for a new consumer.
    tx.send(4).await.unwrap();
    let next = tokio::spawn({
        let rx = rx.clone();
        async move {
            let mut got = Vec::new();
            for _ in 0..4 {
                got.push(rx.recv().await);
            }
            got
        }
    });
    assert_eq!(next.await.unwrap(), [1, 2, 3, 4]);
}

#[tokio::test(start_paused = true)]
async fn an_aborted_waiting_consumer_does_not_strand_the_others() {
    let (tx, rx) = stage::mailbox(4);
    let aborted = tokio::spawn({
        let rx = rx.clone();
        async move { rx.recv().await }
    });
    let survivor = tokio::spawn({
        let rx = rx.clone();
        async move { rx.recv().await }
    });
    settle().await; // both consumers wait; the aborted one waited first
    aborted.abort();
    tx.send(7u8).await.unwrap();
    assert!(aborted.await.unwrap_err().is_cancelled());
    // The clock is paused: the timeout fires at once if nothing can run.
    let m = tokio::time::timeout(Duration::from_secs(10), survivor)
        .await
        .expect("the surviving consumer was never woken")
        .unwrap();
    assert_eq!(m, 7);
}

#[tokio::test(start_paused = true)]
async fn an_aborted_waiting_sender_does_not_strand_the_others() {
    let (tx, rx) = stage::mailbox(1);
    tx.send(0).await.unwrap();
    let aborted = tokio::spawn({
        let tx = tx.clone();
        async move { tx.send(1).await }
    });
    let patient = tokio::spawn({
        let tx = tx.clone();
        async move { tx.send(2).await }
    });
    settle().await; // both senders wait on the full mailbox
    aborted.abort();
    assert_eq!(rx.recv().await, 0);
    tokio::time::timeout(Duration::from_secs(10), patient)
        .await
        .expect("the patient sender was never woken")
        .unwrap()
        .unwrap();
    assert!(aborted.await.unwrap_err().is_cancelled());
    assert_eq!(rx.try_recv(), Ok(2));
    assert!(rx.is_empty());
}
