//! Pools: a group whose tasks consume one mailbox, at least once, and that
//! drains it on the way out.

use core::fmt;
use core::ops::{Deref, DerefMut};
use core::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either};

use super::deadline::{self, Deadline};
use super::error::GroupError;
use super::shutdown::{ShutdownReport, StopSignal, TaskReport};
use super::Group;
use crate::mailbox::Receiver;
use crate::runtime::Runtime;

/// What each task of a [`Pool`] gets from the factory: the mailbox it
/// consumes, and the group's stop signal.
///
/// [`serve`](Worker::serve) is the loop a worker runs.
///
/// # Examples
///
/// See [`Builder::consume`](super::Builder::consume).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, inbox) = stage::mailbox::<u32>(8);
/// let pool = stage::group().consume(inbox, |worker| async move {
///     assert!(worker.inbox().capacity() == 8 && !worker.stop_signal().is_requested());
///     worker.serve(async |_n: &mut u32| {}).await
/// });
/// tx.send(1).await.unwrap();
/// pool.drain(std::time::Duration::from_secs(1)).await.unwrap();
/// # }
/// ```
pub struct Worker<T> {
    inbox: Receiver<T>,
    stop: StopSignal,
}

impl<T> Worker<T> {
    /// The mailbox this worker consumes.
    ///
    /// # Examples
    ///
    /// See [`Worker`].
    ///
    /// ```
    /// # fn f(worker: &stage::group::Worker<u8>) {
    /// println!("{} jobs queued", worker.inbox().len());
    /// # }
    /// ```
    pub fn inbox(&self) -> &Receiver<T> {
        &self.inbox
    }

    /// The group's stop signal (see [`StopSignal`]).
    ///
    /// # Examples
    ///
    /// See [`Worker`].
    ///
    /// ```
    /// # fn f(worker: &stage::group::Worker<u8>) {
    /// if worker.stop_signal().is_requested() { /* finish up */ }
    /// # }
    /// ```
    pub fn stop_signal(&self) -> &StopSignal {
        &self.stop
    }

    /// Handles the mailbox's messages one at a time, at least once, until
    /// the pool stops.
    ///
    /// Each message is received under a guard and handed to `handler`; it
    /// is acknowledged when the handler returns. If the handler panics, the
    /// message goes back to the mailbox, ahead of the queue, for the next
    /// attempt (the restarted worker, or another), and the panic goes on:
    /// the worker crashes, and the group restarts it. After the mailbox's
    /// `max_attempts` a message is a dead letter instead.
    ///
    /// What the handler changed in the message stays changed when it goes
    /// back: a handler can count its attempts, or note how far it got, in
    /// the message itself (see the example of
    /// [`drain`](Pool::drain)). A message whose worker the group aborts (a
    /// downscale, a stop, a deadline) goes back too, and that interrupted
    /// delivery counts as an attempt.
    ///
    /// Returns once the mailbox is closed and drained (a [drain](Pool::drain)
    /// closes it), or when the group's stop signal is raised while it waits
    /// for a message (a [shutdown](Group::shutdown)); a message being
    /// handled then is finished first.
    ///
    /// Write a handler that uses values of its task as an `async move`
    /// closure (`async move |job: &mut Job| ..`): one that borrows them
    /// instead makes the task's future fail the `Send` check with
    /// "implementation of `Send` is not general enough", a limit of today's
    /// compiler (rust-lang/rust#110338) rather than of the handler.
    ///
    /// # Cancel safety
    ///
    /// A message being handled when the future is dropped goes back to the
    /// mailbox for another attempt; none is lost.
    ///
    /// # Examples
    ///
    /// See [`Builder::consume`](super::Builder::consume).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, inbox) = stage::mailbox::<String>(8);
    /// let pool = stage::group().consume(inbox, |worker| async move {
    ///     worker.serve(async |name: &mut String| println!("hello, {name}")).await
    /// });
    /// tx.send("world".into()).await.unwrap();
    /// let drained = pool.drain(std::time::Duration::from_secs(1)).await.unwrap();
    /// assert_eq!(drained.left, 0);
    /// # }
    /// ```
    pub async fn serve(&self, mut handler: impl AsyncFnMut(&mut T)) {
        loop {
            // The stop signal first: a shutdown does not drain a backlog.
            let stopping = pin!(self.stop.requested());
            let next = pin!(self.inbox.recv_guarded_or_closed());
            let delivery = match select(stopping, next).await {
                Either::Right((Ok(delivery), _)) => delivery,
                // Asked to stop, or closed and drained: done.
                Either::Left(_) | Either::Right((Err(_), _)) => return,
            };
            delivery.process(&mut handler).await;
            // Handled: a crash after this is not a crash loop.
            super::made_progress();
        }
    }
}

impl<T> fmt::Debug for Worker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("inbox", &self.inbox)
            .field("stop", &self.stop)
            .finish()
    }
}

/// A group whose tasks consume one mailbox: made by
/// [`Builder::consume`](super::Builder::consume).
///
/// Everything a [`Group`] does (it dereferences to one), and
/// [`drain`](Pool::drain): finish what is queued, keep healing while doing
/// it, give up at a deadline, and say what was left.
///
/// # Examples
///
/// See [`Builder::consume`](super::Builder::consume).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (_tx, inbox) = stage::mailbox::<u8>(8);
/// let pool = stage::group().tasks(2).consume(inbox, |worker| async move {
///     worker.serve(async |_job: &mut u8| {}).await
/// });
/// assert_eq!(pool.stat_borrow().tasks, 2);
/// pool.stop().await.unwrap();
/// # }
/// ```
#[must_use = "dropping a pool stops its tasks"]
pub struct Pool<T, R: Runtime> {
    group: Group<R>,
    inbox: Receiver<T>,
    runtime: R,
}

/// How a [drain](Pool::drain) ended.
///
/// # Examples
///
/// See [`Pool::drain`].
///
/// ```
/// # fn f(drained: stage::group::DrainReport) {
/// if drained.left > 0 {
///     eprintln!("{} jobs were left in the mailbox", drained.left);
/// }
/// # }
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct DrainReport {
    /// Messages still in the mailbox when the pool ended: 0 if it drained in
    /// time. Those a task was handling at the deadline went back to it, and
    /// count here. Take them with a receiver of the mailbox kept from
    /// before (`pool.inbox().clone()`): the mailbox is closed, not emptied.
    pub left: usize,
    /// How every worker ended, in task order: `was_running` is true for
    /// those running when the drain began, which returned once the work was
    /// done or were aborted at the deadline.
    pub tasks: Vec<TaskReport>,
}

impl DrainReport {
    /// How many workers the deadline aborted.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(stage::group::DrainReport::default().aborted(), 0);
    /// ```
    pub fn aborted(&self) -> usize {
        ShutdownReport::count_aborted(&self.tasks)
    }
}

impl<T, R: Runtime> Pool<T, R> {
    pub(crate) fn new(group: Group<R>, inbox: Receiver<T>, runtime: R) -> Self {
        Self {
            group,
            inbox,
            runtime,
        }
    }

    /// The mailbox the pool consumes.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (_tx, inbox) = stage::mailbox::<u8>(8);
    /// let pool = stage::group().consume(inbox, |w| async move { w.serve(async |_: &mut u8| {}).await });
    /// assert!(pool.inbox().is_empty());
    /// # pool.stop().await.unwrap();
    /// # }
    /// ```
    pub fn inbox(&self) -> &Receiver<T> {
        &self.inbox
    }

    /// Drains the pool: the mailbox is closed (senders get their messages
    /// back), the workers handle what is queued, and the pool keeps healing
    /// while they do — a worker that crashes is restarted by the group's
    /// policy, and the message it crashed on is handled again. Each worker
    /// returns once the mailbox is empty, and is not restarted. When the
    /// last has returned, or when `grace` has passed, the pool ends: at the
    /// deadline, workers still running are aborted (the messages they held
    /// go back to the mailbox) and `left` says how many messages remained.
    ///
    /// A `grace` of 10,000 years or more (`Duration::MAX`) never ends: the
    /// drain waits until every worker has returned — for ever, if a worker
    /// never can (a factory that panics on every start, a handler that
    /// never returns). A drain asked for during a longer shutdown still ends
    /// by its own deadline.
    ///
    /// # Errors
    ///
    /// The [`GroupError`] that ended the group, if it gave up before or
    /// while draining.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the pool, which stops it: its
    /// workers are aborted at once, and the messages they held go back to
    /// the mailbox (closed by then).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use stage::group::Backoff;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // A job, and how often a handler has taken it.
    /// struct Job { id: u32, tries: u32 }
    ///
    /// let (jobs, inbox) = stage::mailbox::<Job>(64);
    /// let pool = stage::group().tasks(2).backoff(Backoff::none()).consume(inbox, |worker| async move {
    ///     worker
    ///         .serve(async |job: &mut Job| {
    ///             job.tries += 1; // kept if the handler crashes
    ///             if job.id == 3 && job.tries == 1 {
    ///                 panic!("job 3 crashed its worker"); // handled again after the restart
    ///             }
    ///         })
    ///         .await
    /// });
    /// for id in 0..10 {
    ///     jobs.send(Job { id, tries: 0 }).await.unwrap();
    /// }
    /// let drained = pool.drain(Duration::from_secs(5)).await.unwrap();
    /// assert_eq!(drained.left, 0);
    /// assert!(jobs.send(Job { id: 11, tries: 0 }).await.is_err(), "the mailbox is closed");
    /// # }
    /// ```
    pub async fn drain(self, grace: Duration) -> Result<DrainReport, GroupError> {
        let Self {
            group,
            inbox,
            runtime,
        } = self;
        // Draining first, then closed: a worker that finds the mailbox
        // closed and returns must not be taken for one to restart.
        group.handle.shared.control.drain();
        inbox.close();
        let handle = group.handle();
        match deadline::after(runtime.now(), grace) {
            None => handle.ended().await,
            Some(at) => {
                let mut deadline = Deadline::<R>::new(at);
                let expired = core::future::poll_fn(|cx| deadline.poll(&runtime, cx));
                if let Either::Right(_) = select(pin!(handle.ended()), pin!(expired)).await {
                    tracing::warn!(
                        group = &*handle.shared.name,
                        ?grace,
                        left = inbox.len(),
                        "the drain's deadline passed: aborting the workers still running"
                    );
                }
            }
        }
        // Drained: this takes the report of how every worker returned. At
        // the deadline: whoever still runs is aborted, and reported so.
        let report = group.shutdown(Duration::ZERO).await?;
        Ok(DrainReport {
            left: inbox.len(),
            tasks: report.tasks,
        })
    }

    /// Stops the pool, as [`Group::stop`]: its workers are aborted, and the
    /// messages they held go back to the mailbox, which stays open.
    ///
    /// # Errors
    ///
    /// As [`Group::stop`].
    ///
    /// # Cancel safety
    ///
    /// As [`Group::stop`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (_tx, inbox) = stage::mailbox::<u8>(8);
    /// let pool = stage::group().consume(inbox, |w| async move { w.serve(async |_: &mut u8| {}).await });
    /// pool.stop().await.unwrap();
    /// # }
    /// ```
    pub async fn stop(self) -> Result<(), GroupError> {
        self.group.stop().await
    }

    /// The pool's group, without the mailbox: for the rest of [`Group`]'s
    /// endings (a graceful [`shutdown`](Group::shutdown) that does not
    /// drain, [`release`](Group::release), [`join`](Group::join),
    /// [`scope`](Group::scope)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (_tx, inbox) = stage::mailbox::<u8>(8);
    /// let pool = stage::group().consume(inbox, |w| async move { w.serve(async |_: &mut u8| {}).await });
    /// // Workers waiting for a message stop at the signal; nothing is drained.
    /// let report = pool.into_group().shutdown(Duration::from_secs(1)).await.unwrap();
    /// assert_eq!(report.aborted(), 0);
    /// # }
    /// ```
    pub fn into_group(self) -> Group<R> {
        self.group
    }
}

impl<T, R: Runtime> Deref for Pool<T, R> {
    type Target = Group<R>;

    fn deref(&self) -> &Group<R> {
        &self.group
    }
}

impl<T, R: Runtime> DerefMut for Pool<T, R> {
    fn deref_mut(&mut self) -> &mut Group<R> {
        &mut self.group
    }
}

impl<T, R: Runtime> fmt::Debug for Pool<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("group", &self.group)
            .field("inbox", &self.inbox)
            .finish()
    }
}

/// Makes a worker for each task of a pool.
pub(crate) fn worker<T>(inbox: &Receiver<T>, stop: StopSignal) -> Worker<T> {
    Worker {
        inbox: inbox.clone(),
        stop,
    }
}
