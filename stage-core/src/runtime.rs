//! The seam between stage and an executor.
//!
//! Supervision needs four things from an executor, and nothing more: spawn a
//! `Send + 'static` future, learn how the task ended ([`Exit`]), abort it
//! (also through a separate [`AbortHandle`], so that a supervisor can stop
//! one task among thousands without searching for it), and time (now, and a
//! sleep until a deadline). [`Runtime`] says exactly
//! that. `stage-tokio` implements it over `tokio::spawn`, `JoinError` and
//! `tokio::time` (so a paused clock drives backoff in tests); stage-core's
//! own tests implement it over `async-task` with a virtual clock, and run the
//! same group behaviour on both.

// Supervisors' helpers; loom builds leave supervisors out.
#[cfg(not(loom))]
mod owned;

#[cfg(not(loom))]
pub(crate) use owned::{drop_exit, drop_quietly, Contained, OwnedTask};

use core::any::Any;
use core::fmt;
use core::future::Future;
use std::time::Instant;

/// An executor that supervised tasks run on.
///
/// # Porting stage to another executor
///
/// Implement this trait, [`Task`] and [`AbortHandle`] for it; groups,
/// pools and mailboxes then run on it unchanged (`stage_core::group::Builder::new(your_runtime)`).
/// What each part must do:
///
/// - [`spawn`](Runtime::spawn) runs the future as a task of its own, and
///   returns a handle whose output says how it ended: catch its panic and
///   keep the payload ([`Exit::Panicked`]) — the executor's own panic
///   handling may differ — and report an abort as [`Exit::Aborted`].
/// - Dropping a [`Task`] must detach it, not cancel it (smol's `Task`
///   cancels on drop: call its `detach`). Supervisors abort what they own.
/// - [`Task::abort_handle`] must abort the task from elsewhere, at its next
///   await point; `futures::future::Abortable` gives any executor this.
/// - [`sleep_until`](Runtime::sleep_until) and [`now`](Runtime::now) come
///   from one clock; a sleep may end early (stage checks the clock again)
///   but never late by much. Supervisors sleep for backoffs and shutdown
///   deadlines only.
///
/// `ports/smol` in stage's repository is such a port over smol's executor
/// and timer, in 55 lines of code, with a pool running on it; CI runs it.
///
/// # Examples
///
/// A runtime that spawns every task onto a thread of its own, to show the
/// shape of an implementation (a real one uses an executor):
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use std::time::Instant;
/// use stage::runtime::{AbortHandle, Exit, Runtime, Task};
///
/// #[derive(Clone)]
/// struct Threads;
///
/// struct CannotAbort;
///
/// impl AbortHandle for CannotAbort {
///     fn abort(&self) {} // threads cannot be aborted: they run to the end
/// }
///
/// struct ThreadTask(Option<std::thread::JoinHandle<()>>);
///
/// impl Future for ThreadTask {
///     type Output = Exit;
///     fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Exit> {
///         // Blocking here is for brevity only.
///         match self.0.take().unwrap().join() {
///             Ok(()) => Poll::Ready(Exit::Returned),
///             Err(payload) => Poll::Ready(Exit::Panicked(payload)),
///         }
///     }
/// }
///
/// impl Task for ThreadTask {
///     type AbortHandle = CannotAbort;
///
///     fn abort_handle(&self) -> CannotAbort {
///         CannotAbort
///     }
/// }
///
/// impl Runtime for Threads {
///     type Task = ThreadTask;
///     type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;
///
///     fn spawn<F>(&self, future: F) -> ThreadTask
///     where
///         F: Future<Output = ()> + Send + 'static,
///     {
///         ThreadTask(Some(std::thread::spawn(move || {
///             futures_util::FutureExt::now_or_never(future);
///         })))
///     }
///
///     fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
///         Box::pin(async move { std::thread::sleep(deadline - Instant::now()) })
///     }
///
///     fn now(&self) -> Instant {
///         Instant::now()
///     }
/// }
///
/// let task = Threads.spawn(async { panic!("boom") });
/// let exit = futures_util::FutureExt::now_or_never(task).unwrap();
/// assert_eq!(exit.panic_message(), Some("boom"));
/// ```
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A spawned task: a future of how it ended, which can also abort it.
    type Task: Task;
    /// A future that completes at a deadline of this runtime's clock.
    type Sleep: Future<Output = ()> + Send + 'static;

    /// Starts running `future` as a task of its own.
    fn spawn<F>(&self, future: F) -> Self::Task
    where
        F: Future<Output = ()> + Send + 'static;

    /// A future that completes once [`now`](Runtime::now) reaches `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;

    /// The runtime's clock (which may be virtual, as tokio's paused clock).
    fn now(&self) -> Instant;

    /// This runtime bound to where it was made. A runtime that follows its
    /// caller (tokio's `Tokio::current_or_here`, whose timers serve asks
    /// from any task) gives the one it was made on: an actor system spawns
    /// its actors' tasks with it, so that they run on the system's runtime
    /// whoever asks for the spawn. By default, a clone.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::runtime::{Runtime, Tokio};
    ///
    /// let system_runtime = tokio::runtime::Runtime::new().unwrap();
    /// let rt = system_runtime.block_on(async { Tokio::current_or_here() });
    /// let other = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// // Spawned from another runtime's task: on the system's all the same.
    /// let task = other.block_on(async { rt.home().spawn(async {}) });
    /// drop(other);
    /// assert!(!system_runtime.block_on(task).is_failure());
    /// ```
    fn home(&self) -> Self {
        self.clone()
    }

    /// [`sleep_until`](Runtime::sleep_until) as a boxed trait object, the
    /// way actors keep it (their addresses are not generic over the
    /// runtime). By default the sleep is boxed; a runtime whose sleep is a
    /// box already hands it over as it is.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::runtime::{Runtime, Tokio};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let rt = Tokio::current();
    /// let at = rt.now() + std::time::Duration::from_secs(1);
    /// rt.sleep_until_boxed(at).await;
    /// assert!(rt.now() >= at);
    /// # }
    /// ```
    fn sleep_until_boxed(
        &self,
        deadline: Instant,
    ) -> core::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.sleep_until(deadline))
    }
}

/// A task spawned by a [`Runtime`]: await it to learn how it ended.
///
/// Dropping it detaches the task (it keeps running), as with tokio's
/// `JoinHandle`. Supervisors never let that happen by accident: every task
/// they own is aborted when they drop it.
///
/// # Examples
///
/// ```
/// use stage::runtime::{Exit, Runtime, Task, Tokio};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let task = Tokio::current().spawn(async { panic!("boom") });
/// assert_eq!(task.await.panic_message(), Some("boom"));
/// # }
/// ```
pub trait Task: Future<Output = Exit> + Send + Unpin + 'static {
    /// What aborts this task without owning it.
    type AbortHandle: AbortHandle;

    /// A handle that aborts this task; any number may exist.
    fn abort_handle(&self) -> Self::AbortHandle;

    /// Asks the runtime to stop the task at its next await point. The task's
    /// future then completes with [`Exit::Aborted`], unless the task ended
    /// first. Aborting an ended task does nothing.
    fn abort(&self) {
        self.abort_handle().abort();
    }
}

/// Aborts a [`Task`] from elsewhere, without owning it (tokio's
/// `AbortHandle`).
///
/// # Examples
///
/// ```
/// use stage::runtime::{AbortHandle, Exit, Runtime, Task};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let task = stage::runtime::Tokio::current().spawn(std::future::pending());
/// let handle = task.abort_handle();
/// handle.abort();
/// assert!(matches!(task.await, Exit::Aborted));
/// # }
/// ```
pub trait AbortHandle: Send + Sync + 'static {
    /// Aborts the task, as [`Task::abort`] does; does nothing once it ended.
    fn abort(&self);
}

/// How a task ended.
///
/// # Examples
///
/// ```
/// use stage::runtime::Exit;
///
/// let exit = Exit::Panicked(Box::new(String::from("index out of bounds")));
/// assert!(exit.is_failure());
/// assert_eq!(exit.panic_message(), Some("index out of bounds"));
/// assert!(!Exit::Returned.is_failure());
/// ```
pub enum Exit {
    /// The future completed.
    Returned,
    /// The future panicked; the payload is kept, never discarded.
    Panicked(Box<dyn Any + Send>),
    /// The task was aborted before it completed.
    Aborted,
}

impl Exit {
    /// Whether the task failed: it panicked or was aborted.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(stage::runtime::Exit::Aborted.is_failure());
    /// ```
    pub fn is_failure(&self) -> bool {
        !matches!(self, Self::Returned)
    }

    /// The panic message, if the task panicked with a string (as `panic!`
    /// does).
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::runtime::Exit;
    ///
    /// assert_eq!(Exit::Panicked(Box::new("boom")).panic_message(), Some("boom"));
    /// assert_eq!(Exit::Panicked(Box::new(42)).panic_message(), None);
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            Self::Panicked(payload) => panic_message(payload.as_ref()),
            _ => None,
        }
    }
}

/// Calls `f` on every item, even if some calls panic (user code: a
/// message's `Drop`, a waker); then resumes the first panic, unless the
/// thread is unwinding already, where a second panic would abort the
/// process. Later payloads are leaked rather than dropped (they could
/// panic again). As `Vec`'s drop does for its elements.
pub(crate) fn each_then_first_panic<T>(items: impl IntoIterator<Item = T>, mut f: impl FnMut(T)) {
    let mut first_panic = None;
    for item in items {
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(item))) {
            keep_first(&mut first_panic, panic);
        }
    }
    if let Some(panic) = first_panic {
        resume_unless_unwinding(panic);
    }
}

/// A panic's payload, caught from user code.
pub(crate) type Panic = Box<dyn Any + Send>;

/// Keeps `panic` in `first` if it is the first caught; leaks it otherwise
/// (its payload's drop could panic again).
pub(crate) fn keep_first(first: &mut Option<Panic>, panic: Panic) {
    match first {
        None => *first = Some(panic),
        Some(_) => core::mem::forget(panic),
    }
}

/// Resumes `panic`, caught from user code; unless the thread is unwinding
/// already, where a second panic would abort the process: then it is
/// leaked (its payload's drop could panic too).
pub(crate) fn resume_unless_unwinding(panic: Panic) {
    if std::thread::panicking() {
        core::mem::forget(panic);
    } else {
        std::panic::resume_unwind(panic);
    }
}

/// The message of a panic payload, if it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Debug for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Returned => f.write_str("Returned"),
            Self::Panicked(payload) => match panic_message(payload.as_ref()) {
                Some(msg) => f.debug_tuple("Panicked").field(&msg).finish(),
                None => f.write_str("Panicked(<non-string payload>)"),
            },
            Self::Aborted => f.write_str("Aborted"),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Returned => f.write_str("returned"),
            Self::Panicked(payload) => match panic_message(payload.as_ref()) {
                Some(msg) => write!(f, "panicked: {msg}"),
                None => f.write_str("panicked"),
            },
            Self::Aborted => f.write_str("aborted"),
        }
    }
}
