//! At-least-once receives: a message whose handler crashed, returned early
//! or was aborted before acknowledging it is delivered again, first; a
//! message that keeps failing becomes a dead letter instead of crashing
//! consumers forever.

mod support;

use std::sync::{Arc, Mutex};

use stage::mailbox::{Builder, DeadLetter, RecvError, TryRecvError, TrySendError};

use support::settle;

/// Where a collecting sink keeps the dead letters.
type Letters<T> = Arc<Mutex<Vec<DeadLetter<T>>>>;

/// A dead-letter sink that keeps what it is given.
fn collecting_sink<T: Send + 'static>() -> (Letters<T>, impl Fn(DeadLetter<T>) + Send + Sync) {
    let letters = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let letters = Arc::clone(&letters);
        move |letter| letters.lock().unwrap().push(letter)
    };
    (letters, sink)
}

#[tokio::test]
async fn a_message_whose_handler_panicked_is_redelivered_first_to_the_next_consumer() {
    let (tx, rx) = stage::mailbox(8);
    for job in ["a", "b", "c"] {
        tx.send(job).await.unwrap();
    }
    let crashed = tokio::spawn({
        let rx = rx.clone();
        async move {
            let delivery = rx.recv_guarded().await;
            assert_eq!(*delivery, "a");
            panic!("handler crashed on {}", *delivery);
        }
    });
    assert!(crashed.await.unwrap_err().is_panic());

    let again = rx.recv_guarded().await;
    assert_eq!((*again, again.attempt()), ("a", 2));
    again.ack();
    assert_eq!(rx.recv_guarded().await.into_inner(), "b");
    assert_eq!(rx.recv_guarded().await.into_inner(), "c");
    assert!(rx.is_empty());
    assert_eq!(rx.stats().redeliveries, 1);
}

#[tokio::test]
async fn a_message_whose_task_was_aborted_mid_message_is_redelivered() {
    let (tx, rx) = stage::mailbox(4);
    tx.send(1).await.unwrap();
    tx.send(2).await.unwrap();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let handler = tokio::spawn({
        let rx = rx.clone();
        async move {
            let delivery = rx.recv_guarded().await;
            started_tx.send(*delivery).unwrap();
            std::future::pending::<()>().await; // stuck mid-message
            delivery.ack();
        }
    });
    assert_eq!(started_rx.await.unwrap(), 1);
    handler.abort();
    assert!(handler.await.unwrap_err().is_cancelled());

    let again = rx.recv_guarded().await;
    assert_eq!((*again, again.attempt(), again.last_panic()), (1, 2, None));
}

#[tokio::test]
async fn acknowledged_messages_are_never_delivered_again() {
    let (tx, rx) = stage::mailbox(4);
    tx.send("ack").await.unwrap();
    tx.send("taken").await.unwrap();
    rx.recv_guarded().await.ack();
    let taken: &str = rx.recv_guarded().await.into_inner();
    assert_eq!(taken, "taken");
    assert_eq!(rx.try_recv_guarded().unwrap_err(), TryRecvError::Empty);
    assert_eq!(rx.stats().redeliveries, 0);
}

#[tokio::test]
async fn process_records_the_panic_message_and_lets_the_panic_through() {
    let (tx, rx) = stage::mailbox(4);
    tx.send(41).await.unwrap();
    let crashed = tokio::spawn({
        let rx = rx.clone();
        async move {
            let delivery = rx.recv_guarded().await;
            delivery
                .process(async |n: &mut i32| {
                    *n += 1; // what a crashed attempt did stays done
                    tokio::task::yield_now().await;
                    panic!("upstream timed out");
                })
                .await
        }
    });
    let err = crashed.await.unwrap_err();
    assert!(err.is_panic(), "the task still crashes");
    assert_eq!(
        *err.into_panic().downcast::<&str>().unwrap(),
        "upstream timed out"
    );

    let again = rx.recv_guarded().await;
    assert_eq!(
        (*again, again.attempt(), again.last_panic()),
        (42, 2, Some("upstream timed out"))
    );
    let doubled = again.process(async |n: &mut i32| *n * 2).await;
    assert_eq!(doubled, 84);
    assert!(rx.is_empty(), "a handler that returned acknowledged it");
}

#[tokio::test]
async fn a_poison_message_becomes_a_dead_letter_after_its_attempts() {
    let (letters, sink) = collecting_sink();
    let (tx, rx) = Builder::new(4).max_attempts(3).dead_letters(sink).build();
    tx.send("poison").await.unwrap();
    tx.send("fine").await.unwrap();

    for attempt in 1..=3 {
        let delivery = rx.recv_guarded().await;
        assert_eq!((*delivery, delivery.attempt()), ("poison", attempt));
        let crashed = delivery.process(async |_: &mut &str| panic!("bad input #{attempt}"));
        let outcome = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(crashed));
        assert!(outcome.await.is_err());
    }
    // The next receive skips the poison message and delivers the next one.
    assert_eq!(rx.recv_guarded().await.into_inner(), "fine");

    let letters = letters.lock().unwrap();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(
        (*letter.message(), letter.attempts(), letter.last_panic()),
        ("poison", 3, Some("bad input #3"))
    );
    assert_eq!(rx.stats().dead_letters, 1);
    assert_eq!(rx.stats().redeliveries, 3);
}

#[tokio::test]
async fn a_plain_receive_takes_a_message_put_back_too() {
    let (tx, rx) = stage::mailbox(4);
    tx.send(1).await.unwrap();
    tx.send(2).await.unwrap();
    drop(rx.recv_guarded().await);
    assert_eq!(rx.recv().await, 1, "put back ahead of 2, whatever the mode");
    assert_eq!(rx.recv().await, 2);
}

#[tokio::test]
async fn messages_put_back_keep_the_order_they_were_put_back_in() {
    let (tx, rx) = stage::mailbox(4);
    for n in 1..=4 {
        tx.send(n).await.unwrap();
    }
    let one = rx.recv_guarded().await;
    let two = rx.recv_guarded().await;
    drop(one);
    drop(two);
    let order: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(order, [1, 2, 3, 4]);
}

#[tokio::test]
async fn a_full_mailbox_takes_a_message_put_back_and_refuses_senders_until_it_drains() {
    let (tx, rx) = stage::mailbox(2);
    tx.send("in flight").await.unwrap();
    let delivery = rx.recv_guarded().await;
    tx.send("b").await.unwrap();
    tx.send("c").await.unwrap();
    assert!(tx.is_full());

    drop(delivery); // the consumer crashed while the mailbox was full
    assert_eq!(rx.len(), 3, "one over capacity: the message put back");
    assert_eq!(tx.try_send("d"), Err(TrySendError::Full("d")));

    assert_eq!(rx.recv().await, "in flight");
    assert_eq!(
        tx.try_send("d"),
        Err(TrySendError::Full("d")),
        "still at capacity"
    );
    assert_eq!(rx.recv().await, "b");
    tx.try_send("d").unwrap();
    assert_eq!(rx.len(), 2);
}

#[tokio::test]
async fn messages_put_back_count_against_capacity() {
    let (tx, rx) = stage::mailbox(2);
    tx.send(1).await.unwrap();
    let delivery = rx.recv_guarded().await;
    tx.send(2).await.unwrap();
    drop(delivery);
    // The queue itself has room for one more, but 1 is back: two queued.
    assert!(tx.is_full());
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    assert_eq!(rx.recv().await, 1);
    tx.try_send(3).unwrap();
}

#[tokio::test]
async fn a_sender_waiting_while_a_message_put_back_fills_the_mailbox_is_woken() {
    let (tx, rx) = stage::mailbox(2);
    tx.send(1).await.unwrap();
    let delivery = rx.recv_guarded().await;
    tx.send(2).await.unwrap();
    drop(delivery); // the lane holds 1, the queue 2: at capacity
    let waiting = tokio::spawn({
        let tx = tx.clone();
        async move { tx.send(3).await }
    });
    settle().await;
    assert!(
        !waiting.is_finished(),
        "the mailbox is full: the send waits"
    );

    assert_eq!(rx.recv().await, 1); // from the lane: room again
    waiting.await.unwrap().unwrap();
    assert_eq!(rx.recv().await, 2);
    assert_eq!(rx.recv().await, 3);
}

#[tokio::test]
async fn a_message_put_back_after_close_is_still_delivered() {
    let (tx, rx) = stage::mailbox(4);
    tx.send("last").await.unwrap();
    let delivery = rx.recv_guarded().await;
    tx.close();
    assert_eq!(
        rx.recv_guarded_or_closed().await.unwrap_err(),
        RecvError,
        "nothing queued"
    );
    drop(delivery);
    let again = rx.recv_guarded_or_closed().await.unwrap();
    assert_eq!((*again, again.attempt()), ("last", 2));
    again.ack();
    assert!(rx.recv_guarded_or_closed().await.is_err());
}

#[tokio::test]
async fn a_consumer_waiting_on_a_closed_mailbox_gets_a_message_put_back_later() {
    let (tx, rx) = stage::mailbox(4);
    tx.send(5).await.unwrap();
    let delivery = rx.recv_guarded().await;
    tx.close();
    let waiting = tokio::spawn({
        let rx = rx.clone();
        async move { rx.recv_guarded().await.into_inner() }
    });
    settle().await;
    assert!(!waiting.is_finished());
    drop(delivery);
    assert_eq!(waiting.await.unwrap(), 5);
}

#[tokio::test]
async fn without_a_sink_dead_letters_are_counted_and_dropped() {
    let (tx, rx) = Builder::new(1).max_attempts(1).build();
    let message = Arc::new(());
    tx.send(Arc::clone(&message)).await.unwrap();
    drop(rx.recv_guarded().await);
    assert_eq!(rx.try_recv_guarded().unwrap_err(), TryRecvError::Empty);
    assert_eq!(
        Arc::strong_count(&message),
        1,
        "the dead letter was dropped"
    );
    assert_eq!(rx.stats().dead_letters, 1);
}

#[test]
#[should_panic(expected = "a message needs at least one attempt")]
fn zero_attempts_are_refused() {
    let _ = Builder::<u8>::new(1).max_attempts(0);
}

#[tokio::test]
async fn an_owned_delivery_handled_in_a_spawned_task_comes_back_if_that_task_crashes() {
    let (tx, rx) = stage::mailbox(4);
    tx.send(String::from("render")).await.unwrap();
    let delivery = rx.recv_guarded().await.into_owned();
    let handler = tokio::spawn(async move {
        delivery
            .process(async |job: &mut String| panic!("{job} crashed"))
            .await
    });
    assert!(handler.await.unwrap_err().is_panic());

    let again = rx.recv_guarded().await.into_owned();
    assert_eq!(again.attempt(), 2);
    assert_eq!(again.last_panic(), Some("render crashed"));
    let handler = tokio::spawn(again.process(async |job: &mut String| job.len()));
    assert_eq!(handler.await.unwrap(), 6);
    assert!(rx.is_empty());
}

#[tokio::test]
async fn a_handler_can_dead_letter_a_message_it_can_never_handle() {
    let (letters, sink) = collecting_sink();
    let (tx, rx) = Builder::new(4).dead_letters(sink).build();
    tx.send("not json").await.unwrap();
    tx.send("{}").await.unwrap();
    let first = rx.recv_guarded().await;
    assert_eq!(*first, "not json");
    first.dead_letter();
    assert_eq!(rx.recv_guarded().await.into_inner(), "{}");

    let letters = letters.lock().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (*letters[0].message(), letters[0].attempts()),
        ("not json", 1)
    );
    assert_eq!(rx.stats().dead_letters, 1);
    assert_eq!(rx.stats().redeliveries, 0);
}

#[test]
fn a_thread_that_panics_holding_a_blocking_delivery_puts_it_back() {
    let (tx, rx) = stage::mailbox(4);
    tx.send_blocking(7).unwrap();
    let worker = std::thread::spawn({
        let rx = rx.clone();
        move || {
            let job = rx.recv_guarded_blocking().unwrap();
            panic!("worker thread died on {}", *job);
        }
    });
    assert!(worker.join().is_err());
    let again = rx.recv_guarded_blocking().unwrap();
    assert_eq!((*again, again.attempt()), (7, 2));
    again.ack();
    tx.close();
    assert!(rx.recv_guarded_blocking().is_err());
}
