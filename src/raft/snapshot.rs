//! Snapshot encoding and the little-endian codec helpers.
//!
//! A Raft snapshot is one byte string:
//! ```text
//! magic "RSNP" | version u8 | last_index u64 | last_term u64
//! | sessions: count u32, then per session: client u32, seq u64, output
//! | state machine: len u32, bytes
//! ```
//! all little-endian. Its checksum is the first 8 bytes (little-endian) of
//! the blake3 hash of the whole string; a snapshot whose checksum does not
//! match is rejected, never applied.

use super::messages::SnapshotMeta;
use super::{CommandOutput, StateMachine};
use crate::ids::{LogIndex, NodeId, Term};
use std::collections::BTreeMap;
use std::rc::Rc;

const MAGIC: &[u8; 4] = b"RSNP";
const VERSION: u8 = 1;

/// The exactly-once record of one client session (§6.3): the last request
/// applied and what it returned.
#[derive(Clone, Debug, PartialEq)]
pub struct Session<O> {
    /// Sequence number of the last applied request.
    pub seq: u64,
    /// Its output, returned again if the request is retried.
    pub output: O,
}

/// The client session table, ordered by client so it encodes
/// deterministically.
pub type Sessions<O> = BTreeMap<NodeId, Session<O>>;

/// Appends little-endian values to a byte buffer.
#[derive(Debug, Default)]
pub struct ByteWriter {
    buf: Vec<u8>,
}

impl ByteWriter {
    /// An empty writer with room for `cap` bytes.
    pub fn with_capacity(cap: usize) -> Self {
        ByteWriter {
            buf: Vec::with_capacity(cap),
        }
    }
    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// A u32, little-endian.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// A u64, little-endian.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// An i64, little-endian.
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Raw bytes (no length prefix).
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    /// The encoded bytes.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads little-endian values, failing with a message on truncated input.
#[derive(Debug)]
pub struct ByteReader<'a> {
    rest: &'a [u8],
}

impl<'a> ByteReader<'a> {
    /// Read from `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        ByteReader { rest: bytes }
    }
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err(format!(
                "truncated: wanted {n} bytes, {} left",
                self.rest.len()
            ));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    /// One byte.
    pub fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    /// A little-endian u32.
    pub fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A little-endian u64.
    pub fn u64(&mut self) -> Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    /// A little-endian i64.
    pub fn i64(&mut self) -> Result<i64, String> {
        Ok(self.u64()? as i64)
    }
    /// Fail unless every byte was consumed.
    pub fn finish(&self) -> Result<(), String> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(format!("{} trailing bytes", self.rest.len()))
        }
    }
}

/// Checksum of snapshot bytes: the first 8 bytes of blake3, little-endian.
pub fn checksum(bytes: &[u8]) -> u64 {
    let h = blake3::hash(bytes);
    let mut a = [0u8; 8];
    a.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_le_bytes(a)
}

/// Encode a snapshot of `sm` and `sessions` at `meta`.
pub fn encode<S: StateMachine>(
    meta: SnapshotMeta,
    sm: &S,
    sessions: &Sessions<S::Output>,
) -> Rc<[u8]> {
    let state = sm.snapshot();
    let mut w = ByteWriter::with_capacity(32 + state.len() + sessions.len() * 24);
    w.bytes(MAGIC);
    w.u8(VERSION);
    w.u64(meta.last_index.0);
    w.u64(meta.last_term.0);
    w.u32(u32::try_from(sessions.len()).expect("session table fits in u32"));
    for (client, s) in sessions {
        w.u32(client.0);
        w.u64(s.seq);
        s.output.encode(&mut w);
    }
    w.u32(u32::try_from(state.len()).expect("state fits in u32"));
    w.bytes(&state);
    Rc::from(w.into_inner())
}

/// Decode snapshot bytes (checksum already verified by the caller).
pub fn decode<S: StateMachine>(
    bytes: &[u8],
) -> Result<(SnapshotMeta, S, Sessions<S::Output>), String> {
    let mut r = ByteReader::new(bytes);
    if r.take(4)? != MAGIC {
        return Err("not a raft snapshot (bad magic)".into());
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(format!("unsupported snapshot version {version}"));
    }
    let meta = SnapshotMeta {
        last_index: LogIndex(r.u64()?),
        last_term: Term(r.u64()?),
    };
    let n = r.u32()?;
    let mut sessions = BTreeMap::new();
    for _ in 0..n {
        let client = NodeId(r.u32()?);
        let seq = r.u64()?;
        let output = S::Output::decode(&mut r)?;
        sessions.insert(client, Session { seq, output });
    }
    let len = r.u32()? as usize;
    let sm = S::restore(r.take(len)?)?;
    r.finish()?;
    Ok((meta, sm, sessions))
}
