//! Where the answer to an ask goes: a one-shot slot written by the first of
//! any number of ports (the reply and its clones) and read by one asker,
//! without a lock. An actor's `Reply` and the asker's `Answer` are built on
//! it (`actor/reply.rs`); the loom models in `loom-tests/tests/answer.rs`
//! check it.
//!
//! # The state word
//!
//! One atomic word says who may touch the two cells (the answer, and the
//! asker's waker), in the way of tokio's `oneshot`:
//!
//! - `CLAIMED`: a port won the right to write the answer; any later answer
//!   is refused (the first answer wins).
//! - `COMPLETE`: the answer is written (after `CLAIMED`); the asker may
//!   take it.
//! - `WAKER`: the asker's waker is in its cell. While it is set, only a
//!   port that completes the slot may touch that cell (to take the waker
//!   and wake the asker); the asker clears it before it changes the waker.
//! - `CLOSED`: the asker left (it took the answer, or gave up): an answer
//!   not yet claimed is refused.
//! - the live ports, counted in units of `PORT` above the flags: the last
//!   one to go without an answer says so, and its owner settles the slot
//!   with the reason.
//!
//! What is left in the cells when the slot is dropped (an answer nobody
//! took, a waker nobody woke) is dropped with it.
//!
//! Public (hidden) only in loom builds, for its models.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use core::task::{Context, Poll, Waker};

use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::cell::UnsafeCell;

const CLAIMED: usize = 1;
const COMPLETE: usize = 1 << 1;
const WAKER: usize = 1 << 2;
const CLOSED: usize = 1 << 3;
/// One live port.
const PORT: usize = 1 << 4;

/// See the module docs.
pub struct Slot<T> {
    state: AtomicUsize,
    answer: UnsafeCell<Option<T>>,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the cells are only touched by whoever the state word gives them
// to (see the module docs), so a slot shared between threads moves a `T`
// from one to another, and wakers, which are `Send + Sync`.
unsafe impl<T: Send> Send for Slot<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for Slot<T> {}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Slot<T> {
    /// An empty slot with one live port.
    pub fn new() -> Self {
        Self {
            state: AtomicUsize::new(PORT),
            answer: UnsafeCell::new(None),
            waker: UnsafeCell::new(None),
        }
    }

    /// One more live port (a port was cloned).
    pub fn add_port(&self) {
        // Relaxed: cloned from a live port, so the count cannot reach zero
        // meanwhile; ordered with the rest by the port's own later RMWs.
        self.state.fetch_add(PORT, Ordering::Relaxed);
    }

    /// One port fewer; `true` if it was the last, and the slot has no
    /// answer and the asker still waits: its owner should settle it with
    /// the reason there is none.
    pub fn drop_port(&self) -> bool {
        let before = self.state.fetch_sub(PORT, Ordering::AcqRel);
        before < 2 * PORT && before & (CLAIMED | CLOSED) == 0
    }

    /// Whether the asker has left: an answer now is refused.
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Answers the asker, unless the slot has an answer already or the
    /// asker left: then the answer is handed back (for the caller to drop
    /// where it likes).
    pub fn settle(&self, answer: T) -> Result<(), T> {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & (CLAIMED | CLOSED) != 0 {
                return Err(answer);
            }
            match self.state.compare_exchange_weak(
                state,
                state | CLAIMED,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        // SAFETY: `CLAIMED` is ours: no other port writes the cell, and the
        // asker reads it only once `COMPLETE` is set, below.
        self.answer.with_mut(|cell| unsafe { *cell = Some(answer) });
        // AcqRel: publishes the answer to the asker (Release), and sees the
        // waker it published with `WAKER` (Acquire).
        let before = self.state.fetch_or(COMPLETE, Ordering::AcqRel);
        if before & WAKER != 0 {
            // SAFETY: `WAKER` was set when `COMPLETE` was: the cell is ours
            // (the asker clears `WAKER` before it touches the cell, with a
            // compare-exchange that fails now that `COMPLETE` is set).
            let waker = self.waker.with_mut(|cell| unsafe { (*cell).take() });
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        Ok(())
    }

    /// The asker's poll (one asker): the answer once there is one; until
    /// then the task of `cx` is woken when it comes. After it is ready, the
    /// slot is closed.
    pub fn poll(&self, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & COMPLETE != 0 {
                // SAFETY: `COMPLETE` was published after the answer was
                // written (Acquire above pairs with its Release), and only
                // the asker takes it.
                let answer = self.answer.with_mut(|cell| unsafe { (*cell).take() });
                // Release: nothing to publish; later answers are refused.
                self.state.fetch_or(CLOSED, Ordering::Release);
                return Poll::Ready(answer.expect("a complete slot holds its answer"));
            }
            if state & WAKER != 0 {
                // Our waker is registered; take the cell back before we look
                // at it, unless the answer came meanwhile.
                if let Err(now) = self.state.compare_exchange(
                    state,
                    state & !WAKER,
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    state = now;
                    continue;
                }
            }
            // SAFETY: `WAKER` is clear: the cell is the asker's.
            self.waker.with_mut(|cell| unsafe {
                match &mut *cell {
                    Some(waker) => waker.clone_from(cx.waker()),
                    None => *cell = Some(cx.waker().clone()),
                }
            });
            // AcqRel: publishes the waker to the port that completes the
            // slot (Release), and sees an answer completed meanwhile.
            let before = self.state.fetch_or(WAKER, Ordering::AcqRel);
            if before & COMPLETE == 0 {
                return Poll::Pending;
            }
            // Completed before it saw our waker: take the answer now (the
            // waker stays in its cell, dropped with the slot).
            state = before | WAKER;
        }
    }

    /// The asker leaves without an answer: later answers are refused.
    pub fn close(&self) {
        // Release: nothing to publish; it only stops the ports.
        self.state.fetch_or(CLOSED, Ordering::Release);
    }
}
