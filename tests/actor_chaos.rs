//! Chaos: a bank of account actors exchanging transfers while seeded
//! panics strike at every step of a transfer, and the clients kill
//! accounts at random. Money is neither made nor lost: at the end the
//! total is what it was, every transfer a client asked for was carried
//! out exactly once in effect, and what at-least-once delivery repeated
//! is counted, not applied twice.
//!
//! How the bank survives: an account's state lives in a store (standing in
//! for a database), written together with the id of the operation that
//! changed it, so that a redelivered operation is recognised and skipped;
//! accounts redeliver the message they crashed on (`redeliver`), so a
//! transfer whose debit was made always gets its credit sent.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stage::actor::{Actor, Addr, Context, Reply};
use stage::group::Backoff;

const ACCOUNTS: usize = 12;
const CLIENTS: usize = 8;
const TRANSFERS_PER_CLIENT: u64 = 2_000;
const OPENING_BALANCE: i64 = 1_000;
/// One attempt in this many panics, at each of the three steps.
const PANIC_ONE_IN: u32 = 25;
const ATTEMPTS: u32 = 50;
/// Each client kills an account after every this many transfers.
const KILL_EVERY: u64 = 10;

/// The bank's durable state: balances, and the operations applied.
#[derive(Default)]
struct Store {
    balances: HashMap<usize, i64>,
    /// `(transfer, 'd' or 'c')`: a debit or a credit applied.
    applied: HashSet<(u64, char)>,
    /// Operations skipped because they were applied already.
    repeats: u64,
}

#[derive(Clone)]
struct Bank {
    store: Arc<Mutex<Store>>,
    /// Seeded chaos, shared by every account.
    chaos: Arc<Mutex<fastrand::Rng>>,
    panics: Arc<AtomicU64>,
}

impl Bank {
    /// Applies `op` of `transfer` to `account` once: `false` if it was
    /// applied before.
    fn apply(&self, account: usize, transfer: u64, op: char, amount: i64) -> bool {
        let mut store = self.store.lock().unwrap();
        if !store.applied.insert((transfer, op)) {
            store.repeats += 1;
            return false;
        }
        *store.balances.entry(account).or_insert(OPENING_BALANCE) += amount;
        true
    }

    /// Panics now and then, as a buggy step would.
    fn maybe_panic(&self, step: &str) {
        if self.chaos.lock().unwrap().u32(..PANIC_ONE_IN) == 0 {
            self.panics.fetch_add(1, Ordering::Relaxed);
            panic!("chaos at {step}");
        }
    }

    fn total(&self) -> i64 {
        let store = self.store.lock().unwrap();
        (0..ACCOUNTS)
            .map(|a| store.balances.get(&a).copied().unwrap_or(OPENING_BALANCE))
            .sum()
    }
}

struct Account {
    id: usize,
    bank: Bank,
}

#[derive(Clone)]
enum Op {
    /// Moves `amount` from this account to `to`; answered once the credit
    /// is on its way.
    Transfer {
        id: u64,
        amount: i64,
        to: Addr<Account>,
        reply: Reply<()>,
    },
    Credit {
        id: u64,
        amount: i64,
    },
    /// Answered once what was queued before it has been handled.
    Sync(Reply<()>),
}

impl Actor for Account {
    type Msg = Op;

    async fn handle(&mut self, op: Op, _ctx: &mut Context<Self>) {
        let bank = &self.bank;
        match op {
            Op::Transfer {
                id,
                amount,
                to,
                reply,
            } => {
                bank.maybe_panic("before the debit");
                bank.apply(self.id, id, 'd', -amount);
                bank.maybe_panic("between the debit and the credit");
                to.tell(Op::Credit { id, amount }).await.unwrap();
                bank.maybe_panic("after the credit was sent");
                reply.send(());
            }
            Op::Credit { id, amount } => {
                bank.maybe_panic("before the credit");
                bank.apply(self.id, id, 'c', amount);
            }
            Op::Sync(reply) => reply.send(()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_survive_panics_and_kills_with_the_total_intact() {
    // The panics are the point: logged through `tracing` (no subscriber
    // here), not printed.
    stage::group::trace_task_panics();
    let bank = Bank {
        store: Arc::default(),
        chaos: Arc::new(Mutex::new(fastrand::Rng::with_seed(0x5eed))),
        panics: Arc::default(),
    };
    let dead_letters = Arc::new(AtomicU64::new(0));
    let system = stage::actor::System::new(
        stage::supervisor()
            .name("bank")
            .backoff(Backoff::none())
            .intensity(u32::MAX, Duration::from_secs(1)),
    );
    let accounts: Vec<Addr<Account>> = (0..ACCOUNTS)
        .map(|id| {
            let bank = bank.clone();
            let dead = Arc::clone(&dead_letters);
            let account = stage::actor(format!("account-{id}"), move || Account {
                id,
                bank: bank.clone(),
            })
            .capacity(256)
            .redeliver(ATTEMPTS)
            .dead_letters(move |_| {
                dead.fetch_add(1, Ordering::Relaxed);
            });
            system.spawn(account).unwrap()
        })
        .collect();
    let initial = bank.total();
    assert_eq!(initial, OPENING_BALANCE * ACCOUNTS as i64);

    // Kills: every client kills a random account now and then.
    let kills = Arc::new(AtomicU64::new(0));

    let clients: Vec<_> = (0..CLIENTS as u64)
        .map(|client| {
            let accounts = accounts.clone();
            let kills = Arc::clone(&kills);
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(client);
                let mut failed = Vec::new();
                for n in 0..TRANSFERS_PER_CLIENT {
                    let id = client * TRANSFERS_PER_CLIENT + n;
                    let from = rng.usize(..ACCOUNTS);
                    let to = (from + rng.usize(1..ACCOUNTS)) % ACCOUNTS;
                    let amount = rng.i64(1..=100);
                    let to = accounts[to].clone();
                    let asked = accounts[from]
                        .ask(
                            |reply| Op::Transfer {
                                id,
                                amount,
                                to,
                                reply,
                            },
                            Duration::from_secs(30),
                        )
                        .await;
                    if let Err(error) = asked {
                        failed.push((id, error));
                    }
                    if n % KILL_EVERY == 0 && accounts[rng.usize(..ACCOUNTS)].kill() {
                        kills.fetch_add(1, Ordering::Relaxed);
                    }
                }
                failed
            })
        })
        .collect();
    let mut failed = Vec::new();
    for client in clients {
        failed.extend(client.await.unwrap());
    }

    // Every transfer was answered, so every credit is queued: once each
    // account has answered a request sent after them, all are handled.
    for account in &accounts {
        account
            .ask(Op::Sync, Duration::from_secs(30))
            .await
            .unwrap();
    }
    let shutdown = system.shutdown(Duration::from_secs(30)).await.unwrap();
    assert_eq!(shutdown.aborted().count(), 0, "{shutdown}");

    let store = bank.store.lock().unwrap();
    let transfers = CLIENTS as u64 * TRANSFERS_PER_CLIENT;
    let debits = store.applied.iter().filter(|(_, op)| *op == 'd').count() as u64;
    let credits = store.applied.iter().filter(|(_, op)| *op == 'c').count() as u64;
    let repeats = store.repeats;
    drop(store);
    let panics = bank.panics.load(Ordering::Relaxed);
    let kills = kills.load(Ordering::Relaxed);
    eprintln!(
        "{transfers} transfers: {panics} panics, {kills} kills, {repeats} repeated operations \
         skipped, {} asks failed, {} dead letters",
        failed.len(),
        dead_letters.load(Ordering::Relaxed),
    );
    assert!(panics > 50, "the chaos struck: {panics} panics");
    assert!(kills > 100, "the chaos killed: {kills} kills");
    // Nothing dead-lettered with 50 attempts a message, so every transfer
    // went through, exactly once in effect.
    assert_eq!(dead_letters.load(Ordering::Relaxed), 0);
    assert_eq!((debits, credits), (transfers, transfers));
    assert_eq!(bank.total(), initial, "money was made or lost");
    // An ask fails only if the request went to the dead letters: none did.
    assert!(failed.is_empty(), "{failed:?}");
}
