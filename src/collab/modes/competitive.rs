//! Competitive mode: k agents solve the same task; when all have answered
//! or the deadline passed, the arbiter picks the entry with the highest
//! utility = weighted score (relevance, innovation, feasibility) minus the
//! token cost (`cost_per_1k_tokens` per 1000 tokens: cost efficiency).
//! Ties go to the lower task id. The rule is stated here once; the
//! workflow checker recomputes it independently.

use crate::collab::config::{ArbiterConfig, CollabConfig};
use crate::collab::coordinator::Outcome;

/// The arbiter's utility of one outcome.
pub fn utility(a: &ArbiterConfig, o: &Outcome) -> f64 {
    o.score(&a.weights) - a.cost_per_1k_tokens * o.tokens as f64 / 1000.0
}

impl CollabConfig {
    /// The arbiter's utility of an outcome: weighted quality minus token
    /// cost. The arbiter picks the maximum; ties go to the lower task id.
    /// (Defined here, with the rule, so `config` stays a leaf module.)
    pub fn utility(&self, o: &Outcome) -> f64 {
        utility(&self.arbiter, o)
    }
}

/// The winner among `(task, outcome)` candidates: the maximum utility,
/// ties to the lower task id. `None` if there is no candidate.
pub fn pick(a: &ArbiterConfig, candidates: &[(u32, Outcome)]) -> Option<u32> {
    let mut best: Option<(u32, f64)> = None;
    for &(t, ref o) in candidates {
        let u = utility(a, o);
        match best {
            Some((bt, bu)) if u < bu || (u == bu && t > bt) => {}
            _ => best = Some((t, u)),
        }
    }
    best.map(|b| b.0)
}

/// Why the winner won, in one sentence (for the report).
pub fn explain(a: &ArbiterConfig, winner: u32, candidates: &[(u32, Outcome)]) -> String {
    let Some(w) = candidates.iter().find(|c| c.0 == winner) else {
        return format!("winner {winner} is not among the candidates");
    };
    let uw = utility(a, &w.1);
    let runner_up = candidates
        .iter()
        .filter(|c| c.0 != winner)
        .map(|c| (c.0, utility(a, &c.1)))
        .fold(None, |acc: Option<(u32, f64)>, x| match acc {
            Some(b) if b.1 >= x.1 => Some(b),
            _ => Some(x),
        });
    let mut s = format!(
        "task {winner} (agent {}) utility {uw:.3} = score {:.3} - {:.3} token cost ({} tokens) among {} entr{}",
        w.1.agent.0,
        w.1.score(&a.weights),
        a.cost_per_1k_tokens * w.1.tokens as f64 / 1000.0,
        w.1.tokens,
        candidates.len(),
        if candidates.len() == 1 { "y" } else { "ies" }
    );
    if let Some((t, u)) = runner_up {
        s.push_str(&format!(
            "; runner-up task {t} utility {u:.3} (margin {:.3})",
            uw - u
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;
    use crate::time::{SimDuration, SimTime};

    fn o(score: f64, tokens: u64) -> Outcome {
        Outcome {
            agent: NodeId(9),
            started_at: SimTime(0),
            duration_us: 1,
            tokens,
            correct: true,
            relevance: score,
            innovation: score,
            feasibility: score,
        }
    }

    /// Cost efficiency matters: a slightly better but much costlier entry
    /// loses; equal utilities go to the lower id.
    #[test]
    fn arbiter_weighs_score_against_tokens() {
        let a = ArbiterConfig {
            weights: [0.4, 0.3, 0.3],
            k: 3,
            deadline: SimDuration::from_millis(1),
            cost_per_1k_tokens: 0.02,
        };
        let c = [(5, o(0.80, 1000)), (6, o(0.82, 5000)), (7, o(0.80, 1000))];
        assert_eq!(pick(&a, &c), Some(5));
        assert!(explain(&a, 5, &c).contains("runner-up task 7"));
        assert_eq!(pick(&a, &[]), None);
    }
}
