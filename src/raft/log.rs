//! The in-memory Raft log: a compacted prefix (summarized by the last
//! snapshot's index and term) followed by the live entries.

use super::messages::Entry;
use crate::ids::{LogIndex, Term};

/// A log whose prefix up to `snapshot_index` lives in a snapshot.
#[derive(Clone, Debug)]
pub struct RaftLog<C> {
    snapshot_index: LogIndex,
    snapshot_term: Term,
    /// `entries[i]` has index `snapshot_index + 1 + i`.
    entries: Vec<Entry<C>>,
}

impl<C> Default for RaftLog<C> {
    fn default() -> Self {
        RaftLog {
            snapshot_index: LogIndex(0),
            snapshot_term: Term(0),
            entries: Vec::new(),
        }
    }
}

impl<C> RaftLog<C> {
    /// The last index covered by the snapshot (0 if none).
    #[inline]
    pub fn snapshot_index(&self) -> LogIndex {
        self.snapshot_index
    }

    /// The term of the last index covered by the snapshot.
    #[inline]
    pub fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    /// Index of the last entry (the snapshot index if the live part is
    /// empty).
    #[inline]
    pub fn last_index(&self) -> LogIndex {
        LogIndex(self.snapshot_index.0 + self.entries.len() as u64)
    }

    /// Term of the last entry.
    #[inline]
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot_term, |e| e.term())
    }

    fn offset(&self, index: LogIndex) -> Option<usize> {
        if index <= self.snapshot_index || index > self.last_index() {
            None
        } else {
            Some((index.0 - self.snapshot_index.0 - 1) as usize)
        }
    }

    /// The term at `index`, if known (the snapshot index counts; compacted
    /// indices before it do not).
    #[inline]
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot_index {
            Some(self.snapshot_term)
        } else {
            self.offset(index).map(|o| self.entries[o].term())
        }
    }

    /// The live entry at `index`.
    #[inline]
    pub fn entry(&self, index: LogIndex) -> Option<&Entry<C>> {
        self.offset(index).map(|o| &self.entries[o])
    }

    /// Up to `max` live entries starting at `from` (empty if `from` is past
    /// the end). `from` must not be compacted.
    pub fn entries_from(&self, from: LogIndex, max: usize) -> &[Entry<C>] {
        assert!(
            from > self.snapshot_index,
            "entries_from({from}) is compacted"
        );
        match self.offset(from) {
            None => &[],
            Some(o) => {
                let end = self.entries.len().min(o + max);
                &self.entries[o..end]
            }
        }
    }

    /// All live entries, in order.
    #[inline]
    pub fn entries(&self) -> &[Entry<C>] {
        &self.entries
    }

    /// Live entries with their indices.
    pub fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = (LogIndex, &Entry<C>)> + ExactSizeIterator {
        let base = self.snapshot_index.0;
        self.entries
            .iter()
            .enumerate()
            .map(move |(i, e)| (LogIndex(base + 1 + i as u64), e))
    }

    /// Append one entry at `last_index() + 1`.
    #[inline]
    pub fn push(&mut self, entry: Entry<C>) {
        self.entries.push(entry);
    }

    /// Drop every entry at `index` or after. Compacted entries are committed
    /// and can never be truncated.
    pub fn truncate_from(&mut self, index: LogIndex) {
        assert!(
            index > self.snapshot_index,
            "truncating compacted entries from {index} (snapshot {})",
            self.snapshot_index
        );
        if let Some(o) = self.offset(index) {
            self.entries.truncate(o);
        }
    }

    /// Forget the entries up to `index` (now in a snapshot).
    pub fn compact_to(&mut self, index: LogIndex) {
        let term = self.term_at(index).expect("compacting past the log");
        if index == self.snapshot_index {
            return;
        }
        let o = self.offset(index).expect("checked by term_at");
        self.entries.drain(..=o);
        self.snapshot_index = index;
        self.snapshot_term = term;
    }

    /// Replace the log with a snapshot ending at `index`/`term`. If the log
    /// has a matching entry at `index`, the entries after it are kept
    /// (§5.3: they may still be needed); otherwise the whole log goes.
    pub fn install_snapshot(&mut self, index: LogIndex, term: Term) {
        if index > self.snapshot_index && self.term_at(index) == Some(term) {
            self.compact_to(index);
        } else {
            self.entries.clear();
            self.snapshot_index = index;
            self.snapshot_term = term;
        }
    }

    /// The last live index holding `term` (for the leader's side of fast
    /// backtracking). Bounded by the live log, which snapshots keep short.
    pub fn last_index_of_term(&self, term: Term) -> Option<LogIndex> {
        self.iter()
            .rev()
            .take_while(|(_, e)| e.term() >= term)
            .find(|(_, e)| e.term() == term)
            .map(|(i, _)| i)
    }

    /// The first live index of the run of `term` entries ending at `index`
    /// (the follower's side of fast backtracking).
    pub fn first_index_of_term_run(&self, index: LogIndex) -> LogIndex {
        let Some(term) = self.term_at(index) else {
            return index;
        };
        let mut first = index;
        while first.0 > self.snapshot_index.0 + 1
            && self.term_at(LogIndex(first.0 - 1)) == Some(term)
        {
            first = LogIndex(first.0 - 1);
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::KvCommand;

    fn log_with_terms(terms: &[u64]) -> RaftLog<KvCommand> {
        let mut log = RaftLog::default();
        for t in terms {
            log.push(Entry::noop(Term(*t)));
        }
        log
    }

    /// Index arithmetic across a compacted prefix.
    #[test]
    fn compaction_keeps_indices_and_terms() {
        let mut log = log_with_terms(&[1, 1, 2, 3, 3]);
        assert_eq!(log.last_index(), LogIndex(5));
        log.compact_to(LogIndex(3));
        assert_eq!(log.snapshot_index(), LogIndex(3));
        assert_eq!(log.term_at(LogIndex(3)), Some(Term(2)));
        assert_eq!(log.term_at(LogIndex(2)), None);
        assert_eq!(log.term_at(LogIndex(5)), Some(Term(3)));
        assert_eq!(log.entries_from(LogIndex(4), 10).len(), 2);
        assert_eq!(log.first_index_of_term_run(LogIndex(5)), LogIndex(4));
        assert_eq!(log.last_index_of_term(Term(3)), Some(LogIndex(5)));
        assert_eq!(log.last_index_of_term(Term(2)), None);
        log.install_snapshot(LogIndex(9), Term(4));
        assert_eq!(log.last_index(), LogIndex(9));
        assert!(log.entries().is_empty());
    }
}
