//! Why an ask got no answer, and how an actor ended for good.

use core::fmt;
use std::time::Duration;

/// Why an [`ask`](super::Addr::ask) got no answer. Every way an ask can
/// fail ends in one of these; none of them is a hang (the time limit needs
/// a running runtime: see [`ask`](super::Addr::ask)).
///
/// # Examples
///
/// ```
/// use stage::actor::AskError;
///
/// let error = AskError::Crashed { panic: Some("disk full".into()), attempts: 1 };
/// assert_eq!(
///     error.to_string(),
///     "the actor crashed on the request (attempt 1): disk full"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AskError {
    /// The actor failed while handling this request, and will not handle
    /// it again: it panicked (with the panic's message, if it was a
    /// string), or it was killed or aborted mid-request (`panic` is
    /// `None`). `attempts` counts the deliveries of the request.
    ///
    /// An actor that [redelivers](super::Builder::redeliver) handles the
    /// request again instead, until its attempts are spent
    /// ([`DeadLettered`](Self::DeadLettered)) — unless it fails more often
    /// than its supervisor's intensity allows first, and ends for good
    /// while the request waits for its next attempt: then the request
    /// fails this way, with the attempts it had.
    Crashed {
        /// The message of the panic, if it was a string.
        panic: Option<String>,
        /// How many times the request was delivered.
        attempts: u32,
    },
    /// Every attempt the actor's [redelivery](super::Builder::redeliver)
    /// allows failed on this request, and it went to the dead letters.
    DeadLettered {
        /// How many times the request was delivered.
        attempts: u32,
        /// The message of the last panic on it, if one was recorded.
        last_panic: Option<String>,
    },
    /// The actor stopped for good before it handled the request (or the
    /// request was sent after).
    Stopped,
    /// The time given to the ask ran out first. The request may still be
    /// handled later; its answer is then dropped.
    TimedOut(Duration),
    /// The actor handled the request and dropped its [`Reply`](super::Reply)
    /// without an answer.
    Unanswered,
}

impl fmt::Display for AskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Crashed { panic, attempts } => {
                write!(f, "the actor crashed on the request (attempt {attempts})")?;
                match panic {
                    Some(message) => write!(f, ": {message}"),
                    None => f.write_str(": killed"),
                }
            }
            Self::DeadLettered {
                attempts,
                last_panic,
            } => {
                write!(f, "the request was dead-lettered after {attempts} attempts")?;
                match last_panic {
                    Some(message) => write!(f, " (last panic: {message})"),
                    None => Ok(()),
                }
            }
            Self::Stopped => f.write_str("the actor stopped before it handled the request"),
            Self::TimedOut(after) => write!(f, "no answer within {after:?}"),
            Self::Unanswered => f.write_str("the actor dropped the request's reply unanswered"),
        }
    }
}

impl std::error::Error for AskError {}

/// How an actor ended for good: what [`Addr::stopped`](super::Addr::stopped)
/// returns (OTP's monitor message).
///
/// # Examples
///
/// ```
/// use stage::actor::ActorExit;
///
/// let exit = ActorExit::Failed(Some("disk full".into()));
/// assert!(exit.is_failure());
/// assert_eq!(exit.to_string(), "failed: disk full");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActorExit {
    /// It was asked to stop ([`Addr::stop`](super::Addr::stop) or
    /// [`Context::stop`](super::Context::stop)).
    Stopped,
    /// Its last incarnation failed and was not restarted (its restart type
    /// says so, or its supervisor gave up): with the panic's message, or
    /// `None` if it was killed or aborted.
    Failed(Option<String>),
    /// Its supervisor ended (or removed it) while it ran.
    Shutdown,
}

impl ActorExit {
    /// Whether the actor failed, rather than being stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!stage::actor::ActorExit::Stopped.is_failure());
    /// ```
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Failed(_))
    }
}

impl fmt::Display for ActorExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stopped => f.write_str("stopped"),
            Self::Failed(Some(message)) => write!(f, "failed: {message}"),
            Self::Failed(None) => f.write_str("failed: killed"),
            Self::Shutdown => f.write_str("shut down by its supervisor"),
        }
    }
}
