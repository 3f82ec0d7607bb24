//! The statistics a group's supervisor publishes.

use core::ops::Deref;
use std::sync::Mutex;

use event_listener::Event;

use super::error::Ended;
use crate::runtime::Exit;
use crate::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// What a group's supervisor has done so far.
///
/// # Examples
///
/// ```
/// let stats = stage::group::Stats::default();
/// assert_eq!(stats.running, 0);
/// assert_eq!(stats.failed(), 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Tasks the group keeps running (its size, changed by upscale and
    /// downscale).
    pub tasks: usize,
    /// Tasks running now.
    pub running: usize,
    /// Tasks waiting out a backoff before their restart.
    pub backing_off: usize,
    /// Tasks removed by a downscale that were aborted and have not ended
    /// yet (a task stops at its next await point).
    pub stopping: usize,
    /// Task starts, first starts and restarts alike.
    pub started: u64,
    /// Restarts (starts after the first of each task).
    pub restarted: u64,
    /// Tasks that returned.
    pub returned: u64,
    /// Tasks that panicked.
    pub panicked: u64,
    /// Tasks that were aborted by someone else than the group (a task the
    /// group aborts itself, to downscale or to stop, is not counted).
    pub aborted: u64,
    /// Turns of the supervisor loop: wakeups it handled.
    pub iterations: u64,
}

impl Stats {
    /// Tasks that failed: panicked or aborted.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut stats = stage::group::Stats::default();
    /// stats.panicked = 2;
    /// stats.aborted = 1;
    /// assert_eq!(stats.failed(), 3);
    /// ```
    pub fn failed(&self) -> u64 {
        self.panicked + self.aborted
    }

    /// Counts how a task ended; the one place that does.
    pub(crate) fn count(&mut self, exit: &Exit) {
        match exit {
            Exit::Returned => self.returned += 1,
            Exit::Panicked(_) => self.panicked += 1,
            Exit::Aborted => self.aborted += 1,
        }
    }
}

/// The published value, its version, and whether more will come; written
/// by the supervisor alone.
///
/// The value sits behind a mutex that is held only to copy it in or out, by
/// stage's own code: no caller can hold it, so the supervisor never waits on
/// one (a borrow is a copy, see [`StatsRef`]).
/// Figures that count things in motion: when whatever publishes them has
/// ended, nothing moves any more.
pub(crate) trait Gauges: Copy {
    /// Sets the counts of things in motion to what they are once nothing
    /// runs; `false` if they were already.
    fn at_rest(&mut self) -> bool;
}

impl Gauges for Stats {
    fn at_rest(&mut self) -> bool {
        if (self.running, self.backing_off, self.stopping) == (0, 0, 0) {
            return false;
        }
        (self.running, self.backing_off, self.stopping) = (0, 0, 0);
        true
    }
}

/// The last figures a supervisor published, and a way to wait for the
/// next: a group's [`Stats`], a supervision tree's.
pub(crate) struct StatsCell<S = Stats> {
    stats: Mutex<S>,
    /// Bumped on every publish; readers compare it with what they saw.
    version: AtomicU64,
    /// Set once the supervisor has ended (however it ended): the stats are
    /// final.
    closed: AtomicBool,
    changed: Event,
    /// Readers waiting in `changed_since`: publishing notifies only if any
    /// (event-listener locks on every notify). The handshake is the
    /// mailbox's: each side writes, fences, then reads the other's word.
    watchers: AtomicUsize,
}

impl<S: Gauges> StatsCell<S> {
    pub(crate) fn new(stats: S) -> Self {
        Self {
            stats: Mutex::new(stats),
            version: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            changed: Event::new(),
            watchers: AtomicUsize::new(0),
        }
    }

    pub(crate) fn publish(&self, stats: &S) {
        // Nothing panics while the lock is held, so it is never poisoned; if
        // it were, the copy inside would still be whole.
        *self.stats.lock().unwrap_or_else(|e| e.into_inner()) = *stats;
        // Release: a reader that sees the new version sees the new stats.
        self.version.fetch_add(1, Ordering::Release);
        // SeqCst fence: pairs with the one in `changed_since`, so a watcher
        // either is counted here or sees the new version there.
        fence(Ordering::SeqCst);
        if self.watchers.load(Ordering::Relaxed) != 0 {
            self.changed.notify(usize::MAX);
        }
    }

    /// Marks the stats as final and wakes every watcher. Called once the
    /// supervisor has ended, whichever way: nothing of the group runs any
    /// more (its tasks were stopped, or aborted with the supervisor), so the
    /// final stats say so even if the supervisor could not publish them.
    pub(crate) fn close(&self) {
        let mut stats = self.get();
        if stats.at_rest() {
            self.publish(&stats);
        }
        // Release: a watcher that sees `closed` sees the final version.
        self.closed.store(true, Ordering::Release);
        // Rare: notify unconditionally (after the fence that orders the
        // store before the listeners are looked at).
        fence(Ordering::SeqCst);
        self.changed.notify(usize::MAX);
    }

    pub(crate) fn is_closed(&self) -> bool {
        // Acquire: pairs with the Release in `close`.
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn version(&self) -> u64 {
        // Acquire: pairs with the Release in `publish`.
        self.version.load(Ordering::Acquire)
    }

    pub(crate) fn get(&self) -> S {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the version differs from `seen`; `Err` once no new
    /// version can come (the supervisor ended and `seen` is the last).
    pub(crate) async fn changed_since(&self, seen: u64) -> Result<(), Ended> {
        if self.version() != seen {
            return Ok(());
        }
        // Counted while waiting, also if this future is dropped meanwhile.
        let _watching = Watching::new(&self.watchers);
        loop {
            let listener = self.changed.listen();
            fence(Ordering::SeqCst);
            // `closed` first: the final version was published before it.
            let closed = self.is_closed();
            if self.version() != seen {
                return Ok(());
            }
            if closed {
                return Err(Ended);
            }
            listener.await;
        }
    }
}

/// Counts one watcher for as long as it lives.
struct Watching<'a>(&'a AtomicUsize);

impl<'a> Watching<'a> {
    fn new(watchers: &'a AtomicUsize) -> Self {
        // Relaxed: ordered before the version check by the caller's fence.
        watchers.fetch_add(1, Ordering::Relaxed);
        Self(watchers)
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        // Relaxed: a stale count only costs a publisher a notification.
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The [`Stats`] a group published last, as read by
/// [`stat_borrow`](super::GroupHandle::stat_borrow).
///
/// It is a copy, and borrows nothing: holding it, across an `.await` or a
/// call of [`changed`](super::GroupHandle::changed) too, blocks nothing (the
/// supervisor goes on publishing), and it does not change; borrow again for
/// newer figures.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut group = stage::group().tasks(2).spawn(std::future::pending::<()>);
/// let stats: stage::group::StatsRef = group.stat_borrow_and_update();
/// group.changed().await.unwrap(); // the group goes on; `stats` stays as it was
/// println!("{} running, {} failed", stats.running, stats.failed());
/// assert_eq!(stats.tasks, 2);
/// group.stop().await.unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct StatsRef(Stats);

impl StatsRef {
    pub(crate) fn new(stats: Stats) -> Self {
        Self(stats)
    }
}

impl Deref for StatsRef {
    type Target = Stats;

    fn deref(&self) -> &Stats {
        &self.0
    }
}

impl core::fmt::Debug for StatsRef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        Stats::fmt(self, f)
    }
}
