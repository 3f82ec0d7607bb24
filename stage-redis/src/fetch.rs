//! The fetcher: a receiver's background task that reads entries into its
//! queue, in batches, whenever the queue has room.
//!
//! It reads, in this order: at its start, the entries this consumer left
//! pending in an earlier run (its process died with them); then, in turn,
//! entries that other consumers left idle for longer than the claim time
//! (`XAUTOCLAIM`: they died too) and new entries (`XREADGROUP ... >`).

use std::collections::HashMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use redis::{Cmd, Value};

use crate::link::{Link, Pause, Request};
use crate::panics::{drop_quietly, panic_text};
use crate::reply::{self, Body, Entry};
use crate::shared::{Dead, Held, Reason, Shared};

/// How long a read waits on the server for new entries.
pub(crate) const BLOCK: Duration = Duration::from_secs(2);

/// Runs the fetcher until the receiver closes.
pub(crate) async fn run<T: Send + 'static>(shared: Arc<Shared<T>>, link: Link) {
    // However the task ends (a runtime dropped with it, too), the receiver
    // learns it: its waits end instead of hanging.
    let _closes = CloseOnDrop(&shared);
    let fetcher = Fetcher {
        shared: &shared,
        link: &link,
    };
    if fetcher.until_closed(fetcher.recover()).await.is_none() {
        return;
    }
    let mut cursor = String::from("0-0");
    // `None`: no more claims (a claim time too long for the clock).
    let mut next_claim = Some(Instant::now());
    let mut pause = Pause::default();
    loop {
        let Some(room) = fetcher.until_closed(fetcher.room()).await else {
            return;
        };
        let errors = shared.counters.faults.errors.load(Ordering::Relaxed);
        let outcome = if next_claim.is_some_and(|at| Instant::now() >= at) {
            let claim = fetcher.claim(&mut cursor, room);
            let outcome = fetcher.until_closed(claim).await;
            // A scan that has not reached the end of the pending entries
            // goes on at once; a finished one in half the claim time.
            next_claim = if cursor == "0-0" {
                Instant::now().checked_add(shared.settings.claim_after / 2)
            } else {
                Some(Instant::now())
            };
            outcome
        } else {
            fetcher.until_closed(fetcher.read(room)).await
        };
        // A request that failed may have delivered entries whose reply was
        // lost: they are pending for this consumer, and taken back now.
        if shared.counters.faults.errors.load(Ordering::Relaxed) != errors
            && fetcher.until_closed(fetcher.recover()).await.is_none()
        {
            return;
        }
        match outcome {
            None => return,
            Some(Ok(())) => pause = Pause::default(),
            // Logged where it happened; a longer wait after each in a row.
            Some(Err(())) => tokio::time::sleep(pause.next()).await,
        }
    }
}

struct CloseOnDrop<'a, T>(&'a Shared<T>);

impl<T> Drop for CloseOnDrop<'_, T> {
    fn drop(&mut self) {
        self.0.close();
    }
}

struct Fetcher<'a, T> {
    shared: &'a Shared<T>,
    link: &'a Link,
}

impl<T: Send + 'static> Fetcher<'_, T> {
    /// Runs `work` unless the receiver closes first (`None`).
    async fn until_closed<O>(&self, work: impl Future<Output = O>) -> Option<O> {
        let closed = async {
            loop {
                let listener = self.shared.listen_closing();
                if self.shared.is_closed() {
                    return;
                }
                listener.await;
            }
        };
        match select(pin!(work), pin!(closed)).await {
            Either::Left((output, _)) => Some(output),
            Either::Right(_) => None,
        }
    }

    /// Waits until the queue has room, and says for how many entries.
    async fn room(&self) -> usize {
        loop {
            let listener = self.shared.listen_room();
            let room = self.shared.room();
            if room > 0 {
                return room;
            }
            listener.await;
        }
    }

    fn settings(&self) -> &crate::shared::Settings {
        &self.shared.settings
    }

    /// Sends `cmd` (retried while Redis is away); a failure a retry cannot
    /// mend is logged. A group that is gone (its stream deleted, or a
    /// Redis restarted without its data) is made again.
    async fn send(&self, cmd: &Cmd) -> Result<Value, ()> {
        let faults = &self.shared.counters.faults;
        match self.link.retry::<Value>(&Request::Cmd(cmd), faults).await {
            Ok(value) => Ok(value),
            Err(error) => {
                if error.code() == Some("NOGROUP") {
                    tracing::warn!(
                        stream = %self.settings().key, group = %self.settings().group,
                        "the consumer group is gone (the stream was deleted, or redis lost its data); making it again"
                    );
                    let create = crate::receiver::create_group(self.settings());
                    if let Err(error) = self
                        .link
                        .retry::<Value>(&Request::Cmd(&create), faults)
                        .await
                    {
                        if error.code() != Some("BUSYGROUP") {
                            tracing::error!(%error, "could not make the consumer group again");
                        }
                    }
                } else {
                    tracing::error!(
                        stream = %self.settings().key, %error,
                        "reading the stream failed"
                    );
                }
                Err(())
            }
        }
    }

    /// Reads up to `room` new entries, waiting a while for some to come.
    async fn read(&self, room: usize) -> Result<(), ()> {
        let settings = self.settings();
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&settings.group)
            .arg(&settings.consumer)
            .arg("COUNT")
            .arg(count(room))
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&settings.key)
            .arg(">");
        let entries = self.parse(reply::read(self.send(&cmd).await?))?;
        self.arrive(entries, &HashMap::new(), false);
        Ok(())
    }

    /// Takes back the entries pending for this consumer that it does not
    /// hold, oldest first, a batch at a time: at its start, those it left
    /// in an earlier run (its process died with them); after a failed
    /// request, those of a read whose reply was lost.
    async fn recover(&self) {
        let settings = self.settings();
        let mut start = String::from("-");
        let mut pause = Pause::default();
        loop {
            let room = self.room().await;
            let mut cmd = redis::cmd("XPENDING");
            cmd.arg(&settings.key)
                .arg(&settings.group)
                .arg(&start)
                .arg("+")
                .arg(count(room))
                .arg(&settings.consumer);
            let Ok(value) = self.send(&cmd).await else {
                tokio::time::sleep(pause.next()).await;
                continue;
            };
            let Ok(pending) = self.parse(reply::pending(value)) else {
                return;
            };
            let Some((last, _)) = pending.last() else {
                return; // none left
            };
            let next = format!("({last}");
            let pending: Vec<_> = pending
                .into_iter()
                .filter(|(id, _)| !self.shared.holds(id))
                .collect();
            if pending.is_empty() {
                start = next;
                continue;
            }
            // Claimed again by this consumer: Redis counts the delivery.
            let mut claim = redis::cmd("XCLAIM");
            claim
                .arg(&settings.key)
                .arg(&settings.group)
                .arg(&settings.consumer)
                .arg(0);
            for (id, _) in &pending {
                claim.arg(id);
            }
            let Ok(value) = self.send(&claim).await else {
                tokio::time::sleep(pause.next()).await;
                continue;
            };
            let Ok(entries) = self.parse(reply::entries(value)) else {
                return;
            };
            let failed: HashMap<_, _> = pending.into_iter().collect();
            self.arrive(entries, &failed, false);
            start = next;
        }
    }

    /// Claims up to `room` entries that other consumers left idle for
    /// longer than the claim time, continuing the scan at `cursor`.
    async fn claim(&self, cursor: &mut String, room: usize) -> Result<(), ()> {
        let settings = self.settings();
        let idle = count(usize::try_from(settings.claim_after.as_millis()).unwrap_or(usize::MAX));
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(&settings.key)
            .arg(&settings.group)
            .arg(&settings.consumer)
            .arg(idle)
            .arg(&*cursor)
            .arg("COUNT")
            .arg(count(room));
        let (next, entries) = self.parse(reply::autoclaim(self.send(&cmd).await?))?;
        *cursor = next;
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(());
        };
        // The claim counted a delivery; how many there were, XPENDING says
        // (the range may hold other entries of this consumer too).
        let mut counts = redis::cmd("XPENDING");
        counts
            .arg(&settings.key)
            .arg(&settings.group)
            .arg(&first.id)
            .arg(&last.id)
            .arg(count(
                entries
                    .len()
                    .saturating_add(self.shared.len())
                    .saturating_add(settings.batch),
            ))
            .arg(&settings.consumer);
        let deliveries = self.parse(reply::pending(self.send(&counts).await?))?;
        let failed: HashMap<_, _> = deliveries
            .into_iter()
            .map(|(id, count)| (id, count.saturating_sub(1)))
            .collect();
        self.arrive(entries, &failed, true);
        Ok(())
    }

    fn parse<V>(&self, parsed: Result<V, reply::Malformed>) -> Result<V, ()> {
        parsed.map_err(|reply::Malformed(what)| {
            tracing::error!(stream = %self.settings().key, what, "redis sent a reply of an unexpected shape");
        })
    }

    /// Decodes the entries read and queues them (`failed`: the failed
    /// deliveries of each, 0 if not listed). An entry that does not
    /// decode, or whose deliveries have all failed already, goes to the
    /// dead letters; one deleted while pending is acknowledged.
    fn arrive(&self, entries: Vec<Entry>, failed: &HashMap<String, u32>, claimed: bool) {
        let shared = self.shared;
        let mut held = Vec::with_capacity(entries.len());
        for Entry { id, body } in entries {
            if shared.holds(&id) {
                continue; // a claim found one of this receiver's own
            }
            let failed = failed.get(&id).copied().unwrap_or(0);
            // An entry that cannot be handed out was delivered all the same:
            // this read counts as its attempt.
            let undecodable = |raw, fields, detail| Dead {
                id: id.clone(),
                raw,
                fields,
                attempts: failed.saturating_add(1),
                reason: Reason::Undecodable,
                detail: Some(detail),
            };
            match body {
                Body::Deleted => shared.ack(id),
                Body::Foreign(fields) => shared.dead_letter(undecodable(
                    Vec::new(),
                    fields,
                    format!("the entry has no field `{}`", reply::FIELD),
                )),
                Body::Message(raw) if failed >= shared.settings.max_attempts => {
                    shared.dead_letter(Dead {
                        id: id.clone(),
                        raw,
                        fields: Vec::new(),
                        attempts: failed,
                        reason: Reason::Failed,
                        detail: Some(format!(
                            "delivered {failed} times without an acknowledgement"
                        )),
                    });
                }
                // The codec is the user's code: a panic in it makes a dead
                // letter, as an error does, not a dead receiver.
                Body::Message(raw) => {
                    match catch_unwind(AssertUnwindSafe(|| shared.codec.decode(&raw))) {
                        Ok(Ok(message)) => held.push(Held {
                            id,
                            message,
                            raw,
                            failed,
                            last_panic: None,
                        }),
                        Ok(Err(error)) => {
                            shared.dead_letter(undecodable(raw, Vec::new(), error.to_string()));
                        }
                        Err(payload) => {
                            let what = panic_text(payload.as_ref());
                            drop_quietly(payload);
                            let detail = format!(
                                "the codec panicked: {}",
                                what.as_deref().unwrap_or("(no message)")
                            );
                            shared.dead_letter(undecodable(raw, Vec::new(), detail));
                        }
                    }
                }
            }
        }
        shared.arrive(held, claimed);
    }
}

/// `n` as a count Redis takes: at most 2^40 (a trillion entries, or 35
/// years in milliseconds), well inside what every command accepts
/// (`XAUTOCLAIM` refuses counts over `i64::MAX / 10`).
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX).min(1 << 40)
}
