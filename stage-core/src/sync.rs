//! The one place that chooses between `std` and `loom` primitives.
//!
//! Loom builds (`RUSTFLAGS="--cfg loom"`) model every atomic and fence below,
//! together with the loom-instrumented `concurrent-queue` and
//! `event-listener` that the mailbox is built on.

#[cfg(loom)]
pub(crate) use loom::sync::{atomic, Arc, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::{atomic, Arc, Mutex, MutexGuard};

/// `UnsafeCell` with loom's interface: under loom every access is checked
/// against the others for data races.
pub(crate) mod cell {
    #[cfg(loom)]
    pub(crate) use loom::cell::UnsafeCell;

    /// `core::cell::UnsafeCell`, reached as loom's is.
    #[cfg(not(loom))]
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }

        /// Calls `f` with a pointer to the value; the caller of `f`'s
        /// dereference upholds the aliasing rules.
        #[inline]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}
