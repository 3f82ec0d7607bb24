//! A connection to Redis that comes back: a failed request is retried on a
//! new connection, after a growing pause, until it succeeds or fails for a
//! reason a retry cannot mend.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, Client, Cmd, FromRedisValue, Pipeline, RedisError, RetryMethod,
};

/// The first pause after a failure; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause between two tries.
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// What a link counts, shared with the stats of its sender or receiver.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// Requests that failed (each failed try counts).
    pub(crate) errors: AtomicU64,
    /// New connections made after the first.
    pub(crate) reconnects: AtomicU64,
}

/// One request, as a link sends it.
pub(crate) enum Request<'a> {
    Cmd(&'a Cmd),
    Pipe(&'a Pipeline),
}

/// A connection that is made again after it failed. Shared by reference:
/// its requests run side by side on one multiplexed connection.
pub(crate) struct Link {
    client: Client,
    config: AsyncConnectionConfig,
    slot: Mutex<Slot>,
    /// What the link serves, for the logs (`"sender orders"`).
    role: String,
}

#[derive(Default)]
struct Slot {
    connection: Option<MultiplexedConnection>,
    /// Connections made so far: a request that failed drops its own
    /// connection, not one made since by another request.
    made: u64,
}

impl Link {
    /// A link for `role`; its requests time out after `response_timeout`.
    pub(crate) fn new(client: Client, role: String, response_timeout: Duration) -> Self {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(response_timeout));
        Self {
            client,
            config,
            slot: Mutex::new(Slot::default()),
            role,
        }
    }

    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Connects now, once: a builder's `connect` reports a server that
    /// cannot be reached instead of waiting for it.
    pub(crate) async fn connect(&self, faults: &Faults) -> Result<(), RedisError> {
        self.connection(faults).await.map(drop)
    }

    /// The connection, made if there is none; with its number.
    async fn connection(
        &self,
        faults: &Faults,
    ) -> Result<(MultiplexedConnection, u64), RedisError> {
        {
            let slot = self.slot();
            if let Some(connection) = &slot.connection {
                return Ok((connection.clone(), slot.made));
            }
        }
        let made = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        let mut slot = self.slot();
        if let Some(connection) = &slot.connection {
            // Another request connected meanwhile: use the one it made.
            return Ok((connection.clone(), slot.made));
        }
        if slot.made > 0 {
            faults.reconnects.fetch_add(1, Ordering::Relaxed);
            tracing::info!(link = %self.role, "reconnected to redis");
        }
        slot.made += 1;
        slot.connection = Some(made.clone());
        Ok((made, slot.made))
    }

    /// Sends `request` once; a connection that failed is dropped (the next
    /// try makes a new one).
    pub(crate) async fn try_once<T: FromRedisValue>(
        &self,
        request: &Request<'_>,
        faults: &Faults,
    ) -> Result<T, RedisError> {
        let outcome = match self.connection(faults).await {
            Ok((mut connection, made)) => {
                let outcome = match request {
                    Request::Cmd(cmd) => cmd.query_async(&mut connection).await,
                    Request::Pipe(pipe) => pipe.query_async(&mut connection).await,
                };
                if outcome.as_ref().is_err_and(needs_new_connection) {
                    let mut slot = self.slot();
                    if slot.made == made {
                        slot.connection = None;
                    }
                }
                outcome
            }
            Err(error) => Err(error),
        };
        if outcome.is_err() {
            faults.errors.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }

    /// Sends `request` until it succeeds, pausing longer after each failure
    /// (10 ms, doubling, at most 1 s), each failure logged; a failure that a
    /// retry cannot mend (a wrong command, a key of another type) is
    /// returned.
    pub(crate) async fn retry<T: FromRedisValue>(
        &self,
        request: &Request<'_>,
        faults: &Faults,
    ) -> Result<T, RedisError> {
        let mut pause = Pause::default();
        loop {
            match self.try_once(request, faults).await {
                Ok(value) => return Ok(value),
                Err(error) if is_transient(&error) => {
                    let wait = pause.next();
                    tracing::warn!(
                        link = %self.role, %error, retry_in = ?wait,
                        "a redis request failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// Whether trying again later may succeed: the connection failed, timed
/// out or was refused, or the server is loading, busy or failing over.
pub(crate) fn is_transient(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || !matches!(error.retry_method(), RetryMethod::NoRetry)
}

fn needs_new_connection(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_timeout()
        || matches!(error.retry_method(), RetryMethod::Reconnect)
}

/// A pause that doubles after each use, with jitter, up to [`MAX_PAUSE`].
#[derive(Debug)]
pub(crate) struct Pause(Duration);

impl Default for Pause {
    fn default() -> Self {
        Self(FIRST_PAUSE)
    }
}

impl Pause {
    /// The pause to take now (between half and all of the current one).
    pub(crate) fn next(&mut self) -> Duration {
        let now = self.0;
        self.0 = (self.0 * 2).min(MAX_PAUSE);
        now.mul_f64(0.5 + fastrand::f64() / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{Pause, MAX_PAUSE};

    #[test]
    fn a_pause_grows_to_its_bound_and_stays_there() {
        let mut pause = Pause::default();
        let waits: Vec<_> = (0..20).map(|_| pause.next()).collect();
        assert!(waits[0] <= super::FIRST_PAUSE);
        assert!(waits.iter().all(|wait| *wait <= MAX_PAUSE));
        assert!(waits[19] >= MAX_PAUSE / 2);
    }
}
