//! The async-task runtime of the tests honours the seam's contract: exits
//! (returned, panicked with payload, aborted), detaching on drop, and a
//! virtual clock that only moves when every task waits.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use stage_core::runtime::{Exit, Runtime, Task};
use support::virtual_runtime::Virtual;

#[test]
fn exits_say_how_tasks_ended() {
    let rt = Virtual::new();
    let exits = rt.clone().block_on(async move {
        let returned = rt.spawn(async {}).await;
        let panicked = rt.spawn(async { panic!("boom") }).await;
        let pending = rt.spawn(std::future::pending());
        pending.abort();
        (returned, panicked, pending.await)
    });
    assert!(matches!(exits.0, Exit::Returned));
    assert_eq!(exits.1.panic_message(), Some("boom"));
    assert!(matches!(exits.2, Exit::Aborted));
}

#[test]
fn dropping_a_task_handle_detaches_the_task() {
    let rt = Virtual::new();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    rt.clone().block_on(async move {
        let sleeper = rt.clone();
        drop(rt.spawn(async move {
            sleeper
                .sleep_until(sleeper.now() + Duration::from_secs(1))
                .await;
            flag.store(true, Ordering::SeqCst);
        }));
        rt.sleep_until(rt.now() + Duration::from_secs(2)).await;
    });
    assert!(ran.load(Ordering::SeqCst));
}

#[test]
fn the_clock_jumps_to_the_next_timer_only_when_every_task_waits() {
    let rt = Virtual::new();
    let start = rt.now();
    let elapsed = rt.clone().block_on(async move {
        let a = rt.clone();
        let short = rt.spawn(async move { a.sleep_until(a.now() + Duration::from_secs(5)).await });
        rt.sleep_until(rt.now() + Duration::from_secs(60)).await;
        assert!(matches!(short.await, Exit::Returned));
        rt.now() - start
    });
    assert_eq!(elapsed, Duration::from_secs(60));
}

#[test]
#[should_panic(expected = "deadlock")]
fn a_main_future_that_can_never_finish_is_reported() {
    Virtual::new().block_on(std::future::pending::<()>());
}
