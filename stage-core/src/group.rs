//! Task groups: supervised, self-healing replacements for `spawn`.
//!
//! A [`Builder`] says how many copies of a task to run and when to restart
//! them; [`Builder::spawn`] starts a supervisor task at once, which starts the
//! tasks from a factory and restarts them by [`Restart`] policy, waiting out
//! a [`Backoff`] when a task keeps failing. The [`Group`] it returns scopes
//! the work ([`Group::scope`]), stops it ([`Group::stop`]), and reads the
//! [`Stats`] the supervisor publishes.
//!
//! Panics are contained at the task boundary: a panicking task is restarted,
//! its panic is counted, and the supervisor carries on. Nothing outlives a
//! stopped group.

mod policy;
mod stats;
mod supervisor;

use core::fmt;
use core::future::Future;

pub use policy::{Backoff, Restart};
pub use stats::{Stats, StatsRef};

use crate::mailbox::{self, Sender};
use crate::runtime::Runtime;
use crate::sync::Arc;
use stats::StatsCell;
use supervisor::{Command, Supervisor};

/// Settings of a group, before it starts.
///
/// # Examples
///
/// ```
/// use stage_core::group::{Backoff, Builder, Restart};
/// # fn settings<R: stage_core::runtime::Runtime>(runtime: R) {
/// let builder = Builder::new(runtime)
///     .tasks(4)
///     .restart(Restart::OnFailure)
///     .backoff(Backoff::none());
/// # drop(builder);
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a group starts only when `spawn` is called"]
pub struct Builder<R> {
    runtime: R,
    tasks: usize,
    restart: Restart,
    backoff: Backoff,
}

impl<R: Runtime> Builder<R> {
    /// A group of one task, restarted however it ends, with the default
    /// [`Backoff`], on `runtime`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f<R: stage_core::runtime::Runtime>(runtime: R) {
    /// let builder = stage_core::group::Builder::new(runtime);
    /// # drop(builder);
    /// # }
    /// ```
    pub fn new(runtime: R) -> Self {
        Self {
            runtime,
            tasks: 1,
            restart: Restart::default(),
            backoff: Backoff::default(),
        }
    }

    /// How many copies of the task run at once (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f<R: stage_core::runtime::Runtime>(runtime: R) {
    /// let builder = stage_core::group::Builder::new(runtime).tasks(8);
    /// # drop(builder);
    /// # }
    /// ```
    pub fn tasks(mut self, tasks: usize) -> Self {
        self.tasks = tasks.max(1);
        self
    }

    /// Which exits are restarted; see [`Restart`].
    ///
    /// # Examples
    ///
    /// ```
    /// use stage_core::group::{Builder, Restart};
    /// # fn f<R: stage_core::runtime::Runtime>(runtime: R) {
    /// let builder = Builder::new(runtime).restart(Restart::Never);
    /// # drop(builder);
    /// # }
    /// ```
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// The wait before restarting a task that keeps failing; see [`Backoff`].
    ///
    /// # Examples
    ///
    /// ```
    /// use stage_core::group::{Backoff, Builder};
    /// # fn f<R: stage_core::runtime::Runtime>(runtime: R) {
    /// let builder = Builder::new(runtime).backoff(Backoff::none());
    /// # drop(builder);
    /// # }
    /// ```
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Starts the group: a supervisor task that runs the futures `factory`
    /// makes — one per task, and a new one for each restart.
    ///
    /// # Panics
    ///
    /// Where the runtime's `spawn` panics (for tokio: outside a runtime).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f<R: stage_core::runtime::Runtime>(runtime: R) {
    /// let group = stage_core::group::Builder::new(runtime).spawn(|| async {
    ///     // serve requests, crash now and then ...
    /// });
    /// # drop(group);
    /// # }
    /// ```
    pub fn spawn<F, Fut>(self, factory: F) -> Group<R>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (commands, receiver) = mailbox::mailbox(1);
        let stats = Arc::new(StatsCell::new());
        let supervisor = Supervisor {
            runtime: self.runtime.clone(),
            factory,
            restart: self.restart,
            backoff: self.backoff,
            commands: receiver,
            stats: Arc::clone(&stats),
            tasks: self.tasks,
        };
        let supervisor = self.runtime.spawn(supervisor.run());
        Group {
            commands,
            stats,
            seen: 0,
            supervisor: Some(supervisor),
        }
    }
}

/// A running group of supervised tasks.
///
/// Dropping a `Group` stops it: its supervisor aborts the tasks and ends,
/// right after (it cannot wait inside `drop`). To wait until every task has
/// stopped, use [`stop`](Group::stop) or [`scope`](Group::scope).
#[must_use = "dropping a group stops its tasks"]
pub struct Group<R: Runtime> {
    commands: Sender<Command>,
    stats: Arc<StatsCell>,
    /// The stats version this handle has marked as seen.
    seen: u64,
    supervisor: Option<R::Task>,
}

impl<R: Runtime> Group<R> {
    /// Runs `future` to completion, then stops the group and waits until
    /// every task has stopped; returns what `future` returned.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the group, which stops it.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f<R: stage_core::runtime::Runtime>(runtime: R) {
    /// let group = stage_core::group::Builder::new(runtime).spawn(|| async {});
    /// let answer = group.scope(async { 42 }).await;
    /// assert_eq!(answer, 42);
    /// # }
    /// ```
    pub async fn scope<T>(self, future: impl Future<Output = T>) -> T {
        let out = future.await;
        self.stop().await;
        out
    }

    /// Stops the group: aborts every task and waits until none runs; a
    /// pending restart is cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f<R: stage_core::runtime::Runtime>(runtime: R) {
    /// let group = stage_core::group::Builder::new(runtime).spawn(|| std::future::pending());
    /// group.stop().await;
    /// # }
    /// ```
    pub async fn stop(mut self) {
        // The supervisor takes the command, or has already ended (every task
        // ended for good): either way it is done when its task is.
        let _ = self.commands.try_send(Command::Stop);
        self.commands.close();
        if let Some(supervisor) = self.supervisor.take() {
            let _ = supervisor.await;
        }
    }

    /// The statistics the supervisor published last.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f<R: stage_core::runtime::Runtime>(group: stage_core::group::Group<R>) {
    /// println!("{} tasks running", group.stat_borrow().running);
    /// # }
    /// ```
    pub fn stat_borrow(&self) -> StatsRef<'_> {
        self.stats.borrow()
    }

    /// The statistics published last, marking them as seen (see
    /// [`has_changed`](Group::has_changed) and [`changed`](Group::changed)).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f<R: stage_core::runtime::Runtime>(mut group: stage_core::group::Group<R>) {
    /// let restarts = group.stat_borrow_and_update().restarted;
    /// assert!(!group.has_changed() || group.stat_borrow().restarted >= restarts);
    /// # }
    /// ```
    pub fn stat_borrow_and_update(&mut self) -> StatsRef<'_> {
        self.seen = self.stats.version();
        self.stats.borrow()
    }

    /// Whether new statistics were published since they were last marked
    /// as seen.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f<R: stage_core::runtime::Runtime>(mut group: stage_core::group::Group<R>) {
    /// group.stat_borrow_and_update();
    /// let _ = group.has_changed();
    /// # }
    /// ```
    pub fn has_changed(&self) -> bool {
        self.stats.version() != self.seen
    }

    /// Waits until new statistics are published (since they were last
    /// marked as seen); read them with
    /// [`stat_borrow_and_update`](Group::stat_borrow_and_update).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it marks nothing as seen.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f<R: stage_core::runtime::Runtime>(mut group: stage_core::group::Group<R>) {
    /// group.changed().await;
    /// println!("{:?}", *group.stat_borrow_and_update());
    /// # }
    /// ```
    pub async fn changed(&mut self) {
        self.stats.changed_since(self.seen).await;
    }
}

impl<R: Runtime> Drop for Group<R> {
    fn drop(&mut self) {
        // The supervisor sees its commands closed and stops the tasks. It is
        // not aborted (its handle detaches): it must abort its tasks first.
        self.commands.close();
    }
}

impl<R: Runtime> fmt::Debug for Group<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("stats", &*self.stats.borrow())
            .finish_non_exhaustive()
    }
}
