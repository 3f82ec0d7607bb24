//! The task that runs a group's tasks and restarts them by policy.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_core::Stream;

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
}

/// State shared by a group's handle and its supervisor.
pub(crate) struct Shared {
    pub(crate) stats: StatsCell,
    /// How many tasks the group should run.
    pub(crate) target: AtomicUsize,
    /// Set when the supervisor ended the group on its own.
    pub(crate) outcome: Mutex<Option<GroupError>>,
    /// Set when a shutdown ended the group.
    pub(crate) report: Mutex<Option<ShutdownReport>>,
}

/// More than `restarts` restarts within `within` make the group give up.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Intensity {
    pub(crate) restarts: u32,
    pub(crate) within: Duration,
}

/// One task of the group, across its restarts.
struct Slot<R: Runtime> {
    /// Starts so far: 1 for the first incarnation.
    generation: u64,
    /// Restarts in a row without a quiet period between them.
    consecutive: u32,
    state: SlotState<R>,
}

enum SlotState<R: Runtime> {
    Running {
        task: R::Task,
        since: Instant,
    },
    BackingOff(Pin<Box<R::Sleep>>),
    /// Ended and not restarted (its policy said so).
    Ended,
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
    pub(crate) shared: Arc<Shared>,
}

/// The loop's state, apart from its settings.
struct State<R: Runtime> {
    slots: Vec<Slot<R>>,
    /// Tasks of removed slots (a downscale), aborted and not yet ended.
    retiring: Vec<R::Task>,
    /// When recent restarts happened, for the intensity window.
    restarts: VecDeque<Instant>,
    stats: Stats,
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
            retiring: Vec::new(),
            restarts: VecDeque::new(),
            stats: Stats::default(),
        };
        self.resize(&mut state);
        self.shared.stats.publish(&state.stats);

        let end = core::future::poll_fn(|cx| self.poll_turn(cx, &mut state)).await;
        // Later commands fail at once rather than wait for a reader.
        self.commands.close();

        if let End::Shutdown(grace) = end {
            let report = self.shut_down(grace, &mut state).await;
            *self.shared.report.lock().unwrap_or_else(|e| e.into_inner()) = Some(report);
        }
        // Nothing outlives the group: abort every task and wait for each.
        let running = state.slots.drain(..).filter_map(|slot| match slot.state {
            SlotState::Running { task, .. } => Some(task),
            _ => None,
        });
        let all: Vec<R::Task> = running.chain(state.retiring.drain(..)).collect();
        for task in &all {
            task.abort();
        }
        for task in all {
            let _ = task.await;
        }
        if let End::GaveUp(error) = end {
            *self
                .shared
                .outcome
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(error);
        }
        state.stats.running = 0;
        state.stats.backing_off = 0;
        self.shared.stats.publish(&state.stats);
    }

    /// One poll of the loop: handles whatever is ready.
    fn poll_turn(&mut self, cx: &mut Context<'_>, state: &mut State<R>) -> Poll<End> {
        for _ in 0..TURN_BUDGET {
            state.stats.iterations += 1;
            match Pin::new(&mut self.commands).poll_next(cx) {
                // Dropping the group (or a stop) stops it.
                Poll::Ready(Some(Command::Stop) | None) => return Poll::Ready(End::Stopped),
                Poll::Ready(Some(Command::Shutdown { grace })) => {
                    return Poll::Ready(End::Shutdown(grace))
                }
                Poll::Ready(Some(Command::Resize)) => {
                    self.resize(state);
                    self.shared.stats.publish(&state.stats);
                    continue;
                }
                Poll::Pending => {}
            }
            state
                .retiring
                .retain_mut(|task| Pin::new(task).poll(cx).is_pending());
            let mut progressed = false;
            for index in 0..state.slots.len() {
                match self.poll_slot(cx, index, state) {
                    Ok(changed) => progressed |= changed,
                    Err(gave_up) => return Poll::Ready(End::GaveUp(gave_up)),
                }
            }
            if progressed {
                self.shared.stats.publish(&state.stats);
                // A task may have ended at once, or a zero backoff elapsed:
                // look again before sleeping.
                continue;
            }
            if state
                .slots
                .iter()
                .all(|s| matches!(s.state, SlotState::Ended))
            {
                return Poll::Ready(End::Finished);
            }
            return Poll::Pending;
        }
        // Tasks keep ending as fast as they start (say, on another worker):
        // let the executor run others before the next turn.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Polls one slot; `Ok(true)` if its state changed, `Err` to give up.
    fn poll_slot(
        &mut self,
        cx: &mut Context<'_>,
        index: usize,
        state: &mut State<R>,
    ) -> Result<bool, GroupError> {
        let now = self.runtime.now();
        let slot = &mut state.slots[index];
        let stats = &mut state.stats;
        match &mut slot.state {
            SlotState::Running { task, since } => {
                let Poll::Ready(exit) = Pin::new(task).poll(cx) else {
                    return Ok(false);
                };
                stats.running -= 1;
                match &exit {
                    Exit::Returned => stats.returned += 1,
                    Exit::Panicked(_) => stats.panicked += 1,
                    Exit::Aborted => stats.aborted += 1,
                }
                let (group, generation) = (&*self.name, slot.generation);
                if exit.is_failure() {
                    tracing::warn!(group, task = index, generation, %exit, "task failed");
                } else {
                    tracing::debug!(group, task = index, generation, "task returned");
                }
                if !self.restart.restarts(&exit) {
                    slot.state = SlotState::Ended;
                    return Ok(true);
                }
                if now.saturating_duration_since(*since) >= self.backoff.quiet_period() {
                    slot.consecutive = 0;
                }
                if let Some(intensity) = self.intensity {
                    let window_start = now.checked_sub(intensity.within);
                    while let (Some(&oldest), Some(start)) = (state.restarts.front(), window_start)
                    {
                        if oldest > start {
                            break;
                        }
                        state.restarts.pop_front();
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
                let seed = ((index as u64) << 32) ^ slot.generation;
                let delay = self.backoff.delay(slot.consecutive, seed);
                slot.consecutive = slot.consecutive.saturating_add(1);
                tracing::info!(group, task = index, generation, ?delay, "restarting task");
                if delay.is_zero() {
                    self.start(index, state);
                } else {
                    let sleep = Box::pin(self.runtime.sleep_until(now + delay));
                    slot.state = SlotState::BackingOff(sleep);
                    stats.backing_off += 1;
                }
                Ok(true)
            }
            SlotState::BackingOff(sleep) => {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Ok(false);
                }
                stats.backing_off -= 1;
                self.start(index, state);
                Ok(true)
            }
            SlotState::Ended => Ok(false),
        }
    }

    /// Signals the tasks, waits for them until `grace` has passed, aborts
    /// those still running, and reports how each ended. Pending restarts
    /// are cancelled; tasks that cannot watch the signal are aborted at once.
    async fn shut_down(&mut self, grace: Duration, state: &mut State<R>) -> ShutdownReport {
        let deadline = self.runtime.now() + grace;
        tracing::info!(group = &*self.name, ?grace, "shutting down");
        self.signal.request();
        let mut pending: Vec<(usize, u64, R::Task)> = Vec::new();
        for (index, slot) in state.slots.iter_mut().enumerate() {
            match core::mem::replace(&mut slot.state, SlotState::Ended) {
                SlotState::Running { task, .. } => pending.push((index, slot.generation, task)),
                SlotState::BackingOff(_) | SlotState::Ended => {}
            }
        }
        if !self.graceful {
            pending.iter().for_each(|(_, _, task)| task.abort());
        }
        let stats = &mut state.stats;
        stats.backing_off = 0;
        let mut reports = Vec::with_capacity(pending.len());
        let mut deadline_passed = Box::pin(self.runtime.sleep_until(deadline));
        let mut aborted = !self.graceful;
        core::future::poll_fn(|cx| {
            pending.retain_mut(|(index, generation, task)| match Pin::new(task).poll(cx) {
                Poll::Ready(exit) => {
                    stats.running -= 1;
                    match &exit {
                        Exit::Returned => stats.returned += 1,
                        Exit::Panicked(_) => stats.panicked += 1,
                        Exit::Aborted => stats.aborted += 1,
                    }
                    reports.push(TaskReport {
                        index: *index,
                        generation: *generation,
                        exit,
                    });
                    false
                }
                Poll::Pending => true,
            });
            if pending.is_empty() {
                return Poll::Ready(());
            }
            if !aborted && deadline_passed.as_mut().poll(cx).is_ready() {
                // The deadline: whoever still runs is aborted, and wakes us
                // when it has stopped.
                aborted = true;
                pending.iter().for_each(|(_, _, task)| task.abort());
            }
            Poll::Pending
        })
        .await;
        reports.sort_by_key(|r| r.index);
        ShutdownReport { tasks: reports }
    }

    /// Grows or shrinks the group to its target size. New tasks start at
    /// once; removed ones (the newest) are aborted and left to end.
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
            let Some(slot) = state.slots.pop() else { break };
            match slot.state {
                SlotState::Running { task, .. } => {
                    task.abort();
                    state.stats.running -= 1;
                    state.retiring.push(task);
                }
                SlotState::BackingOff(_) => state.stats.backing_off -= 1,
                SlotState::Ended => {}
            }
        }
        state.stats.tasks = target;
    }

    fn start(&mut self, index: usize, state: &mut State<R>) {
        let slot = &mut state.slots[index];
        if slot.generation > 0 {
            state.stats.restarted += 1;
        }
        slot.generation += 1;
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
        slot.state = SlotState::Running {
            task,
            since: self.runtime.now(),
        };
        tracing::debug!(
            group = &*self.name,
            task = index,
            generation = slot.generation,
            "task started"
        );
    }
}
