//! The charts. Each is a plain struct of what it shows plus a
//! [`Chart`](super::Chart) impl; titles, axis names and series names are
//! part of the output that tests check.

use super::data::{quantile, ClientOp, Delivery, FaultWindow, Outcome, RoleSpan};
use super::{err, Chart, PlotError};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Series colours: the colour-blind-safe palette of Okabe and Ito (2008),
/// strongest first, yellow (weak on white) last but one.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
    RGBColor(120, 120, 120), // grey
    RGBColor(240, 228, 66),  // yellow
    RGBColor(140, 86, 75),   // brown
];

/// Fault windows are grey: no data series uses grey, so a shaded window
/// never reads as a failed operation (which is vermillion).
const FAULT_FILL: RGBColor = RGBColor(110, 110, 110);
/// Fault labels and fault marker lines.
const FAULT_INK: RGBColor = RGBColor(60, 60, 60);
const FONT: &str = "sans-serif";

fn outcome_color(o: Outcome) -> RGBColor {
    match o {
        Outcome::Ok => RGBColor(0, 158, 115),
        Outcome::Fail => RGBColor(213, 94, 0),
        Outcome::Info => RGBColor(0, 114, 178),
    }
}

/// Colour of a role band in the leadership timeline.
pub fn role_color(role: &str) -> RGBColor {
    match role {
        "leader" => RGBColor(0, 158, 115),
        "candidate" => RGBColor(230, 159, 0),
        "follower" => RGBColor(166, 206, 227),
        "crashed" => RGBColor(60, 60, 60),
        "paused" => RGBColor(204, 121, 167),
        _ => RGBColor(200, 200, 200),
    }
}

/// An axis tick: whole numbers without a trailing `.0`, others with at
/// most three decimals and no trailing zeros.
pub fn tick(v: &f64) -> String {
    let r = v.round();
    if (v - r).abs() <= 1e-9 * v.abs().max(1.0) {
        if r == 0.0 {
            "0".to_string()
        } else {
            format!("{r:.0}")
        }
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A vertical dashed line at `x` over `[y0, y1]`: a fault's start in the
/// timeline and Gantt charts.
fn fault_line(x: f64, y0: f64, y1: f64) -> DashedLineSeries<std::vec::IntoIter<(f64, f64)>, i32> {
    DashedLineSeries::new(vec![(x, y0), (x, y1)], 5, 3, FAULT_INK.stroke_width(1))
}

fn legend_box(c: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
}

fn legend_line(c: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
}

/// A "nice" bucket width close to `span / target`.
fn nice_step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if raw <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

/// Shade fault windows (x in seconds) over `[y0, y1]` and label them,
/// staggering labels over three rows so neighbours do not overlap.
fn shade_faults<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    faults: &[FaultWindow],
    y0: f64,
    y1: f64,
) -> Result<(), PlotError> {
    let mut first = true;
    for (i, f) in faults.iter().enumerate() {
        let (a, b) = (f.start_ms / 1000.0, f.end_ms / 1000.0);
        let row = (i % 3) as f64;
        let ly = y1 - (y1 - y0) * (0.03 + 0.06 * row);
        let rect = if b > a {
            Rectangle::new([(a, y0), (b, y1)], FAULT_FILL.mix(0.15).filled())
        } else {
            Rectangle::new([(a, y0), (a, y1)], FAULT_FILL.stroke_width(1))
        };
        let s = chart.draw_series(std::iter::once(rect)).map_err(err)?;
        if first {
            s.label("fault window").legend(legend_box(FAULT_FILL));
            first = false;
        }
        chart
            .draw_series(std::iter::once(Text::new(
                f.label.clone(),
                (a, ly),
                (FONT, 11).into_font().color(&FAULT_INK),
            )))
            .map_err(err)?;
    }
    Ok(())
}

/// Draw the series legend at `pos` on a translucent white box.
fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    pos: SeriesLabelPosition,
    opacity: f64,
) -> Result<(), PlotError> {
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(opacity))
        .border_style(BLACK)
        .label_font((FONT, 12))
        .draw()
        .map_err(err)
}

/// Headroom of the time charts: data fill the lower 58 % of the plot, so
/// the fault labels (top 20 %) and the legend under them cover no data.
const TIME_CHART_HEADROOM: f64 = 1.0 / 0.58;

/// Draw the legend at the upper right but below the rows of fault labels,
/// in the band [`TIME_CHART_HEADROOM`] keeps free of data. `labels` are
/// the legend texts, to size the box.
fn legend_below_fault_labels<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    labels: &[String],
) -> Result<(), PlotError> {
    let (w, h) = chart.plotting_area().dim_in_pixel();
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(8) as i32;
    let box_w = longest * 7 + 44;
    let x = (w as i32 - box_w - 8).max(0);
    let y = (f64::from(h) * 0.2) as i32;
    legend(chart, SeriesLabelPosition::Coordinate(x, y), 0.85)
}

fn caption<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    // The right margin keeps the last x tick whole.
    b.caption(title, (FONT, 18))
        .margin(12)
        .margin_right(32)
        .x_label_area_size(42)
        .y_label_area_size(64);
    b
}

/// Each client operation as a point: invocation time vs latency, coloured
/// by outcome, over shaded fault windows.
pub struct LatencyOverTime<'a> {
    /// Chart title.
    pub title: String,
    /// Completed operations.
    pub ops: &'a [ClientOp],
    /// Fault windows to shade.
    pub faults: &'a [FaultWindow],
    /// End of the run, ms.
    pub end_ms: f64,
}

impl Chart for LatencyOverTime<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let ymax = self
            .ops
            .iter()
            .map(ClientOp::latency_ms)
            .fold(1.0, f64::max)
            * TIME_CHART_HEADROOM;
        let mut chart = caption(area, &self.title)
            .build_cartesian_2d(0.0..self.end_ms / 1000.0, 0.0..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("virtual time (s)")
            .y_desc("latency (ms)")
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .max_light_lines(2)
            .draw()
            .map_err(err)?;
        shade_faults(&mut chart, self.faults, 0.0, ymax)?;
        let mut labels = vec!["fault window".to_string()];
        for o in [Outcome::Ok, Outcome::Fail, Outcome::Info] {
            let pts: Vec<(f64, f64)> = self
                .ops
                .iter()
                .filter(|op| op.outcome == o)
                .map(|op| (op.invoke_ms / 1000.0, op.latency_ms()))
                .collect();
            let c = outcome_color(o);
            let label = format!("{} ({})", o.name(), pts.len());
            labels.push(label.clone());
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 2, c.filled())))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
        }
        legend_below_fault_labels(&mut chart, &labels)?;
        Ok(())
    }
}

/// Completions per second over time, by outcome, over shaded fault
/// windows.
pub struct ThroughputOverTime<'a> {
    /// Chart title.
    pub title: String,
    /// Completed operations.
    pub ops: &'a [ClientOp],
    /// Fault windows to shade.
    pub faults: &'a [FaultWindow],
    /// End of the run, ms.
    pub end_ms: f64,
}

impl ThroughputOverTime<'_> {
    /// Bucket width (ms) and per-bucket rates (ops/s) for `o`.
    pub fn series(&self, o: Outcome) -> (f64, Vec<(f64, f64)>) {
        let bucket = nice_step(self.end_ms, 200.0).max(1.0);
        let n = (self.end_ms / bucket).ceil().max(1.0) as usize;
        let mut counts = vec![0u64; n];
        for op in self.ops.iter().filter(|op| op.outcome == o) {
            let i = ((op.complete_ms / bucket) as usize).min(n - 1);
            counts[i] += 1;
        }
        let pts = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                (
                    (i as f64 + 0.5) * bucket / 1000.0,
                    c as f64 * 1000.0 / bucket,
                )
            })
            .collect();
        (bucket, pts)
    }
}

impl Chart for ThroughputOverTime<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        type Rates = (f64, Vec<(f64, f64)>);
        let all: Vec<(Outcome, Rates)> = [Outcome::Ok, Outcome::Fail, Outcome::Info]
            .into_iter()
            .map(|o| (o, self.series(o)))
            .collect();
        let bucket = all[0].1 .0;
        let ymax = all
            .iter()
            .flat_map(|(_, (_, s))| s.iter().map(|p| p.1))
            .fold(1.0, f64::max)
            * TIME_CHART_HEADROOM;
        let mut chart = caption(area, &self.title)
            .build_cartesian_2d(0.0..self.end_ms / 1000.0, 0.0..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("virtual time (s)")
            .y_desc(format!("completions per s ({} ms buckets)", tick(&bucket)))
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .max_light_lines(2)
            .draw()
            .map_err(err)?;
        shade_faults(&mut chart, self.faults, 0.0, ymax)?;
        let mut labels = vec!["fault window".to_string()];
        for (o, (_, pts)) in all {
            if o != Outcome::Ok && pts.iter().all(|p| p.1 == 0.0) {
                continue;
            }
            let c = outcome_color(o);
            let label = format!("{} ops/s", o.name());
            labels.push(label.clone());
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(err)?
                .label(label)
                .legend(legend_line(c));
        }
        legend_below_fault_labels(&mut chart, &labels)?;
        Ok(())
    }
}

/// One named set of samples (ms).
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend name.
    pub label: String,
    /// Samples in ms (any order).
    pub samples: Vec<f64>,
    /// Colour index into [`PALETTE`] (the run's position, so a run keeps
    /// its colour across charts).
    pub color: usize,
}

/// One panel of a CDF chart.
#[derive(Clone, Debug)]
pub struct CdfPanel {
    /// Panel title.
    pub title: String,
    /// The series overlaid in it.
    pub series: Vec<Series>,
}

/// Cumulative distributions (y: cumulative %), one or more panels stacked
/// vertically, several series overlaid per panel; p50 and p99 marked.
/// With `log_x` the x axis is logarithmic (Figure 16 of the Raft paper).
pub struct CdfChart {
    /// Title of the whole figure (drawn above the panels).
    pub title: String,
    /// X axis description.
    pub x_desc: String,
    /// The panels, top to bottom.
    pub panels: Vec<CdfPanel>,
    /// Logarithmic x axis.
    pub log_x: bool,
}

impl CdfChart {
    fn x_range(&self) -> (f64, f64) {
        let all = self
            .panels
            .iter()
            .flat_map(|p| p.series.iter().flat_map(|s| s.samples.iter().copied()));
        let (lo, hi) = all.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if !lo.is_finite() {
            return (1.0, 10.0);
        }
        if self.log_x {
            let lo = 10f64.powf(lo.max(0.1).log10().floor());
            let hi = 10f64.powf(hi.max(lo * 10.0).log10().ceil());
            (lo, hi)
        } else {
            (0.0, hi.max(1.0) * 1.05)
        }
    }
}

fn cdf_panel<DB: DrawingBackend, X>(
    area: &DrawingArea<DB, Shift>,
    panel: &CdfPanel,
    x: X,
    x_desc: &str,
) -> Result<(), PlotError>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = caption(area, &panel.title)
        .build_cartesian_2d(x, 0.0..100.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("cumulative %")
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .max_light_lines(2)
        .draw()
        .map_err(err)?;
    for s in &panel.series {
        let c = PALETTE[s.color % PALETTE.len()];
        let mut v = s.samples.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        // At most ~1000 steps per series: enough for the eye, and keeps
        // the SVG small.
        let stride = n.div_ceil(1000).max(1);
        let mut pts = Vec::with_capacity(2 * n / stride + 2);
        for (k, &x) in v.iter().enumerate() {
            if k % stride == 0 || k + 1 == n {
                pts.push((x, k as f64 * 100.0 / n as f64));
                pts.push((x, (k + 1) as f64 * 100.0 / n as f64));
            }
        }
        let (p50, p99) = (quantile(&v, 0.5), quantile(&v, 0.99));
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(err)?
            .label(format!(
                "{} (n={n}, p50 {p50:.1}, p99 {p99:.1}, max {:.1})",
                s.label,
                v.last().copied().unwrap_or(0.0)
            ))
            .legend(legend_line(c));
        if n > 0 {
            chart
                .draw_series([(p50, 50.0), (p99, 99.0)].map(|p| Circle::new(p, 4, c.filled())))
                .map_err(err)?;
            chart
                .draw_series([("p50", p50, 50.0), ("p99", p99, 99.0)].map(|(q, x, y)| {
                    Text::new(q.to_string(), (x, y), (FONT, 11).into_font().color(&c))
                }))
                .map_err(err)?;
        }
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight, 0.85)?;
    Ok(())
}

impl Chart for CdfChart {
    fn size(&self) -> (u32, u32) {
        (960, 40 + 460 * self.panels.len().max(1) as u32)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let area = area.titled(&self.title, (FONT, 20)).map_err(err)?;
        let parts = area.split_evenly((self.panels.len().max(1), 1));
        let (lo, hi) = self.x_range();
        for (panel, part) in self.panels.iter().zip(parts.iter()) {
            if self.log_x {
                cdf_panel(part, panel, (lo..hi).log_scale(), &self.x_desc)?;
            } else {
                cdf_panel(part, panel, lo..hi, &self.x_desc)?;
            }
        }
        Ok(())
    }
}

/// Latency histograms of several series overlaid as step outlines (share
/// of samples per bucket, so runs of different lengths compare), with p50
/// and p99 marked as vertical lines.
pub struct HistogramChart {
    /// Title.
    pub title: String,
    /// X axis description.
    pub x_desc: String,
    /// The series.
    pub series: Vec<Series>,
}

impl Chart for HistogramChart {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        // Buckets up to 1.5 x the largest p99 so a few stragglers do not
        // squash the body; values beyond land in the last bucket.
        let hi = self
            .series
            .iter()
            .map(|s| {
                let mut v = s.samples.clone();
                v.sort_by(f64::total_cmp);
                quantile(&v, 0.99) * 1.5
            })
            .fold(1.0, f64::max);
        let step = nice_step(hi, 60.0);
        let nb = (hi / step).ceil() as usize + 1;
        let mut hists = Vec::new();
        let mut ymax: f64 = 1.0;
        for s in &self.series {
            let mut counts = vec![0u64; nb];
            for &x in &s.samples {
                counts[((x / step) as usize).min(nb - 1)] += 1;
            }
            let n = s.samples.len().max(1) as f64;
            let pct: Vec<f64> = counts.iter().map(|&c| c as f64 * 100.0 / n).collect();
            ymax = pct.iter().copied().fold(ymax, f64::max);
            hists.push(pct);
        }
        // Bars fill the lower two thirds; the p50/p99 labels sit above
        // them and the legend above the labels.
        let ymax = ymax * 1.5;
        let xmax = nb as f64 * step;
        let mut chart = caption(area, &self.title)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_desc)
            .y_desc(format!(
                "% of operations per {} ms bucket (last: all above)",
                tick(&step)
            ))
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .max_light_lines(2)
            .draw()
            .map_err(err)?;
        for (i, (s, pct)) in self.series.iter().zip(&hists).enumerate() {
            let c = PALETTE[s.color % PALETTE.len()];
            let mut pts = vec![(0.0, 0.0)];
            for (b, &p) in pct.iter().enumerate() {
                pts.push((b as f64 * step, p));
                pts.push(((b + 1) as f64 * step, p));
            }
            pts.push((xmax, 0.0));
            let mut v = s.samples.clone();
            v.sort_by(f64::total_cmp);
            let (p50, p99) = (quantile(&v, 0.5), quantile(&v, 0.99));
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(err)?
                .label(format!(
                    "{} (n={}, p50 {p50:.1} ms, p99 {p99:.1} ms)",
                    s.label,
                    v.len()
                ))
                .legend(legend_line(c));
            for (q, x) in [("p50", p50), ("p99", p99)] {
                chart
                    .draw_series(LineSeries::new(
                        vec![(x, 0.0), (x, ymax * 0.7)],
                        c.mix(0.7).stroke_width(1),
                    ))
                    .map_err(err)?;
                let y = ymax * (0.76 - 0.05 * (i % 3) as f64);
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!("{q} {x:.1}"),
                        (x, y),
                        (FONT, 11).into_font().color(&c),
                    )))
                    .map_err(err)?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 0.85)?;
        Ok(())
    }
}

/// Lanes below the node bands of the timeline that hold its legend.
const TIMELINE_LEGEND_LANES: u32 = 3;

/// One band per node showing its role over time, terms written on leader
/// and candidate spans wide enough to hold them, faults as vertical lines.
pub struct Timeline<'a> {
    /// Title.
    pub title: String,
    /// Number of server nodes (bands).
    pub nodes: u32,
    /// Role spans.
    pub spans: &'a [RoleSpan],
    /// Faults (marked at their start).
    pub faults: &'a [FaultWindow],
    /// Time range shown, ms.
    pub range_ms: (f64, f64),
}

impl Chart for Timeline<'_> {
    fn size(&self) -> (u32, u32) {
        (1100, 140 + 48 * (self.nodes.max(1) + TIMELINE_LEGEND_LANES))
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let (t0, t1) = (self.range_ms.0 / 1000.0, self.range_ms.1 / 1000.0);
        let n = self.nodes.max(1) as f64;
        // Empty lanes under node 0 hold the legend, so it hides no band.
        let bottom = -0.6 - f64::from(TIMELINE_LEGEND_LANES);
        let mut chart = caption(area, &self.title)
            .build_cartesian_2d(t0..t1, bottom..n - 0.4)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("virtual time (s)")
            .x_label_formatter(&tick)
            .y_desc("node")
            .y_labels(self.nodes as usize + 1 + TIMELINE_LEGEND_LANES as usize)
            .y_label_formatter(&|y| {
                let r = y.round();
                if (y - r).abs() < 0.01 && r >= 0.0 {
                    format!("n{}", r as u32)
                } else {
                    String::new()
                }
            })
            .disable_y_mesh()
            .max_light_lines(2)
            .draw()
            .map_err(err)?;
        let px_per_s = 1000.0 / (t1 - t0).max(1e-9);
        let visible = |s: &&RoleSpan| s.end_ms / 1000.0 > t0 && s.start_ms / 1000.0 < t1;
        chart
            .draw_series(self.spans.iter().filter(visible).map(|s| {
                let y = s.node as f64;
                let a = (s.start_ms / 1000.0).max(t0);
                let b = (s.end_ms / 1000.0).min(t1);
                Rectangle::new([(a, y - 0.35), (b, y + 0.35)], role_color(&s.role).filled())
            }))
            .map_err(err)?;
        let labels = self.spans.iter().filter(visible).filter(|s| {
            (s.role == "leader" || s.role == "candidate")
                && (s.end_ms.min(t1 * 1000.0) - s.start_ms.max(t0 * 1000.0)) / 1000.0 * px_per_s
                    > 28.0
        });
        chart
            .draw_series(labels.map(|s| {
                let a = (s.start_ms / 1000.0).max(t0);
                Text::new(
                    format!("t{}", s.term),
                    (a, s.node as f64 - 0.12),
                    (FONT, 11).into_font().color(&WHITE),
                )
            }))
            .map_err(err)?;
        for f in self.faults {
            let a = f.start_ms / 1000.0;
            if a < t0 || a > t1 {
                continue;
            }
            chart
                .draw_series(fault_line(a, -0.5, n - 0.5))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    f.label.clone(),
                    (a, n - 0.45),
                    (FONT, 11).into_font().color(&FAULT_INK),
                )))
                .map_err(err)?;
        }
        for role in ["follower", "candidate", "leader", "crashed", "paused"] {
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
                .map_err(err)?
                .label(role)
                .legend(legend_box(role_color(role)));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight, 0.9)?;
        Ok(())
    }
}

/// A message sequence (Lamport) diagram: one vertical line per address,
/// time flowing down, each delivered message an arrow from (sender, send
/// time) to (receiver, delivery time), coloured by message type.
pub struct Sequence<'a> {
    /// Title.
    pub title: String,
    /// Column names, by address (`n0`.. for servers, `c0`.. for clients).
    pub columns: Vec<String>,
    /// The messages.
    pub deliveries: &'a [Delivery],
    /// Time range shown, ms.
    pub range_ms: (f64, f64),
    /// Faults, marked as horizontal lines.
    pub faults: &'a [FaultWindow],
}

impl Chart for Sequence<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 1100)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let ncol = self.columns.len().max(1) as f64;
        let (t0, t1) = self.range_ms;
        // Extra columns on the right hold the legend, so it covers no
        // arrow: about a third of the columns, at least 1.5.
        let spare = (ncol / 3.0).max(1.5);
        // Time flows down: y is minus the time.
        let mut chart = caption(area, &self.title)
            .build_cartesian_2d(-0.6..ncol - 0.4 + spare, -t1..-t0)
            .map_err(err)?;
        let columns = &self.columns;
        chart
            .configure_mesh()
            .x_desc("address")
            .y_desc("virtual time (ms)")
            .x_labels(self.columns.len() + spare.ceil() as usize + 1)
            .x_label_formatter(&|x| {
                let r = x.round();
                if (x - r).abs() < 0.01 && r >= 0.0 {
                    columns.get(r as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| tick(&-y))
            .disable_x_mesh()
            .max_light_lines(1)
            .draw()
            .map_err(err)?;
        for i in 0..self.columns.len() {
            chart
                .draw_series(LineSeries::new(
                    vec![(i as f64, -t0), (i as f64, -t1)],
                    BLACK.mix(0.5).stroke_width(1),
                ))
                .map_err(err)?;
        }
        for f in self.faults {
            if f.start_ms < t0 || f.start_ms > t1 {
                continue;
            }
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(-0.5, -f.start_ms), (ncol - 0.5, -f.start_ms)],
                    5,
                    3,
                    FAULT_INK.stroke_width(1),
                ))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    f.label.clone(),
                    (-0.5, -f.start_ms),
                    (FONT, 12).into_font().color(&FAULT_INK),
                )))
                .map_err(err)?;
        }
        // Colour by message type, in order of first appearance.
        let mut kinds: Vec<&str> = Vec::new();
        for d in self.deliveries {
            if !kinds.contains(&d.kind.as_str()) {
                kinds.push(&d.kind);
            }
        }
        for (k, kind) in kinds.iter().enumerate() {
            let c = PALETTE[k % PALETTE.len()];
            let msgs: Vec<&Delivery> = self.deliveries.iter().filter(|d| d.kind == *kind).collect();
            let mut arrows = Vec::new();
            for d in &msgs {
                let a = (d.from as f64, -(d.sent_us as f64 / 1000.0));
                let b = (d.to as f64, -(d.recv_us as f64 / 1000.0));
                let (pa, pb) = (chart.backend_coord(&a), chart.backend_coord(&b));
                let (dx, dy) = ((pb.0 - pa.0) as f64, (pb.1 - pa.1) as f64);
                let len = (dx * dx + dy * dy).sqrt().max(1.0);
                let (ux, uy) = (dx / len, dy / len);
                let head = |side: f64| {
                    (
                        (-ux * 8.0 + side * uy * 4.0).round() as i32,
                        (-uy * 8.0 - side * ux * 4.0).round() as i32,
                    )
                };
                arrows.push((a, b, head(1.0), head(-1.0)));
            }
            let s = chart
                .draw_series(
                    arrows
                        .iter()
                        .map(|&(a, b, _, _)| PathElement::new(vec![a, b], c.stroke_width(1))),
                )
                .map_err(err)?;
            s.label(format!("{kind} ({})", msgs.len()))
                .legend(legend_line(c));
            chart
                .draw_series(arrows.iter().map(|&(_, b, h1, h2)| {
                    EmptyElement::at(b) + Polygon::new(vec![(0, 0), h1, h2], c.filled())
                }))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 0.9)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buckets snap to 1-2-5 steps.
    #[test]
    fn nice_steps_are_one_two_five() {
        assert_eq!(nice_step(20_000.0, 200.0), 100.0);
        assert_eq!(nice_step(2_600_000.0, 200.0), 20_000.0);
        assert_eq!(nice_step(300.0, 50.0), 10.0);
    }
}

/// One bar of the agent Gantt chart: an agent working on a task.
#[derive(Clone, Debug, PartialEq)]
pub struct GanttBar {
    /// Agent address.
    pub agent: u32,
    /// Task id.
    pub task: u64,
    /// Start, ms.
    pub start_ms: f64,
    /// End, ms.
    pub end_ms: f64,
}

/// Agent Gantt chart: one row per agent, one bar per task execution,
/// coloured by task id so a task's retries on other agents stand out.
pub struct Gantt<'a> {
    /// Title.
    pub title: String,
    /// Bars.
    pub bars: &'a [GanttBar],
    /// Faults (marked at their start).
    pub faults: &'a [FaultWindow],
}

impl Gantt<'_> {
    fn agents(&self) -> Vec<u32> {
        let mut a: Vec<u32> = self.bars.iter().map(|b| b.agent).collect();
        a.sort_unstable();
        a.dedup();
        a
    }
}

impl Chart for Gantt<'_> {
    fn size(&self) -> (u32, u32) {
        (
            1100,
            (140 + 14 * self.agents().len() as u32).clamp(260, 1400),
        )
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let agents = self.agents();
        let row = |a: u32| agents.binary_search(&a).unwrap_or(0) as f64;
        let t1 = self.bars.iter().map(|b| b.end_ms).fold(1.0, f64::max) / 1000.0;
        let n = agents.len().max(1) as f64;
        // Room above the top row for the legend (about 40 px).
        let top = n - 0.4 + (n * 40.0 / 300.0).max(1.0);
        let mut chart = caption(area, &self.title)
            .build_cartesian_2d(0.0..t1, -0.6..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("virtual time (s)")
            .x_label_formatter(&tick)
            .y_desc("agent")
            .y_labels(agents.len().min(40) + 1)
            .y_label_formatter(&|y| {
                let r = y.round();
                match agents.get(r as usize) {
                    Some(a) if (y - r).abs() < 0.01 && r >= 0.0 => format!("a{a}"),
                    _ => String::new(),
                }
            })
            .disable_y_mesh()
            .max_light_lines(2)
            .draw()
            .map_err(err)?;
        chart
            .draw_series(self.bars.iter().map(|b| {
                let y = row(b.agent);
                let c = PALETTE[(b.task % PALETTE.len() as u64) as usize];
                Rectangle::new(
                    [(b.start_ms / 1000.0, y - 0.4), (b.end_ms / 1000.0, y + 0.4)],
                    c.filled(),
                )
            }))
            .map_err(err)?
            .label("task execution (colour = task id)")
            .legend(legend_box(PALETTE[0]));
        for f in self.faults {
            let a = f.start_ms / 1000.0;
            if a > t1 {
                continue;
            }
            chart
                .draw_series(fault_line(a, -0.5, n - 0.5))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 0.9)?;
        Ok(())
    }
}

/// Bar panels side by side, one bar per run in each: a few numbers
/// compared across runs (collaboration modes; CP vs AP).
pub struct BarPanels {
    /// Title.
    pub title: String,
    /// One label per run (under its bar).
    pub labels: Vec<String>,
    /// (panel caption, one value per run).
    pub panels: Vec<(String, Vec<f64>)>,
}

impl Chart for BarPanels {
    fn size(&self) -> (u32, u32) {
        (400 * self.panels.len().max(1) as u32, 420)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let (top, rest) = area.split_vertically(36);
        top.titled(&self.title, (FONT, 18)).map_err(err)?;
        let panels = rest.split_evenly((1, self.panels.len().max(1)));
        let n = self.labels.len().max(1);
        for (panel, (name, values)) in panels.iter().zip(&self.panels) {
            let top_v = values
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max)
                .max(1e-9)
                * 1.15;
            let mut chart = ChartBuilder::on(panel)
                .caption(name, (FONT, 14))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(56)
                .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..top_v)
                .map_err(err)?;
            let labels = &self.labels;
            chart
                .configure_mesh()
                .x_labels(n)
                .x_label_formatter(&|x| {
                    let r = x.round();
                    match labels.get(r as usize) {
                        Some(l) if (x - r).abs() < 0.01 && r >= 0.0 => l.clone(),
                        _ => String::new(),
                    }
                })
                .y_desc(name)
                .disable_x_mesh()
                .draw()
                .map_err(err)?;
            chart
                .draw_series(
                    values
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| v.is_finite())
                        .map(|(i, &v)| {
                            let x = i as f64;
                            Rectangle::new(
                                [(x - 0.35, 0.0), (x + 0.35, v)],
                                PALETTE[i % PALETTE.len()].filled(),
                            )
                        }),
                )
                .map_err(err)?;
        }
        Ok(())
    }
}

/// One competitor of a race: what an entry cost and how the arbiter
/// scored it.
#[derive(Clone, Debug, PartialEq)]
pub struct CompetitorPoint {
    /// Tokens the entry used.
    pub tokens: f64,
    /// Its score weighted by the arbiter weights.
    pub score: f64,
    /// Whether the arbiter picked it.
    pub winner: bool,
}

/// Quality vs tokens of competitive entries: one marker per entry (x its
/// tokens, y its weighted score), winners as triangles over losers as
/// circles, and a dashed line of equal arbiter utility (score minus token
/// cost) through the median winner: entries above it beat that winner.
pub struct QualityVsTokens<'a> {
    /// Title.
    pub title: String,
    /// The entries.
    pub points: &'a [CompetitorPoint],
    /// The arbiter's cost per 1000 tokens (the line's slope).
    pub cost_per_1k_tokens: f64,
}

impl QualityVsTokens<'_> {
    /// The utility of the median winner (lower median), if any won.
    pub fn median_winner_utility(&self) -> Option<f64> {
        let mut u: Vec<f64> = self
            .points
            .iter()
            .filter(|p| p.winner)
            .map(|p| p.score - self.cost_per_1k_tokens * p.tokens / 1000.0)
            .collect();
        u.sort_by(f64::total_cmp);
        u.get(u.len().saturating_sub(1) / 2).copied()
    }
}

impl Chart for QualityVsTokens<'_> {
    fn size(&self) -> (u32, u32) {
        (1100, 560)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let span = |f: fn(&CompetitorPoint) -> f64| {
            self.points
                .iter()
                .map(f)
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                })
        };
        let (t0, t1) = span(|p| p.tokens);
        let (s0, s1) = span(|p| p.score);
        // Pad both axes so edge markers stay whole (an empty or one-point
        // chart still gets a usable range), and leave a band above the
        // highest score for the legend, so it hides no marker.
        let pad = |lo: f64, hi: f64, min: f64| {
            if !lo.is_finite() {
                return (0.0, 1.0, 1.0);
            }
            let p = ((hi - lo) * 0.05).max(min);
            ((lo - p).max(0.0), hi + p, hi - lo + 2.0 * p)
        };
        let (x0, x1, _) = pad(t0, t1, 10.0);
        let (y0, y1, ys) = pad(s0, s1, 0.02);
        let y1 = y1 + 0.25 * ys;
        let mut chart = caption(area, &self.title)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("tokens used by the entry")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("weighted score (arbiter weights)")
            .y_label_formatter(&tick)
            .max_light_lines(2)
            .draw()
            .map_err(err)?;
        let (lose_c, win_c) = (PALETTE[0], PALETTE[1]);
        let losers: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter(|p| !p.winner)
            .map(|p| (p.tokens, p.score))
            .collect();
        chart
            .draw_series(
                losers
                    .iter()
                    .map(|&p| Circle::new(p, 3, lose_c.mix(0.55).filled())),
            )
            .map_err(err)?
            .label(format!("lost its race ({})", losers.len()))
            .legend(move |(x, y)| Circle::new((x + 6, y), 4, lose_c.mix(0.55).filled()));
        let winners: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter(|p| p.winner)
            .map(|p| (p.tokens, p.score))
            .collect();
        chart
            .draw_series(
                winners
                    .iter()
                    .map(|&p| TriangleMarker::new(p, 5, win_c.filled())),
            )
            .map_err(err)?
            .label(format!("won its race ({})", winners.len()))
            .legend(move |(x, y)| TriangleMarker::new((x + 6, y), 5, win_c.filled()));
        if let Some(u) = self.median_winner_utility() {
            // score = u + c * tokens, kept inside the plot box (plotters
            // does not clip a path to the axes).
            let c = self.cost_per_1k_tokens / 1000.0;
            let (a, b) = if c > 0.0 {
                (x0.max((y0 - u) / c), x1.min((y1 - u) / c))
            } else {
                (x0, x1)
            };
            let line = [(a, u + c * a), (b, u + c * b)];
            let grey = RGBColor(90, 90, 90);
            chart
                .draw_series(DashedLineSeries::new(line, 6, 4, grey.stroke_width(1)))
                .map_err(err)?
                .label(format!(
                    "equal utility: score - {} per 1k tokens = {u:.3} (median winner)",
                    self.cost_per_1k_tokens
                ))
                .legend(legend_line(grey));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 0.85)?;
        Ok(())
    }
}
