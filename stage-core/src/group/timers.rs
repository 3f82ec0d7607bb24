//! The deadlines of pending restarts, behind one sleep.
//!
//! A set ordered by deadline, and a single sleep of the runtime until the
//! earliest: a restart that is cancelled (its slot was removed, or the group
//! stops) leaves the set at once, and costs no timer of its own.

use core::task::{Context, Poll};
use std::collections::BTreeSet;
use std::time::Instant;

use super::deadline::Deadline;
use crate::runtime::Runtime;

pub(crate) struct Timers<R: Runtime> {
    /// `(deadline, slot)`: a slot has at most one pending restart.
    deadlines: BTreeSet<(Instant, usize)>,
    /// The earliest deadline's wait, made anew when it changes.
    sleep: Option<Deadline<R>>,
}

impl<R: Runtime> Timers<R> {
    pub(crate) fn new() -> Self {
        Self {
            deadlines: BTreeSet::new(),
            sleep: None,
        }
    }

    pub(crate) fn insert(&mut self, deadline: Instant, slot: usize) {
        self.deadlines.insert((deadline, slot));
    }

    pub(crate) fn remove(&mut self, deadline: Instant, slot: usize) {
        self.deadlines.remove(&(deadline, slot));
        if self.deadlines.is_empty() {
            self.sleep = None;
        }
    }

    /// Cancels every pending restart.
    pub(crate) fn clear(&mut self) {
        self.deadlines.clear();
        self.sleep = None;
    }

    /// Calls `due` with every slot whose deadline has come, and returns
    /// `Ready` if there was one; otherwise waits (with `cx`) for the
    /// earliest deadline.
    pub(crate) fn poll_due(
        &mut self,
        runtime: &R,
        cx: &mut Context<'_>,
        mut due: impl FnMut(usize),
    ) -> Poll<()> {
        let Some(&(earliest, _)) = self.deadlines.first() else {
            return Poll::Pending;
        };
        let deadline = match &mut self.sleep {
            Some(deadline) if deadline.at() == earliest => deadline,
            slot => slot.insert(Deadline::new(earliest)),
        };
        if deadline.poll(runtime, cx).is_pending() {
            return Poll::Pending;
        }
        // Every deadline up to the clock has come.
        let now = runtime.now();
        while let Some(&(deadline, slot)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            due(slot);
        }
        self.sleep = None;
        Poll::Ready(())
    }
}
