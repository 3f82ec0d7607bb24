//! Graceful shutdown: the signal tasks watch, and the report of how each
//! task ended.

use core::fmt;

use crate::runtime::Exit;
use crate::signal::Signal;
use crate::sync::Arc;

/// The request to stop that a group's tasks can watch for, given to the
/// factory of [`Builder::spawn_graceful`](super::Builder::spawn_graceful).
///
/// A task that sees it should finish its current work and return; at the
/// shutdown's deadline, tasks still running are aborted.
///
/// A [shutdown](super::Group::shutdown) raises it first; it is also raised
/// when the group ends any other way (stopped, dropped, given up, its
/// supervisor gone), so that a clone kept anywhere never waits for ever —
/// except after a [release](super::Group::release), which hands the tasks
/// over as they are.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stage::group::StopSignal;
/// use stage::mailbox::Receiver;
///
/// async fn worker(stop: StopSignal, jobs: Receiver<u32>) {
///     while !stop.is_requested() {
///         // Take a job, do it ...
///         let Ok(_job) = jobs.try_recv() else { break };
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, jobs) = stage::mailbox(16);
/// tx.send(1).await.unwrap();
/// let group = stage::group().spawn_graceful(move |stop| worker(stop, jobs.clone()));
/// let report = group.shutdown(Duration::from_secs(1)).await.unwrap();
/// assert_eq!(report.aborted(), 0);
/// # }
/// ```
#[derive(Clone, Default)]
pub struct StopSignal {
    inner: Arc<Signal>,
}

impl StopSignal {
    /// Whether the group was asked to shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!stage::group::StopSignal::default().is_requested());
    /// ```
    pub fn is_requested(&self) -> bool {
        self.inner.is_requested()
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
    /// use std::time::Duration;
    /// use stage::runtime::Exit;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (_tx, jobs) = stage::mailbox::<u32>(16);
    /// let group = stage::group().spawn_graceful(move |stop| {
    ///     let jobs = jobs.clone();
    ///     async move {
    ///         loop {
    ///             tokio::select! {
    ///                 job = jobs.recv() => { /* handle the job */ }
    ///                 () = stop.requested() => break, // finish cleanly
    ///             }
    ///         }
    ///     }
    /// });
    /// let report = group.shutdown(Duration::from_secs(1)).await.unwrap();
    /// assert!(matches!(report.tasks[0].exit, Exit::Returned));
    /// # }
    /// ```
    pub async fn requested(&self) {
        self.inner.requested().await;
    }

    pub(crate) fn request(&self) {
        self.inner.request();
    }

    /// The shared signal itself.
    pub(crate) fn signal(&self) -> &Signal {
        &self.inner
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
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let group = stage::group().tasks(2).spawn(std::future::pending::<()>);
/// let report = group.shutdown(Duration::from_secs(1)).await.unwrap();
/// for task in &report.tasks {
///     println!("task {} (generation {}): {}", task.index, task.generation, task.exit);
/// }
/// // Tasks started by `spawn` cannot watch the stop signal.
/// assert_eq!(report.aborted(), 2);
/// # }
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// One entry per task of the group, in task order: those running when
    /// the shutdown began, with how the shutdown ended them, and those that
    /// were not (waiting out a backoff, or ended for good), with how they
    /// had ended last. Tasks an upscale had not started yet have none.
    pub tasks: Vec<TaskReport>,
}

impl ShutdownReport {
    /// How many tasks the shutdown had to abort (they did not finish by
    /// the deadline, or could not watch the stop signal).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(stage::group::ShutdownReport::default().aborted(), 0);
    /// ```
    pub fn aborted(&self) -> usize {
        Self::count_aborted(&self.tasks)
    }

    pub(crate) fn count_aborted(tasks: &[TaskReport]) -> usize {
        tasks
            .iter()
            .filter(|t| t.was_running && matches!(t.exit, Exit::Aborted))
            .count()
    }
}

/// How one task ended in a shutdown.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stage::runtime::Exit;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let group = stage::group().spawn_graceful(|stop| async move {
///     stop.requested().await;
///     panic!("flushing failed");
/// });
/// # tokio::task::yield_now().await;
/// let report = group.shutdown(Duration::from_secs(1)).await.unwrap();
/// let task = &report.tasks[0];
/// assert_eq!((task.index, task.generation), (0, 1));
/// assert_eq!(task.exit.panic_message(), Some("flushing failed"));
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct TaskReport {
    /// The task's place in the group (0-based).
    pub index: usize,
    /// Its incarnation: 1 for the first start, one more per restart.
    pub generation: u64,
    /// How it ended: returned, panicked (with its payload), or aborted.
    pub exit: Exit,
    /// Whether it was running when the shutdown began. If not, `exit` is
    /// how it had ended before: it was waiting out a backoff (the shutdown
    /// cancelled its restart), or it had ended for good.
    pub was_running: bool,
}
