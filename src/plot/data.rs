//! What the charts draw, extracted from a report, its client history and
//! (for message diagrams) the per-event trace of a re-run.
//!
//! Nothing here touches files: the CLI reads reports and writes outputs.

use crate::fault::AppliedFault;
use crate::kv::history::{EventType, HistoryEvent, OpFn};
use crate::metrics::{FaultRecord, Report};
use crate::runner::EventTap;
use crate::sim::{DispatchKind, TraceEvent};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// How a client operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// It took effect.
    Ok,
    /// It definitely did not take effect.
    Fail,
    /// Unknown (timed out).
    Info,
}

impl Outcome {
    /// Lower-case name, as in the history format.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
    }
}

/// One completed client operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientOp {
    /// Client number.
    pub process: u32,
    /// Which operation.
    pub f: OpFn,
    /// Invocation time, virtual ms.
    pub invoke_ms: f64,
    /// Completion time, virtual ms.
    pub complete_ms: f64,
    /// How it ended.
    pub outcome: Outcome,
}

impl ClientOp {
    /// Completion minus invocation, ms.
    pub fn latency_ms(&self) -> f64 {
        self.complete_ms - self.invoke_ms
    }
}

/// Pair each invocation with the next completion of the same client.
/// Operations still open when the run ended are left out.
pub fn client_ops(history: &[HistoryEvent]) -> Vec<ClientOp> {
    let mut open: BTreeMap<u32, &HistoryEvent> = BTreeMap::new();
    let mut ops = Vec::new();
    for e in history {
        let outcome = match e.kind {
            EventType::Invoke => {
                open.insert(e.process, e);
                continue;
            }
            EventType::Ok => Outcome::Ok,
            EventType::Fail => Outcome::Fail,
            EventType::Info => Outcome::Info,
        };
        if let Some(inv) = open.remove(&e.process) {
            ops.push(ClientOp {
                process: e.process,
                f: inv.f,
                invoke_ms: inv.time.as_millis_f64(),
                complete_ms: e.time.as_millis_f64(),
                outcome,
            });
        }
    }
    ops
}

/// A fault interval (or instant, when `end_ms == start_ms`) to shade.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultWindow {
    /// When it began, ms.
    pub start_ms: f64,
    /// When it was undone (or the end of the run), ms.
    pub end_ms: f64,
    /// Short label, e.g. `crash n3` or `partition [0,1|2,3,4]`.
    pub label: String,
}

/// The short label of a fault: `crash n3`, `partition 0,1|2,3,4`,
/// `link n0-n4`, or the bare kind when it names no node.
fn label(kind: &str, nodes: &[u32], groups: &[Vec<u32>]) -> String {
    let names: Vec<String> = nodes.iter().map(|n| format!("n{n}")).collect();
    match kind {
        "partition" => {
            let groups: Vec<String> = groups
                .iter()
                .map(|g| {
                    g.iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            format!("partition {}", groups.join("|"))
        }
        "link" => format!("link {}", names.join("-")),
        _ if names.is_empty() => kind.to_string(),
        _ => format!("{kind} {}", names.join(",")),
    }
}

/// [`label`] of a fault the kernel applied.
fn applied_label(f: &AppliedFault) -> String {
    let nodes: Vec<u32> = f.nodes.iter().map(|n| n.0).collect();
    let groups: Vec<Vec<u32>> = f
        .groups
        .iter()
        .map(|g| g.iter().map(|n| n.0).collect())
        .collect();
    label(f.kind, &nodes, &groups)
}

/// The fault windows of a report: crash→restart, pause→resume,
/// partition/isolate→heal, link→link_restore; a fault never undone lasts
/// to the end of the run; a clock change is an instant. Skipped faults are
/// left out.
pub fn fault_windows(report: &Report) -> Vec<FaultWindow> {
    let end = report.sim_time_ms;
    let faults: Vec<&FaultRecord> = report.faults.iter().filter(|f| !f.is_skipped()).collect();
    let mut out = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        let kind = f.kind.as_str();
        let at = f.at_ms;
        let undo: &[&str] = match kind {
            "crash" => &["restart"],
            "pause" => &["resume"],
            "partition" | "isolate" => &["heal"],
            "link" => &["link_restore", "heal"],
            "clock" => &[],
            _ => continue,
        };
        let end_ms = if undo.is_empty() {
            at
        } else {
            faults[i + 1..]
                .iter()
                .find(|g| {
                    undo.contains(&g.kind.as_str()) && (g.kind == "heal" || g.nodes == f.nodes)
                })
                .map_or(end, |g| g.at_ms)
        };
        out.push(FaultWindow {
            start_ms: at,
            end_ms,
            label: label(kind, &f.nodes, &f.groups),
        });
    }
    out
}

/// One delivered message.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// Sender address.
    pub from: u32,
    /// Receiver address.
    pub to: u32,
    /// Send time, virtual µs.
    pub sent_us: u64,
    /// Delivery time, virtual µs.
    pub recv_us: u64,
    /// Message type (`append_entries`, `request_vote`, ...).
    pub kind: String,
}

/// A non-delivery event of the trace (timers, starts, faults).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeEvent {
    /// Virtual µs.
    pub time_us: u64,
    /// `timer`, `start`, `sync_done` or `fault`.
    pub kind: String,
    /// Node concerned, if any.
    pub node: Option<u32>,
    /// Timer number, or a fault's label.
    pub detail: String,
}

/// The per-event detail gathered from a re-run's trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceDetail {
    /// Deliveries sent within the window, in delivery order.
    pub deliveries: Vec<Delivery>,
    /// Other events within the window, in order.
    pub events: Vec<NodeEvent>,
    /// Deliveries sent within the window that were not kept (over `max`).
    pub deliveries_dropped: u64,
}

/// A typed tap ([`EventTap`], `RunOptions::tap`) that keeps a compact
/// [`TraceDetail`] for a time window as the run goes, so a long run never
/// holds its whole trace in memory and no event is formatted.
pub struct TraceCollector {
    window_us: (u64, u64),
    max_deliveries: usize,
    detail: TraceDetail,
}

impl TraceCollector {
    /// Keep events in `[start_us, end_us]` (deliveries by send time), at
    /// most `max_deliveries` deliveries.
    pub fn new(window_us: (u64, u64), max_deliveries: usize) -> Rc<RefCell<TraceCollector>> {
        Rc::new(RefCell::new(TraceCollector {
            window_us,
            max_deliveries,
            detail: TraceDetail::default(),
        }))
    }

    /// What was collected.
    pub fn take(&mut self) -> TraceDetail {
        std::mem::take(&mut self.detail)
    }
}

impl EventTap for TraceCollector {
    fn event(&mut self, ev: &TraceEvent<'_, &'static str>) {
        let (lo, hi) = self.window_us;
        let d = &mut self.detail;
        let time_us = ev.time.0;
        if ev.kind == DispatchKind::Deliver {
            let sent = ev.sent.map_or(time_us, |t| t.0);
            if sent < lo || sent > hi {
                return;
            }
            if d.deliveries.len() >= self.max_deliveries {
                d.deliveries_dropped += 1;
                return;
            }
            d.deliveries.push(Delivery {
                from: ev.from.map_or(0, |n| n.0),
                to: ev.node.map_or(0, |n| n.0),
                sent_us: sent,
                recv_us: time_us,
                kind: ev.msg.map_or("", |m| m).to_string(),
            });
        } else if (lo..=hi).contains(&time_us) {
            let detail = match (ev.timer, ev.fault) {
                (Some(t), _) => t.0.to_string(),
                (_, Some(f)) => applied_label(f),
                _ => String::new(),
            };
            d.events.push(NodeEvent {
                time_us,
                kind: ev.kind.name().to_string(),
                node: ev.node.map(|n| n.0),
                detail,
            });
        }
    }
}

/// A role span of one node: `[start_ms, end_ms)` in `role` during `term`.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleSpan {
    /// Node index.
    pub node: u32,
    /// Start, ms.
    pub start_ms: f64,
    /// End, ms.
    pub end_ms: f64,
    /// `follower`, `candidate`, `leader`, `crashed` or `paused`.
    pub role: String,
    /// Term at the start of the span.
    pub term: u64,
}

/// Role spans from the report's `role_timeline`, closed at the end of the
/// run. Empty for reports without one (heartbeat runs).
pub fn role_spans(report: &Report) -> Vec<RoleSpan> {
    let timeline = report.leadership().and_then(|l| l.role_timeline.as_ref());
    let changes = timeline.map_or(&[][..], |t| t.changes());
    let mut open: BTreeMap<u32, RoleSpan> = BTreeMap::new();
    let mut out = Vec::new();
    for c in changes {
        let (t, node, role, term) = (c.time_ms(), c.node(), c.role(), c.term());
        if let Some(mut s) = open.remove(&node) {
            s.end_ms = t;
            if s.end_ms > s.start_ms {
                out.push(s);
            }
        }
        open.insert(
            node,
            RoleSpan {
                node,
                start_ms: t,
                end_ms: t,
                role: role.to_string(),
                term,
            },
        );
    }
    // If the timeline was capped, the last spans end where it stopped.
    let dropped = timeline.map_or(0, |t| t.dropped());
    let last = out.iter().map(|s| s.end_ms).fold(0.0, f64::max);
    for (_, mut s) in open {
        s.end_ms = if dropped > 0 {
            last.max(s.start_ms)
        } else {
            report.sim_time_ms
        };
        out.push(s);
    }
    out.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms).then(a.node.cmp(&b.node)));
    out
}

/// Leader-loss downtime samples of a report, ms.
pub fn downtime_samples(report: &Report) -> Vec<f64> {
    report
        .leadership()
        .map(|l| l.leader_loss_downtime_ms.samples.clone())
        .unwrap_or_default()
}

/// Election-after-leader-loss samples of a report, ms (one per loss).
pub fn election_samples(report: &Report) -> Vec<f64> {
    report
        .leadership()
        .map(|l| l.election_after_leader_loss_ms.samples.clone())
        .unwrap_or_default()
}

/// The `q` quantile (nearest rank) of sorted `v`; 0 when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The default message-diagram window: 100 ms before the first applied
/// fault to 400 ms after it, or the first 500 ms without faults.
pub fn default_window_ms(report: &Report) -> (f64, f64) {
    let first = report
        .faults
        .iter()
        .find(|f| !f.is_skipped())
        .map(|f| f.at_ms);
    match first {
        Some(t) => ((t - 100.0).max(0.0), t + 400.0),
        None => (0.0, 500.0_f64.min(report.sim_time_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{self, RunOptions, TraceSink};
    use crate::scenario::Scenario;
    use serde_json::Value;
    use std::path::Path;

    /// The detail of one JSON trace line, read independently of the
    /// collector: what the typed tap must agree with.
    fn from_json_line(line: &Value, window: (u64, u64)) -> Option<Result<Delivery, NodeEvent>> {
        let time_us = line["time_us"].as_u64()?;
        let kind = line["kind"].as_str()?;
        let node = line["node"].as_u64().map(|n| n as u32);
        if kind == "deliver" {
            let sent = line["sent_us"].as_u64()?;
            if !(window.0..=window.1).contains(&sent) {
                return None;
            }
            Some(Ok(Delivery {
                from: line["from"].as_u64()? as u32,
                to: node?,
                sent_us: sent,
                recv_us: time_us,
                kind: line["msg"].as_str()?.to_string(),
            }))
        } else if (window.0..=window.1).contains(&time_us) {
            let detail = match (&line["timer"], &line["fault"]) {
                (Value::Number(t), _) => t.to_string(),
                (_, f @ Value::Object(_)) => {
                    let f: FaultRecord = serde_json::from_value(f.clone()).ok()?;
                    label(&f.kind, &f.nodes, &f.groups)
                }
                _ => String::new(),
            };
            Some(Err(NodeEvent {
                time_us,
                kind: kind.to_string(),
                node,
                detail,
            }))
        } else {
            None
        }
    }

    /// A run of the partial-partition scenario (a link fault and its
    /// restore, elections, client traffic) with both the JSON tracer and
    /// the typed tap: the tap keeps exactly what the JSON lines say, in
    /// order, fault labels included, and counts what it leaves out.
    #[test]
    fn typed_tap_keeps_what_the_json_trace_says() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/partial/none.json");
        let base = Scenario::load(&path).expect("shipped scenario loads");
        let opts = RunOptions {
            duration_ms: Some(2600.0),
            ..RunOptions::default()
        };
        let scenario = runner::effective(&base, &opts);
        let window = (1_900_000, 2_300_000);
        let collector = TraceCollector::new(window, 100);
        let json: Rc<RefCell<Vec<u8>>> = Rc::new(RefCell::new(Vec::new()));
        let opts = RunOptions {
            trace: Some(json.clone() as TraceSink),
            tap: Some(collector.clone()),
            ..opts
        };
        runner::run(&scenario, &opts);
        let got = collector.borrow_mut().take();

        let text = String::from_utf8(json.borrow().clone()).expect("utf-8");
        let mut want = TraceDetail::default();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            match from_json_line(&v, window) {
                Some(Ok(d)) if want.deliveries.len() < 100 => want.deliveries.push(d),
                Some(Ok(_)) => want.deliveries_dropped += 1,
                Some(Err(e)) => want.events.push(e),
                None => {}
            }
        }
        assert!(want.deliveries_dropped > 0, "the cap is exercised");
        assert!(
            want.events.iter().any(|e| e.detail == "link n3-n4"),
            "the link fault is in the window: {:?}",
            want.events
                .iter()
                .filter(|e| e.kind == "fault")
                .collect::<Vec<_>>()
        );
        assert_eq!(got, want);
    }
}
