//! Unit tests of the group's value types: decisions without a runtime.

use std::time::{Duration, Instant};

use super::policy::{Backoff, Intensity};

#[test]
fn backoff_saturates_at_durations_too_long_for_the_clock() {
    let backoff = Backoff::exponential(Duration::MAX, Duration::MAX);
    for consecutive in [1, 2, 31, 32, u32::MAX] {
        for seed in [0, 1, u64::MAX] {
            let delay = backoff.delay(consecutive, seed);
            assert!(delay >= Duration::MAX / 2, "{delay:?}");
        }
    }
    let exact = backoff.without_jitter();
    assert_eq!(exact.delay(u32::MAX, 0), Duration::MAX);
}

#[test]
fn jittered_delays_stay_between_half_and_all_of_the_full_delay() {
    let backoff = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1));
    for seed in 0..1000 {
        let delay = backoff.delay(2, seed);
        assert!(delay >= Duration::from_millis(100) && delay <= Duration::from_millis(200));
    }
}

#[test]
fn intensity_admits_up_to_its_restarts_within_the_window() {
    let start = Instant::now();
    let at = |ms| start + Duration::from_millis(ms);
    let mut intensity = Intensity::new(3, Duration::from_secs(1));
    assert!(intensity.admit(at(0)));
    assert!(intensity.admit(at(100)));
    assert!(intensity.admit(at(200)));
    assert!(!intensity.admit(at(999)), "a fourth within the second");
    // The first restart leaves the window at 1000 ms exactly.
    assert!(intensity.admit(at(1000)));
    assert!(!intensity.admit(at(1050)));
    assert!(intensity.admit(at(1100)));
}

#[test]
fn an_intensity_of_zero_admits_no_restart() {
    let mut intensity = Intensity::new(0, Duration::from_secs(1));
    assert!(!intensity.admit(Instant::now()));
}

#[test]
fn a_window_too_long_for_the_clock_keeps_every_restart() {
    let mut intensity = Intensity::new(2, Duration::MAX);
    let start = Instant::now();
    assert!(intensity.admit(start));
    assert!(intensity.admit(start + Duration::from_secs(3600)));
    assert!(!intensity.admit(start + Duration::from_secs(86_400 * 365)));
}

#[test]
fn delays_of_ten_millennia_or_more_never_end() {
    use super::deadline::{after, NEVER};
    let now = Instant::now();
    assert_eq!(
        after(now, Duration::from_secs(60)),
        Some(now + Duration::from_secs(60))
    );
    assert_eq!(after(now, NEVER), None);
    assert_eq!(after(now, Duration::MAX), None);
    let almost = NEVER - Duration::from_secs(1);
    assert_eq!(after(now, almost), now.checked_add(almost));
}
