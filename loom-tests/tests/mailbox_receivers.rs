//! The wakeup protocol with several receivers.
//!
//! Two receivers that find a push half-way both wait for it, yielding to
//! each other, and loom can keep scheduling them over the pusher: a path
//! without end, which loom reports as exceeding its branch limit. So these
//! models run over a serialized ring (`mailbox_serialized`): the same ring,
//! flags and wait lists, its pushes and pops one at a time, while waiters
//! set their flags outside that lock. The lock-free ring is modelled with
//! one receiver (`mailbox_wakeups.rs`, `mailbox_delivery.rs`,
//! `mailbox_ring.rs`).
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use loom::future::block_on;
use loom::thread;
use loom_tests::model;

#[test]
fn two_waiting_receivers_are_both_served() {
    model(2, || {
        let (tx, rx) = stage_core::mailbox::mailbox_serialized(2);
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || block_on(rx.recv()))
            })
            .collect();
        block_on(tx.send(1u8)).unwrap();
        block_on(tx.send(2u8)).unwrap();
        let mut got: Vec<u8> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn a_receive_cancelled_after_its_wakeup_passes_the_wakeup_on() {
    model(2, || {
        let (tx, rx) = stage_core::mailbox::mailbox_serialized::<u8>(1);

        // The first receiver starts waiting (the mailbox is empty) ...
        let mut cancelled = Box::pin(rx.recv());
        poll_until_waiting(cancelled.as_mut());

        // ... a second receiver waits too, and a message is sent while the
        // first receiver's task is aborted (its future dropped), possibly
        // after it was picked for the wakeup.
        let rx2 = rx.clone();
        let consumer = thread::spawn(move || block_on(rx2.recv()));
        let producer = thread::spawn(move || block_on(tx.send(9)).unwrap());
        drop(cancelled);

        producer.join().unwrap();
        assert_eq!(consumer.join().unwrap(), 9);
    });
}

#[test]
fn a_waiting_receiver_polled_again_with_another_waker_is_still_woken() {
    model(3, || {
        // The only waiter registers, with a first waker ...
        let (tx, rx) = stage_core::mailbox::<u8>(1);
        let mut waiting = Box::pin(rx.recv());
        poll_until_waiting(waiting.as_mut());

        // ... then a send races a poll with another task's waker (the
        // future moved to another task, or a spurious wakeup): whichever
        // waker the notification takes, the receive completes.
        let producer = thread::spawn(move || block_on(tx.send(5)).unwrap());
        assert_eq!(block_on(waiting), 5);
        producer.join().unwrap();
    });
}

#[test]
fn close_wakes_every_waiting_receiver() {
    model(2, || {
        let (tx, rx) = stage_core::mailbox::mailbox_serialized::<u8>(1);
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || block_on(rx.recv_or_closed()))
            })
            .collect();
        tx.close();
        for c in consumers {
            assert!(c.join().unwrap().is_err());
        }
    });
}

#[test]
fn two_waiting_senders_are_both_served() {
    model(2, || {
        let (tx, rx) = stage_core::mailbox::mailbox_serialized(1);
        tx.try_send(0u8).unwrap();
        let producers: Vec<_> = [1u8, 2]
            .into_iter()
            .map(|m| {
                let tx = tx.clone();
                thread::spawn(move || block_on(tx.send(m)).unwrap())
            })
            .collect();
        let mut got: Vec<u8> = (0..3).map(|_| block_on(rx.recv())).collect();
        for p in producers {
            p.join().unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2]);
    });
}

/// A stream's `next()` given up mid-wait leaves the stream's wait
/// registered in its receiver, with nobody to poll it. The message's
/// wakeup may reach that wait first: it is passed on as well, so a clone
/// waiting in `recv()` is woken (a lost wakeup shows as a loom deadlock,
/// as the stream's receiver is kept, unpolled, until the end).
#[test]
fn a_stream_wait_that_nobody_polls_passes_its_wakeup_on() {
    model(2, || {
        let (tx, mut rx) = stage_core::mailbox::mailbox_serialized::<u8>(1);
        poll_next_until_waiting(&mut rx);
        let waiting = {
            let clone = rx.clone();
            thread::spawn(move || block_on(clone.recv()))
        };
        let sender = thread::spawn(move || tx.try_send(1).unwrap());
        sender.join().unwrap();
        assert_eq!(waiting.join().unwrap(), 1);
        drop(rx);
    });
}

/// Polls `rx` as a stream until it is pending without having woken itself:
/// its wait is registered, as a `next()` given up would leave it.
fn poll_next_until_waiting(rx: &mut stage_core::mailbox::Receiver<u8>) {
    loop {
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(Arc::clone(&flag));
        let polled =
            futures_core::Stream::poll_next(Pin::new(&mut *rx), &mut Context::from_waker(&waker));
        assert!(polled.is_pending());
        if !flag.0.load(Ordering::SeqCst) {
            return;
        }
    }
}

/// A waker that remembers whether it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Polls `fut` until it is pending without having woken itself: it waits
/// registered (its first polls may only yield to the executor).
fn poll_until_waiting<F: Future>(mut fut: Pin<&mut F>) {
    loop {
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(Arc::clone(&flag));
        assert!(fut
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        if !flag.0.load(Ordering::SeqCst) {
            return;
        }
    }
}
