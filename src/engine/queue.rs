//! The event queue: ordered by (time, sequence number), so ties break in scheduling order and a run
//! is deterministic. Events with the same fixed delay (request timeouts, "now") arrive in time order
//! anyway, so they go into FIFO lanes instead of the heap (DESIGN.md: constant-length timeouts in
//! their own FIFO were one of the big speed wins).

use crate::types::SimTime;
use std::collections::VecDeque;

/// Most distinct fixed delays that get a lane; others go to the heap.
const MAX_LANES: usize = 8;
/// Heap keys pack (time, sequence, slot) into one u128: 64 bits of time, 40 of sequence number,
/// 24 of slab slot. So at most 2^24 events may wait in the heap at once (every input that
/// could grow the queue is bounded far below that) and a run has at most 2^40 events.
const SLOT_BITS: u32 = 24;
const MAX_SLOTS: usize = 1 << SLOT_BITS;

/// A 4-ary min-heap of packed keys: shallower than a binary heap and one integer compare per
/// step (DESIGN.md measured ≈2× faster than std's BinaryHeap of tuples for this workload).
#[derive(Clone, Debug, Default)]
struct QuadHeap {
    keys: Vec<u128>,
}

impl QuadHeap {
    fn push(&mut self, key: u128) {
        let mut i = self.keys.len();
        self.keys.push(key);
        while i > 0 {
            let parent = (i - 1) / 4;
            if self.keys[parent] <= key {
                break;
            }
            self.keys[i] = self.keys[parent];
            i = parent;
        }
        self.keys[i] = key;
    }

    fn peek(&self) -> Option<u128> {
        self.keys.first().copied()
    }

    fn pop(&mut self) -> Option<u128> {
        let top = *self.keys.first()?;
        let last = self.keys.pop()?;
        let n = self.keys.len();
        if n == 0 {
            return Some(top);
        }
        // Sift the hole at the root down: move the smallest child up until `last` fits.
        let mut hole = 0;
        loop {
            let first = 4 * hole + 1;
            if first >= n {
                break;
            }
            let mut child = first;
            for c in first + 1..(first + 4).min(n) {
                if self.keys[c] < self.keys[child] {
                    child = c;
                }
            }
            if self.keys[child] >= last {
                break;
            }
            self.keys[hole] = self.keys[child];
            hole = child;
        }
        self.keys[hole] = last;
        Some(top)
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn iter(&self) -> impl Iterator<Item = &u128> {
        self.keys.iter()
    }

    fn retain(&mut self, keep: impl FnMut(&u128) -> bool) {
        self.keys.retain(keep);
        let keys = std::mem::take(&mut self.keys);
        for k in keys {
            self.push(k);
        }
    }
}

fn pack(time: u64, seq: u64, slot: u32) -> u128 {
    (time as u128) << 64 | ((seq & ((1 << 40) - 1)) as u128) << SLOT_BITS | slot as u128
}

fn unpack(key: u128) -> (u64, u64, u32) {
    (
        (key >> 64) as u64,
        (key as u64) >> SLOT_BITS,
        (key as u32) & (MAX_SLOTS as u32 - 1),
    )
}

#[derive(Clone, Debug)]
struct Lane<E> {
    delay_us: u64,
    items: VecDeque<(u64, u64, E)>,
}

#[derive(Clone, Debug)]
pub struct EventQueue<E> {
    seq: u64,
    heap: QuadHeap,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    lanes: Vec<Lane<E>>,
    len: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            seq: 0,
            heap: QuadHeap::default(),
            slab: Vec::new(),
            free: Vec::new(),
            lanes: Vec::new(),
            len: 0,
        }
    }
}

impl<E> EventQueue<E> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Schedules `e` at an arbitrary time.
    pub fn push_at(&mut self, at: SimTime, e: E) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = Some(e);
                s
            }
            None => {
                assert!(
                    self.slab.len() < MAX_SLOTS,
                    "event queue overflow: more than 2^24 events pending"
                );
                self.slab.push(Some(e));
                (self.slab.len() - 1) as u32
            }
        };
        self.heap.push(pack(at.0, self.seq, slot));
        self.len += 1;
    }

    /// Schedules `e` at `now + delay_us`; fixed delays share a FIFO lane.
    pub fn push_after(&mut self, now: SimTime, delay_us: u64, e: E) {
        let at = now.saturating_add(delay_us);
        let lane = match self.lanes.iter().position(|l| l.delay_us == delay_us) {
            Some(i) => i,
            None if self.lanes.len() < MAX_LANES => {
                self.lanes.push(Lane {
                    delay_us,
                    items: VecDeque::new(),
                });
                self.lanes.len() - 1
            }
            None => return self.push_at(at, e),
        };
        self.seq += 1;
        let items = &mut self.lanes[lane].items;
        debug_assert!(
            items.back().is_none_or(|(t, _, _)| *t <= at.0),
            "lane times never go backwards"
        );
        items.push_back((at.0, self.seq, e));
        self.len += 1;
    }

    /// The (time, seq) of the earliest event and where it lives: `None` = heap, `Some(i)` = lane i.
    fn earliest(&self) -> Option<((u64, u64), Option<usize>)> {
        let mut best = self.heap.peek().map(|k| {
            let (t, s, _) = unpack(k);
            ((t, s), None)
        });
        for (i, lane) in self.lanes.iter().enumerate() {
            if let Some((t, s, _)) = lane.items.front()
                && best.is_none_or(|(k, _)| (*t, *s) < k)
            {
                best = Some(((*t, *s), Some(i)));
            }
        }
        best
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        self.earliest().map(|((t, _), _)| SimTime(t))
    }

    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let ((t, _), place) = self.earliest()?;
        self.len -= 1;
        let e = match place {
            Some(lane) => self.lanes[lane].items.pop_front().map(|(_, _, e)| e),
            None => {
                let (_, _, slot) = unpack(self.heap.pop()?);
                self.free.push(slot);
                self.slab[slot as usize].take()
            }
        };
        e.map(|e| (SimTime(t), e))
    }

    /// Every pending event with its time, in no particular order (for viewers).
    pub fn iter(&self) -> impl Iterator<Item = (SimTime, &E)> {
        let heap = self.heap.iter().filter_map(|k| {
            let (t, _, slot) = unpack(*k);
            self.slab[slot as usize].as_ref().map(|e| (SimTime(t), e))
        });
        let lanes = self
            .lanes
            .iter()
            .flat_map(|l| l.items.iter().map(|(t, _, e)| (SimTime(*t), e)));
        heap.chain(lanes)
    }

    /// Removes every event for which `keep` returns false (used when a node's state is wiped).
    pub fn retain(&mut self, mut keep: impl FnMut(&E) -> bool) {
        for slot in self.slab.iter_mut() {
            if slot.as_ref().is_some_and(|e| !keep(e)) {
                *slot = None;
            }
        }
        let before: usize = self.lanes.iter().map(|l| l.items.len()).sum();
        for lane in &mut self.lanes {
            lane.items.retain(|(_, _, e)| keep(e));
        }
        let after: usize = self.lanes.iter().map(|l| l.items.len()).sum();
        let slab = &self.slab;
        let heap_before = self.heap.len();
        self.heap.retain(|k| slab[unpack(*k).2 as usize].is_some());
        self.free.clear();
        self.free
            .extend((0..self.slab.len() as u32).filter(|s| self.slab[*s as usize].is_none()));
        self.len -= (before - after) + (heap_before - self.heap.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_then_scheduling_order_across_heap_and_lanes() {
        let mut q = EventQueue::default();
        q.push_at(SimTime(10), "heap@10");
        q.push_after(SimTime(0), 10, "lane@10");
        q.push_at(SimTime(5), "heap@5");
        q.push_after(SimTime(0), 0, "lane@0");
        q.push_after(SimTime(2), 10, "lane@12");
        let order: Vec<_> = std::iter::from_fn(|| q.pop())
            .map(|(t, e)| (t.0, e))
            .collect();
        assert_eq!(
            order,
            vec![
                (0, "lane@0"),
                (5, "heap@5"),
                (10, "heap@10"),
                (10, "lane@10"),
                (12, "lane@12")
            ]
        );
        assert!(q.is_empty());
    }

    /// Random pushes and pops agree with a sorted reference model.
    #[test]
    fn matches_a_sorted_reference_under_random_use() {
        use crate::engine::rng::SimRng;
        let mut rng = SimRng::new(42, 0);
        let mut q = EventQueue::default();
        let mut reference: Vec<(u64, u64, u64)> = Vec::new();
        let (mut now, mut seq) = (0u64, 0u64);
        for id in 0..20_000u64 {
            if rng.chance(0.55) {
                seq += 1;
                let delay = if rng.chance(0.3) {
                    [0, 50, 7][rng.below(3) as usize]
                } else {
                    rng.below(1000)
                };
                if rng.chance(0.5) {
                    q.push_after(SimTime(now), delay, id);
                } else {
                    q.push_at(SimTime(now + delay), id);
                }
                reference.push((now + delay, seq, id));
            } else if let Some((t, e)) = q.pop() {
                reference.sort();
                let (rt, _, rid) = reference.remove(0);
                assert_eq!((t.0, e), (rt, rid));
                now = t.0;
            }
        }
        assert_eq!(q.len(), reference.len());
    }

    #[test]
    fn retain_drops_events_from_heap_and_lanes() {
        let mut q = EventQueue::default();
        for i in 0..5u64 {
            q.push_at(SimTime(i), i);
            q.push_after(SimTime(i), 7, 100 + i);
        }
        q.retain(|e| e % 2 == 0);
        assert_eq!(q.len(), 6);
        let left: Vec<u64> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(left, vec![0, 2, 4, 100, 102, 104]);
    }
}
