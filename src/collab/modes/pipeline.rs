//! Pipeline mode: the workflow is a DAG of stages; a stage runs when every
//! stage it depends on is final, independent branches run in parallel, and
//! a conditional edge routes an outcome to one of two stages (the other is
//! skipped). This file holds the DAG helpers shared with validation and
//! the rule that picks one agent for a step ([`rank`]).

use crate::collab::config::{AgentProfile, StageDef};
use std::cmp::Reverse;

/// How an agent ranks for one task (lower is better): heard from recently
/// first (an agent that died but is not yet declared lost looks idle, and
/// must not win on load), then accurate enough for the task's priority,
/// least loaded, most accurate, fastest (mean latency), lowest index.
/// Ties cannot happen (the index differs).
pub type Rank = (bool, bool, u32, Reverse<u64>, u64, usize);

/// Agent `i`'s [`Rank`] for a task whose priority asks for `floor`
/// accuracy, with `load` attempts already on it; `quiet`: not heard from
/// lately.
pub fn rank(p: &AgentProfile, i: usize, load: u32, floor: f64, quiet: bool) -> Rank {
    (
        quiet,
        p.accuracy < floor,
        load,
        Reverse((p.accuracy * 1e6) as u64),
        (p.latency.mean().min(600_000.0) * 1000.0) as u64,
        i,
    )
}

/// Stage indices in an order where each comes after its dependencies, or
/// the stages of one cycle (in edge order, first stage repeated at the
/// end) if there is one.
pub fn topological_order(stages: &[StageDef]) -> Result<Vec<usize>, Vec<usize>> {
    let deps: Vec<Vec<usize>> = stages.iter().map(|s| s.after.clone()).collect();
    order_of(&deps)
}

/// Topological order of a graph given as `deps[i]` = nodes `i` depends on;
/// on a cycle, the cycle's nodes.
pub fn order_of(deps: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    // 0 = unvisited, 1 = on the stack, 2 = done. Iterative DFS, bounded by
    // the number of edges.
    let n = deps.len();
    let mut mark = vec![0u8; n];
    let mut order = Vec::with_capacity(n);
    for root in 0..n {
        if mark[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = 1;
        while let Some(&mut (v, ref mut i)) = stack.last_mut() {
            if *i < deps[v].len() {
                let w = deps[v][*i];
                *i += 1;
                if w >= n {
                    continue;
                }
                match mark[w] {
                    0 => {
                        mark[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => {
                        // w is on the stack: the cycle is w .. v, w. The
                        // stack follows "depends on" edges; report it in
                        // flow order (dependency first).
                        let pos = stack.iter().position(|&(x, _)| x == w).expect("on stack");
                        let mut cycle: Vec<usize> = stack[pos..].iter().map(|&(x, _)| x).collect();
                        cycle.reverse();
                        cycle.push(cycle[0]);
                        return Err(cycle);
                    }
                    _ => {}
                }
            } else {
                mark[v] = 2;
                order.push(v);
                stack.pop();
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dependencies come first; a cycle is returned with its members.
    #[test]
    fn orders_dags_and_names_cycles() {
        assert_eq!(
            order_of(&[vec![], vec![0], vec![0], vec![1, 2]]),
            Ok(vec![0, 1, 2, 3])
        );
        let c = order_of(&[vec![2], vec![0], vec![1]]).unwrap_err();
        assert_eq!(c.len(), 4);
        assert_eq!(c[0], c[3]);
    }
}
