//! The task that runs a supervisor's children and restarts them by
//! strategy.
//!
//! One loop, as an async function: it waits for the next event (a request
//! from the handle, a child's exit, a restart whose backoff has passed) and
//! handles it to the end before taking the next. Stopping children is part
//! of handling an event (a strategy stops the affected children, one at a
//! time, in reverse start order, and waits for each to end before the
//! next): exits of other children that arrive meanwhile wait in `pending`,
//! and are handled next, in order.
//!
//! Every running child is a boxed future of how it ends, in one
//! `FuturesUnordered`: a worker's task (aborted if dropped), a group (which
//! stops if dropped), a child supervisor (likewise). Whatever ends this
//! supervisor — even its future being dropped — ends its children.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_util::stream::FuturesUnordered;

use super::child::{BoxFuture, Child, Kind};
use super::error::{ChildExit, ChildReport, Restarted, ShutdownReport, SupervisorError};
use super::strategy::{StopMode, Strategy};
use crate::group::control::{Control, Request};
use crate::group::deadline::{self, Deadline};
use crate::group::policy::Intensity;
use crate::group::timers::Timers;
use crate::group::{self, Backoff, GroupHandle, Restart, StopSignal};
use crate::runtime::{drop_exit, AbortHandle, OwnedTask, Runtime, Task};
use crate::sync::Arc;

/// State shared by a supervisor's handle, its task, and its parent.
pub(crate) struct Shared {
    /// The supervisor's path (`app/pipeline`).
    pub(crate) path: Arc<str>,
    pub(crate) control: Control,
    /// How it ended, when there is something to take.
    pub(crate) ending: Mutex<Option<Ending>>,
    /// Raised once the supervisor has ended, however it ended.
    pub(crate) ended: StopSignal,
}

pub(crate) enum Ending {
    Failed(SupervisorError),
    ShutDown(ShutdownReport),
}

/// How a child's future ends: its exit, and the reports of what was inside
/// it (a group's tasks, a child supervisor's children).
pub(crate) struct Ended {
    pub(crate) exit: ChildExit,
    pub(crate) inside: Vec<ChildReport>,
}

/// A running child's future, tagged with its place and generation.
struct Tagged {
    index: usize,
    generation: u64,
    future: BoxFuture<Ended>,
}

impl Future for Tagged {
    type Output = (usize, u64, Ended);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let ended = core::task::ready!(self.future.as_mut().poll(cx));
        Poll::Ready((self.index, self.generation, ended))
    }
}

type AbortHandleOf<R> = <<R as Runtime>::Task as Task>::AbortHandle;

/// How to stop a running child.
enum Stopper<R: Runtime> {
    Worker {
        abort: AbortHandleOf<R>,
        signal: StopSignal,
    },
    Group(GroupHandle<R>),
    Supervisor(Arc<Shared>),
}

impl<R: Runtime> Stopper<R> {
    /// Asks the child to stop within `grace` (zero: abort at once).
    fn stop(&self, grace: Duration) {
        match self {
            Self::Worker { abort, signal } if grace.is_zero() => {
                signal.request();
                abort.abort();
            }
            Self::Worker { signal, .. } => signal.request(),
            Self::Group(handle) if grace.is_zero() => handle.request_stop(),
            Self::Group(handle) => handle.request_shutdown(grace),
            Self::Supervisor(shared) if grace.is_zero() => shared.control.request(Request::Stop),
            Self::Supervisor(shared) => shared.control.request(Request::Shutdown { grace }),
        }
    }
}

enum State<R: Runtime> {
    Running(Stopper<R>),
    /// Stopped by a strategy, or failed and waiting out its backoff: to be
    /// started again with the children its failure affected.
    Waiting,
    /// Ended, and not restarted (its restart type said so).
    Ended,
}

struct Slot<R: Runtime> {
    spec: Child<R>,
    path: Arc<str>,
    /// Starts so far.
    generation: u64,
    /// Restarts in a row without a quiet period between them.
    consecutive: u32,
    since: Instant,
    last_exit: Option<ChildExit>,
    state: State<R>,
}

/// Why the loop ended.
enum End {
    Stop,
    Shutdown(Duration),
    Finished,
    Failed(SupervisorError),
}

enum Event {
    Request(Request),
    Exit(usize, u64, Ended),
    /// Restarts whose backoff passed, by the child that failed.
    Due(Vec<usize>),
}

pub(crate) struct Tree<R: Runtime> {
    pub(crate) runtime: R,
    pub(crate) shared: Arc<Shared>,
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Intensity,
    pub(crate) backoff: Backoff,
    pub(crate) children: Vec<Child<R>>,
}

/// The loop's state.
struct Running<R: Runtime> {
    slots: Vec<Slot<R>>,
    running: FuturesUnordered<Tagged>,
    /// Exits that arrived while other children were being stopped.
    pending: VecDeque<(usize, u64, Ended)>,
    timers: Timers<R>,
    /// The restarts in the intensity window, for the error that gives up.
    history: VecDeque<Restarted>,
}

/// Raises the supervisor's `ended` signal however it ends (its future
/// dropped included), so that a parent or a handle waiting for it wakes.
struct Closing(Arc<Shared>);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.ended.request();
    }
}

fn restarts(restart: Restart, exit: &ChildExit) -> bool {
    match restart {
        Restart::Always => true,
        Restart::OnFailure => exit.is_failure(),
        Restart::Never => false,
    }
}

impl<R: Runtime> Tree<R> {
    pub(crate) async fn run(self) {
        let Self {
            runtime,
            shared,
            strategy,
            mut intensity,
            backoff,
            children,
        } = self;
        let _closing = Closing(Arc::clone(&shared));
        let now = runtime.now();
        let slots = children
            .into_iter()
            .map(|spec| Slot {
                path: Arc::from(format!("{}/{}", shared.path, spec.name)),
                spec,
                generation: 0,
                consecutive: 0,
                since: now,
                last_exit: None,
                state: State::Waiting,
            })
            .collect();
        let mut tree = Running {
            slots,
            running: FuturesUnordered::new(),
            pending: VecDeque::new(),
            timers: Timers::new(),
            history: VecDeque::new(),
        };
        let this = Loop {
            runtime: &runtime,
            shared: &shared,
            strategy,
            backoff,
        };
        tracing::debug!(supervisor = &*shared.path, "starting");
        for index in 0..tree.slots.len() {
            this.start(index, &mut tree);
        }
        let end = loop {
            if tree
                .slots
                .iter()
                .all(|slot| matches!(slot.state, State::Ended))
            {
                break End::Finished;
            }
            let event = match tree.pending.pop_front() {
                Some((index, generation, ended)) => Event::Exit(index, generation, ended),
                None => this.next_event(&mut tree).await,
            };
            match event {
                Event::Request(Request::Stop) => break End::Stop,
                Event::Request(Request::Shutdown { grace }) => break End::Shutdown(grace),
                Event::Request(Request::Release) => {}
                Event::Due(failed) => {
                    for index in failed {
                        let count = tree.slots.len();
                        for affected in strategy.affected(index, count) {
                            if matches!(tree.slots[affected].state, State::Waiting) {
                                this.start(affected, &mut tree);
                            }
                        }
                    }
                }
                Event::Exit(index, generation, ended) => {
                    if let Err(error) = this
                        .child_ended(index, generation, ended, &mut intensity, &mut tree)
                        .await
                    {
                        break End::Failed(error);
                    }
                }
            }
        };
        let ending = match end {
            End::Stop => Some(Ending::ShutDown(
                this.stop_all(Some(runtime.now()), &mut tree).await,
            )),
            End::Shutdown(grace) => {
                tracing::info!(supervisor = &*shared.path, ?grace, "shutting down");
                let deadline = deadline::after(runtime.now(), grace);
                Some(Ending::ShutDown(this.stop_all(deadline, &mut tree).await))
            }
            End::Finished => Some(Ending::ShutDown(this.stop_all(None, &mut tree).await)),
            End::Failed(error) => {
                tracing::error!(supervisor = &*shared.path, %error, "giving up");
                this.stop_all(None, &mut tree).await;
                Some(Ending::Failed(error))
            }
        };
        *shared.ending.lock().unwrap_or_else(|e| e.into_inner()) = ending;
        tracing::debug!(supervisor = &*shared.path, "ended");
    }
}

/// The loop's settings, borrowed while it runs.
struct Loop<'a, R: Runtime> {
    runtime: &'a R,
    shared: &'a Arc<Shared>,
    strategy: Strategy,
    backoff: Backoff,
}

impl<R: Runtime> Loop<'_, R> {
    async fn next_event(&self, tree: &mut Running<R>) -> Event {
        core::future::poll_fn(|cx| {
            self.shared.control.register(cx.waker());
            if let Some(request) = self.shared.control.take_request() {
                return Poll::Ready(Event::Request(request));
            }
            if let Poll::Ready(Some((index, generation, ended))) =
                Pin::new(&mut tree.running).poll_next(cx)
            {
                return Poll::Ready(Event::Exit(index, generation, ended));
            }
            let mut due = Vec::new();
            if tree
                .timers
                .poll_due(self.runtime, cx, |index| due.push(index))
                .is_ready()
            {
                return Poll::Ready(Event::Due(due));
            }
            Poll::Pending
        })
        .await
    }

    /// Starts the next incarnation of child `index`.
    fn start(&self, index: usize, tree: &mut Running<R>) {
        let slot = &mut tree.slots[index];
        slot.generation += 1;
        slot.since = self.runtime.now();
        let (generation, path) = (slot.generation, Arc::clone(&slot.path));
        let (stopper, future): (Stopper<R>, BoxFuture<Ended>) = match &mut slot.spec.kind {
            Kind::Worker(factory) => {
                let signal = StopSignal::default();
                // A factory that panics fails the worker, not the supervisor.
                let made =
                    std::panic::catch_unwind(AssertUnwindSafe(|| factory.make(signal.clone())));
                let task = match made {
                    Ok(future) => self.runtime.spawn(future),
                    Err(payload) => self
                        .runtime
                        .spawn(async move { std::panic::resume_unwind(payload) }),
                };
                let abort = task.abort_handle();
                let task = OwnedTask::new(task);
                let future = Box::pin(async move {
                    let exit = task.await;
                    let ended = ChildExit::from_exit(&exit);
                    drop_exit(exit);
                    Ended {
                        exit: ended,
                        inside: Vec::new(),
                    }
                });
                (Stopper::Worker { abort, signal }, future)
            }
            Kind::Group {
                builder, factory, ..
            } => {
                let mut factory = factory.clone_box();
                let group = builder
                    .clone()
                    .name(&*path)
                    .spawn_graceful(move |stop| factory.make(stop));
                let handle = group.handle();
                let future = Box::pin(async move {
                    match group.wait_report().await {
                        Ok(report) => Ended {
                            exit: ChildExit::Returned,
                            inside: report
                                .map(|report| group_task_reports(&path, report))
                                .unwrap_or_default(),
                        },
                        Err(error) => Ended {
                            exit: ChildExit::GaveUp(error),
                            inside: Vec::new(),
                        },
                    }
                });
                (Stopper::Group(handle), future)
            }
            Kind::Supervisor(builder) => {
                let mut child = builder.clone().under(&self.shared.path).spawn();
                let shared = child.shared();
                let future = Box::pin(async move {
                    match child.wait_report().await {
                        Ok(report) => Ended {
                            exit: ChildExit::Returned,
                            inside: report.map(|r| r.children).unwrap_or_default(),
                        },
                        Err(error) => Ended {
                            exit: ChildExit::Failed(Box::new(error)),
                            inside: Vec::new(),
                        },
                    }
                });
                (Stopper::Supervisor(shared), future)
            }
        };
        slot.state = State::Running(stopper);
        tree.running.push(Tagged {
            index,
            generation,
            future,
        });
        tracing::debug!(child = &*slot.path, generation, "child started");
    }

    /// Handles a child's exit: restarts it and the children the strategy
    /// says, or gives up.
    async fn child_ended(
        &self,
        index: usize,
        generation: u64,
        ended: Ended,
        intensity: &mut Intensity,
        tree: &mut Running<R>,
    ) -> Result<(), SupervisorError> {
        let slot = &mut tree.slots[index];
        if slot.generation != generation || !matches!(slot.state, State::Running(_)) {
            return Ok(()); // stale: a child stopped on purpose meanwhile
        }
        let exit = ended.exit;
        let child = &*slot.path;
        slot.last_exit = Some(exit.clone());
        if !restarts(slot.spec.restart, &exit) {
            if exit.is_failure() {
                tracing::warn!(child, generation, %exit, "child failed; not restarted");
            } else {
                tracing::debug!(child, generation, "child returned; not restarted");
            }
            slot.state = State::Ended;
            return Ok(());
        }
        let now = self.runtime.now();
        if !intensity.admit(now) {
            slot.state = State::Ended;
            return Err(SupervisorError::GaveUp {
                supervisor: self.shared.path.to_string(),
                child: child.to_owned(),
                exit,
                restarts: intensity.restarts(),
                within: intensity.within(),
                history: tree.history.iter().cloned().collect(),
            });
        }
        if now.saturating_duration_since(slot.since) >= self.backoff.quiet_period() {
            slot.consecutive = 0;
        }
        let delay = self
            .backoff
            .delay(slot.consecutive, ((index as u64) << 32) ^ generation);
        slot.consecutive = slot.consecutive.saturating_add(1);
        tracing::warn!(child, generation, %exit, ?delay, strategy = ?self.strategy, "child failed; restarting");
        tree.history.push_back(Restarted {
            child: child.to_owned(),
            generation,
            exit,
        });
        while tree.history.len() > intensity.restarts() as usize {
            tree.history.pop_front();
        }
        slot.state = State::Waiting;
        // The affected children stop, in reverse start order, each fully
        // before the next; then they start again, in order.
        let affected = self.strategy.affected(index, tree.slots.len());
        for other in affected.clone().rev() {
            if other != index && matches!(tree.slots[other].state, State::Running(_)) {
                self.stop_child(other, None, tree).await;
                tree.slots[other].state = State::Waiting;
            }
        }
        match deadline::after(now, delay) {
            _ if delay.is_zero() => {
                for affected in affected {
                    if matches!(tree.slots[affected].state, State::Waiting) {
                        self.start(affected, tree);
                    }
                }
            }
            Some(until) => tree.timers.insert(until, index),
            // A backoff that never ends: they wait until the supervisor
            // stops.
            None => {}
        }
        Ok(())
    }

    /// Stops running child `index` by its stop mode, within `overall` if
    /// given, and waits until it has ended; exits of other children that
    /// arrive meanwhile wait in `pending`. Returns how it ended.
    async fn stop_child(
        &self,
        index: usize,
        overall: Option<Instant>,
        tree: &mut Running<R>,
    ) -> Ended {
        let slot = &tree.slots[index];
        let generation = slot.generation;
        let State::Running(stopper) = &slot.state else {
            unreachable!("only running children are stopped")
        };
        let now = self.runtime.now();
        let own = deadline::after(now, slot.spec.stop.grace());
        let deadline = match (own, overall) {
            (Some(own), Some(overall)) => Some(own.min(overall)),
            (own, overall) => own.or(overall),
        };
        let grace = match (slot.spec.stop, deadline) {
            (StopMode::Abort, _) => Duration::ZERO,
            (_, Some(at)) => at.saturating_duration_since(now),
            (_, None) => Duration::MAX,
        };
        stopper.stop(grace);
        let mut deadline = deadline
            .filter(|_| !grace.is_zero())
            .map(Deadline::<R>::new);
        core::future::poll_fn(|cx| {
            if deadline
                .as_mut()
                .is_some_and(|d| d.poll(self.runtime, cx).is_ready())
            {
                // Its grace is over: abort it.
                deadline = None;
                if let State::Running(stopper) = &tree.slots[index].state {
                    stopper.stop(Duration::ZERO);
                }
            }
            loop {
                match Pin::new(&mut tree.running).poll_next(cx) {
                    Poll::Ready(Some((i, g, ended))) if (i, g) == (index, generation) => {
                        return Poll::Ready(ended)
                    }
                    Poll::Ready(Some(other)) => tree.pending.push_back(other),
                    Poll::Ready(None) => unreachable!("the child's future is in the set"),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await
    }

    /// Stops every child in reverse start order, within `overall` (none:
    /// by their own stop modes alone), and reports how each ended.
    async fn stop_all(&self, overall: Option<Instant>, tree: &mut Running<R>) -> ShutdownReport {
        tree.timers.clear();
        let mut reports: Vec<Vec<ChildReport>> = vec![Vec::new(); tree.slots.len()];
        for index in (0..tree.slots.len()).rev() {
            let ended = if matches!(tree.slots[index].state, State::Running(_)) {
                let ended = self.stop_child(index, overall, tree).await;
                tree.slots[index].last_exit = Some(ended.exit.clone());
                Some(ended)
            } else {
                None
            };
            let slot = &mut tree.slots[index];
            slot.state = State::Ended;
            if let Some(exit) = slot.last_exit.clone() {
                reports[index].push(ChildReport {
                    path: slot.path.to_string(),
                    generation: slot.generation,
                    exit,
                });
            }
            if let Some(ended) = ended {
                reports[index].extend(ended.inside);
            }
        }
        tree.pending.clear();
        ShutdownReport {
            children: reports.into_iter().flatten().collect(),
        }
    }
}

/// A group's shutdown report, as the reports of its tasks by path.
fn group_task_reports(path: &str, report: group::ShutdownReport) -> Vec<ChildReport> {
    report
        .tasks
        .into_iter()
        .map(|task| {
            let exit = ChildExit::from_exit(&task.exit);
            drop_exit(task.exit);
            ChildReport {
                path: format!("{path}/{}", task.index),
                generation: task.generation,
                exit,
            }
        })
        .collect()
}
