//! Distributions of several runs: CDF panels and histograms.

use super::*;

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
