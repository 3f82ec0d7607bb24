//! Entries left pending by a consumer that died, against a real
//! redis-server: taken back by a consumer of the same name at once, and
//! claimed by the others once idle for the claim time, with Redis's
//! delivery counts.

mod support;

use std::time::Duration;

use support::{pending, server, within, worker_1};

#[tokio::test]
async fn a_consumer_started_again_under_its_name_takes_back_what_it_held() {
    let (server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    tx.send_batch(vec![1, 2, 3]).await.unwrap();
    let first = worker_1(&orders).await;
    // It read the three ahead, handled one, and died with the others.
    assert_eq!(within("a receive", first.recv()).await, 1);
    within("the acknowledgement", first.flush()).await;
    within("the read ahead", async {
        while first.len() < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    drop(first);
    assert_eq!(pending(&server, "orders", "billing").await, 2);

    let again = orders
        .receiver::<u32>("billing", "worker-1")
        .claim_after(Duration::from_secs(3600)) // no claim: its own come back
        .connect()
        .await
        .unwrap();
    for expected in [2, 3] {
        let order = within("a recovered entry", again.recv_guarded()).await;
        assert_eq!((*order, order.attempt()), (expected, 2));
        order.ack();
    }
    within("the acknowledgements", again.flush()).await;
    assert_eq!(pending(&server, "orders", "billing").await, 0);
}

#[tokio::test]
async fn entries_of_a_consumer_that_died_are_claimed_by_another_once_idle() {
    let (server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    tx.send_batch((0..10).collect()).await.unwrap();
    let dead = worker_1(&orders).await;
    within("the read ahead", async {
        while dead.len() < 10 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    drop(dead); // its process died: the ten stay pending for worker-1

    let live = orders
        .receiver::<u32>("billing", "worker-2")
        .claim_after(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..10 {
        let order = within("a claimed entry", live.recv_guarded()).await;
        assert_eq!(
            order.attempt(),
            2,
            "Redis counted the dead consumer's delivery"
        );
        got.push(order.into_inner());
    }
    assert_eq!(got, (0..10).collect::<Vec<_>>(), "oldest first");
    within("the acknowledgements", live.flush()).await;
    assert_eq!(pending(&server, "orders", "billing").await, 0);
    assert_eq!(live.stats().claimed, 10);
}

#[tokio::test]
async fn a_live_consumer_with_a_slow_handler_keeps_its_entry() {
    let (_server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    let slow = orders
        .receiver::<u32>("billing", "worker-1")
        .claim_after(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let other = orders
        .receiver::<u32>("billing", "worker-2")
        .claim_after(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    tx.send(1).await.unwrap();
    let (order, from_slow) = tokio::select! {
        order = slow.recv_guarded() => (order.into_owned(), true),
        order = other.recv_guarded() => (order.into_owned(), false),
    };
    let (holder, idle) = if from_slow {
        (&slow, &other)
    } else {
        (&other, &slow)
    };
    // Four claim times: the holder renews its claim; the other claims
    // nothing.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(idle.stats().claimed, 0);
    assert!(idle.try_recv().is_err());
    order.ack();
    within("the acknowledgement", holder.flush()).await;
}

#[tokio::test]
async fn an_entry_whose_consumers_keep_dying_becomes_a_dead_letter() {
    let (server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    tx.send(9).await.unwrap();
    // Two processes read it and die: two deliveries counted.
    for _ in 0..2 {
        let doomed = orders
            .receiver::<u32>("billing", "worker-1")
            .max_attempts(2)
            .connect()
            .await
            .unwrap();
        within("the read", async {
            while doomed.is_empty() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        drop(doomed);
    }
    let last = orders
        .receiver::<u32>("billing", "worker-1")
        .max_attempts(2)
        .connect()
        .await
        .unwrap();
    within("the dead letter", async {
        while last.stats().dead_letters == 0 {
            last.flush().await;
            tokio::task::yield_now().await;
        }
    })
    .await;
    let dead = support::entries(&server, "orders:dead").await;
    assert_eq!(
        (dead[0]["m"].as_str(), dead[0]["reason"].as_str()),
        ("9", "failed")
    );
    assert_eq!(dead[0]["attempts"], "2");
    assert!(last.is_empty());
}

#[tokio::test]
async fn a_live_consumer_keeps_its_entry_from_one_with_a_shorter_claim_time() {
    let (_server, orders) = server();
    let tx = orders.sender::<u32>().connect().await.unwrap();
    let patient = orders
        .receiver::<u32>("billing", "worker-1")
        .claim_after(Duration::from_secs(3600))
        .connect()
        .await
        .unwrap();
    tx.send(1).await.unwrap();
    let order = within("a receive", patient.recv_guarded()).await;
    let eager = orders
        .receiver::<u32>("billing", "worker-2")
        .claim_after(Duration::from_millis(1500))
        .connect()
        .await
        .unwrap();
    // Well past the eager one's claim time: the patient one renews its
    // claim every second whatever its own claim time.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(eager.stats().claimed, 0);
    assert!(eager.try_recv().is_err());
    order.ack();
    within("the acknowledgement", patient.flush()).await;
}
