//! Panics of the user's code (handlers, codecs) that stage-redis catches.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A panic's message, if it is a string.
pub(crate) fn panic_text(payload: &(dyn Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

/// Drops a panic's payload, whose own `Drop` may panic too.
pub(crate) fn drop_quietly(payload: Box<dyn Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}
