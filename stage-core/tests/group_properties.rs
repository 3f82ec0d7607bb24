//! Properties of a group under any sequence of what a user and a hostile
//! world can do to it — upscale, downscale, panics, tasks slow to stop, a
//! restart backoff — and any ending (stop, graceful shutdown, drop,
//! release). Seeded, many seeds, on the virtual runtime. After every step,
//! once the group has settled:
//!
//! - the tasks alive are exactly the group's target;
//! - no `(task, generation)` was ever started twice, and each task's
//!   generations are 1, 2, 3, ... with no gap;
//! - the stats agree with what happened.
//!
//! And at any moment every task waits, settled or not, the tasks alive are
//! the running ones plus those removed and still stopping: a slot never has
//! two incarnations alive.
//!
//! After the ending, nothing is alive.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use stage_core::group::{Backoff, Builder, Group};
use stage_core::runtime::{Runtime, Task};
use support::group_scenarios::{wait_for, within_an_hour, Live};
use support::recorder::Recorder;
use support::virtual_runtime::Virtual;

const SEEDS: u64 = 300;
const STEPS: usize = 40;
const MAX_TASKS: usize = 12;

#[test]
fn a_group_keeps_its_invariants_under_random_scaling_panics_and_endings() {
    for seed in 0..SEEDS {
        let recorder = Recorder::default();
        let outcome = std::panic::catch_unwind(|| {
            tracing::subscriber::with_default(recorder.clone(), || run(seed, &recorder));
        });
        if let Err(panic) = outcome {
            eprintln!("seed {seed} failed; its events:");
            for line in recorder.lines() {
                eprintln!("  {line}");
            }
            std::panic::resume_unwind(panic);
        }
    }
}

/// One random life of a group.
fn run(seed: u64, recorder: &Recorder) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let stop_delay = Duration::from_millis(rng.choice([0, 0, 3, 20]).unwrap());
    let rt = Virtual::new().slow_to_stop(stop_delay);
    let backoff = if rng.bool() {
        Backoff::none()
    } else {
        Backoff::exponential(Duration::from_millis(1), Duration::from_millis(10))
    };
    let initial = rng.usize(1..=4);
    let recorder = recorder.clone();
    rt.clone().block_on(async move {
        let live = Live::default();
        // Crash orders: each is taken by one task, which panics on it.
        let (crash, orders) = stage_core::mailbox::<()>(MAX_TASKS * STEPS);
        let mut group = Builder::new(rt.clone())
            .tasks(initial)
            .max_tasks(MAX_TASKS)
            .backoff(backoff)
            .spawn({
                let live = live.clone();
                move || {
                    let (guard, orders) = (live.guard(), orders.clone());
                    async move {
                        let _alive = guard;
                        orders.recv().await;
                        panic!("ordered to crash");
                    }
                }
            });
        let mut target = initial;
        let mut crashes = 0;
        for step in 0..STEPS {
            match rng.u8(..4) {
                0 => {
                    let n = rng.usize(0..=MAX_TASKS);
                    match group.upscale(n) {
                        Ok(size) => {
                            assert_eq!(size, target + n);
                            target = size;
                        }
                        Err(_) => assert!(target + n > MAX_TASKS, "step {step}: refused {n}"),
                    }
                }
                1 => {
                    let n = rng.usize(0..=MAX_TASKS);
                    target = group.downscale(n);
                }
                2 => {
                    for _ in 0..rng.usize(1..=target) {
                        crash.try_send(()).unwrap();
                        crashes += 1;
                    }
                }
                _ => {
                    // Down and up again before the supervisor looks.
                    group.downscale(1);
                    target = group.upscale(1).unwrap_or(target);
                }
            }
            // Whenever every task waits, the tasks alive are the running
            // ones and the removed ones still stopping: never an extra one.
            quiesce(&rt).await;
            let stats = *group.stat_borrow();
            assert_eq!(
                live.count(),
                stats.running + stats.stopping,
                "step {step}: {stats:?}"
            );
            assert!(stats.running <= target, "step {step}: {stats:?}");
            // Half the steps let everything run its course; the others go
            // on with tasks still stopping, backing off or being restarted.
            if rng.bool() {
                settle(&rt, &mut group, target).await;
                assert_eq!(
                    live.count(),
                    target,
                    "step {step}: tasks alive for a target of {target}"
                );
                assert!(crash.is_empty(), "step {step}: a crash order was not taken");
                let stats = *group.stat_borrow();
                assert_eq!(
                    stats.started,
                    check_generations(&recorder),
                    "step {step}: {stats:?}"
                );
                assert_eq!(stats.panicked, crashes, "step {step}: {stats:?}");
            }
        }
        settle(&rt, &mut group, target).await;
        match rng.u8(..4) {
            0 => group.stop().await.unwrap(),
            1 => {
                let grace = Duration::from_millis(rng.u64(0..30));
                let report = group.shutdown(grace).await.unwrap();
                assert_eq!(report.tasks.len(), target);
            }
            2 => drop(group),
            _ => {
                let tasks = group.release().await.unwrap();
                assert_eq!(tasks.len(), target);
                for task in tasks {
                    task.abort();
                    task.await;
                }
            }
        }
        // A dropped group stops its tasks right after; slow ones later.
        rt.sleep_until(rt.now() + Duration::from_secs(1)).await;
        assert_eq!(live.count(), 0, "a task outlived its group");
        check_generations(&recorder);
    });
}

/// Runs every task that can run, without moving the clock: the timer set
/// here fires only once every task waits.
async fn quiesce(rt: &Virtual) {
    rt.sleep_until(rt.now() + Duration::from_nanos(1)).await;
}

/// Lets restarts, backoffs and slow stops run their course, then waits for
/// the group to run exactly its target.
async fn settle(rt: &Virtual, group: &mut Group<Virtual>, target: usize) {
    rt.sleep_until(rt.now() + Duration::from_millis(100)).await;
    within_an_hour(rt, async {
        wait_for(group, |s| {
            s.tasks == target && s.running == target && s.stopping == 0 && s.backing_off == 0
        })
        .await
    })
    .await;
}

/// Checks that no incarnation started twice and that each task's
/// generations count up from 1; returns how many starts there were.
fn check_generations(recorder: &Recorder) -> u64 {
    let mut last: BTreeMap<u64, u64> = BTreeMap::new();
    let mut starts = 0;
    for line in recorder.lines() {
        if !line.contains("task started") {
            continue;
        }
        let field = |name: &str| -> u64 {
            let at = line
                .find(&format!(" {name}="))
                .expect("a field of the event")
                + name.len()
                + 2;
            line[at..].split(' ').next().unwrap().parse().unwrap()
        };
        let (task, generation) = (field("task"), field("generation"));
        let previous = last.insert(task, generation).unwrap_or(0);
        assert_eq!(
            generation,
            previous + 1,
            "task {task}: generation {generation} after {previous}"
        );
        starts += 1;
    }
    starts
}
