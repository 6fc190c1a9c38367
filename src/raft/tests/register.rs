//! A tiny replicated state machine for the interaction tests, so Raft's
//! tests do not depend on `kv/`: a bank of registers (i64 name to i64
//! value) with read, write and compare-and-set. Compare-and-set is there
//! because it is not idempotent: applying a retried request twice would
//! show.

use crate::process::Digest;
use crate::raft::{ByteReader, ByteWriter, Command, CommandOutput, StateMachine};
use std::collections::BTreeMap;

/// A command on register `key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cmd {
    Read { key: i64 },
    Write { key: i64, value: i64 },
    Cas { key: i64, expected: i64, new: i64 },
}

/// What a command returns (`None`: the register was never written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Out {
    ReadOk(Option<i64>),
    WriteOk,
    CasOk,
    CasFail(Option<i64>),
}

/// The registers, ordered so the snapshot encoding is deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Registers {
    values: BTreeMap<i64, i64>,
}

impl Registers {
    pub(super) fn get(&self, key: i64) -> Option<i64> {
        self.values.get(&key).copied()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl Cmd {
    /// (tag, key, two operands): one fixed shape for digest and size.
    fn parts(self) -> (u8, i64, i64, i64) {
        match self {
            Cmd::Read { key } => (0, key, 0, 0),
            Cmd::Write { key, value } => (1, key, value, 0),
            Cmd::Cas { key, expected, new } => (2, key, expected, new),
        }
    }
}

impl Command for Cmd {
    fn digest(&self, d: &mut Digest) {
        let (tag, key, a, b) = self.parts();
        d.write(&[tag]);
        d.write_i64(key);
        d.write_i64(a);
        d.write_i64(b);
    }

    fn is_read_only(&self) -> bool {
        matches!(self, Cmd::Read { .. })
    }
}

impl Out {
    fn parts(self) -> (u8, Option<i64>) {
        match self {
            Out::ReadOk(v) => (0, v),
            Out::WriteOk => (1, None),
            Out::CasOk => (2, None),
            Out::CasFail(v) => (3, v),
        }
    }
}

impl CommandOutput for Out {
    fn digest(&self, d: &mut Digest) {
        let (tag, v) = self.parts();
        d.write(&[tag, u8::from(v.is_some())]);
        d.write_i64(v.unwrap_or(0));
    }

    fn encode(&self, w: &mut ByteWriter) {
        let (tag, v) = self.parts();
        w.u8(tag);
        w.u8(u8::from(v.is_some()));
        w.i64(v.unwrap_or(0));
    }

    fn decode(r: &mut ByteReader<'_>) -> Result<Self, String> {
        let (tag, some, v) = (r.u8()?, r.u8()?, r.i64()?);
        let v = (some == 1).then_some(v);
        Ok(match tag {
            0 => Out::ReadOk(v),
            1 => Out::WriteOk,
            2 => Out::CasOk,
            3 => Out::CasFail(v),
            t => return Err(format!("bad register output tag {t}")),
        })
    }
}

impl StateMachine for Registers {
    type Command = Cmd;
    type Output = Out;

    fn apply(&mut self, cmd: &Cmd) -> Out {
        match *cmd {
            Cmd::Read { key } => Out::ReadOk(self.get(key)),
            Cmd::Write { key, value } => {
                self.values.insert(key, value);
                Out::WriteOk
            }
            Cmd::Cas { key, expected, new } if self.get(key) == Some(expected) => {
                self.values.insert(key, new);
                Out::CasOk
            }
            Cmd::Cas { key, .. } => Out::CasFail(self.get(key)),
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(8 + 16 * self.values.len());
        w.u64(self.values.len() as u64);
        for (k, v) in &self.values {
            w.i64(*k);
            w.i64(*v);
        }
        w.into_inner()
    }

    fn restore(bytes: &[u8]) -> Result<Self, String> {
        let mut r = ByteReader::new(bytes);
        let n = r.u64()?;
        if n > bytes.len() as u64 / 16 {
            return Err(format!("{n} registers cannot fit in {} bytes", bytes.len()));
        }
        let mut values = BTreeMap::new();
        for _ in 0..n {
            values.insert(r.i64()?, r.i64()?);
        }
        r.finish()?;
        Ok(Registers { values })
    }
}
