//! The event queue: a min-heap keyed by (time, insertion sequence), so ties
//! are broken by the order events were scheduled, never by payload or
//! address.
//!
//! Payloads live in a slab and the heap moves only 24-byte keys; benches
//! (`benches/kernel.rs`, `queue/*`) compare this with a heap that moves whole
//! payloads, which is what decided the structure (see README, Performance).

use crate::time::SimTime;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A heap entry. Ordered by `(time, seq)` only: `seq` is unique, so the
/// slot never decides. `slot` is a full word so the key has no padding:
/// a push writes it with three 8-byte stores and the sift reads it back
/// with the same widths (a 4-byte slot made the read a store-forwarding
/// stall, measured as a quarter of the push).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Key {
    time: u64,
    seq: u64,
    slot: u64,
}

impl PartialOrd for Key {
    #[inline]
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Key {
    #[inline]
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(o.time, o.seq))
    }
}

/// A binary min-heap of keys, the same algorithm as the standard
/// library's `BinaryHeap` (pop: sift the last key down to the bottom
/// along the smaller children, then up), written out so that a push
/// sifts the new key up from a register: the standard push stores it and
/// reads it back with a wider load, a store-forwarding stall that perf
/// measured at a tenth of the heartbeat mesh's kernel time.
#[derive(Debug, Default)]
struct KeyHeap {
    v: Vec<Key>,
}

impl KeyHeap {
    #[inline(always)]
    fn less(a: &Key, b: &Key) -> bool {
        (a.time, a.seq) < (b.time, b.seq)
    }

    #[inline(always)]
    fn push(&mut self, key: Key) {
        let pos = self.v.len();
        self.v.push(key);
        self.sift_up(pos, key);
    }

    /// Place `key` at the hole `pos` or above it, moving larger parents
    /// down (the key stays in a register; only parents are read).
    #[inline(always)]
    fn sift_up(&mut self, mut pos: usize, key: Key) {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            let p = self.v[parent];
            if !Self::less(&key, &p) {
                break;
            }
            self.v[pos] = p;
            pos = parent;
        }
        self.v[pos] = key;
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<Key> {
        let last = self.v.pop()?;
        let end = self.v.len();
        if end == 0 {
            return Some(last);
        }
        let top = self.v[0];
        // Down to the bottom along the smaller child...
        let mut pos = 0;
        let mut child = 1;
        while child + 1 < end {
            child += Self::less(&self.v[child + 1], &self.v[child]) as usize;
            self.v[pos] = self.v[child];
            pos = child;
            child = 2 * pos + 1;
        }
        if child + 1 == end {
            self.v[pos] = self.v[child];
            pos = child;
        }
        // ...then the last key up from there.
        self.sift_up(pos, last);
        Some(top)
    }

    #[inline(always)]
    fn peek(&self) -> Option<&Key> {
        self.v.first()
    }

    fn len(&self) -> usize {
        self.v.len()
    }

    fn is_empty(&self) -> bool {
        self.v.is_empty()
    }
}

/// A slab entry: a pending payload, or a link in the free list (the next
/// free slot, `NO_SLOT` at the end). The free list lives in the slab
/// itself, so a pop is one replace of the entry (no free-list vector
/// that may grow between taking the payload and returning it, which kept
/// the payload in two stack copies).
#[derive(Debug)]
enum Entry<T> {
    Full(T),
    Free(u32),
}

const NO_SLOT: u32 = u32::MAX;

/// A deterministic priority queue of events.
///
/// Payloads sit in a slab whose free slots form a list through the slab
/// itself; the heap orders `(time, seq, slot)` keys.
#[derive(Debug)]
pub struct EventQueue<T> {
    heap: KeyHeap,
    slab: Vec<Entry<T>>,
    free_head: u32,
    seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> EventQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            heap: KeyHeap::default(),
            slab: Vec::new(),
            free_head: NO_SLOT,
            seq: 0,
        }
    }

    /// Schedule `item` at `time`. Among equal times, earlier pushes pop first.
    // Always inlined: out of line (as the compiler chose for the bare
    // loop in `benches/kernel.rs` once the free list moved into the slab)
    // a push cost the bare loop a fifth more time.
    #[inline(always)]
    pub fn push(&mut self, time: SimTime, item: T) {
        let slot = if self.free_head != NO_SLOT {
            let s = self.free_head;
            match std::mem::replace(&mut self.slab[s as usize], Entry::Full(item)) {
                Entry::Free(next) => self.free_head = next,
                Entry::Full(_) => panic!("queue free list points at a pending event"),
            }
            s
        } else {
            let s = u32::try_from(self.slab.len()).expect("more than 2^32 pending events");
            assert!(s != NO_SLOT, "more than 2^32 - 1 pending events");
            self.slab.push(Entry::Full(item));
            s
        };
        self.heap.push(Key {
            time: time.0,
            seq: self.seq,
            slot: slot as u64,
        });
        self.seq += 1;
    }

    /// The earliest event, if any.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<(SimTime, T)> {
        let key = self.heap.pop()?;
        let entry = std::mem::replace(
            &mut self.slab[key.slot as usize],
            Entry::Free(self.free_head),
        );
        self.free_head = key.slot as u32;
        match entry {
            Entry::Full(item) => Some((SimTime(key.time), item)),
            Entry::Free(_) => panic!("queue slot emptied twice"),
        }
    }

    /// The earliest event if it is due at or before `limit`.
    #[inline]
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, T)> {
        if self.heap.peek()?.time > limit.0 {
            return None;
        }
        self.pop()
    }

    /// The time of the earliest event, if any.
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|k| SimTime(k.time))
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True if nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Total pushes so far (the next insertion sequence number).
    pub fn pushed(&self) -> u64 {
        self.seq
    }
}

/// The alternative measured against [`EventQueue`]: a binary heap that
/// moves whole payloads. Kept for the benchmark only.
#[derive(Debug)]
pub struct InlineHeapQueue<T> {
    heap: BinaryHeap<Reverse<InlineEntry<T>>>,
    seq: u64,
}

#[derive(Debug)]
struct InlineEntry<T> {
    time: u64,
    seq: u64,
    item: T,
}

impl<T> PartialEq for InlineEntry<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl<T> Eq for InlineEntry<T> {}
impl<T> PartialOrd for InlineEntry<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for InlineEntry<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(o.time, o.seq))
    }
}

impl<T> Default for InlineHeapQueue<T> {
    fn default() -> Self {
        InlineHeapQueue {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T> InlineHeapQueue<T> {
    /// Schedule `item` at `time`.
    pub fn push(&mut self, time: SimTime, item: T) {
        self.heap.push(Reverse(InlineEntry {
            time: time.0,
            seq: self.seq,
            item,
        }));
        self.seq += 1;
    }

    /// The earliest event, if any.
    pub fn pop(&mut self) -> Option<(SimTime, T)> {
        self.heap.pop().map(|Reverse(e)| (SimTime(e.time), e.item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events pop by time, and equal times pop in insertion order.
    #[test]
    fn ties_break_by_insertion_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), "b1");
        q.push(SimTime(1), "a");
        q.push(SimTime(5), "b2");
        q.push(SimTime(5), "b3");
        q.push(SimTime(3), "c");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, x)| x).collect();
        assert_eq!(order, ["a", "c", "b1", "b2", "b3"]);
    }

    /// Slots are recycled, so a steady-state queue does not grow.
    #[test]
    fn slots_are_reused() {
        let mut q = EventQueue::new();
        for i in 0..1000u64 {
            q.push(SimTime(i), i);
            q.pop();
        }
        assert_eq!(q.slab.len(), 1);
    }

    /// The hand-written heap pops exactly what the standard library's
    /// heap pops, over random interleavings of pushes and pops with many
    /// equal times (the order the trace hash depends on).
    #[test]
    fn key_heap_pops_like_the_std_heap() {
        let mut rng = crate::rng::SimRng::derive(11, "key-heap-test");
        for round in 0..200u64 {
            let mut ours = KeyHeap::default();
            let mut std_heap = BinaryHeap::new();
            let mut seq = 0;
            let spread = 1 + round % 40;
            for _ in 0..2_000 {
                if rng.chance(0.55) {
                    let key = Key {
                        time: rng.range_inclusive(0, spread - 1),
                        seq,
                        slot: seq,
                    };
                    seq += 1;
                    ours.push(key);
                    std_heap.push(Reverse(key));
                } else {
                    assert_eq!(ours.pop(), std_heap.pop().map(|Reverse(k)| k));
                }
                assert_eq!(ours.peek(), std_heap.peek().map(|Reverse(k)| k));
                assert_eq!(ours.len(), std_heap.len());
            }
            while let Some(Reverse(k)) = std_heap.pop() {
                assert_eq!(ours.pop(), Some(k));
            }
            assert!(ours.is_empty());
        }
    }
}
