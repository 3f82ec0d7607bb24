//! A point on the runtime's clock, and the sleep that waits for it.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::runtime::Runtime;

/// Delays this long or longer are taken as "never": 10,000 years. Past it a
/// deadline only costs wakeups (a paused test clock would jump 30 years at a
/// time towards it), and no restart or grace period means it.
pub(crate) const NEVER: Duration = Duration::from_secs(86_400 * 365 * 10_000);

/// The deadline `delay` after `now`; `None` for one that never comes (a
/// delay of [`NEVER`] or more, or past the end of the clock).
pub(crate) fn after(now: Instant, delay: Duration) -> Option<Instant> {
    if delay >= NEVER {
        return None;
    }
    now.checked_add(delay)
}

/// Completes once the runtime's clock has reached `at`.
///
/// A runtime may end a sleep early: stage-tokio sleeps at most 30 years at
/// a time, as tokio's own `sleep` does. So a sleep that ends is not taken at
/// its word: the clock is read, and the sleep made again if `at` has not
/// come yet.
pub(crate) struct Deadline<R: Runtime> {
    at: Instant,
    sleep: Option<Pin<Box<R::Sleep>>>,
}

impl<R: Runtime> Deadline<R> {
    pub(crate) fn new(at: Instant) -> Self {
        Self { at, sleep: None }
    }

    pub(crate) fn at(&self) -> Instant {
        self.at
    }

    pub(crate) fn poll(&mut self, runtime: &R, cx: &mut Context<'_>) -> Poll<()> {
        // Each sleep made here waits for `at` from a later moment; a runtime
        // that ends them all at once without moving its clock would be
        // broken, and is not waited on in a loop.
        for _ in 0..4 {
            let at = self.at;
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(runtime.sleep_until(at)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleep = None;
            if runtime.now() >= self.at {
                return Poll::Ready(());
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
