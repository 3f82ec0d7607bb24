//! The statistics a group's supervisor publishes.

use core::ops::Deref;
use std::sync::{RwLock, RwLockReadGuard};

use event_listener::Event;

use crate::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};

/// What a group's supervisor has done so far.
///
/// # Examples
///
/// ```
/// let stats = stage_core::group::Stats::default();
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
    /// Task starts, first starts and restarts alike.
    pub started: u64,
    /// Restarts (starts after the first of each task).
    pub restarted: u64,
    /// Tasks that returned.
    pub returned: u64,
    /// Tasks that panicked.
    pub panicked: u64,
    /// Tasks that were aborted (by someone else than the group stopping).
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
    /// let mut stats = stage_core::group::Stats::default();
    /// stats.panicked = 2;
    /// stats.aborted = 1;
    /// assert_eq!(stats.failed(), 3);
    /// ```
    pub fn failed(&self) -> u64 {
        self.panicked + self.aborted
    }
}

/// The published value and its version; written by the supervisor alone.
pub(crate) struct StatsCell {
    stats: RwLock<Stats>,
    /// Bumped on every publish; readers compare it with what they saw.
    version: AtomicU64,
    changed: Event,
    /// Readers waiting in `changed_since`: publishing notifies only if any
    /// (event-listener locks on every notify). The handshake is the
    /// mailbox's: each side writes, fences, then reads the other's word.
    watchers: AtomicUsize,
}

impl StatsCell {
    pub(crate) fn new() -> Self {
        Self {
            stats: RwLock::new(Stats::default()),
            version: AtomicU64::new(0),
            changed: Event::new(),
            watchers: AtomicUsize::new(0),
        }
    }

    pub(crate) fn publish(&self, stats: &Stats) {
        *self.stats.write().unwrap_or_else(|e| e.into_inner()) = *stats;
        // Release: a reader that sees the new version sees the new stats.
        self.version.fetch_add(1, Ordering::Release);
        // SeqCst fence: pairs with the one in `changed_since`, so a watcher
        // either is counted here or sees the new version there.
        fence(Ordering::SeqCst);
        if self.watchers.load(Ordering::Relaxed) != 0 {
            self.changed.notify(usize::MAX);
        }
    }

    pub(crate) fn version(&self) -> u64 {
        // Acquire: pairs with the Release in `publish`.
        self.version.load(Ordering::Acquire)
    }

    pub(crate) fn borrow(&self) -> StatsRef<'_> {
        StatsRef(self.stats.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Waits until the version differs from `seen`.
    pub(crate) async fn changed_since(&self, seen: u64) {
        if self.version() != seen {
            return;
        }
        // Counted while waiting, also if this future is dropped meanwhile.
        let _watching = Watching::new(&self.watchers);
        loop {
            let listener = self.changed.listen();
            fence(Ordering::SeqCst);
            if self.version() != seen {
                return;
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

/// A borrow of a group's published [`Stats`]; hold it briefly, as the
/// supervisor waits for it to publish the next ones.
///
/// # Examples
///
/// ```
/// # fn show(stats: stage_core::group::StatsRef<'_>) {
/// println!("{} running, {} failed", stats.running, stats.failed());
/// # }
/// ```
pub struct StatsRef<'a>(RwLockReadGuard<'a, Stats>);

impl Deref for StatsRef<'_> {
    type Target = Stats;

    fn deref(&self) -> &Stats {
        &self.0
    }
}

impl core::fmt::Debug for StatsRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        Stats::fmt(self, f)
    }
}
