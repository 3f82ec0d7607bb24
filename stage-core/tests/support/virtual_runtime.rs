//! A single-threaded executor on `async-task` with a virtual clock.
//!
//! Tasks run until every one of them waits; then the clock jumps to the
//! earliest timer (as tokio's paused clock auto-advances). Time-dependent
//! behaviour is thus tested without sleeping, deterministically.
//!
//! [`Virtual::slow_to_stop`] makes every abort take effect a while later on
//! the virtual clock, as on a real executor when a task is busy between two
//! await points: the seam promises only that an aborted task stops at its
//! next await.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_task::Runnable;
use futures_util::future::{AbortHandle, Aborted};
use futures_util::FutureExt;
use stage_core::runtime::{Exit, Runtime, Task};

/// The executor and its clock; clones share both.
#[derive(Clone)]
pub(crate) struct Virtual {
    inner: Arc<Inner>,
}

struct Inner {
    runnable: Mutex<VecDeque<Runnable>>,
    clock: Mutex<Clock>,
    /// How long an aborted task runs on before it stops.
    stop_delay: Mutex<Duration>,
}

struct Clock {
    now: Instant,
    /// Timers by (deadline, id): the wakers of sleeping tasks.
    timers: BTreeMap<(Instant, u64), Waker>,
    next_id: u64,
}

impl Virtual {
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                runnable: Mutex::new(VecDeque::new()),
                clock: Mutex::new(Clock {
                    now: Instant::now(),
                    timers: BTreeMap::new(),
                    next_id: 0,
                }),
                stop_delay: Mutex::new(Duration::ZERO),
            }),
        }
    }

    /// From now on, an aborted task stops only `delay` later (virtual time).
    pub(crate) fn slow_to_stop(self, delay: Duration) -> Self {
        *self.inner.stop_delay.lock().unwrap() = delay;
        self
    }

    /// Timers set and not yet fired or dropped: what sleeping costs now.
    pub(crate) fn pending_timers(&self) -> usize {
        self.inner.clock.lock().unwrap().timers.len()
    }

    /// Runs `future` and every task it spawns until `future` completes.
    ///
    /// # Panics
    ///
    /// If `future` can never complete: no task can run and no timer is set.
    pub(crate) fn block_on<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> T {
        let main = self.spawn_task(future);
        loop {
            loop {
                let next = self.inner.runnable.lock().unwrap().pop_front();
                match next {
                    Some(runnable) => {
                        runnable.run();
                    }
                    None => break,
                }
            }
            if main.is_finished() {
                let mut cx = Context::from_waker(Waker::noop());
                let mut main = main;
                match Pin::new(&mut main).poll(&mut cx) {
                    Poll::Ready(out) => return out,
                    Poll::Pending => unreachable!("a finished task is ready"),
                }
            }
            assert!(
                self.advance_to_next_timer(),
                "deadlock: the main future waits, no task can run and no timer is set"
            );
        }
    }

    fn spawn_task<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> async_task::Task<T> {
        let inner = Arc::clone(&self.inner);
        let schedule = move |runnable| inner.runnable.lock().unwrap().push_back(runnable);
        let (runnable, task) = async_task::spawn(future, schedule);
        runnable.schedule();
        task
    }

    /// Jumps the clock to the earliest timer and wakes every task whose
    /// deadline has come; false if no timer is set.
    fn advance_to_next_timer(&self) -> bool {
        let mut clock = self.inner.clock.lock().unwrap();
        let Some((&(deadline, _), _)) = clock.timers.first_key_value() else {
            return false;
        };
        clock.now = clock.now.max(deadline);
        let now = clock.now;
        let mut due = Vec::new();
        while let Some(entry) = clock.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        drop(clock);
        due.into_iter().for_each(Waker::wake);
        true
    }
}

impl Runtime for Virtual {
    type Task = VirtualTask;
    type Sleep = Sleep;

    fn spawn<F>(&self, future: F) -> VirtualTask
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (abortable, abort) =
            futures_util::future::abortable(AssertUnwindSafe(future).catch_unwind());
        VirtualTask {
            task: Some(self.spawn_task(abortable)),
            abort: VirtualAbort {
                abort,
                runtime: self.clone(),
            },
        }
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep {
            runtime: self.clone(),
            deadline,
            timer: None,
        }
    }

    fn now(&self) -> Instant {
        self.inner.clock.lock().unwrap().now
    }
}

type Joined = Result<Result<(), Box<dyn Any + Send>>, Aborted>;

/// A task of the virtual runtime; dropping it detaches the task.
pub(crate) struct VirtualTask {
    task: Option<async_task::Task<Joined>>,
    abort: VirtualAbort,
}

impl Future for VirtualTask {
    type Output = Exit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Exit> {
        let task = self.task.as_mut().expect("polled after completion");
        Pin::new(task).poll(cx).map(|joined| match joined {
            Ok(Ok(())) => Exit::Returned,
            Ok(Err(payload)) => Exit::Panicked(payload),
            Err(Aborted) => Exit::Aborted,
        })
    }
}

impl Task for VirtualTask {
    type AbortHandle = VirtualAbort;

    fn abort_handle(&self) -> VirtualAbort {
        self.abort.clone()
    }
}

/// Aborts a task of the virtual runtime (a while later, if it is
/// [slow to stop](Virtual::slow_to_stop)).
#[derive(Clone)]
pub(crate) struct VirtualAbort {
    abort: AbortHandle,
    runtime: Virtual,
}

impl stage_core::runtime::AbortHandle for VirtualAbort {
    fn abort(&self) {
        let delay = *self.runtime.inner.stop_delay.lock().unwrap();
        if delay.is_zero() {
            return self.abort.abort();
        }
        let (abort, clock) = (self.abort.clone(), self.runtime.clone());
        let stopped = self.runtime.spawn_task(async move {
            clock.sleep_until(clock.now() + delay).await;
            abort.abort();
        });
        stopped.detach();
    }
}

impl Drop for VirtualTask {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }
}

// Abortable<..> of an Unpin-free future is not Unpin, but the task handle is.
impl Unpin for VirtualTask {}

/// A sleep on the virtual clock.
pub(crate) struct Sleep {
    runtime: Virtual,
    deadline: Instant,
    timer: Option<u64>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut clock = self.runtime.inner.clock.lock().unwrap();
        if clock.now >= self.deadline {
            return Poll::Ready(());
        }
        let id = match self.timer {
            Some(id) => id,
            None => {
                clock.next_id += 1;
                clock.next_id
            }
        };
        clock.timers.insert((self.deadline, id), cx.waker().clone());
        drop(clock);
        self.timer = Some(id);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(id) = self.timer {
            self.runtime
                .inner
                .clock
                .lock()
                .unwrap()
                .timers
                .remove(&(self.deadline, id));
        }
    }
}
