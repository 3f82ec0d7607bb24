//! When and how soon a group restarts a task that ended, and when it stops
//! restarting altogether: value types with pure decisions, tested without a
//! runtime; the supervisor loop only wires them together.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::runtime::Exit;

/// Which task exits a group restarts (Erlang's permanent / transient /
/// temporary children).
///
/// # Examples
///
/// ```
/// use stage::group::Restart;
/// use stage::runtime::Exit;
///
/// assert!(Restart::Always.restarts(&Exit::Returned));
/// assert!(!Restart::OnFailure.restarts(&Exit::Returned));
/// assert!(Restart::OnFailure.restarts(&Exit::Panicked(Box::new("boom"))));
/// assert!(!Restart::Never.restarts(&Exit::Aborted));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Restart {
    /// Restart the task however it ended (the default: a group keeps its
    /// tasks running until it is stopped).
    #[default]
    Always,
    /// Restart the task only if it panicked or was aborted; a task that
    /// returned has done its work.
    OnFailure,
    /// Never restart the task.
    Never,
}

impl Restart {
    /// Whether a task that ended with `exit` is restarted under this policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use stage::{group::Restart, runtime::Exit};
    /// assert!(Restart::Always.restarts(&Exit::Returned));
    /// ```
    pub fn restarts(self, exit: &Exit) -> bool {
        match self {
            Self::Always => true,
            Self::OnFailure => exit.is_failure(),
            Self::Never => false,
        }
    }
}

/// How long a group waits before restarting a task that keeps failing.
///
/// The first restart after a task ran well is immediate (the first few,
/// with [`free_restarts`](Backoff::free_restarts)); each further
/// consecutive restart waits twice as long as the one before, from `first`
/// up to `max`. A task ran well if it did useful work before it ended: it
/// said so with [`made_progress`](super::made_progress) (a pool's workers
/// do, after each message they handle), or it ran for at least
/// `reset_after`. With jitter (the default), each wait is drawn between
/// half and all of that delay, so that many tasks failing together do not
/// restart in lockstep.
///
/// The default (three immediate restarts, then 10 ms doubling up to 1 s;
/// reset after 10 s or on progress) tells the two kinds of failing task
/// apart. A worker that crashes on one message in ten restarts at once: it
/// handled the others before. A task that panics at once on every start
/// backs off to one restart every 0.5 to 1 s within its first 11 restarts,
/// so it cannot spin a core. A delay of 10,000 years
/// or more (`Duration::MAX`, say) never ends: that restart waits until the
/// group is stopped.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stage::group::Backoff;
///
/// let backoff = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1))
///     .without_jitter();
/// let delays: Vec<_> = (0..6).map(|n| backoff.delay(n, 0)).collect();
/// assert_eq!(delays, [0, 100, 200, 400, 800, 1000].map(Duration::from_millis));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    reset_after: Duration,
    jitter: bool,
    /// Restarts of a series that are immediate.
    free: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::exponential(Duration::from_millis(10), Duration::from_secs(1)).free_restarts(3)
    }
}

impl Backoff {
    /// Waits of `first`, then twice as long each time, up to `max`; reset
    /// after 10 s of good running; jittered.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = stage::group::Backoff::exponential(Duration::from_millis(5), Duration::from_secs(2));
    /// assert!(b.delay(3, 0) <= Duration::from_millis(20));
    /// ```
    pub fn exponential(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max: max.max(first),
            reset_after: Duration::from_secs(10),
            jitter: true,
            free: 1,
        }
    }

    /// Restart at once, every time (for tasks whose failures are rare and
    /// cheap, and for measuring the cost of a restart).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = stage::group::Backoff::none();
    /// assert_eq!(b.delay(100, 0), Duration::ZERO);
    /// ```
    pub fn none() -> Self {
        Self {
            first: Duration::ZERO,
            max: Duration::ZERO,
            reset_after: Duration::ZERO,
            jitter: false,
            free: u32::MAX,
        }
    }

    /// How many restarts of a series are immediate before the waits begin
    /// (1 unless set; 3 in the default). A worker that crashed after useful
    /// work may crash again on the first job its new incarnation takes; a
    /// few immediate restarts keep such coincidences from stalling it,
    /// while a task that crashes on every start still backs off after them.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = stage::group::Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1))
    ///     .without_jitter()
    ///     .free_restarts(2);
    /// let delays: Vec<_> = (0..4).map(|n| b.delay(n, 0)).collect();
    /// assert_eq!(delays, [0, 0, 10, 20].map(Duration::from_millis));
    /// ```
    pub fn free_restarts(mut self, restarts: u32) -> Self {
        self.free = restarts;
        self
    }

    /// How long a task must run before a failure counts as the first of a
    /// new series (the delays start over).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = stage::group::Backoff::default().reset_after(Duration::from_secs(60));
    /// assert_eq!(b.quiet_period(), Duration::from_secs(60));
    /// ```
    pub fn reset_after(mut self, quiet: Duration) -> Self {
        self.reset_after = quiet;
        self
    }

    /// The same delays, without jitter (exact, for tests and reasoning).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = stage::group::Backoff::default().without_jitter();
    /// assert_eq!(b.delay(3, 7), Duration::from_millis(10)); // after three immediate ones
    /// ```
    pub fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// How long a task must run for the delays to start over.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(stage::group::Backoff::default().quiet_period(), Duration::from_secs(10));
    /// ```
    pub fn quiet_period(&self) -> Duration {
        self.reset_after
    }

    /// The wait before the restart that follows `consecutive` earlier
    /// restarts in a row; `seed` varies the jitter (a group passes the task's
    /// index and generation, so delays are reproducible).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = stage::group::Backoff::default();
    /// assert_eq!(b.delay(2, 1), Duration::ZERO); // the first three restarts are immediate
    /// let d = b.delay(4, 1);
    /// assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(20));
    /// ```
    pub fn delay(&self, consecutive: u32, seed: u64) -> Duration {
        if consecutive < self.free {
            return Duration::ZERO;
        }
        let doublings = (consecutive - self.free).min(31);
        let full = self
            .first
            .checked_mul(1u32 << doublings)
            .map_or(self.max, |d| d.min(self.max));
        if !self.jitter || full.is_zero() {
            return full;
        }
        // Between half and all of `full`, drawn from the seed.
        // Computed in f64 and converted back without `mul_f64`, which panics
        // when rounding carries a delay near `Duration::MAX` past it.
        let fraction = fastrand::Rng::with_seed(seed ^ u64::from(consecutive)).f64();
        Duration::try_from_secs_f64(full.as_secs_f64() * (0.5 + 0.5 * fraction))
            .map_or(full, |jittered| jittered.min(full))
    }
}

/// Restart intensity, as Erlang's supervisors have it: at most `restarts`
/// restarts within any period of `within`. The restart that would be one
/// too many is refused, and the group gives up.
///
/// Keeps the times of the restarts still inside the window: at most
/// `restarts` of them.
#[derive(Clone, Debug)]
pub(crate) struct Intensity {
    restarts: u32,
    within: Duration,
    /// Times of the admitted restarts still inside the window, oldest first.
    recent: VecDeque<Instant>,
}

impl Intensity {
    pub(crate) fn new(restarts: u32, within: Duration) -> Self {
        Self {
            restarts,
            within,
            recent: VecDeque::new(),
        }
    }

    /// The most restarts the window allows.
    pub(crate) fn restarts(&self) -> u32 {
        self.restarts
    }

    /// The window.
    pub(crate) fn within(&self) -> Duration {
        self.within
    }

    /// Restarts inside the window ending at `now`.
    pub(crate) fn in_window(&self, now: Instant) -> u32 {
        let inside = match now.checked_sub(self.within) {
            Some(window_start) => self.recent.iter().filter(|&&t| t > window_start).count(),
            None => self.recent.len(),
        };
        u32::try_from(inside).unwrap_or(u32::MAX)
    }

    /// Records a restart at `now`, if the window ending at `now` has room
    /// for one more; `false` (and nothing recorded) if it would exceed it.
    pub(crate) fn admit(&mut self, now: Instant) -> bool {
        // Restarts at or before `now - within` have left the window. A
        // window reaching back before the clock's start holds them all.
        if let Some(window_start) = now.checked_sub(self.within) {
            while self.recent.front().is_some_and(|&t| t <= window_start) {
                self.recent.pop_front();
            }
        }
        if self.recent.len() >= self.restarts as usize {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}
