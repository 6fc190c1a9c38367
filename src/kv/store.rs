//! The KV state machine: i64 keys to i64 values, with reads, writes and
//! compare-and-set.

use crate::process::Digest;
use crate::raft::{ByteReader, ByteWriter, Command, CommandOutput, StateMachine};
use std::collections::BTreeMap;

/// A KV command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvCommand {
    /// Read `key`.
    Read {
        /// The key.
        key: i64,
    },
    /// Set `key` to `value`.
    Write {
        /// The key.
        key: i64,
        /// The new value.
        value: i64,
    },
    /// Set `key` to `new` if it currently holds `expected`.
    Cas {
        /// The key.
        key: i64,
        /// The value the key must hold (a missing key never matches).
        expected: i64,
        /// The value to store on success.
        new: i64,
    },
}

impl Command for KvCommand {
    fn digest(&self, d: &mut Digest) {
        match *self {
            KvCommand::Read { key } => {
                d.write(&[0]);
                d.write_i64(key);
            }
            KvCommand::Write { key, value } => {
                d.write(&[1]);
                d.write_i64(key);
                d.write_i64(value);
            }
            KvCommand::Cas { key, expected, new } => {
                d.write(&[2]);
                d.write_i64(key);
                d.write_i64(expected);
                d.write_i64(new);
            }
        }
    }

    fn is_read_only(&self) -> bool {
        matches!(self, KvCommand::Read { .. })
    }

    fn size_bytes(&self) -> usize {
        match self {
            KvCommand::Read { .. } => 9,
            KvCommand::Write { .. } => 17,
            KvCommand::Cas { .. } => 25,
        }
    }
}

/// What a KV command returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvOutput {
    /// The value read (`None`: key absent).
    ReadOk(Option<i64>),
    /// The write happened.
    WriteOk,
    /// The compare-and-set matched and stored the new value.
    CasOk,
    /// The compare-and-set did not match; the current value.
    CasFail(Option<i64>),
}

fn put_opt(w: &mut ByteWriter, v: Option<i64>) {
    match v {
        None => w.u8(0),
        Some(x) => {
            w.u8(1);
            w.i64(x);
        }
    }
}

fn get_opt(r: &mut ByteReader<'_>) -> Result<Option<i64>, String> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(r.i64()?)),
        t => Err(format!("bad option tag {t}")),
    }
}

impl CommandOutput for KvOutput {
    fn digest(&self, d: &mut Digest) {
        match *self {
            KvOutput::ReadOk(v) => {
                d.write(&[0]);
                d.write_i64(v.unwrap_or(i64::MIN));
                d.write(&[u8::from(v.is_some())]);
            }
            KvOutput::WriteOk => d.write(&[1]),
            KvOutput::CasOk => d.write(&[2]),
            KvOutput::CasFail(v) => {
                d.write(&[3]);
                d.write_i64(v.unwrap_or(i64::MIN));
                d.write(&[u8::from(v.is_some())]);
            }
        }
    }

    fn encode(&self, w: &mut ByteWriter) {
        match *self {
            KvOutput::ReadOk(v) => {
                w.u8(0);
                put_opt(w, v);
            }
            KvOutput::WriteOk => w.u8(1),
            KvOutput::CasOk => w.u8(2),
            KvOutput::CasFail(v) => {
                w.u8(3);
                put_opt(w, v);
            }
        }
    }

    fn decode(r: &mut ByteReader<'_>) -> Result<Self, String> {
        Ok(match r.u8()? {
            0 => KvOutput::ReadOk(get_opt(r)?),
            1 => KvOutput::WriteOk,
            2 => KvOutput::CasOk,
            3 => KvOutput::CasFail(get_opt(r)?),
            t => return Err(format!("bad kv output tag {t}")),
        })
    }
}

/// The store: an ordered map, so snapshots encode deterministically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStore {
    map: BTreeMap<i64, i64>,
}

impl KvStore {
    /// An empty store.
    pub fn new() -> Self {
        KvStore::default()
    }

    /// The value at `key` (for checkers and tests).
    pub fn get(&self, key: i64) -> Option<i64> {
        self.map.get(&key).copied()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if no key is set.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl StateMachine for KvStore {
    type Command = KvCommand;
    type Output = KvOutput;

    fn apply(&mut self, cmd: &KvCommand) -> KvOutput {
        match *cmd {
            KvCommand::Read { key } => KvOutput::ReadOk(self.get(key)),
            KvCommand::Write { key, value } => {
                self.map.insert(key, value);
                KvOutput::WriteOk
            }
            KvCommand::Cas { key, expected, new } => {
                let current = self.get(key);
                if current == Some(expected) {
                    self.map.insert(key, new);
                    KvOutput::CasOk
                } else {
                    KvOutput::CasFail(current)
                }
            }
        }
    }

    /// `count u64`, then `key i64, value i64` pairs in key order.
    fn snapshot(&self) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(8 + 16 * self.map.len());
        w.u64(self.map.len() as u64);
        for (k, v) in &self.map {
            w.i64(*k);
            w.i64(*v);
        }
        w.into_inner()
    }

    fn restore(bytes: &[u8]) -> Result<Self, String> {
        let mut r = ByteReader::new(bytes);
        let n = r.u64()?;
        // Bound the loop by the input, not by a count an attacker chose.
        if n > (bytes.len() as u64) / 16 {
            return Err(format!(
                "kv snapshot claims {n} keys in {} bytes",
                bytes.len()
            ));
        }
        let mut map = BTreeMap::new();
        for _ in 0..n {
            let k = r.i64()?;
            let v = r.i64()?;
            if map.insert(k, v).is_some() {
                return Err(format!("kv snapshot repeats key {k}"));
            }
        }
        r.finish()?;
        Ok(KvStore { map })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commands do what they say; CAS fails on a missing key.
    #[test]
    fn commands_apply() {
        let mut s = KvStore::new();
        assert_eq!(s.apply(&KvCommand::Read { key: 1 }), KvOutput::ReadOk(None));
        assert_eq!(
            s.apply(&KvCommand::Cas {
                key: 1,
                expected: 0,
                new: 5
            }),
            KvOutput::CasFail(None)
        );
        assert_eq!(
            s.apply(&KvCommand::Write { key: 1, value: 3 }),
            KvOutput::WriteOk
        );
        assert_eq!(
            s.apply(&KvCommand::Cas {
                key: 1,
                expected: 3,
                new: 4
            }),
            KvOutput::CasOk
        );
        assert_eq!(
            s.apply(&KvCommand::Read { key: 1 }),
            KvOutput::ReadOk(Some(4))
        );
        assert!(KvCommand::Read { key: 1 }.is_read_only());
        assert!(!KvCommand::Write { key: 1, value: 1 }.is_read_only());
    }

    /// A snapshot restores to an equal store; truncated bytes are an error.
    #[test]
    fn snapshot_round_trips() {
        let mut s = KvStore::new();
        for k in -3..20 {
            s.apply(&KvCommand::Write {
                key: k,
                value: k * 7 - 1,
            });
        }
        let bytes = s.snapshot();
        assert_eq!(KvStore::restore(&bytes).unwrap(), s);
        assert!(KvStore::restore(&bytes[..bytes.len() - 1]).is_err());
        assert_eq!(
            KvStore::restore(&KvStore::new().snapshot()).unwrap(),
            KvStore::new()
        );
    }

    /// Outputs round-trip through their encoding.
    #[test]
    fn outputs_round_trip() {
        for o in [
            KvOutput::ReadOk(None),
            KvOutput::ReadOk(Some(-9)),
            KvOutput::WriteOk,
            KvOutput::CasOk,
            KvOutput::CasFail(Some(2)),
        ] {
            let mut w = ByteWriter::default();
            o.encode(&mut w);
            let bytes = w.into_inner();
            let mut r = ByteReader::new(&bytes);
            assert_eq!(KvOutput::decode(&mut r).unwrap(), o);
            r.finish().unwrap();
        }
    }
}
