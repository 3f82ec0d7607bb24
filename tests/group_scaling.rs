//! Scaling a group on tokio: a task removed while it is slow to stop is
//! replaced only once it has stopped, and scaling thousands of tasks is
//! linear.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use stage::group::{Builder, Group, Stats};
use stage::runtime::{Exit, Runtime, Task, Tokio, TokioAbortHandle, TokioTask};

/// Waits until the group's stats satisfy `done`; returns them.
async fn wait_for<R: Runtime>(group: &mut Group<R>, done: impl Fn(&Stats) -> bool) -> Stats {
    loop {
        let stats = *group.stat_borrow_and_update();
        if done(&stats) {
            return stats;
        }
        group.changed().await.expect("the group runs");
    }
}

/// Counts a task as alive until its future is dropped.
struct Alive(Arc<AtomicUsize>);

impl Alive {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(count))
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn a_task_brought_back_while_its_old_self_stops_starts_once_that_one_has_stopped() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let alive = Arc::new(AtomicUsize::new(0));
        let (entered, in_blocking_section) = stage::mailbox::<()>(1);
        // The second start (task 1's first incarnation) blocks until the
        // test opens the gate, with no await between its signal and the
        // block: an abort cannot reach it before (it is slow to stop,
        // between two awaits). `block_in_place` hands the worker's other
        // tasks to another thread meanwhile.
        let (open, gate) = mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let starts = Arc::new(AtomicUsize::new(0));
        let mut group = stage::group().tasks(2).spawn({
            let alive = Arc::clone(&alive);
            move || {
                let (alive, entered, gate) =
                    (Alive::new(&alive), entered.clone(), Arc::clone(&gate));
                let slow = starts.fetch_add(1, Ordering::SeqCst) == 1;
                async move {
                    let _alive = alive;
                    if slow {
                        entered.send(()).await.unwrap();
                        tokio::task::block_in_place(|| gate.lock().unwrap().recv().unwrap());
                    }
                    std::future::pending::<()>().await;
                }
            }
        });
        wait_for(&mut group, |s| s.running == 2).await;
        in_blocking_section.recv().await;

        assert_eq!(group.downscale(1), 1);
        let stats = wait_for(&mut group, |s| s.tasks == 1).await;
        assert_eq!((stats.running, stats.stopping), (1, 1));
        assert_eq!(group.upscale(1), Ok(2));
        let stats = wait_for(&mut group, |s| s.tasks == 2).await;
        assert_eq!((stats.running, stats.stopping, stats.started), (1, 1, 2));
        assert_eq!(
            alive.load(Ordering::SeqCst),
            2,
            "never more tasks than the target"
        );

        open.send(()).unwrap();
        let stats = wait_for(&mut group, |s| s.running == 2).await;
        assert_eq!((stats.stopping, stats.started, stats.aborted), (0, 3, 0));
        assert_eq!(alive.load(Ordering::SeqCst), 2);
        let report = group.shutdown(Duration::from_secs(1)).await.unwrap();
        let incarnations: Vec<_> = report
            .tasks
            .iter()
            .map(|t| (t.index, t.generation))
            .collect();
        assert_eq!(incarnations, [(0, 1), (1, 2)], "a generation never repeats");
        assert_eq!(alive.load(Ordering::SeqCst), 0);
    });
}

#[tokio::test(flavor = "current_thread")]
async fn downscaling_thousands_of_tasks_takes_one_step_each() {
    const TASKS: usize = 8_000;
    let mut group = stage::group()
        .tasks(TASKS)
        .spawn(std::future::pending::<()>);
    wait_for(&mut group, |s| s.running == TASKS).await;
    let start = Instant::now();
    assert_eq!(group.downscale(TASKS), 1);
    let stats = wait_for(&mut group, |s| s.tasks == 1 && s.stopping == 0).await;
    let took = start.elapsed();
    assert_eq!(stats.running, 1);
    // Linear: a few milliseconds in a debug build. The quadratic search it
    // replaces took 6 s in a release build; the bound leaves room for a
    // loaded machine.
    assert!(
        took < Duration::from_secs(3),
        "{took:?} to downscale {TASKS} tasks"
    );
    group.stop().await.unwrap();
}

/// Tokio, counting every poll of a task's join handle: the supervisor's
/// work, in a number that does not depend on the machine's speed.
#[derive(Clone)]
struct CountingPolls {
    tokio: Tokio,
    polls: Arc<AtomicUsize>,
}

struct Counted {
    task: TokioTask,
    polls: Arc<AtomicUsize>,
}

impl Future for Counted {
    type Output = Exit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Exit> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        Pin::new(&mut self.task).poll(cx)
    }
}

impl Task for Counted {
    type AbortHandle = TokioAbortHandle;

    fn abort_handle(&self) -> TokioAbortHandle {
        self.task.abort_handle()
    }
}

impl Runtime for CountingPolls {
    type Task = Counted;
    type Sleep = <Tokio as Runtime>::Sleep;

    fn spawn<F>(&self, future: F) -> Counted
    where
        F: Future<Output = ()> + Send + 'static,
    {
        Counted {
            task: self.tokio.spawn(future),
            polls: Arc::clone(&self.polls),
        }
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        self.tokio.sleep_until(deadline)
    }

    fn now(&self) -> Instant {
        self.tokio.now()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn stopping_thousands_of_tasks_polls_each_a_few_times() {
    const TASKS: usize = 16_384;
    let polls = Arc::new(AtomicUsize::new(0));
    let runtime = CountingPolls {
        tokio: Tokio::current(),
        polls: Arc::clone(&polls),
    };
    let mut group = Builder::new(runtime)
        .tasks(TASKS)
        .spawn(std::future::pending::<()>);
    wait_for(&mut group, |s| s.running == TASKS).await;
    polls.store(0, Ordering::Relaxed);
    group.stop().await.unwrap();
    // Linear: each handle is polled about once after its abort. Polled all
    // at once, tokio's cooperative budget ran out after 128 and every
    // further exit walked the remaining handles again: millions of polls.
    let polls = polls.load(Ordering::Relaxed);
    assert!(polls <= 3 * TASKS, "{polls} polls to stop {TASKS} tasks");
}
