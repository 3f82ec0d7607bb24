//! The places of a group's tasks, across their restarts.
//!
//! # Invariants
//!
//! - A slot's generation counts its starts and never goes back, not even
//!   when a downscale removes the slot and an upscale brings it back: a
//!   `(index, generation)` pair names one incarnation, once.
//! - A slot starts its next incarnation only after the previous one has
//!   ended: a slot removed while its task still runs is `Stopping` until the
//!   task's exit arrives, and an upscale meanwhile only marks it wanted. So
//!   at most one task per slot is alive, every exit is for its slot's
//!   current generation, and the group never runs more tasks than its
//!   target.
//! - The gauges (`running`, `backing_off`, `stopping`, `ended`) are kept by
//!   [`Slots::set`], the one place a slot changes state.

use std::collections::VecDeque;
use std::time::Instant;

use super::task::Incarnation;
use crate::runtime::{drop_exit, Exit};
use crate::sync::Arc;

/// What a slot is doing.
pub(crate) enum SlotState<H> {
    /// Not part of the group (at or beyond its target), and nothing runs.
    Vacant,
    /// To be started: waiting in the queue of starts (a turn starts only so
    /// many).
    Due,
    /// Its task runs since `since`; `abort` stops it.
    Running {
        since: Instant,
        abort: H,
        /// Who it is, and whether it has reported progress.
        incarnation: Arc<Incarnation>,
    },
    /// Its restart waits for a timer; `None` is a deadline that never comes
    /// (a backoff too long for the clock).
    BackingOff { until: Option<Instant> },
    /// Removed by a downscale: its task was aborted and has not ended yet.
    /// If `wanted`, an upscale brought the slot back, and its next
    /// incarnation starts once this one has ended.
    Stopping { wanted: bool },
    /// Ended, and not restarted (its policy said so).
    Ended,
}

/// One slot: its state, and what its past incarnations left.
pub(crate) struct Slot<H> {
    /// Starts so far: 1 for the first incarnation.
    pub(crate) generation: u64,
    /// How the latest incarnation that ended did (for the shutdown report
    /// of a task that is not running then).
    pub(crate) last_exit: Option<Exit>,
    /// Restarts in a row without a quiet period between them.
    pub(crate) consecutive: u32,
    /// Whether it ended because its group was draining (its work was done).
    pub(crate) drained: bool,
    pub(crate) state: SlotState<H>,
}

impl<H> Drop for Slot<H> {
    fn drop(&mut self) {
        // A user's panic payload: its `Drop` must not panic the supervisor.
        if let Some(exit) = self.last_exit.take() {
            drop_exit(exit);
        }
    }
}

/// Every slot the group has had, with its gauges and its queue of starts.
pub(crate) struct Slots<H> {
    /// Never shrinks (see the invariants): at most as long as the largest
    /// target the group has had and started.
    slots: Vec<Slot<H>>,
    /// Slots to start, oldest first; an entry whose slot is no longer `Due`
    /// is stale and skipped.
    due: VecDeque<usize>,
    pub(crate) running: usize,
    pub(crate) backing_off: usize,
    pub(crate) stopping: usize,
    pub(crate) ended: usize,
}

impl<H> Slots<H> {
    pub(crate) fn new() -> Self {
        Self {
            slots: Vec::new(),
            due: VecDeque::new(),
            running: 0,
            backing_off: 0,
            stopping: 0,
            ended: 0,
        }
    }

    /// Slots ever made.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn get(&self, index: usize) -> Option<&Slot<H>> {
        self.slots.get(index)
    }

    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut Slot<H>> {
        self.slots.get_mut(index)
    }

    /// Makes the next slot, `Vacant`; returns its index.
    pub(crate) fn push(&mut self) -> usize {
        self.slots.push(Slot {
            generation: 0,
            last_exit: None,
            consecutive: 0,
            drained: false,
            state: SlotState::Vacant,
        });
        self.slots.len() - 1
    }

    /// Moves slot `index` to `state`, keeping the gauges and the queue of
    /// starts; returns the state it left.
    pub(crate) fn set(&mut self, index: usize, state: SlotState<H>) -> SlotState<H> {
        self.gauge(&state, 1);
        if matches!(state, SlotState::Due) {
            self.due.push_back(index);
        }
        let old = core::mem::replace(&mut self.slots[index].state, state);
        self.gauge(&old, -1);
        old
    }

    fn gauge(&mut self, state: &SlotState<H>, by: isize) {
        let gauge = match state {
            SlotState::Running { .. } => &mut self.running,
            SlotState::BackingOff { .. } => &mut self.backing_off,
            SlotState::Stopping { .. } => &mut self.stopping,
            SlotState::Ended => &mut self.ended,
            SlotState::Vacant | SlotState::Due => return,
        };
        *gauge = gauge.wrapping_add_signed(by);
    }

    /// Keeps how slot `index`'s latest incarnation ended.
    pub(crate) fn keep_exit(&mut self, index: usize, exit: Exit) {
        if let Some(older) = self.slots[index].last_exit.replace(exit) {
            drop_exit(older);
        }
    }

    /// The next slot to start, if one is due.
    pub(crate) fn next_due(&mut self) -> Option<usize> {
        while let Some(index) = self.due.pop_front() {
            if matches!(self.slots[index].state, SlotState::Due) {
                return Some(index);
            }
        }
        // Nothing due: give back what a burst of starts took.
        if self.due.capacity() > 64 {
            self.due.shrink_to_fit();
        }
        None
    }
}
