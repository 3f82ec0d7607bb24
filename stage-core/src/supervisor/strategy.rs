//! Which children a failure restarts, and how a child is stopped: value
//! types with pure decisions, tested without a runtime.

use core::ops::Range;
use std::time::Duration;

/// Which children restart when one of them fails (OTP's strategies).
///
/// Children are started in the order they were given; the affected ones
/// are stopped in reverse order, and each has fully stopped before any of
/// them starts again, in order.
///
/// # Examples
///
/// ```
/// use stage::supervisor::Strategy;
///
/// let strategy = Strategy::RestForOne;
/// # let _ = strategy;
/// assert_eq!(Strategy::default(), Strategy::OneForOne);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Only the child that failed restarts (the default).
    #[default]
    OneForOne,
    /// Every child restarts when one fails: for children that only work
    /// together (two groups linked by a mailbox, say).
    OneForAll,
    /// The child that failed, and every child started after it: for
    /// children that depend on those before them.
    RestForOne,
}

impl Strategy {
    /// The positions of the children that a failure of child `failed`
    /// restarts, among `count` children.
    pub(crate) fn affected(self, failed: usize, count: usize) -> Range<usize> {
        match self {
            Self::OneForOne => failed..failed + 1,
            Self::OneForAll => 0..count,
            Self::RestForOne => failed..count,
        }
    }
}

/// When a supervisor shuts down on its own (OTP's `auto_shutdown`): by
/// default never — it keeps running with no children running, ready for
/// [`start_child`](super::SupervisorHandle::start_child) — or once its
/// [significant](super::Child::significant) children have ended.
///
/// A supervisor that shuts down on its own ends normally: its
/// [`join`](super::Supervisor::join) returns `Ok`, and as a child it has
/// returned (restarted only if its restart type says so).
///
/// # Examples
///
/// ```
/// use stage::supervisor::AutoShutdown;
///
/// assert_eq!(AutoShutdown::default(), AutoShutdown::Never);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AutoShutdown {
    /// It runs until stopped (the default).
    #[default]
    Never,
    /// It shuts down when any significant child has ended and was not
    /// restarted.
    AnySignificant,
    /// It shuts down when every significant child has ended and was not
    /// restarted.
    AllSignificant,
}

/// How a child is stopped: when the supervisor shuts down, or when a
/// strategy restarts it (OTP's `shutdown` of a child spec).
///
/// Every stop happens within the supervisor's one overall deadline: a
/// child's own grace is cut short if the overall deadline comes first.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stage::supervisor::StopMode;
///
/// assert_eq!(StopMode::default(), StopMode::Graceful(Duration::from_secs(5)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    /// Abort at once (OTP's `brutal_kill`).
    Abort,
    /// Raise the child's stop signal, and abort it if it has not ended
    /// after this long (OTP's timeout; 5 s by default).
    Graceful(Duration),
    /// Raise the stop signal and wait as long as the overall deadline
    /// allows (OTP's `infinity`; the default of children that are
    /// supervisors, whose own children are stopped by their stop modes).
    Wait,
}

impl Default for StopMode {
    fn default() -> Self {
        Self::Graceful(Duration::from_secs(5))
    }
}

impl StopMode {
    /// The grace a stop of this mode gives, before the overall deadline.
    pub(crate) fn grace(self) -> Duration {
        match self {
            Self::Abort => Duration::ZERO,
            Self::Graceful(grace) => grace,
            Self::Wait => Duration::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_strategy_affects_its_children() {
        assert_eq!(Strategy::OneForOne.affected(2, 5), 2..3);
        assert_eq!(Strategy::OneForAll.affected(2, 5), 0..5);
        assert_eq!(Strategy::RestForOne.affected(2, 5), 2..5);
        assert_eq!(Strategy::RestForOne.affected(4, 5), 4..5);
    }

    #[test]
    fn stop_modes_give_their_grace() {
        assert_eq!(StopMode::Abort.grace(), Duration::ZERO);
        assert_eq!(StopMode::Wait.grace(), Duration::MAX);
        assert_eq!(
            StopMode::Graceful(Duration::from_secs(2)).grace(),
            Duration::from_secs(2)
        );
    }
}
