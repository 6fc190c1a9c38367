//! Raft tuning knobs and deliberately injectable bugs.

use crate::time::SimDuration;
use std::fmt;

/// A deliberately wrong protocol variant. Each one exists to prove that a
/// checker catches the violation it causes; none is ever on by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bug {
    /// The leader commits entries from earlier terms by counting replicas
    /// (violates the Figure 8 rule, §3.6.2).
    CommitPreviousTerm,
    /// `voted_for` is never written to disk, so a restarted node forgets
    /// its vote and may vote twice in one term (§3.8).
    ForgetVote,
    /// Followers accept AppendEntries without the prevLogIndex/prevLogTerm
    /// consistency check (§3.5), breaking log matching.
    SkipLogCheck,
    /// The leader answers read-only commands from its local state at once,
    /// without going through the log (§6.4): a deposed leader serves stale
    /// reads.
    StaleRead,
    /// A node may grant a second vote in the same term (§3.4).
    DoubleVote,
    /// A leader that gets a rejection with a conflict hint above its commit
    /// index truncates its own log there, as a follower would (violates
    /// Leader Append-Only, §3.5 / Figure 3).
    LeaderTruncatesTail,
    /// A follower advances its commit index to the leader's, capped only by
    /// its own last index, before the consistency check: it commits entries
    /// the leader never verified it holds (§3.5: commit up to the last *new*
    /// entry), breaking State Machine Safety.
    CommitPastMatch,
    /// `current_term` is not durable: the hard-state record always says
    /// term 0, so a restarted node adopts a term it already voted in as if
    /// it were new and votes again (§3.8; ongardie/raft.tla PR 5).
    ForgetTerm,
    /// Stepping down to follower within the *same* term erases `voted_for`,
    /// so a node that heard its term's leader (or lost its campaign) grants
    /// a second vote in that term (§3.4; akka-raft #56, redpanda PR 19,
    /// CCF PR 8094).
    VoteClearedOnStepDown,
    /// A vote grant writes the new term and the vote as two records and
    /// answers after only the first is synced: a crash between the two
    /// durable writes leaves term t with no vote, and the node votes again
    /// (§3.8; hashicorp/raft #661).
    TornVoteWrite,
    /// A candidate does not persist its vote for itself, so after a restart
    /// it votes for a rival in the term it campaigned (and maybe won) in
    /// (§3.8; vesoft-inc/nebula PR 3415).
    SelfVoteNotPersisted,
    /// A candidate counts every granted RequestVote response, so a
    /// duplicated (resent) grant from one voter counts twice (§3.4;
    /// akka-raft #45).
    DupVoteCount,
    /// A candidate counts a grant from an earlier term's campaign (a
    /// delayed response) toward its current one (§3.4; akka-raft #46).
    StaleTermVote,
    /// A voter refuses a candidate only if its own log is ahead in *both*
    /// last term and last index, so a longer log of an older term wins
    /// over a shorter newer one (§3.6.1 election restriction;
    /// markwylde/liferaft PR 10).
    UpToDateAnd,
    /// The leader's commit index is the most frequent match index (ties to
    /// the higher) instead of the one a majority has reached (§3.6.2;
    /// akka-raft #42).
    QuorumMode,
    /// A follower drops every entry after the last entry of an accepted
    /// (non-empty) append, even when they match: a delayed, shorter append
    /// deletes entries it had already acknowledged (§3.5; akka-raft #66).
    StaleAppendTruncate,
    /// A follower acknowledges appended entries before they are synced, so
    /// a crash within the fsync latency loses entries the leader counted
    /// (§3.8; etcd-io/etcd #14370).
    AckBeforeFsync,
}

impl Bug {
    /// Every bug, in a stable order.
    pub const ALL: [Bug; 17] = [
        Bug::CommitPreviousTerm,
        Bug::ForgetVote,
        Bug::SkipLogCheck,
        Bug::StaleRead,
        Bug::DoubleVote,
        Bug::LeaderTruncatesTail,
        Bug::CommitPastMatch,
        Bug::ForgetTerm,
        Bug::VoteClearedOnStepDown,
        Bug::TornVoteWrite,
        Bug::SelfVoteNotPersisted,
        Bug::DupVoteCount,
        Bug::StaleTermVote,
        Bug::UpToDateAnd,
        Bug::QuorumMode,
        Bug::StaleAppendTruncate,
        Bug::AckBeforeFsync,
    ];

    /// The kebab-case name used in scenarios and reports.
    pub fn name(self) -> &'static str {
        match self {
            Bug::CommitPreviousTerm => "commit-previous-term",
            Bug::ForgetVote => "forget-vote",
            Bug::SkipLogCheck => "skip-log-check",
            Bug::StaleRead => "stale-read",
            Bug::DoubleVote => "double-vote",
            Bug::LeaderTruncatesTail => "leader-truncates-tail",
            Bug::CommitPastMatch => "commit-past-match",
            Bug::ForgetTerm => "forget-term",
            Bug::VoteClearedOnStepDown => "vote-cleared-on-step-down",
            Bug::TornVoteWrite => "torn-vote-write",
            Bug::SelfVoteNotPersisted => "self-vote-not-persisted",
            Bug::DupVoteCount => "dup-vote-count",
            Bug::StaleTermVote => "stale-term-vote",
            Bug::UpToDateAnd => "up-to-date-and",
            Bug::QuorumMode => "quorum-mode",
            Bug::StaleAppendTruncate => "stale-append-truncate",
            Bug::AckBeforeFsync => "ack-before-fsync",
        }
    }

    /// Parse a kebab-case name; `None` if unknown.
    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::ALL.iter().copied().find(|b| b.name() == name)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Bug`]s (a bitset: checked on hot paths, so no allocation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BugSet(u32);

impl BugSet {
    /// No bugs: the correct protocol.
    pub const NONE: BugSet = BugSet(0);

    /// A set holding exactly `bug`.
    pub fn only(bug: Bug) -> BugSet {
        BugSet(bug.bit())
    }

    /// Add `bug`.
    pub fn insert(&mut self, bug: Bug) {
        self.0 |= bug.bit();
    }

    /// Is `bug` on?
    #[inline]
    pub fn contains(self, bug: Bug) -> bool {
        self.0 & bug.bit() != 0
    }

    /// True when the protocol is the correct one. Some internal assertions
    /// only hold then (a bug may legitimately produce states the correct
    /// protocol never reaches; checkers, not panics, must report them).
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The bugs in the set, in [`Bug::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Bug> {
        Bug::ALL.into_iter().filter(move |b| self.contains(*b))
    }
}

impl FromIterator<Bug> for BugSet {
    fn from_iter<I: IntoIterator<Item = Bug>>(iter: I) -> Self {
        let mut s = BugSet::NONE;
        for b in iter {
            s.insert(b);
        }
        s
    }
}

/// Raft parameters for one cluster (every node gets the same).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftConfig {
    /// Cluster size; servers are `NodeId(0..nodes)`.
    pub nodes: u32,
    /// Lower bound of the randomized election timeout (inclusive). Also the
    /// leader-stickiness window (§4.2.3) and the check-quorum period.
    pub election_timeout_min: SimDuration,
    /// Upper bound of the randomized election timeout (inclusive); a new
    /// value is drawn from the node's stream at every reset (§3.4).
    pub election_timeout_max: SimDuration,
    /// Leader heartbeat period; also paces retransmission.
    pub heartbeat: SimDuration,
    /// Run a pre-vote round before bumping the term (§9.6).
    pub pre_vote: bool,
    /// A leader steps down when it has not heard from a majority within an
    /// election timeout; followers that hear from a live leader ignore
    /// (pre-)vote requests (leader stickiness, §4.2.3, §6.2).
    pub check_quorum: bool,
    /// Take a snapshot every this many applied entries; 0 = never.
    pub snapshot_every: u64,
    /// Most entries in one AppendEntries.
    pub max_entries_per_append: usize,
    /// Most AppendEntries with entries outstanding per follower (pipeline
    /// depth, §10.2.2).
    pub max_inflight_appends: usize,
    /// A (pre-)candidate that a majority has rejected steps down to
    /// follower and draws a fresh randomized timeout, as etcd/raft and
    /// raft-rs do. Without it (the Figure 2-literal rule) a rejected
    /// candidate waits out the timeout armed when its campaign began, so
    /// candidates that tied stay tied when timers fire at exact times:
    /// livelock-prone in a simulator with no clock jitter.
    pub step_down_on_lost_election: bool,
    /// Deliberately injected bugs (empty for the correct protocol).
    pub bugs: BugSet,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            nodes: 3,
            election_timeout_min: SimDuration::from_millis(150),
            election_timeout_max: SimDuration::from_millis(300),
            heartbeat: SimDuration::from_millis(50),
            pre_vote: true,
            check_quorum: true,
            snapshot_every: 1000,
            max_entries_per_append: 64,
            max_inflight_appends: 8,
            step_down_on_lost_election: true,
            bugs: BugSet::NONE,
        }
    }
}

impl RaftConfig {
    /// Check the parameters make sense together; the error says what to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes == 0 {
            return Err("raft: nodes must be at least 1".into());
        }
        if self.election_timeout_min > self.election_timeout_max {
            return Err(format!(
                "raft: election_timeout_min ({}) must not exceed election_timeout_max ({})",
                self.election_timeout_min, self.election_timeout_max
            ));
        }
        if self.heartbeat == SimDuration::ZERO || self.heartbeat >= self.election_timeout_min {
            return Err(format!(
                "raft: heartbeat ({}) must be positive and below election_timeout_min ({})",
                self.heartbeat, self.election_timeout_min
            ));
        }
        if self.max_entries_per_append == 0 || self.max_inflight_appends == 0 {
            return Err(
                "raft: max_entries_per_append and max_inflight_appends must be at least 1".into(),
            );
        }
        Ok(())
    }

    /// Votes (or acks) needed for a majority.
    #[inline]
    pub fn quorum(&self) -> usize {
        self.nodes as usize / 2 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bug name round-trips and the default config is valid.
    #[test]
    fn bug_names_round_trip_and_default_is_valid() {
        for b in Bug::ALL {
            assert_eq!(Bug::from_name(b.name()), Some(b));
        }
        assert_eq!(Bug::from_name("nope"), None);
        let set: BugSet = [Bug::StaleRead, Bug::DoubleVote].into_iter().collect();
        assert!(set.contains(Bug::StaleRead) && !set.contains(Bug::ForgetVote));
        assert_eq!(set.iter().count(), 2);
        assert!(RaftConfig::default().validate().is_ok());
        assert_eq!(RaftConfig::default().quorum(), 2);
    }
}
