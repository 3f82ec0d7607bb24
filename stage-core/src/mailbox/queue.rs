//! The bounded queue under a mailbox.
//!
//! Normal builds use [`concurrent_queue::ConcurrentQueue`] directly: a
//! lock-free bounded MPMC queue. Loom builds can also use a mutex-protected
//! `VecDeque` instead, because the real queue's `pop` spins on a slot another
//! thread is writing, and loom cannot model two poppers racing a pusher on it
//! (the spin exceeds loom's branch limit). The wakeup protocol of the mailbox
//! is the same over both, so the multi-receiver models use the substitute and
//! the single-receiver models the real queue.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;

use concurrent_queue::{ConcurrentQueue, PopError, PushError};

use super::error::CapacityError;
use crate::sync::atomic::AtomicUsize;

/// The layout of one slot of the lock-free queue: its stamp and a message.
/// `concurrent-queue` allocates `capacity` of them up front.
struct Slot<T> {
    _stamp: AtomicUsize,
    _message: UnsafeCell<MaybeUninit<T>>,
}

/// Below this many bytes, the queue's buffer is allocated without first
/// making sure it can be.
const PROBE_ABOVE: usize = 1 << 20;

/// A bounded MPMC FIFO queue that can be closed.
pub(crate) struct Queue<T> {
    #[cfg(not(loom))]
    inner: ConcurrentQueue<T>,
    #[cfg(loom)]
    inner: loom_backend::Backend<T>,
}

impl<T> Queue<T> {
    /// What a lock-free queue of `capacity` items costs up front, in bytes.
    pub(crate) fn bytes_for(capacity: usize) -> Option<usize> {
        Layout::array::<Slot<T>>(capacity).ok().map(|l| l.size())
    }

    /// A lock-free queue holding at most `capacity` items (`capacity > 0`),
    /// or why it cannot be made: its buffer is larger than an allocation can
    /// be, or cannot be allocated now. (The queue itself would panic or
    /// abort the process; a mailbox reports it instead.)
    pub(crate) fn lock_free(capacity: usize) -> Result<Self, CapacityError> {
        let error = |bytes| CapacityError { capacity, bytes };
        // The queue's stamps keep a lap count above twice the capacity's
        // next power of two; the capacity must leave room for it.
        let bytes = Self::bytes_for(capacity)
            .filter(|_| capacity < 1 << (usize::BITS - 2))
            .ok_or(error(None))?;
        if bytes > PROBE_ABOVE {
            // The queue allocates infallibly: make sure it can, first. The
            // probe is freed at once; only its address space was reserved.
            let mut probe: Vec<Slot<T>> = Vec::new();
            probe
                .try_reserve_exact(capacity)
                .map_err(|_| error(Some(bytes)))?;
        }
        let queue = ConcurrentQueue::bounded(capacity);
        #[cfg(not(loom))]
        return Ok(Self { inner: queue });
        #[cfg(loom)]
        return Ok(Self {
            inner: loom_backend::Backend::LockFree(queue),
        });
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
