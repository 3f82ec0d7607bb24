//! The one place that chooses between `std` and `loom` primitives.
//!
//! Loom builds (`RUSTFLAGS="--cfg loom"`) model every atomic and fence below,
//! together with the loom-instrumented `concurrent-queue` and
//! `event-listener` that the mailbox is built on.

#[cfg(loom)]
pub(crate) use loom::sync::{atomic, Arc, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::{atomic, Arc, Mutex, MutexGuard};
