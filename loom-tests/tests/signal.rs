//! The signal behind a group's stop signal, an actor's kill switch and a
//! tree's "ready" and "ended": raising it skips the waiters' list when
//! nobody is on it, so a wait that registers while it is raised must still
//! end (see the fence handshake in `stage-core/src/signal.rs`). Nothing but
//! the raise under test can wake a waiter here: a lost wakeup is a loom
//! deadlock.
#![cfg(loom)]

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;
use loom_tests::model;
use stage_core::signal::Signal;

#[test]
fn a_wait_that_registers_while_the_signal_is_raised_ends() {
    model(3, || {
        let signal = Arc::new(Signal::default());
        let waiter = {
            let signal = Arc::clone(&signal);
            thread::spawn(move || block_on(signal.requested()))
        };
        signal.request();
        waiter.join().unwrap();
        assert!(signal.is_requested());
    });
}

#[test]
fn every_waiter_ends_and_a_second_raise_changes_nothing() {
    model(2, || {
        let signal = Arc::new(Signal::default());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let signal = Arc::clone(&signal);
                thread::spawn(move || block_on(signal.requested()))
            })
            .collect();
        let raiser = {
            let signal = Arc::clone(&signal);
            thread::spawn(move || signal.request())
        };
        signal.request();
        raiser.join().unwrap();
        for waiter in waiters {
            waiter.join().unwrap();
        }
    });
}
