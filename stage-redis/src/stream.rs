//! A stream of a Redis server, where senders and receivers are made.

use core::fmt;

use redis::{Client, IntoConnectionInfo, RedisError};

use crate::receiver::ReceiverBuilder;
use crate::sender::SenderBuilder;

/// A Redis stream, by its server and key: where [senders](Stream::sender)
/// and [receivers](Stream::receiver) of it are made. Making one connects to
/// nothing yet.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let orders = stage::redis::Stream::open("redis://127.0.0.1:6379/", "orders")?;
/// let tx = orders.sender::<u32>().connect().await?;
/// let inbox = orders.receiver::<u32>("billing", "worker-1").connect().await?;
/// tx.send(7).await?;
/// assert_eq!(inbox.recv_guarded().await.into_inner(), 7);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Stream {
    client: Client,
    key: String,
}

impl Stream {
    /// The stream `key` of the server at `url` (`redis://host:port/db`).
    ///
    /// # Errors
    ///
    /// Redis's error if `url` is not a Redis URL.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(stage::redis::Stream::open("redis://127.0.0.1/", "orders").is_ok());
    /// assert!(stage::redis::Stream::open("not a url", "orders").is_err());
    /// ```
    pub fn open(url: impl IntoConnectionInfo, key: impl Into<String>) -> Result<Self, RedisError> {
        Ok(Self::new(Client::open(url)?, key))
    }

    /// The stream `key` of `client`'s server (a client set up with TLS or
    /// credentials, say).
    ///
    /// # Examples
    ///
    /// ```
    /// let client = redis::Client::open("redis://127.0.0.1/").unwrap();
    /// let orders = stage::redis::Stream::new(client, "orders");
    /// assert_eq!(orders.key(), "orders");
    /// ```
    pub fn new(client: Client, key: impl Into<String>) -> Self {
        Self {
            client,
            key: key.into(),
        }
    }

    /// The stream's key.
    ///
    /// # Examples
    ///
    /// See [`new`](Stream::new).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// A sender of `T`s to the stream, to set up and connect.
    ///
    /// # Examples
    ///
    /// See [`Sender`](crate::Sender).
    pub fn sender<T>(&self) -> SenderBuilder<T> {
        SenderBuilder::new(self.client.clone(), &self.key)
    }

    /// A receiver of `T`s from the stream: the consumer `consumer` of the
    /// consumer group `group` (made if it does not exist), to set up and
    /// connect.
    ///
    /// The group shares the stream's entries among its consumers; each
    /// live process needs a consumer name of its own, the same across its
    /// restarts (a hostname, a pod's name) so that it takes back the entries
    /// it held when it died.
    ///
    /// # Examples
    ///
    /// See [`Receiver`](crate::Receiver).
    pub fn receiver<T>(&self, group: &str, consumer: &str) -> ReceiverBuilder<T> {
        ReceiverBuilder::new(self.client.clone(), &self.key, group, consumer)
    }
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("server", self.client.get_connection_info().addr())
            .field("key", &self.key)
            .finish()
    }
}
