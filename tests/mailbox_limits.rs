//! A mailbox at the edges: capacities that cannot be allocated, messages
//! whose `Drop` panics, and handles inside `catch_unwind`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use stage::mailbox::Builder;

#[test]
fn a_capacity_too_large_for_any_allocation_is_refused_with_an_error() {
    let error = Builder::<u64>::new(usize::MAX).try_build().unwrap_err();
    assert_eq!(error.capacity(), usize::MAX);
    assert!(
        error
            .to_string()
            .contains("larger than any allocation can be"),
        "{error}"
    );
    assert!(Builder::<()>::new(usize::MAX).try_build().is_err());
}

#[test]
fn a_capacity_this_machine_cannot_allocate_is_refused_with_an_error() {
    // 256 TiB of slots: more than a 64-bit process can map.
    let error = Builder::<u64>::new(1 << 44).try_build().unwrap_err();
    assert!(
        error
            .to_string()
            .contains("more than this machine can allocate"),
        "{error}"
    );
}

#[test]
fn a_capacity_that_fits_is_allocated() {
    let (tx, rx) = Builder::<u64>::new(1 << 16).try_build().unwrap();
    tx.try_send(1).unwrap();
    assert_eq!((rx.capacity(), rx.try_recv()), (1 << 16, Ok(1)));
}

#[test]
#[should_panic(expected = "a mailbox of capacity 18446744073709551615 cannot be allocated")]
fn mailbox_panics_with_a_clear_message_on_a_capacity_it_cannot_allocate() {
    let _ = stage::mailbox::<u64>(usize::MAX);
}

/// Counts its drops; the one numbered `panics_at` panics when dropped.
struct Fragile {
    id: usize,
    panics_at: usize,
    drops: Arc<AtomicUsize>,
}

impl Drop for Fragile {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.id == self.panics_at {
            panic!("message {} panicked when dropped", self.id);
        }
    }
}

#[test]
fn a_message_whose_drop_panics_does_not_keep_the_others_from_being_dropped() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = stage::mailbox(8);
    for id in 0..6 {
        let fragile = Fragile {
            id,
            panics_at: 2,
            drops: Arc::clone(&drops),
        };
        assert!(tx.try_send(fragile).is_ok());
    }
    // One of them waits in the lane of messages put back.
    drop(rx.try_recv_guarded().unwrap());
    drop(tx);
    let dropped = catch_unwind(AssertUnwindSafe(move || drop(rx)));
    let panic = dropped.unwrap_err();
    assert_eq!(
        panic.downcast_ref::<String>().unwrap(),
        "message 2 panicked when dropped"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 6, "every message was dropped");
}

#[test]
fn handles_go_through_catch_unwind_without_assertions() {
    let (tx, rx) = Builder::new(4)
        .dead_letters(|_letter: stage::mailbox::DeadLetter<u32>| {})
        .build();
    let outcome = catch_unwind(|| {
        tx.try_send(1).unwrap();
        panic!("the handler crashed");
    });
    assert!(outcome.is_err());
    // The mailbox is as the panic left it.
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(catch_unwind(|| rx.is_empty()).unwrap());
}
