//! Restart delays: exponential, capped, optionally jittered. Pure: the caller passes the
//! random source, so tests are deterministic.
//!
//! The first restart of a streak is immediate: a program that crashed once after a long
//! healthy run comes back at once, and only a crash *loop* backs off
//! (`initial`, `initial * multiplier`, ... up to `max`). A streak ends when the program
//! stayed up `reset_after` (the caller calls [`Backoff::reset`]).

use std::time::Duration;

use rand::Rng;

use crate::config::{BackoffSpec, Jitter};

#[derive(Debug, Clone)]
pub struct Backoff {
    spec: BackoffSpec,
    /// Restarts in the current streak so far.
    streak: u32,
    /// The previous delay, for decorrelated jitter.
    previous: Duration,
}

impl Backoff {
    pub fn new(spec: BackoffSpec) -> Self {
        Self {
            spec,
            streak: 0,
            previous: spec.initial,
        }
    }

    /// Starts a new streak: the next restart is immediate again.
    pub fn reset(&mut self) {
        self.streak = 0;
        self.previous = self.spec.initial;
    }

    /// Restarts so far in this streak.
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// The delay before the next restart, advancing the streak.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let step = self.streak;
        self.streak = self.streak.saturating_add(1);
        if step == 0 || self.spec.max.is_zero() || self.spec.initial.is_zero() {
            return Duration::ZERO;
        }
        // Grows without bound as a float (inf is fine), then the cap applies.
        let growth = self.spec.multiplier.powi(step.min(1024) as i32 - 1);
        let exponential = (self.spec.initial.as_secs_f64() * growth).min(self.spec.max.as_secs_f64());
        let secs = match self.spec.jitter {
            Jitter::None => exponential,
            Jitter::Full => rng.random_range(0.0..=exponential),
            Jitter::Decorrelated => {
                let low = self.spec.initial.as_secs_f64();
                let high = (self.previous.as_secs_f64() * 3.0).max(low);
                rng.random_range(low..=high).min(self.spec.max.as_secs_f64())
            }
        };
        let delay = Duration::from_secs_f64(secs);
        self.previous = delay;
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng as StepRng;
    use rand::SeedableRng;

    fn spec(initial: u64, max: u64, multiplier: f64, jitter: Jitter) -> BackoffSpec {
        BackoffSpec {
            initial: Duration::from_secs(initial),
            max: Duration::from_secs(max),
            multiplier,
            reset_after: Duration::from_secs(600),
            jitter,
        }
    }

    fn delays(b: &mut Backoff, n: usize) -> Vec<u64> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        (0..n).map(|_| b.next_delay(&mut rng).as_secs()).collect()
    }

    #[test]
    fn first_restart_is_immediate_then_exponential_and_capped() {
        let mut b = Backoff::new(spec(1, 10, 2.0, Jitter::None));
        assert_eq!(delays(&mut b, 7), vec![0, 1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn reset_starts_a_new_streak() {
        let mut b = Backoff::new(spec(1, 60, 3.0, Jitter::None));
        assert_eq!(delays(&mut b, 3), vec![0, 1, 3]);
        b.reset();
        assert_eq!(b.streak(), 0);
        assert_eq!(delays(&mut b, 3), vec![0, 1, 3]);
    }

    #[test]
    fn zero_means_always_at_once() {
        let mut b = Backoff::new(spec(0, 0, 2.0, Jitter::Full));
        assert!(delays(&mut b, 20).iter().all(|d| *d == 0));
    }

    #[test]
    fn full_jitter_stays_within_the_exponential_delay() {
        let mut b = Backoff::new(spec(4, 100, 2.0, Jitter::Full));
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(b.next_delay(&mut rng), Duration::ZERO);
        for ceiling in [4.0, 8.0, 16.0, 32.0, 64.0, 100.0, 100.0] {
            let d = b.next_delay(&mut rng).as_secs_f64();
            assert!((0.0..=ceiling).contains(&d), "{d} > {ceiling}");
        }
    }

    #[test]
    fn decorrelated_jitter_stays_between_initial_and_max() {
        let mut b = Backoff::new(spec(2, 30, 2.0, Jitter::Decorrelated));
        let mut rng = StepRng::seed_from_u64(3);
        b.next_delay(&mut rng);
        for _ in 0..50 {
            let d = b.next_delay(&mut rng).as_secs_f64();
            assert!((2.0..=30.0).contains(&d), "{d}");
        }
    }
}
