//! Every message is delivered exactly once, in order per producer, across
//! many producers and consumers on the multi-threaded runtime.

use std::collections::HashMap;

const PRODUCERS: u64 = 4;
const CONSUMERS: usize = 4;
const PER_PRODUCER: u64 = 25_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mpmc_delivers_every_message_exactly_once_in_order_per_producer() {
    let (tx, rx) = stage::mailbox::<(u64, u64)>(64);

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for seq in 0..PER_PRODUCER {
                    tx.send((p, seq)).await.unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Ok(m) = rx.recv_or_closed().await {
                    got.push(m);
                }
                got
            })
        })
        .collect();

    for p in producers {
        p.await.unwrap();
    }
    tx.close();

    let mut seen: HashMap<u64, Vec<u64>> = HashMap::new();
    for c in consumers {
        let got = c.await.unwrap();
        // Each consumer sees each producer's messages in the order sent.
        let mut last: HashMap<u64, u64> = HashMap::new();
        for &(p, seq) in &got {
            if let Some(prev) = last.insert(p, seq) {
                assert!(prev < seq, "producer {p}: {seq} after {prev}");
            }
        }
        for (p, seq) in got {
            seen.entry(p).or_default().push(seq);
        }
    }
    for p in 0..PRODUCERS {
        let mut seqs = seen.remove(&p).unwrap_or_default();
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (0..PER_PRODUCER).collect::<Vec<_>>(),
            "producer {p}: a message was lost or duplicated"
        );
    }
}

#[tokio::test]
async fn blocking_producers_feed_async_consumers() {
    let (tx, rx) = stage::mailbox(8);
    let producer = std::thread::spawn(move || {
        for i in 0..10_000u32 {
            tx.send_blocking(i).unwrap();
        }
        tx.close();
    });
    let mut expected = 0;
    while let Ok(m) = rx.recv_or_closed().await {
        assert_eq!(m, expected);
        expected += 1;
    }
    assert_eq!(expected, 10_000);
    producer.join().unwrap();
}
