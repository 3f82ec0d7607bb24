//! Graceful shutdown: the signal tasks watch, and the report of how each
//! task ended.

use core::fmt;

use event_listener::Event;

use crate::runtime::Exit;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::Arc;

/// The request to stop that a group's tasks can watch for, given to the
/// factory of [`Builder::spawn_graceful`](super::Builder::spawn_graceful).
///
/// A task that sees it should finish its current work and return; at the
/// shutdown's deadline, tasks still running are aborted.
///
/// # Examples
///
/// ```
/// use stage_core::group::StopSignal;
///
/// async fn worker(stop: StopSignal) {
///     while !stop.is_requested() {
///         // take a job, do it ...
/// #       break;
///     }
/// }
/// ```
#[derive(Clone, Default)]
pub struct StopSignal {
    inner: Arc<SignalState>,
}

#[derive(Default)]
struct SignalState {
    requested: AtomicBool,
    event: Event,
}

impl StopSignal {
    /// Whether the group was asked to shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!stage_core::group::StopSignal::default().is_requested());
    /// ```
    pub fn is_requested(&self) -> bool {
        // Acquire: pairs with the Release in `request`.
        self.inner.requested.load(Ordering::Acquire)
    }

    /// Completes once the group is asked to shut down (at once if it
    /// already was).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f(stop: stage_core::group::StopSignal, jobs: stage_core::mailbox::Receiver<u32>) {
    /// use futures_util::future::{select, Either};
    /// use std::pin::pin;
    ///
    /// loop {
    ///     let (job, stopping) = (pin!(jobs.recv()), pin!(stop.requested()));
    ///     match select(job, stopping).await {
    ///         Either::Left((job, _)) => { /* handle the job */ }
    ///         Either::Right(_) => break, // finish cleanly
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn requested(&self) {
        loop {
            if self.is_requested() {
                return;
            }
            let listener = self.inner.event.listen();
            if self.is_requested() {
                return;
            }
            listener.await;
        }
    }

    pub(crate) fn request(&self) {
        // Release: whoever sees the flag sees what came before the request.
        self.inner.requested.store(true, Ordering::Release);
        self.inner.event.notify(usize::MAX);
    }
}

impl fmt::Debug for StopSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopSignal")
            .field("requested", &self.is_requested())
            .finish()
    }
}

/// How each task of a group ended in a [shutdown](super::Group::shutdown).
///
/// # Examples
///
/// ```
/// # fn f(report: stage_core::group::ShutdownReport) {
/// for task in &report.tasks {
///     println!("task {} (generation {}): {}", task.index, task.generation, task.exit);
/// }
/// println!("{} aborted at the deadline", report.aborted());
/// # }
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// One entry per task that was running when the shutdown began.
    pub tasks: Vec<TaskReport>,
}

impl ShutdownReport {
    /// How many tasks had to be aborted (they did not finish by the
    /// deadline, or could not watch the stop signal).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(stage_core::group::ShutdownReport::default().aborted(), 0);
    /// ```
    pub fn aborted(&self) -> usize {
        self.tasks
            .iter()
            .filter(|t| matches!(t.exit, Exit::Aborted))
            .count()
    }
}

/// How one task ended in a shutdown.
#[derive(Debug)]
#[non_exhaustive]
pub struct TaskReport {
    /// The task's place in the group (0-based).
    pub index: usize,
    /// Its incarnation: 1 for the first start, one more per restart.
    pub generation: u64,
    /// How it ended: returned, panicked (with its payload), or aborted.
    pub exit: Exit,
}
