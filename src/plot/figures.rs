//! The standard set of figures for one run and for several runs overlaid,
//! shared by `agentsim plot` and `agentsim report`.

use super::charts::{
    BarPanels, CdfChart, CdfPanel, CompetitorPoint, Gantt, GanttBar, HistogramChart,
    LatencyOverTime, QualityVsTokens, Sequence, Series, ThroughputOverTime, Timeline,
};
use super::chrome_trace::address_names;
use super::data::{
    client_ops, default_window_ms, downtime_samples, election_samples, fault_windows, role_spans,
    ClientOp, FaultWindow, Outcome, RoleSpan, TraceDetail,
};
use super::{render, Format, PlotError};
use crate::kv::history::HistoryEvent;
use crate::metrics::collab_tables::{CollabTables, ConsistencyMetrics};
use crate::metrics::Report;

/// Most messages drawn in a sequence diagram (more is unreadable).
pub const MAX_MESSAGES: usize = 200;
/// Longest run whose timeline is drawn whole; longer runs show a 30 s
/// excerpt starting 5 s before the diagram window.
pub const TIMELINE_WHOLE_MS: f64 = 60_000.0;

/// Everything the figures of one run need.
#[derive(Clone, Debug)]
pub struct RunView {
    /// Name used in legends and file names.
    pub label: String,
    /// The report.
    pub report: Report,
    /// Completed client operations.
    pub ops: Vec<ClientOp>,
    /// Fault windows.
    pub faults: Vec<FaultWindow>,
    /// Role spans.
    pub spans: Vec<RoleSpan>,
    /// Messages and events of the diagram window (from a re-run).
    pub detail: TraceDetail,
    /// The sequence-diagram window, ms.
    pub window_ms: (f64, f64),
}

impl RunView {
    /// Assemble the view of a run.
    pub fn new(
        label: String,
        report: Report,
        history: Option<&[HistoryEvent]>,
        detail: TraceDetail,
        window_ms: (f64, f64),
    ) -> RunView {
        RunView {
            label,
            ops: history.map(client_ops).unwrap_or_default(),
            faults: fault_windows(&report),
            spans: role_spans(&report),
            report,
            detail,
            window_ms,
        }
    }

    /// The sequence-diagram window: `requested` or the default around the
    /// first fault.
    pub fn window_for(report: &Report, requested: Option<(f64, f64)>) -> (f64, f64) {
        requested.unwrap_or_else(|| default_window_ms(report))
    }

    /// Latencies of ok and fail completions, ms.
    pub fn latencies_ms(&self) -> Vec<f64> {
        self.ops
            .iter()
            .filter(|o| o.outcome != Outcome::Info)
            .map(ClientOp::latency_ms)
            .collect()
    }

    fn timeline_range(&self) -> (f64, f64) {
        let end = self.report.sim_time_ms;
        if end <= TIMELINE_WHOLE_MS {
            (0.0, end)
        } else {
            let a = (self.window_ms.0 - 5_000.0).max(0.0);
            (a, (a + 30_000.0).min(end))
        }
    }
}

/// A rendered figure.
#[derive(Clone, Debug)]
pub struct Figure {
    /// File stem (`latency_over_time`, ...).
    pub name: String,
    /// Human title.
    pub title: String,
    /// File bytes (SVG text or PNG).
    pub bytes: Vec<u8>,
}

/// The figures of one run: latency and throughput over time (when it has
/// client operations), leadership timeline (Raft), agent Gantt chart and
/// quality vs tokens of race entries (workflow runs, when they have them),
/// message diagram.
pub fn run_figures(v: &RunView, format: Format) -> Result<Vec<Figure>, PlotError> {
    let mut out = Vec::new();
    let r = &v.report;
    let end = r.sim_time_ms;
    let mut push = |name: &str, title: String, bytes: Vec<u8>| {
        out.push(Figure {
            name: name.to_string(),
            title,
            bytes,
        })
    };
    if !v.ops.is_empty() {
        let title = format!("{}: client latency over time", v.label);
        let c = LatencyOverTime {
            title: title.clone(),
            ops: &v.ops,
            faults: &v.faults,
            end_ms: end,
            blamed: r
                .raft
                .as_ref()
                .and_then(|k| k.linearizability.violation.as_ref()),
        };
        push("latency_over_time", title, render(&c, format)?);
        let title = format!("{}: throughput over time", v.label);
        let c = ThroughputOverTime {
            title: title.clone(),
            ops: &v.ops,
            faults: &v.faults,
            end_ms: end,
        };
        push("throughput", title, render(&c, format)?);
    }
    if !v.spans.is_empty() {
        let range = v.timeline_range();
        let mut title = format!("{}: leadership timeline", v.label);
        if range != (0.0, end) {
            title.push_str(&format!(
                " ({:.0}-{:.0} s of {:.0} s)",
                range.0 / 1000.0,
                range.1 / 1000.0,
                end / 1000.0
            ));
        }
        let c = Timeline {
            title: title.clone(),
            nodes: r.scenario.cluster.nodes,
            spans: &v.spans,
            faults: &v.faults,
            range_ms: range,
        };
        push("timeline", title, render(&c, format)?);
    }
    let bars = gantt_bars(r);
    if !bars.is_empty() {
        let title = format!(
            "{}: agent Gantt chart ({})",
            v.label,
            gantt_scope(r, bars.len())
        );
        let window_ms = collab_of(r)
            .and_then(|c| c.gantt_window_ms)
            .map(|[a, b]| (a, b))
            .filter(|(a, b)| a < b);
        let c = Gantt {
            title: title.clone(),
            bars: &bars,
            faults: &v.faults,
            window_ms,
        };
        push("gantt", title, render(&c, format)?);
    }
    let points = competitor_points(r);
    if !points.is_empty() {
        let title = quality_title(&v.label, r, points.len());
        let c = QualityVsTokens {
            title: title.clone(),
            points: &points,
            cost_per_1k_tokens: r
                .scenario
                .workflow
                .as_ref()
                .map_or(0.0, |w| w.arbiter.cost_per_1k_tokens),
        };
        push("quality_vs_tokens", title, render(&c, format)?);
    }
    let d = &v.detail;
    let shown = d.deliveries.len();
    let total = shown as u64 + d.deliveries_dropped;
    let (w0, w1) = v.window_ms;
    let last_recv = d
        .deliveries
        .iter()
        .map(|x| x.recv_us as f64 / 1000.0)
        .fold(w0, f64::max);
    // When capped, end the picture where the last drawn message lands.
    let range = if d.deliveries_dropped > 0 {
        (w0, last_recv.max(w0 + 1.0))
    } else {
        (w0, w1.max(last_recv))
    };
    let mut title = format!("{}: messages sent {w0:.0}-{w1:.0} ms", v.label);
    if d.deliveries_dropped > 0 {
        title.push_str(&format!(
            " (first {shown} of {total}; narrow with --window)"
        ));
    } else {
        title.push_str(&format!(" ({total} messages)"));
    }
    // One lane per address: servers, clients and a workflow run's agents
    // (by address only: `a3`, the group name would not fit a lane).
    let c = Sequence {
        title: title.clone(),
        columns: address_names(r)
            .into_iter()
            .map(|n| n.split(' ').next().unwrap_or_default().to_string())
            .collect(),
        deliveries: &d.deliveries,
        range_ms: range,
        faults: &v.faults,
    };
    push("messages", title, render(&c, format)?);
    Ok(out)
}

/// How to group runs into panels of the downtime CDF: `(title, labels)`;
/// empty means one panel with every run.
pub type Panels = Vec<(String, Vec<String>)>;

/// Figures comparing runs: latency CDF and histogram (runs with client
/// operations), leader-loss downtime CDF (runs with downtime samples).
pub fn overlay_figures(
    runs: &[RunView],
    panels: &Panels,
    log_x: bool,
    format: Format,
) -> Result<Vec<Figure>, PlotError> {
    let mut out = Vec::new();
    let lat: Vec<Series> = runs
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.ops.is_empty())
        .map(|(i, v)| Series {
            label: v.label.clone(),
            samples: v.latencies_ms(),
            color: i,
        })
        .collect();
    if !lat.is_empty() {
        // Latencies span decades (a few ms to the client timeout): the
        // latency CDF is always drawn on a log axis.
        let title = "Client latency CDF (ok and fail completions)".to_string();
        let c = CdfChart {
            title: title.clone(),
            x_desc: "latency (ms, log scale)".into(),
            panels: vec![CdfPanel {
                title: String::new(),
                series: lat.clone(),
            }],
            log_x: true,
        };
        out.push(Figure {
            name: "latency_cdf".into(),
            title,
            bytes: render(&c, format)?,
        });
        let title = "Client latency histogram".to_string();
        let c = HistogramChart {
            title: title.clone(),
            x_desc: "latency (ms)".into(),
            series: lat,
        };
        out.push(Figure {
            name: "latency_histogram".into(),
            title,
            bytes: render(&c, format)?,
        });
    }
    if let Some(c) = mode_panels(runs) {
        out.push(Figure {
            name: "modes".into(),
            title: c.title.clone(),
            bytes: render(&c, format)?,
        });
    }
    if let Some(c) = consistency_panels(runs) {
        out.push(Figure {
            name: "consistency".into(),
            title: c.title.clone(),
            bytes: render(&c, format)?,
        });
    }
    let cdfs = [
        (
            "election_cdf",
            "Election after leader loss CDF (leader crashed, paused or cut off → a new leader in a higher term; one sample per loss)",
            "time to elect a new leader",
            election_samples as fn(&Report) -> Vec<f64>,
        ),
        (
            "downtime_cdf",
            "Leader-loss downtime CDF (time without a leader known to a majority)",
            "time without leader",
            downtime_samples,
        ),
    ];
    for (name, title, x, samples) in cdfs {
        if let Some(c) = cdf_chart(runs, panels, log_x, title, x, samples) {
            out.push(Figure {
                name: name.into(),
                title: title.to_string(),
                bytes: render(&c, format)?,
            });
        }
    }
    Ok(out)
}

/// A CDF chart of one sample set per run (runs without samples left
/// out), split into `panels` when given; None when no run has samples.
fn cdf_chart(
    runs: &[RunView],
    panels: &[(String, Vec<String>)],
    log_x: bool,
    title: &str,
    x: &str,
    samples: fn(&Report) -> Vec<f64>,
) -> Option<CdfChart> {
    let series: Vec<Series> = runs
        .iter()
        .enumerate()
        .map(|(i, v)| Series {
            label: v.label.clone(),
            samples: samples(&v.report),
            color: i,
        })
        .filter(|s| !s.samples.is_empty())
        .collect();
    if series.is_empty() {
        return None;
    }
    let panels: Vec<CdfPanel> = if panels.is_empty() {
        vec![CdfPanel {
            title: String::new(),
            series,
        }]
    } else {
        panels
            .iter()
            .map(|(t, labels)| CdfPanel {
                title: t.clone(),
                series: labels
                    .iter()
                    .filter_map(|l| series.iter().find(|s| &s.label == l).cloned())
                    .collect(),
            })
            .collect()
    };
    Some(CdfChart {
        title: title.to_string(),
        x_desc: if log_x {
            format!("{x} (ms, log scale)")
        } else {
            format!("{x} (ms)")
        },
        panels,
        log_x,
    })
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What part of the run's task executions the Gantt chart shows:
/// `all 120 task executions`, `first 500 of 2,346 task executions; plot
/// --gantt-window for others`, or for a window `412 in the window, of
/// 2,346 task executions; window 1000-2000 ms` (`first 500 of 612 in the
/// window, ...` when capped).
fn gantt_scope(r: &Report, shown: usize) -> String {
    let c = collab_of(r);
    let total = c.map_or(shown as u64, |c| c.gantt_total);
    let shown_s = thousands(shown as u64);
    if let Some([a, b]) = c.and_then(|c| c.gantt_window_ms) {
        let inside = c.and_then(|c| c.gantt_in_window).unwrap_or(shown as u64);
        let head = if inside > shown as u64 {
            format!("first {shown_s} of {} in the window", thousands(inside))
        } else {
            format!("{shown_s} in the window")
        };
        return format!(
            "{head}, of {} task executions; window {a:.0}-{b:.0} ms",
            thousands(total)
        );
    }
    if total > shown as u64 {
        format!(
            "first {shown_s} of {} task executions; plot --gantt-window for others",
            thousands(total)
        )
    } else {
        format!("all {shown_s} task executions")
    }
}

/// The agent Gantt rows a workflow report carries (`collab.gantt`).
fn gantt_bars(r: &Report) -> Vec<GanttBar> {
    collab_of(r).map_or_else(Vec::new, |c| {
        c.gantt
            .iter()
            .map(|g| GanttBar {
                agent: g.agent,
                task: g.task,
                start_ms: g.start_ms,
                end_ms: g.end_ms,
            })
            .collect()
    })
}

/// The race entries a workflow report carries (`collab.competitors`).
fn competitor_points(r: &Report) -> Vec<CompetitorPoint> {
    collab_of(r).map_or_else(Vec::new, |c| {
        c.competitors
            .iter()
            .map(|p| CompetitorPoint {
                tokens: p.tokens as f64,
                score: p.score,
                winner: p.winner,
            })
            .collect()
    })
}

/// Title of the quality-vs-tokens chart: the mode, the arbiter's weights
/// and, when the report's list was capped, how many entries are drawn.
/// (The token price is named in the legend, next to the line it sets.)
fn quality_title(label: &str, r: &Report, shown: usize) -> String {
    let c = collab_of(r);
    let mode = c.map_or("?", |c| c.mode.as_str());
    let mut t = format!("{label}: quality vs tokens, {mode} mode");
    if let Some(w) = r.scenario.workflow.as_ref().map(|w| &w.arbiter.weights) {
        t.push_str(&format!(
            ", weights rel/inn/feas {}/{}/{}",
            w.relevance, w.innovation, w.feasibility
        ));
    }
    let total = c.map_or(shown as u64, |c| c.competitors_total);
    if total > shown as u64 {
        t.push_str(&format!(" (first {shown} of {total} entries)"));
    }
    t
}

/// A workflow run's headline numbers for the mode comparison.
/// Bar labels: each run's short name (its mode, its model) when they tell
/// the runs apart, else the run labels.
fn bar_labels(runs: &[(&RunView, String)]) -> Vec<String> {
    let unique = runs
        .iter()
        .all(|(_, a)| runs.iter().filter(|(_, b)| b == a).count() == 1);
    runs.iter()
        .map(|(v, short)| {
            if unique {
                short.clone()
            } else {
                v.label.clone()
            }
        })
        .collect()
}

fn mode_panels(runs: &[RunView]) -> Option<BarPanels> {
    let collab: Vec<(&RunView, &CollabTables)> = runs
        .iter()
        .filter_map(|v| Some((v, collab_of(&v.report)?)))
        .filter(|(_, c)| !c.mode.is_empty())
        .collect();
    if collab.is_empty() {
        return None;
    }
    let col = |f: fn(&CollabTables) -> f64| collab.iter().map(|(_, c)| f(c)).collect::<Vec<f64>>();
    let named: Vec<(&RunView, String)> = collab.iter().map(|(v, c)| (*v, c.mode.clone())).collect();
    Some(BarPanels {
        title: "Collaboration modes: makespan, tokens per task (committed, spent), correct results"
            .into(),
        labels: bar_labels(&named),
        panels: vec![
            ("makespan (s)".into(), col(|c| c.makespan_ms / 1000.0)),
            (
                "tokens committed per completed task".into(),
                col(|c| c.tokens.per_completed_task),
            ),
            // Beside it, what was spent: retried, lost and losing attempts
            // cost tokens too (AP re-runs work a partition hid).
            (
                "tokens spent per completed task".into(),
                col(spent_per_task),
            ),
            (
                "correct results (fraction)".into(),
                col(|c| c.quality.correct_fraction),
            ),
        ],
    })
}

/// Tokens spent (every attempt, committed or not) per completed task:
/// `spent / results`, with `results = committed / per_completed_task`.
fn spent_per_task(c: &CollabTables) -> f64 {
    let t = &c.tokens;
    let (committed, spent, per) = (t.committed as f64, t.spent as f64, t.per_completed_task);
    if committed > 0.0 && per > 0.0 {
        spent / (committed / per)
    } else {
        0.0
    }
}

/// CP vs AP: runs whose report measured scripted partitions, side by
/// side: work done during them, and what it cost.
fn consistency_panels(runs: &[RunView]) -> Option<BarPanels> {
    let metrics: Vec<(&RunView, &ConsistencyMetrics)> = runs
        .iter()
        .filter_map(|v| {
            let m = collab_of(&v.report)?.consistency_metrics.as_ref()?;
            (!m.partitions.is_empty()).then_some((v, m))
        })
        .collect();
    if metrics.is_empty() {
        return None;
    }
    let named: Vec<(&RunView, String)> = metrics
        .iter()
        .map(|(v, m)| (*v, m.model.to_uppercase()))
        .collect();
    let labels = bar_labels(&named);
    let n = |v: Option<u64>| v.unwrap_or(0) as f64;
    let col = |f: &dyn Fn(&ConsistencyMetrics) -> f64| {
        metrics.iter().map(|(_, m)| f(m)).collect::<Vec<f64>>()
    };
    Some(BarPanels {
        title: "Consistency under partitions: work done during them, and its price".into(),
        labels,
        panels: vec![
            (
                "tasks completed during partitions".into(),
                col(&|m| {
                    m.partitions
                        .iter()
                        .map(|w| n(w.tasks_completed_during))
                        .sum()
                }),
            ),
            (
                "duplicate executions".into(),
                col(&|m| m.duplicate_executions as f64),
            ),
            (
                "tasks with conflicting results".into(),
                col(&|m| n(m.conflicting_results)),
            ),
            ("results lost".into(), col(&|m| n(m.results_lost))),
            (
                "slowest convergence after a heal (ms; no bar: never)".into(),
                col(&|m| {
                    let w = &m.partitions;
                    // A window that never converged has no finite value.
                    if w.iter().any(|w| w.converged_ms_after_heal.is_none()) {
                        return f64::NAN;
                    }
                    w.iter()
                        .filter_map(|w| w.converged_ms_after_heal)
                        .fold(0.0, f64::max)
                }),
            ),
        ],
    })
}

/// The `collab` tables of a report (`None` for other run kinds).
fn collab_of(r: &Report) -> Option<&CollabTables> {
    r.collab.as_ref().map(|c| &c.collab)
}
