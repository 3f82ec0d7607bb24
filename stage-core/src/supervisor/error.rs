//! How children end, and how a supervisor can fail.

use core::fmt;
use std::time::Duration;

use crate::group::GroupError;
use crate::runtime::Exit;

/// How a child of a supervisor ended.
///
/// # Examples
///
/// ```
/// use stage::supervisor::ChildExit;
///
/// let exit = ChildExit::Panicked(Some("disk full".into()));
/// assert!(exit.is_failure());
/// assert_eq!(exit.to_string(), "panicked: disk full");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildExit {
    /// It returned: a worker's future completed, a group ended on its own,
    /// a supervisor's children all ended for good.
    Returned,
    /// A worker panicked, with its message if it was a string.
    Panicked(Option<String>),
    /// It was aborted: by its supervisor at a deadline, or by someone else.
    Aborted,
    /// A group gave up (or a linked group's task failed).
    GaveUp(GroupError),
    /// A supervisor failed: its restart intensity was exceeded.
    Failed(Box<SupervisorError>),
    /// It was killed on request
    /// ([`kill_child`](super::SupervisorHandle::kill_child)).
    Killed,
    /// It was not ready within its
    /// [start timeout](super::Child::start_timeout), and was aborted.
    StartTimedOut(Duration),
}

impl ChildExit {
    /// Whether the child failed (anything but returning).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!stage::supervisor::ChildExit::Returned.is_failure());
    /// ```
    pub fn is_failure(&self) -> bool {
        !matches!(self, Self::Returned)
    }

    /// This exit without the restart histories of the child supervisors in
    /// it, as a history keeps it (each level's error has its own).
    pub(crate) fn without_histories(&self) -> Self {
        match self {
            Self::Failed(error) => Self::Failed(Box::new(error.without_histories())),
            other => other.clone(),
        }
    }

    pub(crate) fn from_exit(exit: &Exit) -> Self {
        match exit {
            Exit::Returned => Self::Returned,
            Exit::Panicked(_) => Self::Panicked(exit.panic_message().map(str::to_owned)),
            Exit::Aborted => Self::Aborted,
        }
    }
}

impl fmt::Display for ChildExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Returned => f.write_str("returned"),
            Self::Panicked(Some(message)) => write!(f, "panicked: {message}"),
            Self::Panicked(None) => f.write_str("panicked"),
            Self::Aborted => f.write_str("aborted"),
            Self::Killed => f.write_str("killed"),
            Self::GaveUp(error) => write!(f, "{error}"),
            Self::Failed(error) => write!(f, "{error}"),
            Self::StartTimedOut(after) => write!(f, "not ready within {after:?}"),
        }
    }
}

/// A restart a supervisor made, as kept in its intensity window.
///
/// # Examples
///
/// ```
/// # fn f(error: stage::supervisor::SupervisorError) {
/// if let stage::supervisor::SupervisorError::GaveUp { history, .. } = &error {
///     for restart in history {
///         println!("{} (generation {}) {}", restart.child, restart.generation, restart.exit);
///     }
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Restarted {
    /// The path of the child that failed (`app/pipeline/writer`).
    pub child: String,
    /// The incarnation that failed.
    pub generation: u64,
    /// How it failed.
    pub exit: ChildExit,
}

/// Why a supervisor stopped on its own.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stage::supervisor::{Child, SupervisorError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tree = stage::supervisor()
///     .name("app")
///     .intensity(1, Duration::from_secs(60))
///     .backoff(stage::group::Backoff::none())
///     .child(Child::worker("writer", |_stop| async { panic!("disk full") }))
///     .spawn();
/// let error = tree.join().await.unwrap_err();
/// let SupervisorError::GaveUp { supervisor, child, exit, .. } = &error else { panic!() };
/// assert_eq!((supervisor.as_str(), child.as_str()), ("app", "app/writer"));
/// assert_eq!(exit.to_string(), "panicked: disk full");
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SupervisorError {
    /// Its children needed more restarts within a window than its intensity
    /// allows: it stopped every child, in reverse order, and failed.
    GaveUp {
        /// The supervisor's path (`app/pipeline`).
        supervisor: String,
        /// The path of the child whose failure was one too many.
        child: String,
        /// How that child ended: a failure, or the return of a
        /// [`Restart::Always`](crate::group::Restart::Always) child, which
        /// needs a restart too (for a child supervisor, its own error).
        exit: ChildExit,
        /// The most restarts the window allows.
        restarts: u32,
        /// The window.
        within: Duration,
        /// The restarts in the window, oldest first: the last
        /// [`HISTORY`](super::HISTORY) of them at most. A child supervisor
        /// that failed is kept here without its own history (its error, in
        /// `exit`, has it when it is the last).
        history: Vec<Restarted>,
    },
    /// A child it was given cannot be its child (see
    /// [`Child::significant`](super::Child::significant)), or two have the
    /// same name: it started no child.
    InvalidChild {
        /// The supervisor's path.
        supervisor: String,
        /// The child's name.
        child: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Its task was aborted (its runtime shut down); its children with it.
    /// Also when it finds a running child's task aborted, which only its
    /// runtime does (a shutdown seen first through a child).
    SupervisorAborted {
        /// The supervisor's path.
        supervisor: String,
    },
    /// Its task panicked: a bug in stage. Its children were stopped.
    SupervisorPanicked {
        /// The supervisor's path.
        supervisor: String,
        /// The panic's message, if it was a string.
        message: Option<String>,
    },
}

impl SupervisorError {
    fn without_histories(&self) -> Self {
        match self {
            Self::GaveUp {
                supervisor,
                child,
                exit,
                restarts,
                within,
                ..
            } => Self::GaveUp {
                supervisor: supervisor.clone(),
                child: child.clone(),
                exit: exit.without_histories(),
                restarts: *restarts,
                within: *within,
                history: Vec::new(),
            },
            other => other.clone(),
        }
    }

    /// The child at the bottom of the failure: following child supervisors
    /// that failed, the path of the worker or group whose failures started
    /// it, and how it failed last.
    ///
    /// # Examples
    ///
    /// See [`SupervisorError`].
    ///
    /// ```
    /// # fn f(error: &stage::supervisor::SupervisorError) {
    /// if let Some((path, exit)) = error.root_cause() {
    ///     eprintln!("{path} failed: {exit}");
    /// }
    /// # }
    /// ```
    pub fn root_cause(&self) -> Option<(&str, &ChildExit)> {
        match self {
            Self::GaveUp {
                exit: ChildExit::Failed(inner),
                ..
            } => inner.root_cause(),
            Self::GaveUp { child, exit, .. } => Some((child, exit)),
            _ => None,
        }
    }
}

impl fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::GaveUp {
                supervisor,
                child,
                exit,
                restarts,
                within,
                ..
            } => {
                write!(
                    f,
                    "supervisor {supervisor} gave up: more than {restarts} restarts within \
                     {within:?}, the last for {child}"
                )?;
                // What a child supervisor or group said is this error's
                // source, not part of its message.
                match exit {
                    ChildExit::Failed(_) | ChildExit::GaveUp(_) => f.write_str(", which gave up"),
                    exit => write!(f, " ({exit})"),
                }
            }
            Self::InvalidChild {
                supervisor,
                child,
                reason,
            } => write!(
                f,
                "supervisor {supervisor} cannot start child {child}: {reason}"
            ),
            Self::SupervisorAborted { supervisor } => {
                write!(
                    f,
                    "supervisor {supervisor} was aborted, and its children with it"
                )
            }
            Self::SupervisorPanicked {
                supervisor,
                message,
            } => write!(
                f,
                "supervisor {supervisor} panicked ({}), and its children were stopped",
                message.as_deref().unwrap_or("a non-string payload")
            ),
        }
    }
}

impl std::error::Error for SupervisorError {
    /// For a supervisor that gave up on a child supervisor or a group that
    /// gave up itself: that one's error.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::GaveUp {
                exit: ChildExit::Failed(inner),
                ..
            } => Some(&**inner),
            Self::GaveUp {
                exit: ChildExit::GaveUp(inner),
                ..
            } => Some(inner),
            _ => None,
        }
    }
}

/// How every child of a tree ended in a shutdown: one entry per child that
/// ran (a tree stopped before it started a child has none to report), in
/// start order, by path; a child supervisor's children follow it, and a
/// group's tasks follow the group (`app/workers/0`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use stage::supervisor::Child;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tree = stage::supervisor()
///     .name("app")
///     .child(Child::worker("flusher", |stop| async move { stop.requested().await }))
///     .spawn();
/// tree.ready().await.unwrap();
/// let report = tree.shutdown(Duration::from_secs(5)).await.unwrap();
/// for child in &report.children {
///     println!("{} (generation {}): {}", child.path, child.generation, child.exit);
/// }
/// assert_eq!(report.children[0].path, "app/flusher");
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Every child, in start order; those of child supervisors and groups
    /// after them.
    pub children: Vec<ChildReport>,
}

impl ShutdownReport {
    /// The children that were aborted: at the deadline, or asked to stop
    /// at once.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(report: stage::supervisor::ShutdownReport) {
    /// for child in report.aborted() {
    ///     eprintln!("{} was cut short", child.path);
    /// }
    /// # }
    /// ```
    pub fn aborted(&self) -> impl Iterator<Item = &ChildReport> {
        self.children
            .iter()
            .filter(|child| child.exit == ChildExit::Aborted)
    }
}

/// One line per child: `app/db (generation 2): returned`.
impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, child) in self.children.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{child}")?;
        }
        Ok(())
    }
}

/// How one child ended in a shutdown.
///
/// # Examples
///
/// See [`ShutdownReport`].
///
/// ```
/// # fn f(child: &stage::supervisor::ChildReport) {
/// println!("{} #{}: {}", child.path, child.generation, child.exit);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildReport {
    /// Its path (`app/pipeline/writer`).
    pub path: String,
    /// Its incarnation: 1 for the first start, one more per start after.
    pub generation: u64,
    /// How it ended.
    pub exit: ChildExit,
}

/// Why a request to a running supervisor about one of its children failed.
///
/// # Examples
///
/// ```
/// use stage::supervisor::{Child, ChildError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tree = stage::supervisor().name("app").spawn();
/// let error = tree.stop_child("nobody").await.unwrap_err();
/// assert!(matches!(error, ChildError::NotFound { .. }));
/// assert_eq!(error.to_string(), "supervisor app has no child named nobody");
/// # tree.stop().await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildError {
    /// No child has that name (or, for a path, no child supervisor runs
    /// at a part of it).
    NotFound {
        /// The supervisor's path.
        supervisor: String,
        /// The name asked for.
        name: String,
    },
    /// A child of that name is already there (running or not): names are
    /// unique among a supervisor's children.
    NameTaken {
        /// The supervisor's path.
        supervisor: String,
        /// The name.
        name: String,
    },
    /// The child cannot be a child of this supervisor (see
    /// [`Child::significant`](super::Child::significant)).
    Invalid {
        /// The supervisor's path.
        supervisor: String,
        /// The child's name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The child ended before it was ready, or was not ready within its
    /// start timeout. A child added by `start_child` is removed again; one
    /// restarted by `restart_child` stays, stopped.
    StartFailed {
        /// The child's path.
        path: String,
        /// How it ended.
        exit: ChildExit,
    },
    /// The supervisor has ended (or is ending) and takes no more requests.
    SupervisorEnded {
        /// The supervisor's path.
        supervisor: String,
    },
}

impl fmt::Display for ChildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { supervisor, name } => {
                write!(f, "supervisor {supervisor} has no child named {name}")
            }
            Self::NameTaken { supervisor, name } => {
                write!(
                    f,
                    "supervisor {supervisor} already has a child named {name}"
                )
            }
            Self::Invalid {
                supervisor,
                name,
                reason,
            } => write!(
                f,
                "supervisor {supervisor} cannot start child {name}: {reason}"
            ),
            Self::StartFailed { path, exit } => write!(f, "{path} failed to start: {exit}"),
            Self::SupervisorEnded { supervisor } => {
                write!(f, "supervisor {supervisor} has ended")
            }
        }
    }
}

impl std::error::Error for ChildError {}

/// `app/db (generation 2): returned`.
impl fmt::Display for ChildReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (generation {}): {}",
            self.path, self.generation, self.exit
        )
    }
}
