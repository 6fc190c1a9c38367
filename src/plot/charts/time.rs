//! Charts over virtual time: client latency and throughput, with fault windows shaded.

use super::*;
use crate::metrics::sections::BlamedOp;

/// The axes both time charts share: virtual seconds over the run, `y_desc`
/// from 0 to `ymax`, fault windows shaded and labelled.
fn time_axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    end_ms: f64,
    ymax: f64,
    y_desc: &str,
    faults: &[FaultWindow],
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>, PlotError> {
    let mut chart = caption(area, title)
        .build_cartesian_2d(0.0..end_ms / 1000.0, 0.0..ymax)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc(y_desc)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .max_light_lines(2)
        .draw()
        .map_err(err)?;
    shade_faults(&mut chart, faults, 0.0, ymax)?;
    Ok(chart)
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
    /// A failing run's blamed operation: marked, with the window the
    /// checker could not place it in shaded.
    pub blamed: Option<&'a BlamedOp>,
}

/// Ink of the blamed operation's marker and window: reddish purple, which
/// no outcome and no fault uses.
const BLAMED_INK: RGBColor = PALETTE[3];

/// The legend text of the blamed operation.
pub fn blamed_label(b: &BlamedOp) -> String {
    let v = |x: Option<i64>| x.map_or_else(|| "absent".to_string(), |x| x.to_string());
    let what = match (b.f.as_str(), b.expected) {
        ("read", _) => format!("read -> {}", v(b.value)),
        ("cas", Some(e)) => format!("cas {e}->{}", v(b.value)),
        (f, _) => format!("{f} {}", v(b.value)),
    };
    format!(
        "not linearizable: {what} by p{} on key {}",
        b.process, b.key
    )
}

/// Shade the window the checker searched and mark the blamed operation at
/// (invocation, latency), adding both to the legend.
fn mark_blamed<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    b: &BlamedOp,
    ymax: f64,
    labels: &mut Vec<String>,
) -> Result<(), PlotError> {
    let (a, z) = (b.window_ms[0] / 1000.0, b.window_ms[1] / 1000.0);
    let label = format!("no place for it in {}-{} s", tick(&a), tick(&z));
    labels.push(label.clone());
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(a, 0.0), (z, ymax)],
            BLAMED_INK.mix(0.18).filled(),
        )))
        .map_err(err)?
        .label(label)
        .legend(legend_box(BLAMED_INK));
    Ok(())
}

/// Draw the blamed operation's marker (a cross in a ring) on top of the
/// points.
fn mark_blamed_op<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    b: &BlamedOp,
    labels: &mut Vec<String>,
) -> Result<(), PlotError> {
    let end = b.complete_ms.unwrap_or(b.invoke_ms);
    let p = (b.invoke_ms / 1000.0, end - b.invoke_ms);
    let label = blamed_label(b);
    labels.push(label.clone());
    let style = BLAMED_INK.stroke_width(2);
    chart
        .draw_series(std::iter::once(
            EmptyElement::at(p) + Circle::new((0, 0), 8, style) + Cross::new((0, 0), 5, style),
        ))
        .map_err(err)?
        .label(label)
        .legend(move |(x, y)| {
            EmptyElement::at((x + 6, y))
                + Circle::new((0, 0), 6, style)
                + Cross::new((0, 0), 4, style)
        });
    Ok(())
}

impl Chart for LatencyOverTime<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let ymax = self
            .ops
            .iter()
            .map(ClientOp::latency_ms)
            .fold(1.0, f64::max)
            * TIME_CHART_HEADROOM;
        let mut chart = time_axes(
            area,
            &self.title,
            self.end_ms,
            ymax,
            "latency (ms)",
            self.faults,
        )?;
        let mut labels = vec!["fault window".to_string()];
        if let Some(b) = self.blamed {
            mark_blamed(&mut chart, b, ymax, &mut labels)?;
        }
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
        if let Some(b) = self.blamed {
            mark_blamed_op(&mut chart, b, &mut labels)?;
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
        let mut chart = time_axes(
            area,
            &self.title,
            self.end_ms,
            ymax,
            &format!("completions per s ({} ms buckets)", tick(&bucket)),
            self.faults,
        )?;
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
