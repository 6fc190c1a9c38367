//! The trace hash: every dispatched event is folded into a BLAKE3 hash.
//!
//! Each event is encoded as a fixed 37-byte little-endian record
//! `time_us u64 | kind u8 | node u32 | a u64 | b u64 | c u64` and fed to
//! BLAKE3 in 64 KiB batches (so hashing costs a memcpy per event). BLAKE3 is
//! specified and versioned, so the hash is the same across machines,
//! compilers and releases; it changes only when behaviour changes.

use crate::process::Digest;

/// The digest state right after a message kind's name, cached per kind:
/// every delivery's digest starts with its kind (length and packed
/// bytes), which is the same words for every message of that kind, so
/// the kernel folds them once per kind instead of once per delivery.
/// Keyed by the `&'static str` itself (address and length); the same
/// name at two addresses gets two equal entries. Bounded: past
/// [`KindDigests::CAP`] kinds the digest is computed every time.
#[derive(Debug, Default)]
pub struct KindDigests {
    entries: Vec<(&'static str, Digest)>,
}

impl KindDigests {
    /// Most kinds cached (a protocol has a handful).
    pub const CAP: usize = 64;

    /// A digest with `kind` already folded in, as `Digest::new()` then
    /// `write(kind.as_bytes())` would leave it.
    #[inline]
    pub fn start(&mut self, kind: &'static str) -> Digest {
        for (k, d) in &self.entries {
            if std::ptr::eq(*k, kind) {
                return *d;
            }
        }
        self.miss(kind)
    }

    #[cold]
    #[inline(never)]
    fn miss(&mut self, kind: &'static str) -> Digest {
        let mut d = Digest::new();
        d.write(kind.as_bytes());
        if self.entries.len() < Self::CAP {
            self.entries.push((kind, d));
        }
        d
    }
}

/// Incremental hasher over the event stream.
#[derive(Debug)]
pub struct TraceHasher {
    hasher: blake3::Hasher,
    buf: Vec<u8>,
}

const BATCH: usize = 64 * 1024;
/// Bytes of one event record.
const RECORD: usize = 37;

impl Default for TraceHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl TraceHasher {
    /// A hasher with nothing folded in.
    pub fn new() -> Self {
        TraceHasher {
            hasher: blake3::Hasher::new(),
            buf: Vec::with_capacity(BATCH + RECORD),
        }
    }

    /// Fold one event record. The record is assembled in a fixed array
    /// and copied once (one bounds check instead of six growth checks).
    #[inline]
    pub fn record(&mut self, time_us: u64, kind: u8, node: u32, a: u64, b: u64, c: u64) {
        let mut rec = [0u8; RECORD];
        rec[0..8].copy_from_slice(&time_us.to_le_bytes());
        rec[8] = kind;
        rec[9..13].copy_from_slice(&node.to_le_bytes());
        rec[13..21].copy_from_slice(&a.to_le_bytes());
        rec[21..29].copy_from_slice(&b.to_le_bytes());
        rec[29..37].copy_from_slice(&c.to_le_bytes());
        self.buf.extend_from_slice(&rec);
        if self.buf.len() >= BATCH {
            self.flush();
        }
    }

    #[cold]
    #[inline(never)]
    fn flush(&mut self) {
        self.hasher.update(&self.buf);
        self.buf.clear();
    }

    /// The hash of everything recorded so far, as lowercase hex (64 chars).
    pub fn hex(&self) -> String {
        let mut h = self.hasher.clone();
        h.update(&self.buf);
        h.finalize().to_hex().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batching does not change the hash: it equals BLAKE3 over the records.
    #[test]
    fn batching_is_invisible() {
        let mut t = TraceHasher::new();
        let mut raw = Vec::new();
        for i in 0..1000u64 {
            t.record(i, 1, 2, 3, 4, i * 7);
            raw.extend_from_slice(&i.to_le_bytes());
            raw.push(1);
            raw.extend_from_slice(&2u32.to_le_bytes());
            for v in [3u64, 4, i * 7] {
                raw.extend_from_slice(&v.to_le_bytes());
            }
        }
        assert_eq!(t.hex(), blake3::hash(&raw).to_hex().to_string());
    }

    /// A cached kind digest is the digest a fresh `Digest` has after
    /// writing the kind, for hits, misses, and names past the cap.
    #[test]
    fn kind_digests_match_a_fresh_digest() {
        let names: Vec<&'static str> = (0..KindDigests::CAP + 5)
            .map(|i| &*Box::leak(format!("kind_{i}").into_boxed_str()))
            .collect();
        let mut cache = KindDigests::default();
        for round in 0..2 {
            for &n in names.iter().chain(["ping", "append_entries", ""].iter()) {
                let mut fresh = Digest::new();
                fresh.write(n.as_bytes());
                assert_eq!(cache.start(n).finish(), fresh.finish(), "{n} round {round}");
            }
        }
        assert_eq!(cache.entries.len(), KindDigests::CAP);
    }
}
