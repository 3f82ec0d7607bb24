//! The receiving end: a consumer of a stream's consumer group, with the
//! in-process mailbox's receive API.

use core::fmt;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redis::{Client, Cmd, Value};
use stage_core::mailbox::{RecvError, TryRecvError};

use crate::codec::{Codec, Json};
use crate::delivery::Delivery;
use crate::error::ConnectError;
use crate::fetch::{self, BLOCK};
use crate::link::{Faults, Link, Request};
use crate::shared::{Held, Settings, Shared};
use crate::stats::Stats;
use crate::write;

/// Entries read per request, and held at most, unless set.
pub const DEFAULT_BATCH: usize = 64;
/// Deliveries of an entry before it becomes a dead letter, unless set.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// How long an entry of another consumer stays unacknowledged before it is
/// claimed, unless set.
pub const DEFAULT_CLAIM_AFTER: Duration = Duration::from_secs(30);
/// The shortest claim time a receiver accepts.
pub const MIN_CLAIM_AFTER: Duration = Duration::from_millis(100);

/// A consumer of a Redis stream's consumer group: the receiving end of a
/// [`Stream`](crate::Stream), with the receive API of the in-process
/// mailbox's [`Receiver`](stage_core::mailbox::Receiver).
///
/// Made by [`ReceiverBuilder::connect`]. Cloneable: the clones are one
/// consumer (the tasks of a group share it), with one queue of entries read
/// ahead, in batches, by a background task.
///
/// - [`recv`](Receiver::recv) is at-most-once: the entry is acknowledged as
///   it is handed out.
/// - [`recv_guarded`](Receiver::recv_guarded) is at-least-once: the entry
///   stays pending until its [`Delivery`] is acknowledged; dropped without,
///   it is handed out again, first.
///
/// The receives wait through a lost connection or a Redis restart: the
/// background tasks retry with a growing pause, and count and log each
/// failure ([`stats`](Receiver::stats), `tracing`).
///
/// **Order.** Within one consumer: entries put back first, then those
/// claimed from consumers that died, then new entries in stream order.
/// Across consumers there is no order, as across the receivers of one
/// mailbox.
///
/// Dropping the last handle stops the reading; what is written already
/// stays, and the acknowledgements queued are written within a few
/// seconds. Entries read ahead and not handed out stay pending for this
/// consumer name: a process that starts again with it takes them back
/// first, and other consumers claim them after the claim time.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let orders = stage::redis::Stream::open("redis://127.0.0.1/", "orders")?;
/// let inbox = orders.receiver::<u32>("billing", "worker-1").connect().await?;
/// loop {
///     let order = inbox.recv_guarded().await;
///     order.process(async |id: &mut u32| println!("order {id}")).await;
/// }
/// # }
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    pub(crate) fn shared(&self) -> &Shared<T> {
        &self.shared
    }

    /// Waits for the next entry held, or for the receiver to be closed and
    /// drained (`None`, if `until_drained`).
    async fn next(&self, until_drained: bool) -> Option<Held<T>> {
        loop {
            if let Some(held) = self.shared.take() {
                return Some(held);
            }
            if until_drained && self.shared.is_drained() {
                return None;
            }
            let listener = self.shared.listen_arrived();
            if let Some(held) = self.shared.take() {
                return Some(held);
            }
            if until_drained && self.shared.is_drained() {
                return None;
            }
            listener.await;
        }
    }

    /// Receives a message, waiting until one arrives; at-most-once: its
    /// entry is acknowledged as it is handed out.
    ///
    /// Once the receiver is [closed](Receiver::close) and drained, it waits
    /// on (for an entry a delivery in flight may put back), as the
    /// mailbox's does; see [`recv_or_closed`](Receiver::recv_or_closed).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: an entry is taken only in the poll that returns it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(inbox: stage::redis::Receiver<u32>) {
    /// let order: u32 = inbox.recv().await;
    /// # }
    /// ```
    pub async fn recv(&self) -> T {
        let held = self.next(false).await.expect("waits until an entry comes");
        self.shared.ack(held.id);
        held.message
    }

    /// Receives a message, or learns that the receiver is closed and
    /// drained.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the receiver is closed and holds nothing more.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv`](Receiver::recv).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(inbox: stage::redis::Receiver<u32>) {
    /// while let Ok(order) = inbox.recv_or_closed().await {
    ///     println!("order {order}");
    /// }
    /// # }
    /// ```
    pub async fn recv_or_closed(&self) -> Result<T, RecvError> {
        let held = self.next(true).await.ok_or(RecvError)?;
        self.shared.ack(held.id);
        Ok(held.message)
    }

    /// Receives a message under a guard, waiting until one arrives: the
    /// at-least-once receive (see [`Delivery`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv`](Receiver::recv).
    ///
    /// # Examples
    ///
    /// See [`Receiver`].
    pub async fn recv_guarded(&self) -> Delivery<'_, T> {
        let held = self.next(false).await.expect("waits until an entry comes");
        Delivery::new(self, held)
    }

    /// Receives a message under a guard, or learns that the receiver is
    /// closed and drained.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the receiver is closed and holds nothing more.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv`](Receiver::recv).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(inbox: stage::redis::Receiver<u32>) {
    /// while let Ok(order) = inbox.recv_guarded_or_closed().await {
    ///     order.ack();
    /// }
    /// # }
    /// ```
    pub async fn recv_guarded_or_closed(&self) -> Result<Delivery<'_, T>, RecvError> {
        let held = self.next(true).await.ok_or(RecvError)?;
        Ok(Delivery::new(self, held))
    }

    /// Receives a message already read into this receiver, without
    /// waiting; at-most-once.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if none is held now,
    /// [`TryRecvError::Closed`] if the receiver is closed and drained.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn run(inbox: stage::redis::Receiver<u32>) {
    /// if let Ok(order) = inbox.try_recv() {
    ///     println!("order {order}");
    /// }
    /// # }
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let held = self.try_next()?;
        self.shared.ack(held.id);
        Ok(held.message)
    }

    /// Receives a message already read into this receiver under a guard,
    /// without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Receiver::try_recv).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn run(inbox: stage::redis::Receiver<u32>) {
    /// if let Ok(order) = inbox.try_recv_guarded() {
    ///     order.ack();
    /// }
    /// # }
    /// ```
    pub fn try_recv_guarded(&self) -> Result<Delivery<'_, T>, TryRecvError> {
        Ok(Delivery::new(self, self.try_next()?))
    }

    fn try_next(&self) -> Result<Held<T>, TryRecvError> {
        match self.shared.take() {
            Some(held) => Ok(held),
            None if self.shared.is_drained() => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Stops reading entries from the stream. What this receiver holds is
    /// still handed out; then the `_or_closed` receives report the end.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(inbox: stage::redis::Receiver<u32>) {
    /// inbox.close();
    /// while let Ok(order) = inbox.recv_guarded_or_closed().await {
    ///     order.ack(); // drains what was read ahead
    /// }
    /// inbox.flush().await;
    /// # }
    /// ```
    pub fn close(&self) {
        self.shared.close();
    }

    /// Whether the receiver is closed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn run(inbox: stage::redis::Receiver<u32>) {
    /// inbox.close();
    /// assert!(inbox.is_closed());
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Waits until every acknowledgement and dead letter queued so far is
    /// written to Redis (they are written in batches, in the background).
    /// Call it before a process exits on purpose: entries acknowledged but
    /// not yet written would be delivered again.
    ///
    /// It waits through a lost connection; after the last handle is
    /// dropped, the writes are tried for a few seconds more.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits; the writes go on in the background.
    ///
    /// # Examples
    ///
    /// See [`close`](Receiver::close).
    pub async fn flush(&self) {
        if let Some(batch) = self.shared.unwritten() {
            self.shared.wait_written(batch).await;
        }
    }

    /// How many entries are held, read and not yet handed out.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn run(inbox: stage::redis::Receiver<u32>) {
    /// println!("{} read ahead", inbox.len());
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// Whether no entry is held to hand out now.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn run(inbox: stage::redis::Receiver<u32>) {
    /// if inbox.is_empty() {
    ///     println!("waiting for the stream");
    /// }
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many entries are not yet acknowledged by the consumer group
    /// furthest behind (as [`Sender::backlog`](crate::Sender::backlog)):
    /// 0 once a finite batch is all done.
    ///
    /// # Errors
    ///
    /// Redis's error, if it refuses for good; it waits through a lost
    /// connection.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(inbox: stage::redis::Receiver<u32>) -> Result<(), Box<dyn std::error::Error>> {
    /// inbox.flush().await;
    /// if inbox.backlog().await? == 0 {
    ///     println!("all done");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn backlog(&self) -> Result<usize, redis::RedisError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(crate::scripts::BACKLOG)
            .arg(1)
            .arg(&self.shared.settings.key);
        self.shared
            .link
            .retry(&Request::Cmd(&cmd), &self.shared.counters.faults)
            .await
    }

    /// What has happened to the receiver's entries and connections.
    ///
    /// # Examples
    ///
    /// See [`Stats`].
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// This consumer's name in its group.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn run(inbox: stage::redis::Receiver<u32>) {
    /// assert_eq!(inbox.consumer(), "worker-1");
    /// # }
    /// ```
    pub fn consumer(&self) -> &str {
        &self.shared.settings.consumer
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.add_receiver();
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.remove_receiver();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.shared.settings;
        f.debug_struct("Receiver")
            .field("stream", &settings.key)
            .field("group", &settings.group)
            .field("consumer", &settings.consumer)
            .field("held", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The settings of a [`Receiver`], before it connects. Made by
/// [`Stream::receiver`](crate::Stream::receiver).
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
///
/// let orders = stage::redis::Stream::open("redis://127.0.0.1/", "orders")?;
/// let inbox = orders
///     .receiver::<u32>("billing", "worker-1")
///     .batch(128)
///     .max_attempts(3)
///     .claim_after(Duration::from_secs(10))
///     .dead_letters("orders:failed")
///     .connect()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a receiver's builder does nothing until `connect` is called"]
pub struct ReceiverBuilder<T, C = Json> {
    client: Client,
    settings: Settings,
    codec: C,
    _messages: core::marker::PhantomData<fn() -> T>,
}

impl<T> ReceiverBuilder<T> {
    pub(crate) fn new(client: Client, key: &str, group: &str, consumer: &str) -> Self {
        Self {
            client,
            settings: Settings {
                key: key.to_owned(),
                group: group.to_owned(),
                consumer: consumer.to_owned(),
                dead_key: format!("{key}:dead"),
                batch: DEFAULT_BATCH,
                max_attempts: DEFAULT_MAX_ATTEMPTS,
                claim_after: DEFAULT_CLAIM_AFTER,
            },
            codec: Json,
            _messages: core::marker::PhantomData,
        }
    }
}

impl<T, C> ReceiverBuilder<T, C> {
    /// Entries read per request to Redis, and held at most
    /// ([`DEFAULT_BATCH`] unless set). Larger batches pay fewer round trips;
    /// a process that dies leaves more entries to be claimed, each of them
    /// counted as a delivery.
    ///
    /// # Examples
    ///
    /// See [`ReceiverBuilder`].
    pub fn batch(mut self, entries: usize) -> Self {
        self.settings.batch = entries;
        self
    }

    /// Deliveries of an entry (across processes: Redis counts them) before
    /// it goes to the dead-letter stream ([`DEFAULT_MAX_ATTEMPTS`] unless
    /// set).
    ///
    /// Redis counts a delivery when an entry is read, so every entry a
    /// process had read ahead when it died has one more: a consumer that
    /// crashes in a loop at start can make dead letters of a whole
    /// [batch](ReceiverBuilder::batch) per `max_attempts` crashes. Keep the
    /// batch small where that matters, or the maximum large.
    ///
    /// # Examples
    ///
    /// See [`ReceiverBuilder`].
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.settings.max_attempts = attempts;
        self
    }

    /// How long an entry of another consumer stays unacknowledged before
    /// this one claims it ([`DEFAULT_CLAIM_AFTER`] unless set): the time
    /// after which a consumer that stopped answering counts as dead, and
    /// how long a replacement under another name waits for what a dead
    /// one held.
    ///
    /// A live consumer renews its claim on the entries it holds (read
    /// ahead or being handled) at least every second, and three times per
    /// its own claim time if that is shorter: a slow handler keeps its
    /// entry from any consumer whose claim time is over a second. Claim
    /// times under a second are for groups whose consumers all share them.
    ///
    /// # Examples
    ///
    /// See [`ReceiverBuilder`].
    pub fn claim_after(mut self, idle: Duration) -> Self {
        self.settings.claim_after = idle;
        self
    }

    /// The stream that dead letters are added to (`<stream>:dead` unless
    /// set). Each dead letter has the fields `id` (the entry's ID), `m`
    /// (its bytes), `attempts`, `reason` (`failed`, `rejected` or
    /// `undecodable`) and, when known, `detail` (the last panic's message,
    /// or the decoding error).
    ///
    /// # Examples
    ///
    /// See [`ReceiverBuilder`].
    pub fn dead_letters(mut self, key: impl Into<String>) -> Self {
        self.settings.dead_key = key.into();
        self
    }

    /// How messages are decoded ([`Json`] unless set); the senders must
    /// encode with the same codec.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(orders: stage::redis::Stream) -> Result<(), Box<dyn std::error::Error>> {
    /// let inbox = orders
    ///     .receiver::<u32>("billing", "worker-1")
    ///     .codec(stage::redis::Json)
    ///     .connect()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn codec<D: Codec<T>>(self, codec: D) -> ReceiverBuilder<T, D> {
        ReceiverBuilder {
            client: self.client,
            settings: self.settings,
            codec,
            _messages: core::marker::PhantomData,
        }
    }

    /// Connects, makes the consumer group if it does not exist (reading
    /// the stream from its start, and the stream too if need be), and
    /// starts the background reading and writing on the current tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// [`ConnectError::Invalid`] for a batch or maximum of attempts of 0, a
    /// claim time under [`MIN_CLAIM_AFTER`], or an empty stream, group or
    /// consumer name; [`ConnectError::ConsumerInUse`] if a receiver of this
    /// process is that consumer already; [`ConnectError::NoRuntime`] outside a tokio runtime;
    /// [`ConnectError::Redis`] if Redis cannot be reached or refuses the
    /// group (the key holds something else than a stream, say).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped before it returns, nothing runs on (no background
    /// task is started before the last step), and the consumer's name is free
    /// again; a consumer group it made stays, as a later connect would make it.
    ///
    /// # Examples
    ///
    /// See [`ReceiverBuilder`].
    pub async fn connect(self) -> Result<Receiver<T>, ConnectError>
    where
        T: Send + 'static,
        C: Codec<T>,
    {
        let Self {
            client,
            settings,
            codec,
            ..
        } = self;
        check(&settings)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConnectError::NoRuntime)?;
        let registration = Registration::new(&client, &settings)?;
        let role = |what| {
            format!(
                "{what} {}/{}/{}",
                settings.key, settings.group, settings.consumer
            )
        };
        // The fetcher's reads block on the server: a connection of its own.
        let fetching = Link::new(
            client.clone(),
            role("reader"),
            BLOCK + Duration::from_secs(5),
        );
        let writing = Link::new(client, role("writer"), Duration::from_secs(5));
        let shared = Arc::new(Shared::new(
            settings,
            Box::new(codec),
            writing,
            registration,
        ));
        let (faults, writing) = (&shared.counters.faults, &shared.link);
        writing.connect(faults).await?;
        // A group that exists already is no fault: not counted.
        match writing
            .try_once::<Value>(
                &Request::Cmd(&create_group(&shared.settings)),
                &Faults::default(),
            )
            .await
        {
            Err(error) if error.code() != Some("BUSYGROUP") => return Err(error.into()),
            _ => {}
        }
        fetching.connect(faults).await?;
        let receiver = Receiver {
            shared: Arc::clone(&shared),
        };
        shared.add_receiver();
        runtime.spawn(fetch::run(Arc::clone(&shared), fetching));
        runtime.spawn(write::run(shared));
        Ok(receiver)
    }
}

impl<T, C> fmt::Debug for ReceiverBuilder<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverBuilder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn check(settings: &Settings) -> Result<(), ConnectError> {
    let invalid = if settings.batch == 0 {
        "a batch of 0 entries reads nothing"
    } else if settings.max_attempts == 0 {
        "a maximum of 0 attempts delivers nothing"
    } else if settings.claim_after < MIN_CLAIM_AFTER {
        "a claim time under 100 ms: the renewals of claims would load the server, and a slow round trip would let live consumers' entries be taken"
    } else if settings.key.is_empty() || settings.group.is_empty() || settings.consumer.is_empty() {
        "an empty stream, group or consumer name"
    } else {
        return Ok(());
    };
    Err(ConnectError::Invalid(invalid))
}

/// A consumer that a receiver of this process is: two receivers under one
/// name would take each other's entries (each takes back, at its start,
/// what the consumer holds). Released when the receiver's last handle goes.
pub(crate) struct Registration(ConsumerId);

/// Server, database, stream, group, consumer.
type ConsumerId = (String, i64, String, String, String);

static CONSUMERS: Mutex<BTreeSet<ConsumerId>> = Mutex::new(BTreeSet::new());

fn consumers() -> MutexGuard<'static, BTreeSet<ConsumerId>> {
    CONSUMERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Registration {
    fn new(client: &Client, settings: &Settings) -> Result<Self, ConnectError> {
        let info = client.get_connection_info();
        let id = (
            info.addr().to_string(),
            info.redis_settings().db(),
            settings.key.clone(),
            settings.group.clone(),
            settings.consumer.clone(),
        );
        if consumers().insert(id.clone()) {
            Ok(Self(id))
        } else {
            Err(ConnectError::ConsumerInUse(settings.consumer.clone()))
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        consumers().remove(&self.0);
    }
}

/// `XGROUP CREATE`: the group reads the stream from its start; the stream
/// is made if need be.
pub(crate) fn create_group(settings: &Settings) -> Cmd {
    let mut cmd = redis::cmd("XGROUP");
    cmd.arg("CREATE")
        .arg(&settings.key)
        .arg(&settings.group)
        .arg("0")
        .arg("MKSTREAM");
    cmd
}
