//! The writer: a receiver's background task that makes the writes its
//! deliveries queue (acknowledgements, dead letters, failed deliveries)
//! and keeps its claim on the entries it holds.
//!
//! Writes are grouped: while one batch is on its way to Redis, the next
//! gathers, and goes in one round trip as soon as the first is back (a
//! group commit). At a low rate each acknowledgement goes at once; at a
//! high rate a round trip carries many.

use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use redis::{Pipeline, Value};

use crate::link::Request;
use crate::reply::FIELD;
use crate::scripts::TRIM_DONE;
use crate::shared::{Settings, Shared, Writes};
use crate::stats::Counters;

/// How long the writes left when the last receiver handle is dropped are
/// tried for before they are given up on (their entries are delivered
/// again later).
pub(crate) const FLUSH_GRACE: Duration = Duration::from_secs(5);

/// Runs the writer until the receiver is closed and every write queued is
/// made (or, once every handle is gone, given up on after [`FLUSH_GRACE`]).
pub(crate) async fn run<T: Send + 'static>(shared: Arc<Shared<T>>) {
    let link = &shared.link;
    // However the task ends (a runtime dropped with it, too), a flush
    // waiting on it returns.
    let _ends = Ends(&shared);
    let renew_every = renewal(shared.settings.claim_after);
    let mut next_renewal = Instant::now() + renew_every;
    loop {
        let listener = shared.listen_to_write();
        let (writes, batch) = shared.take_writes();
        let renew = Instant::now() >= next_renewal;
        if writes.is_empty() && !renew {
            // Every handle gone (a delivery in flight holds one), and
            // nothing left to write: done.
            if shared.receivers() == 0 && shared.unwritten().is_none() {
                return;
            }
            let until = tokio::time::sleep_until(next_renewal.into());
            if let Either::Right(_) = select(listener, pin!(until)).await {
                next_renewal = Instant::now(); // renew now
            }
            continue;
        }
        let held = if renew {
            next_renewal = Instant::now() + renew_every;
            shared.held_ids()
        } else {
            Vec::new()
        };
        let counts = (writes.acks.len(), writes.dead.len());
        let pipe = pipeline(&shared, writes, &held);
        let request = Request::Pipe(&pipe);
        let write = link.retry::<Value>(&request, &shared.counters.faults);
        let outcome = if shared.receivers() == 0 {
            match tokio::time::timeout(FLUSH_GRACE, write).await {
                Ok(outcome) => outcome.map_err(|error| error.to_string()),
                Err(_) => Err(format!("redis did not answer within {FLUSH_GRACE:?}")),
            }
        } else {
            write.await.map_err(|error| error.to_string())
        };
        match outcome {
            Ok(_) => {
                Counters::add(&shared.counters.acked, counts.0 + counts.1);
                Counters::add(&shared.counters.dead_letters, counts.1);
            }
            Err(error) => tracing::error!(
                stream = %shared.settings.key, %error, acks = counts.0, dead_letters = counts.1,
                "could not write acknowledgements; their entries will be delivered again"
            ),
        }
        shared.written(batch);
    }
}

/// How often a receiver renews its claim on the entries it holds: three
/// times per claim time, and at least every [`MAX_RENEWAL`], so that a
/// consumer with a shorter claim time (over a second) does not take them
/// either.
pub(crate) fn renewal(claim_after: Duration) -> Duration {
    (claim_after / 3).min(MAX_RENEWAL)
}

/// The longest time between two renewals of a receiver's claims.
pub(crate) const MAX_RENEWAL: Duration = Duration::from_secs(1);

struct Ends<'a, T>(&'a Shared<T>);

impl<T> Drop for Ends<'_, T> {
    fn drop(&mut self) {
        self.0.writer_ended();
    }
}

/// One transaction: the dead letters added to their stream, every entry
/// done with acknowledged, the stream trimmed below what every group still
/// needs (see [`TRIM_DONE`]), the failed deliveries counted, and the claim
/// on held entries renewed.
fn pipeline<T>(shared: &Shared<T>, writes: Writes, held: &[String]) -> Pipeline {
    let settings = &shared.settings;
    let mut pipe = redis::pipe();
    pipe.atomic();
    let mut done = writes.acks;
    for dead in writes.dead {
        let add = pipe
            .cmd("XADD")
            .arg(&settings.dead_key)
            .arg("*")
            .arg("id")
            .arg(&dead.id)
            .arg(FIELD)
            .arg(dead.raw)
            .arg("attempts")
            .arg(dead.attempts)
            .arg("reason")
            .arg(dead.reason.as_str());
        if let Some(detail) = dead.detail {
            add.arg("detail").arg(detail);
        }
        for (name, value) in dead.fields {
            add.arg([&b"field:"[..], &name].concat()).arg(value);
        }
        add.ignore();
        done.push(dead.id);
    }
    if !done.is_empty() {
        pipe.cmd("XACK")
            .arg(&settings.key)
            .arg(&settings.group)
            .arg(&done)
            .ignore();
        pipe.cmd("EVAL")
            .arg(TRIM_DONE)
            .arg(1)
            .arg(&settings.key)
            .ignore();
    }
    for (id, failed) in writes.failed {
        claim(&mut pipe, settings, std::slice::from_ref(&id))
            .arg("RETRYCOUNT")
            .arg(failed)
            .arg("JUSTID")
            .ignore();
    }
    if !held.is_empty() {
        claim(&mut pipe, settings, held).arg("JUSTID").ignore();
    }
    pipe
}

/// `XCLAIM` of `ids` by this consumer, idle or not (with `JUSTID`, the
/// claim itself counts no delivery); its options follow.
fn claim<'a>(pipe: &'a mut Pipeline, settings: &Settings, ids: &[String]) -> &'a mut Pipeline {
    pipe.cmd("XCLAIM")
        .arg(&settings.key)
        .arg(&settings.group)
        .arg(&settings.consumer)
        .arg(0)
        .arg(ids)
}
