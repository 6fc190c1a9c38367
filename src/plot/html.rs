//! The self-contained report page (`agentsim report`): one HTML file with
//! a summary table, every chart inline as SVG, and the replay command of
//! each run. No scripts, no external stylesheets, fonts or images, so it
//! opens offline and can be archived as one file. Also the same summary
//! as a Markdown table, for READMEs.

use super::figures::Figure;
use crate::metrics::Report;
use std::collections::BTreeSet;
use std::fmt::Write;

/// One row of the summary table.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// Run label.
    pub label: String,
    /// Seed.
    pub seed: u64,
    /// Trace hash (hex).
    pub trace_hash: String,
    /// `ok` or `FAILED: check, ...`.
    pub checks: String,
    /// Client latency p50 / p99 / max, ms (None without a workload).
    pub latency_ms: Option<(f64, f64, f64)>,
    /// Availability (share of 10 ms slots).
    pub availability: Option<f64>,
    /// Leader-loss downtime: count, p50, max (ms).
    pub downtime_ms: Option<(u64, f64, f64)>,
    /// Election after leader loss: count, p50, max (ms).
    pub election_ms: Option<(u64, f64, f64)>,
    /// Elections won.
    pub elections: Option<u64>,
    /// Highest term.
    pub max_term: Option<u64>,
}

impl SummaryRow {
    /// The summary of `report`, labelled `label`.
    pub fn new(label: &str, report: &Report) -> SummaryRow {
        let checks = if report.checks.ok {
            format!("ok ({})", report.checks.ran.len())
        } else {
            let names: Vec<&str> = report
                .checks
                .failures
                .iter()
                .map(|f| f.check.as_str())
                .collect();
            format!("FAILED: {}", names.join(", "))
        };
        let raft = report.raft.as_ref();
        let lead = report.leadership();
        let latency_ms = raft
            .map(|r| &r.client_latency_ms)
            .filter(|l| l.count > 0)
            .map(|l| (l.p50, l.p99, l.max));
        let downtime_ms = lead.map(|l| {
            let d = &l.leader_loss_downtime_ms;
            (d.count, d.p50, d.max)
        });
        let election_ms = lead.map(|l| {
            let e = &l.election_after_leader_loss_ms;
            (e.count, e.p50, e.max)
        });
        SummaryRow {
            label: label.to_string(),
            seed: report.seed,
            trace_hash: report.trace_hash.clone(),
            checks,
            latency_ms,
            availability: raft.and_then(|r| r.availability),
            downtime_ms,
            election_ms,
            elections: lead.map(|l| l.elections.len() as u64),
            max_term: lead.map(|l| l.max_term),
        }
    }

    /// The cells, in [`HEADERS`] order.
    pub fn cells(&self) -> Vec<String> {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "–".into());
        vec![
            self.label.clone(),
            self.seed.to_string(),
            self.trace_hash.chars().take(16).collect(),
            self.checks.clone(),
            opt(self
                .latency_ms
                .map(|(a, b, c)| format!("{a:.1} / {b:.1} / {c:.1}"))),
            opt(self.availability.map(|a| format!("{:.2}%", a * 100.0))),
            opt(self
                .election_ms
                .map(|(n, p, m)| format!("{n} / {p:.1} / {m:.1}"))),
            opt(self
                .downtime_ms
                .map(|(n, p, m)| format!("{n} / {p:.1} / {m:.1}"))),
            opt(self.elections.map(|e| e.to_string())),
            opt(self.max_term.map(|t| t.to_string())),
        ]
    }
}

/// Column headers of the summary table.
pub const HEADERS: [&str; 10] = [
    "scenario",
    "seed",
    "trace hash (first 16)",
    "checks",
    "client latency p50 / p99 / max (ms)",
    "availability",
    "election after leader loss n / p50 / max (ms)",
    "downtime n / p50 / max (ms)",
    "elections",
    "max term",
];

/// The summary as a Markdown table.
pub fn markdown_table(rows: &[SummaryRow]) -> String {
    let mut s = format!("| {} |\n", HEADERS.join(" | "));
    s.push_str(&format!("|{}\n", "---|".repeat(HEADERS.len())));
    for r in rows {
        s.push_str(&format!("| {} |\n", r.cells().join(" | ")));
    }
    s
}

/// Column headers of the collaboration table (runs with a `workflow`).
pub const COLLAB_HEADERS: [&str; 11] = [
    "scenario",
    "mode",
    "consistency",
    "workflows done",
    "makespan (s)",
    "workflow latency p50 / p99 (s)",
    "tokens per task",
    "correct",
    "duplicate executions",
    "conflicting results",
    "results lost",
];

/// One run's row of the collaboration table, or `None` if the report has
/// no `collab` section.
pub fn collab_cells(label: &str, report: &Report) -> Option<Vec<String>> {
    let c = &report.collab.as_ref()?.collab;
    let m = c.consistency_metrics.as_ref();
    let count = |v: Option<u64>| v.map_or_else(|| "–".to_string(), |n| n.to_string());
    Some(vec![
        label.to_string(),
        c.mode.clone(),
        c.consistency.clone(),
        format!("{} / {}", c.workflows.completed, c.workflows.scheduled),
        format!("{:.1}", c.makespan_ms / 1000.0),
        format!(
            "{:.2} / {:.2}",
            c.workflows.latency_ms.p50 / 1000.0,
            c.workflows.latency_ms.p99 / 1000.0
        ),
        format!("{:.0}", c.tokens.per_completed_task),
        format!("{:.1}%", c.quality.correct_fraction * 100.0),
        count(m.map(|m| m.duplicate_executions)),
        count(m.and_then(|m| m.conflicting_results)),
        count(m.and_then(|m| m.results_lost)),
    ])
}

/// The collaboration table as Markdown (empty if no run has one).
pub fn collab_markdown_table(runs: &[(String, &Report)]) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .filter_map(|(l, r)| collab_cells(l, r))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = format!("| {} |\n", COLLAB_HEADERS.join(" | "));
    s.push_str(&format!("|{}\n", "---|".repeat(COLLAB_HEADERS.len())));
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s
}

/// Escape text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One run's section of the page.
pub struct PageRun {
    /// Label (also the anchor).
    pub label: String,
    /// Its report.
    pub report: Report,
    /// The command that replays it.
    pub replay: String,
    /// Its figures (SVG).
    pub figures: Vec<Figure>,
    /// Notes printed under the heading (e.g. the re-run's hash check).
    pub notes: Vec<String>,
}

/// The whole page.
pub struct Page {
    /// Title.
    pub title: String,
    /// Introductory paragraph (plain text).
    pub intro: String,
    /// The runs.
    pub runs: Vec<PageRun>,
    /// Figures comparing runs (SVG).
    pub overlays: Vec<Figure>,
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:4px 8px;text-align:left;font-size:14px}\
th{background:#eee}code,pre{background:#f4f4f4;padding:2px 4px}pre{padding:8px;overflow-x:auto}\
figure{margin:1em 0}figcaption{font-size:13px;color:#555}svg{max-width:100%;height:auto}";

fn inline_svg(f: &Figure, id: &str) -> String {
    let text = String::from_utf8_lossy(&f.bytes);
    // Drop an XML declaration if a backend wrote one: it is not allowed
    // inside HTML.
    let body = match text.find("<svg") {
        Some(i) => &text[i..],
        None => &text[..],
    };
    format!(
        "<figure id=\"{}\">\n{}\n<figcaption>{}</figcaption></figure>\n",
        escape(id),
        body.trim_end(),
        escape(&f.title)
    )
}

fn anchor(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Element ids handed out once per page: a wanted id already taken gets
/// `-2`, `-3`, ... so two runs whose labels map to the same anchor, or a
/// figure name repeated across runs, never share an id.
#[derive(Default)]
struct Ids(BTreeSet<String>);

impl Ids {
    fn take(&mut self, want: &str) -> String {
        let mut id = want.to_string();
        let mut n = 1;
        while self.0.contains(&id) {
            n += 1;
            id = format!("{want}-{n}");
        }
        self.0.insert(id.clone());
        id
    }
}

/// The page as HTML text.
///
/// Every element id is unique on the page: a run's section is `#<label>`
/// (non-alphanumerics as `-`), its figures `#<label>-<figure name>`, the
/// comparison figures `#<figure name>`.
pub fn page_html(p: &Page) -> String {
    let mut ids = Ids::default();
    let anchors: Vec<String> = p.runs.iter().map(|r| ids.take(&anchor(&r.label))).collect();
    let overlay_ids: Vec<String> = p.overlays.iter().map(|f| ids.take(&f.name)).collect();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p>{}</p>\n",
        escape(&p.title),
        escape(&p.title),
        escape(&p.intro)
    );
    h.push_str("<h2>Summary</h2>\n<table>\n<tr>");
    for c in HEADERS {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr>\n");
    for (n, r) in p.runs.iter().enumerate() {
        let row = SummaryRow::new(&r.label, &r.report);
        h.push_str("<tr>");
        for (i, c) in row.cells().iter().enumerate() {
            if i == 0 {
                let _ = write!(h, "<td><a href=\"#{}\">{}</a></td>", anchors[n], escape(c));
            } else if i == 2 {
                let _ = write!(
                    h,
                    "<td title=\"{}\"><code>{}</code></td>",
                    escape(&row.trace_hash),
                    escape(c)
                );
            } else {
                let _ = write!(h, "<td>{}</td>", escape(c));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    let collab: Vec<Vec<String>> = p
        .runs
        .iter()
        .filter_map(|r| collab_cells(&r.label, &r.report))
        .collect();
    if !collab.is_empty() {
        h.push_str("<h2>Collaboration</h2>\n<table>\n<tr>");
        for c in COLLAB_HEADERS {
            let _ = write!(h, "<th>{}</th>", escape(c));
        }
        h.push_str("</tr>\n");
        for row in collab {
            h.push_str("<tr>");
            for c in row {
                let _ = write!(h, "<td>{}</td>", escape(&c));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
    if !p.overlays.is_empty() {
        h.push_str("<h2>Comparisons</h2>\n");
        for (f, id) in p.overlays.iter().zip(&overlay_ids) {
            h.push_str(&inline_svg(f, id));
        }
    }
    for (r, run_id) in p.runs.iter().zip(&anchors) {
        let _ = write!(
            h,
            "<h2 id=\"{}\">{}</h2>\n<p>{}</p>\n<p>Seed {}, trace hash <code>{}</code>, {} events, {:.0} ms simulated.</p>\n<pre>{}</pre>\n",
            run_id,
            escape(&r.label),
            escape(&r.report.scenario.description),
            r.report.seed,
            escape(&r.report.trace_hash),
            r.report.events,
            r.report.sim_time_ms,
            escape(&r.replay)
        );
        for n in &r.notes {
            let _ = writeln!(h, "<p>{}</p>", escape(n));
        }
        // Failure explanations keep their line breaks and indentation (a
        // linearizability explanation is laid out as a table).
        if !r.report.checks.ok {
            h.push_str("<ul>\n");
            for f in &r.report.checks.failures {
                let _ = writeln!(
                    h,
                    "<li><b>{}</b>:\n<pre class=\"failure\">{}</pre></li>",
                    escape(&f.check),
                    escape(&f.message)
                );
            }
            h.push_str("</ul>\n");
        }
        for f in &r.figures {
            let id = ids.take(&format!("{run_id}-{}", f.name));
            h.push_str(&inline_svg(f, &id));
        }
    }
    h.push_str("</body>\n</html>\n");
    h
}
