//! Loom models of stage's lock-free parts; the models live in `tests/`.
//!
//! Run them with
//! `RUSTFLAGS="--cfg loom" cargo test -p loom-tests --release`
//! (CI uses its own target directory so the loom build does not evict the
//! normal one). Outside loom builds this crate is empty.

#![warn(missing_docs)]

/// Runs `f` under loom with at most `preemptions` preemptions per execution,
/// unless `LOOM_MAX_PREEMPTIONS` is set, which then wins.
///
/// Each model picks its own bound: iterations grow about five-fold per extra
/// preemption, and a bound below 2 has been seen to miss a lost wakeup.
///
/// # Examples
///
/// ```ignore
/// loom_tests::model(2, || { /* threads, atomics ... */ });
/// ```
#[cfg(loom)]
pub fn model(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    builder.check(f);
}
