//! A node's simulated disk: durable records survive a crash, pending writes
//! do not until a sync completes.

/// A write waiting for a sync.
#[derive(Debug, Clone)]
pub enum DiskOp<R> {
    /// Append one record.
    Append(R),
    /// Replace everything (compaction).
    Rewrite(Vec<R>),
}

/// The disk of one node.
#[derive(Debug)]
pub struct Disk<R> {
    durable: Vec<R>,
    pending: Vec<DiskOp<R>>,
    /// Records made durable so far (for reports).
    pub synced_writes: u64,
    /// Syncs completed so far.
    pub syncs: u64,
}

impl<R> Default for Disk<R> {
    fn default() -> Self {
        Disk {
            durable: Vec::new(),
            pending: Vec::new(),
            synced_writes: 0,
            syncs: 0,
        }
    }
}

impl<R> Disk<R> {
    /// Queue a write.
    #[inline]
    pub fn write(&mut self, op: DiskOp<R>) {
        self.pending.push(op);
    }

    /// Number of writes waiting for a sync.
    #[inline]
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Make the first `upto` pending writes durable (a sync that covered
    /// exactly the writes issued before it).
    pub fn flush(&mut self, upto: usize) {
        let upto = upto.min(self.pending.len());
        for op in self.pending.drain(..upto) {
            self.synced_writes += 1;
            match op {
                DiskOp::Append(r) => self.durable.push(r),
                DiskOp::Rewrite(rs) => self.durable = rs,
            }
        }
        self.syncs += 1;
    }

    /// A crash: every unsynced write is lost.
    pub fn lose_pending(&mut self) {
        self.pending.clear();
    }

    /// What survived: the records a restarting node recovers from.
    pub fn durable(&self) -> &[R] {
        &self.durable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only synced writes survive a crash; a rewrite replaces the content.
    #[test]
    fn only_synced_writes_survive() {
        let mut d = Disk::default();
        d.write(DiskOp::Append(1));
        d.write(DiskOp::Append(2));
        d.flush(1);
        d.lose_pending();
        assert_eq!(d.durable(), &[1]);
        d.write(DiskOp::Rewrite(vec![7, 8]));
        d.write(DiskOp::Append(9));
        d.flush(2);
        assert_eq!(d.durable(), &[7, 8, 9]);
    }
}
