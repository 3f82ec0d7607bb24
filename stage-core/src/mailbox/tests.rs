use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_util::task::{waker, ArcWake};
use futures_util::{FutureExt, StreamExt};

use super::*;

/// A waker that counts how often it was woken.
#[derive(Default)]
struct Wakes(AtomicUsize);

impl ArcWake for Wakes {
    fn wake_by_ref(this: &Arc<Self>) {
        this.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<Wakes>, Waker) {
    let wakes = Arc::new(Wakes::default());
    (wakes.clone(), waker(wakes))
}

fn poll_once<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(waker))
}

/// Polls `fut` until it waits registered (its first pending polls only
/// yield to the executor, waking themselves), and returns the waker it waits
/// with.
fn start_waiting<F: Future + Unpin>(fut: &mut F) -> (Arc<Wakes>, Waker) {
    for _ in 0..=usize::from(super::wait::YIELDS) {
        let (wakes, waker) = counting_waker();
        assert!(poll_once(fut, &waker).is_pending());
        if woken(&wakes) == 0 {
            return (wakes, waker);
        }
    }
    panic!("the future kept yielding instead of waiting");
}

fn woken(wakes: &Wakes) -> usize {
    wakes.0.load(Ordering::SeqCst)
}

#[test]
fn messages_arrive_in_fifo_order() {
    let (tx, rx) = mailbox(4);
    for i in 0..4 {
        tx.try_send(i).unwrap();
    }
    let got: Vec<_> = (0..4).map(|_| rx.try_recv().unwrap()).collect();
    assert_eq!(got, [0, 1, 2, 3]);
}

#[test]
#[should_panic(expected = "a mailbox needs a capacity of at least 1")]
fn zero_capacity_is_refused_at_construction() {
    let _ = mailbox::<()>(0);
}

#[test]
fn dropping_every_sender_keeps_queued_messages_and_the_mailbox_open() {
    let (tx, rx) = mailbox(2);
    tx.try_send(1).unwrap();
    drop(tx);
    assert!(!rx.is_closed());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn dropping_receivers_keeps_queued_messages_for_the_next_one() {
    let (tx, rx) = mailbox(2);
    let survivor = rx.clone();
    tx.try_send("a").unwrap();
    drop(rx);
    assert!(!tx.is_closed());
    assert_eq!(survivor.try_recv(), Ok("a"));
}

#[test]
fn a_waiting_receiver_is_woken_by_a_send() {
    let (tx, rx) = mailbox(1);
    let mut recv = rx.recv();
    let (wakes, waker) = start_waiting(&mut recv);
    assert_eq!(rx.shared.receivers_unnotified(), 1);
    tx.try_send(7).unwrap();
    assert_eq!(woken(&wakes), 1);
    // Woken and counted out: further sends make no notification (no lock)
    // while this receiver has not run yet.
    assert_eq!(rx.shared.receivers_unnotified(), 0);
    assert_eq!(poll_once(&mut recv, &waker), Poll::Ready(7));
}

#[test]
fn a_waiting_sender_is_woken_by_a_receive() {
    let (tx, rx) = mailbox(1);
    tx.try_send(1).unwrap();
    let mut send = tx.send(2);
    let (wakes, waker) = start_waiting(&mut send);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(woken(&wakes), 1);
    assert_eq!(poll_once(&mut send, &waker), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn no_notification_is_made_while_nobody_waits() {
    let (tx, rx) = mailbox(1);
    let mut recv = rx.recv();
    let (wakes, _waker) = start_waiting(&mut recv);
    drop(recv);
    // The cancelled wait deregistered itself: the count is back to zero.
    assert_eq!(rx.shared.receivers_unnotified(), 0);
    tx.try_send(1).unwrap();
    assert_eq!(woken(&wakes), 0);
}

#[test]
fn two_waiting_receivers_are_both_served() {
    let (tx, rx) = mailbox(2);
    let mut r1 = rx.recv();
    let mut r2 = rx.recv();
    let (wakes1, waker1) = start_waiting(&mut r1);
    let (wakes2, waker2) = start_waiting(&mut r2);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!((woken(&wakes1), woken(&wakes2)), (1, 1));
    assert_eq!(poll_once(&mut r1, &waker1), Poll::Ready(1));
    assert_eq!(poll_once(&mut r2, &waker2), Poll::Ready(2));
}

#[test]
fn a_receive_cancelled_after_its_wakeup_passes_the_wakeup_on() {
    let (tx, rx) = mailbox(1);
    let mut r1 = rx.recv();
    let mut r2 = rx.recv();
    let (wakes1, _waker1) = start_waiting(&mut r1);
    let (wakes2, waker2) = start_waiting(&mut r2);
    tx.try_send(1).unwrap();
    assert_eq!((woken(&wakes1), woken(&wakes2)), (1, 0));
    drop(r1); // aborted before it could take the message
    assert_eq!(woken(&wakes2), 1);
    assert_eq!(poll_once(&mut r2, &waker2), Poll::Ready(1));
}

#[test]
fn a_send_cancelled_after_its_wakeup_passes_the_wakeup_on() {
    let (tx, rx) = mailbox(1);
    tx.try_send(0).unwrap();
    let mut s1 = tx.send(1);
    let mut s2 = tx.send(2);
    let (wakes1, _waker1) = start_waiting(&mut s1);
    let (wakes2, waker2) = start_waiting(&mut s2);
    assert_eq!(rx.try_recv(), Ok(0));
    drop(s1);
    assert_eq!(woken(&wakes2), 1);
    assert_eq!(woken(&wakes1), 1);
    assert_eq!(poll_once(&mut s2, &waker2), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn close_wakes_every_waiter_and_hands_back_waiting_messages() {
    let (tx, rx) = mailbox(1);
    tx.try_send(0).unwrap();
    let mut send = tx.send(1);
    let (send_wakes, send_waker) = start_waiting(&mut send);

    let (tx2, rx2) = mailbox::<u8>(1);
    let mut recv = rx2.recv_or_closed();
    let (recv_wakes, recv_waker) = start_waiting(&mut recv);

    assert!(rx.close());
    assert!(tx2.close());
    assert_eq!((woken(&send_wakes), woken(&recv_wakes)), (1, 1));
    assert_eq!(
        poll_once(&mut send, &send_waker),
        Poll::Ready(Err(SendError(1)))
    );
    assert_eq!(
        poll_once(&mut recv, &recv_waker),
        Poll::Ready(Err(RecvError))
    );
    // The message queued before the close is still delivered.
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn recv_on_a_closed_and_drained_mailbox_sleeps_until_a_message_is_put_back() {
    let (tx, rx) = mailbox::<u8>(1);
    tx.try_send(7).unwrap();
    let in_flight = rx.try_recv_guarded().unwrap();
    tx.close();
    let (wakes, waker) = counting_waker();
    let mut recv = rx.recv();
    // It yields a few times, then registers and sleeps: no more self-wakes.
    for _ in 0..=super::wait::YIELDS {
        assert!(poll_once(&mut recv, &waker).is_pending());
    }
    let slept = woken(&wakes);
    assert!(poll_once(&mut recv, &waker).is_pending());
    assert_eq!(woken(&wakes), slept);

    drop(in_flight); // its handler crashed: the message comes back
    assert_eq!(woken(&wakes), slept + 1);
    assert_eq!(poll_once(&mut recv, &waker), Poll::Ready(7));
}

#[test]
fn the_stream_drains_then_ends_after_close() {
    let (tx, mut rx) = mailbox(3);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    tx.close();
    assert_eq!(rx.next().now_or_never(), Some(Some(1)));
    assert_eq!(rx.next().now_or_never(), Some(Some(2)));
    assert_eq!(rx.next().now_or_never(), Some(None));
    assert!(futures_core::FusedStream::is_terminated(&rx));
}

#[test]
fn an_ended_stream_stays_ended_when_a_message_is_put_back_later() {
    let (tx, mut rx) = mailbox(2);
    tx.try_send(1).unwrap();
    let consumer = rx.clone();
    let in_flight = consumer.try_recv_guarded().unwrap();
    tx.close();
    assert!(!futures_core::FusedStream::is_terminated(&rx));
    assert_eq!(rx.next().now_or_never(), Some(None));
    drop(in_flight); // put back after the stream ended
    assert!(futures_core::FusedStream::is_terminated(&rx));
    assert_eq!(rx.next().now_or_never(), Some(None));
    assert_eq!(consumer.try_recv(), Ok(1), "another receive gets it");
}

#[test]
fn a_stream_waiting_when_dropped_deregisters() {
    let (tx, mut rx) = mailbox::<u8>(1);
    let mut next = rx.next();
    start_waiting(&mut next);
    drop(next);
    assert_eq!(tx.shared.receivers_unnotified(), 1);
    drop(rx);
    assert_eq!(tx.shared.receivers_unnotified(), 0);
}

#[test]
fn blocking_send_and_receive_work_across_threads() {
    let (tx, rx) = mailbox(1);
    let producer = std::thread::spawn(move || {
        for i in 0..1000 {
            tx.send_blocking(i).unwrap();
        }
    });
    let got: Vec<u32> = (0..1000).map(|_| rx.recv_blocking().unwrap()).collect();
    producer.join().unwrap();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
}

#[test]
fn a_blocked_receiver_is_released_by_close() {
    let (tx, rx) = mailbox::<u8>(1);
    let consumer = std::thread::spawn(move || rx.recv_blocking());
    tx.close();
    assert_eq!(consumer.join().unwrap(), Err(RecvError));
}

#[test]
fn debug_does_not_need_the_message_to_be_debug() {
    struct Opaque;
    let (tx, rx) = mailbox(1);
    tx.try_send(Opaque).unwrap();
    assert_eq!(
        format!("{tx:?}"),
        "Sender { len: 1, capacity: 1, closed: false }"
    );
    assert!(format!("{rx:?}").starts_with("Receiver"));
    assert_eq!(
        format!("{:?}", tx.try_send(Opaque).unwrap_err()),
        "Full(..)"
    );
}

#[test]
fn every_wait_of_a_stream_yields_before_it_registers() {
    let (tx, mut rx) = mailbox(1);
    for round in 0..2 {
        let mut next = rx.next();
        let (yielded, first) = counting_waker();
        assert!(poll_once(&mut next, &first).is_pending());
        assert_eq!(
            woken(&yielded),
            1,
            "round {round}: the wait did not yield first"
        );
        // Use up the yields: the wait registers, then a send wakes it.
        let (wakes, waker) = start_waiting(&mut next);
        tx.try_send(round).unwrap();
        assert_eq!(woken(&wakes), 1);
        assert_eq!(poll_once(&mut next, &waker), Poll::Ready(Some(round)));
    }
}

#[test]
fn waiting_futures_wake_themselves_on_their_first_polls_as_documented() {
    let (tx, rx) = mailbox::<u8>(1);
    let mut recv = rx.recv();
    for _ in 0..super::wait::YIELDS {
        let (wakes, waker) = counting_waker();
        assert!(poll_once(&mut recv, &waker).is_pending());
        assert_eq!(woken(&wakes), 1, "a yield wakes the future's own waker");
    }
    let (wakes, waker) = counting_waker();
    assert!(poll_once(&mut recv, &waker).is_pending());
    assert_eq!(woken(&wakes), 0, "then it waits for a send");

    tx.try_send(1).unwrap();
    let mut send = tx.send(2);
    let (wakes, waker) = counting_waker();
    assert!(poll_once(&mut send, &waker).is_pending());
    assert_eq!(woken(&wakes), 1, "a full mailbox: the send yields too");
}

#[test]
fn the_lane_gives_back_the_memory_of_a_burst_of_put_backs() {
    const BURST: usize = 100_000;
    let (tx, rx) = mailbox::<usize>(BURST);
    for i in 0..BURST {
        tx.try_send(i).unwrap();
    }
    // A crash storm: every message is delivered and put back.
    let deliveries: Vec<_> = (0..BURST).map(|_| rx.try_recv_guarded().unwrap()).collect();
    drop(deliveries);
    assert!(rx.shared.lane_capacity() >= BURST);
    for _ in 0..BURST {
        rx.try_recv_guarded().unwrap().ack();
    }
    assert!(rx.is_empty());
    assert!(
        rx.shared.lane_capacity() <= 32,
        "the lane kept a buffer of {} messages",
        rx.shared.lane_capacity()
    );
}

#[test]
fn a_mailbox_allocates_its_buffer_at_the_first_send() {
    let (tx, rx) = mailbox::<u64>(64);
    assert!(!rx.shared.queue_is_made(), "nothing was sent yet");
    assert_eq!((rx.len(), rx.capacity(), rx.is_full()), (0, 64, false));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(!rx.shared.queue_is_made(), "a receive makes no buffer");
    tx.try_send(1).unwrap();
    assert!(rx.shared.queue_is_made());
    assert_eq!((rx.len(), rx.try_recv()), (1, Ok(1)));
}

#[test]
fn a_mailbox_closed_before_any_send_never_allocates_its_buffer() {
    let (tx, rx) = mailbox::<u64>(64);
    let mut recv = rx.recv_or_closed();
    start_waiting(&mut recv);
    assert!(tx.close(), "this call closed it");
    assert!(!tx.close(), "closed once");
    assert_eq!(
        poll_once(&mut recv, &futures_util::task::noop_waker()),
        Poll::Ready(Err(RecvError))
    );
    assert!(tx.is_closed() && rx.is_closed());
    assert_eq!(tx.try_send(2), Err(TrySendError::Closed(2)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert!(!rx.shared.queue_is_made());
}

#[test]
fn a_large_buffer_is_allocated_up_front() {
    // Above the lazy limit (1 MiB of slots): made by `build`, where an
    // allocation failure is the builder's error rather than an abort later.
    let (_tx, rx) = mailbox::<[u8; 1024]>(2048);
    assert!(rx.shared.queue_is_made());
}

thread_local! {
    /// What the next clone of a [`hooked_waker`] runs.
    static ON_CLONE: std::cell::RefCell<Option<Box<dyn FnOnce()>>> =
        std::cell::RefCell::new(None);
}

/// A waker that does nothing but run [`ON_CLONE`]'s hook when cloned: a
/// wait registers with a clone, so the hook runs between a wait's first
/// try and its re-check.
fn hooked_waker() -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    fn raw() -> RawWaker {
        RawWaker::new(std::ptr::null(), &VTABLE)
    }
    fn clone(_: *const ()) -> RawWaker {
        if let Some(hook) = ON_CLONE.with(|hook| hook.borrow_mut().take()) {
            hook();
        }
        raw()
    }
    fn ignore(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, ignore, ignore, ignore);
    // SAFETY: the vtable's functions keep RawWaker's contract trivially: the
    // data pointer is never read, and every clone is another such waker.
    unsafe { Waker::from_raw(raw()) }
}

#[test]
fn a_wait_whose_re_check_panics_leaves_no_registration_behind() {
    // A message out of attempts, put back between the receive's first try
    // and its re-check (by the waker's clone, as another consumer's crash
    // would), makes the re-check hand it to a sink that panics.
    let (tx, rx) = Builder::<u32>::new(4)
        .max_attempts(1)
        .dead_letters(|_| panic!("the sink failed"))
        .build();
    tx.try_send(666).unwrap();
    let in_flight = rx.try_recv_guarded().unwrap().into_owned();
    ON_CLONE.with(|hook| *hook.borrow_mut() = Some(Box::new(move || drop(in_flight))));

    let mut recv = rx.recv();
    let waker = hooked_waker();
    let mut panicked = false;
    for _ in 0..=super::wait::YIELDS {
        let poll = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            poll_once(&mut recv, &waker)
        }));
        if poll.is_err() {
            panicked = true;
            break;
        }
    }
    assert!(panicked, "the re-check ran into the sink");
    drop(recv);
    assert_eq!(rx.shared.receivers_unnotified(), 0, "no waiter left behind");

    // A receiver that waits now is the one a send wakes.
    let mut next = rx.recv();
    let (wakes, waker) = start_waiting(&mut next);
    tx.try_send(7).unwrap();
    assert_eq!(woken(&wakes), 1);
    assert_eq!(poll_once(&mut next, &waker), Poll::Ready(7));
}

/// A waker whose `wake` panics.
struct Explodes;

impl ArcWake for Explodes {
    fn wake_by_ref(_: &Arc<Self>) {
        panic!("a broken waker");
    }
}

/// Polls `fut` until it waits registered with a waker whose `wake` panics
/// (its first polls, which wake their waker as they yield, use one that
/// works).
fn wait_with_a_broken_waker<F: Future + Unpin>(fut: &mut F) {
    for _ in 0..super::wait::YIELDS {
        let (_, yielding) = counting_waker();
        assert!(poll_once(fut, &yielding).is_pending());
    }
    assert!(poll_once(fut, &waker(Arc::new(Explodes))).is_pending());
}

#[test]
fn close_wakes_every_waiting_receiver_even_if_a_waker_panics() {
    let (tx, rx) = mailbox::<u8>(1);
    let mut broken = rx.recv_or_closed();
    wait_with_a_broken_waker(&mut broken);
    let mut fine = rx.recv_or_closed();
    let (wakes, fine_waker) = start_waiting(&mut fine);

    let close = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.close()));
    assert!(close.is_err(), "the broken waker's panic comes through");
    assert_eq!(woken(&wakes), 1, "the other receiver was woken");
    assert_eq!(
        poll_once(&mut fine, &fine_waker),
        Poll::Ready(Err(RecvError))
    );
}

#[test]
fn close_wakes_every_waiting_sender_even_if_a_waker_panics() {
    let (tx, rx) = mailbox::<u8>(1);
    tx.try_send(0).unwrap();
    let mut broken = tx.send(1);
    wait_with_a_broken_waker(&mut broken);
    let mut fine = tx.send(2);
    let (wakes, fine_waker) = start_waiting(&mut fine);

    let close = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.close()));
    assert!(close.is_err(), "the broken waker's panic comes through");
    assert_eq!(woken(&wakes), 1, "the other sender was woken");
    match poll_once(&mut fine, &fine_waker) {
        Poll::Ready(Err(err)) => assert_eq!(err.into_inner(), 2),
        other => panic!("expected the message back, got {other:?}"),
    }
}

#[test]
fn a_send_that_wakes_a_broken_waker_hands_its_panic_to_the_sender() {
    let (tx, rx) = mailbox::<u8>(2);
    let mut broken = rx.recv();
    wait_with_a_broken_waker(&mut broken);

    let send = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.try_send(1)));
    assert!(send.is_err(), "the waker's panic comes through the send");
    assert_eq!(
        rx.shared.receivers_unnotified(),
        0,
        "the waiter was taken off"
    );
    drop(broken);
    assert_eq!(rx.try_recv(), Ok(1), "the message was queued all the same");
}

#[test]
fn a_delivery_dropped_in_a_panic_wakes_a_broken_waker_without_aborting() {
    let (tx, rx) = mailbox::<u8>(2);
    let other = rx.clone();
    tx.try_send(1).unwrap();
    let delivery = rx.try_recv_guarded().unwrap();
    let mut broken = other.recv();
    wait_with_a_broken_waker(&mut broken);
    let mut fine = other.recv();
    let (wakes, _) = start_waiting(&mut fine);

    // The delivery's drop, during the unwind, puts the message back and
    // wakes the broken waker: its panic must not be a second one (which
    // aborts the process), and the wakeup passes on.
    let handler = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _held = delivery;
        panic!("the handler");
    }));
    let payload = handler.expect_err("the handler panicked");
    assert_eq!(
        crate::runtime::panic_message(payload.as_ref()),
        Some("the handler")
    );
    assert_eq!(woken(&wakes), 1, "the waiter behind it was woken");
    drop((broken, fine));
    assert_eq!(rx.try_recv(), Ok(1), "the message is back");
}

#[test]
fn a_send_queues_behind_waiting_senders_at_once_and_in_turn() {
    let (tx, rx) = mailbox::<u8>(1);
    tx.try_send(0).unwrap();
    let mut first = tx.send(1);
    let (first_wakes, first_waker) = start_waiting(&mut first);

    // Another sender waits already: no yields, it registers at its first poll.
    let (second_wakes, second_waker) = counting_waker();
    let mut second = tx.send(2);
    assert!(poll_once(&mut second, &second_waker).is_pending());
    assert_eq!(woken(&second_wakes), 0, "it did not yield");

    // Room for one: the sender that waited first gets it.
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((woken(&first_wakes), woken(&second_wakes)), (1, 0));
    assert_eq!(poll_once(&mut first, &first_waker), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(woken(&second_wakes), 1);
    assert_eq!(poll_once(&mut second, &second_waker), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn a_receive_queues_behind_waiting_receivers_at_once_and_in_turn() {
    let (tx, rx) = mailbox::<u8>(1);
    let mut first = rx.recv();
    let (first_wakes, first_waker) = start_waiting(&mut first);

    let (second_wakes, second_waker) = counting_waker();
    let mut second = rx.recv();
    assert!(poll_once(&mut second, &second_waker).is_pending());
    assert_eq!(woken(&second_wakes), 0, "it did not yield");
    assert_eq!(rx.shared.receivers_unnotified(), 2);

    tx.try_send(1).unwrap();
    assert_eq!((woken(&first_wakes), woken(&second_wakes)), (1, 0));
    assert_eq!(poll_once(&mut first, &first_waker), Poll::Ready(1));
    tx.try_send(2).unwrap();
    assert_eq!(woken(&second_wakes), 1);
    assert_eq!(poll_once(&mut second, &second_waker), Poll::Ready(2));
}

#[test]
fn a_receive_that_wakes_a_broken_waker_leaves_its_message_next() {
    let (tx, rx) = mailbox::<u8>(1);
    tx.try_send(0).unwrap();
    let mut broken = tx.send(1);
    wait_with_a_broken_waker(&mut broken);

    let recv = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.try_recv()));
    assert!(recv.is_err(), "the waker's panic comes through the receive");
    assert_eq!(rx.len(), 1, "the message it took is back");
    drop(broken); // never polled again: its message is not sent
    assert_eq!(rx.try_recv(), Ok(0), "and it is the next");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.stats().redeliveries, 0, "no delivery failed");
}

#[test]
fn a_guarded_receive_from_the_lane_that_wakes_a_broken_waker_keeps_its_message() {
    let (tx, rx) = mailbox::<u8>(1);
    tx.try_send(0).unwrap();
    drop(rx.try_recv_guarded().unwrap()); // put back: the lane fills the mailbox
    let mut broken = tx.send(1);
    wait_with_a_broken_waker(&mut broken);

    let recv = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rx.try_recv_guarded().map(|delivery| delivery.into_inner())
    }));
    assert!(recv.is_err(), "the waker's panic comes through the receive");
    let again = rx.try_recv_guarded().unwrap();
    assert_eq!(
        (*again, again.attempt()),
        (0, 2),
        "still next, one attempt made"
    );
    again.ack();
}

#[test]
fn a_notification_whose_waker_panics_passes_on_to_the_next_waiter() {
    let (tx, rx) = mailbox::<u8>(2);
    let mut broken = rx.recv();
    wait_with_a_broken_waker(&mut broken);
    let mut fine = rx.recv();
    let (wakes, fine_waker) = start_waiting(&mut fine);

    let send = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.try_send(1)));
    assert!(send.is_err(), "the waker's panic comes through the send");
    assert_eq!(woken(&wakes), 1, "the waiter behind it was woken");
    assert_eq!(poll_once(&mut fine, &fine_waker), Poll::Ready(1));
}

/// A waker that runs `on_clone` at its first clone: the moment a wait
/// registers (it clones its waker just before it takes the list's lock).
struct CloneHook(std::sync::Mutex<Option<Box<dyn FnOnce() + core::marker::Send>>>);

fn clone_hook_waker(on_clone: impl FnOnce() + core::marker::Send + 'static) -> Waker {
    use std::mem::ManuallyDrop;
    use std::task::{RawWaker, RawWakerVTable};

    const VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, release);

    unsafe fn clone(hook: *const ()) -> RawWaker {
        // SAFETY: `hook` came from `Arc::into_raw` of an `Arc<CloneHook>`
        // that this waker (or a clone of it) still owns.
        let hook = ManuallyDrop::new(unsafe { Arc::from_raw(hook.cast::<CloneHook>()) });
        let on_clone = hook.0.lock().unwrap().take();
        if let Some(on_clone) = on_clone {
            on_clone();
        }
        RawWaker::new(Arc::into_raw(Arc::clone(&hook)).cast(), &VTABLE)
    }

    unsafe fn noop(_: *const ()) {}

    unsafe fn release(hook: *const ()) {
        // SAFETY: as in `clone`; this gives up this waker's share.
        drop(unsafe { Arc::from_raw(hook.cast::<CloneHook>()) });
    }

    let hook = Arc::new(CloneHook(std::sync::Mutex::new(Some(Box::new(on_clone)))));
    let raw = RawWaker::new(Arc::into_raw(hook).cast(), &VTABLE);
    // SAFETY: the vtable's functions keep the contract of `RawWaker`: each
    // waker owns one count of the `Arc`, given up by `release` (`wake`
    // by value is `noop` here, so a woken waker keeps its count until it
    // is dropped, which `Waker` does through `release`).
    unsafe { Waker::from_raw(raw) }
}

#[test]
fn a_receive_whose_re_check_passes_a_notification_to_a_broken_waker_keeps_its_message() {
    // The re-check of R finds a message sent after R registered, which
    // notified R; ending R's registration then passes that notification
    // on, to a waiter whose waker panics. The panic must not unwind
    // through R's poll, which holds the message.
    type Later = Box<dyn FnOnce() + core::marker::Send>;
    let in_sink: Arc<std::sync::Mutex<Option<Later>>> = Arc::default();
    let (tx, rx) = Builder::<u8>::new(4)
        .max_attempts(1)
        .dead_letters({
            let in_sink = Arc::clone(&in_sink);
            move |_| {
                if let Some(then) = in_sink.lock().unwrap().take() {
                    then();
                }
            }
        })
        .build();
    let parked = Arc::new(std::sync::Mutex::new(Vec::new()));
    *in_sink.lock().unwrap() = Some(Box::new({
        let (tx, other, parked) = (tx.clone(), rx.clone(), Arc::clone(&parked));
        move || {
            // R is registered now: B queues behind it, then a send
            // notifies R.
            let mut broken = Box::pin(async move { other.recv().await });
            let bomb = waker(Arc::new(Explodes));
            assert!(poll_once(&mut broken, &bomb).is_pending());
            tx.try_send(1).unwrap();
            parked.lock().unwrap().push(broken);
        }
    }));
    // At R's registration, a delivery out of attempts goes back: R's
    // re-check hands it to the sink, which runs the above.
    tx.try_send(0).unwrap();
    let spent = rx.try_recv_guarded().unwrap().into_owned();
    let hook = clone_hook_waker(move || drop(spent));

    let mut recv = rx.recv_or_closed();
    for _ in 0..super::wait::YIELDS {
        let (_, yielding) = counting_waker();
        assert!(poll_once(&mut recv, &yielding).is_pending());
    }
    let polled =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(&mut recv, &hook)));
    assert_eq!(polled.ok(), Some(Poll::Ready(Ok(1))), "R got the message");
    assert_eq!(rx.stats().dead_letters, 1);
    assert!(rx.is_empty());
    assert_eq!(parked.lock().unwrap().len(), 1, "B waited behind R");
}
