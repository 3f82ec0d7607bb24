//! What a hostile trial found, against a real redis-server: a put-back that
//! must wake a waiting task, a codec that panics, settings at the ends of
//! their ranges, counts across a process death, entries that are not
//! messages, and two receivers under one consumer name.

mod support;

use std::time::Duration;

use stage::redis::{Codec, CodecError, ConnectError, LocalServer, Stream};
use support::{entries, server, within, worker_1};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_put_back_wakes_a_task_already_waiting() {
    let (_server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    let inbox = worker_1(&orders).await;
    tx.send(1).await.unwrap();
    let first = within("the first receive", inbox.recv_guarded()).await;
    // The fetcher waits in its next read; a task waits for an entry.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiter = tokio::spawn({
        let inbox = inbox.clone();
        async move { inbox.recv_guarded().await.into_inner() }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(first); // put back
    assert_eq!(within("the waiter", waiter).await.unwrap(), 1);
}

/// Panics on the bytes `boom`.
struct Fragile;

impl Codec<String> for Fragile {
    fn encode(&self, message: &String) -> Result<Vec<u8>, CodecError> {
        Ok(message.clone().into_bytes())
    }

    fn decode(&self, bytes: &[u8]) -> Result<String, CodecError> {
        assert!(bytes != b"boom", "decoder bug");
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
}

#[tokio::test]
async fn a_codec_that_panics_makes_a_dead_letter_not_a_dead_receiver() {
    let (server, orders) = server();
    let tx = orders
        .sender::<String>()
        .codec(Fragile)
        .connect()
        .await
        .unwrap();
    let inbox = orders
        .receiver::<String>("billing", "worker-1")
        .codec(Fragile)
        .connect()
        .await
        .unwrap();
    tx.send_batch(vec!["boom".into(), "fine".into()])
        .await
        .unwrap();
    assert_eq!(within("the good entry", inbox.recv()).await, "fine");
    assert!(!inbox.is_closed());
    within("the writes", inbox.flush()).await;
    let dead = entries(&server, "orders:dead").await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["m"], "boom");
    assert_eq!(dead[0]["attempts"], "1", "read once: one delivery");
    assert!(dead[0]["detail"].contains("decoder bug"), "{dead:?}");
}

#[tokio::test]
async fn an_entry_that_holds_no_message_keeps_its_fields_in_its_dead_letter() {
    let (server, orders) = server();
    let mut raw = support::connection(&server).await;
    let _: String = redis::cmd("XADD")
        .arg("orders")
        .arg("*")
        .arg("other")
        .arg("precious data")
        .query_async(&mut raw)
        .await
        .unwrap();
    let inbox = worker_1(&orders).await;
    within("the dead letter", async {
        while inbox.stats().dead_letters == 0 {
            inbox.flush().await;
            tokio::task::yield_now().await;
        }
    })
    .await;
    let dead = entries(&server, "orders:dead").await;
    assert_eq!(dead[0]["field:other"], "precious data", "{dead:?}");
    assert_eq!(dead[0]["attempts"], "1");
}

#[tokio::test]
async fn settings_at_the_ends_of_their_ranges_work() {
    let (_server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    let huge = orders
        .receiver::<u32>("billing", "worker-1")
        .batch(usize::MAX)
        .claim_after(Duration::MAX)
        .connect()
        .await
        .unwrap();
    tx.send_batch(vec![1, 2]).await.unwrap();
    assert_eq!(within("a receive", huge.recv()).await, 1);
    assert_eq!(within("a receive", huge.recv()).await, 2);
    assert!(!huge.is_closed());
    within("the writes", huge.flush()).await;
    assert_eq!(huge.stats().errors, 0, "{:?}", huge.stats());
    let short = orders
        .receiver::<u32>("billing", "worker-2")
        .claim_after(Duration::from_millis(99))
        .connect()
        .await;
    assert!(matches!(short, Err(ConnectError::Invalid(_))));
}

#[tokio::test]
async fn a_group_that_exists_already_is_no_error() {
    let (_server, orders) = server();
    let first = worker_1(&orders).await;
    let second = orders
        .receiver::<u32>("billing", "worker-2")
        .connect()
        .await
        .unwrap();
    assert_eq!((first.stats().errors, second.stats().errors), (0, 0));
}

#[tokio::test]
async fn one_consumer_name_has_one_receiver_in_a_process() {
    let (_server, orders) = server();
    let first = worker_1(&orders).await;
    let again = orders
        .receiver::<u32>("billing", "worker-1")
        .connect()
        .await;
    assert!(matches!(&again, Err(ConnectError::ConsumerInUse(name)) if name == "worker-1"));
    let other_group = orders
        .receiver::<u32>("shipping", "worker-1")
        .connect()
        .await;
    assert!(other_group.is_ok(), "another group's consumer is another");
    drop(first);
    let after = orders
        .receiver::<u32>("billing", "worker-1")
        .connect()
        .await;
    assert!(after.is_ok(), "given back with the last handle");
}

#[test]
fn a_sender_made_outside_a_runtime_is_refused_not_a_panic() {
    let server = LocalServer::start().unwrap();
    let orders = Stream::open(server.url(), "orders").unwrap();
    let made = futures_util::FutureExt::now_or_never(orders.sender::<u32>().connect());
    assert!(
        matches!(made, Some(Err(ConnectError::NoRuntime))),
        "{made:?}"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn an_entry_put_back_and_then_lost_with_its_process_is_counted_right() {
    let server = LocalServer::start().unwrap();
    let orders = Stream::open(server.url(), "orders").unwrap();
    let first = runtime();
    first.block_on(async {
        let tx = orders.sender::<u32>().connect().await.unwrap();
        tx.send(7).await.unwrap();
        let inbox = orders
            .receiver::<u32>("billing", "worker-1")
            .max_attempts(2)
            .connect()
            .await
            .unwrap();
        drop(within("the first delivery", inbox.recv_guarded()).await);
        within("the count's write", inbox.flush()).await;
        let second = within("the second delivery", inbox.recv_guarded()).await;
        assert_eq!(second.attempt(), 2);
        // The process dies while it handles the second delivery.
        std::mem::forget(second);
        std::mem::forget(inbox);
    });
    first.shutdown_background();
    runtime().block_on(async {
        let inbox = orders
            .receiver::<u32>("billing", "worker-2")
            .max_attempts(2)
            .claim_after(Duration::from_millis(200))
            .connect()
            .await
            .unwrap();
        within("the dead letter", async {
            while inbox.stats().dead_letters == 0 {
                inbox.flush().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(inbox.try_recv().is_err(), "not delivered a third time");
    });
}
