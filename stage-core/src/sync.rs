//! The one place that chooses between `std` and `loom` primitives.
//!
//! Loom builds (`RUSTFLAGS="--cfg loom"`) model every atomic, lock and
//! thread below, together with the loom-instrumented `event-listener` that
//! signals and group counters are built on.

#[cfg(loom)]
pub(crate) use loom::sync::{atomic, Arc, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::{atomic, Arc, Mutex, MutexGuard};

/// Threads, for blocking waits.
pub(crate) mod thread {
    #[cfg(loom)]
    pub(crate) use loom::thread::{current, park, Thread};
    #[cfg(not(loom))]
    pub(crate) use std::thread::{current, park, Thread};
}

/// Said once per turn of a loop that waits for another thread to finish a
/// step: the CPU's spin-loop hint, or under loom a yield, which lets loom's
/// scheduler run that other thread (a spin loom cannot see would exceed its
/// branch limit).
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

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
