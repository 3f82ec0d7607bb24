//! The jobs an incarnation runs beside its handler — messages sent to
//! itself after a delay or at an interval, streams fed into its mailbox —
//! and that end with it.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_util::StreamExt;

use super::addr::Addr;
use super::behaviour::Actor;
use super::cell::sleep_until;
use crate::runtime::AbortHandle;
use crate::sync::Arc;

/// A boxed future the context spawns.
pub(crate) type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Identifies a job of an incarnation: a timer, an interval, a stream fed
/// into the actor. [`Context::cancel`](super::Context::cancel) ends it
/// early.
///
/// # Examples
///
/// See [`Context::send_interval`](super::Context::send_interval).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JobId(u64);

/// One job as its incarnation keeps it: a way to abort it, and whether it
/// has ended on its own.
struct Entry {
    abort: Box<dyn AbortHandle>,
    done: Arc<AtomicBool>,
}

/// The running jobs of one incarnation, aborted when it ends.
#[derive(Default)]
pub(crate) struct Jobs {
    next: u64,
    running: HashMap<JobId, Entry>,
    /// The size at which the jobs that ended on their own are swept out:
    /// twice what was left at the last sweep, so that an actor with many
    /// timers pending (one per request, say) pays O(1) a job, amortized.
    sweep_at: usize,
}

/// The least `sweep_at`.
const SWEEP_AT_LEAST: usize = 16;

impl Jobs {
    /// Spawns `job` on the actor's runtime, as a job of this incarnation.
    pub(crate) fn spawn<A: Actor>(&mut self, addr: &Addr<A>, job: Job) -> JobId {
        if self.running.len() >= self.sweep_at {
            self.running
                .retain(|_, entry| !entry.done.load(Ordering::Acquire));
            self.sweep_at = (2 * self.running.len()).max(SWEEP_AT_LEAST);
        }
        let done = Arc::new(AtomicBool::new(false));
        let finished = Arc::clone(&done);
        let abort = addr.cell.clock.spawn(Box::pin(async move {
            job.await;
            // Release: pairs with the Acquire above.
            finished.store(true, Ordering::Release);
        }));
        let id = JobId(self.next);
        self.next += 1;
        self.running.insert(id, Entry { abort, done });
        id
    }

    /// Aborts job `id`; `false` if it has ended already, or is not one of
    /// this incarnation's.
    pub(crate) fn cancel(&mut self, id: JobId) -> bool {
        let Some(entry) = self.running.remove(&id) else {
            return false;
        };
        entry.abort.abort();
        !entry.done.load(Ordering::Acquire)
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        for (_, entry) in self.running.drain() {
            entry.abort.abort();
        }
    }
}

impl fmt::Debug for Jobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jobs")
            .field("running", &self.running.len())
            .finish()
    }
}

/// Tells `msg` to `addr` once `delay` has passed.
pub(crate) fn after<A: Actor>(addr: Addr<A>, delay: Duration, msg: A::Msg) -> Job {
    Box::pin(async move {
        let clock = &*addr.cell.clock;
        if let Some(at) = crate::group::deadline::after(clock.now(), delay) {
            sleep_until(clock, at).await;
            let _ = addr.tell(msg).await; // a stopped actor takes no message
        }
    })
}

/// Tells a message made by `make` to `addr` every `period`, the first after
/// one period. A tick that comes while the last one's message still waits
/// for room in the mailbox is skipped, not piled up.
pub(crate) fn every<A: Actor>(
    addr: Addr<A>,
    period: Duration,
    mut make: impl FnMut() -> A::Msg + Send + 'static,
) -> Job {
    Box::pin(async move {
        let clock = &*addr.cell.clock;
        let mut next = clock.now();
        loop {
            let Some(at) = crate::group::deadline::after(next, period) else {
                return;
            };
            sleep_until(clock, at).await;
            if addr.tell(make()).await.is_err() {
                return;
            }
            next = later_of(at, clock.now(), period);
        }
    })
}

/// The tick after one due at `due`, told at `now`: one period later, or,
/// if that has passed meanwhile, one period from now.
fn later_of(due: Instant, now: Instant, period: Duration) -> Instant {
    match due.checked_add(period) {
        Some(next) if next >= now => due,
        _ => now,
    }
}

/// Tells each item of `stream`, made a message by `map`, to `addr`, in
/// order, waiting for room in the mailbox (the stream is not polled
/// meanwhile).
pub(crate) fn feed<A: Actor, S>(
    addr: Addr<A>,
    stream: S,
    mut map: impl FnMut(S::Item) -> A::Msg + Send + 'static,
) -> Job
where
    S: Stream + Send + 'static,
{
    Box::pin(async move {
        let mut stream = core::pin::pin!(stream);
        loop {
            let Some(item) = stream.next().await else {
                return;
            };
            let msg = map(item);
            if addr.tell(msg).await.is_err() {
                return;
            }
        }
    })
}
