//! At-least-once delivery: a delivery dropped without an acknowledgement,
//! concurrently with sends, receives and a close, puts its message back
//! exactly once, ahead of newer messages; nothing else is lost or duplicated;
//! the capacity holds, one message put back aside; no wakeup is lost.
//!
//! The single-receiver models run on the lock-free ring; those with two
//! receivers on the serialized one (see `mailbox_receivers.rs`).
//! Each is small enough for a preemption bound of 3 (about a second for the
//! file; bound 4 takes seven).
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Mutex};

use loom::future::block_on;
use loom::thread;
use loom_tests::model;
use stage_core::mailbox::{Builder, DeadLetter, TryRecvError};

#[test]
fn a_delivery_dropped_while_a_sender_sends_comes_back_once_and_first() {
    model(3, || {
        let (tx, rx) = stage_core::mailbox(1);
        block_on(tx.send('a')).unwrap();
        let delivery = rx.try_recv_guarded().unwrap();

        // 'b' is sent after 'a' was taken, while its handler crashes.
        let producer = thread::spawn(move || block_on(tx.send('b')).unwrap());
        drop(delivery);
        assert!(rx.len() <= 2, "at most one message over capacity");

        // The next receive gets 'a' again, ahead of 'b'. 'b' may still be
        // waiting for room: the message put back fills the mailbox.
        let again = block_on(rx.recv_guarded());
        assert_eq!((*again, again.attempt()), ('a', 2));
        again.ack();
        let next = block_on(rx.recv_guarded());
        assert_eq!((*next, next.attempt()), ('b', 1));
        next.ack();
        producer.join().unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(rx.stats().redeliveries, 1);
    });
}

#[test]
fn a_message_put_back_counts_against_capacity_for_senders() {
    model(3, || {
        let (tx, rx) = stage_core::mailbox(1);
        block_on(tx.send('a')).unwrap();
        let delivery = rx.try_recv_guarded().unwrap();
        let dropped = Arc::new(AtomicBool::new(false));

        let producer = thread::spawn({
            let dropped = Arc::clone(&dropped);
            move || {
                let after_drop = dropped.load(Ordering::SeqCst);
                let sent = tx.try_send('b');
                if after_drop {
                    // 'a' is back and fills the mailbox.
                    assert!(sent.unwrap_err().is_full());
                }
            }
        });
        drop(delivery);
        dropped.store(true, Ordering::SeqCst);
        producer.join().unwrap();
        // Over capacity only by the message put back, if 'b' got in first.
        assert!(rx.len() <= 2);
        assert_eq!(rx.try_recv(), Ok('a'));
    });
}

#[test]
fn a_waiting_receiver_is_woken_by_a_message_put_back() {
    model(3, || {
        let (tx, rx) = Builder::new(1).build_serialized();
        block_on(tx.send(7u8)).unwrap();
        let delivery = rx.try_recv_guarded().unwrap();

        // The only thing that can wake this receiver is the put-back.
        let rx2 = rx.clone();
        let consumer = thread::spawn(move || {
            let delivery = block_on(rx2.recv_guarded());
            let seen = (*delivery, delivery.attempt());
            delivery.ack();
            seen
        });
        drop(delivery);
        assert_eq!(consumer.join().unwrap(), (7, 2));
    });
}

#[test]
fn a_delivery_dropped_while_another_consumer_receives_is_delivered_exactly_once_more() {
    model(3, || {
        let (tx, rx) = Builder::new(2).build_serialized();
        block_on(tx.send('a')).unwrap();
        block_on(tx.send('b')).unwrap();
        let delivery = rx.try_recv_guarded().unwrap();
        let dropped = Arc::new(AtomicBool::new(false));

        let consumer = thread::spawn({
            let (rx, dropped) = (rx.clone(), Arc::clone(&dropped));
            move || {
                let after_drop = dropped.load(Ordering::SeqCst);
                let got = block_on(rx.recv_guarded());
                if after_drop {
                    // Started after the put-back: it must get 'a' first.
                    assert_eq!(*got, 'a');
                }
                let seen = (*got, got.attempt());
                got.ack();
                seen
            }
        });
        drop(delivery);
        dropped.store(true, Ordering::SeqCst);
        assert!(rx.len() <= 2, "the capacity holds");

        let theirs = consumer.join().unwrap();
        let ours = rx.try_recv_guarded().unwrap();
        let mut got = vec![theirs, (*ours, ours.attempt())];
        ours.ack();
        got.sort_unstable();
        assert_eq!(got, [('a', 2), ('b', 1)], "each once more, 'a' once more");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn a_message_put_back_during_a_close_is_not_lost() {
    model(3, || {
        let (tx, rx) = stage_core::mailbox(1);
        block_on(tx.send(3u8)).unwrap();
        let delivery = rx.try_recv_guarded().unwrap();

        let consumer = thread::spawn({
            let rx = rx.clone();
            move || block_on(rx.recv_guarded_or_closed()).map(|d| d.into_inner())
        });
        tx.close();
        drop(delivery);

        // The consumer either got the message back or saw the end before
        // it came back; then the mailbox still holds it.
        match consumer.join().unwrap() {
            Ok(message) => assert_eq!(message, 3),
            Err(_) => assert_eq!(rx.try_recv(), Ok(3)),
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn a_message_out_of_attempts_becomes_exactly_one_dead_letter() {
    model(3, || {
        let letters = Arc::new(Mutex::new(Vec::<DeadLetter<char>>::new()));
        let (tx, rx) = Builder::new(2)
            .max_attempts(1)
            .dead_letters({
                let letters = Arc::clone(&letters);
                move |letter| letters.lock().unwrap().push(letter)
            })
            .build_serialized();
        block_on(tx.send('p')).unwrap();
        block_on(tx.send('q')).unwrap();
        let poison = rx.try_recv_guarded().unwrap();

        let consumer = thread::spawn({
            let rx = rx.clone();
            move || block_on(rx.recv_guarded()).into_inner()
        });
        drop(poison); // its only attempt failed
        assert_eq!(consumer.join().unwrap(), 'q', "never delivered again");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

        let letters = letters.lock().unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!((*letters[0].message(), letters[0].attempts()), ('p', 1));
        assert_eq!(rx.stats().dead_letters, 1);
    });
}

#[test]
fn an_owned_delivery_dropped_on_another_thread_comes_back_to_a_waiting_receiver() {
    model(3, || {
        let (tx, rx) = stage_core::mailbox(1);
        block_on(tx.send(5u8)).unwrap();
        let delivery = rx.try_recv_guarded().unwrap().into_owned();

        // Its handler runs on another thread, and crashes there.
        let handler = thread::spawn(move || drop(delivery));
        let again = block_on(rx.recv_guarded());
        assert_eq!((*again, again.attempt()), (5, 2));
        again.ack();
        handler.join().unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    });
}
