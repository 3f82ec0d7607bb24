//! A bank built on actors, healing itself while failures are injected.
//!
//! Eight account actors, spawned in a system, move money between them at
//! the request of four clients. Now and then an account's handler panics
//! (before a debit, between a debit and its credit, after it), and a chaos
//! task kills accounts at random. Every account redelivers the message it
//! crashed on, and applies each operation once (its store records which
//! operations it applied): a transfer whose debit went through always gets
//! its credit, however often the accounts crash. A ledger actor, a child
//! of the system's root, counts the transfers and is asked for the count.
//!
//! At the end the totals are checked: the money in the bank is what it was,
//! and every transfer was carried out once. Then the system is shut down
//! under one deadline, and its report printed.
//!
//! Run: `cargo run --example bank [-- --transfers 20000]`

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stage::actor::{Actor, Addr, Context, Reply};
use stage::group::Backoff;

const ACCOUNTS: usize = 8;
const CLIENTS: u64 = 4;
const OPENING: i64 = 10_000;

/// What survives a crash of an account: balances, and the operations
/// applied (a database, in a real bank).
#[derive(Default)]
struct Store {
    balances: HashMap<usize, i64>,
    applied: HashSet<(u64, char)>,
    repeats: u64,
}

type Shared = Arc<Mutex<Store>>;

struct Account {
    id: usize,
    store: Shared,
    panics: Arc<AtomicU64>,
}

#[derive(Clone)]
enum Op {
    Transfer {
        id: u64,
        amount: i64,
        to: Addr<Account>,
        done: Reply<()>,
    },
    Credit {
        id: u64,
        amount: i64,
    },
    Balance(Reply<i64>),
}

impl Account {
    /// Applies an operation once; a redelivered one is skipped.
    fn apply(&self, id: u64, op: char, amount: i64) {
        let mut store = self.store.lock().unwrap();
        if store.applied.insert((id, op)) {
            *store.balances.entry(self.id).or_insert(OPENING) += amount;
        } else {
            store.repeats += 1;
        }
    }

    /// A bug that bites one time in a hundred.
    fn flaky(&self, step: &str) {
        if fastrand::u8(..100) == 0 {
            self.panics.fetch_add(1, Ordering::Relaxed);
            panic!("account {} crashed {step}", self.id);
        }
    }
}

impl Actor for Account {
    type Msg = Op;

    async fn handle(&mut self, op: Op, _ctx: &mut Context<Self>) {
        match op {
            Op::Transfer {
                id,
                amount,
                to,
                done,
            } => {
                self.flaky("before a debit");
                self.apply(id, 'd', -amount);
                self.flaky("between a debit and its credit");
                // Accounts are stopped only when the bank shuts down, after
                // every transfer: a credit always has somewhere to go.
                if to.tell(Op::Credit { id, amount }).await.is_err() {
                    panic!("account {} is gone: a credit would be lost", to.name());
                }
                self.flaky("after a credit was sent");
                done.send(());
            }
            Op::Credit { id, amount } => {
                self.flaky("before a credit");
                self.apply(id, 'c', amount);
            }
            Op::Balance(reply) => {
                let store = self.store.lock().unwrap();
                reply.send(store.balances.get(&self.id).copied().unwrap_or(OPENING));
            }
        }
    }
}

/// Counts the transfers the clients saw through.
#[derive(Default)]
struct Ledger {
    transfers: u64,
}

enum LedgerMsg {
    Done,
    Count(Reply<u64>),
}

impl Actor for Ledger {
    type Msg = LedgerMsg;

    async fn handle(&mut self, msg: LedgerMsg, _ctx: &mut Context<Self>) {
        match msg {
            LedgerMsg::Done => self.transfers += 1,
            LedgerMsg::Count(reply) => reply.send(self.transfers),
        }
    }
}

#[tokio::main]
async fn main() {
    stage::group::trace_task_panics(); // the panics are expected: no stderr noise
    let transfers = std::env::args().skip_while(|a| a != "--transfers").nth(1);
    let transfers: u64 =
        transfers.map_or(20_000, |s| s.parse().expect("--transfers takes a number"));
    let per_client = transfers / CLIENTS;

    let (ledger, ledger_child) = stage::actor("ledger", Ledger::default).child();
    let system = stage::actor::System::new(
        stage::supervisor()
            .name("bank")
            .backoff(Backoff::none())
            .intensity(u32::MAX, Duration::from_secs(1))
            .child(ledger_child),
    );
    system.register(&ledger).unwrap();

    let store = Shared::default();
    let panics = Arc::new(AtomicU64::new(0));
    for id in 0..ACCOUNTS {
        let (store, panics) = (Arc::clone(&store), Arc::clone(&panics));
        let account = stage::actor(format!("account-{id}"), move || Account {
            id,
            store: Arc::clone(&store),
            panics: Arc::clone(&panics),
        })
        .capacity(256)
        .redeliver(100);
        system.spawn(account).unwrap();
    }
    let accounts: Vec<Addr<Account>> = (0..ACCOUNTS)
        .map(|id| system.lookup(&format!("account-{id}")).unwrap())
        .collect();

    // Chaos: kill a random account every millisecond.
    let kills = Arc::new(AtomicU64::new(0));
    let chaos = tokio::spawn({
        let (accounts, kills) = (accounts.clone(), Arc::clone(&kills));
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(1)).await;
                if accounts[fastrand::usize(..ACCOUNTS)].kill() {
                    kills.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });

    println!("{transfers} transfers by {CLIENTS} clients between {ACCOUNTS} accounts...");
    let started = std::time::Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (system, accounts) = (system.handle(), accounts.clone());
            tokio::spawn(async move {
                let ledger = system.lookup::<Ledger>("ledger").unwrap();
                for n in 0..per_client {
                    let from = fastrand::usize(..ACCOUNTS);
                    let to = accounts[(from + fastrand::usize(1..ACCOUNTS)) % ACCOUNTS].clone();
                    let (id, amount) = (client * per_client + n, fastrand::i64(1..=100));
                    let transfer = |done| Op::Transfer {
                        id,
                        amount,
                        to,
                        done,
                    };
                    match accounts[from].ask(transfer, Duration::from_secs(10)).await {
                        Ok(()) => ledger.tell(LedgerMsg::Done).await.unwrap(),
                        Err(error) => println!("  transfer {id} failed: {error}"),
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    chaos.abort();
    let took = started.elapsed();

    let mut total = 0;
    for account in &accounts {
        total += account
            .ask(Op::Balance, Duration::from_secs(10))
            .await
            .unwrap();
    }
    let counted = ledger
        .ask(LedgerMsg::Count, Duration::from_secs(1))
        .await
        .unwrap();
    let (debits, credits, repeats) = {
        let store = store.lock().unwrap();
        let debits = store.applied.iter().filter(|(_, op)| *op == 'd').count() as u64;
        (debits, store.applied.len() as u64 - debits, store.repeats)
    };
    println!(
        "done in {took:.2?}: {} panics, {} kills, {repeats} operations redelivered and skipped",
        panics.load(Ordering::Relaxed),
        kills.load(Ordering::Relaxed),
    );
    println!(
        "transfers seen through by the ledger: {counted} of {}",
        per_client * CLIENTS
    );
    println!("debits applied: {debits}, credits applied: {credits}");
    println!(
        "money in the bank: {total} (opened with {})",
        OPENING * ACCOUNTS as i64
    );
    assert_eq!(total, OPENING * ACCOUNTS as i64, "money was made or lost");
    assert_eq!(
        (debits, credits),
        (counted, counted),
        "a transfer was lost or doubled"
    );

    let report = system.shutdown(Duration::from_secs(5)).await.unwrap();
    println!("shut down:\n{report}");
}
