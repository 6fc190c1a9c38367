//! Dispatcher counters, summed over a server's leaderships.

use super::Dispatcher;

/// Dispatcher counters (summed over a server's leaderships).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchStats {
    /// Times a dispatcher was built from committed state.
    pub activations: u64,
    /// Commands proposed.
    pub proposals: u64,
    /// Assignment messages sent (first sends).
    pub assignments_sent: u64,
    /// Assignment resends (no ack yet).
    pub assignment_resends: u64,
    /// In-flight attempts re-sent after a failover.
    pub resent_after_failover: u64,
    /// Assignments never acknowledged (dead-lettered).
    pub unacked: u64,
    /// Duplicate messages discarded.
    pub duplicates_discarded: u64,
    /// Results received (first copies).
    pub results_received: u64,
    /// Breaker trips.
    pub breaker_trips: u64,
    /// Agents declared lost (no heartbeat).
    pub agents_lost: u64,
    /// In-flight attempts taken from a lost or tripped agent.
    pub reassignments: u64,
    /// Batches assigned (division).
    pub batches: u64,
    /// Total cost of batch assignments (division), milli-units.
    pub batch_cost_milli: u64,
    /// Tasks placed by batches.
    pub batch_tasks: u64,
}

impl DispatchStats {
    /// Field-wise sum.
    pub fn add(&mut self, o: &DispatchStats) {
        self.activations += o.activations;
        self.proposals += o.proposals;
        self.assignments_sent += o.assignments_sent;
        self.assignment_resends += o.assignment_resends;
        self.resent_after_failover += o.resent_after_failover;
        self.unacked += o.unacked;
        self.duplicates_discarded += o.duplicates_discarded;
        self.results_received += o.results_received;
        self.breaker_trips += o.breaker_trips;
        self.agents_lost += o.agents_lost;
        self.reassignments += o.reassignments;
        self.batches += o.batches;
        self.batch_cost_milli += o.batch_cost_milli;
        self.batch_tasks += o.batch_tasks;
    }
}

/// Counters over a server process's life: those of its retired
/// dispatchers plus the running one's.
pub fn life_stats(retired: &DispatchStats, running: Option<&Dispatcher>) -> DispatchStats {
    let mut s = *retired;
    if let Some(d) = running {
        s.add(&d.stats());
    }
    s
}
