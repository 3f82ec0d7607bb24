//! A runtime that breaks on purpose: after a number of spawns, `spawn`
//! panics — as a runtime shutting down, or a bug in stage, would make a
//! supervisor fail. Wraps any other runtime, so that a scenario using it
//! runs on every executor.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use stage::runtime::Runtime;

/// `inner`, whose spawns panic once `spawns` of them have succeeded.
#[derive(Clone)]
pub(crate) struct FailingSpawns<R> {
    inner: R,
    left: Arc<AtomicUsize>,
}

impl<R> FailingSpawns<R> {
    pub(crate) fn new(inner: R, spawns: usize) -> Self {
        Self {
            inner,
            left: Arc::new(AtomicUsize::new(spawns)),
        }
    }
}

impl<R: Runtime> Runtime for FailingSpawns<R> {
    type Task = R::Task;
    type Sleep = R::Sleep;

    fn spawn<F>(&self, future: F) -> R::Task
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let left = self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        assert!(left.is_ok(), "the runtime refuses to spawn");
        self.inner.spawn(future)
    }

    fn sleep_until(&self, deadline: Instant) -> R::Sleep {
        self.inner.sleep_until(deadline)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }
}
