//! The answer to a request a handle makes of its supervisor's task: a slot
//! the task fills once, and a signal raised when it is filled, or when the
//! task drops the request unanswered (it ended), so no caller waits on a
//! supervisor that is gone.

use std::sync::Mutex;

use crate::group::StopSignal;
use crate::sync::Arc;

struct Slot<T> {
    value: Mutex<Option<T>>,
    done: StopSignal,
}

/// The task's side: answers once, or, dropped, answers nothing.
pub(crate) struct Reply<T>(Arc<Slot<T>>);

/// The caller's side.
pub(crate) struct Answer<T>(Arc<Slot<T>>);

pub(crate) fn reply<T>() -> (Reply<T>, Answer<T>) {
    let slot = Arc::new(Slot {
        value: Mutex::new(None),
        done: StopSignal::default(),
    });
    (Reply(Arc::clone(&slot)), Answer(slot))
}

impl<T> Reply<T> {
    pub(crate) fn send(self, value: T) {
        *self.0.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        // Dropping `self` raises `done`, after the value is in.
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        self.0.done.request();
    }
}

impl<T> Answer<T> {
    /// The answer, or `None` if the request was dropped unanswered.
    pub(crate) async fn get(self) -> Option<T> {
        self.0.done.requested().await;
        self.0
            .value
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}
