//! The task that runs a group's tasks and restarts them by policy.
//!
//! One loop, polled by the runtime: each poll looks at what the handle asks
//! ([`Control`]), then handles task exits, due restarts and starts, up to a
//! budget, and publishes the stats once. Slots ([`Slots`]) keep the
//! invariants (one incarnation per slot at a time, generations that never
//! repeat); policies ([`Restart`], [`Backoff`], [`Intensity`]) decide; the
//! loop wires them together.
//!
//! Whatever ends the supervisor — a request, the group ending on its own, a
//! runtime dropping its future (polled or not), or a bug that panics — every
//! task it owns is aborted ([`OwnedTask`]) and its stats are closed
//! ([`Closing`]). A panic inside the loop is caught: the supervisor then
//! aborts its tasks, waits until they have stopped, and reports the panic.
//! User code it owns (the factory) cannot panic it when dropped
//! ([`Contained`]).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_util::stream::FuturesUnordered;
use futures_util::FutureExt;

use super::control::{Control, Request};
use super::deadline::{self, Deadline};
use super::error::GroupError;
use super::policy::{Backoff, Intensity, Restart};
use super::shutdown::{ShutdownReport, StopSignal, TaskReport};
use super::slots::{SlotState, Slots};
use super::stats::{Stats, StatsCell};
use super::task::{self, Incarnation, Supervised, TaskId};
use super::timers::Timers;
use crate::runtime::{drop_exit, panic_message, Contained, Exit, OwnedTask, Runtime, Task};
use crate::sync::Arc;

/// Units of work (an exit handled, a task started) within one poll before
/// the loop yields to the executor: a burst of thousands of exits or starts
/// never holds a worker thread.
const TURN_BUDGET: usize = 64;

/// State shared by a group's handle and its supervisor.
pub(crate) struct Shared<R: Runtime> {
    /// The group's name, in events and errors.
    pub(crate) name: Arc<str>,
    pub(crate) control: Control,
    pub(crate) stats: StatsCell,
    /// How the supervisor ended, when it was not simply stopped.
    pub(crate) ending: Mutex<Option<Ending<R>>>,
}

impl<R: Runtime> Drop for Shared<R> {
    fn drop(&mut self) {
        // A shutdown report nobody took holds the tasks' exits: their panic
        // payloads are user values, dropped without letting a panic out.
        let ending = self.ending.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(Ending::ShutDown(report)) = ending.take() {
            report
                .tasks
                .into_iter()
                .for_each(|task| drop_exit(task.exit));
        }
    }
}

/// The endings that leave something for the group's handle to take.
pub(crate) enum Ending<R: Runtime> {
    /// The group gave up (restart intensity exceeded), or its supervisor
    /// panicked; every task was stopped.
    Failed(GroupError),
    /// A graceful shutdown, and how each task ended.
    ShutDown(ShutdownReport),
    /// The running tasks, handed back: still aborted if dropped, until the
    /// handle takes them.
    Released(Vec<OwnedTask<R::Task>>),
}

/// A future tagged with the slot and generation it belongs to.
struct Tagged<T> {
    index: usize,
    generation: u64,
    inner: T,
    /// The incarnation running: its exit is read as it says it ended
    /// ([`Incarnation::own_word`]).
    incarnation: Arc<Incarnation>,
}

impl<T: Future<Output = Exit> + Unpin> Future for Tagged<T> {
    type Output = (usize, u64, Exit);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let out = core::task::ready!(Pin::new(&mut self.inner).poll(cx));
        Poll::Ready((self.index, self.generation, self.incarnation.own_word(out)))
    }
}

/// Why the loop ended.
enum End {
    /// Asked to stop, or the group handle is gone.
    Stopped,
    /// Every task ended for good.
    Finished,
    /// Restart intensity exceeded.
    GaveUp(GroupError),
    /// Asked to shut down gracefully.
    Shutdown(Duration),
    /// Asked to hand the running tasks back.
    Released,
    /// The loop itself panicked (a bug), with this message.
    Panicked(Option<String>),
}

impl End {
    /// The end of a loop that panicked with `payload`.
    fn panicked(payload: Box<dyn core::any::Any + Send>) -> Self {
        let message = panic_message(payload.as_ref()).map(str::to_owned);
        crate::runtime::drop_quietly(payload);
        Self::Panicked(message)
    }
}

impl From<Request> for End {
    fn from(request: Request) -> Self {
        match request {
            Request::Stop => Self::Stopped,
            Request::Shutdown { grace } => Self::Shutdown(grace),
            Request::Release => Self::Released,
        }
    }
}

pub(crate) struct Supervisor<R: Runtime, F> {
    pub(crate) runtime: R,
    pub(crate) shared: Arc<Shared<R>>,
    /// Closes the stats and raises the signal when the supervisor goes.
    pub(crate) closing: Closing<R>,
    /// How many tasks the group was built with: started on the first poll.
    pub(crate) initial: usize,
    pub(crate) factory: Contained<F>,
    pub(crate) restart: Restart,
    pub(crate) backoff: Backoff,
    pub(crate) intensity: Option<Intensity>,
    /// Whether the tasks can watch `signal` (spawned with `spawn_graceful`).
    pub(crate) graceful: bool,
    pub(crate) signal: StopSignal,
}

type AbortHandleOf<R> = <<R as Runtime>::Task as Task>::AbortHandle;

/// The loop's state, apart from its settings.
struct State<R: Runtime> {
    /// How many tasks the group runs, as last read from the handle.
    target: usize,
    slots: Slots<AbortHandleOf<R>>,
    /// Every task started and not yet ended, those of removed (`Stopping`)
    /// slots included; each is aborted if the set is dropped.
    running: FuturesUnordered<Tagged<OwnedTask<R::Task>>>,
    /// Pending restarts.
    timers: Timers<R>,
    stats: Stats,
    /// The clock, read at most once per turn (reading it showed up as the
    /// top entry of a profile of starting many tasks).
    now: Option<Instant>,
}

impl<R: Runtime> State<R> {
    fn now(&mut self, runtime: &R) -> Instant {
        *self.now.get_or_insert_with(|| runtime.now())
    }

    /// The stats with the gauges the slots keep.
    fn stats(&self) -> Stats {
        Stats {
            tasks: self.target,
            running: self.slots.running,
            backing_off: self.slots.backing_off,
            stopping: self.slots.stopping,
            ..self.stats
        }
    }

    fn abort_all(&self) {
        self.running.iter().for_each(|t| t.inner.abort());
    }

    /// Reports of the group's tasks that no task of theirs runs now, as
    /// they had ended last (`was_running` if they ended while draining).
    fn idle_reports(&mut self) -> Vec<TaskReport> {
        let mut reports = Vec::with_capacity(self.target.min(self.slots.len()));
        for index in 0..self.target.min(self.slots.len()) {
            let slot = self.slots.get_mut(index).expect("a slot below the count");
            if matches!(
                slot.state,
                SlotState::Running { .. } | SlotState::Stopping { .. }
            ) {
                continue;
            }
            if let Some(exit) = slot.last_exit.take() {
                reports.push(TaskReport {
                    index,
                    generation: slot.generation,
                    exit,
                    was_running: slot.drained,
                });
            }
        }
        reports
    }

    /// Waits for every running task to end, adding to `reports` those of
    /// the group's tasks (a task removed by a downscale and still stopping
    /// is not one, unless an upscale brought its place back).
    fn poll_reported_exits(
        &mut self,
        cx: &mut Context<'_>,
        reports: &mut Vec<TaskReport>,
    ) -> Poll<()> {
        let (target, slots, stats) = (self.target, &mut self.slots, &mut self.stats);
        poll_exits(&mut self.running, cx, |index, generation, exit| {
            let reported = index < target
                && matches!(
                    slots.get(index).map(|s| &s.state),
                    Some(SlotState::Running { .. } | SlotState::Stopping { wanted: true })
                );
            if !reported {
                return drop_exit(exit);
            }
            // The group aborted those it aborted: only what the tasks did
            // themselves is counted.
            if !matches!(exit, Exit::Aborted) {
                stats.count(&exit);
            }
            slots.set(index, SlotState::Ended);
            reports.push(TaskReport {
                index,
                generation,
                exit,
                was_running: true,
            });
        })
    }
}

/// Handles the exits of `running` as they come, at most [`TURN_BUDGET`] in
/// one poll; `Ready` once no task is left.
///
/// The budget matters beyond fairness: past a task's own poll budget
/// (tokio's cooperative budget of 128), every join handle polled comes back
/// pending and asks to be polled again, and `FuturesUnordered` walks all of
/// them once more in the same poll. Stopping 65,536 tasks took 2.5 s that
/// way; in batches it is linear.
fn poll_exits<T: Task>(
    running: &mut FuturesUnordered<Tagged<OwnedTask<T>>>,
    cx: &mut Context<'_>,
    mut exited: impl FnMut(usize, u64, Exit),
) -> Poll<()> {
    for _ in 0..TURN_BUDGET {
        match Pin::new(&mut *running).poll_next(cx) {
            Poll::Ready(Some((index, generation, exit))) => exited(index, generation, exit),
            Poll::Ready(None) => return Poll::Ready(()),
            Poll::Pending => return Poll::Pending,
        }
    }
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// Closes the group's stats when the supervisor ends, however it ends (its
/// future dropped by a runtime that shut down — before its first poll too —
/// or a panic, included), so that watchers and scalers learn of the end.
/// Made with the supervisor, not when it first runs.
///
/// It also raises the tasks' stop signal, so that a clone of it held
/// anywhere does not wait for ever on a group that is gone — unless the
/// tasks were released, and are the caller's to end.
pub(crate) struct Closing<R: Runtime> {
    shared: Arc<Shared<R>>,
    signal: Option<StopSignal>,
}

impl<R: Runtime> Closing<R> {
    pub(crate) fn new(shared: Arc<Shared<R>>, signal: StopSignal) -> Self {
        Self {
            shared,
            signal: Some(signal),
        }
    }

    /// Leaves the stop signal as it is: the tasks were handed over.
    fn spare_signal(&mut self) {
        self.signal = None;
    }
}

impl<R: Runtime> Drop for Closing<R> {
    fn drop(&mut self) {
        if let Some(signal) = &self.signal {
            signal.request();
        }
        self.shared.stats.close();
    }
}

impl<R, F, Fut> Supervisor<R, F>
where
    R: Runtime,
    F: FnMut(StopSignal) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    /// Runs until asked to end, until the group handle is gone, until every
    /// task has ended for good, or until it gives up.
    pub(crate) async fn run(mut self) {
        let mut state = State {
            target: 0,
            slots: Slots::new(),
            running: FuturesUnordered::new(),
            timers: Timers::new(),
            stats: Stats::default(),
            now: None,
        };
        // The tasks the group was built with start at once, all of them (at
        // most `max_tasks`, as the builder checked): a shutdown or release
        // asked for right after the spawn finds them. Upscales, even those
        // made before this first poll, start a few per poll. A group stopped
        // (or dropped) before its supervisor ever ran starts nothing.
        let early = self.shared.control.take_request();
        state.target = self.initial;
        while early != Some(Request::Stop) && state.slots.len() < state.target {
            self.grow(&mut state);
        }
        let end = match early {
            Some(request) => request.into(),
            None => {
                core::future::poll_fn(|cx| {
                    catch_unwind(AssertUnwindSafe(|| self.poll_turn(cx, &mut state)))
                        .unwrap_or_else(|payload| Poll::Ready(End::panicked(payload)))
                })
                .await
            }
        };

        let mut report = None;
        match end {
            End::Shutdown(grace) => {
                let shut_down = AssertUnwindSafe(self.shut_down(grace, &mut state));
                match shut_down.catch_unwind().await {
                    Ok(report) => self.set_ending(Ending::ShutDown(report)),
                    Err(payload) => self.fail(End::panicked(payload)),
                }
            }
            End::Released => {
                // The current tasks go to the caller, in slot order; tasks of
                // removed slots were aborted on purpose and are awaited below.
                let (mut handed, stale): (Vec<_>, Vec<_>) = core::mem::take(&mut state.running)
                    .into_iter()
                    .partition(|t| {
                        matches!(
                            state.slots.get(t.index).map(|s| &s.state),
                            Some(SlotState::Running { .. })
                        )
                    });
                handed.sort_by_key(|t| t.index);
                state.running.extend(stale);
                self.closing.spare_signal();
                self.set_ending(Ending::Released(
                    handed.into_iter().map(|t| t.inner).collect(),
                ));
            }
            End::GaveUp(error) => self.set_ending(Ending::Failed(error)),
            end @ End::Panicked(_) => self.fail(end),
            // Stopped, or ended on its own (drained, say): a report of every
            // task is kept for a shutdown or drain that asks after the fact.
            End::Stopped | End::Finished => report = Some(state.idle_reports()),
        }
        // Nothing outlives the group: abort every task and wait for each.
        state.abort_all();
        match &mut report {
            Some(reports) => {
                core::future::poll_fn(|cx| state.poll_reported_exits(cx, reports)).await;
                reports.sort_by_key(|r| r.index);
            }
            None => {
                core::future::poll_fn(|cx| {
                    poll_exits(&mut state.running, cx, |_, _, exit| drop_exit(exit))
                })
                .await;
            }
        }
        if let Some(tasks) = report {
            self.set_ending(Ending::ShutDown(ShutdownReport { tasks }));
        }
        state.timers.clear();
        let stats = Stats {
            running: 0,
            backing_off: 0,
            stopping: 0,
            ..state.stats()
        };
        self.shared.stats.publish(&stats);
        tracing::debug!(group = &*self.shared.name, "group ended");
    }

    /// One poll of the loop: handles whatever is ready, then publishes the
    /// stats once.
    fn poll_turn(&mut self, cx: &mut Context<'_>, state: &mut State<R>) -> Poll<End> {
        state.now = None;
        let mut changed = state.stats.iterations == 0; // the first stats
        let turn = self.turn(cx, state, &mut changed);
        if changed {
            self.shared.stats.publish(&state.stats());
        }
        turn
    }

    fn turn(
        &mut self,
        cx: &mut Context<'_>,
        state: &mut State<R>,
        changed: &mut bool,
    ) -> Poll<End> {
        let control = &self.shared.control;
        // Register first: a request or resize made after the look below
        // wakes us for another.
        control.register(cx.waker());
        let target = control.target();
        if target != state.target {
            self.resize(target, state);
            *changed = true;
        }
        // A shutdown or release concerns the tasks started so far: the
        // group does not grow any more.
        if let Some(request) = self.shared.control.take_request() {
            return Poll::Ready(request.into());
        }
        // Due restarts join the queue of starts first: tasks ending and
        // restarting as fast as they can never starve a backoff's restart.
        let _ = self.poll_timers(cx, state, changed);
        for turn in 0..TURN_BUDGET {
            state.stats.iterations += 1;
            // Growing, one new slot at a time: a huge upscale costs memory
            // only as its tasks actually start, and never holds the thread.
            // Every fourth step grows first, so that tasks ending and
            // restarting as fast as they can never starve an upscale.
            let grows = state.slots.len() < state.target;
            if grows && turn % 4 == 3 {
                self.grow(state);
                *changed = true;
                continue;
            }
            // Restarts decided earlier happen before more exits are looked
            // at: a restart that was admitted is carried out.
            if let Some(index) = state.slots.next_due() {
                self.start(index, state);
                *changed = true;
                continue;
            }
            if let Poll::Ready(Some((index, generation, exit))) =
                Pin::new(&mut state.running).poll_next(cx)
            {
                *changed = true;
                if let Err(gave_up) = self.task_ended(index, generation, exit, state) {
                    return Poll::Ready(End::GaveUp(gave_up));
                }
                continue;
            }
            if self.poll_timers(cx, state, changed).is_ready() {
                continue;
            }
            if grows {
                self.grow(state);
                *changed = true;
                continue;
            }
            if state.slots.ended == state.target && state.slots.stopping == 0 {
                return Poll::Ready(End::Finished);
            }
            return Poll::Pending;
        }
        // Work keeps coming (tasks ending as fast as they start, a large
        // upscale): let the executor run others before the next turn.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Moves the slots whose restart deadline has come to the queue of
    /// starts; `Ready` if there were any.
    fn poll_timers(
        &self,
        cx: &mut Context<'_>,
        state: &mut State<R>,
        changed: &mut bool,
    ) -> Poll<()> {
        let slots = &mut state.slots;
        let due = state.timers.poll_due(&self.runtime, cx, |index| {
            slots.set(index, SlotState::Due);
        });
        *changed |= due.is_ready();
        due
    }

    /// Makes the next slot and starts its first task.
    fn grow(&mut self, state: &mut State<R>) {
        let index = state.slots.push();
        self.start(index, state);
    }

    /// Grows or shrinks the group to `target` slots. Slots brought back
    /// start at once (or once their old incarnation has ended); new ones
    /// start as the loop gets to them; removed ones are aborted and not
    /// restarted. Costs one step per slot added or removed.
    fn resize(&mut self, target: usize, state: &mut State<R>) {
        let old = core::mem::replace(&mut state.target, target);
        let made = state.slots.len();
        for index in old.min(made)..target.min(made) {
            // Slots at or beyond the old target are vacant or stopping.
            let wanted = match state.slots.get(index).map(|s| &s.state) {
                Some(SlotState::Stopping { .. }) => SlotState::Stopping { wanted: true },
                _ => SlotState::Due,
            };
            state.slots.set(index, wanted);
        }
        for index in target..old.min(made) {
            match state.slots.set(index, SlotState::Vacant) {
                SlotState::Running { abort, .. } => {
                    crate::runtime::AbortHandle::abort(&abort);
                    state
                        .slots
                        .set(index, SlotState::Stopping { wanted: false });
                }
                SlotState::Stopping { .. } => {
                    state
                        .slots
                        .set(index, SlotState::Stopping { wanted: false });
                }
                SlotState::BackingOff { until: Some(until) } => state.timers.remove(until, index),
                SlotState::BackingOff { until: None }
                | SlotState::Due
                | SlotState::Ended
                | SlotState::Vacant => {}
            }
        }
        tracing::debug!(
            group = &*self.shared.name,
            from = old,
            to = target,
            "resized"
        );
    }

    /// Handles a task's exit: counts it, and restarts the task by policy
    /// (now, or after a backoff). `Err` to give up.
    fn task_ended(
        &mut self,
        index: usize,
        generation: u64,
        exit: Exit,
        state: &mut State<R>,
    ) -> Result<(), GroupError> {
        let group = &*self.shared.name;
        let slot = state
            .slots
            .get(index)
            .filter(|s| s.generation == generation);
        let (since, progressed) = match slot.map(|s| &s.state) {
            Some(SlotState::Running {
                since, incarnation, ..
            }) => (*since, incarnation.made_progress()),
            Some(SlotState::Stopping { wanted }) => {
                // Removed by a downscale: it was aborted on purpose, and is
                // not restarted; a slot brought back meanwhile starts anew.
                if !matches!(exit, Exit::Aborted) {
                    state.stats.count(&exit);
                }
                let next = if *wanted {
                    SlotState::Due
                } else {
                    SlotState::Vacant
                };
                state.slots.set(index, next);
                state.slots.keep_exit(index, exit);
                return Ok(());
            }
            _ => {
                // Every running task belongs to its slot's current
                // generation (see `slots`); anything else is a bug, which
                // must not take the group down.
                tracing::error!(
                    group,
                    task = index,
                    generation,
                    "an exit for no current task"
                );
                drop_exit(exit);
                return Ok(());
            }
        };
        state.stats.count(&exit);
        // A draining group's tasks return when their work is done.
        let draining = !exit.is_failure() && self.shared.control.is_draining();
        if draining || !self.restart.restarts(&exit) {
            if exit.is_failure() {
                tracing::warn!(group, task = index, generation, %exit, "task failed; not restarted");
            } else {
                tracing::debug!(
                    group,
                    task = index,
                    generation,
                    "task returned; not restarted"
                );
            }
            state.slots.set(index, SlotState::Ended);
            state.slots.keep_exit(index, exit);
            if let Some(slot) = state.slots.get_mut(index) {
                slot.drained = draining;
            }
            return Ok(());
        }
        let now = state.now(&self.runtime);
        let slot = state.slots.get_mut(index).expect("checked above");
        // A task that did useful work before it failed (it said so, or it
        // ran long enough) starts a new series: its restart is immediate.
        if progressed || now.saturating_duration_since(since) >= self.backoff.quiet_period() {
            slot.consecutive = 0;
        }
        let seed = ((index as u64) << 32) ^ generation;
        let delay = self.backoff.delay(slot.consecutive, seed);
        slot.consecutive = slot.consecutive.saturating_add(1);
        if let Some(intensity) = &mut self.intensity {
            if !intensity.admit(now) {
                state.slots.set(index, SlotState::Ended);
                let (restarts, within) = (intensity.restarts(), intensity.within());
                tracing::error!(
                    group,
                    restarts,
                    within = ?within,
                    last_exit = %exit,
                    "restart intensity exceeded: giving up"
                );
                let error = GroupError::GaveUp {
                    group: group.to_owned(),
                    restarts,
                    within,
                    last_exit: exit.to_string(),
                };
                state.slots.keep_exit(index, exit);
                return Err(error);
            }
        }
        // One event per restart, saying why and when.
        if exit.is_failure() {
            tracing::warn!(group, task = index, generation, %exit, ?delay, "task failed; restarting");
        } else {
            tracing::debug!(
                group,
                task = index,
                generation,
                ?delay,
                "task returned; restarting"
            );
        }
        state.slots.keep_exit(index, exit);
        if delay.is_zero() {
            state.slots.set(index, SlotState::Due);
        } else {
            // A deadline past the clock's range (or ten millennia away)
            // never comes: the restart waits until the group is stopped.
            let until = deadline::after(now, delay);
            state.slots.set(index, SlotState::BackingOff { until });
            if let Some(until) = until {
                state.timers.insert(until, index);
            }
        }
        Ok(())
    }

    /// Reports a panic of the loop as the group's error.
    fn fail(&self, end: End) {
        let End::Panicked(message) = end else { return };
        let group = self.shared.name.to_string();
        tracing::error!(
            group,
            message,
            "the supervisor panicked: stopping every task"
        );
        self.set_ending(Ending::Failed(GroupError::SupervisorPanicked {
            group,
            message,
        }));
    }

    fn set_ending(&self, ending: Ending<R>) {
        *self.shared.ending.lock().unwrap_or_else(|e| e.into_inner()) = Some(ending);
    }

    /// Signals the tasks, waits for them until `grace` has passed, aborts
    /// those still running, and reports how each ended. Pending restarts
    /// are cancelled; tasks that cannot watch the signal are aborted at once,
    /// and so is every task if the handle asks for a stop meanwhile (it was
    /// dropped).
    async fn shut_down(&mut self, grace: Duration, state: &mut State<R>) -> ShutdownReport {
        // A grace too long for the clock is a deadline that never comes.
        let mut deadline = deadline::after(self.runtime.now(), grace).map(Deadline::<R>::new);
        tracing::info!(group = &*self.shared.name, ?grace, "shutting down");
        self.signal.request();
        state.timers.clear();
        let mut reports = state.idle_reports();
        let mut aborted = !self.graceful;
        if aborted {
            state.abort_all();
        }
        core::future::poll_fn(|cx| {
            let control = &self.shared.control;
            control.register(cx.waker());
            let mut stop = false;
            match control.take_request() {
                Some(Request::Stop) => stop = true,
                // A later shutdown (a drain's deadline, say) may only bring
                // the deadline closer.
                Some(Request::Shutdown { grace }) => {
                    match deadline::after(self.runtime.now(), grace) {
                        Some(at) if deadline.as_ref().is_none_or(|d| at < d.at()) => {
                            deadline = Some(Deadline::new(at));
                        }
                        _ => {}
                    }
                }
                Some(Request::Release) | None => {}
            }
            let expired = deadline
                .as_mut()
                .is_some_and(|d| d.poll(&self.runtime, cx).is_ready());
            if !aborted && (stop || expired) {
                // Whoever still runs is aborted, and wakes us when it has
                // stopped.
                aborted = true;
                deadline = None;
                state.abort_all();
            }
            state.poll_reported_exits(cx, &mut reports)
        })
        .await;
        reports.sort_by_key(|r| r.index);
        ShutdownReport { tasks: reports }
    }

    fn start(&mut self, index: usize, state: &mut State<R>) {
        let now = state.now(&self.runtime);
        let slot = state.slots.get_mut(index).expect("a due slot exists");
        if slot.generation > 0 {
            state.stats.restarted += 1;
        }
        slot.generation += 1;
        let generation = slot.generation;
        state.stats.started += 1;
        // The task runs as itself (its span, `group::current`), and so does
        // the factory that makes it.
        let incarnation = Incarnation::new(TaskId::new(
            Arc::clone(&self.shared.name),
            index,
            generation,
        ));
        // A factory that panics must not take the supervisor down: its task
        // panics instead, with the same payload, and follows the policy.
        let signal = self.signal.clone();
        let factory = self.factory.get_mut();
        let made = task::enter(&incarnation, || {
            std::panic::catch_unwind(AssertUnwindSafe(|| factory(signal)))
        });
        let task = match made {
            Ok(future) => self
                .runtime
                .spawn(Supervised::new(future, Arc::clone(&incarnation))),
            Err(payload) => self
                .runtime
                .spawn(async move { std::panic::resume_unwind(payload) }),
        };
        let abort = task.abort_handle();
        state.running.push(Tagged {
            index,
            generation,
            inner: OwnedTask::new(task),
            incarnation: Arc::clone(&incarnation),
        });
        state.slots.set(
            index,
            SlotState::Running {
                since: now,
                abort,
                incarnation,
            },
        );
        tracing::debug!(
            group = &*self.shared.name,
            task = index,
            generation,
            "task started"
        );
    }
}
