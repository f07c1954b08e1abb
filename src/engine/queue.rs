//! The event queue: ordered by (time, sequence number), so ties break in scheduling order and a run
//! is deterministic. Every event lives in one of three places, and `pop` takes the smallest
//! (time, sequence) among their fronts:
//!
//! - FIFO lanes: events with the same fixed delay (request timeouts, "now") arrive in time order
//!   anyway (DESIGN.md: constant-length timeouts in their own FIFO were one of the big speed wins).
//! - A timing wheel (calendar queue) for events due within `WHEEL_SPAN_US` of the last popped
//!   time, which is nearly every message delivery: `BUCKETS` buckets of `2^SHIFT` µs each, a bitmap
//!   of the non-empty ones, and per bucket a short unsorted list whose minimum is found at pop time.
//!   Pushing is O(1) and popping looks at one or two bitmap words and a handful of entries, where a
//!   heap of a few hundred events spent most of its time on unpredictable comparisons.
//! - An overflow 4-ary heap for the rest (far-future faults, very slow links).
//!
//! Wheel invariant: `cursor` (a bucket number, `time >> SHIFT`) is at most the bucket of every
//! event in the wheel, and every wheel event lies less than `BUCKETS` buckets after it. Events are
//! only put in the wheel when that holds at push time, and `cursor` only moves up to the bucket of
//! the event just popped, which is the smallest of all, so it keeps holding. Hence walking the
//! bitmap circularly from `cursor` meets buckets in time order.

use crate::types::SimTime;
use std::collections::VecDeque;

/// Most distinct fixed delays that get a lane; others go to the wheel or heap.
const MAX_LANES: usize = 8;
/// Keys pack (time, sequence, slot) into one u128: 64 bits of time, 40 of sequence number,
/// 24 of slot. So at most 2^24 events may wait in the wheel and heap at once (every input that
/// could grow the queue is bounded far below that) and a run has at most 2^40 events.
const SLOT_BITS: u32 = 24;
const MAX_SLOTS: usize = 1 << SLOT_BITS;
/// Bucket width: 2^SHIFT µs.
const SHIFT: u32 = 5;
const BUCKETS: usize = 2048;
const WORDS: usize = BUCKETS / 64;
/// How far ahead of the last popped time the wheel reaches (≈ 65 ms).
pub const WHEEL_SPAN_US: u64 = (BUCKETS as u64) << SHIFT;
/// End of a bucket's list.
const NIL: u32 = u32::MAX;

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

    fn clear(&mut self) {
        self.keys.clear();
    }
}

fn pack(time: u64, seq: u64, slot: u32) -> u128 {
    (time as u128) << 64 | ((seq & ((1 << 40) - 1)) as u128) << SLOT_BITS | slot as u128
}

fn time_of(key: u128) -> u64 {
    (key >> 64) as u64
}

fn slot_of(key: u128) -> u32 {
    (key as u32) & (MAX_SLOTS as u32 - 1)
}

/// Where a slot's event sits in time, and the next slot of its wheel bucket (`NIL` at the end;
/// unused for heap events). Kept apart from the events so that walking a bucket touches only
/// these small entries.
#[derive(Clone, Copy, Debug)]
struct Link {
    key: u128,
    next: u32,
}

#[derive(Clone, Debug)]
struct Lane<E> {
    delay_us: u64,
    items: VecDeque<(u128, E)>,
}

#[derive(Clone, Debug)]
pub struct EventQueue<E> {
    seq: u64,
    len: usize,
    links: Vec<Link>,
    /// The event of each slot (`None` when the slot is free).
    events: Vec<Option<E>>,
    free: Vec<u32>,
    /// First slot of each wheel bucket's list.
    heads: Vec<u32>,
    /// Bit i set = bucket i is non-empty.
    occupied: [u64; WORDS],
    /// A bucket number at or before every wheel event (see the module doc).
    cursor: u64,
    heap: QuadHeap,
    lanes: Vec<Lane<E>>,
    /// The smallest key among the heap's top and the lanes' fronts (`u128::MAX` when none), so a
    /// wheel pop compares against one number, and where it is (`HEAP` or a lane index).
    other_min: u128,
    other_at: usize,
}

/// `other_at` when `other_min` is the heap's top.
const HEAP: usize = usize::MAX;

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            seq: 0,
            len: 0,
            links: Vec::new(),
            events: Vec::new(),
            free: Vec::new(),
            heads: vec![NIL; BUCKETS],
            occupied: [0; WORDS],
            cursor: 0,
            heap: QuadHeap::default(),
            lanes: Vec::new(),
            other_min: u128::MAX,
            other_at: HEAP,
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
    #[inline(always)]
    pub fn push_at(&mut self, at: SimTime, e: E) {
        self.seq += 1;
        self.len += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                // A free slot is empty: forgetting the `None` it held skips a drop check.
                let old = self.events[s as usize].replace(e);
                debug_assert!(old.is_none());
                std::mem::forget(old);
                s
            }
            None => {
                assert!(
                    self.events.len() < MAX_SLOTS,
                    "event queue overflow: more than 2^24 events pending"
                );
                self.events.push(Some(e));
                self.links.push(Link { key: 0, next: NIL });
                (self.events.len() - 1) as u32
            }
        };
        self.links[slot as usize].key = pack(at.0, self.seq, slot);
        self.place(slot);
    }

    /// Puts a slot holding an event (and its key) into the wheel or the heap.
    #[inline]
    fn place(&mut self, slot: u32) {
        let key = self.links[slot as usize].key;
        let bucket = time_of(key) >> SHIFT;
        if bucket >= self.cursor && bucket - self.cursor < BUCKETS as u64 {
            let b = bucket as usize % BUCKETS;
            self.links[slot as usize].next = self.heads[b];
            self.heads[b] = slot;
            self.occupied[b / 64] |= 1 << (b % 64);
        } else {
            self.heap.push(key);
            if key < self.other_min {
                (self.other_min, self.other_at) = (key, HEAP);
            }
        }
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
        self.len += 1;
        let key = pack(at.0, self.seq, 0);
        let items = &mut self.lanes[lane].items;
        debug_assert!(
            items.back().is_none_or(|(k, _)| *k <= key),
            "lane times never go backwards"
        );
        items.push_back((key, e));
        if key < self.other_min {
            (self.other_min, self.other_at) = (key, lane);
        }
    }

    /// The first non-empty wheel bucket at or after `cursor` (circularly), if any.
    #[inline]
    fn first_bucket(&self) -> Option<usize> {
        let start = self.cursor as usize % BUCKETS;
        let mut word = start / 64;
        let mut bits = self.occupied[word] & (u64::MAX << (start % 64));
        // WORDS + 1 looks: the start word's low bits (the far end of the wheel) come last.
        for _ in 0..=WORDS {
            if bits != 0 {
                return Some(word * 64 + bits.trailing_zeros() as usize);
            }
            word = (word + 1) % WORDS;
            bits = self.occupied[word];
        }
        None
    }

    /// The smallest key in a non-empty bucket, with its slot and the slot before it in the list.
    #[inline]
    fn bucket_min(&self, bucket: usize) -> (u128, u32, u32) {
        let mut best = self.heads[bucket];
        let mut best_key = self.links[best as usize].key;
        let mut best_prev = NIL;
        let mut prev = best;
        let mut cur = self.links[best as usize].next;
        while cur != NIL {
            let s = &self.links[cur as usize];
            if s.key < best_key {
                (best, best_key, best_prev) = (cur, s.key, prev);
            }
            prev = cur;
            cur = s.next;
        }
        (best_key, best, best_prev)
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        let wheel = self
            .first_bucket()
            .map_or(u128::MAX, |b| self.bucket_min(b).0);
        let key = wheel.min(self.other_min);
        (key != u128::MAX).then(|| SimTime(time_of(key)))
    }

    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_before(None)
    }

    /// Takes a sequence number for an event kept outside the queue (client timeouts), so that it
    /// orders against queued events exactly as if it had been pushed now.
    #[inline]
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Pops the earliest event if it comes before `limit` (time, sequence number), or any event
    /// when there is no limit.
    #[inline]
    pub fn pop_before(&mut self, limit: Option<(SimTime, u64)>) -> Option<(SimTime, E)> {
        let limit = limit.map_or(u128::MAX, |(t, seq)| pack(t.0, seq, 0));
        let bound = self.other_min.min(limit);
        if let Some(b) = self.first_bucket() {
            let (key, slot, prev) = self.bucket_min(b);
            if key < bound {
                return Some(self.take_from_wheel(b, key, slot, prev));
            }
        }
        if self.other_min < limit {
            return self.pop_other();
        }
        None
    }

    #[inline]
    fn take_from_wheel(&mut self, bucket: usize, key: u128, slot: u32, prev: u32) -> (SimTime, E) {
        let next = self.links[slot as usize].next;
        if prev == NIL {
            self.heads[bucket] = next;
            if next == NIL {
                self.occupied[bucket / 64] &= !(1 << (bucket % 64));
            }
        } else {
            self.links[prev as usize].next = next;
        }
        let e = self.take_slot(slot);
        self.advance(key);
        (SimTime(time_of(key)), e)
    }

    fn take_slot(&mut self, slot: u32) -> E {
        self.len -= 1;
        self.free.push(slot);
        let e = self.events[slot as usize].take();
        e.expect("a queued slot holds its event")
    }

    fn advance(&mut self, key: u128) {
        self.cursor = self.cursor.max(time_of(key) >> SHIFT);
    }

    /// Pops the smallest event of the heap and the lanes (`other_min`).
    fn pop_other(&mut self) -> Option<(SimTime, E)> {
        let key = self.other_min;
        if key == u128::MAX {
            return None;
        }
        let e = if self.other_at == HEAP {
            self.heap.pop();
            self.take_slot(slot_of(key))
        } else {
            self.len -= 1;
            self.lanes[self.other_at].items.pop_front()?.1
        };
        self.find_other_min();
        self.advance(key);
        Some((SimTime(time_of(key)), e))
    }

    fn find_other_min(&mut self) {
        (self.other_min, self.other_at) = (self.heap.peek().unwrap_or(u128::MAX), HEAP);
        for (i, lane) in self.lanes.iter().enumerate() {
            if let Some((k, _)) = lane.items.front()
                && *k < self.other_min
            {
                (self.other_min, self.other_at) = (*k, i);
            }
        }
    }

    /// Every pending event with its time, in no particular order (for viewers).
    pub fn iter(&self) -> impl Iterator<Item = (SimTime, &E)> {
        let placed = self
            .links
            .iter()
            .zip(&self.events)
            .filter_map(|(l, e)| e.as_ref().map(|e| (SimTime(time_of(l.key)), e)));
        let lanes = self
            .lanes
            .iter()
            .flat_map(|l| l.items.iter().map(|(k, e)| (SimTime(time_of(*k)), e)));
        placed.chain(lanes)
    }

    /// Removes every event for which `keep` returns false (used when a node's state is wiped).
    /// Rare, so it simply rebuilds the wheel and the heap.
    pub fn retain(&mut self, mut keep: impl FnMut(&E) -> bool) {
        for lane in &mut self.lanes {
            lane.items.retain(|(_, e)| keep(e));
        }
        self.heads.fill(NIL);
        self.occupied = [0; WORDS];
        self.heap.clear();
        self.free.clear();
        for slot in 0..self.events.len() as u32 {
            let e = &mut self.events[slot as usize];
            if e.as_ref().is_some_and(|e| !keep(e)) {
                *e = None;
            }
            if self.events[slot as usize].is_some() {
                self.place(slot);
            } else {
                self.free.push(slot);
            }
        }
        self.find_other_min();
        let lanes: usize = self.lanes.iter().map(|l| l.items.len()).sum();
        self.len = lanes + self.events.len() - self.free.len();
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
                // Fixed delays (lanes), near events (wheel) and far ones (overflow heap, and
                // wheel buckets reused after the cursor wraps around).
                let delay = if rng.chance(0.3) {
                    [0, 50, 7][rng.below(3) as usize]
                } else if rng.chance(0.8) {
                    rng.below(1000)
                } else {
                    rng.below(3 * WHEEL_SPAN_US)
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

    #[test]
    fn retain_keeps_far_events_in_order() {
        let mut q = EventQueue::default();
        for i in 0..5u64 {
            q.push_at(SimTime(i * WHEEL_SPAN_US / 2), i);
            q.push_after(SimTime(i), 7, 100 + i);
        }
        q.retain(|e| e % 2 == 0);
        assert_eq!(q.len(), 6);
        assert_eq!(q.peek_time(), Some(SimTime(0)));
        let left: Vec<(u64, u64)> = std::iter::from_fn(|| q.pop())
            .map(|(t, e)| (t.0, e))
            .collect();
        let span = WHEEL_SPAN_US;
        assert_eq!(
            left,
            vec![
                (0, 0),
                (7, 100),
                (9, 102),
                (11, 104),
                (span, 2),
                (2 * span, 4)
            ]
        );
        assert_eq!(q.peek_time(), None);
    }
}
