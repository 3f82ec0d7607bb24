//! Messages per second through Redis, each acknowledged, at batch sizes 1,
//! 16 and 128: stage-redis against apalis-redis (a Rust job queue on
//! Redis) and the raw stream commands, all on one redis-server that the
//! bench starts itself, with the in-process mailbox for scale. One
//! criterion group per batch size, so that each figure is a ratio from
//! the same run.
//!
//! Each iteration moves `MESSAGES` numbers from a producer to a consumer
//! that runs at the same time, on a stream (or queue) of its own, and ends
//! when the last is acknowledged and the acknowledgement written:
//!
//! - `stage-redis`: `send_batch` of the batch size; a receiver reading that
//!   many at a time, `recv_guarded` and `ack` per message, then `flush`.
//! - `raw-commands`: the same Redis commands without stage, written by hand
//!   on redis-rs: `XADD` pipelined a batch at a time; `XREADGROUP COUNT`
//!   the batch, then `XACK` of it and `XTRIM MINID` past it in one round
//!   trip. The client side's ceiling (no guard, no decoding, no background
//!   tasks).
//! - `apalis-redis`: `push_bulk` of the batch size; a worker whose fetch
//!   takes the batch size (`Config::batch_size`). Its producer stays at
//!   most 2,000 jobs ahead: with many thousands waiting, apalis-redis 1.0's
//!   fetch script fails at batch 128 ("too many results to unpack").
//! - `mailbox`: the in-process mailbox (capacity 1024, guarded receives).
//!
//! The server's own ceiling for the same commands is `redis-benchmark`'s:
//! `benches/redis-ceiling.sh`.
//!
//! Run: `cargo bench -p stage-benches --bench redis`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stage::redis::{LocalServer, Stream};

/// Messages per iteration.
const MESSAGES: u64 = 20_000;
/// Batch sizes: messages per round trip.
const BATCHES: [usize; 3] = [1, 16, 128];
/// Jobs an apalis-redis producer may push ahead of its worker.
const AHEAD: u64 = 2_000;
/// An iteration that takes this long has hung; it fails loudly instead.
const HANG: Duration = Duration::from_secs(120);

/// A fresh key per iteration: no iteration reads another's leftovers.
fn fresh(what: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{what}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

async fn within<T>(what: &str, work: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG, work)
        .await
        .unwrap_or_else(|_| panic!("{what} hung"))
}

async fn connection(url: &str) -> redis::aio::MultiplexedConnection {
    let config =
        redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(30)));
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap()
}

/// Deletes what an iteration left (memory stays flat across iterations).
async fn forget(url: &str, keys: &[String]) {
    let _: () = redis::cmd("DEL")
        .arg(keys)
        .query_async(&mut connection(url).await)
        .await
        .unwrap();
}

async fn stage_redis(url: String, batch: usize) -> Duration {
    let url = url.as_str();
    let key = fresh("stage");
    let stream = Stream::open(url, key.as_str()).unwrap();
    let tx = stream.sender::<u64>().connect().await.unwrap();
    let inbox = stream
        .receiver::<u64>("bench", "consumer")
        .batch(batch)
        .connect()
        .await
        .unwrap();
    let start = Instant::now();
    let producer = tokio::spawn(async move {
        let numbers: Vec<u64> = (0..MESSAGES).collect();
        for chunk in numbers.chunks(batch) {
            tx.send_batch(chunk.to_vec()).await.unwrap();
        }
    });
    within("stage-redis", async {
        for _ in 0..MESSAGES {
            inbox.recv_guarded().await.ack();
        }
        inbox.flush().await;
    })
    .await;
    let took = start.elapsed();
    producer.await.unwrap();
    drop(inbox);
    forget(url, &[key.clone(), format!("{key}:dead")]).await;
    took
}

async fn raw_commands(url: String, batch: usize) -> Duration {
    let url = url.as_str();
    let key = fresh("raw");
    let (mut producer_connection, mut consumer) = (connection(url).await, connection(url).await);
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&key)
        .arg("bench")
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut consumer)
        .await
        .unwrap();
    let start = Instant::now();
    let producer = tokio::spawn({
        let key = key.clone();
        async move {
            let numbers: Vec<u64> = (0..MESSAGES).collect();
            for chunk in numbers.chunks(batch) {
                let mut pipe = redis::pipe();
                for n in chunk {
                    pipe.cmd("XADD")
                        .arg(&key)
                        .arg("*")
                        .arg("m")
                        .arg(n.to_string())
                        .ignore();
                }
                let _: () = pipe.query_async(&mut producer_connection).await.unwrap();
            }
        }
    });
    within("raw commands", async {
        let mut done = 0;
        while done < MESSAGES {
            let read: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg("bench")
                .arg("consumer")
                .arg("COUNT")
                .arg(batch)
                .arg("BLOCK")
                .arg(2000)
                .arg("STREAMS")
                .arg(&key)
                .arg(">")
                .query_async(&mut consumer)
                .await
                .unwrap();
            let ids: Vec<String> = read
                .keys
                .into_iter()
                .flat_map(|stream| stream.ids)
                .map(|entry| entry.id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            done += ids.len() as u64;
            let mut pipe = redis::pipe();
            pipe.cmd("XACK").arg(&key).arg("bench").arg(&ids).ignore();
            // One consumer, in order: all before the last is acknowledged.
            let last = ids.last().expect("not empty");
            let (ms, seq) = last.split_once('-').expect("an entry ID");
            let past = format!("{ms}-{}", seq.parse::<u64>().unwrap() + 1);
            pipe.cmd("XTRIM").arg(&key).arg("MINID").arg(past).ignore();
            let _: () = pipe.query_async(&mut consumer).await.unwrap();
        }
    })
    .await;
    let took = start.elapsed();
    producer.await.unwrap();
    forget(url, &[key]).await;
    took
}

async fn apalis_redis(url: String, batch: usize) -> Duration {
    let url = url.as_str();
    use apalis::prelude::*;
    use apalis_redis::{Config, RedisStorage};

    let queue = fresh("apalis");
    let client = redis::Client::open(url).unwrap();
    let manager = client.get_connection_manager().await.unwrap();
    let config = Config::default().queue(&queue).batch_size(batch);
    let storage = RedisStorage::<u64, _>::new(manager).with_config(config);
    let mut sink = storage.clone();
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let producer = tokio::spawn({
        let done = Arc::clone(&done);
        async move {
            let numbers: Vec<u64> = (0..MESSAGES).collect();
            for (pushed, chunk) in numbers.chunks(batch).enumerate() {
                // At most `AHEAD` jobs waiting: apalis-redis 1.0's fetch
                // script fails ("too many results to unpack") once many
                // thousands wait.
                while (pushed * batch) as u64 > done.load(Ordering::Relaxed) + AHEAD {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                sink.push_bulk(chunk.to_vec()).await.unwrap();
            }
        }
    });
    let worker = WorkerBuilder::new(fresh("worker")).backend(storage).build(
        move |_: u64, worker: WorkerContext| {
            let done = Arc::clone(&done);
            async move {
                if done.fetch_add(1, Ordering::Relaxed) + 1 == MESSAGES {
                    worker.stop().unwrap();
                }
                Ok::<_, BoxDynError>(())
            }
        },
    );
    within("apalis-redis", worker.run()).await.unwrap();
    let took = start.elapsed();
    producer.await.unwrap();
    let _: () = redis::cmd("FLUSHDB")
        .query_async(&mut connection(url).await)
        .await
        .unwrap();
    took
}

async fn mailbox() -> Duration {
    let (tx, rx) = stage::mailbox(1024);
    let start = Instant::now();
    let producer = tokio::spawn(async move {
        for n in 0..MESSAGES {
            tx.send(n).await.unwrap();
        }
    });
    within("the mailbox", async {
        for _ in 0..MESSAGES {
            rx.recv_guarded().await.ack();
        }
    })
    .await;
    let took = start.elapsed();
    producer.await.unwrap();
    took
}

/// One iteration of a peer: the server's URL and the batch size in, the
/// time it took out.
type Peer = fn(String, usize) -> Pin<Box<dyn Future<Output = Duration>>>;

fn bench(c: &mut Criterion) {
    let server = LocalServer::start().expect("redis-server starts");
    let url = server.url();
    // Two workers (this machine's cores), with I/O for the connections.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for batch in BATCHES {
        let mut group = c.benchmark_group(format!("redis/batch_{batch}"));
        group.throughput(Throughput::Elements(MESSAGES));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(5));
        let peers: [(&str, Peer); 4] = [
            ("stage-redis", |url, batch| {
                Box::pin(stage_redis(url, batch))
            }),
            ("raw-commands", |url, batch| {
                Box::pin(raw_commands(url, batch))
            }),
            ("apalis-redis", |url, batch| {
                Box::pin(apalis_redis(url, batch))
            }),
            ("mailbox", |_, _| Box::pin(mailbox())),
        ];
        for (name, peer) in peers {
            group.bench_function(BenchmarkId::new(name, batch), |b| {
                b.to_async(&runtime).iter_custom(|iters| {
                    let url = url.clone();
                    async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            total += peer(url.clone(), batch).await;
                        }
                        total
                    }
                });
            });
        }
        group.finish();
    }
    drop(server);
}

criterion_group!(benches, bench);
criterion_main!(benches);
