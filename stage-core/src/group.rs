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
//! group unless the caller takes it ([`Group::release`]): however the group
//! ends — stopped, dropped, given up, its supervisor's runtime gone — its
//! tasks are aborted, and every method that waits for it ends.
//!
//! The examples use the `stage` crate, which binds groups to tokio
//! (`stage::group()` is `Builder::new(Tokio::current())`).

pub(crate) mod control;
pub(crate) mod deadline;
mod error;
mod handle;
pub(crate) mod policy;
pub(crate) mod pool;
mod shutdown;
mod slots;
pub(crate) mod stats;
mod supervisor;
pub(crate) mod task;
pub(crate) mod timers;

#[cfg(test)]
mod tests;

use core::fmt;
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::pin::pin;
use core::task::Poll;
use std::sync::Mutex;
use std::time::Duration;

pub(crate) use crate::signal::Signal;
pub use error::{Ended, GroupError, ScaleError};
pub use handle::GroupHandle;
pub use policy::{Backoff, Restart};
pub use pool::{DrainReport, Pool, Worker};
pub use shutdown::{ShutdownReport, StopSignal, TaskReport};
pub use stats::{Stats, StatsRef};
pub use task::{current, made_progress, trace_task_panics, TaskId};

use crate::mailbox::Receiver;
use crate::runtime::{drop_exit, Contained, Exit, Runtime};
use crate::sync::Arc;
use control::{Control, Request};
use policy::Intensity;
use stats::StatsCell;
use supervisor::{Closing, Ending, Shared, Supervisor};

/// How many tasks a group may run unless told otherwise (see
/// [`Builder::max_tasks`]).
///
/// # Examples
///
/// ```
/// use stage::group::{ScaleError, DEFAULT_MAX_TASKS};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let group = stage::group().spawn(std::future::pending::<()>);
/// assert_eq!(
///     group.upscale(DEFAULT_MAX_TASKS),
///     Err(ScaleError::TooManyTasks { requested: DEFAULT_MAX_TASKS + 1, max: DEFAULT_MAX_TASKS })
/// );
/// # group.stop().await.unwrap();
/// # }
/// ```
pub const DEFAULT_MAX_TASKS: usize = 65_536;

/// Settings of a group, before it starts.
///
/// # Examples
///
/// ```
/// use stage::group::{Backoff, Restart};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let group = stage::group()
///     .name("resizer")
///     .tasks(4)
///     .restart(Restart::OnFailure)
///     .backoff(Backoff::none())
///     .spawn(|| async { /* resize an image */ });
/// group.join().await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a group starts only when `spawn` is called"]
pub struct Builder<R> {
    runtime: R,
    name: Arc<str>,
    tasks: usize,
    max_tasks: usize,
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
    /// use stage::group::Builder;
    /// use stage::runtime::Tokio;
    ///
    /// let runtime = tokio::runtime::Runtime::new().unwrap();
    /// // Supervise on that runtime, from wherever this code runs.
    /// let group = Builder::new(Tokio::with_handle(runtime.handle().clone()))
    ///     .spawn(std::future::pending::<()>);
    /// runtime.block_on(group.stop()).unwrap();
    /// ```
    pub fn new(runtime: R) -> Self {
        Self {
            runtime,
            name: Arc::from("group"),
            tasks: 1,
            max_tasks: DEFAULT_MAX_TASKS,
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
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().name("ingest").spawn(std::future::pending::<()>);
    /// assert!(format!("{group:?}").contains("ingest"));
    /// # group.stop().await.unwrap();
    /// # }
    /// ```
    pub fn name(mut self, name: impl AsRef<str>) -> Self {
        self.name = Arc::from(name.as_ref());
        self
    }

    /// How many copies of the task run at once (1 unless set).
    ///
    /// # Panics
    ///
    /// [`spawn`](Builder::spawn) panics if `tasks` is 0 (a group that runs
    /// nothing would end at once; say `Restart::Never` for that) or more than
    /// [`max_tasks`](Builder::max_tasks).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().tasks(8).spawn(std::future::pending::<()>);
    /// assert_eq!(group.stat_borrow().tasks, 8);
    /// # group.stop().await.unwrap();
    /// # }
    /// ```
    pub fn tasks(mut self, tasks: usize) -> Self {
        self.tasks = tasks;
        self
    }

    /// The most tasks the group may run, however it is
    /// [upscaled](GroupHandle::upscale); [`DEFAULT_MAX_TASKS`] unless set.
    ///
    /// A guard against a runaway upscale: a group grows by starting its
    /// tasks a few at a time (it never holds its executor's thread to start
    /// thousands), but each task costs memory, and a group without a limit
    /// can be asked for more than a machine has.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().max_tasks(2).spawn(std::future::pending::<()>);
    /// assert!(group.upscale(1).is_ok());
    /// assert!(group.upscale(1).is_err());
    /// # group.stop().await.unwrap();
    /// # }
    /// ```
    pub fn max_tasks(mut self, max_tasks: usize) -> Self {
        self.max_tasks = max_tasks;
        self
    }

    /// Which exits are restarted; see [`Restart`].
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::group::Restart;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().restart(Restart::Never).spawn(|| async {});
    /// group.join().await.unwrap(); // the task returned, and stays ended
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
    /// use stage::group::Backoff;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().backoff(Backoff::none()).spawn(std::future::pending::<()>);
    /// # group.stop().await.unwrap();
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
    /// The group keeps the time of each restart in the window: at most
    /// `restarts` of them.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use stage::group::{Backoff, GroupError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group()
    ///     .backoff(Backoff::none())
    ///     .intensity(5, Duration::from_secs(10))
    ///     .spawn(|| async { panic!("the database is down") });
    /// let error = group.join().await.unwrap_err();
    /// assert!(matches!(error, GroupError::GaveUp { restarts: 5, .. }));
    /// # }
    /// ```
    pub fn intensity(mut self, restarts: u32, within: Duration) -> Self {
        self.intensity = Some(Intensity::new(restarts, within));
        self
    }

    /// Starts the group: a supervisor task that runs the futures `factory`
    /// makes — one per task, and a new one for each restart.
    ///
    /// # Panics
    ///
    /// If the group would run no task or more than
    /// [`max_tasks`](Builder::max_tasks) (see [`tasks`](Builder::tasks)), and
    /// where the runtime's `spawn` panics (for tokio: outside a runtime).
    /// The panic points at the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().spawn(|| async {
    ///     // serve requests, crash now and then ...
    /// #   std::future::pending::<()>().await;
    /// });
    /// group.stop().await.unwrap();
    /// # }
    /// ```
    #[track_caller]
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
    /// As [`spawn`](Builder::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, jobs) = stage::mailbox::<u64>(16);
    /// let group = stage::group().spawn_graceful(move |stop| {
    ///     let jobs = jobs.clone();
    ///     async move {
    ///         while !stop.is_requested() {
    ///             let job = jobs.recv().await;
    ///             // handle it ...
    /// #           let _ = job;
    ///         }
    ///     }
    /// });
    /// tx.send(7).await.unwrap();
    /// let report = group.shutdown(Duration::from_secs(1)).await.unwrap();
    /// assert_eq!(report.tasks.len(), 1);
    /// # }
    /// ```
    #[track_caller]
    pub fn spawn_graceful<F, Fut>(self, factory: F) -> Group<R>
    where
        F: FnMut(StopSignal) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.start(factory, true)
    }

    /// Starts a pool: a group whose tasks consume `inbox`, at least once,
    /// and that can [drain](Pool::drain) it. The factory gets each task's
    /// [`Worker`] and makes its future, which usually just
    /// [serves](Worker::serve) the mailbox with a handler (anything the
    /// handler needs per task, make it in the factory).
    ///
    /// A worker that crashes on a message is restarted by the group's
    /// policy, and the message is handled again, ahead of the queue; after
    /// the mailbox's `max_attempts` it is a dead letter instead (see
    /// [`mailbox::Builder`](crate::mailbox::Builder)).
    ///
    /// # Panics
    ///
    /// As [`spawn`](Builder::spawn).
    ///
    /// # Examples
    ///
    /// A pool of four workers; one job in ten crashes its worker once:
    ///
    /// ```
    /// use std::time::Duration;
    /// use stage::group::Backoff;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // A job, and how often a handler has taken it (kept across crashes).
    /// let (jobs, inbox) = stage::mailbox::<(u64, u32)>(256);
    /// let (done, results) = stage::mailbox::<u64>(256);
    /// let pool = stage::group()
    ///     .name("squares")
    ///     .tasks(4)
    ///     .backoff(Backoff::none())
    ///     .consume(inbox, move |worker| {
    ///         let done = done.clone();
    ///         async move {
    ///             worker
    ///                 .serve(async move |(n, tries): &mut (u64, u32)| {
    ///                     *tries += 1;
    ///                     if *n % 10 == 7 && *tries == 1 {
    ///                         panic!("job {n} crashed");
    ///                     }
    ///                     done.send(*n * *n).await.unwrap();
    ///                 })
    ///                 .await
    ///         }
    ///     });
    /// for n in 0..100 {
    ///     jobs.send((n, 0)).await.unwrap();
    /// }
    /// let drained = pool.drain(Duration::from_secs(10)).await.unwrap();
    /// assert_eq!(drained.left, 0);
    /// assert_eq!(results.len(), 100); // every job, the crashed ones too
    /// # }
    /// ```
    #[track_caller]
    pub fn consume<T, F, Fut>(self, inbox: Receiver<T>, mut factory: F) -> Pool<T, R>
    where
        T: Send + 'static,
        F: FnMut(Worker<T>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let runtime = self.runtime.clone();
        let workers = inbox.clone();
        let group = self.start(move |stop| factory(pool::worker(&workers, stop)), true);
        Pool::new(group, inbox, runtime)
    }

    /// Why a group of this size cannot start, if it cannot.
    pub(crate) fn size_problem(&self) -> Option<&'static str> {
        if self.tasks == 0 {
            Some("a group needs at least one task")
        } else if self.tasks > self.max_tasks {
            Some("a group's tasks exceed its max_tasks")
        } else {
            None
        }
    }

    #[track_caller]
    fn start<F, Fut>(self, factory: F, graceful: bool) -> Group<R>
    where
        F: FnMut(StopSignal) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        assert!(self.tasks > 0, "a group needs at least one task");
        assert!(
            self.tasks <= self.max_tasks,
            "a group of {} tasks exceeds its limit of {} (see `Builder::max_tasks`)",
            self.tasks,
            self.max_tasks,
        );
        let shared = Arc::new(Shared {
            name: self.name,
            control: Control::new(self.tasks, self.max_tasks),
            stats: StatsCell::new(Stats {
                tasks: self.tasks,
                ..Stats::default()
            }),
            ending: Mutex::new(None),
        });
        let signal = StopSignal::default();
        let supervisor = Supervisor {
            runtime: self.runtime.clone(),
            shared: Arc::clone(&shared),
            closing: Closing::new(Arc::clone(&shared), signal.clone()),
            initial: self.tasks,
            factory: Contained::new(factory, "the group's factory"),
            restart: self.restart,
            backoff: self.backoff,
            intensity: self.intensity,
            graceful,
            signal,
        };
        let supervisor = self.runtime.spawn(supervisor.run());
        Group {
            handle: GroupHandle { shared, seen: 0 },
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
/// Every method that waits for the group to end ends itself, whatever
/// became of the supervisor: if its runtime shut down, with
/// [`GroupError::SupervisorAborted`]; if it panicked (a bug in stage — it
/// never panics on its tasks' account), with
/// [`GroupError::SupervisorPanicked`]. Either way the group's tasks were
/// aborted with it.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut group = stage::group().tasks(3).spawn(std::future::pending::<()>);
/// while group.stat_borrow_and_update().running < 3 {
///     group.changed().await.unwrap();
/// }
/// group.stop().await.unwrap();
/// # }
/// ```
#[must_use = "dropping a group stops its tasks"]
pub struct Group<R: Runtime> {
    /// Scaling, statistics and requests: what any holder of a handle can do
    /// (a `Group` dereferences to it).
    handle: GroupHandle<R>,
    /// `None` once awaited.
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
    /// Dropping the returned future drops `future` and the group, which
    /// stops it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().spawn(std::future::pending::<()>);
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
        self.end(Request::Stop).await.map(|ending| {
            discard(ending);
            out
        })
    }

    /// Waits until the group ends on its own: every task ended and was not
    /// restarted (under [`Restart::OnFailure`] or [`Restart::Never`]), or the
    /// group gave up. Under [`Restart::Always`] only giving up ends it.
    ///
    /// # Errors
    ///
    /// The [`GroupError`] if the group gave up.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the group, which stops it.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::group::Restart;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group()
    ///     .tasks(10)
    ///     .restart(Restart::OnFailure)
    ///     .spawn(|| async { /* a job that may crash, retried until it returns */ });
    /// group.join().await.unwrap();
    /// # }
    /// ```
    pub async fn join(mut self) -> Result<(), GroupError> {
        self.wait_for_supervisor().await.map(discard)
    }

    /// Stops the group: aborts every task and waits until none runs; a
    /// pending restart is cancelled.
    ///
    /// # Errors
    ///
    /// The [`GroupError`] that ended the group, if it gave up before.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the group: its tasks are still
    /// aborted, but nothing waits until they have stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().spawn(std::future::pending::<()>);
    /// assert_eq!(group.stop().await, Ok(()));
    /// # }
    /// ```
    pub async fn stop(mut self) -> Result<(), GroupError> {
        self.end(Request::Stop).await.map(discard)
    }

    /// Shuts the group down gracefully, within one deadline: the tasks'
    /// [`StopSignal`] is raised, no task is restarted any more, and tasks
    /// still running when `grace` has passed are aborted. Tasks started by
    /// [`spawn`](Builder::spawn) cannot watch the signal, and are aborted at
    /// once. Waits until no task runs. A `grace` of 10,000 years or more
    /// (`Duration::MAX`, say) is a deadline that never comes: the tasks get
    /// all the time they need. Tasks an [`upscale`](GroupHandle::upscale) has not
    /// started yet are not started any more, and are not in the report.
    ///
    /// # Errors
    ///
    /// The [`GroupError`] that ended the group, if it gave up before.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the group, which cuts the grace
    /// period short: the tasks still running are aborted at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group()
    ///     .tasks(2)
    ///     .spawn_graceful(|stop| async move { stop.requested().await });
    /// let report = group.shutdown(Duration::from_secs(5)).await.unwrap();
    /// assert_eq!(report.tasks.len(), 2);
    /// assert_eq!(report.aborted(), 0);
    /// # }
    /// ```
    pub async fn shutdown(mut self, grace: Duration) -> Result<ShutdownReport, GroupError> {
        match self.end(Request::Shutdown { grace }).await? {
            Some(Ending::ShutDown(report)) => Ok(report),
            // It had ended on its own before: no task was running.
            _ => Ok(ShutdownReport::default()),
        }
    }

    /// Stops supervising and hands back the running tasks, in task order:
    /// nothing is aborted, and nothing is restarted any more. Await a task to
    /// learn how it ended, or abort it; dropping one lets it run on,
    /// detached. Pending restarts are cancelled, and tasks an
    /// [`upscale`](GroupHandle::upscale) has not started yet are not started. The
    /// tasks' [`StopSignal`] stays as it is: ending them is the caller's
    /// business now.
    ///
    /// # Errors
    ///
    /// The [`GroupError`] that ended the group, if it gave up before (its
    /// tasks were stopped then).
    ///
    /// # Cancel safety
    ///
    /// The tasks become the caller's only when the returned future
    /// completes: dropping it before drops the group, and its tasks are
    /// aborted, never left running unsupervised.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::runtime::{Exit, Task};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().tasks(2).spawn(std::future::pending::<()>);
    /// let tasks = group.release().await.unwrap();
    /// assert_eq!(tasks.len(), 2);
    /// for task in tasks {
    ///     task.abort();
    ///     assert!(matches!(task.await, Exit::Aborted));
    /// }
    /// # }
    /// ```
    pub async fn release(mut self) -> Result<Vec<R::Task>, GroupError> {
        match self.end(Request::Release).await? {
            Some(Ending::Released(tasks)) => {
                Ok(tasks.into_iter().map(|t| t.into_inner()).collect())
            }
            // It had ended on its own before: no task was running.
            _ => Ok(Vec::new()),
        }
    }

    /// Waits until the group has ended; takes its shutdown report, if it
    /// left one (a supervisor asks this of a group child it stopped).
    pub(crate) async fn wait_report(mut self) -> Result<Option<ShutdownReport>, GroupError> {
        match self.wait_for_supervisor().await? {
            Some(Ending::ShutDown(report)) => Ok(Some(report)),
            other => {
                discard(other);
                Ok(None)
            }
        }
    }

    /// Asks for `request`, and waits until the supervisor has ended.
    async fn end(&mut self, request: Request) -> Result<Option<Ending<R>>, GroupError> {
        self.handle.shared.control.request(request);
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

    /// The supervisor's own exit: never discarded. A panic is a bug in
    /// stage, an abort means its runtime shut down; both are errors.
    fn check(&self, exit: Exit) -> Result<(), GroupError> {
        let group = self.handle.shared.name.to_string();
        let error = match &exit {
            Exit::Returned => return Ok(()),
            Exit::Panicked(_) => GroupError::SupervisorPanicked {
                group,
                message: exit.panic_message().map(str::to_owned),
            },
            Exit::Aborted => GroupError::SupervisorAborted { group },
        };
        drop_exit(exit);
        Err(error)
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
            Some(Ending::Failed(error)) => Err(error),
            other => Ok(other),
        }
    }
}

impl<R: Runtime> Group<R> {
    /// A handle to scale, watch and stop this group from elsewhere; see
    /// [`GroupHandle`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = stage::group().spawn(std::future::pending::<()>);
    /// let handle = group.handle();
    /// tokio::spawn(async move { handle.upscale(3) }).await.unwrap().unwrap();
    /// assert_eq!(group.stat_borrow().tasks, 4);
    /// # group.stop().await.unwrap();
    /// # }
    /// ```
    pub fn handle(&self) -> GroupHandle<R> {
        self.handle.clone()
    }
}

impl<R: Runtime> Deref for Group<R> {
    type Target = GroupHandle<R>;

    fn deref(&self) -> &GroupHandle<R> {
        &self.handle
    }
}

impl<R: Runtime> DerefMut for Group<R> {
    fn deref_mut(&mut self) -> &mut GroupHandle<R> {
        &mut self.handle
    }
}

/// Drops an ending nobody asked for (a report after a stop, say) without
/// letting a panic payload's `Drop` panic into the caller.
fn discard<R: Runtime>(ending: Option<Ending<R>>) {
    if let Some(Ending::ShutDown(report)) = ending {
        report
            .tasks
            .into_iter()
            .for_each(|task| drop_exit(task.exit));
    }
}

impl<R: Runtime> Drop for Group<R> {
    fn drop(&mut self) {
        // The supervisor stops the tasks. It is not aborted (its handle
        // detaches): it aborts its tasks and waits for them first.
        self.handle.shared.control.request(Request::Stop);
    }
}

impl<R: Runtime> fmt::Debug for Group<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("name", &&*self.handle.shared.name)
            .field("stats", &self.handle.shared.stats.get())
            .finish_non_exhaustive()
    }
}
