//! Wakeups over the real lock-free queue, one waiter at a time. Each waiter
//! here can only be woken by the operation under test: nothing closes the
//! mailbox behind its back, so a lost wakeup shows up as a loom deadlock.
#![cfg(loom)]

use loom::future::block_on;
use loom::thread;
use loom_tests::model;

#[test]
fn a_waiting_receiver_is_woken_by_a_send() {
    model(3, || {
        let (tx, rx) = stage_core::mailbox(1);
        let consumer = thread::spawn(move || block_on(rx.recv()));
        block_on(tx.send(7)).unwrap();
        assert_eq!(consumer.join().unwrap(), 7);
    });
}

#[test]
fn a_waiting_sender_is_woken_by_a_receive() {
    model(3, || {
        let (tx, rx) = stage_core::mailbox(1);
        tx.try_send(1).unwrap();
        let producer = thread::spawn(move || block_on(tx.send(2)));
        assert_eq!(block_on(rx.recv()), 1);
        assert_eq!(block_on(rx.recv()), 2);
        producer.join().unwrap().unwrap();
    });
}

#[test]
fn close_wakes_a_waiting_sender_and_hands_its_message_back() {
    model(3, || {
        let (tx, rx) = stage_core::mailbox(1);
        tx.try_send(1).unwrap();
        let producer = thread::spawn(move || block_on(tx.send(2)));
        rx.close();
        match producer.join().unwrap() {
            // The close came first: the message is handed back ...
            Err(err) => assert_eq!(err.into_inner(), 2),
            // ... or the send completed before it; never lost, never both.
            Ok(()) => unreachable!("the mailbox stayed full until the close"),
        }
        assert_eq!(rx.try_recv(), Ok(1));
        assert!(rx.try_recv().unwrap_err().is_closed());
    });
}

#[test]
fn close_wakes_a_waiting_receiver() {
    model(3, || {
        let (tx, rx) = stage_core::mailbox::<u8>(1);
        let consumer = thread::spawn(move || block_on(rx.recv_or_closed()));
        tx.close();
        assert!(consumer.join().unwrap().is_err());
    });
}

#[test]
fn two_first_sends_race_to_make_the_queue_and_both_arrive() {
    model(3, || {
        // Nothing was sent yet: the queue is made by the first send.
        let (tx, rx) = stage_core::mailbox(2);
        let tx2 = tx.clone();
        let other = thread::spawn(move || tx2.try_send(1u8));
        tx.try_send(2u8).unwrap();
        other.join().unwrap().unwrap();
        let mut got = [rx.try_recv().unwrap(), rx.try_recv().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn a_first_send_racing_a_close_is_received_or_handed_back() {
    model(3, || {
        let (tx, rx) = stage_core::mailbox(1);
        let sender = thread::spawn(move || tx.try_send(7u8));
        rx.close();
        match sender.join().unwrap() {
            // The send made the queue first: the close closed that queue,
            // and the message waits to be drained.
            Ok(()) => assert_eq!(rx.try_recv(), Ok(7)),
            // The close came first: the message is handed back.
            Err(err) => assert_eq!(err.into_inner(), 7),
        }
        assert!(rx.try_recv().unwrap_err().is_closed());
    });
}
