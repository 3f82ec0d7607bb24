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

mod error;
mod policy;
mod shutdown;
mod stats;
mod supervisor;

use core::fmt;
use core::future::Future;
use core::pin::pin;
use core::task::Poll;
use std::sync::Mutex;
use std::time::Duration;

pub use error::GroupError;
pub use policy::{Backoff, Restart};
pub use shutdown::{ShutdownReport, StopSignal, TaskReport};
pub use stats::{Stats, StatsRef};

use crate::mailbox::{self, Sender};
use crate::runtime::{Exit, Runtime};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Arc;
use stats::StatsCell;
use supervisor::{Command, Ending, Intensity, Shared, Supervisor};

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
    name: Arc<str>,
    tasks: usize,
    restart: Restart,
    backoff: Backoff,
    intensity: Option<Intensity>,
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
            name: Arc::from("group"),
            tasks: 1,
            restart: Restart::default(),
            backoff: Backoff::default(),
            intensity: None,
        }
    }

    /// The group's name, in its `tracing` events and its errors (default
    /// `"group"`).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f<R: stage_core::runtime::Runtime>(runtime: R) {
    /// let builder = stage_core::group::Builder::new(runtime).name("ingest");
    /// # drop(builder);
    /// # }
    /// ```
    pub fn name(mut self, name: impl AsRef<str>) -> Self {
        self.name = Arc::from(name.as_ref());
        self
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

    /// Restart intensity: if the group's tasks need more than `restarts`
    /// restarts within `within`, the group gives up — it stops every task and
    /// [`stop`](Group::stop) and [`scope`](Group::scope) report
    /// [`GroupError::GaveUp`]. Off by default: a group keeps restarting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # fn f<R: stage_core::runtime::Runtime>(runtime: R) {
    /// let builder = stage_core::group::Builder::new(runtime).intensity(5, Duration::from_secs(10));
    /// # drop(builder);
    /// # }
    /// ```
    pub fn intensity(mut self, restarts: u32, within: Duration) -> Self {
        self.intensity = Some(Intensity { restarts, within });
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
    pub fn spawn<F, Fut>(self, mut factory: F) -> Group<R>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.start(move |_| factory(), false)
    }

    /// Starts the group, like [`spawn`](Builder::spawn), with tasks that can
    /// watch for a [graceful shutdown](Group::shutdown): the factory gets the
    /// group's [`StopSignal`].
    ///
    /// # Panics
    ///
    /// Where the runtime's `spawn` panics (for tokio: outside a runtime).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f<R: stage_core::runtime::Runtime>(runtime: R, jobs: stage_core::mailbox::Receiver<u64>) {
    /// let group = stage_core::group::Builder::new(runtime).spawn_graceful(move |stop| {
    ///     let jobs = jobs.clone();
    ///     async move {
    ///         while !stop.is_requested() {
    ///             match jobs.try_recv() {
    ///                 Ok(job) => { /* handle it */ }
    ///                 Err(_) => break,
    ///             }
    ///         }
    ///     }
    /// });
    /// # drop(group);
    /// # }
    /// ```
    pub fn spawn_graceful<F, Fut>(self, factory: F) -> Group<R>
    where
        F: FnMut(StopSignal) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.start(factory, true)
    }

    fn start<F, Fut>(self, factory: F, graceful: bool) -> Group<R>
    where
        F: FnMut(StopSignal) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (commands, receiver) = mailbox::mailbox(1);
        let shared = Arc::new(Shared {
            stats: StatsCell::new(),
            target: AtomicUsize::new(self.tasks),
            ending: Mutex::new(None),
        });
        let supervisor = Supervisor {
            runtime: self.runtime.clone(),
            name: Arc::clone(&self.name),
            factory,
            restart: self.restart,
            backoff: self.backoff,
            intensity: self.intensity,
            graceful,
            signal: StopSignal::default(),
            commands: receiver,
            shared: Arc::clone(&shared),
        };
        let supervisor = self.runtime.spawn(supervisor.run());
        Group {
            name: self.name,
            commands,
            shared,
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
///
/// Every method that waits for the group to end reports how its supervisor
/// ended: [`GroupError::SupervisorAborted`] if it was aborted (its runtime
/// shut down); a panic of the supervisor itself (a bug in stage — it never
/// panics on its tasks' account) is resumed in the caller, not swallowed.
#[must_use = "dropping a group stops its tasks"]
pub struct Group<R: Runtime> {
    name: Arc<str>,
    commands: Sender<Command>,
    shared: Arc<Shared<R>>,
    /// The stats version this handle has marked as seen.
    seen: u64,
    supervisor: Option<R::Task>,
}

impl<R: Runtime> Group<R> {
    /// Runs `future` to completion, then stops the group and waits until
    /// every task has stopped; returns what `future` returned.
    ///
    /// # Errors
    ///
    /// If the group gives up first (its [restart
    /// intensity](Builder::intensity) was exceeded), `future` is dropped
    /// unfinished and the [`GroupError`] is returned.
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
    /// assert_eq!(answer, Ok(42));
    /// # }
    /// ```
    pub async fn scope<T>(mut self, future: impl Future<Output = T>) -> Result<T, GroupError> {
        let mut future = pin!(future);
        let finished = core::future::poll_fn(|cx| {
            if let Poll::Ready(out) = future.as_mut().poll(cx) {
                return Poll::Ready(Ok(out));
            }
            if let Some(supervisor) = self.supervisor.as_mut() {
                if let Poll::Ready(exit) = core::pin::Pin::new(supervisor).poll(cx) {
                    // The group ended on its own. If it finished (its tasks
                    // returned for good), `future` goes on; if it gave up,
                    // or its supervisor failed, the scope ends.
                    self.supervisor = None;
                    if let Err(error) = self.check(exit).and_then(|()| self.take_ending()) {
                        return Poll::Ready(Err(error));
                    }
                }
            }
            Poll::Pending
        })
        .await;
        let out = finished?;
        self.end(Command::Stop).await.map(|_| out)
    }

    /// Waits until the group ends on its own: every task ended and was not
    /// restarted (under [`Restart::OnFailure`] or [`Restart::Never`]), or the
    /// group gave up. Under [`Restart::Always`] only giving up ends it.
    ///
    /// # Errors
    ///
    /// The [`GroupError`] if the group gave up.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage_core::group::Restart;
    /// # async fn f<R: stage_core::runtime::Runtime>(runtime: R) {
    /// let group = stage_core::group::Builder::new(runtime)
    ///     .tasks(10)
    ///     .restart(Restart::OnFailure)
    ///     .spawn(|| async { /* a job that may crash, retried until it returns */ });
    /// group.join().await.unwrap();
    /// # }
    /// ```
    pub async fn join(mut self) -> Result<(), GroupError> {
        self.wait_for_supervisor().await.map(drop)
    }

    /// Stops the group: aborts every task and waits until none runs; a
    /// pending restart is cancelled.
    ///
    /// # Errors
    ///
    /// The [`GroupError`] that ended the group, if it gave up before.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f<R: stage_core::runtime::Runtime>(runtime: R) {
    /// let group = stage_core::group::Builder::new(runtime).spawn(|| std::future::pending());
    /// assert_eq!(group.stop().await, Ok(()));
    /// # }
    /// ```
    pub async fn stop(mut self) -> Result<(), GroupError> {
        self.end(Command::Stop).await.map(drop)
    }

    /// Shuts the group down gracefully, within one deadline: the tasks'
    /// [`StopSignal`] is raised, no task is restarted any more, and tasks
    /// still running when `grace` has passed are aborted. Tasks started by
    /// [`spawn`](Builder::spawn) cannot watch the signal, and are aborted at
    /// once. Waits until no task runs.
    ///
    /// # Errors
    ///
    /// The [`GroupError`] that ended the group, if it gave up before.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # async fn f<R: stage_core::runtime::Runtime>(runtime: R) {
    /// let group = stage_core::group::Builder::new(runtime)
    ///     .tasks(2)
    ///     .spawn_graceful(|stop| async move { stop.requested().await });
    /// let report = group.shutdown(Duration::from_secs(5)).await.unwrap();
    /// assert_eq!(report.tasks.len(), 2);
    /// assert_eq!(report.aborted(), 0);
    /// # }
    /// ```
    pub async fn shutdown(mut self, grace: Duration) -> Result<ShutdownReport, GroupError> {
        match self.end(Command::Shutdown { grace }).await? {
            Some(Ending::ShutDown(report)) => Ok(report),
            // It had ended on its own before: no task was running.
            _ => Ok(ShutdownReport::default()),
        }
    }

    /// Stops supervising and hands back the running tasks, in task order:
    /// nothing is aborted, and nothing is restarted any more. Await a task to
    /// learn how it ended, or abort it; dropping one lets it run on,
    /// detached. Pending restarts are cancelled.
    ///
    /// # Errors
    ///
    /// The [`GroupError`] that ended the group, if it gave up before (its
    /// tasks were stopped then).
    ///
    /// # Examples
    ///
    /// ```
    /// use stage_core::runtime::{Exit, Task};
    /// # async fn f<R: stage_core::runtime::Runtime>(runtime: R) {
    /// let group = stage_core::group::Builder::new(runtime)
    ///     .tasks(2)
    ///     .spawn(|| std::future::pending());
    /// let tasks = group.release().await.unwrap();
    /// for task in tasks {
    ///     task.abort();
    ///     assert!(matches!(task.await, Exit::Aborted));
    /// }
    /// # }
    /// ```
    pub async fn release(mut self) -> Result<Vec<R::Task>, GroupError> {
        match self.end(Command::Release).await? {
            Some(Ending::Released(tasks)) => Ok(tasks),
            // It had ended on its own before: no task was running.
            _ => Ok(Vec::new()),
        }
    }

    /// Runs `n` more tasks, started at once from the factory.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f<R: stage_core::runtime::Runtime>(group: stage_core::group::Group<R>) {
    /// group.upscale(2);
    /// # }
    /// ```
    pub fn upscale(&self, n: usize) {
        self.resize(|tasks| tasks.saturating_add(n));
    }

    /// Runs `n` fewer tasks, keeping at least one: the newest tasks are
    /// aborted at their next await point (they get no warning), and are not
    /// restarted.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f<R: stage_core::runtime::Runtime>(group: stage_core::group::Group<R>) {
    /// group.downscale(1);
    /// # }
    /// ```
    pub fn downscale(&self, n: usize) {
        self.resize(|tasks| tasks.saturating_sub(n).max(1));
    }

    fn resize(&self, to: impl Fn(usize) -> usize) {
        // AcqRel: the supervisor's Acquire load sees the newest target.
        let _ = self
            .shared
            .target
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| Some(to(t)));
        // A nudge; if one is already queued, the supervisor will see the
        // new target when it takes that one.
        let _ = self.commands.try_send(Command::Resize);
    }

    /// Sends `command` (unless the supervisor has ended: its commands are
    /// closed then), and waits until the supervisor has ended.
    async fn end(&mut self, command: Command) -> Result<Option<Ending<R>>, GroupError> {
        let _ = self.commands.send(command).await;
        self.wait_for_supervisor().await
    }

    /// Waits until the supervisor has ended; takes how it ended.
    async fn wait_for_supervisor(&mut self) -> Result<Option<Ending<R>>, GroupError> {
        if let Some(supervisor) = self.supervisor.take() {
            let exit = supervisor.await;
            self.check(exit)?;
        }
        self.take_ending()
    }

    /// The supervisor's own exit: never discarded. It does not panic on its
    /// tasks' account, so a panic is a bug in stage, and goes on to the
    /// caller; an abort (its runtime shut down) is an error.
    fn check(&self, exit: Exit) -> Result<(), GroupError> {
        match exit {
            Exit::Returned => Ok(()),
            Exit::Panicked(payload) => std::panic::resume_unwind(payload),
            Exit::Aborted => Err(GroupError::SupervisorAborted {
                group: self.name.to_string(),
            }),
        }
    }

    /// How the supervisor ended, with giving up as the error it is.
    fn take_ending(&self) -> Result<Option<Ending<R>>, GroupError> {
        let ending = self
            .shared
            .ending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match ending {
            Some(Ending::GaveUp(error)) => Err(error),
            other => Ok(other),
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
        self.shared.stats.borrow()
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
        self.seen = self.shared.stats.version();
        self.shared.stats.borrow()
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
        self.shared.stats.version() != self.seen
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
        self.shared.stats.changed_since(self.seen).await;
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
            .field("stats", &*self.shared.stats.borrow())
            .finish_non_exhaustive()
    }
}
