//! A handle to a running group that anyone can hold: scale it, watch it,
//! ask it to end.

use core::fmt;
use std::time::Duration;

use super::control::Request;
use super::error::{Ended, ScaleError};
use super::stats::StatsRef;
use super::supervisor::Shared;
use crate::runtime::Runtime;
use crate::sync::Arc;

/// A cloneable handle to a running [`Group`](super::Group): scale it, watch
/// its statistics, and ask it to end, from any task.
///
/// A [`Group`](super::Group) is one of these too (it dereferences to its
/// handle), plus the ownership that ends the group when dropped and the
/// waits that hand back its outcome (a shutdown report, released tasks, an
/// error). A handle owns nothing: dropping handles changes nothing, and a
/// handle to a group that has ended reports [`Ended`].
///
/// Each clone marks statistics as seen for itself
/// ([`stat_borrow_and_update`](GroupHandle::stat_borrow_and_update)), as
/// tokio's `watch::Receiver` clones do.
///
/// # Examples
///
/// A watcher task of its own, while the owner goes on:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let group = stage::group().tasks(2).spawn(std::future::pending::<()>);
/// let mut handle = group.handle();
/// let watcher = tokio::spawn(async move {
///     while handle.changed().await.is_ok() {
///         let stats = handle.stat_borrow_and_update();
///         if stats.running == 3 {
///             handle.request_stop(); // seen enough
///         }
///     }
///     handle.stat_borrow().started
/// });
/// group.upscale(1).unwrap();
/// assert_eq!(group.join().await, Ok(()));
/// assert_eq!(watcher.await.unwrap(), 3);
/// # }
/// ```
pub struct GroupHandle<R: Runtime> {
    pub(crate) shared: Arc<Shared<R>>,
    /// The stats version this handle has marked as seen.
    pub(crate) seen: u64,
}

impl<R: Runtime> GroupHandle<R> {
    /// Runs `n` more tasks, started right after from the factory (a few per
    /// turn of the supervisor, so that a large upscale never holds the
    /// executor's thread); returns the group's new size.
    ///
    /// A task removed by an earlier [`downscale`](GroupHandle::downscale) that is
    /// still stopping is replaced once it has stopped: the group never runs
    /// more tasks than its size.
    ///
    /// # Errors
    ///
    /// [`ScaleError::TooManyTasks`] if the group would run more than its
    /// [`max_tasks`](super::Builder::max_tasks), [`ScaleError::Ended`] if it has
    /// ended; nothing changes then.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut group = stage::group().spawn(std::future::pending::<()>);
    /// assert_eq!(group.upscale(2), Ok(3));
    /// while group.stat_borrow_and_update().running < 3 {
    ///     group.changed().await.unwrap();
    /// }
    /// # group.stop().await.unwrap();
    /// # }
    /// ```
    pub fn upscale(&self, n: usize) -> Result<usize, ScaleError> {
        if self.shared.stats.is_closed() {
            return Err(ScaleError::Ended);
        }
        let max = self.shared.control.max();
        self.shared
            .control
            .resize(|tasks| tasks.checked_add(n).filter(|&new| new <= max))
            .map_err(|tasks| ScaleError::TooManyTasks {
                requested: tasks.saturating_add(n),
                max,
            })
    }

    /// Runs `n` fewer tasks, keeping at least one; returns the group's new
    /// size. The newest tasks are aborted at their next await point (they get
    /// no warning), and are not restarted; [`Stats::stopping`](super::Stats::stopping) counts those
    /// that have not stopped yet.
    ///
    /// A message a removed task was handling under a guard goes back to its
    /// mailbox, and the interrupted delivery counts as one of its attempts.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().tasks(4).spawn(std::future::pending::<()>);
    /// assert_eq!(group.downscale(1), 3);
    /// assert_eq!(group.downscale(10), 1);
    /// # group.stop().await.unwrap();
    /// # }
    /// ```
    pub fn downscale(&self, n: usize) -> usize {
        self.shared
            .control
            .resize(|tasks| Some(tasks.saturating_sub(n).max(1)))
            .unwrap_or_else(|tasks| tasks)
    }

    /// The statistics the supervisor published last.
    ///
    /// A copy: holding it blocks nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().tasks(2).spawn(std::future::pending::<()>);
    /// println!("{} tasks running", group.stat_borrow().running);
    /// # group.stop().await.unwrap();
    /// # }
    /// ```
    pub fn stat_borrow(&self) -> StatsRef {
        StatsRef::new(self.shared.stats.get())
    }

    /// The statistics published last, marking them as seen (see
    /// [`has_changed`](GroupHandle::has_changed) and [`changed`](GroupHandle::changed)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut group = stage::group().spawn(std::future::pending::<()>);
    /// let restarts = group.stat_borrow_and_update().restarted;
    /// assert_eq!(restarts, 0);
    /// # group.stop().await.unwrap();
    /// # }
    /// ```
    pub fn stat_borrow_and_update(&mut self) -> StatsRef {
        self.seen = self.shared.stats.version();
        self.stat_borrow()
    }

    /// Whether new statistics were published since they were last marked
    /// as seen.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut group = stage::group().spawn(std::future::pending::<()>);
    /// group.changed().await.unwrap(); // the first stats
    /// group.stat_borrow_and_update();
    /// assert!(!group.has_changed());
    /// # group.stop().await.unwrap();
    /// # }
    /// ```
    pub fn has_changed(&self) -> bool {
        self.shared.stats.version() != self.seen
    }

    /// Waits until new statistics are published (since they were last
    /// marked as seen); read them with
    /// [`stat_borrow_and_update`](GroupHandle::stat_borrow_and_update).
    ///
    /// # Errors
    ///
    /// [`Ended`] once the group has ended (however it ended) and its last
    /// statistics were marked as seen: no newer ones will come. As with
    /// tokio's `watch`, the final statistics are reported as a change first.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it marks nothing as seen.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use stage::group::Backoff;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut group = stage::group()
    ///     .backoff(Backoff::none())
    ///     .intensity(3, Duration::from_secs(60))
    ///     .spawn(|| async { panic!("crash") });
    /// // Watch until the group gives up: the loop ends with it.
    /// while group.changed().await.is_ok() {
    ///     println!("{:?}", *group.stat_borrow_and_update());
    /// }
    /// assert_eq!(group.stat_borrow().panicked, 4);
    /// assert!(group.join().await.is_err());
    /// # }
    /// ```
    pub async fn changed(&mut self) -> Result<(), Ended> {
        self.shared.stats.changed_since(self.seen).await
    }

    /// Asks the group to stop: its tasks are aborted, and it ends. Returns
    /// at once; [`ended`](GroupHandle::ended) waits for it. The group's
    /// owner learns of it as of a [`stop`](super::Group::stop).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().spawn(std::future::pending::<()>);
    /// let handle = group.handle();
    /// tokio::spawn(async move { handle.request_stop() });
    /// assert_eq!(group.join().await, Ok(()));
    /// # }
    /// ```
    pub fn request_stop(&self) {
        self.shared.control.request(Request::Stop);
    }

    /// Asks the group to shut down gracefully within `grace`, as
    /// [`Group::shutdown`](super::Group::shutdown) does. Returns at once;
    /// [`ended`](GroupHandle::ended) waits for it, and the owner's
    /// [`shutdown`](super::Group::shutdown), if it waits too, gets the
    /// report. A request made after another (but a stop) changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().spawn_graceful(|stop| async move { stop.requested().await });
    /// let handle = group.handle();
    /// handle.request_shutdown(Duration::from_secs(5));
    /// handle.ended().await;
    /// assert!(handle.is_ended());
    /// # group.stop().await.unwrap();
    /// # }
    /// ```
    pub fn request_shutdown(&self, grace: Duration) {
        self.shared.control.request(Request::Shutdown { grace });
    }

    /// Whether the group has ended: nothing of it runs any more, and its
    /// statistics are final.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().spawn(std::future::pending::<()>);
    /// let handle = group.handle();
    /// assert!(!handle.is_ended());
    /// group.stop().await.unwrap();
    /// assert!(handle.is_ended());
    /// # }
    /// ```
    pub fn is_ended(&self) -> bool {
        self.shared.stats.is_closed()
    }

    /// Waits until the group has ended, however it ends: every task of it
    /// has stopped, or its supervisor is gone (and its tasks with it).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::group::Restart;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().restart(Restart::Never).spawn(|| async {});
    /// let handle = group.handle();
    /// handle.ended().await; // the task returned, and was not restarted
    /// assert_eq!(handle.stat_borrow().returned, 1);
    /// # drop(group);
    /// # }
    /// ```
    pub async fn ended(&self) {
        let mut seen = self.shared.stats.version();
        while self.shared.stats.changed_since(seen).await.is_ok() {
            seen = self.shared.stats.version();
        }
    }
}

impl<R: Runtime> Clone for GroupHandle<R> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            seen: self.seen,
        }
    }
}

impl<R: Runtime> fmt::Debug for GroupHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupHandle")
            .field("name", &&*self.shared.name)
            .field("stats", &self.shared.stats.get())
            .finish_non_exhaustive()
    }
}
