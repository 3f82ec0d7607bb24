//! The task that runs a group's tasks and restarts them by policy.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_util::stream::FuturesUnordered;

use super::error::GroupError;
use super::policy::{Backoff, Restart};
use super::shutdown::{ShutdownReport, StopSignal, TaskReport};
use super::stats::{Stats, StatsCell};
use crate::mailbox::Receiver;
use crate::runtime::{Exit, Runtime, Task};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Arc;

/// Turns of the loop within one poll before it yields to the executor.
const TURN_BUDGET: usize = 64;

/// What a [`Group`](super::Group) asks of its supervisor.
pub(crate) enum Command {
    /// Abort every task, wait until none runs, and end.
    Stop,
    /// The target number of tasks changed: look at it.
    Resize,
    /// Signal the tasks, give them until `grace` has passed, abort the rest,
    /// report, and end.
    Shutdown { grace: Duration },
    /// Stop supervising: hand the running tasks back, and end.
    Release,
}

/// State shared by a group's handle and its supervisor.
pub(crate) struct Shared<R: Runtime> {
    pub(crate) stats: StatsCell,
    /// How many tasks the group should run.
    pub(crate) target: AtomicUsize,
    /// How the supervisor ended, when it was not simply stopped.
    pub(crate) ending: Mutex<Option<Ending<R>>>,
}

/// The endings that leave something for the group's handle to take.
pub(crate) enum Ending<R: Runtime> {
    /// Restart intensity exceeded; every task was stopped.
    GaveUp(GroupError),
    /// A graceful shutdown, and how each task ended.
    ShutDown(ShutdownReport),
    /// The running tasks, handed back.
    Released(Vec<R::Task>),
}

/// More than `restarts` restarts within `within` make the group give up.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Intensity {
    pub(crate) restarts: u32,
    pub(crate) within: Duration,
}

/// One task of the group, across its restarts.
struct Slot {
    /// Starts so far: 1 for the first incarnation.
    generation: u64,
    /// Restarts in a row without a quiet period between them.
    consecutive: u32,
    state: SlotState,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Its task runs (in `State::running`) since then.
    Running(Instant),
    /// Its restart waits for a timer (in `State::backoffs`).
    BackingOff,
    /// Ended and not restarted (its policy said so).
    Ended,
}

/// A future tagged with the slot and generation it belongs to, so that an
/// event for a slot that was removed or restarted since is recognised as
/// stale and dropped.
struct Tagged<T> {
    index: usize,
    generation: u64,
    inner: T,
}

impl<T: Future + Unpin> Future for Tagged<T> {
    type Output = (usize, u64, T::Output);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let out = core::task::ready!(Pin::new(&mut self.inner).poll(cx));
        Poll::Ready((self.index, self.generation, out))
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
}

pub(crate) struct Supervisor<R: Runtime, F> {
    pub(crate) runtime: R,
    /// The group's name, in events and errors.
    pub(crate) name: Arc<str>,
    pub(crate) factory: F,
    pub(crate) restart: Restart,
    pub(crate) backoff: Backoff,
    pub(crate) intensity: Option<Intensity>,
    /// Whether the tasks can watch `signal` (spawned with `spawn_graceful`).
    pub(crate) graceful: bool,
    pub(crate) signal: StopSignal,
    pub(crate) commands: Receiver<Command>,
    pub(crate) shared: Arc<Shared<R>>,
}

/// The loop's state, apart from its settings.
struct State<R: Runtime> {
    slots: Vec<Slot>,
    /// Every task started and not yet ended, including those of removed
    /// slots (a downscale aborts them; their exits are stale).
    running: FuturesUnordered<Tagged<R::Task>>,
    /// Pending restarts; a timer whose slot moved on is stale.
    backoffs: FuturesUnordered<Tagged<Pin<Box<R::Sleep>>>>,
    /// When recent restarts happened, for the intensity window.
    restarts: VecDeque<Instant>,
    stats: Stats,
    /// The clock, read at most once per turn (reading it showed up as the
    /// top entry of a profile of starting many tasks).
    now: Option<Instant>,
}

impl<R: Runtime> State<R> {
    fn now(&mut self, runtime: &R) -> Instant {
        *self.now.get_or_insert_with(|| runtime.now())
    }
}

/// The slot a tagged event is for, unless the event is stale: its slot was
/// removed (a downscale) or has moved on to a later generation.
fn current(slots: &mut [Slot], index: usize, generation: u64) -> Option<&mut Slot> {
    slots
        .get_mut(index)
        .filter(|slot| slot.generation == generation)
}

impl<R, F, Fut> Supervisor<R, F>
where
    R: Runtime,
    F: FnMut(StopSignal) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    /// Runs until told to stop, until the group handle is gone, until every
    /// task has ended for good, or until it gives up.
    pub(crate) async fn run(mut self) {
        let mut state = State {
            slots: Vec::new(),
            running: FuturesUnordered::new(),
            backoffs: FuturesUnordered::new(),
            restarts: VecDeque::new(),
            stats: Stats::default(),
            now: None,
        };
        self.resize(&mut state);
        self.shared.stats.publish(&state.stats);

        let end = core::future::poll_fn(|cx| self.poll_turn(cx, &mut state)).await;
        // Later commands fail at once rather than wait for a reader.
        self.commands.close();

        match end {
            End::Shutdown(grace) => {
                let report = self.shut_down(grace, &mut state).await;
                self.set_ending(Ending::ShutDown(report));
            }
            End::Released => {
                // The current tasks go to the caller, in slot order; tasks of
                // removed slots were aborted on purpose and are awaited below.
                let (mut handed, stale): (Vec<_>, Vec<_>) = core::mem::take(&mut state.running)
                    .into_iter()
                    .partition(|t| current(&mut state.slots, t.index, t.generation).is_some());
                handed.sort_by_key(|t| t.index);
                state.stats.running = 0;
                state.running.extend(stale);
                self.set_ending(Ending::Released(
                    handed.into_iter().map(|t| t.inner).collect(),
                ));
            }
            End::GaveUp(error) => self.set_ending(Ending::GaveUp(error)),
            End::Stopped | End::Finished => {}
        }
        // Nothing outlives the group: abort every task and wait for each.
        state.running.iter().for_each(|t| t.inner.abort());
        while core::future::poll_fn(|cx| Pin::new(&mut state.running).poll_next(cx))
            .await
            .is_some()
        {}
        state.stats.running = 0;
        state.stats.backing_off = 0;
        self.shared.stats.publish(&state.stats);
    }

    /// One poll of the loop: handles whatever is ready, then publishes the
    /// stats once.
    fn poll_turn(&mut self, cx: &mut Context<'_>, state: &mut State<R>) -> Poll<End> {
        state.now = None;
        let mut changed = false;
        let turn = self.turn(cx, state, &mut changed);
        if changed {
            self.shared.stats.publish(&state.stats);
        }
        turn
    }

    fn turn(
        &mut self,
        cx: &mut Context<'_>,
        state: &mut State<R>,
        changed: &mut bool,
    ) -> Poll<End> {
        // Commands first, until none waits: that also registers the wakeup
        // for the next one. They are rare, so they are looked at once per
        // poll, not after every task event (a look is a lock once the
        // mailbox's listener is registered).
        loop {
            match Pin::new(&mut self.commands).poll_next(cx) {
                // Dropping the group (or a stop) stops it.
                Poll::Ready(Some(Command::Stop) | None) => return Poll::Ready(End::Stopped),
                Poll::Ready(Some(Command::Shutdown { grace })) => {
                    return Poll::Ready(End::Shutdown(grace))
                }
                Poll::Ready(Some(Command::Release)) => return Poll::Ready(End::Released),
                Poll::Ready(Some(Command::Resize)) => {
                    self.resize(state);
                    *changed = true;
                }
                Poll::Pending => break,
            }
        }
        for _ in 0..TURN_BUDGET {
            state.stats.iterations += 1;
            if let Poll::Ready(Some((index, generation, exit))) =
                Pin::new(&mut state.running).poll_next(cx)
            {
                *changed = true;
                if let Err(gave_up) = self.task_ended(index, generation, exit, state) {
                    return Poll::Ready(End::GaveUp(gave_up));
                }
                continue;
            }
            if let Poll::Ready(Some((index, generation, ()))) =
                Pin::new(&mut state.backoffs).poll_next(cx)
            {
                if current(&mut state.slots, index, generation).is_some() {
                    state.stats.backing_off -= 1;
                    self.start(index, state);
                    *changed = true;
                }
                continue;
            }
            if state.slots.iter().all(|s| s.state == SlotState::Ended) {
                return Poll::Ready(End::Finished);
            }
            return Poll::Pending;
        }
        // Tasks keep ending as fast as they start (say, on another worker):
        // let the executor run others before the next turn.
        cx.waker().wake_by_ref();
        Poll::Pending
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
        let now = state.now(&self.runtime);
        let stats = &mut state.stats;
        match &exit {
            Exit::Returned => stats.returned += 1,
            Exit::Panicked(_) => stats.panicked += 1,
            Exit::Aborted => stats.aborted += 1,
        }
        let group = &*self.name;
        let Some(slot) = current(&mut state.slots, index, generation) else {
            // A task of a removed slot (downscale): aborted on purpose.
            return Ok(());
        };
        let SlotState::Running(since) = slot.state else {
            unreachable!("a current slot whose task ended was running")
        };
        state.stats.running -= 1;
        if exit.is_failure() {
            tracing::warn!(group, task = index, generation, %exit, "task failed");
        } else {
            tracing::debug!(group, task = index, generation, "task returned");
        }
        if !self.restart.restarts(&exit) {
            slot.state = SlotState::Ended;
            return Ok(());
        }
        if now.saturating_duration_since(since) >= self.backoff.quiet_period() {
            slot.consecutive = 0;
        }
        let seed = ((index as u64) << 32) ^ generation;
        let delay = self.backoff.delay(slot.consecutive, seed);
        slot.consecutive = slot.consecutive.saturating_add(1);
        if let Some(intensity) = self.intensity {
            if let Some(window_start) = now.checked_sub(intensity.within) {
                while state.restarts.front().is_some_and(|&t| t <= window_start) {
                    state.restarts.pop_front();
                }
            }
            if state.restarts.len() >= intensity.restarts as usize {
                slot.state = SlotState::Ended;
                tracing::error!(
                    group,
                    restarts = intensity.restarts,
                    within = ?intensity.within,
                    last_exit = %exit,
                    "restart intensity exceeded: giving up"
                );
                return Err(GroupError::GaveUp {
                    group: group.to_owned(),
                    restarts: intensity.restarts,
                    within: intensity.within,
                    last_exit: exit.to_string(),
                });
            }
            state.restarts.push_back(now);
        }
        tracing::info!(group, task = index, generation, ?delay, "restarting task");
        if delay.is_zero() {
            self.start(index, state);
        } else {
            slot.state = SlotState::BackingOff;
            state.stats.backing_off += 1;
            state.backoffs.push(Tagged {
                index,
                generation,
                inner: Box::pin(self.runtime.sleep_until(now + delay)),
            });
        }
        Ok(())
    }

    fn set_ending(&self, ending: Ending<R>) {
        *self.shared.ending.lock().unwrap_or_else(|e| e.into_inner()) = Some(ending);
    }

    /// Signals the tasks, waits for them until `grace` has passed, aborts
    /// those still running, and reports how each ended. Pending restarts
    /// are cancelled; tasks that cannot watch the signal are aborted at once.
    async fn shut_down(&mut self, grace: Duration, state: &mut State<R>) -> ShutdownReport {
        let deadline = self.runtime.now() + grace;
        tracing::info!(group = &*self.name, ?grace, "shutting down");
        self.signal.request();
        state.backoffs.clear();
        state.stats.backing_off = 0;
        for slot in &mut state.slots {
            slot.state = SlotState::Ended;
        }
        let mut aborted = !self.graceful;
        if aborted {
            state.running.iter().for_each(|t| t.inner.abort());
        }
        let mut reports = Vec::with_capacity(state.running.len());
        let mut deadline_passed = Box::pin(self.runtime.sleep_until(deadline));
        loop {
            let next = core::future::poll_fn(|cx| {
                if let Poll::Ready(next) = Pin::new(&mut state.running).poll_next(cx) {
                    return Poll::Ready(next);
                }
                if !aborted && deadline_passed.as_mut().poll(cx).is_ready() {
                    // The deadline: whoever still runs is aborted, and wakes
                    // us when it has stopped.
                    aborted = true;
                    state.running.iter().for_each(|t| t.inner.abort());
                }
                Poll::Pending
            })
            .await;
            let Some((index, generation, exit)) = next else {
                break;
            };
            let stats = &mut state.stats;
            match &exit {
                Exit::Returned => stats.returned += 1,
                Exit::Panicked(_) => stats.panicked += 1,
                Exit::Aborted => stats.aborted += 1,
            }
            // Tasks of slots removed by a downscale were aborted on purpose
            // before the shutdown; they are not part of its report.
            if current(&mut state.slots, index, generation).is_some() {
                stats.running -= 1;
                reports.push(TaskReport {
                    index,
                    generation,
                    exit,
                });
            }
        }
        reports.sort_by_key(|r| r.index);
        ShutdownReport { tasks: reports }
    }

    /// Grows or shrinks the group to its target size. New tasks start at
    /// once; removed ones (the newest) are aborted and not restarted.
    fn resize(&mut self, state: &mut State<R>) {
        let target = self.shared.target.load(Ordering::Acquire);
        while state.slots.len() < target {
            state.slots.push(Slot {
                generation: 0,
                consecutive: 0,
                state: SlotState::Ended,
            });
            self.start(state.slots.len() - 1, state);
        }
        while state.slots.len() > target {
            let index = state.slots.len() - 1;
            let Some(slot) = state.slots.pop() else { break };
            match slot.state {
                SlotState::Running(_) => {
                    state.stats.running -= 1;
                    state
                        .running
                        .iter()
                        .filter(|t| t.index == index && t.generation == slot.generation)
                        .for_each(|t| t.inner.abort());
                }
                // Its timer is now stale and will be dropped.
                SlotState::BackingOff => state.stats.backing_off -= 1,
                SlotState::Ended => {}
            }
        }
        state.stats.tasks = target;
    }

    fn start(&mut self, index: usize, state: &mut State<R>) {
        let now = state.now(&self.runtime);
        let slot = &mut state.slots[index];
        if slot.generation > 0 {
            state.stats.restarted += 1;
        }
        slot.generation += 1;
        slot.state = SlotState::Running(now);
        state.stats.started += 1;
        state.stats.running += 1;
        // A factory that panics must not take the supervisor down: its task
        // panics instead, with the same payload, and follows the policy.
        let signal = self.signal.clone();
        let factory = &mut self.factory;
        let task = match std::panic::catch_unwind(AssertUnwindSafe(|| factory(signal))) {
            Ok(future) => self.runtime.spawn(future),
            Err(payload) => self
                .runtime
                .spawn(async move { std::panic::resume_unwind(payload) }),
        };
        state.running.push(Tagged {
            index,
            generation: slot.generation,
            inner: task,
        });
        tracing::debug!(
            group = &*self.name,
            task = index,
            generation = slot.generation,
            "task started"
        );
    }
}
