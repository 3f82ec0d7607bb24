//! The bounded queue under a mailbox.
//!
//! Normal builds use [`concurrent_queue::ConcurrentQueue`] directly: a
//! lock-free bounded MPMC queue. Loom builds can also use a mutex-protected
//! `VecDeque` instead, because the real queue's `pop` spins on a slot another
//! thread is writing, and loom cannot model two poppers racing a pusher on it
//! (the spin exceeds loom's branch limit). The wakeup protocol of the mailbox
//! is the same over both, so the multi-receiver models use the substitute and
//! the single-receiver models the real queue. (Normal builds wrap the real
//! queue in [`Lazy`].)
//!
//! # Allocated at the first message
//!
//! A lock-free queue allocates its whole buffer up front, and most of what a
//! mailbox costs is that buffer: an actor that is spawned and stopped without
//! a message, or one of ten thousand idle ones, would pay for `capacity`
//! slots it never uses. So the real queue is made by the first push (see
//! [`Lazy`]); a mailbox closed before any push never has one. Large buffers
//! (above [`PROBE_ABOVE`]) are still made up front, where a failure to
//! allocate them is reported to the caller instead of aborting a later send.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ptr;

use concurrent_queue::{ConcurrentQueue, PopError, PushError};

use super::error::CapacityError;
use crate::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

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
    inner: Lazy<T>,
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
        let queue = if bytes > PROBE_ABOVE {
            Lazy::made(capacity)
        } else {
            Lazy::new(capacity)
        };
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
        self.inner.capacity()
    }
}

/// Stands for the queue of a mailbox closed before its first push: it never
/// gets one. Never dereferenced; any address that no allocation can have
/// would do (this one is aligned, and `Box` never returns it).
fn closed_marker<T>() -> *mut ConcurrentQueue<T> {
    ptr::NonNull::dangling().as_ptr()
}

/// A bounded lock-free queue made at its first push (see the module docs).
///
/// `queue` goes from null to either a queue (first push) or the closed
/// marker (a close before any push), once, by compare-and-swap: whichever
/// comes first wins, and the other adopts its result. A push that loses to
/// a close finds the mailbox closed; a close that loses to a push closes
/// the queue the push made. Once set, `queue` never changes until the drop.
pub(crate) struct Lazy<T> {
    queue: AtomicPtr<ConcurrentQueue<T>>,
    capacity: usize,
}

impl<T> Lazy<T> {
    /// Makes its queue at the first push.
    fn new(capacity: usize) -> Self {
        Self {
            queue: AtomicPtr::new(ptr::null_mut()),
            capacity,
        }
    }

    /// Makes its queue now.
    fn made(capacity: usize) -> Self {
        let queue = Box::into_raw(Box::new(ConcurrentQueue::bounded(capacity)));
        Self {
            queue: AtomicPtr::new(queue),
            capacity,
        }
    }

    /// The queue, once made (`None` before the first push, and for a
    /// mailbox closed before it).
    #[inline]
    fn get(&self) -> Option<&ConcurrentQueue<T>> {
        // Acquire: pairs with the AcqRel of the swap that stored it, so the
        // queue it points at is seen whole.
        let queue = self.queue.load(Ordering::Acquire);
        if queue.is_null() || queue == closed_marker() {
            return None;
        }
        // SAFETY: a pointer other than null and the marker came from
        // `Box::into_raw` in `made` or `push_first`, and is freed only by
        // `drop`, which has `&mut self`: it is valid for as long as `&self`.
        Some(unsafe { &*queue })
    }

    /// Whether the mailbox was closed before its first push.
    fn closed_unmade(&self) -> bool {
        self.queue.load(Ordering::Acquire) == closed_marker()
    }

    /// Sets `queue` from null to `new` unless it was set already; the error
    /// is what it is set to. A `new` that lost is the caller's to free.
    fn install(&self, new: *mut ConcurrentQueue<T>) -> Result<(), *mut ConcurrentQueue<T>> {
        // AcqRel: Release publishes the queue to those that load it;
        // Acquire sees the one another thread installed, if it won.
        self.queue
            .compare_exchange(ptr::null_mut(), new, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
    }

    #[inline]
    fn push(&self, item: T) -> Result<(), PushError<T>> {
        match self.get() {
            Some(queue) => queue.push(item),
            None => self.push_first(item),
        }
    }

    /// A push that finds no queue: makes it, unless a close came first.
    #[cold]
    fn push_first(&self, item: T) -> Result<(), PushError<T>> {
        if self.closed_unmade() {
            return Err(PushError::Closed(item));
        }
        let new = Box::into_raw(Box::new(ConcurrentQueue::bounded(self.capacity)));
        if let Err(current) = self.install(new) {
            // SAFETY: `new` lost the swap, so no one else has seen it; it
            // came from `Box::into_raw` just above.
            drop(unsafe { Box::from_raw(new) });
            if current == closed_marker() {
                return Err(PushError::Closed(item));
            }
        }
        match self.get() {
            Some(queue) => queue.push(item),
            // Unreachable: the queue was installed above or by another push.
            None => Err(PushError::Closed(item)),
        }
    }

    #[inline]
    fn pop(&self) -> Result<T, PopError> {
        match self.get() {
            Some(queue) => queue.pop(),
            None if self.closed_unmade() => Err(PopError::Closed),
            // No push happened yet.
            None => Err(PopError::Empty),
        }
    }

    fn close(&self) -> bool {
        if let Some(queue) = self.get() {
            return queue.close();
        }
        match self.install(closed_marker()) {
            Ok(()) => true,
            Err(current) if current == closed_marker() => false,
            // A push made the queue meanwhile: close that.
            Err(_) => self.get().is_some_and(ConcurrentQueue::close),
        }
    }

    fn is_closed(&self) -> bool {
        match self.get() {
            Some(queue) => queue.is_closed(),
            None => self.closed_unmade(),
        }
    }

    fn len(&self) -> usize {
        self.get().map_or(0, ConcurrentQueue::len)
    }

    fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(all(test, not(loom)))]
impl<T> Queue<T> {
    /// Whether its buffer was allocated.
    pub(crate) fn is_made(&self) -> bool {
        self.inner.get().is_some()
    }
}

impl<T> Drop for Lazy<T> {
    fn drop(&mut self) {
        let queue = self.queue.load(Ordering::Acquire);
        if !queue.is_null() && queue != closed_marker() {
            // SAFETY: as in `get`; `&mut self` means no one else uses it.
            drop(unsafe { Box::from_raw(queue) });
        }
    }
}

#[cfg(loom)]
pub(crate) mod loom_backend {
    use super::{Lazy, PopError, PushError};
    use loom::sync::Mutex;
    use std::collections::VecDeque;

    pub(crate) enum Backend<T> {
        LockFree(Lazy<T>),
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
                Self::LockFree(q) => q.capacity(),
                Self::Locked(_, cap) => *cap,
            }
        }
    }
}
