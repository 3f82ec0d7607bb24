//! What a group's handle asks of its supervisor: a size, and an ending.
//!
//! Shared state rather than a queue of commands, so that asking never waits:
//! not for room, and not for a supervisor that is gone (its runtime was
//! dropped, say). The handle writes, then wakes the supervisor; the
//! supervisor registers its waker, then reads (`AtomicWaker`'s protocol), so
//! a request made after the supervisor looked wakes it for another look.

use std::sync::Mutex;
use std::time::Duration;

use futures_util::task::AtomicWaker;

use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How the handle asks the group to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// Abort every task, wait until none runs, and end.
    Stop,
    /// Signal the tasks, give them until `grace` has passed, abort the rest,
    /// report, and end.
    Shutdown { grace: Duration },
    /// Stop supervising: hand the running tasks back, and end.
    Release,
}

pub(crate) struct Control {
    /// How many tasks the group should run.
    target: AtomicUsize,
    /// The most tasks it may run.
    max: usize,
    /// The ending asked for and not yet taken by the supervisor.
    request: Mutex<Option<Request>>,
    /// Whether `request` holds one: the supervisor's look without the lock.
    requested: AtomicBool,
    /// Whether the group drains: a task that returns is not restarted (its
    /// work is done), one that fails still is.
    draining: AtomicBool,
    supervisor: AtomicWaker,
}

impl Control {
    pub(crate) fn new(target: usize, max: usize) -> Self {
        Self {
            target: AtomicUsize::new(target),
            max,
            request: Mutex::new(None),
            requested: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            supervisor: AtomicWaker::new(),
        }
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    // ===== the handle's side =====

    /// Sets the target to `to(target)` if that is `Some`, and wakes the
    /// supervisor; returns the new target, or the unchanged one in `Err`.
    pub(crate) fn resize(&self, to: impl Fn(usize) -> Option<usize>) -> Result<usize, usize> {
        // AcqRel: the supervisor's Acquire load sees the newest target.
        let old = self
            .target
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, &to)?;
        self.supervisor.wake();
        Ok(to(old).expect("`to` accepted this target a moment ago"))
    }

    /// Asks for an ending and wakes the supervisor. A stop overrides any
    /// other pending request (dropping a handle mid-shutdown must stop the
    /// group now), and of two shutdowns the shorter grace stands; otherwise
    /// the first request stands.
    pub(crate) fn request(&self, request: Request) {
        {
            let mut pending = self.request.lock().unwrap_or_else(|e| e.into_inner());
            let replaces = match (*pending, request) {
                (None, _) | (_, Request::Stop) => true,
                // The shorter grace of two shutdowns.
                (Some(Request::Shutdown { grace: was }), Request::Shutdown { grace }) => {
                    grace < was
                }
                _ => false,
            };
            if replaces {
                *pending = Some(request);
            }
        }
        // Release: the supervisor that sees the flag sees the request (the
        // lock orders it anyway; the flag is the lock-free look).
        self.requested.store(true, Ordering::Release);
        self.supervisor.wake();
    }

    /// Starts draining (see the field) and wakes the supervisor.
    /// Wakes the supervisor to look at something else it shares (a
    /// supervision tree's commands).
    pub(crate) fn wake(&self) {
        self.supervisor.wake();
    }

    pub(crate) fn drain(&self) {
        // Release: pairs with the Acquire in `is_draining`.
        self.draining.store(true, Ordering::Release);
        self.supervisor.wake();
    }

    // ===== the supervisor's side =====

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Registers the supervisor's waker: a resize or request made after
    /// this wakes it.
    pub(crate) fn register(&self, waker: &core::task::Waker) {
        self.supervisor.register(waker);
    }

    pub(crate) fn target(&self) -> usize {
        // Acquire: pairs with the AcqRel update in `resize`.
        self.target.load(Ordering::Acquire)
    }

    /// Takes the pending request, if any.
    pub(crate) fn take_request(&self) -> Option<Request> {
        // Acquire: pairs with the Release store in `request`.
        if !self.requested.load(Ordering::Acquire) {
            return None;
        }
        let mut pending = self.request.lock().unwrap_or_else(|e| e.into_inner());
        self.requested.store(false, Ordering::Relaxed);
        pending.take()
    }
}
