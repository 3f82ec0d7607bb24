//! Scaling on the virtual runtime, where tasks can be made slow to stop and
//! the runtime's timers can be counted.

mod support;

use std::time::Duration;

use stage_core::group::{Backoff, Builder, Restart};
use support::group_scenarios::{wait_for, Live};
use support::virtual_runtime::Virtual;

#[test]
fn a_slot_brought_back_while_its_task_stops_waits_for_it_and_starts_its_next_generation() {
    let rt = Virtual::new().slow_to_stop(Duration::from_secs(1));
    rt.clone().block_on(async move {
        let live = Live::default();
        // Under `Never`, an exit mistaken for the new task's would end it.
        let mut group = Builder::new(rt)
            .tasks(2)
            .restart(Restart::Never)
            .spawn(live.clone().idle_tasks());
        wait_for(&mut group, |s| s.running == 2).await;
        assert_eq!(group.downscale(1), 1);
        let stats = wait_for(&mut group, |s| s.tasks == 1).await;
        assert_eq!((stats.running, stats.stopping), (1, 1));
        assert_eq!(group.upscale(1), Ok(2));
        let stats = wait_for(&mut group, |s| s.tasks == 2).await;
        assert_eq!((stats.running, stats.stopping, stats.started), (1, 1, 2));
        assert_eq!(live.count(), 2, "never more tasks than the target");

        // A second later the removed task has stopped; its slot starts anew.
        let stats = wait_for(&mut group, |s| s.running == 2).await;
        assert_eq!((stats.stopping, stats.started, stats.aborted), (0, 3, 0));
        assert_eq!(live.count(), 2);
        let report = group.shutdown(Duration::from_secs(5)).await.unwrap();
        let incarnations: Vec<_> = report
            .tasks
            .iter()
            .map(|t| (t.index, t.generation))
            .collect();
        assert_eq!(incarnations, [(0, 1), (1, 2)], "a generation never repeats");
        assert_eq!(live.count(), 0);
    });
}

#[test]
fn restarts_cancelled_by_a_downscale_release_their_timers_at_once() {
    let rt = Virtual::new();
    let runtime = rt.clone();
    rt.clone().block_on(async move {
        let backoff = Backoff::exponential(Duration::from_secs(3600), Duration::from_secs(3600));
        let mut group = Builder::new(runtime.clone())
            .tasks(4)
            .backoff(backoff)
            .spawn(|| async { panic!("fails at once") });
        // Each task: its first start, its immediate restart, then an hour's
        // backoff.
        wait_for(&mut group, |s| s.backing_off == 4).await;
        let baseline = runtime.pending_timers();
        for _ in 0..100 {
            group.downscale(3);
            wait_for(&mut group, |s| s.tasks == 1).await;
            group.upscale(3).unwrap();
            wait_for(&mut group, |s| s.backing_off == 4).await;
        }
        // One sleep for the earliest restart, however many cycles.
        assert!(
            runtime.pending_timers() <= baseline,
            "{} timers",
            runtime.pending_timers()
        );
        assert_eq!(baseline, 1);
        group.stop().await.unwrap();
        assert_eq!(runtime.pending_timers(), 0);
    });
}
