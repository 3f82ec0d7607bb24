//! The task that runs a group's tasks and restarts them by policy.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures_core::Stream;

use super::policy::{Backoff, Restart};
use super::stats::{Stats, StatsCell};
use crate::mailbox::Receiver;
use crate::runtime::{Exit, Runtime, Task};
use crate::sync::Arc;

/// Turns of the loop within one poll before it yields to the executor.
const TURN_BUDGET: usize = 64;

/// What a [`Group`](super::Group) asks of its supervisor.
pub(crate) enum Command {
    /// Abort every task, wait until none runs, and end.
    Stop,
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

pub(crate) struct Supervisor<R: Runtime, F> {
    pub(crate) runtime: R,
    pub(crate) factory: F,
    pub(crate) restart: Restart,
    pub(crate) backoff: Backoff,
    pub(crate) commands: Receiver<Command>,
    pub(crate) stats: Arc<StatsCell>,
    pub(crate) tasks: usize,
}

impl<R, F, Fut> Supervisor<R, F>
where
    R: Runtime,
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    /// Runs until told to stop, until its commands' sender is gone (the group
    /// was dropped), or until every task has ended for good.
    pub(crate) async fn run(mut self) {
        let mut stats = Stats::default();
        let mut slots: Vec<Slot<R>> = (0..self.tasks)
            .map(|_| Slot {
                generation: 0,
                consecutive: 0,
                state: SlotState::Ended,
            })
            .collect();
        for slot in &mut slots {
            self.start(slot, &mut stats);
        }
        self.stats.publish(&stats);

        let stop = core::future::poll_fn(|cx| self.poll_turn(cx, &mut slots, &mut stats)).await;
        if stop {
            for slot in &mut slots {
                if let SlotState::Running { task, .. } = &mut slot.state {
                    task.abort();
                    // Wait until it has stopped: nothing outlives the group.
                    let _ = task.await;
                }
                slot.state = SlotState::Ended;
            }
        }
        stats.running = 0;
        stats.backing_off = 0;
        self.stats.publish(&stats);
    }

    /// One turn of the loop: handles whatever is ready. `Ready(true)` asks
    /// to stop the tasks; `Ready(false)` means every task ended for good.
    fn poll_turn(
        &mut self,
        cx: &mut Context<'_>,
        slots: &mut [Slot<R>],
        stats: &mut Stats,
    ) -> Poll<bool> {
        for _ in 0..TURN_BUDGET {
            stats.iterations += 1;
            match Pin::new(&mut self.commands).poll_next(cx) {
                // Dropping the group (or a stop) stops it.
                Poll::Ready(Some(Command::Stop) | None) => return Poll::Ready(true),
                Poll::Pending => {}
            }
            let mut progressed = false;
            for (index, slot) in slots.iter_mut().enumerate() {
                progressed |= self.poll_slot(cx, index, slot, stats);
            }
            if progressed {
                self.stats.publish(stats);
                // A task may have ended at once, or a zero backoff elapsed:
                // look again before sleeping.
                continue;
            }
            if slots.iter().all(|s| matches!(s.state, SlotState::Ended)) {
                return Poll::Ready(false);
            }
            return Poll::Pending;
        }
        // Tasks keep ending as fast as they start (say, on another worker):
        // let the executor run others before the next turn.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Polls one slot; true if its state changed.
    fn poll_slot(
        &mut self,
        cx: &mut Context<'_>,
        index: usize,
        slot: &mut Slot<R>,
        stats: &mut Stats,
    ) -> bool {
        match &mut slot.state {
            SlotState::Running { task, since } => {
                let Poll::Ready(exit) = Pin::new(task).poll(cx) else {
                    return false;
                };
                stats.running -= 1;
                match &exit {
                    Exit::Returned => stats.returned += 1,
                    Exit::Panicked(_) => stats.panicked += 1,
                    Exit::Aborted => stats.aborted += 1,
                }
                if !self.restart.restarts(&exit) {
                    slot.state = SlotState::Ended;
                    return true;
                }
                let ran = self.runtime.now().saturating_duration_since(*since);
                if ran >= self.backoff.quiet_period() {
                    slot.consecutive = 0;
                }
                let seed = (index as u64) << 32 ^ slot.generation;
                let delay = self.backoff.delay(slot.consecutive, seed);
                slot.consecutive = slot.consecutive.saturating_add(1);
                if delay.is_zero() {
                    self.start(slot, stats);
                } else {
                    let deadline = self.runtime.now() + delay;
                    slot.state =
                        SlotState::BackingOff(Box::pin(self.runtime.sleep_until(deadline)));
                    stats.backing_off += 1;
                }
                true
            }
            SlotState::BackingOff(sleep) => {
                if sleep.as_mut().poll(cx).is_pending() {
                    return false;
                }
                stats.backing_off -= 1;
                self.start(slot, stats);
                true
            }
            SlotState::Ended => false,
        }
    }

    fn start(&mut self, slot: &mut Slot<R>, stats: &mut Stats) {
        if slot.generation > 0 {
            stats.restarted += 1;
        }
        slot.generation += 1;
        stats.started += 1;
        stats.running += 1;
        // A factory that panics must not take the supervisor down: its task
        // panics instead, with the same payload, and follows the policy.
        let task = match std::panic::catch_unwind(AssertUnwindSafe(&mut self.factory)) {
            Ok(future) => self.runtime.spawn(future),
            Err(payload) => self
                .runtime
                .spawn(async move { std::panic::resume_unwind(payload) }),
        };
        slot.state = SlotState::Running {
            task,
            since: self.runtime.now(),
        };
    }
}
