//! Tasks a supervisor owns: nothing it drops keeps running, and nothing a
//! task leaves behind can take the supervisor down.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{Exit, Task};

/// A [`Task`] that is aborted when dropped, unless it has ended or was
/// handed over with [`into_inner`](OwnedTask::into_inner).
///
/// A supervisor keeps every task it runs in one of these, so that however
/// the supervisor ends — stopped, its future dropped by a runtime shutting
/// down, or a panic of its own — no task is left running detached.
pub(crate) struct OwnedTask<T: Task> {
    /// `None` once handed over.
    task: Option<T>,
    /// Whether the task's exit was seen: aborting it then is needless.
    ended: bool,
}

impl<T: Task> OwnedTask<T> {
    pub(crate) fn new(task: T) -> Self {
        Self {
            task: Some(task),
            ended: false,
        }
    }

    /// Aborts the task (it stops at its next await point).
    pub(crate) fn abort(&self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }

    /// Hands the task over: the caller is in charge of it now.
    pub(crate) fn into_inner(mut self) -> T {
        self.task.take().expect("an owned task is handed over once")
    }
}

impl<T: Task> Future for OwnedTask<T> {
    type Output = Exit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Exit> {
        let task = self.task.as_mut().expect("polled after it was handed over");
        let exit = core::task::ready!(Pin::new(task).poll(cx));
        self.ended = true;
        Poll::Ready(exit)
    }
}

impl<T: Task> Drop for OwnedTask<T> {
    fn drop(&mut self) {
        if !self.ended {
            self.abort();
        }
    }
}

/// Drops how a task ended without letting its panic payload's `Drop` panic
/// into the caller (see [`drop_quietly`]).
pub(crate) fn drop_exit(exit: Exit) {
    if let Exit::Panicked(payload) = exit {
        drop_quietly(payload);
    }
}

/// Drops a value of user code without letting its `Drop` panic into the
/// caller; returns whether it panicked. The payload of that panic is leaked
/// rather than dropped (it could panic again).
pub(crate) fn drop_quietly<T>(value: T) -> bool {
    match catch_unwind(AssertUnwindSafe(move || drop(value))) {
        Ok(()) => false,
        Err(payload) => {
            core::mem::forget(payload);
            true
        }
    }
}

/// A value of user code (a group's factory, say) that a supervisor owns:
/// when it is dropped, a panic of its `Drop` is contained and logged, never
/// a failure of the supervisor.
pub(crate) struct Contained<T> {
    /// `None` only while being dropped.
    value: Option<T>,
    /// What the value is, for the log.
    what: &'static str,
}

impl<T> Contained<T> {
    pub(crate) fn new(value: T, what: &'static str) -> Self {
        Self {
            value: Some(value),
            what,
        }
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.as_mut().expect("taken only when dropped")
    }
}

impl<T> Drop for Contained<T> {
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            if drop_quietly(value) {
                tracing::error!(
                    what = self.what,
                    "a value's Drop panicked; the panic was contained"
                );
            }
        }
    }
}
