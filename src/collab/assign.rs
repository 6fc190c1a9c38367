//! Capability scores for (task, agent) pairs, and a greedy baseline.
//!
//! [`capability_score`] says how well an agent suits a task, in `[0, 1]`
//! under weights that sum to 1, or `None` when it cannot do the task at all.
//! [`capability_matrix`] lays those scores out as a [`CostMatrix`] (rows =
//! tasks, columns = agents) for [`crate::collab::hungarian::maximize`].
//! [`greedy`] / [`greedy_maximize`] are the obvious heuristic, kept as the
//! baseline the optimal solver is measured against.
//!
//! The profile types here are deliberately minimal; the collaboration layer
//! maps its own agent and task descriptions onto them.

use crate::collab::hungarian::{Assignment, CostMatrix};

/// Latency at which the speed term is one half: `speed = h / (h + latency)`.
pub const LATENCY_HALF_MS: f64 = 1000.0;

/// Expected tokens at which the token-efficiency term is one half:
/// `efficiency = h / (h + tokens)`.
pub const TOKENS_HALF: f64 = 1000.0;

/// What the scorer knows about an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentProfile {
    /// Probability that the agent's answer is right, in `[0, 1]`.
    pub accuracy: f64,
    /// Expected time to finish a task, milliseconds, `>= 0`.
    pub mean_latency_ms: f64,
    /// Expected tokens spent per task, `>= 0`.
    pub mean_tokens: f64,
    /// Fraction of the time the agent is up and idle, in `[0, 1]`.
    pub availability: f64,
    /// Skills the agent has; a task needing another skill is infeasible.
    pub skills: Vec<String>,
}

/// What a task requires of an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskNeeds {
    /// The skill the agent must have.
    pub skill: String,
    /// The least accuracy acceptable, in `[0, 1]`.
    pub min_accuracy: f64,
}

/// Weights of the four terms of [`capability_score`]. Non-negative, finite,
/// not all zero; they need not sum to 1 (the score is then in `[0, sum]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreWeights {
    /// Weight of accuracy.
    pub accuracy: f64,
    /// Weight of speed (inverse expected latency).
    pub speed: f64,
    /// Weight of token efficiency (inverse expected tokens).
    pub tokens: f64,
    /// Weight of availability.
    pub availability: f64,
}

impl Default for ScoreWeights {
    /// 0.4 accuracy, 0.2 each for speed, tokens and availability: a wrong
    /// answer costs more than a slow or expensive one.
    fn default() -> Self {
        ScoreWeights {
            accuracy: 0.4,
            speed: 0.2,
            tokens: 0.2,
            availability: 0.2,
        }
    }
}

impl ScoreWeights {
    fn assert_valid(&self) {
        let w = [self.accuracy, self.speed, self.tokens, self.availability];
        assert!(
            w.iter().all(|x| x.is_finite() && *x >= 0.0) && w.iter().sum::<f64>() > 0.0,
            "score weights must be finite, non-negative and not all zero: {self:?}"
        );
    }
}

fn assert_unit(name: &str, x: f64) {
    assert!(
        (0.0..=1.0).contains(&x),
        "{name} must be in [0, 1], got {x}"
    );
}

/// How well `agent` suits `task`, or `None` if it lacks the skill or falls
/// below the task's minimum accuracy.
///
/// `score = w.accuracy * accuracy + w.speed * speed + w.tokens * efficiency
/// + w.availability * availability`, where speed and efficiency map
/// `[0, inf)` onto `(0, 1]` (see [`LATENCY_HALF_MS`], [`TOKENS_HALF`]).
///
/// # Panics
/// On out-of-range profile fields or weights: these are validated where
/// scenarios are loaded, so here they are invariants.
pub fn capability_score(
    agent: &AgentProfile,
    task: &TaskNeeds,
    weights: &ScoreWeights,
) -> Option<f64> {
    weights.assert_valid();
    assert_unit("accuracy", agent.accuracy);
    assert_unit("availability", agent.availability);
    assert_unit("min_accuracy", task.min_accuracy);
    assert!(
        agent.mean_latency_ms.is_finite() && agent.mean_latency_ms >= 0.0,
        "mean_latency_ms must be finite and >= 0, got {}",
        agent.mean_latency_ms
    );
    assert!(
        agent.mean_tokens.is_finite() && agent.mean_tokens >= 0.0,
        "mean_tokens must be finite and >= 0, got {}",
        agent.mean_tokens
    );
    if !agent.skills.contains(&task.skill) || agent.accuracy < task.min_accuracy {
        return None;
    }
    let speed = LATENCY_HALF_MS / (LATENCY_HALF_MS + agent.mean_latency_ms);
    let efficiency = TOKENS_HALF / (TOKENS_HALF + agent.mean_tokens);
    let score = weights.accuracy * agent.accuracy
        + weights.speed * speed
        + weights.tokens * efficiency
        + weights.availability * agent.availability;
    assert!(score.is_finite() && score >= 0.0);
    Some(score)
}

/// Scores of every (task, agent) pair: rows are `tasks`, columns `agents`,
/// infeasible pairs are infinite. Feed it to
/// [`crate::collab::hungarian::maximize`] or [`greedy_maximize`].
pub fn capability_matrix(
    tasks: &[TaskNeeds],
    agents: &[AgentProfile],
    weights: &ScoreWeights,
) -> CostMatrix {
    let m = CostMatrix::from_fn(tasks.len(), agents.len(), |t, a| {
        capability_score(&agents[a], &tasks[t], weights)
    });
    // Scores are finite and bounded by the weights, which are finite.
    m.expect("capability scores are finite and small")
}

/// Greedy baseline: repeatedly takes the cheapest remaining feasible cell
/// whose row and column are both still free. Ties go to the lowest
/// `(row, col)`. `O(rows * cols * log(rows * cols))`.
///
/// Not optimal, and not even maximum-cardinality: it can take a cheap cell
/// that blocks two others (see the tests for an example).
pub fn greedy(cost: &CostMatrix) -> Assignment {
    greedy_by(cost, false)
}

/// Greedy baseline for scores: repeatedly takes the highest remaining
/// feasible score. `total` is the total score.
pub fn greedy_maximize(scores: &CostMatrix) -> Assignment {
    greedy_by(scores, true)
}

fn greedy_by(matrix: &CostMatrix, maximize: bool) -> Assignment {
    let (n, m) = (matrix.rows(), matrix.cols());
    let mut cells: Vec<(f64, usize, usize)> = Vec::with_capacity(n * m);
    for r in 0..n {
        for c in 0..m {
            if let Some(x) = matrix.get(r, c) {
                cells.push((if maximize { -x } else { x }, r, c));
            }
        }
    }
    // Costs are never NaN (CostMatrix rejects it), so total_cmp is the
    // usual order; the index tail makes the sort a total, stable order.
    cells.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut row_to_col = vec![None; n];
    let mut col_taken = vec![false; m];
    let mut left = n.min(m);
    for (_, r, c) in cells {
        if left == 0 {
            break;
        }
        if row_to_col[r].is_none() && !col_taken[c] {
            row_to_col[r] = Some(c);
            col_taken[c] = true;
            left -= 1;
        }
    }
    Assignment::from_row_to_col(matrix, row_to_col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collab::hungarian::{maximize, solve};

    const INF: f64 = f64::INFINITY;

    fn agent(
        accuracy: f64,
        latency: f64,
        tokens: f64,
        availability: f64,
        skills: &[&str],
    ) -> AgentProfile {
        AgentProfile {
            accuracy,
            mean_latency_ms: latency,
            mean_tokens: tokens,
            availability,
            skills: skills.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn task(skill: &str, min_accuracy: f64) -> TaskNeeds {
        TaskNeeds {
            skill: skill.to_string(),
            min_accuracy,
        }
    }

    /// A perfect agent (always right, instant, free, always up) scores the
    /// sum of the weights: 1 under the defaults.
    #[test]
    fn perfect_agent_scores_weight_sum() {
        let s = capability_score(
            &agent(1.0, 0.0, 0.0, 1.0, &["code"]),
            &task("code", 0.5),
            &ScoreWeights::default(),
        );
        assert!((s.unwrap() - 1.0).abs() < 1e-12);
    }

    /// An agent without the skill, or below the accuracy floor, is infeasible.
    #[test]
    fn missing_skill_or_low_accuracy_is_infeasible() {
        let w = ScoreWeights::default();
        assert_eq!(
            capability_score(
                &agent(0.9, 10.0, 10.0, 1.0, &["docs"]),
                &task("code", 0.5),
                &w
            ),
            None
        );
        assert_eq!(
            capability_score(
                &agent(0.4, 10.0, 10.0, 1.0, &["code"]),
                &task("code", 0.5),
                &w
            ),
            None
        );
        assert!(capability_score(
            &agent(0.5, 10.0, 10.0, 1.0, &["code"]),
            &task("code", 0.5),
            &w
        )
        .is_some());
    }

    /// All else equal, faster, cheaper and more available agents score higher;
    /// the speed and token terms are one half at their half-points.
    #[test]
    fn each_term_moves_the_score_the_right_way() {
        let w = ScoreWeights::default();
        let t = task("code", 0.0);
        let base = capability_score(&agent(0.8, 500.0, 500.0, 0.5, &["code"]), &t, &w).unwrap();
        let faster = capability_score(&agent(0.8, 100.0, 500.0, 0.5, &["code"]), &t, &w).unwrap();
        let cheaper = capability_score(&agent(0.8, 500.0, 100.0, 0.5, &["code"]), &t, &w).unwrap();
        let more_up = capability_score(&agent(0.8, 500.0, 500.0, 0.9, &["code"]), &t, &w).unwrap();
        assert!(faster > base && cheaper > base && more_up > base);
        let only_speed = ScoreWeights {
            accuracy: 0.0,
            speed: 1.0,
            tokens: 0.0,
            availability: 0.0,
        };
        let half = capability_score(
            &agent(0.8, LATENCY_HALF_MS, 0.0, 0.5, &["code"]),
            &t,
            &only_speed,
        )
        .unwrap();
        assert!((half - 0.5).abs() < 1e-12);
    }

    /// Negative weights are a bug upstream, not a score.
    #[test]
    #[should_panic(expected = "score weights")]
    fn negative_weight_panics() {
        let w = ScoreWeights {
            accuracy: -1.0,
            ..ScoreWeights::default()
        };
        capability_score(&agent(0.8, 1.0, 1.0, 1.0, &["x"]), &task("x", 0.0), &w);
    }

    /// The crafted case where greedy's first pick (the global minimum, 1)
    /// forces the worst remaining cell (100); Hungarian pays 2 + 2.
    #[test]
    fn greedy_is_strictly_worse_on_a_crafted_matrix() {
        let m = CostMatrix::from_rows(&[[1.0, 2.0], [2.0, 100.0]]).unwrap();
        let g = greedy(&m);
        let h = solve(&m);
        assert_eq!(g.row_to_col, vec![Some(0), Some(1)]);
        assert_eq!(g.total, 101.0);
        assert_eq!(h.row_to_col, vec![Some(1), Some(0)]);
        assert_eq!(h.total, 4.0);
    }

    /// Greedy can also lose cardinality: taking (0, 0) strands row 1, whose
    /// only feasible column is 0.
    #[test]
    fn greedy_can_leave_a_matchable_row_unassigned() {
        let m = CostMatrix::from_rows(&[[1.0, 5.0], [2.0, INF]]).unwrap();
        let g = greedy(&m);
        assert_eq!(g.row_to_col, vec![Some(0), None]);
        let h = solve(&m);
        assert_eq!(h.row_to_col, vec![Some(1), Some(0)]);
        assert_eq!(h.total, 7.0);
    }

    /// Greedy ties go to the lowest (row, col).
    #[test]
    fn greedy_ties_go_to_lowest_index() {
        let m = CostMatrix::from_rows(&[[3.0, 3.0, 3.0], [3.0, 3.0, 3.0]]).unwrap();
        assert_eq!(greedy(&m).row_to_col, vec![Some(0), Some(1)]);
    }

    /// End to end: two tasks, three agents; the generalist is best at both,
    /// but the optimum gives it the task where the specialist is missing.
    #[test]
    fn capability_matching_end_to_end() {
        let tasks = [task("code", 0.6), task("review", 0.6)];
        let agents = [
            agent(0.95, 200.0, 800.0, 0.9, &["code", "review"]), // generalist
            agent(0.90, 300.0, 600.0, 0.9, &["code"]),           // coder
            agent(0.50, 100.0, 100.0, 1.0, &["review"]),         // under the review floor
        ];
        let scores = capability_matrix(&tasks, &agents, &ScoreWeights::default());
        assert_eq!(scores.get(1, 1), None, "coder cannot review");
        assert_eq!(scores.get(1, 2), None, "reviewer below min_accuracy");
        let best = maximize(&scores);
        assert_eq!(best.row_to_col, vec![Some(1), Some(0)]);
        let g = greedy_maximize(&scores);
        assert!(g.len() <= best.len());
        assert!(g.len() < best.len() || g.total <= best.total + 1e-12);
    }
}
