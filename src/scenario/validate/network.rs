//! Distributions and the network model.

use super::Problems;
use crate::scenario::types::*;

pub(super) fn dist(p: &mut Problems, path: &str, d: &DistSpec) {
    match *d {
        DistSpec::Fixed { value } => p.non_neg(&format!("{path}.value"), value),
        DistSpec::Uniform { min, max } => {
            p.non_neg(&format!("{path}.min"), min);
            p.non_neg(&format!("{path}.max"), max);
            if min > max {
                p.add(path, format!("min {min} is greater than max {max}"));
            }
        }
        DistSpec::Normal { mean, stddev } => {
            p.non_neg(&format!("{path}.mean"), mean);
            p.non_neg(&format!("{path}.stddev"), stddev);
        }
        DistSpec::Exponential { mean } => p.positive(&format!("{path}.mean"), mean),
        DistSpec::Lognormal { median, sigma } => {
            p.positive(&format!("{path}.median"), median);
            p.non_neg(&format!("{path}.sigma"), sigma);
        }
        DistSpec::Pareto { scale, shape } => {
            p.positive(&format!("{path}.scale"), scale);
            p.positive(&format!("{path}.shape"), shape);
        }
    }
}

pub(super) fn network(p: &mut Problems, n: &NetworkSpec, nodes: u32) {
    dist(p, "network.latency_ms", &n.latency_ms);
    p.prob("network.drop", n.drop);
    p.prob("network.duplicate", n.duplicate);
    for (i, l) in n.links.iter().enumerate() {
        let base = format!("network.links[{i}]");
        p.node(&format!("{base}.from"), l.from, nodes);
        p.node(&format!("{base}.to"), l.to, nodes);
        if l.from == l.to {
            p.add(format!("{base}.to"), "a link joins two different nodes");
        }
        if let Some(d) = &l.latency_ms {
            dist(p, &format!("{base}.latency_ms"), d);
        }
        if let Some(v) = l.drop {
            p.prob(&format!("{base}.drop"), v);
        }
        if let Some(v) = l.duplicate {
            p.prob(&format!("{base}.duplicate"), v);
        }
    }
}
