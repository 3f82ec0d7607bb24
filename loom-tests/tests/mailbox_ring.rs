//! The mailbox's own ring: claims, stamps and laps, and the flags of the
//! wakeup handshake that ride in its indices (`stage-core/src/mailbox/queue.rs`).
//!
//! Each waiter here can only be woken by the operation under test: nothing
//! closes the mailbox, so a lost wakeup shows up as a loom deadlock, a
//! message lost or delivered twice as a failed assertion, and a slot read
//! while it is written as a loom data race. Models with two receivers run
//! on the serialized ring (see `mailbox_receivers.rs` for why); the others
//! on the lock-free one.
#![cfg(loom)]

use loom::future::block_on;
use loom::thread;
use loom_tests::model;

/// Two senders and two receivers on one slot: every message is received
/// once, whatever the order of the claims and of the flags set between
/// them.
#[test]
fn two_senders_and_two_receivers_share_one_slot_and_lose_nothing() {
    model(2, || {
        let (tx, rx) = stage_core::mailbox::mailbox_serialized::<u8>(1);
        let senders: Vec<_> = [1, 2]
            .into_iter()
            .map(|m| {
                let tx = tx.clone();
                thread::spawn(move || block_on(tx.send(m)).unwrap())
            })
            .collect();
        let other = {
            let rx = rx.clone();
            thread::spawn(move || block_on(rx.recv()))
        };
        let mine = block_on(rx.recv());
        for sender in senders {
            sender.join().unwrap();
        }
        let mut got = [mine, other.join().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// One slot, three messages, on the lock-free ring: each push waits for
/// the previous lap's pop (or finds it half-way), and the stamps carry the
/// laps, so the messages come out in order.
#[test]
fn messages_keep_their_order_across_laps_of_one_slot() {
    model(2, || {
        let (tx, rx) = stage_core::mailbox::<u8>(1);
        let producer = thread::spawn(move || {
            for m in 1..=3 {
                block_on(tx.send(m)).unwrap();
            }
        });
        let got: Vec<u8> = (0..3).map(|_| block_on(rx.recv())).collect();
        producer.join().unwrap();
        assert_eq!(got, [1, 2, 3]);
    });
}

/// A sender waiting for room in a full mailbox, while two receivers take
/// the message that fills it and the one it brings: the receive that frees
/// the slot reads the senders' flag from its claim and wakes it.
#[test]
fn a_sender_waiting_for_room_is_woken_by_either_of_two_receivers() {
    model(2, || {
        let (tx, rx) = stage_core::mailbox::mailbox_serialized::<u8>(1);
        tx.try_send(1).unwrap();
        let producer = thread::spawn(move || block_on(tx.send(2)).unwrap());
        let other = {
            let rx = rx.clone();
            thread::spawn(move || block_on(rx.recv()))
        };
        let mine = block_on(rx.recv());
        producer.join().unwrap();
        let mut got = [mine, other.join().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// Two senders race on one slot while the mailbox closes: a claim may find
/// the other sender's claim or the close between its read of the tail and
/// its compare-and-swap. Every message ends received or handed back, once,
/// and no send waits on after the close (a full ring concluded from an out
/// of date tail would leave one waiting).
#[test]
fn two_senders_racing_a_close_on_one_slot_are_received_or_refused() {
    model(2, || {
        let (tx, rx) = stage_core::mailbox::<u8>(1);
        let senders: Vec<_> = [1, 2]
            .into_iter()
            .map(|m| {
                let tx = tx.clone();
                thread::spawn(move || block_on(tx.send(m)).err().map(|refused| refused.0))
            })
            .collect();
        let first = rx.try_recv().ok();
        rx.close();
        let refused: Vec<u8> = senders
            .into_iter()
            .filter_map(|sender| sender.join().unwrap())
            .collect();
        let mut seen: Vec<u8> = first.into_iter().chain(rx.try_recv().ok()).collect();
        seen.extend(refused);
        seen.sort_unstable();
        assert_eq!(seen, [1, 2]);
    });
}
