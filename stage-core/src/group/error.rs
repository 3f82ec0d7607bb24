//! How a group can end badly.

use core::fmt;
use std::time::Duration;

/// Why a group stopped on its own.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stage_core::group::GroupError;
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
    /// tasks — its runtime shut down, say. Whether the tasks still run is the
    /// runtime's matter then (a tokio runtime that shut down ended them).
    SupervisorAborted {
        /// The group's [name](super::Builder::name).
        group: String,
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
                "group {group}: its supervisor was aborted before it stopped the tasks"
            ),
        }
    }
}

impl std::error::Error for GroupError {}
