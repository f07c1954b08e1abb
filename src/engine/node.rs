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

/// A node's clock: `local = true + skew + drift_ppm * true / 1e6`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    pub skew_us: i64,
    pub drift_ppm: i64,
}

impl Clock {
    pub fn local_us(&self, now: SimTime) -> u64 {
        if self.drift_ppm == 0 {
            return now.0.saturating_add_signed(self.skew_us);
        }
        let t = now.0 as i128;
        let local = t + self.skew_us as i128 + t * self.drift_ppm as i128 / 1_000_000;
        local.clamp(0, u64::MAX as i128) as u64
    }

    /// True time for `local_us` of this clock to pass (a fast clock fires timers early).
    pub fn real_delay_us(&self, local_us: u64) -> u64 {
        if self.drift_ppm == 0 {
            return local_us;
        }
        let rate = 1_000_000i128 + self.drift_ppm as i128;
        if rate <= 0 {
            return local_us;
        }
        (local_us as i128 * 1_000_000 / rate).clamp(0, u64::MAX as i128) as u64
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
