//! The charts. Each is a plain struct of what it shows plus a
//! [`super::Chart`] impl; titles, axis names and series names are
//! part of the output that tests check.
//!
//! `mod.rs` holds the shared style (palette, fault ink, ticks, legends);
//! the charts live by subject: `time.rs` (latency and throughput over
//! time), `dist.rs` (CDFs and histograms), `cluster.rs` (leadership
//! timeline, message diagram), `collab.rs` (Gantt, bar panels, quality vs
//! tokens).

mod cluster;
mod collab;
mod dist;
mod time;

pub use cluster::{Sequence, Timeline};
pub use collab::{BarPanels, CompetitorPoint, Gantt, GanttBar, QualityVsTokens};
pub use dist::{CdfChart, CdfPanel, HistogramChart, Series};
pub use time::{LatencyOverTime, ThroughputOverTime};

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
