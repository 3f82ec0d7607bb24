//! stage on smol: the runtime seam (`stage_core::runtime::Runtime`) over
//! smol's executor and timer, in the few dozen lines a port takes; then a
//! self-healing group consuming a mailbox, run on it.
//!
//! Run: `cargo run -p stage-on-smol`

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::future::{AbortHandle, Abortable, Aborted};
use futures_util::FutureExt;
use stage_core::group::{Backoff, Builder};
use stage_core::runtime::{self, Exit, Runtime, Task};

// ===== the port =====

/// smol's global executor, as a runtime for stage's supervisors.
#[derive(Clone, Copy, Debug)]
struct Smol;

/// A task on smol: its panic is caught (its payload kept), and it can be
/// aborted from a handle. Dropping it detaches the task, as the seam asks.
struct SmolTask {
    task: Option<smol::Task<Result<std::thread::Result<()>, Aborted>>>,
    abort: AbortHandle,
}

/// Aborts a [`SmolTask`] from elsewhere.
struct SmolAbort(AbortHandle);

impl Runtime for Smol {
    type Task = SmolTask;
    type Sleep = futures_util::future::Map<smol::Timer, fn(Instant)>;

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) -> SmolTask {
        let (abort, registration) = AbortHandle::new_pair();
        let caught = AssertUnwindSafe(future).catch_unwind();
        let task = smol::spawn(Abortable::new(caught, registration));
        SmolTask {
            task: Some(task),
            abort,
        }
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        smol::Timer::at(deadline).map(drop as fn(Instant))
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

impl Future for SmolTask {
    type Output = Exit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Exit> {
        let task = self.task.as_mut().expect("polled after it ended");
        Pin::new(task).poll(cx).map(|ended| match ended {
            Ok(Ok(())) => Exit::Returned,
            Ok(Err(payload)) => Exit::Panicked(payload),
            Err(Aborted) => Exit::Aborted,
        })
    }
}

impl Task for SmolTask {
    type AbortHandle = SmolAbort;

    fn abort_handle(&self) -> SmolAbort {
        SmolAbort(self.abort.clone())
    }
}

impl runtime::AbortHandle for SmolAbort {
    fn abort(&self) {
        self.0.abort();
    }
}

impl Drop for SmolTask {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.detach(); // smol cancels a dropped task; the seam detaches
        }
    }
}

// ===== a group and a mailbox on it =====

fn main() {
    std::panic::set_hook(Box::new(|_| {})); // the crashes below are on purpose
    let (handled, attempts) = smol::block_on(async {
        let (jobs, inbox) = stage_core::mailbox::<u32>(64);
        let (done, receipts) = stage_core::mailbox::<u32>(64);
        let crashes = Arc::new(AtomicU32::new(0));
        let pool = Builder::new(Smol)
            .tasks(3)
            .backoff(Backoff::exponential(
                Duration::from_millis(1),
                Duration::from_millis(50),
            ))
            .consume(inbox, {
                let crashes = Arc::clone(&crashes);
                move |worker| {
                    let (done, crashes) = (done.clone(), Arc::clone(&crashes));
                    async move {
                        worker
                            .serve(async move |job: &mut u32| {
                                smol::Timer::after(Duration::from_millis(1)).await;
                                // Every fifth job crashes its worker, once.
                                if *job % 5 == 0 && crashes.fetch_add(1, Ordering::SeqCst) % 2 == 0
                                {
                                    panic!("job {job} crashed");
                                }
                                done.send(*job).await.unwrap();
                            })
                            .await
                    }
                }
            });
        for job in 0..50 {
            jobs.send(job).await.unwrap();
        }
        let drained = pool.drain(Duration::from_secs(10)).await.unwrap();
        assert_eq!(drained.left, 0);
        let mut handled: Vec<u32> = std::iter::from_fn(|| receipts.try_recv().ok()).collect();
        handled.sort_unstable();
        (handled, crashes.load(Ordering::SeqCst))
    });
    assert_eq!(handled, (0..50).collect::<Vec<_>>(), "every job, once");
    println!(
        "stage on smol: 50 jobs handled by a self-healing pool of 3 \
         ({attempts} attempts at the crashing ones)"
    );
}
