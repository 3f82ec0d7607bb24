//! A flag raised once, and the tasks waiting for it: a group's stop
//! signal, an actor's kill switch, a tree's "ready" and "ended".
//!
//! Most signals are raised with nobody waiting (an actor stopped before it
//! ever waited, a group that ends on its own), so raising one does not
//! touch the waiters' list unless someone is on it: `event-listener`
//! allocates its list at the first `notify`, waiter or not. Skipping it is
//! safe by a fence on each side, the store-buffering handshake:
//!
//! - a waiter puts itself on the list, then (`SeqCst` fence) reads the flag;
//! - a raise stores the flag, then (`SeqCst` fence) reads whether anyone is
//!   on the list.
//!
//! Of two fences, one comes first: either the waiter sees the flag and does
//! not wait, or the raise sees the waiter and notifies it. The loom model
//! `loom-tests/tests/signal.rs` checks it.
//!
//! Public (hidden) only in loom builds, for that model.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use event_listener::{Event, EventListener};

use crate::sync::atomic::{fence, AtomicBool, Ordering};

/// See the module docs.
#[derive(Default)]
pub struct Signal {
    requested: AtomicBool,
    event: Event,
}

impl Signal {
    /// Whether it was raised.
    #[inline]
    pub fn is_requested(&self) -> bool {
        // Acquire: pairs with the Release in `request`.
        self.requested.load(Ordering::Acquire)
    }

    /// Raises it: wakes every waiter, now and later.
    pub fn request(&self) {
        // Release: whoever sees the flag sees what came before the request.
        self.requested.store(true, Ordering::Release);
        // See the module docs: the waiters are read after this fence.
        fence(Ordering::SeqCst);
        if self.event.total_listeners() != 0 {
            self.event.notify(usize::MAX);
        }
    }

    /// Completes once it is raised (at once if it was).
    pub fn requested(&self) -> Waiting<'_> {
        Waiting::new(self)
    }

    /// A registration on the list: the caller must read the flag after
    /// this, and wait for the registration only if it was still down.
    fn listen(&self) -> EventListener {
        let listener = self.event.listen();
        // See the module docs: the flag is read after this fence.
        fence(Ordering::SeqCst);
        listener
    }
}

/// Waits for a [`Signal`] across many polls, registered on its list from
/// the first poll that finds it down until it is raised. `Unpin`, and
/// polled again after it is ready, it stays ready.
pub struct Waiting<'a> {
    signal: &'a Signal,
    listener: Option<EventListener>,
}

impl<'a> Waiting<'a> {
    /// Waits for `signal`; registers at the first poll.
    pub fn new(signal: &'a Signal) -> Self {
        Self {
            signal,
            listener: None,
        }
    }

    /// The signal waited for.
    #[inline]
    pub fn signal(&self) -> &'a Signal {
        self.signal
    }
}

impl Future for Waiting<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.signal.is_requested() {
                self.listener = None;
                return Poll::Ready(());
            }
            let signal = self.signal;
            let listener = self.listener.get_or_insert_with(|| signal.listen());
            if signal.is_requested() {
                continue;
            }
            match Pin::new(listener).poll(cx) {
                Poll::Pending => return Poll::Pending,
                // Notified: raised (the only notification); read again.
                Poll::Ready(()) => self.listener = None,
            }
        }
    }
}
