//! The bounded queue under a mailbox.
//!
//! Normal builds use [`concurrent_queue::ConcurrentQueue`] directly: a
//! lock-free bounded MPMC queue. Loom builds can also use a mutex-protected
//! `VecDeque` instead, because the real queue's `pop` spins on a slot another
//! thread is writing, and loom cannot model two poppers racing a pusher on it
//! (the spin exceeds loom's branch limit). The wakeup protocol of the mailbox
//! is the same over both, so the multi-receiver models use the substitute and
//! the single-receiver models the real queue.

use concurrent_queue::{ConcurrentQueue, PopError, PushError};

/// A bounded MPMC FIFO queue that can be closed.
pub(crate) struct Queue<T> {
    #[cfg(not(loom))]
    inner: ConcurrentQueue<T>,
    #[cfg(loom)]
    inner: loom_backend::Backend<T>,
}

impl<T> Queue<T> {
    /// A lock-free queue holding at most `capacity` items (`capacity > 0`).
    pub(crate) fn lock_free(capacity: usize) -> Self {
        let queue = ConcurrentQueue::bounded(capacity);
        #[cfg(not(loom))]
        return Self { inner: queue };
        #[cfg(loom)]
        return Self {
            inner: loom_backend::Backend::LockFree(queue),
        };
    }

    #[inline]
    pub(crate) fn push(&self, item: T) -> Result<(), PushError<T>> {
        self.inner.push(item)
    }

    #[inline]
    pub(crate) fn pop(&self) -> Result<T, PopError> {
        self.inner.pop()
    }

    /// Closes the queue; returns `true` if this call closed it.
    pub(crate) fn close(&self) -> bool {
        self.inner.close()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }

    pub(crate) fn capacity(&self) -> usize {
        // Every mailbox queue is bounded, so `None` (unbounded) never occurs.
        #[cfg(not(loom))]
        return self.inner.capacity().unwrap_or(usize::MAX);
        #[cfg(loom)]
        return self.inner.capacity();
    }
}

#[cfg(loom)]
pub(crate) mod loom_backend {
    use super::{ConcurrentQueue, PopError, PushError};
    use loom::sync::Mutex;
    use std::collections::VecDeque;

    pub(crate) enum Backend<T> {
        LockFree(ConcurrentQueue<T>),
        Locked(Mutex<Locked<T>>, usize),
    }

    pub(crate) struct Locked<T> {
        items: VecDeque<T>,
        closed: bool,
    }

    impl<T> super::Queue<T> {
        /// A mutex-protected queue that loom can explore with several
        /// poppers; see the module documentation.
        pub(crate) fn locked(capacity: usize) -> Self {
            let locked = Locked {
                items: VecDeque::with_capacity(capacity),
                closed: false,
            };
            Self {
                inner: Backend::Locked(Mutex::new(locked), capacity),
            }
        }
    }

    impl<T> Backend<T> {
        pub(crate) fn push(&self, item: T) -> Result<(), PushError<T>> {
            match self {
                Self::LockFree(q) => q.push(item),
                Self::Locked(m, cap) => {
                    let mut q = m.lock().unwrap();
                    if q.closed {
                        Err(PushError::Closed(item))
                    } else if q.items.len() == *cap {
                        Err(PushError::Full(item))
                    } else {
                        q.items.push_back(item);
                        Ok(())
                    }
                }
            }
        }

        pub(crate) fn pop(&self) -> Result<T, PopError> {
            match self {
                Self::LockFree(q) => q.pop(),
                Self::Locked(m, _) => {
                    let mut q = m.lock().unwrap();
                    match q.items.pop_front() {
                        Some(item) => Ok(item),
                        None if q.closed => Err(PopError::Closed),
                        None => Err(PopError::Empty),
                    }
                }
            }
        }

        pub(crate) fn close(&self) -> bool {
            match self {
                Self::LockFree(q) => q.close(),
                Self::Locked(m, _) => !std::mem::replace(&mut m.lock().unwrap().closed, true),
            }
        }

        pub(crate) fn is_closed(&self) -> bool {
            match self {
                Self::LockFree(q) => q.is_closed(),
                Self::Locked(m, _) => m.lock().unwrap().closed,
            }
        }

        pub(crate) fn len(&self) -> usize {
            match self {
                Self::LockFree(q) => q.len(),
                Self::Locked(m, _) => m.lock().unwrap().items.len(),
            }
        }

        pub(crate) fn capacity(&self) -> usize {
            match self {
                Self::LockFree(q) => q.capacity().unwrap_or(usize::MAX),
                Self::Locked(_, cap) => *cap,
            }
        }
    }
}
