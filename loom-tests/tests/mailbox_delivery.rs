//! Delivery over the real lock-free queue, one receiver: no message is lost,
//! none is duplicated, and each sender's messages arrive in order.
#![cfg(loom)]

use loom::future::block_on;
use loom::thread;
use loom_tests::model;

#[test]
fn spsc_delivers_every_message_once_in_order() {
    model(2, || {
        let (tx, rx) = stage_core::mailbox(1);
        let producer = thread::spawn(move || {
            block_on(async {
                for i in 0..3 {
                    tx.send(i).await.unwrap();
                }
            })
        });
        let got: Vec<u32> = block_on(async {
            let mut got = Vec::new();
            for _ in 0..3 {
                got.push(rx.recv().await);
            }
            got
        });
        producer.join().unwrap();
        assert_eq!(got, [0, 1, 2]);
        assert!(rx.try_recv().unwrap_err().is_empty());
    });
}

#[test]
fn two_senders_one_receiver_lose_and_duplicate_nothing() {
    // Sender A sends two messages (to check its order), sender B one, into
    // a mailbox of one slot, so senders wait whenever the receiver lags.
    // (Two pushers on a larger concurrent-queue spin on each other's slot,
    // which loom cannot bound; two senders with two messages each take
    // minutes even at preemption bound 1.)
    model(2, || {
        let (tx, rx) = stage_core::mailbox(1);
        let a = {
            let tx = tx.clone();
            thread::spawn(move || {
                block_on(async {
                    tx.send(1u32).await.unwrap();
                    tx.send(2).await.unwrap();
                })
            })
        };
        let b = thread::spawn(move || block_on(tx.send(10)).unwrap());
        let got: Vec<u32> = block_on(async {
            let mut got = Vec::new();
            for _ in 0..3 {
                got.push(rx.recv().await);
            }
            got
        });
        a.join().unwrap();
        b.join().unwrap();
        // FIFO per sender, and nothing lost or duplicated.
        let from_a: Vec<u32> = got.iter().copied().filter(|&m| m < 10).collect();
        assert_eq!(from_a, [1, 2]);
        assert_eq!(got.iter().filter(|&&m| m == 10).count(), 1);
        assert_eq!(got.len(), 3);
        assert!(rx.try_recv().unwrap_err().is_empty());
    });
}
