//! Random histories that are linearizable by construction, for tests and
//! benchmarks.
//!
//! Closed-loop clients issue one operation at a time on random keys. Every
//! operation that takes effect gets a linearization point inside its
//! interval (for an info operation: any time after its invocation, or
//! never); applying the operations to a true register in linearization-point
//! order fixes what reads return and whether each cas succeeds. Written
//! values are drawn from `0..values`, so negative values are never written.

use super::{Op, OpKind, Outcome};
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};

/// Shape of a generated history.
#[derive(Clone, Debug, PartialEq)]
pub struct GenParams {
    /// Concurrent closed-loop clients (processes `0..clients`).
    pub clients: u64,
    /// Keys `0..keys`, chosen uniformly per operation.
    pub keys: i64,
    /// Clients stop invoking at this virtual time.
    pub duration: SimDuration,
    /// Mean of the exponential request latency.
    pub latency_mean: SimDuration,
    /// Mean of the exponential pause between a reply and the next request.
    pub think_mean: SimDuration,
    /// How long a client waits before giving up (an info operation).
    pub timeout: SimDuration,
    /// Probability an operation times out (becomes [`Outcome::Info`]); half
    /// of those take effect, at a random time within two timeouts.
    pub info_probability: f64,
    /// Probability a read or write fails cleanly (no effect).
    pub fail_probability: f64,
    /// Fraction of reads; of the rest, `write_fraction` are writes and the
    /// remainder compare-and-sets.
    pub read_fraction: f64,
    /// Fraction of writes (see `read_fraction`).
    pub write_fraction: f64,
    /// Written values are drawn from `0..values`.
    pub values: i64,
}

impl Default for GenParams {
    /// The benchmark workload: 60 s of 5 clients over 8 keys (about 50k ops).
    fn default() -> Self {
        GenParams {
            clients: 5,
            keys: 8,
            duration: SimDuration::from_millis(60_000),
            latency_mean: SimDuration::from_millis(5),
            think_mean: SimDuration::from_millis(1),
            timeout: SimDuration::from_millis(50),
            info_probability: 0.001,
            fail_probability: 0.01,
            read_fraction: 0.5,
            write_fraction: 0.3,
            values: 100,
        }
    }
}

/// Generate a linearizable history from `seed`, ops in invocation order.
pub fn generate(params: &GenParams, seed: u64) -> Vec<Op> {
    assert!(params.clients > 0 && params.keys > 0 && params.values > 0);
    let mut rng = SimRng::derive(seed, "check/linearizability/generate");
    let mut ops: Vec<Op> = Vec::new();
    // Linearization point of each op that takes effect.
    let mut lin_points: Vec<(u64, usize)> = Vec::new();
    let mut next_invoke: Vec<u64> = (0..params.clients)
        .map(|_| rng.exponential(params.think_mean.as_micros() as f64) as u64)
        .collect();
    // Last value written per key in invocation order: a plausible cas guess.
    let mut last_written: Vec<i64> = vec![0; params.keys as usize];
    let end = params.duration.as_micros();
    loop {
        let (client, &invoke) = next_invoke
            .iter()
            .enumerate()
            .min_by_key(|(c, t)| (**t, *c))
            .expect("at least one client");
        if invoke >= end {
            break;
        }
        let key = rng.index(params.keys as usize) as i64;
        let kind = random_kind(params, &mut rng, last_written[key as usize]);
        if let OpKind::Write(v) | OpKind::Cas { new: v, .. } = kind {
            last_written[key as usize] = v;
        }
        let latency = (rng.exponential(params.latency_mean.as_micros() as f64) as u64).max(1);
        let mut op = Op {
            process: client as u64,
            key,
            kind,
            read: None,
            outcome: Outcome::Ok,
            invoke: SimTime(invoke),
            complete: Some(SimTime(invoke + latency)),
            invoke_seq: 0,
            complete_seq: 0,
        };
        let index = ops.len();
        let resume;
        if rng.chance(params.info_probability) {
            op.outcome = Outcome::Info;
            op.complete = None;
            let timeout = params.timeout.as_micros();
            if rng.chance(0.5) {
                let at = invoke + (rng.unit() * 2.0 * timeout as f64) as u64;
                lin_points.push((at, index));
            }
            resume = invoke + timeout;
        } else {
            resume = invoke + latency;
            // A cas fails by its compare (decided when applied); reads and
            // writes fail cleanly, with no effect.
            let clean_fail =
                !matches!(kind, OpKind::Cas { .. }) && rng.chance(params.fail_probability);
            if clean_fail {
                op.outcome = Outcome::Fail;
            } else {
                lin_points.push((invoke + rng.range_inclusive(0, latency), index));
            }
        }
        ops.push(op);
        next_invoke[client] = resume + rng.exponential(params.think_mean.as_micros() as f64) as u64;
    }
    apply_in_linearization_order(&mut ops, &mut lin_points, params.keys);
    ops
}

fn random_kind(params: &GenParams, rng: &mut SimRng, last: i64) -> OpKind {
    let r = rng.unit();
    if r < params.read_fraction {
        OpKind::Read
    } else if r < params.read_fraction + (1.0 - params.read_fraction) * params.write_fraction {
        OpKind::Write(rng.index(params.values as usize) as i64)
    } else {
        let expected = if rng.chance(0.7) {
            last
        } else {
            rng.index(params.values as usize) as i64
        };
        OpKind::Cas {
            expected,
            new: rng.index(params.values as usize) as i64,
        }
    }
}

/// Run the ops that take effect against a true register per key, in
/// linearization-point order, and record what reads saw and which cas
/// operations matched.
fn apply_in_linearization_order(ops: &mut [Op], lin_points: &mut [(u64, usize)], keys: i64) {
    lin_points.sort_unstable();
    let mut register: Vec<Option<i64>> = vec![None; keys as usize];
    for &(_, index) in lin_points.iter() {
        let op = &mut ops[index];
        let current = &mut register[op.key as usize];
        match op.kind {
            OpKind::Read if op.outcome == Outcome::Ok => op.read = *current,
            OpKind::Read => {}
            OpKind::Write(v) => *current = Some(v),
            OpKind::Cas { expected, new } => {
                if *current == Some(expected) {
                    *current = Some(new);
                } else if op.outcome == Outcome::Ok {
                    op.outcome = Outcome::Fail;
                }
            }
        }
    }
}
