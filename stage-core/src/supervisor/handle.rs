//! A running supervisor's handle: what any task may ask of it.

use core::fmt;
use std::time::Duration;

use super::child::Child;
use super::error::ChildError;
use super::reply::{reply, Answer};
use super::tree::{Command, Shared};
use super::view::{self, Snapshot, TreeStats};
use crate::group::control::Request;
use crate::group::{current, Ended};
use crate::runtime::Runtime;
use crate::sync::Arc;

/// A handle to a running supervisor: cloned freely, it starts, stops,
/// restarts, kills and removes children by name (or by path, for a child
/// of a child supervisor: `pipeline/writer`), reads the tree's snapshot and
/// stats, and asks the supervisor to stop.
/// It does not keep the supervisor running: dropping the [`Supervisor`]
/// stops the tree, and then every request says
/// [`ChildError::SupervisorEnded`].
///
/// A [`Supervisor`] derefs to its handle.
///
/// A child may ask to stop, restart or remove itself (or a supervisor
/// above it): since it could not wait for its own end, the request is
/// queued and answered at once (`Ok`; for a restart, the generation it
/// will start as). A task the child spawned itself is not known to be
/// inside it: it waits for the answer, and holds up the stop.
///
/// While a child starts (until it is ready) or is being stopped, other
/// requests wait, as OTP's supervisor is busy in a child's `init`: a child
/// that asks its own supervisor something before it is ready waits out its
/// start timeout. [`kill_child`](Self::kill_child) is served even then.
///
/// [`Supervisor`]: super::Supervisor
///
/// # Examples
///
/// ```
/// use stage::supervisor::Child;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tree = stage::supervisor().name("app").spawn();
/// let handle = tree.handle();
/// tokio::spawn(async move {
///     let worker = Child::worker("late", |stop| async move { stop.requested().await });
///     handle.start_child(worker).await.unwrap();
/// })
/// .await
/// .unwrap();
/// tree.remove_child("late").await.unwrap();
/// tree.stop().await.unwrap();
/// # }
/// ```
pub struct SupervisorHandle<R: Runtime> {
    pub(crate) shared: Arc<Shared<R>>,
    /// The stats version this handle saw last.
    pub(crate) seen: u64,
}

impl<R: Runtime> SupervisorHandle<R> {
    /// The supervisor's path (`app/pipeline`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().name("app").spawn();
    /// assert_eq!(tree.path(), "app");
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn path(&self) -> &str {
        &self.shared.path
    }

    /// The handle of a child supervisor, by its path below this one
    /// (`pipeline`, `pipeline/inner`), while it runs: to start children in
    /// it, or to watch its stats. It is the handle of the incarnation
    /// running now: once that one has ended (restarted by this supervisor,
    /// say), it answers [`ChildError::SupervisorEnded`]; look it up again.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor()
    ///     .name("app")
    ///     .child(Child::supervisor("pipeline", stage::supervisor()))
    ///     .spawn();
    /// tree.ready().await.unwrap();
    /// let pipeline = tree.child_supervisor("pipeline").unwrap();
    /// assert_eq!(pipeline.path(), "app/pipeline");
    /// let writer = Child::worker("writer", |stop| async move { stop.requested().await });
    /// pipeline.start_child(writer).await.unwrap();
    /// tree.stop_child("pipeline/writer").await.unwrap(); // a path works too
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn child_supervisor(&self, path: &str) -> Option<SupervisorHandle<R>> {
        let mut shared = Arc::clone(&self.shared);
        for name in path.split('/') {
            shared = view::child_supervisor(&shared, name)?;
        }
        Some(SupervisorHandle { shared, seen: 0 })
    }

    /// The supervisor that holds the child at `path` (`writer`, or
    /// `pipeline/writer` for a child of a child supervisor), and the
    /// child's name.
    fn holder<'p>(&self, path: &'p str) -> Result<(Arc<Shared<R>>, &'p str), ChildError> {
        match path.rsplit_once('/') {
            None => Ok((Arc::clone(&self.shared), path)),
            Some((parents, name)) => match self.child_supervisor(parents) {
                Some(holder) => Ok((holder.shared, name)),
                None => Err(ChildError::NotFound {
                    supervisor: self.shared.path.to_string(),
                    name: parents.to_owned(),
                }),
            },
        }
    }

    /// Adds a child after the others and starts it. Returns once it is
    /// ready (for a worker that [says so](Child::worker_with_ready)), with
    /// its generation (1).
    ///
    /// # Errors
    ///
    /// [`ChildError::NameTaken`] if a child has its name,
    /// [`ChildError::Invalid`] if it cannot be this supervisor's child,
    /// [`ChildError::StartFailed`] if it ended before it was ready or was
    /// not ready in time (it is removed again), and
    /// [`ChildError::SupervisorEnded`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not cancel the request: the child is still
    /// added and started.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().spawn();
    /// let worker = Child::worker("w", |stop| async move { stop.requested().await });
    /// assert_eq!(tree.start_child(worker.clone()).await, Ok(1));
    /// assert!(tree.start_child(worker).await.is_err()); // the name is taken
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub async fn start_child(&self, child: Child<R>) -> Result<u64, ChildError> {
        let (reply, answer) = reply();
        submit(&self.shared, Command::Start(Box::new(child), reply), answer).await
    }

    /// Stops a child by its [`StopMode`](super::StopMode), and keeps it,
    /// stopped: it is not restarted until
    /// [`restart_child`](SupervisorHandle::restart_child). A restart it was
    /// waiting for (its backoff) is cancelled. Stopping a child that is
    /// not running does nothing.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`] and [`ChildError::SupervisorEnded`].
    ///
    /// # Cancel safety
    ///
    /// Once the future is polled, the request is queued: dropping it then
    /// does not cancel the request.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor()
    ///     .child(Child::worker("w", |stop| async move { stop.requested().await }))
    ///     .spawn();
    /// tree.ready().await.unwrap();
    /// tree.stop_child("w").await.unwrap();
    /// assert_eq!(tree.restart_child("w").await, Ok(2)); // its second incarnation
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub async fn stop_child(&self, name: &str) -> Result<(), ChildError> {
        let (holder, name) = self.holder(name)?;
        let (reply, answer) = reply();
        let command = Command::Stop(name.to_owned(), reply);
        if inside(&holder, name) {
            holder.submit(command);
            return Ok(());
        }
        submit(&holder, command, answer).await
    }

    /// Restarts a child: stops it if it runs (by its stop mode), and starts
    /// its next incarnation — this child alone, whatever the strategy, and
    /// without counting against the restart intensity. A restart it was
    /// waiting for (its backoff) is cancelled. Returns the new generation,
    /// once the child is ready.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`], [`ChildError::StartFailed`] (the child
    /// stays, stopped) and [`ChildError::SupervisorEnded`].
    ///
    /// # Cancel safety
    ///
    /// Once the future is polled, the request is queued: dropping it then
    /// does not cancel the request.
    ///
    /// # Examples
    ///
    /// See [`stop_child`](SupervisorHandle::stop_child).
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor()
    ///     .child(Child::worker("w", |stop| async move { stop.requested().await }))
    ///     .spawn();
    /// tree.ready().await.unwrap();
    /// assert_eq!(tree.restart_child("w").await, Ok(2));
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub async fn restart_child(&self, name: &str) -> Result<u64, ChildError> {
        let (holder, name) = self.holder(name)?;
        let (reply, answer) = reply();
        let command = Command::Restart(name.to_owned(), reply);
        if inside(&holder, name) {
            let next = view::generation(&holder, name).map(|generation| generation + 1);
            holder.submit(command);
            return next.ok_or_else(|| ChildError::NotFound {
                supervisor: holder.path.to_string(),
                name: name.to_owned(),
            });
        }
        submit(&holder, command, answer).await
    }

    /// Kills a child, as a failure would (OTP's `exit(Child, kill)`): it is
    /// aborted at once — a group or a child supervisor stopped, its own
    /// children aborted — and ends [`ChildExit::Killed`](super::ChildExit::Killed), a failure, which
    /// its supervisor handles as any other: by strategy, restart type,
    /// intensity and backoff. For chaos tests, and for a child that is
    /// stuck: a kill is served even while the supervisor waits for a child
    /// to start or to stop. Returns once the kill is under way; killing a
    /// child that does not run does nothing.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`] and [`ChildError::SupervisorEnded`].
    ///
    /// # Cancel safety
    ///
    /// Once the future is polled, the kill is queued: dropping it then does
    /// not cancel the kill.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::{Child, ChildExit};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut tree = stage::supervisor()
    ///     .child(Child::worker("stuck", |_stop| std::future::pending::<()>()))
    ///     .spawn();
    /// tree.ready().await.unwrap();
    /// tree.kill_child("stuck").await.unwrap();
    /// while tree.stat_borrow_and_update().restarts == 0 {
    ///     tree.changed().await.unwrap();
    /// }
    /// let stuck = &tree.snapshot().children[0];
    /// assert_eq!(stuck.last_exit, Some(ChildExit::Killed));
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub async fn kill_child(&self, name: &str) -> Result<(), ChildError> {
        let (holder, name) = self.holder(name)?;
        let (reply, answer) = reply();
        submit(&holder, Command::Kill(name.to_owned(), reply), answer).await
    }

    /// Stops a child if it runs (by its stop mode) and removes it: its name
    /// is free again.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`] and [`ChildError::SupervisorEnded`].
    ///
    /// # Cancel safety
    ///
    /// Once the future is polled, the request is queued: dropping it then
    /// does not cancel the request.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let worker = Child::worker("w", |stop| async move { stop.requested().await });
    /// let tree = stage::supervisor().child(worker.clone()).spawn();
    /// tree.remove_child("w").await.unwrap();
    /// tree.start_child(worker).await.unwrap(); // the name is free again
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub async fn remove_child(&self, name: &str) -> Result<(), ChildError> {
        let (holder, name) = self.holder(name)?;
        let (reply, answer) = reply();
        let command = Command::Remove(name.to_owned(), reply);
        if inside(&holder, name) {
            holder.submit(command);
            return Ok(());
        }
        submit(&holder, command, answer).await
    }

    /// Waits until every child has started and been ready once (the
    /// supervisor's `init` is done, in OTP's words). Children that fail
    /// and restart meanwhile are waited for.
    ///
    /// # Errors
    ///
    /// [`Ended`] if the supervisor ended first.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits, and changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor()
    ///     .child(Child::worker_with_ready("db", |stop, ready| async move {
    ///         ready.notify();
    ///         stop.requested().await
    ///     }))
    ///     .spawn();
    /// tree.ready().await.unwrap();
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub async fn ready(&self) -> Result<(), Ended> {
        let ready = core::pin::pin!(self.shared.ready.requested());
        let ended = core::pin::pin!(self.shared.ended.requested());
        futures_util::future::select(ready, ended).await;
        if self.shared.ready.is_requested() {
            Ok(())
        } else {
            Err(Ended)
        }
    }

    /// Asks the supervisor to stop: its children are aborted, in reverse
    /// order, and it ends. Returns at once; [`ended`](Self::ended) waits.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().spawn();
    /// tree.request_stop();
    /// tree.ended().await;
    /// # }
    /// ```
    pub fn request_stop(&self) {
        self.shared.control.request(Request::Stop);
    }

    /// Asks the supervisor to shut down within `grace`, as
    /// [`Supervisor::shutdown`](super::Supervisor::shutdown) does. Returns
    /// at once: the owner's [`join`](super::Supervisor::join) returns once
    /// the tree has ended, and its [`shutdown`](super::Supervisor::shutdown)
    /// returns the report.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().spawn();
    /// tree.request_shutdown(std::time::Duration::from_secs(1));
    /// tree.join().await.unwrap();
    /// # }
    /// ```
    pub fn request_shutdown(&self, grace: Duration) {
        self.shared.control.request(Request::Shutdown { grace });
    }

    /// Waits until the supervisor has ended, however it ended (its children
    /// all stopped).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits, and changes nothing.
    ///
    /// # Examples
    ///
    /// See [`request_stop`](Self::request_stop).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().spawn();
    /// let handle = tree.handle();
    /// drop(tree);
    /// handle.ended().await;
    /// # }
    /// ```
    pub async fn ended(&self) {
        self.shared.ended.requested().await;
    }

    /// Whether the supervisor has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().spawn();
    /// assert!(!tree.is_ended());
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn is_ended(&self) -> bool {
        self.shared.ended.is_requested()
    }

    /// The tree below this supervisor as it is now: every child by path,
    /// kind, state and generation, with its restarts, its last exit, its
    /// running tasks and its mailbox's depth, and child supervisors'
    /// children under them. Its `Display` is an indented tree.
    ///
    /// It never waits for the supervisor's task (which may be busy stopping
    /// a child): each supervisor publishes its children at every change.
    ///
    /// # Examples
    ///
    /// See [`Snapshot`].
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let inner = stage::supervisor()
    ///     .child(Child::worker("writer", |stop| async move { stop.requested().await }));
    /// let tree = stage::supervisor()
    ///     .name("app")
    ///     .child(Child::supervisor("pipeline", inner))
    ///     .spawn();
    /// tree.ready().await.unwrap();
    /// let snapshot = tree.snapshot();
    /// assert!(snapshot.find("app/pipeline/writer").is_some());
    /// println!("{snapshot}");
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        view::snapshot(&self.shared, self.shared.runtime.now())
    }

    /// The counts over this supervisor's children it published last.
    ///
    /// # Examples
    ///
    /// See [`TreeStats`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().spawn();
    /// assert_eq!(tree.stat_borrow().children, 0);
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn stat_borrow(&self) -> TreeStats {
        self.shared.views.stats.get()
    }

    /// The counts it published last, marked as seen by this handle (see
    /// [`changed`](Self::changed)).
    ///
    /// # Examples
    ///
    /// See [`changed`](Self::changed).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut tree = stage::supervisor().spawn();
    /// assert_eq!(tree.stat_borrow_and_update().running, 0);
    /// # tree.stop().await.unwrap();
    /// # }
    /// ```
    pub fn stat_borrow_and_update(&mut self) -> TreeStats {
        self.seen = self.shared.views.stats.version();
        self.shared.views.stats.get()
    }

    /// Waits until the supervisor publishes stats this handle has not seen
    /// (through [`stat_borrow_and_update`](Self::stat_borrow_and_update)),
    /// as a group's
    /// [`changed`](crate::group::GroupHandle::changed) does.
    ///
    /// # Errors
    ///
    /// [`Ended`] once the supervisor has ended and its last stats were
    /// marked as seen.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it marks nothing as seen.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::supervisor::Child;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let tree = stage::supervisor().spawn();
    /// let mut watcher = tree.handle();
    /// tree.start_child(Child::worker("w", |stop| async move { stop.requested().await }))
    ///     .await
    ///     .unwrap();
    /// while watcher.stat_borrow_and_update().running == 0 {
    ///     watcher.changed().await.unwrap();
    /// }
    /// tree.stop().await.unwrap();
    /// // Watch until the tree has ended: the loop ends with it.
    /// while watcher.changed().await.is_ok() {
    ///     println!("{:?}", watcher.stat_borrow_and_update());
    /// }
    /// assert_eq!(watcher.stat_borrow().running, 0);
    /// # }
    /// ```
    pub async fn changed(&mut self) -> Result<(), Ended> {
        self.shared.views.stats.changed_since(self.seen).await
    }
}

/// Whether the calling task runs inside child `name` of the supervisor
/// `holder` (the child itself, a task of it, or a task below it): it cannot
/// wait for that child to stop, which waits for it.
fn inside<R: Runtime>(holder: &Shared<R>, name: &str) -> bool {
    current().is_some_and(|task| {
        let rest = task.group().strip_prefix(&*holder.path);
        let rest = rest.and_then(|rest| rest.strip_prefix('/'));
        let rest = rest.and_then(|rest| rest.strip_prefix(name));
        rest.is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Queues `command` for the task of the supervisor `shared` (dropped at once
/// if the task has ended, which answers nothing) and waits for its answer.
async fn submit<R: Runtime, T>(
    shared: &Shared<R>,
    command: Command<R>,
    answer: Answer<Result<T, ChildError>>,
) -> Result<T, ChildError> {
    shared.submit(command);
    answer.get().await.unwrap_or_else(|| {
        Err(ChildError::SupervisorEnded {
            supervisor: shared.path.to_string(),
        })
    })
}

impl<R: Runtime> Clone for SupervisorHandle<R> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            seen: self.seen,
        }
    }
}

impl<R: Runtime> fmt::Debug for SupervisorHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorHandle")
            .field("path", &&*self.shared.path)
            .field("ended", &self.is_ended())
            .finish()
    }
}
