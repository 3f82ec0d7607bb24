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

/// A `next()` given up mid-wait (here under a timeout) leaves the stream's
/// wait registered in its receiver, with nobody to poll it: the next
/// message's wakeup must still reach a clone waiting in `recv()`.
#[tokio::test(start_paused = true)]
async fn a_next_given_up_mid_wait_does_not_strand_a_clone_waiting_in_recv() {
    let (tx, mut rx) = stage::mailbox::<u32>(4);
    give_up_a_next(&mut rx).await;
    let waiting = tokio::spawn({
        let clone = rx.clone();
        async move { clone.recv().await }
    });
    settle().await; // the clone waits, after the stream's stale wait
    tx.send(1).await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the clone was never woken, with the message queued")
        .unwrap();
    assert_eq!(m, 1);
}

/// The same, with the same receiver's own `recv()` waiting after its
/// stream's stale wait.
#[tokio::test(start_paused = true)]
async fn a_next_given_up_mid_wait_does_not_strand_the_same_receivers_recv() {
    let (tx, mut rx) = stage::mailbox::<u32>(4);
    give_up_a_next(&mut rx).await;
    let sender = tokio::spawn(async move {
        settle().await; // the receiver's recv() waits first
        tx.send(2).await.unwrap();
    });
    let m = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("recv() was never woken, with the message queued");
    assert_eq!(m, 2);
    sender.await.unwrap();
}

/// Gives up a `next()` of `rx` as a stream while it waits (a timeout on an
/// empty mailbox, on the paused clock), leaving its wait registered.
async fn give_up_a_next(rx: &mut stage::mailbox::Receiver<u32>) {
    use futures_util::StreamExt;

    let given_up = tokio::time::timeout(Duration::from_millis(10), rx.next()).await;
    assert!(given_up.is_err(), "nothing was sent yet");
}
