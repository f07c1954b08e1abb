//! A simulated node: its policy state machine plus what the engine knows about it (up, crashed or
//! paused; its clock; its own random stream; messages waiting while it is paused).

use super::rng::SimRng;
use crate::policy::{ClientReq, Policy};
use crate::types::{NodeId, SimTime};
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    Up,
    /// Volatile state lost; nothing is processed until a restart.
    Crashed,
    /// Stopped like a long GC pause: state kept, incoming work waits in the inbox.
    Paused,
}

impl NodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Up => "up",
            NodeStatus::Crashed => "crashed",
            NodeStatus::Paused => "paused",
        }
    }
}

/// Work that reached a paused node, handled in arrival order when it resumes.
#[derive(Clone, Debug)]
pub enum Inbox<P: Policy> {
    /// A message with its id and send time, so its delivery at the resume is traced faithfully.
    Message {
        from: NodeId,
        msg: P::Msg,
        id: u64,
        sent: SimTime,
    },
    Timer(P::Timer),
    Client(ClientReq),
}

/// A node's clock: `local = true + skew + drift`, where drift accumulates at `drift_ppm` from the
/// moment the rate was last changed. A rate change bends the clock; it never steps it (only a
/// skew change does, like an NTP step), so a clock that starts running slow at 2 s still reads
/// 2 s at that instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    pub skew_us: i64,
    pub drift_ppm: i64,
    /// True time of the last rate change.
    rate_changed_at_us: u64,
    /// Drift accumulated up to `rate_changed_at_us`.
    drift_before_us: i64,
}

impl Clock {
    pub fn new(skew_us: i64, drift_ppm: i64) -> Clock {
        Clock {
            skew_us,
            drift_ppm,
            ..Clock::default()
        }
    }

    /// Drift accumulated by true time `now`.
    #[inline]
    fn drift_us(&self, now: SimTime) -> i128 {
        let since = now.0.saturating_sub(self.rate_changed_at_us) as i128;
        self.drift_before_us as i128 + since * self.drift_ppm as i128 / 1_000_000
    }

    #[inline]
    pub fn local_us(&self, now: SimTime) -> u64 {
        if self.drift_ppm == 0 && self.drift_before_us == 0 {
            return now.0.saturating_add_signed(self.skew_us);
        }
        let local = now.0 as i128 + self.skew_us as i128 + self.drift_us(now);
        local.clamp(0, u64::MAX as i128) as u64
    }

    /// Changes the rate from `now` on, keeping the drift accumulated so far.
    pub fn set_drift(&mut self, now: SimTime, drift_ppm: i64) {
        let so_far = self.drift_us(now).clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        self.drift_before_us = so_far;
        self.rate_changed_at_us = now.0;
        self.drift_ppm = drift_ppm;
    }

    /// True time for at least `local_us` of this clock to pass (a fast clock fires timers
    /// early). Rounded up and never 0 for a nonzero wait: a policy that finds its timer early and
    /// waits the last microsecond again must see time move, or it would wait forever at one
    /// instant (found with a +40% clock whose 1 µs wait rounded down to 0).
    #[inline]
    pub fn real_delay_us(&self, local_us: u64) -> u64 {
        if self.drift_ppm == 0 {
            return local_us;
        }
        let rate = 1_000_000i128 + self.drift_ppm as i128;
        if rate <= 0 {
            return local_us;
        }
        let real = (local_us as i128 * 1_000_000 + rate - 1) / rate;
        real.clamp(0, u64::MAX as i128) as u64
    }
}

#[derive(Clone, Debug)]
pub struct Node<P: Policy> {
    pub id: NodeId,
    pub policy: P,
    pub status: NodeStatus,
    /// Bumped on every crash so timers set before it are ignored.
    pub incarnation: u32,
    pub clock: Clock,
    pub rng: SimRng,
    pub inbox: VecDeque<Inbox<P>>,
}

/// Most items a paused node's inbox holds; later arrivals are dropped like a full socket buffer.
pub const MAX_INBOX: usize = 100_000;

#[cfg(test)]
mod clock_tests {
    use super::Clock;
    use crate::types::SimTime;

    #[test]
    fn a_rate_change_bends_the_clock_without_stepping_it() {
        let mut c = Clock::new(0, 0);
        let at = SimTime(2_000_000);
        assert_eq!(c.local_us(at), 2_000_000);
        c.set_drift(at, -500_000);
        assert_eq!(c.local_us(at), 2_000_000, "no step at the change");
        assert_eq!(
            c.local_us(SimTime(3_000_000)),
            2_500_000,
            "half speed after it"
        );
        c.set_drift(SimTime(3_000_000), 400_000);
        assert_eq!(c.local_us(SimTime(3_000_000)), 2_500_000);
        assert_eq!(c.local_us(SimTime(4_000_000)), 3_900_000);
    }

    #[test]
    fn a_constant_rate_from_the_start_counts_from_zero() {
        let c = Clock::new(1_000, 100_000);
        assert_eq!(c.local_us(SimTime(1_000_000)), 1_000_000 + 1_000 + 100_000);
    }

    #[test]
    fn a_timer_never_fires_before_its_local_wait_is_over() {
        for ppm in [-500_000, -1, 1, 400_000, 999_999] {
            let mut c = Clock::new(0, 0);
            c.set_drift(SimTime(1_234_567), ppm);
            for start in [1_234_567u64, 2_000_003, 7_777_777] {
                for wait in [1u64, 2, 3, 999, 150_000] {
                    let real = c.real_delay_us(wait);
                    assert!(real >= 1, "{ppm} ppm, wait {wait}: a wait takes time");
                    let before = c.local_us(SimTime(start));
                    let after = c.local_us(SimTime(start + real));
                    assert!(after - before >= wait, "{ppm} ppm, {start} + {wait}");
                }
            }
        }
    }
}
