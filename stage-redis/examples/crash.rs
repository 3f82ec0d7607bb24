//! A whole process crashes, and nothing is lost.
//!
//! One command starts a durable redis-server of its own, two consumer
//! processes (this same program, `consume`) that share a stream of numbered
//! messages through one consumer group, and a producer that adds the
//! messages. It kills one consumer with SIGKILL several times mid-run and
//! starts it again under the same name (it takes back what it held at
//! once); once, it leaves it down for longer than the claim time, and the
//! other consumer claims what it held. At the end it checks, from what the
//! handlers wrote in Redis:
//!
//! - every message was handled;
//! - a message was handled more than once only if a consumer died while
//!   holding it (it was delivered again, counted as a redelivery);
//!
//! and prints how many were handled twice.
//!
//! Run: `cargo run --release -p stage-redis --example crash`
//! (flags: `--messages 100000 --kills 5`).

use std::collections::HashMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use stage::redis::{LocalServer, Stream};

const STREAM: &str = "numbers";
const GROUP: &str = "counters";
/// How long a dead consumer's entries wait before the other claims them.
const CLAIM_AFTER: Duration = Duration::from_millis(1500);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("consume") {
        return consume(&args[1], &args[2]).await;
    }
    let flag = |name: &str, default: u64| {
        args.iter()
            .position(|arg| arg == name)
            .and_then(|at| args.get(at + 1))
            .map_or(default, |value| value.parse().expect("a number"))
    };
    supervise(flag("--messages", 100_000), flag("--kills", 5)).await
}

/// A consumer process: a group of four tasks on one consumer, each message
/// recorded as handled in Redis by its handler.
async fn consume(url: &str, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let stream = Stream::open(url, STREAM)?;
    let inbox = stream
        .receiver::<u64>(GROUP, name)
        .batch(128)
        .max_attempts(20)
        .claim_after(CLAIM_AFTER)
        .connect()
        .await?;
    let records = connect(url).await?;
    // Says when it claims the entries of a consumer that died.
    tokio::spawn({
        let (inbox, name) = (inbox.clone(), name.to_owned());
        async move {
            let mut claimed = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let now = inbox.stats().claimed;
                if now > claimed {
                    println!(
                        "  {name} claimed {} entries left by a dead consumer",
                        now - claimed
                    );
                    claimed = now;
                }
            }
        }
    });
    let group = stage::group().tasks(4).spawn(move || {
        let (inbox, mut records) = (inbox.clone(), records.clone());
        async move {
            loop {
                let number = inbox.recv_guarded().await;
                let redelivered = number.attempt() > 1;
                number
                    .process(async |n: &mut u64| {
                        // The handler's effect: counted in Redis.
                        let mut pipe = redis::pipe();
                        pipe.hincr("handled", *n, 1).ignore();
                        if redelivered {
                            pipe.sadd("redelivered", *n).ignore();
                        }
                        let _: () = pipe.query_async(&mut records).await.expect("redis");
                    })
                    .await;
            }
        }
    });
    group.join().await?;
    Ok(())
}

/// A connection whose replies may take a while (a whole hash of 100,000
/// counts, on a loaded machine): redis's default waits half a second.
async fn connect(url: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let config =
        redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(30)));
    redis::Client::open(url)?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// Starts the server, the consumers and the producer; kills and restarts
/// one consumer; checks the outcome.
async fn supervise(messages: u64, kills: u64) -> Result<(), Box<dyn std::error::Error>> {
    let server = LocalServer::start_durable()?;
    let url = server.url();
    let stream = Stream::open(url.as_str(), STREAM)?;
    let start = Instant::now();
    println!("redis-server on {url}; {messages} messages, 2 consumer processes");

    let spawn = |name: &str| -> std::io::Result<Child> {
        Command::new(std::env::current_exe()?)
            .args(["consume", url.as_str(), name])
            .spawn()
    };
    let mut steady = spawn("consumer-a")?;
    let mut victim = spawn("consumer-b")?;

    let producer = tokio::spawn({
        let stream = stream.clone();
        async move {
            let tx = stream.sender::<u64>().max_len(20_000).connect().await?;
            for chunk in (0..messages).collect::<Vec<_>>().chunks(500) {
                tx.send_batch(chunk.to_vec()).await?;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }
    });

    let mut redis = connect(&url).await?;
    let handled = async |redis: &mut redis::aio::MultiplexedConnection| -> u64 {
        redis.hlen("handled").await.unwrap_or(0)
    };
    // Kill consumer-b at spread-out points of the run; the last time, leave
    // it down past the claim time, so that consumer-a claims its entries.
    for kill in 1..=kills {
        let at = messages * kill / (kills + 1);
        while handled(&mut redis).await < at {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        victim.kill()?;
        victim.wait()?;
        let down = if kill == kills {
            CLAIM_AFTER * 2
        } else {
            Duration::from_millis(50)
        };
        println!(
            "  {:>6} handled: consumer-b killed (SIGKILL); back in {down:?}",
            handled(&mut redis).await
        );
        tokio::time::sleep(down).await;
        victim = spawn("consumer-b")?;
    }
    producer.await?.map_err(|error| error.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while handled(&mut redis).await < messages {
        if Instant::now() > deadline {
            return Err("not every message was handled within 2 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for consumer in [&mut steady, &mut victim] {
        consumer.kill()?;
        consumer.wait()?;
    }

    let counts: HashMap<u64, u64> = redis.hgetall("handled").await?;
    let redelivered: Vec<u64> = redis.smembers("redelivered").await?;
    let twice: Vec<u64> = counts
        .iter()
        .filter(|(_, times)| **times > 1)
        .map(|(n, _)| *n)
        .collect();
    let unexplained: Vec<_> = twice.iter().filter(|n| !redelivered.contains(n)).collect();
    let missing = (0..messages).filter(|n| !counts.contains_key(n)).count();
    let dead_letters: u64 = redis.xlen(format!("{STREAM}:dead")).await?;
    println!(
        "handled {} of {messages} in {:.1?}: {missing} missing, {} handled more than once \
         (each delivered again after a kill), {} redelivered in all, {dead_letters} dead letters",
        counts.len(),
        start.elapsed(),
        twice.len(),
        redelivered.len(),
    );
    if missing > 0 || !unexplained.is_empty() || dead_letters > 0 {
        return Err(format!(
            "lost {missing}; handled twice without a redelivery: {unexplained:?}; \
             {dead_letters} dead letters"
        )
        .into());
    }
    println!("nothing lost: a crash of a whole process cost only the repeats of what it held");
    drop(server);
    Ok(())
}
