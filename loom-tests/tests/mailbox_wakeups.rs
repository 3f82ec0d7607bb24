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
