//! Delivery through a Redis stream, against a real redis-server: the
//! guarded receive, acknowledgement, redelivery after a panic and after an
//! abort, dead letters and entries that do not decode.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use stage::redis::Json;
use support::{entries, pending, server, within, worker_1};

#[tokio::test]
async fn a_message_sent_is_received_acknowledged_and_removed_from_the_stream() {
    let (server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    let inbox = worker_1(&orders).await;
    let ids = tx.send_batch(vec![1, 2, 3]).await.unwrap();
    assert_eq!(ids.len(), 3);
    let mut got = Vec::new();
    for _ in 0..3 {
        let order = within("a receive", inbox.recv_guarded()).await;
        assert_eq!(order.attempt(), 1);
        got.push(order.into_inner());
    }
    assert_eq!(got, [1, 2, 3], "in stream order");
    within("the acknowledgements", inbox.flush()).await;
    assert_eq!(
        tx.backlog().await.unwrap(),
        0,
        "acknowledged entries are deleted"
    );
    assert_eq!(pending(&server, "orders", "billing").await, 0);
    let stats = inbox.stats();
    assert_eq!((stats.received, stats.acked), (3, 3));
}

#[tokio::test]
async fn a_delivery_dropped_unacknowledged_comes_back_ahead_of_the_others() {
    let (_server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    let inbox = worker_1(&orders).await;
    tx.send_batch(vec![1, 2, 3]).await.unwrap();
    let first = within("a receive", inbox.recv_guarded()).await;
    assert_eq!(*first, 1);
    drop(first); // its handler crashed
    let again = within("a receive", inbox.recv_guarded()).await;
    assert_eq!((*again, again.attempt()), (1, 2));
    again.ack();
    assert_eq!(within("a receive", inbox.recv()).await, 2);
    assert_eq!(inbox.stats().redeliveries, 1);
}

#[tokio::test]
async fn a_group_whose_handler_panics_handles_every_message_once_it_succeeds() {
    let (server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    let inbox = worker_1(&orders).await;
    let (done, receipts) = stage::mailbox(64);
    let group = stage::group()
        .tasks(2)
        .backoff(stage::group::Backoff::none())
        .spawn(move || {
            let (inbox, done) = (inbox.clone(), done.clone());
            async move {
                loop {
                    let order = inbox.recv_guarded().await;
                    let attempt = order.attempt();
                    order
                        .process(async |id: &mut u32| {
                            if *id == 7 && attempt == 1 {
                                panic!("payment service hiccup on order {id}");
                            }
                            done.send((*id, attempt)).await.unwrap();
                        })
                        .await;
                }
            }
        });
    tx.send_batch((0..10).collect()).await.unwrap();
    let mut handled = Vec::new();
    for _ in 0..10 {
        handled.push(within("a receipt", receipts.recv()).await);
    }
    handled.sort();
    assert_eq!(
        handled[7],
        (7, 2),
        "crashed once, handled on its second attempt"
    );
    assert_eq!(handled.len(), 10);
    group.stop().await.unwrap();
    assert_eq!(
        support::entries(&server, "orders:dead").await.len(),
        0,
        "no dead letter"
    );
}

#[tokio::test]
async fn a_delivery_whose_task_is_aborted_is_handed_out_again() {
    let (_server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    let inbox = worker_1(&orders).await;
    tx.send(5).await.unwrap();
    let (started, mut running) = tokio::sync::mpsc::channel(1);
    let stuck = tokio::spawn({
        let inbox = inbox.clone();
        async move {
            let order = inbox.recv_guarded().await;
            started.send(()).await.unwrap();
            std::future::pending::<()>().await; // never acknowledges
            order.ack();
        }
    });
    within("the first delivery", running.recv()).await;
    stuck.abort();
    assert!(stuck.await.unwrap_err().is_cancelled());
    let again = within("the redelivery", inbox.recv_guarded()).await;
    assert_eq!((*again, again.attempt()), (5, 2));
    again.ack();
}

#[tokio::test]
async fn an_entry_that_keeps_failing_becomes_a_dead_letter_with_its_last_panic() {
    let (server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    let inbox = orders
        .receiver::<u32>("billing", "worker-1")
        .max_attempts(2)
        .connect()
        .await
        .unwrap();
    tx.send_batch(vec![13, 14]).await.unwrap();
    for attempt in 1..=2 {
        let order = within("a receive", inbox.recv_guarded()).await.into_owned();
        assert_eq!((*order, order.attempt()), (13, attempt));
        let handler = tokio::spawn(async move {
            order
                .process(async |_: &mut u32| panic!("unlucky thirteen"))
                .await
        });
        assert!(handler.await.unwrap_err().is_panic());
    }
    // 13 is gone: its second failure made it a dead letter.
    assert_eq!(within("a receive", inbox.recv()).await, 14);
    within("the writes", inbox.flush()).await;
    let dead = entries(&server, "orders:dead").await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["m"], "13");
    assert_eq!(dead[0]["attempts"], "2");
    assert_eq!(dead[0]["reason"], "failed");
    assert_eq!(dead[0]["detail"], "unlucky thirteen");
    assert_eq!(entries(&server, "orders").await.len(), 0);
    assert_eq!(pending(&server, "orders", "billing").await, 0);
    assert_eq!(inbox.stats().dead_letters, 1);
}

#[tokio::test]
async fn an_entry_that_does_not_decode_is_a_dead_letter_not_a_crash() {
    let (server, orders) = server();
    let mut raw = support::connection(&server).await;
    for (field, value) in [("m", "not json"), ("other", "1")] {
        let _: String = redis::cmd("XADD")
            .arg("orders")
            .arg("*")
            .arg(field)
            .arg(value)
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    let tx = orders.sender::<u32>().connect().await.unwrap();
    tx.send(42).await.unwrap();
    let inbox = orders
        .receiver::<u32>("billing", "worker-1")
        .codec(Json)
        .connect()
        .await
        .unwrap();
    assert_eq!(within("the good entry", inbox.recv()).await, 42);
    within("the writes", inbox.flush()).await;
    let dead = entries(&server, "orders:dead").await;
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(dead.iter().all(|letter| letter["reason"] == "undecodable"));
    assert_eq!(dead[0]["m"], "not json");
    assert!(dead[0]["detail"].contains("expected"), "{:?}", dead[0]);
    assert!(dead[1]["detail"].contains("no field"), "{:?}", dead[1]);
    assert_eq!(inbox.stats().undecodable, 2);
    assert_eq!(entries(&server, "orders").await.len(), 0);
}

#[tokio::test]
async fn a_handler_can_give_up_on_an_entry_at_once() {
    let (server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    let inbox = worker_1(&orders).await;
    tx.send(0).await.unwrap();
    within("a receive", inbox.recv_guarded())
        .await
        .dead_letter();
    within("the writes", inbox.flush()).await;
    let dead = entries(&server, "orders:dead").await;
    assert_eq!((dead.len(), dead[0]["reason"].as_str()), (1, "rejected"));
}

#[tokio::test]
async fn several_tasks_share_one_consumer_and_each_entry_goes_to_one_of_them() {
    let (_server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    let inbox = orders
        .receiver::<u32>("billing", "worker-1")
        .batch(16)
        .connect()
        .await
        .unwrap();
    let seen = Arc::new((0..1000).map(|_| AtomicU32::new(0)).collect::<Vec<_>>());
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (inbox, seen) = (inbox.clone(), Arc::clone(&seen));
            tokio::spawn(async move {
                while let Ok(order) = inbox.recv_guarded_or_closed().await {
                    seen[*order as usize].fetch_add(1, Ordering::Relaxed);
                    order.ack();
                }
            })
        })
        .collect();
    tx.send_batch((0..1000).collect()).await.unwrap();
    within("every entry", async {
        while inbox.stats().acked < 1000 {
            inbox.flush().await;
            tokio::task::yield_now().await;
        }
    })
    .await;
    inbox.close();
    for task in tasks {
        within("a consumer's end", task).await.unwrap();
    }
    assert!(seen.iter().all(|n| n.load(Ordering::Relaxed) == 1));
}

#[tokio::test]
async fn two_groups_each_get_every_entry_and_the_stream_is_trimmed_when_both_are_done() {
    let (server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    let billing = worker_1(&orders).await;
    let shipping = orders
        .receiver::<u32>("shipping", "worker-1")
        .connect()
        .await
        .unwrap();
    tx.send_batch(vec![1, 2, 3]).await.unwrap();
    for expected in [1, 2, 3] {
        assert_eq!(within("billing", billing.recv()).await, expected);
    }
    within("billing's acknowledgements", billing.flush()).await;
    assert_eq!(
        entries(&server, "orders").await.len(),
        3,
        "shipping has not read them: kept"
    );
    assert_eq!(tx.backlog().await.unwrap(), 3, "shipping's backlog");
    for expected in [1, 2, 3] {
        assert_eq!(within("shipping", shipping.recv()).await, expected);
    }
    within("shipping's acknowledgements", shipping.flush()).await;
    assert_eq!(entries(&server, "orders").await.len(), 0, "both are done");
    assert_eq!(tx.backlog().await.unwrap(), 0);
}

#[tokio::test]
async fn the_backlog_counts_what_is_not_acknowledged_behind_a_slow_entry() {
    let (server, orders) = server();
    let tx = orders.sender::<u32>().max_len(3).connect().await.unwrap();
    let inbox = worker_1(&orders).await;
    tx.send_batch(vec![1, 2, 3]).await.unwrap();
    let slow = within("a receive", inbox.recv_guarded()).await;
    assert_eq!(*slow, 1);
    for expected in [2, 3] {
        assert_eq!(within("a receive", inbox.recv()).await, expected);
    }
    within("the acknowledgements", inbox.flush()).await;
    // 2 and 3 are done, behind the slow 1: the stream keeps them until 1
    // is, but they do not count against the bound.
    assert_eq!(entries(&server, "orders").await.len(), 3);
    assert_eq!(tx.backlog().await.unwrap(), 1);
    within("two more sends", tx.send_batch(vec![4, 5]))
        .await
        .unwrap();
    slow.ack();
    for expected in [4, 5] {
        assert_eq!(within("a receive", inbox.recv()).await, expected);
    }
    within("the acknowledgements", inbox.flush()).await;
    assert_eq!(entries(&server, "orders").await.len(), 0);
}
