//! The event queue: ordered by (time, sequence number), so ties break in scheduling order and a run
//! is deterministic. Events with the same fixed delay (request timeouts, "now") arrive in time order
//! anyway, so they go into FIFO lanes instead of the heap (DESIGN.md: constant-length timeouts in
//! their own FIFO were one of the big speed wins).

use crate::types::SimTime;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Most distinct fixed delays that get a lane; others go to the heap.
const MAX_LANES: usize = 8;

#[derive(Clone, Debug)]
struct Lane<E> {
    delay_us: u64,
    items: VecDeque<(u64, u64, E)>,
}

#[derive(Clone, Debug)]
pub struct EventQueue<E> {
    seq: u64,
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    lanes: Vec<Lane<E>>,
    len: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            seq: 0,
            heap: BinaryHeap::new(),
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
                self.slab.push(Some(e));
                (self.slab.len() - 1) as u32
            }
        };
        self.heap.push(Reverse((at.0, self.seq, slot)));
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
        let mut best = self.heap.peek().map(|Reverse((t, s, _))| ((*t, *s), None));
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
                let Reverse((_, _, slot)) = self.heap.pop()?;
                self.free.push(slot);
                self.slab[slot as usize].take()
            }
        };
        e.map(|e| (SimTime(t), e))
    }

    /// Every pending event with its time, in no particular order (for viewers).
    pub fn iter(&self) -> impl Iterator<Item = (SimTime, &E)> {
        let heap = self.heap.iter().filter_map(|Reverse((t, _, slot))| {
            self.slab[*slot as usize].as_ref().map(|e| (SimTime(*t), e))
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
        self.heap
            .retain(|Reverse((_, _, s))| slab[*s as usize].is_some());
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
