//! How a group can end badly.

use core::fmt;
use std::time::Duration;

/// Why a group stopped on its own.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stage::group::GroupError;
///
/// let err = GroupError::GaveUp {
///     group: "ingest".into(),
///     restarts: 3,
///     within: Duration::from_secs(5),
///     last_exit: "panicked: database is down".into(),
/// };
/// assert_eq!(
///     err.to_string(),
///     "group ingest gave up: more than 3 restarts within 5s (last exit: panicked: database is down)"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupError {
    /// Its tasks needed more restarts within a window than its intensity
    /// allows: the group stopped every task instead of restarting forever.
    GaveUp {
        /// The group's [name](super::Builder::name).
        group: String,
        /// The most restarts the window allows.
        restarts: u32,
        /// The window.
        within: Duration,
        /// How the task whose restart was refused had ended.
        last_exit: String,
    },
    /// The group's supervisor was aborted before it could stop the group's
    /// tasks — its runtime shut down, say. Every task of the group was
    /// aborted with it (a tokio runtime that shut down ended them anyway).
    SupervisorAborted {
        /// The group's [name](super::Builder::name).
        group: String,
    },
    /// The group's supervisor panicked: a bug in stage, which never panics
    /// on its tasks' account. Every task of the group was aborted with it.
    SupervisorPanicked {
        /// The group's [name](super::Builder::name).
        group: String,
        /// The panic's message, if it was a string.
        message: Option<String>,
    },
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::GaveUp {
                group,
                restarts,
                within,
                last_exit,
            } => write!(
                f,
                "group {group} gave up: more than {restarts} restarts within {within:?} \
                 (last exit: {last_exit})"
            ),
            Self::SupervisorAborted { group } => write!(
                f,
                "group {group}: its supervisor was aborted, and its tasks with it"
            ),
            Self::SupervisorPanicked {
                group,
                message: Some(message),
            } => write!(
                f,
                "group {group}: its supervisor panicked ({message}), and its tasks were aborted"
            ),
            Self::SupervisorPanicked {
                group,
                message: None,
            } => write!(
                f,
                "group {group}: its supervisor panicked, and its tasks were aborted"
            ),
        }
    }
}

impl std::error::Error for GroupError {}

/// Why a group could not be scaled up.
///
/// # Examples
///
/// ```
/// use stage::group::ScaleError;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let group = stage::group().max_tasks(4).spawn(std::future::pending::<()>);
/// assert_eq!(group.upscale(3), Ok(4));
/// assert_eq!(
///     group.upscale(1),
///     Err(ScaleError::TooManyTasks { requested: 5, max: 4 })
/// );
/// group.stop().await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScaleError {
    /// The group would run more tasks than its
    /// [`max_tasks`](super::Builder::max_tasks); nothing changed.
    TooManyTasks {
        /// The size asked for (saturated at `usize::MAX`).
        requested: usize,
        /// The most tasks the group may run.
        max: usize,
    },
    /// The group has ended: nothing runs that could be scaled.
    Ended,
}

impl fmt::Display for ScaleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyTasks { requested, max } => write!(
                f,
                "a group of {requested} tasks exceeds its limit of {max} (see `Builder::max_tasks`)"
            ),
            Self::Ended => f.write_str("the group has ended"),
        }
    }
}

impl std::error::Error for ScaleError {}

/// The group has ended, and its statistics are final: returned by
/// [`GroupHandle::changed`](super::GroupHandle::changed) once no newer ones can come.
///
/// # Examples
///
/// ```
/// use stage::group::{Ended, Restart};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut group = stage::group().restart(Restart::Never).spawn(|| async {});
/// // Follow the group until it ends on its own.
/// while group.changed().await.is_ok() {
///     let _ = group.stat_borrow_and_update();
/// }
/// assert_eq!(group.stat_borrow().returned, 1);
/// assert_eq!(group.changed().await, Err(Ended));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended;

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the group has ended; its statistics are final")
    }
}

impl std::error::Error for Ended {}
