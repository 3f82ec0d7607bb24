//! The sending end: `XADD`s of encoded messages, waiting while a bounded
//! stream is full.

use core::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use redis::{Client, Cmd, RedisError};

use crate::codec::{Codec, Json};
use crate::error::{ConnectError, SendError};
use crate::link::{Faults, Link, Request};
use crate::reply::FIELD;
use crate::scripts::{ADD_WITHIN_BOUND, BACKLOG};
use crate::stats::Counters;

/// Messages per round trip at most (a larger batch is sent in parts).
const MAX_PER_REQUEST: usize = 1024;

/// The longest pause between two tries to add to a full stream.
const MAX_FULL_PAUSE: Duration = Duration::from_millis(50);

/// The sending end of a [`Stream`](crate::Stream): adds each message as
/// an entry (`XADD`), encoded by the sender's codec.
///
/// Made by [`SenderBuilder::connect`]. Cloneable: clones share one
/// multiplexed connection, and their sends run side by side on it.
///
/// A lost connection or a Redis restart is not an error: a send waits and
/// tries again with a growing pause (each failure counted in
/// [`stats`](Sender::stats) and logged). A send dropped while it waits may
/// or may not have added its message; a send retried after a connection
/// failed may add it twice (at-least-once, as the receivers' guarantee).
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let orders = stage::redis::Stream::open("redis://127.0.0.1/", "orders")?;
/// let tx = orders.sender::<u32>().max_len(10_000).connect().await?;
/// let id = tx.send(7).await?;
/// println!("order 7 is entry {id}");
/// # Ok(())
/// # }
/// ```
pub struct Sender<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    key: String,
    link: Link,
    codec: Box<dyn Codec<T>>,
    max_len: Option<usize>,
    /// The script's SHA1, for `EVALSHA`.
    script: String,
    sent: AtomicU64,
    full: AtomicU64,
    faults: Faults,
}

/// What a sender has done so far.
///
/// # Examples
///
/// ```no_run
/// # fn run(tx: stage::redis::Sender<u32>) {
/// let stats = tx.stats();
/// println!("{} sent; waited {} times on a full stream", stats.sent, stats.full);
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SenderStats {
    /// Messages added to the stream.
    pub sent: u64,
    /// Times a send found the stream at its bound and waited.
    pub full: u64,
    /// Requests to Redis that failed (each failed try counts once).
    pub errors: u64,
    /// Connections made again after one failed.
    pub reconnects: u64,
}

impl<T: 'static> Sender<T> {
    /// Adds `message` to the stream and returns its entry's ID; waits while
    /// the stream is at its [bound](SenderBuilder::max_len), or while Redis
    /// cannot be reached.
    ///
    /// # Errors
    ///
    /// [`SendError::Encode`] if the codec cannot encode the message;
    /// [`SendError::Redis`] if Redis refuses it for good (the key holds
    /// something else than a stream). Both hand the message back.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped while it waits on Redis, the message may or
    /// may not have been added (and is gone with the future).
    ///
    /// # Examples
    ///
    /// See [`Sender`].
    pub async fn send(&self, message: T) -> Result<String, SendError<T>> {
        match self.send_batch(vec![message]).await {
            Ok(mut ids) => Ok(ids.pop().expect("one ID per message added")),
            Err(error) => Err(match error {
                SendError::Encode { mut message, error } => SendError::Encode {
                    message: message.pop().expect("the message handed back"),
                    error,
                },
                SendError::Redis { mut message, error } => SendError::Redis {
                    message: message.pop().expect("the message handed back"),
                    error,
                },
            }),
        }
    }

    /// Adds `messages` to the stream, in their order, in as few round trips
    /// as the bound allows, and returns their entries' IDs.
    ///
    /// # Errors
    ///
    /// [`SendError::Encode`] if a message cannot be encoded (then none is
    /// sent, and all are handed back); [`SendError::Redis`] if Redis refuses
    /// them for good (the messages not added are handed back).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped while it waits, some of the messages may have
    /// been added, in their order, and the others not.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(tx: stage::redis::Sender<u32>) -> Result<(), Box<dyn std::error::Error>> {
    /// let ids = tx.send_batch((0..128).collect()).await?;
    /// assert_eq!(ids.len(), 128);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send_batch(&self, mut messages: Vec<T>) -> Result<Vec<String>, SendError<Vec<T>>> {
        let inner = &*self.inner;
        let mut encoded = Vec::with_capacity(messages.len());
        for message in &messages {
            match inner.codec.encode(message) {
                Ok(bytes) => encoded.push(bytes),
                Err(error) => {
                    return Err(SendError::Encode {
                        message: messages,
                        error,
                    })
                }
            }
        }
        let mut ids = Vec::with_capacity(messages.len());
        let mut pause = Duration::from_millis(1);
        while ids.len() < encoded.len() {
            let rest = &encoded[ids.len()..];
            let part = &rest[..rest.len().min(MAX_PER_REQUEST)];
            let added = match inner.max_len {
                None => inner.add(part).await,
                Some(bound) => inner.add_within(bound, part).await,
            };
            match added {
                Ok(added) if added.is_empty() => {
                    // At the bound: wait for the receivers to catch up.
                    Counters::add(&inner.full, 1);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_FULL_PAUSE);
                }
                Ok(added) => {
                    Counters::add(&inner.sent, added.len());
                    ids.extend(added);
                    pause = Duration::from_millis(1);
                }
                Err(error) => {
                    let unsent = messages.split_off(ids.len());
                    return Err(SendError::Redis {
                        message: unsent,
                        error,
                    });
                }
            }
        }
        Ok(ids)
    }

    /// How many entries are not yet acknowledged: of the consumer group
    /// furthest behind, those pending and those not yet read (the stream's
    /// length, if no group reads it yet). What [`max_len`](SenderBuilder::max_len)
    /// bounds.
    ///
    /// It waits through a lost connection, as a send does.
    ///
    /// # Errors
    ///
    /// Redis's error, if it refuses for good (the key holds something
    /// else than a stream).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(tx: stage::redis::Sender<u32>) -> Result<(), Box<dyn std::error::Error>> {
    /// println!("{} left to do", tx.backlog().await?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn backlog(&self) -> Result<usize, RedisError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(BACKLOG).arg(1).arg(&self.inner.key);
        self.inner
            .link
            .retry(&Request::Cmd(&cmd), &self.inner.faults)
            .await
    }

    /// What the sender has done so far.
    ///
    /// # Examples
    ///
    /// See [`SenderStats`].
    pub fn stats(&self) -> SenderStats {
        let read = |counter: &AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
        let inner = &*self.inner;
        SenderStats {
            sent: read(&inner.sent),
            full: read(&inner.full),
            errors: read(&inner.faults.errors),
            reconnects: read(&inner.faults.reconnects),
        }
    }
}

impl<T> Inner<T> {
    /// Adds the messages, one `XADD` each, in one round trip.
    async fn add(&self, messages: &[Vec<u8>]) -> Result<Vec<String>, RedisError> {
        let mut pipe = redis::pipe();
        for bytes in messages {
            pipe.cmd("XADD")
                .arg(&self.key)
                .arg("*")
                .arg(FIELD)
                .arg(bytes);
        }
        self.link.retry(&Request::Pipe(&pipe), &self.faults).await
    }

    /// Adds as many of the messages as the bound leaves room for.
    async fn add_within(
        &self,
        bound: usize,
        messages: &[Vec<u8>],
    ) -> Result<Vec<String>, RedisError> {
        let mut call = redis::cmd("EVALSHA");
        call.arg(&self.script).arg(1).arg(&self.key).arg(bound);
        for bytes in messages {
            call.arg(bytes);
        }
        match self.link.retry(&Request::Cmd(&call), &self.faults).await {
            // Not loaded (a new or restarted server): load it, then again.
            Err(error) if error.code() == Some("NOSCRIPT") => {
                self.link
                    .retry::<String>(&Request::Cmd(&load_script()), &self.faults)
                    .await?;
                self.link.retry(&Request::Cmd(&call), &self.faults).await
            }
            outcome => outcome,
        }
    }
}

fn load_script() -> Cmd {
    let mut cmd = redis::cmd("SCRIPT");
    cmd.arg("LOAD").arg(ADD_WITHIN_BOUND);
    cmd
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("stream", &self.inner.key)
            .field("max_len", &self.inner.max_len)
            .finish()
    }
}

/// The settings of a [`Sender`], before it connects. Made by
/// [`Stream::sender`](crate::Stream::sender).
///
/// # Examples
///
/// See [`Sender`].
#[must_use = "a sender's builder does nothing until `connect` is called"]
pub struct SenderBuilder<T, C = Json> {
    client: Client,
    key: String,
    codec: C,
    max_len: Option<usize>,
    _messages: core::marker::PhantomData<fn(T)>,
}

impl<T> SenderBuilder<T> {
    pub(crate) fn new(client: Client, key: &str) -> Self {
        Self {
            client,
            key: key.to_owned(),
            codec: Json,
            max_len: None,
            _messages: core::marker::PhantomData,
        }
    }
}

impl<T, C> SenderBuilder<T, C> {
    /// Bounds the stream: a send waits while `entries` entries are not yet
    /// acknowledged (the [backlog](Sender::backlog); unbounded unless set).
    /// The check and the add are one script, so that senders together never
    /// go past the bound; an unread entry is never trimmed.
    ///
    /// # Examples
    ///
    /// See [`Sender`].
    pub fn max_len(mut self, entries: usize) -> Self {
        self.max_len = Some(entries);
        self
    }

    /// How messages are encoded ([`Json`] unless set); the receivers must
    /// decode with the same codec.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(orders: stage::redis::Stream) -> Result<(), Box<dyn std::error::Error>> {
    /// let tx = orders.sender::<u32>().codec(stage::redis::Json).connect().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn codec<D: Codec<T>>(self, codec: D) -> SenderBuilder<T, D> {
        SenderBuilder {
            client: self.client,
            key: self.key,
            codec,
            max_len: self.max_len,
            _messages: core::marker::PhantomData,
        }
    }

    /// Connects, and loads the bounded add's script if there is a bound.
    ///
    /// # Errors
    ///
    /// [`ConnectError::Invalid`] for a bound of 0 or an empty stream name;
    /// [`ConnectError::NoRuntime`] outside a tokio runtime;
    /// [`ConnectError::Redis`] if Redis cannot be reached.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped before it returns, it leaves nothing behind but
    /// the script it may have loaded into Redis's cache.
    ///
    /// # Examples
    ///
    /// See [`Sender`].
    pub async fn connect(self) -> Result<Sender<T>, ConnectError>
    where
        C: Codec<T>,
    {
        if self.max_len == Some(0) {
            return Err(ConnectError::Invalid("a bound of 0 entries admits none"));
        }
        if self.key.is_empty() {
            return Err(ConnectError::Invalid("an empty stream name"));
        }
        // The connection's tasks need one (redis-rs would panic).
        tokio::runtime::Handle::try_current().map_err(|_| ConnectError::NoRuntime)?;
        let link = Link::new(
            self.client,
            format!("sender {}", self.key),
            Duration::from_secs(5),
        );
        let faults = Faults::default();
        link.connect(&faults).await?;
        let script = if self.max_len.is_some() {
            link.try_once::<String>(&Request::Cmd(&load_script()), &faults)
                .await?
        } else {
            String::new()
        };
        Ok(Sender {
            inner: Arc::new(Inner {
                key: self.key,
                link,
                codec: Box::new(self.codec),
                max_len: self.max_len,
                script,
                sent: AtomicU64::new(0),
                full: AtomicU64::new(0),
                faults,
            }),
        })
    }
}

impl<T, C> fmt::Debug for SenderBuilder<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderBuilder")
            .field("stream", &self.key)
            .field("max_len", &self.max_len)
            .finish_non_exhaustive()
    }
}
