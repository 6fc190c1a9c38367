//! The client-history tap of a KV run: numbers the clients' history
//! events in dispatch order and hands each to the streaming
//! linearizability checker, the client latency histogram and the history
//! output.

use super::HistoryOutput;
use crate::check::linearizability;
use crate::ids::NodeId;
use crate::kv::history;
use crate::kv::node::KvNode;
use crate::metrics::hist::LatencyHist;
use crate::sim::World;
use crate::time::SimTime;

/// Collects the clients' history events as they happen, in the kernel's
/// dispatch order, numbers them (`HistoryEvent::seq`), and hands each on:
/// to the streaming linearizability checker, the client latency histogram
/// and the history output. Nothing here grows with the run except a kept
/// history (`HistoryOutput::Keep`).
pub(super) struct HistoryTap {
    /// Address of client 0.
    first_client: u32,
    /// Per client: events collected so far in its current life.
    taken: Vec<u64>,
    next_seq: u64,
    pub(super) pairing: history::OpPairing,
    pub(super) checker: Option<linearizability::StreamChecker>,
    /// Per client: invocation time of its open operation.
    invoked_at: Vec<Option<SimTime>>,
    pub(super) latency: LatencyHist,
    output: HistoryOutput,
    pub(super) kept: Vec<history::HistoryEvent>,
    /// Lines of the history file (process retirement, nemesis entries).
    encoder: history::HistoryEncoder,
    /// Fault log records already written as nemesis entries.
    faults_seen: u64,
}

impl HistoryTap {
    /// A tap for `clients` clients whose addresses start at
    /// `first_client`, feeding `checker` (if any) and `output`.
    pub(super) fn new(
        first_client: u32,
        clients: u32,
        checker: Option<linearizability::StreamChecker>,
        output: HistoryOutput,
    ) -> Self {
        HistoryTap {
            first_client,
            taken: vec![0; clients as usize],
            next_seq: 0,
            pairing: history::OpPairing::default(),
            checker,
            invoked_at: vec![None; clients as usize],
            latency: LatencyHist::new(),
            output,
            kept: Vec::new(),
            encoder: history::HistoryEncoder::new(clients),
            faults_seen: 0,
        }
    }

    /// Write the faults applied since the last call as nemesis entries.
    pub(super) fn faults(&mut self, world: &World<KvNode>) {
        let log = world.fault_log();
        if let HistoryOutput::Stream(sink) | HistoryOutput::KeepAndStream(sink) = &self.output {
            for f in log.since(self.faults_seen).filter(|f| f.skipped.is_none()) {
                let op = history::NemesisOp {
                    time: f.at,
                    f: f.kind.to_string(),
                    nodes: f.nodes.iter().map(|n| n.0).collect(),
                    groups: f
                        .groups
                        .iter()
                        .map(|g| g.iter().map(|n| n.0).collect())
                        .collect(),
                };
                let _ = writeln!(sink.borrow_mut(), "{}", self.encoder.nemesis_line(&op));
            }
        }
        self.faults_seen = log.total();
    }

    /// Collect what client `id` recorded in the handler that just ran.
    pub(super) fn collect(&mut self, world: &World<KvNode>, id: NodeId) {
        let Some(KvNode::Client(c)) = world.node(id) else {
            return;
        };
        let i = (id.0 - self.first_client) as usize;
        let recorded = c.recorded();
        if recorded < self.taken[i] {
            // A new life of the client (clients are not faulted today):
            // its history starts over.
            self.taken[i] = 0;
        }
        let fresh = (recorded - self.taken[i]) as usize;
        if fresh == 0 {
            return;
        }
        let step = c.step_events();
        // Events are kept by the client for one handler call only; every
        // call that records one is seen here before the next call.
        assert!(
            fresh <= step.len(),
            "client {i} recorded {fresh} history events the observer did not see"
        );
        for e in &step[step.len() - fresh..] {
            let mut e = *e;
            e.seq = self.next_seq;
            self.next_seq += 1;
            self.event(&e);
        }
        self.taken[i] = recorded;
    }

    fn event(&mut self, e: &history::HistoryEvent) {
        if let Some(checker) = self.checker.as_mut() {
            self.pairing.push(e, checker);
        }
        let open = &mut self.invoked_at[e.process as usize];
        match e.kind {
            history::EventType::Invoke => *open = Some(e.time),
            history::EventType::Ok | history::EventType::Fail => {
                if let Some(t) = open.take() {
                    self.latency.record_us(e.time.saturating_since(t).0);
                }
            }
            history::EventType::Info => *open = None,
        }
        match &self.output {
            HistoryOutput::Keep => self.kept.push(*e),
            HistoryOutput::Stream(sink) | HistoryOutput::KeepAndStream(sink) => {
                if matches!(self.output, HistoryOutput::KeepAndStream(_)) {
                    self.kept.push(*e);
                }
                // A failed write is reported by the writer's owner (the CLI
                // latches the first error and fails the flush).
                let line = self.encoder.client_line(e);
                let _ = writeln!(sink.borrow_mut(), "{line}");
            }
            HistoryOutput::Discard => {}
        }
    }
}
