//! The slot an ask's answer goes through (`stage-core/src/answer.rs`):
//! written by the first of several ports, read by one asker, without a
//! lock. The asker is never left waiting once a port answered or the last
//! port left, only the first answer counts, and every answer is dropped
//! exactly once, whoever leaves first. A lost wakeup shows up as a loom
//! deadlock: nothing else wakes the asker here.
#![cfg(loom)]

use core::future::poll_fn;
use core::task::{Context, Waker};

use loom::future::block_on;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::model;
use stage_core::answer::Slot;

/// Counts its drops.
struct Counted(u32, Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

fn answer<T>(slot: &Slot<T>) -> T {
    block_on(poll_fn(|cx| slot.poll(cx)))
}

#[test]
fn a_waiting_asker_gets_the_answer() {
    model(3, || {
        let slot = Arc::new(Slot::new());
        let port = {
            let slot = Arc::clone(&slot);
            thread::spawn(move || {
                assert!(slot.settle(7).is_ok());
                assert!(!slot.drop_port(), "answered: nothing to settle");
            })
        };
        assert_eq!(answer(&slot), 7);
        assert!(slot.is_closed(), "the asker has its answer");
        port.join().unwrap();
    });
}

#[test]
fn the_first_of_two_ports_wins() {
    model(2, || {
        let slot = Arc::new(Slot::new());
        slot.add_port();
        let ports: Vec<_> = [1, 2]
            .map(|n| {
                let slot = Arc::clone(&slot);
                thread::spawn(move || {
                    let won = slot.settle(n).is_ok();
                    slot.drop_port();
                    won
                })
            })
            .into_iter()
            .collect();
        let got = answer(&slot);
        let won: Vec<bool> = ports.into_iter().map(|p| p.join().unwrap()).collect();
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "one answer wins");
        assert!(won[(got - 1) as usize], "the asker got the winner's");
    });
}

#[test]
fn the_last_port_to_leave_unanswered_settles_the_slot() {
    model(2, || {
        let slot = Arc::new(Slot::new());
        slot.add_port();
        let leavers: Vec<_> = (0..2)
            .map(|_| {
                let slot = Arc::clone(&slot);
                thread::spawn(move || {
                    let last = slot.drop_port();
                    if last {
                        assert!(slot.settle(0).is_ok());
                    }
                    last
                })
            })
            .collect();
        assert_eq!(answer(&slot), 0, "the reason there is no answer");
        let last: Vec<bool> = leavers.into_iter().map(|l| l.join().unwrap()).collect();
        assert_eq!(
            last.iter().filter(|l| **l).count(),
            1,
            "one port is the last"
        );
    });
}

#[test]
fn an_answer_meets_an_asker_that_leaves_and_is_dropped_once() {
    model(3, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let slot = Arc::new(Slot::new());
        // The asker waits a while (its waker registered), then gives up.
        let mut cx = Context::from_waker(Waker::noop());
        assert!(slot.poll(&mut cx).is_pending());
        let port = {
            let (slot, drops) = (Arc::clone(&slot), Arc::clone(&drops));
            thread::spawn(move || {
                // Refused (the asker left first): handed back, dropped here.
                let _ = slot.settle(Counted(5, drops));
                slot.drop_port();
            })
        };
        slot.close();
        port.join().unwrap();
        assert!(slot.is_closed());
        drop(slot);
        assert_eq!(drops.load(Ordering::Relaxed), 1);
    });
}

#[test]
fn an_asker_polled_again_by_another_task_is_woken() {
    model(3, || {
        let slot = Arc::new(Slot::new());
        // First polled by one task...
        let mut cx = Context::from_waker(Waker::noop());
        assert!(slot.poll(&mut cx).is_pending());
        let port = {
            let slot = Arc::clone(&slot);
            thread::spawn(move || {
                let _ = slot.settle(Counted(9, Arc::new(AtomicUsize::new(0))));
            })
        };
        // ...then awaited by another, while the answer comes.
        let got = answer(&slot);
        assert_eq!(got.0, 9);
        port.join().unwrap();
    });
}

#[test]
fn an_answer_nobody_takes_is_dropped_once() {
    model(3, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let slot = Arc::new(Slot::new());
        let port = {
            let (slot, drops) = (Arc::clone(&slot), Arc::clone(&drops));
            thread::spawn(move || {
                // Stored (dropped with the slot) or refused (dropped here).
                let _ = slot.settle(Counted(3, drops));
            })
        };
        slot.close(); // the asker leaves without ever polling
        port.join().unwrap();
        drop(slot);
        assert_eq!(drops.load(Ordering::Relaxed), 1);
    });
}
