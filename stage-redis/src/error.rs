//! What can go wrong when connecting and sending.

use core::fmt;

use redis::RedisError;

use crate::codec::CodecError;

/// Why a sender or receiver could not start.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use stage::redis::{ConnectError, Stream};
///
/// let orders = Stream::open("redis://127.0.0.1:1/", "orders").unwrap();
/// let refused = orders.receiver::<u32>("billing", "worker-1").batch(0).connect().await;
/// assert!(matches!(refused, Err(ConnectError::Invalid(_))));
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// A setting that cannot work (it says which).
    Invalid(&'static str),
    /// Not called on a tokio runtime, which the background tasks need.
    NoRuntime,
    /// A receiver of this process is this consumer (of this group, stream
    /// and server) already: clone that one to share it among tasks; two
    /// would take each other's entries.
    ConsumerInUse(String),
    /// Redis could not be reached, or refused a command.
    Redis(RedisError),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(what) => write!(f, "invalid setting: {what}"),
            Self::NoRuntime => f.write_str("not on a tokio runtime"),
            Self::ConsumerInUse(name) => write!(
                f,
                "a receiver of this process is the consumer {name:?} already: clone it instead"
            ),
            Self::Redis(error) => write!(f, "redis: {error}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Redis(error) => Some(error),
            _ => None,
        }
    }
}

impl From<RedisError> for ConnectError {
    fn from(error: RedisError) -> Self {
        Self::Redis(error)
    }
}

/// A send that failed, with the message (or, of a batch, the messages not
/// added) handed back.
///
/// A lost connection is not a failure: the send waits and tries again.
///
/// # Examples
///
/// ```no_run
/// # async fn run(orders: stage::redis::Sender<u32>) {
/// match orders.send(7).await {
///     Ok(id) => println!("added as {id}"),
///     Err(error) => {
///         eprintln!("not sent: {error}");
///         let order: u32 = error.into_inner(); // to keep, or send elsewhere
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError<T> {
    /// The message could not be encoded.
    Encode {
        /// The message.
        message: T,
        /// Why it could not be encoded.
        error: CodecError,
    },
    /// Redis refused the command, for a reason that a retry cannot mend
    /// (the key holds something else than a stream, say).
    Redis {
        /// The message.
        message: T,
        /// Redis's error.
        error: RedisError,
    },
}

impl<T> SendError<T> {
    /// The message that was not sent.
    ///
    /// # Examples
    ///
    /// See [`SendError`].
    pub fn into_inner(self) -> T {
        match self {
            Self::Encode { message, .. } | Self::Redis { message, .. } => message,
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode { error, .. } => write!(f, "the message could not be encoded: {error}"),
            Self::Redis { error, .. } => write!(f, "redis refused the message: {error}"),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}
