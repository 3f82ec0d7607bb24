//! Group behaviour on the async-task runtime with a virtual clock: the same
//! scenarios as the `stage` facade runs on tokio.

mod support;

use support::group_scenarios as scenario;
use support::virtual_runtime::Virtual;

macro_rules! on_virtual_runtime {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let rt = Virtual::new();
            rt.clone().block_on(scenario::$name(rt));
        }
    )*};
}

on_virtual_runtime!(
    restart_always_restarts_tasks_however_they_end,
    on_failure_leaves_a_returning_task_ended,
    on_failure_restarts_a_panicking_task,
    never_restarts_nothing,
    backoff_delays_restarts_of_a_task_that_keeps_failing,
    backoff_starts_over_after_a_quiet_period,
    stop_aborts_every_task_and_nothing_outlives_it,
    stop_cancels_a_pending_restart,
    scope_runs_the_future_then_stops_the_group,
    a_panicking_factory_does_not_take_the_supervisor_down,
    dropping_the_group_stops_its_tasks,
    exceeding_the_restart_intensity_stops_the_group_with_a_typed_error,
    restarts_spread_wider_than_the_window_never_exceed_it,
    scope_reports_a_group_that_gave_up,
    upscale_and_downscale_change_how_many_tasks_run,
    shutdown_lets_tasks_that_watch_the_signal_finish,
    shutdown_aborts_a_task_that_ignores_the_signal_at_the_deadline,
    shutdown_reports_a_panic_with_its_message,
    shutdown_cancels_pending_restarts,
    tasks_that_cannot_watch_the_signal_are_aborted_at_once,
    a_restart_scheduled_for_a_removed_task_is_dropped,
    release_hands_back_the_running_tasks,
);
