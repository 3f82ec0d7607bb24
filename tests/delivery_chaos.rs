//! Chaos through a group on the multi-threaded runtime: 100,000 numbered
//! messages from several producers, handlers that panic on 5% of attempts
//! (seeded), tasks aborted mid-message, and a few poison messages that always
//! panic. At the end every normal message was handled exactly once, delivered
//! again only after a crashed attempt, every poison message is a dead letter
//! with the right attempt count, and nothing else is lost.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stage::group::Backoff;
use stage::mailbox::{Builder, DeadLetter, Receiver};

const MESSAGES: u32 = 100_000;
const PRODUCERS: u32 = 4;
const WORKERS: usize = 4;
const MAX_ATTEMPTS: u32 = 12;
const SEED: u64 = 0x5EED_CA05;

/// Poison messages: 1234, 21234, 41234, 61234, 81234.
fn is_poison(id: u32) -> bool {
    id % 20_000 == 1_234
}

/// Whether attempt `attempt` of message `id` panics: 5% of attempts, the
/// same ones on every run.
fn chaos_panics(id: u32, attempt: u32) -> bool {
    let mut rng = fastrand::Rng::with_seed(SEED ^ (u64::from(id) << 32) ^ u64::from(attempt));
    rng.u8(..100) < 5
}

/// What happened to every message.
struct Book {
    delivered: Vec<AtomicU32>,
    crashed: Vec<AtomicU32>,
    completed: Vec<AtomicU32>,
    panics: AtomicU64,
    /// Messages completed or dead-lettered: when it reaches `MESSAGES`,
    /// every message is accounted for.
    settled: AtomicUsize,
    all_settled: tokio::sync::Notify,
}

impl Book {
    fn new() -> Self {
        let counters = || (0..MESSAGES).map(|_| AtomicU32::new(0)).collect();
        Self {
            delivered: counters(),
            crashed: counters(),
            completed: counters(),
            panics: AtomicU64::new(0),
            settled: AtomicUsize::new(0),
            all_settled: tokio::sync::Notify::new(),
        }
    }

    fn settle_one(&self) {
        if self.settled.fetch_add(1, Ordering::AcqRel) + 1 == MESSAGES as usize {
            self.all_settled.notify_one();
        }
    }

    fn count(counters: &[AtomicU32]) -> u64 {
        counters
            .iter()
            .map(|c| u64::from(c.load(Ordering::Relaxed)))
            .sum()
    }
}

/// Counts an attempt as crashed unless it finished: dropped by a panic's
/// unwinding, or by an abort of its task.
struct Attempt<'a> {
    book: &'a Book,
    id: u32,
    finished: bool,
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.book.crashed[self.id as usize].fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn worker(rx: Receiver<u32>, book: Arc<Book>) {
    loop {
        let delivery = rx.recv_guarded().await;
        let (id, attempt) = (*delivery, delivery.attempt());
        book.delivered[id as usize].fetch_add(1, Ordering::Relaxed);
        let mut this_attempt = Attempt {
            book: &book,
            id,
            finished: false,
        };
        delivery
            .process(async |&mut id| {
                tokio::task::yield_now().await; // mid-message: aborts land here
                if is_poison(id) || chaos_panics(id, attempt) {
                    book.panics.fetch_add(1, Ordering::Relaxed);
                    panic!("message {id} failed attempt {attempt}");
                }
                book.completed[id as usize].fetch_add(1, Ordering::Relaxed);
            })
            .await;
        this_attempt.finished = true;
        book.settle_one();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_least_once_through_a_group_loses_nothing_under_chaos() {
    // Keep the thousands of injected panics off the terminal, not others.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload().downcast_ref::<String>();
        if !payload.is_some_and(|text| text.starts_with("message ")) {
            report(info);
        }
    }));
    let book = Arc::new(Book::new());
    let dead_letters = Arc::new(Mutex::new(Vec::<DeadLetter<u32>>::new()));
    let (tx, rx) = Builder::new(64)
        .max_attempts(MAX_ATTEMPTS)
        .dead_letters({
            let (book, dead_letters) = (Arc::clone(&book), Arc::clone(&dead_letters));
            move |letter| {
                dead_letters.lock().unwrap().push(letter);
                book.settle_one();
            }
        })
        .build();

    let group = stage::group()
        .name("chaos")
        .tasks(WORKERS)
        .backoff(Backoff::none())
        .spawn({
            let book = Arc::clone(&book);
            move || worker(rx.clone(), Arc::clone(&book))
        });

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let share = MESSAGES / PRODUCERS;
                for id in p * share..(p + 1) * share {
                    tx.send(id).await.expect("the mailbox stays open");
                }
            })
        })
        .collect();

    // Abort the newest worker now and then, whatever it is doing.
    let done = Arc::new(AtomicBool::new(false));
    let aborter = tokio::spawn({
        let (group, done) = (group, Arc::clone(&done));
        async move {
            let mut toggles = 0u64;
            while !done.load(Ordering::Relaxed) {
                group.downscale(1);
                tokio::time::sleep(Duration::from_millis(1)).await;
                group.upscale(1).expect("within the limit");
                tokio::time::sleep(Duration::from_millis(1)).await;
                toggles += 1;
            }
            (group, toggles)
        }
    });

    for producer in producers {
        producer.await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(60), book.all_settled.notified())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "after a minute only {} of {MESSAGES} messages were handled or dead-lettered",
                book.settled.load(Ordering::Relaxed)
            )
        });
    done.store(true, Ordering::Relaxed);
    let (mut group, toggles) = aborter.await.unwrap();
    // The supervisor may still be taking in the last exits.
    let panics = book.panics.load(Ordering::Relaxed);
    tokio::time::timeout(Duration::from_secs(60), async {
        while group.stat_borrow().panicked < panics {
            group.changed().await.expect("the group runs");
        }
    })
    .await
    .expect("the group sees every panic");
    let group_stats = *group.stat_borrow();
    group.stop().await.unwrap();

    let dead_letters = dead_letters.lock().unwrap();
    let mut poison_seen = Vec::new();
    for letter in dead_letters.iter() {
        let id = *letter.message();
        assert!(
            is_poison(id),
            "message {id} was dead-lettered but is not poison"
        );
        assert_eq!(letter.attempts(), MAX_ATTEMPTS, "attempts of poison {id}");
        assert!(
            letter
                .last_panic()
                .is_some_and(|p| p.starts_with(&format!("message {id} "))),
            "poison {id}: last panic {:?}",
            letter.last_panic()
        );
        poison_seen.push(id);
    }
    poison_seen.sort_unstable();
    let poison: Vec<u32> = (0..MESSAGES).filter(|&id| is_poison(id)).collect();
    assert_eq!(poison_seen, poison, "every poison message, once each");

    for id in 0..MESSAGES {
        let i = id as usize;
        let delivered = book.delivered[i].load(Ordering::Relaxed);
        let crashed = book.crashed[i].load(Ordering::Relaxed);
        let completed = book.completed[i].load(Ordering::Relaxed);
        if is_poison(id) {
            assert_eq!(
                (completed, delivered, crashed),
                (0, MAX_ATTEMPTS, MAX_ATTEMPTS)
            );
        } else {
            assert_eq!(completed, 1, "message {id} handled exactly once");
            assert_eq!(
                delivered,
                1 + crashed,
                "message {id} delivered again only after a crash"
            );
        }
    }

    let delivered = Book::count(&book.delivered);
    let crashed = Book::count(&book.crashed);
    let aborted_mid_message = crashed - panics;
    let stats = tx.stats();
    println!(
        "sent {MESSAGES}, deliveries {delivered}, handled {}, crashed attempts {crashed} \
         ({panics} panics, {aborted_mid_message} aborted mid-message over {toggles} downscales), \
         redeliveries {}, dead letters {}, lost 0; group: {} restarts",
        Book::count(&book.completed),
        stats.redeliveries,
        stats.dead_letters,
        group_stats.restarted,
    );
    assert_eq!(
        stats.redeliveries, crashed,
        "every crashed attempt put back"
    );
    assert_eq!(stats.dead_letters, poison.len() as u64);
    assert_eq!(group_stats.panicked, panics, "the group saw every panic");
    assert!(
        aborted_mid_message > 0,
        "some tasks were aborted mid-message"
    );
    assert!(tx.is_empty(), "nothing left over");
}
