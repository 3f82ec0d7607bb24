//! The bounded lock-free queue under a mailbox, with the flags of the
//! wakeup handshake kept in its two indices.
//!
//! # The ring
//!
//! Dmitry Vyukov's bounded MPMC array queue, as crossbeam's `ArrayQueue`
//! and concurrent-queue's bounded queue are: `capacity` slots, each with a
//! stamp saying which position it is ready for, and two positions, `tail`
//! (the next push) and `head` (the next pop). A push claims a position with
//! a compare-and-swap of `tail`, writes the message, then stores the slot's
//! stamp (Release); a pop claims with `head` and reads once the stamp
//! (Acquire) says the message is there. A position is a lap and an index,
//! so that a stamp tells "empty for this lap" from "full since the last".
//!
//! # The flags
//!
//! What this queue adds: the low bits of `tail` and `head` carry flags, so
//! that the one read-modify-write an operation makes anyway, its claim,
//! also tells it whether the other side waits. `tail` holds [`CLOSED`] and
//! [`WAITING`] (receivers wait for a message); `head` holds [`WAITING`]
//! (senders wait for room). A side that waits registers, sets its flag on
//! the word the other side claims with (a read-modify-write), then tries
//! again: the *re-check*. Two read-modify-writes of one atomic are totally
//! ordered, so either
//!
//! - the claim comes after the flag: it reads the flag and notifies; or
//! - the claim comes before: the flag's read-modify-write reads the
//!   claim's value or a later one, synchronizing with it, and the re-check
//!   finds the claimed position. Its message may not be written yet (the
//!   claimer is between its claim and its stamp): the re-check then waits
//!   a little for the stamp ([`settles`]), or reports
//!   [`Busy`](PopError::Busy), and the waiter tries again rather than
//!   sleeping.
//!
//! No wakeup is lost, and neither side needs a fence: an operation costs
//! one locked instruction, its claim, where a separate count of waiters
//! read after a fence cost two. (Loom checks the handshake; see
//! `loom-tests`.) The flags are set and cleared only under the wait list's
//! lock (see `waiters`), so a set flag means "someone waits unnotified".
//!
//! # Orderings
//!
//! The indices are only ever changed by read-modify-writes, and every
//! access to them is `SeqCst`: a load of an index reads the latest value in
//! their one total order, never an older one. On x86-64 that costs nothing
//! (a `SeqCst` load is a plain load, and a read-modify-write is locked
//! whatever its ordering), and it is what loom then explores: with weaker
//! loads it explored every older value of each, and the model of two
//! senders and a receiver ran for minutes instead of seconds. The stamps,
//! written on every operation, are Release stores read with Acquire: they
//! hand each message from its push to its pop.
//!
//! # Allocated at the first message
//!
//! A lock-free queue allocates its whole ring up front, and most of what a
//! mailbox costs is that ring: an actor that is spawned and stopped without
//! a message, or one of ten thousand idle ones, would pay for `capacity`
//! slots it never uses. So the ring is made by the first push; a mailbox
//! never sent to never has one. Large rings (above [`PROBE_ABOVE`]) are
//! still made up front, where a failure to allocate them is reported to
//! the caller instead of aborting a later send.

use core::mem::MaybeUninit;
use core::ptr;

use crossbeam_utils::CachePadded;

use super::error::CapacityError;
use crate::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use crate::sync::cell::UnsafeCell;

/// In `tail`: the mailbox is closed; no push succeeds any more.
const CLOSED: usize = 1;
/// In `tail`, receivers wait for a message; in `head`, senders wait for
/// room. Set and cleared under the wait list's lock.
pub(crate) const WAITING: usize = 2;
/// The bits of an index that are flags, not position.
const FLAGS: usize = CLOSED | WAITING;
/// One step of a position: positions are multiples of it, below it are
/// the flags.
const STEP: usize = FLAGS + 1;

/// Above this many bytes, a ring is allocated up front, fallibly.
const PROBE_ABOVE: usize = 1 << 20;

/// How often a push or pop reads a stamp again, pausing between reads,
/// before it reports [`Busy`](PopError::Busy) and leaves the wait to its
/// caller.
#[cfg(not(loom))]
const SETTLE_SPINS: u32 = 32;

/// Waits a little for `stamp` to change from `seen`: the other side of a
/// slot claimed it (its compare-and-swap is done) and is a few instructions
/// from storing its stamp. Whether it did.
///
/// Under loom it waits as long as it takes, yielding between reads (loom's
/// scheduler then runs the other side, and a read after a yield does not
/// return a value already seen before it): a spin loom can explore, where
/// a poll of the whole receive again per turn multiplied its state space.
#[cold]
fn settles(stamp: &AtomicUsize, seen: usize) -> bool {
    #[cfg(not(loom))]
    let mut spins = 0..SETTLE_SPINS;
    #[cfg(loom)]
    let mut spins = 0..;
    spins.any(|_| {
        crate::sync::spin_hint();
        stamp.load(Ordering::Acquire) != seen
    })
}

/// One place of the ring.
struct Slot<T> {
    /// The position this slot is ready for: its push's position while
    /// empty, that plus [`STEP`] while it holds that push's message.
    stamp: AtomicUsize,
    message: UnsafeCell<MaybeUninit<T>>,
}

/// A pop that found no message it could take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PopError {
    /// Nothing is queued, and the mailbox is open.
    Empty,
    /// Nothing is queued, and the mailbox is closed.
    Closed,
    /// The next message is being written: a push claimed its position and
    /// has not finished. Try again soon; do not sleep on it (that push may
    /// not have seen a waiter).
    Busy,
}

/// A push that could not queue its message, which it hands back.
#[derive(Debug)]
pub(crate) enum PushError<T> {
    /// Every slot is taken.
    Full(T),
    /// The mailbox is closed.
    Closed(T),
    /// The slot to fill is being emptied: a pop claimed it and has not
    /// finished. Try again soon, as for [`PopError::Busy`].
    Busy(T),
}

/// The ring's storage and its shape: what both sides read on every
/// operation and nobody writes after the first push. The mailbox keeps it
/// on a cache line apart from the two indices (see `Shared`).
pub(crate) struct Ring<T> {
    /// The first of `capacity` slots; null until the first push.
    slots: AtomicPtr<Slot<T>>,
    capacity: usize,
    /// The position step from one lap to the next: a power of two above
    /// `capacity` steps, so that an index never carries into the lap.
    one_lap: usize,
    /// `one_lap - 1`: the bits of a position that say where it is in its
    /// lap (kept, as every operation masks with it).
    lap_mask: usize,
    /// The offset in its lap of a lap's last position, `(capacity - 1) *
    /// STEP`: kept, as the claims ask for it on every operation.
    last_offset: usize,
    /// Loom builds only: taken around each push and pop of a ring made
    /// [`serialized`](Ring::serialized), for models with several receivers.
    #[cfg(loom)]
    serial: Option<crate::sync::Mutex<()>>,
}

/// The two indices: each on a cache line of its own, as each is written by
/// one side on every operation.
pub(crate) struct Ends {
    /// The next push's position, with [`CLOSED`] and [`WAITING`].
    tail: CachePadded<AtomicUsize>,
    /// The next pop's position, with [`WAITING`].
    head: CachePadded<AtomicUsize>,
}

impl Ends {
    pub(crate) fn new() -> Self {
        Self {
            tail: CachePadded::new(AtomicUsize::new(0)),
            head: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// The word whose [`WAITING`] flag says receivers wait.
    pub(crate) fn tail(&self) -> &AtomicUsize {
        &self.tail
    }

    /// The word whose [`WAITING`] flag says senders wait.
    pub(crate) fn head(&self) -> &AtomicUsize {
        &self.head
    }
}

impl<T> Ring<T> {
    /// What a ring of `capacity` messages costs, in bytes.
    fn bytes_for(capacity: usize) -> Option<usize> {
        core::alloc::Layout::array::<Slot<T>>(capacity)
            .ok()
            .map(|layout| layout.size())
    }

    /// A ring holding at most `capacity` messages (`capacity > 0`), or why
    /// it cannot be made: it is larger than an allocation can be, or cannot
    /// be allocated now.
    pub(crate) fn new(capacity: usize) -> Result<Self, CapacityError> {
        let error = |bytes| CapacityError { capacity, bytes };
        // A lap must hold `capacity` positions, a power of two above them,
        // in steps of `STEP`, and leave room for laps above it.
        let one_lap = (capacity.checked_add(1))
            .and_then(usize::checked_next_power_of_two)
            .and_then(|positions| positions.checked_mul(STEP))
            .filter(|&one_lap| one_lap <= 1 << (usize::BITS - 2));
        let (Some(one_lap), Some(bytes)) = (one_lap, Self::bytes_for(capacity)) else {
            return Err(error(Self::bytes_for(capacity)));
        };
        let slots = if bytes > PROBE_ABOVE {
            Self::allocate_fallibly(capacity).ok_or(error(Some(bytes)))?
        } else {
            ptr::null_mut()
        };
        Ok(Self {
            slots: AtomicPtr::new(slots),
            capacity,
            one_lap,
            lap_mask: one_lap - 1,
            last_offset: (capacity - 1) * STEP,
            #[cfg(loom)]
            serial: None,
        })
    }

    /// Loom builds only: the same ring, its pushes and pops one at a time.
    ///
    /// Two receivers that find a push half-way both wait for it, each
    /// yielding to the other (see [`settles`]), and loom's scheduler can
    /// keep choosing them over the pusher: an endless path, which loom
    /// reports as a model too large to explore. Models with several
    /// receivers use a serialized ring instead; its claims, stamps and
    /// flags are the same code, and waiters still set their flags outside
    /// the lock, so the handshake with a push that claimed before the flag
    /// and stores its stamp after is still explored. The lock-free ring is
    /// modelled with one receiver (`loom-tests`).
    #[cfg(loom)]
    pub(crate) fn serialized(mut self) -> Self {
        self.serial = Some(crate::sync::Mutex::new(()));
        self
    }

    /// Takes the lock of a serialized ring, for one push or pop.
    #[cfg(loom)]
    fn serial(&self) -> Option<crate::sync::MutexGuard<'_, ()>> {
        Some(self.serial.as_ref()?.lock().unwrap())
    }

    /// `capacity` empty slots, each ready for its position of the lap that
    /// starts at position `lap`.
    fn fresh_slots(capacity: usize, lap: usize) -> impl Iterator<Item = Slot<T>> {
        (0..capacity).map(move |index| Slot {
            stamp: AtomicUsize::new(lap.wrapping_add(index * STEP)),
            message: UnsafeCell::new(MaybeUninit::uninit()),
        })
    }

    fn allocate(capacity: usize) -> *mut Slot<T> {
        let slots: Box<[Slot<T>]> = Self::fresh_slots(capacity, 0).collect();
        Box::into_raw(slots).cast()
    }

    fn allocate_fallibly(capacity: usize) -> Option<*mut Slot<T>> {
        let mut slots = Vec::new();
        slots.try_reserve_exact(capacity).ok()?;
        slots.extend(Self::fresh_slots(capacity, 0));
        Some(Box::into_raw(slots.into_boxed_slice()).cast())
    }

    /// The slots, once made.
    #[inline]
    fn slots(&self) -> Option<*mut Slot<T>> {
        // Acquire: pairs with the AcqRel of the swap that stored them, so
        // their stamps are seen as made.
        let slots = self.slots.load(Ordering::Acquire);
        (!slots.is_null()).then_some(slots)
    }

    /// The slots, made now if no push made them yet.
    #[cold]
    fn make_slots(&self) -> *mut Slot<T> {
        let new = Self::allocate(self.capacity);
        // AcqRel: Release publishes the slots; Acquire sees those another
        // push installed, if it came first.
        match self
            .slots
            .compare_exchange(ptr::null_mut(), new, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => new,
            Err(current) => {
                // SAFETY: `new` lost the swap, so no one else has seen it;
                // it came from `allocate` with this capacity just above.
                drop(unsafe { Self::boxed(new, self.capacity) });
                current
            }
        }
    }

    /// Rebuilds the box of `allocate`.
    ///
    /// # Safety
    ///
    /// `slots` came from `allocate` or `allocate_fallibly` with `capacity`,
    /// and nothing else uses it any more.
    unsafe fn boxed(slots: *mut Slot<T>, capacity: usize) -> Box<[Slot<T>]> {
        // SAFETY: as the caller promises.
        unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(slots, capacity)) }
    }

    /// The slot at `offset` in a lap (an index word's [`offset`](Self::offset)).
    ///
    /// # Safety
    ///
    /// `slots` came from this ring's [`slots`](Self::slots).
    #[inline]
    unsafe fn slot(&self, slots: *mut Slot<T>, offset: usize) -> &Slot<T> {
        let index = offset / STEP;
        debug_assert!(index < self.capacity);
        // SAFETY: `index` is below `capacity` (a position's index is always
        // reset to 0 at `capacity`: see `next`), and the slots live as long
        // as the ring, which the result borrows.
        unsafe { &*slots.add(index) }
    }

    /// Where the position of an index word is in its lap, its flags added:
    /// read once per try, for both [`slot`](Self::slot) and
    /// [`next`](Self::next).
    #[inline]
    fn offset(&self, word: usize) -> usize {
        word & self.lap_mask
    }

    /// The index word after `word`, whose [`offset`](Self::offset) is
    /// `offset`: the next position, with the same flags.
    #[inline]
    fn next(&self, word: usize, offset: usize) -> usize {
        // The flags are below `STEP` and `last_offset` a multiple of it, so
        // they do not change the comparison, and a step keeps them.
        if offset < self.last_offset {
            word + STEP
        } else {
            self.next_lap(word)
        }
    }

    /// The next lap's first position, with the flags of `word`: once a lap.
    #[cold]
    fn next_lap(&self, word: usize) -> usize {
        (word | self.lap_mask).wrapping_add(1) | (word & FLAGS)
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

impl<T> Drop for Ring<T> {
    /// Frees the slots. Their messages were dropped by the mailbox, which
    /// pops them all first (a message left in a slot would be leaked, never
    /// dropped twice: a slot's message is `MaybeUninit`).
    fn drop(&mut self) {
        if let Some(slots) = self.slots() {
            // SAFETY: the slots came from `allocate` or `allocate_fallibly`
            // with this capacity; `&mut self` means no one else uses them.
            drop(unsafe { Self::boxed(slots, self.capacity) });
        }
    }
}

/// The queue: a view of the two indices and the ring, which the mailbox
/// keeps on cache lines of their own.
pub(crate) struct Queue<'a, T> {
    pub(crate) ends: &'a Ends,
    pub(crate) ring: &'a Ring<T>,
}

// A view of references: copied whatever `T` is (a derive would ask
// `T: Copy`).
impl<T> Clone for Queue<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Queue<'_, T> {}

impl<T> Queue<'_, T> {
    /// Queues `message`; the `Ok` says whether receivers waited (the caller
    /// then notifies them).
    #[inline(always)]
    pub(crate) fn push(self, message: T) -> Result<bool, PushError<T>> {
        #[cfg(loom)]
        let _serial = self.ring.serial();
        let slots = match self.ring.slots() {
            Some(slots) => slots,
            None => match self.first_slots() {
                Some(slots) => slots,
                None => return Err(PushError::Closed(message)),
            },
        };
        let mut tail = self.ends.tail.load(Ordering::SeqCst);
        loop {
            if tail & CLOSED != 0 {
                return Err(PushError::Closed(message));
            }
            let position = tail & !FLAGS;
            let offset = self.ring.offset(tail);
            // SAFETY: `slots` came from the ring.
            let slot = unsafe { self.ring.slot(slots, offset) };
            // Acquire: pairs with the Release of the pop that emptied the
            // slot, whose read of the message is then done.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == position {
                let next = self.ring.next(tail, offset);
                // SeqCst (see the module docs): a waiter's flag, set after
                // this claim, sees the ring as this push saw it (made); the
                // flags are read from the value replaced.
                match self.ends.tail.compare_exchange_weak(
                    tail,
                    next,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                ) {
                    Ok(_) => {
                        // SAFETY: the claim gives this push the slot alone
                        // until its stamp says it is full.
                        slot.message
                            .with_mut(|cell| unsafe { cell.write(MaybeUninit::new(message)) });
                        // Release: the message is written before a pop
                        // sees the stamp.
                        slot.stamp.store(position + STEP, Ordering::Release);
                        return Ok(tail & WAITING != 0);
                    }
                    Err(now) => tail = now,
                }
            } else if stamp.wrapping_add(self.ring.one_lap) == position + STEP {
                // The slot holds the message of one lap ago: the ring is
                // full, or a pop of that message is half-way, or the stamp
                // read is out of date.
                let head = self.ends.head.load(Ordering::SeqCst) & !FLAGS;
                if head.wrapping_add(self.ring.one_lap) == position {
                    return Err(PushError::Full(message));
                }
                let now = self.ends.tail.load(Ordering::SeqCst);
                if now != tail {
                    tail = now;
                } else if !settles(&slot.stamp, stamp) {
                    // The pop of the slot's message is still half-way.
                    return Err(PushError::Busy(message));
                }
            } else {
                // Another push claimed this position since `tail` was read.
                crate::sync::spin_hint();
                tail = self.ends.tail.load(Ordering::SeqCst);
            }
        }
    }

    /// The slots for a push that found none: made now, unless the mailbox
    /// is closed (`None`).
    #[cold]
    fn first_slots(self) -> Option<*mut Slot<T>> {
        (!self.is_closed()).then(|| self.ring.make_slots())
    }

    /// Takes the next message; the `Ok` also says whether senders waited
    /// (the caller then notifies them).
    #[inline(always)]
    pub(crate) fn pop(self) -> Result<(T, bool), PopError> {
        #[cfg(loom)]
        let _serial = self.ring.serial();
        let Some(slots) = self.ring.slots() else {
            return Err(self.nothing_queued());
        };
        let mut head = self.ends.head.load(Ordering::SeqCst);
        loop {
            let position = head & !FLAGS;
            let offset = self.ring.offset(head);
            // SAFETY: `slots` came from the ring.
            let slot = unsafe { self.ring.slot(slots, offset) };
            // Acquire: pairs with the Release of the push that filled it.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == position + STEP {
                let next = self.ring.next(head, offset);
                // SeqCst, as the push's claim.
                match self.ends.head.compare_exchange_weak(
                    head,
                    next,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                ) {
                    Ok(_) => {
                        // SAFETY: the claim gives this pop the slot alone
                        // until its stamp says it is empty; the stamp said
                        // the push that filled it had written it.
                        let message = slot
                            .message
                            .with_mut(|cell| unsafe { cell.read().assume_init() });
                        // Release: the message is read before a push sees
                        // the slot empty.
                        slot.stamp
                            .store(position.wrapping_add(self.ring.one_lap), Ordering::Release);
                        return Ok((message, head & WAITING != 0));
                    }
                    Err(now) => head = now,
                }
            } else if stamp == position {
                // Nothing was written here this lap: empty, unless a push
                // claimed the position and is half-way, or the stamp read
                // is out of date.
                let tail = self.ends.tail.load(Ordering::SeqCst);
                if tail & !FLAGS == position {
                    return Err(Self::end(tail));
                }
                let now = self.ends.head.load(Ordering::SeqCst);
                if now != head {
                    head = now;
                } else if !settles(&slot.stamp, stamp) {
                    // The push of the slot's message is still half-way.
                    return Err(PopError::Busy);
                }
            } else {
                // Another pop took this position since `head` was read.
                crate::sync::spin_hint();
                head = self.ends.head.load(Ordering::SeqCst);
            }
        }
    }

    /// Why a pop of a queue with no ring found nothing.
    #[cold]
    fn nothing_queued(self) -> PopError {
        Self::end(self.ends.tail.load(Ordering::SeqCst))
    }

    fn end(tail: usize) -> PopError {
        if tail & CLOSED != 0 {
            PopError::Closed
        } else {
            PopError::Empty
        }
    }

    /// Closes the queue; returns `true` if this call closed it.
    pub(crate) fn close(self) -> bool {
        // SeqCst (see the module docs): every push claimed before it is
        // ordered before a pop that sees the queue closed.
        self.ends.tail.fetch_or(CLOSED, Ordering::SeqCst) & CLOSED == 0
    }

    pub(crate) fn is_closed(self) -> bool {
        self.ends.tail.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// How many messages are queued (pushes claimed and not yet popped).
    pub(crate) fn len(self) -> usize {
        loop {
            // SeqCst, and a second read of `tail`: a consistent pair.
            let tail = self.ends.tail.load(Ordering::SeqCst) & !FLAGS;
            let head = self.ends.head.load(Ordering::SeqCst) & !FLAGS;
            if self.ends.tail.load(Ordering::SeqCst) & !FLAGS != tail {
                crate::sync::spin_hint();
                continue;
            }
            let index = |word| self.ring.offset(word) / STEP;
            let (head_index, tail_index) = (index(head), index(tail));
            return if head_index < tail_index {
                tail_index - head_index
            } else if head_index > tail_index {
                self.ring.capacity - head_index + tail_index
            } else if tail == head {
                0
            } else {
                self.ring.capacity
            };
        }
    }

    /// Whether its ring was made.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_made(self) -> bool {
        self.ring.slots().is_some()
    }
}

// SAFETY: a ring hands its messages from the thread that pushes to the one
// that pops (so `T: Send`), and never lets two threads at one message (the
// claims and stamps above); it holds no reference to `T` that could be
// shared otherwise.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as for `Send`: `&Ring` only moves messages between threads.
unsafe impl<T: Send> Sync for Ring<T> {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A ring and its ends, both starting at position `lap` (a lap's
    /// first position) rather than 0.
    fn starting_at(capacity: usize, lap: usize) -> (Ends, Ring<u64>) {
        let ring = Ring::new(capacity).unwrap();
        assert_eq!(lap % ring.one_lap, 0, "a lap's first position");
        let slots: Box<[Slot<u64>]> = Ring::fresh_slots(capacity, lap).collect();
        ring.slots
            .store(Box::into_raw(slots).cast(), Ordering::SeqCst);
        let ends = Ends::new();
        ends.tail.store(lap, Ordering::SeqCst);
        ends.head.store(lap, Ordering::SeqCst);
        (ends, ring)
    }

    #[test]
    fn positions_wrap_around_the_end_of_the_word() {
        for capacity in [1, 2, 3, 4, 7] {
            let one_lap = Ring::<u64>::new(capacity).unwrap().one_lap;
            // Two laps before the positions wrap to 0.
            let (ends, ring) = starting_at(capacity, 0usize.wrapping_sub(2 * one_lap));
            let queue = Queue {
                ends: &ends,
                ring: &ring,
            };
            let mut next = 0;
            let mut expected = 0;
            for _ in 0..5 {
                // Fill, check it is full, drain: across the wrap.
                for _ in 0..capacity {
                    assert!(matches!(queue.push(next), Ok(false)));
                    next += 1;
                }
                assert_eq!(queue.len(), capacity);
                assert!(matches!(queue.push(99), Err(PushError::Full(99))));
                for _ in 0..capacity {
                    assert_eq!(queue.pop().unwrap(), (expected, false));
                    expected += 1;
                }
                assert_eq!(queue.len(), 0);
                assert_eq!(queue.pop().unwrap_err(), PopError::Empty);
            }
            assert!(ends.tail.load(Ordering::SeqCst) < one_lap * 4, "it wrapped");
        }
    }

    #[test]
    fn the_flags_ride_along_and_are_reported_by_the_claims() {
        let (ends, ring) = starting_at(2, 0);
        let queue = Queue {
            ends: &ends,
            ring: &ring,
        };
        ends.tail.fetch_or(WAITING, Ordering::SeqCst);
        assert!(matches!(queue.push(1), Ok(true)), "receivers wait");
        assert!(matches!(queue.push(2), Ok(true)), "the flag stays set");
        ends.tail.fetch_and(!WAITING, Ordering::SeqCst);
        ends.head.fetch_or(WAITING, Ordering::SeqCst);
        assert_eq!(queue.pop().unwrap(), (1, true), "senders wait");
        ends.head.fetch_and(!WAITING, Ordering::SeqCst);
        assert_eq!(queue.pop().unwrap(), (2, false));
        assert!(queue.close());
        assert!(!queue.close(), "closed once");
        assert_eq!(queue.pop().unwrap_err(), PopError::Closed);
        assert!(matches!(queue.push(3), Err(PushError::Closed(3))));
    }

    #[test]
    fn the_flags_survive_every_step_and_every_new_lap() {
        for capacity in [1, 2, 3, 5] {
            let (ends, ring) = starting_at(capacity, 0);
            let queue = Queue {
                ends: &ends,
                ring: &ring,
            };
            ends.tail.fetch_or(WAITING, Ordering::SeqCst);
            ends.head.fetch_or(WAITING, Ordering::SeqCst);
            let flagged = |end: &AtomicUsize| end.load(Ordering::SeqCst) & WAITING != 0;
            let mut next = 0;
            for _ in 0..3 {
                // A lap of pushes, then a lap of pops: each side crosses
                // into its next lap once per round.
                for _ in 0..capacity {
                    assert!(matches!(queue.push(next), Ok(true)));
                    assert!(
                        flagged(&ends.tail),
                        "capacity {capacity}: a push kept the flag"
                    );
                    next += 1;
                }
                for expected in next - capacity as u64..next {
                    assert_eq!(queue.pop().unwrap(), (expected, true));
                    assert!(
                        flagged(&ends.head),
                        "capacity {capacity}: a pop kept the flag"
                    );
                }
            }
            assert_eq!(ends.tail.load(Ordering::SeqCst) & !FLAGS, 3 * ring.one_lap);
            assert_eq!(queue.len(), 0);
        }
    }

    #[test]
    fn a_capacity_whose_laps_do_not_fit_the_word_is_refused() {
        assert!(Ring::<()>::new(usize::MAX).is_err());
        assert!(Ring::<()>::new(1 << (usize::BITS - 3)).is_err());
        assert!(Ring::<()>::new(1 << 20).is_ok());
    }
}
