//! What the client invokes: a read, write or cas on a uniformly drawn key,
//! in the configured mix; fresh write values that name their client; cas
//! expectations drawn from values recently seen on the key.

use super::{Ctx, KvClient};
use crate::kv::store::KvCommand;

/// Write and cas values are `index * VALUE_STRIDE + counter`, so each value
/// names the client that wrote it (unique for the first `VALUE_STRIDE - 1`
/// fresh values of a client; past that they may repeat another client's,
/// which keeps the history correct but less informative).
pub const VALUE_STRIDE: i64 = 1_000_000;

/// How many recently seen values per key a client remembers as cas
/// candidates (a bound, so memory does not grow with the run).
const SEEN_PER_KEY: usize = 8;

impl KvClient {
    pub(super) fn draw_command(&mut self, ctx: &mut Ctx<'_>) -> KvCommand {
        let u = ctx.rng().unit();
        let key = ctx.rng().index(self.cfg.keys as usize) as i64;
        if u < self.cut[0] {
            KvCommand::Read { key }
        } else if u < self.cut[1] {
            let value = self.fresh_value();
            self.remember(key, value);
            KvCommand::Write { key, value }
        } else {
            let expected = match self.seen.get(&key) {
                Some(vs) if !vs.is_empty() => vs[ctx.rng().index(vs.len())],
                _ => ctx.rng().range_inclusive(0, 9) as i64,
            };
            let new = self.fresh_value();
            KvCommand::Cas { key, expected, new }
        }
    }

    pub(super) fn fresh_value(&mut self) -> i64 {
        self.values_drawn += 1;
        i64::from(self.cfg.index) * VALUE_STRIDE + self.values_drawn
    }

    pub(super) fn remember(&mut self, key: i64, value: i64) {
        let vs = self.seen.entry(key).or_default();
        if vs.contains(&value) {
            return;
        }
        if vs.len() == SEEN_PER_KEY {
            vs.remove(0);
        }
        vs.push(value);
    }
}
