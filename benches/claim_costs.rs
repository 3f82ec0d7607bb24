//! What one claim of a queue index costs on this machine, in the shapes
//! the mailbox and its peers use, with no queue around them: why the
//! mailbox's current_thread figures follow its locked operations, not its
//! instruction count (issue 13's closing notes).
//!
//! Each loop moves `N` "messages" in turns of 1,024: a claim of the tail per
//! push, then a claim of the head per pop, on two indices a cache line
//! apart, from one thread. Wall time; run it on an idle machine, twice.
//!
//! - `load+cas`: read the index, then compare-and-swap it (the mailbox's
//!   claim, crossbeam's `ArrayQueue`'s);
//! - `cas`: compare-and-swap with the expected value already known (no
//!   read of the line before it is locked);
//! - `fetch_add`: an unconditional claim;
//! - `lock+deque`: a spin lock whose compare-and-swap expects a constant,
//!   a `VecDeque`, and an unlocking store (kanal's shape).
//!
//! Usage: `cargo run --release -p stage-benches --example claim_costs [N]`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

const TURN: usize = 1024;

/// An atomic on a cache line (pair) of its own.
#[repr(align(128))]
struct Line<A>(A);

/// Runs `N` messages in turns of [`TURN`]: `push` that often, then `pop`
/// that often; prints the time per message.
fn per_message(name: &str, n: usize, mut push: impl FnMut(), mut pop: impl FnMut()) {
    let turns = n / TURN;
    let start = Instant::now();
    for _ in 0..turns {
        (0..TURN).for_each(|_| push());
        (0..TURN).for_each(|_| pop());
    }
    let ns = start.elapsed().as_nanos() as f64 / (turns * TURN) as f64;
    println!("{name:12} {ns:6.2} ns per message (both sides)");
}

/// A claim of `index` that reads it first, as the mailbox's does.
fn load_then_cas(index: &AtomicUsize) {
    let word = index.load(Ordering::SeqCst);
    let _ = black_box(index.compare_exchange(word, word + 1, Ordering::SeqCst, Ordering::SeqCst));
}

/// A claim of `index` from `*word`, the value it is known to hold.
fn cas_from(index: &AtomicUsize, word: &mut usize) {
    let _ = black_box(index.compare_exchange(*word, *word + 1, Ordering::SeqCst, Ordering::SeqCst));
    *word += 1;
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .map_or(20_000_000, |n| n.parse().expect("N: a number of messages"));
    let (tail, head) = (Line(AtomicUsize::new(0)), Line(AtomicUsize::new(0)));
    per_message(
        "load+cas",
        n,
        || load_then_cas(&tail.0),
        || load_then_cas(&head.0),
    );
    let (mut t, mut h) = (tail.0.load(Ordering::SeqCst), head.0.load(Ordering::SeqCst));
    per_message(
        "cas",
        n,
        || cas_from(&tail.0, &mut t),
        || cas_from(&head.0, &mut h),
    );
    per_message(
        "fetch_add",
        n,
        || _ = black_box(tail.0.fetch_add(1, Ordering::SeqCst)),
        || _ = black_box(head.0.fetch_add(1, Ordering::SeqCst)),
    );
    let lock = Line(AtomicBool::new(false));
    let deque = RefCell::new(VecDeque::with_capacity(TURN));
    per_message(
        "lock+deque",
        n,
        || locked(&lock.0, || deque.borrow_mut().push_back(1)),
        || locked(&lock.0, || _ = black_box(deque.borrow_mut().pop_front())),
    );
}

/// Runs `f` under a spin lock whose claim compares against a constant.
fn locked(lock: &AtomicBool, f: impl FnOnce()) {
    while lock
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {}
    f();
    lock.store(false, Ordering::Release);
}
