//! The tokio adapter of stage.
//!
//! stage's core (`stage-core`) knows no executor; [`Tokio`] implements its
//! [`Runtime`] seam over `tokio::spawn` (or a given runtime [`Handle`]),
//! `JoinError` (panics keep their payload, aborts are told apart) and
//! `tokio::time` — so that `tokio::time::pause()` drives restart backoff in
//! tests, without wall-clock sleeps.

#![warn(missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How far a sleep reaches at most: 30 years, as tokio's own `sleep`.
const FAR_FUTURE_SECS: u64 = 86_400 * 365 * 30;

use stage_core::runtime::{self, Exit, Runtime, Task};
use tokio::runtime::Handle;

/// The tokio runtime, as a [`Runtime`] for stage's supervisors.
///
/// `Tokio::current()` spawns on the runtime the caller runs in (as
/// `tokio::spawn` does); [`Tokio::with_handle`] on a given one.
///
/// Supervisors sleep (restart backoffs, shutdown deadlines), so the runtime
/// needs its time driver: `#[tokio::main]` and `Builder::enable_all` have
/// it, a runtime built without `enable_time` does not, and a supervisor
/// that needs a timer there fails (its group reports
/// `SupervisorPanicked`, its tasks aborted).
///
/// # Examples
///
/// ```
/// use stage::runtime::{Exit, Runtime, Tokio};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let exit = Tokio::current().spawn(async { panic!("boom") }).await;
/// assert_eq!(exit.panic_message(), Some("boom"));
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Tokio {
    handle: Option<Handle>,
    /// Whether the caller's runtime, when it has one, comes before
    /// `handle` ([`Tokio::current_or_here`]).
    caller_first: bool,
}

impl Tokio {
    /// Spawns on the runtime of whoever calls [`Runtime::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = stage::runtime::Tokio::current();
    /// # drop(rt);
    /// ```
    pub fn current() -> Self {
        Self {
            handle: None,
            caller_first: false,
        }
    }

    /// Spawns on the runtime behind `handle`, wherever the caller runs.
    ///
    /// # Examples
    ///
    /// ```
    /// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let rt = stage::runtime::Tokio::with_handle(runtime.handle().clone());
    /// # drop(rt);
    /// ```
    pub fn with_handle(handle: Handle) -> Self {
        Self {
            handle: Some(handle),
            caller_first: false,
        }
    }

    /// Spawns and sleeps on the runtime of whoever calls, as
    /// [`current`](Tokio::current) does; called from outside any runtime
    /// (a plain thread), on the runtime this was made on instead, if it was
    /// made on one. What an actor's address uses: asks with a time limit
    /// work from any task, and from plain threads while that runtime runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::runtime::{Runtime, Tokio};
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    /// let rt = runtime.block_on(async { Tokio::current_or_here() });
    /// let now = rt.now(); // from this plain thread: the runtime's clock
    /// # drop(now);
    /// ```
    pub fn current_or_here() -> Self {
        Self {
            handle: Handle::try_current().ok(),
            caller_first: true,
        }
    }

    /// Enters the runtime to use for a call: the bound one, unless the
    /// caller's comes first and there is one.
    fn enter(&self) -> Option<tokio::runtime::EnterGuard<'_>> {
        let handle = self.handle.as_ref()?;
        if self.caller_first && in_runtime() {
            return None;
        }
        Some(handle.enter())
    }
}

/// Whether the caller runs on a tokio runtime: inside one of its tasks (a
/// thread-local read), or in its `block_on` (which clones the handle).
fn in_runtime() -> bool {
    tokio::task::try_id().is_some() || Handle::try_current().is_ok()
}

impl Runtime for Tokio {
    type Task = TokioTask;
    type Sleep = Pin<Box<tokio::time::Sleep>>;

    /// # Panics
    ///
    /// If made by [`Tokio::current`] and called outside a tokio runtime, as
    /// `tokio::spawn` does.
    /// The runtime this was made on, whoever calls, for a
    /// [`current_or_here`](Tokio::current_or_here) made on one.
    fn home(&self) -> Self {
        Self {
            handle: self.handle.clone(),
            caller_first: false,
        }
    }

    fn spawn<F>(&self, future: F) -> TokioTask
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = match &self.handle {
            Some(_) if self.caller_first && in_runtime() => tokio::spawn(future),
            Some(handle) => handle.spawn(future),
            None => tokio::spawn(future),
        };
        TokioTask(handle)
    }

    /// A deadline more than 30 years away sleeps 30 years, as
    /// `tokio::time::sleep` does: tokio's timer panics on deadlines near the
    /// end of `Instant`'s range, and a paused clock spins on far ones.
    ///
    /// Made with [`Tokio::with_handle`], it sleeps on that runtime's timer,
    /// so it can be awaited from anywhere (another executor included).
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        let _runtime = self.enter();
        let now = tokio::time::Instant::now();
        let far_future = now + Duration::from_secs(FAR_FUTURE_SECS);
        Box::pin(tokio::time::sleep_until(far_future.min(deadline.into())))
    }

    fn now(&self) -> Instant {
        // tokio's clock: virtual while the runtime's time is paused.
        let _runtime = self.enter();
        tokio::time::Instant::now().into_std()
    }

    /// Tokio's sleep, boxed once (it is a box already).
    fn sleep_until_boxed(
        &self,
        deadline: Instant,
    ) -> Pin<Box<dyn core::future::Future<Output = ()> + Send>> {
        self.sleep_until(deadline)
    }
}

/// A task spawned by [`Tokio`]: a `JoinHandle` whose errors become [`Exit`]s.
///
/// Dropping it detaches the task, as dropping a `JoinHandle` does.
///
/// # Examples
///
/// ```
/// use stage::runtime::{Exit, Runtime, Task};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let task = stage::runtime::Tokio::current().spawn(std::future::pending());
/// task.abort();
/// assert!(matches!(task.await, Exit::Aborted));
/// # }
/// ```
#[derive(Debug)]
pub struct TokioTask(tokio::task::JoinHandle<()>);

impl Future for TokioTask {
    type Output = Exit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Exit> {
        Pin::new(&mut self.0).poll(cx).map(|joined| match joined {
            Ok(()) => Exit::Returned,
            Err(err) if err.is_panic() => Exit::Panicked(err.into_panic()),
            // Cancelled: aborted, or its runtime shut down.
            Err(_) => Exit::Aborted,
        })
    }
}

impl Task for TokioTask {
    type AbortHandle = TokioAbortHandle;

    fn abort_handle(&self) -> TokioAbortHandle {
        TokioAbortHandle(self.0.abort_handle())
    }

    fn abort(&self) {
        self.0.abort();
    }
}

/// Aborts a [`TokioTask`] without owning it: tokio's `AbortHandle`.
///
/// # Examples
///
/// ```
/// use stage::runtime::{AbortHandle, Exit, Runtime, Task};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let task = stage::runtime::Tokio::current().spawn(std::future::pending());
/// let handle: stage::runtime::TokioAbortHandle = task.abort_handle();
/// handle.abort();
/// assert!(matches!(task.await, Exit::Aborted));
/// # }
/// ```
#[derive(Debug)]
pub struct TokioAbortHandle(tokio::task::AbortHandle);

impl runtime::AbortHandle for TokioAbortHandle {
    fn abort(&self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_returning_task_exits_returned() {
        let exit = Tokio::current().spawn(async {}).await;
        assert!(matches!(exit, Exit::Returned));
    }

    #[tokio::test]
    async fn a_panic_keeps_its_payload() {
        let exit = Tokio::current()
            .spawn(async { std::panic::panic_any(String::from("lost?")) })
            .await;
        assert_eq!(exit.panic_message(), Some("lost?"));
    }

    #[tokio::test]
    async fn an_abort_handle_aborts_its_task() {
        let task = Tokio::current().spawn(std::future::pending());
        let handle = task.abort_handle();
        runtime::AbortHandle::abort(&handle);
        assert!(matches!(task.await, Exit::Aborted));
    }

    #[tokio::test]
    async fn an_aborted_task_exits_aborted() {
        let task = Tokio::current().spawn(std::future::pending());
        task.abort();
        assert!(matches!(task.await, Exit::Aborted));
    }

    #[tokio::test(start_paused = true)]
    async fn time_follows_the_paused_clock() {
        let rt = Tokio::current();
        let start = rt.now();
        rt.sleep_until(start + Duration::from_secs(3600)).await;
        assert!(rt.now() - start >= Duration::from_secs(3600));
    }

    #[test]
    fn a_handle_spawns_from_outside_the_runtime() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let task = Tokio::with_handle(runtime.handle().clone()).spawn(async {});
        assert!(matches!(runtime.block_on(task), Exit::Returned));
    }
}
