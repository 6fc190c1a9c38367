//! Collaboration charts: agent Gantt chart, bar panels across runs, quality vs tokens of race entries.

use super::*;

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
    /// Draw only this window of virtual time, ms (`plot --gantt-window`):
    /// the axis spans it and bars are cut at its edges. `None`: from 0 to
    /// the last bar's end.
    pub window_ms: Option<(f64, f64)>,
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
        let (t0, t1) = match self.window_ms {
            Some((a, b)) => (a / 1000.0, b / 1000.0),
            None => (
                0.0,
                self.bars.iter().map(|b| b.end_ms).fold(1.0, f64::max) / 1000.0,
            ),
        };
        let n = agents.len().max(1) as f64;
        // Room above the top row for the legend (about 40 px).
        let top = n - 0.4 + (n * 40.0 / 300.0).max(1.0);
        let mut chart = caption(area, &self.title)
            .build_cartesian_2d(t0..t1, -0.6..top)
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
            .draw_series(
                self.bars
                    .iter()
                    .filter(|b| b.end_ms / 1000.0 > t0 && b.start_ms / 1000.0 < t1)
                    .map(|b| {
                        let y = row(b.agent);
                        let c = PALETTE[(b.task % PALETTE.len() as u64) as usize];
                        let (x0, x1) = ((b.start_ms / 1000.0).max(t0), (b.end_ms / 1000.0).min(t1));
                        Rectangle::new([(x0, y - 0.4), (x1, y + 0.4)], c.filled())
                    }),
            )
            .map_err(err)?
            .label("task execution (colour = task id)")
            .legend(legend_box(PALETTE[0]));
        for f in self.faults {
            let a = f.start_ms / 1000.0;
            if a > t1 || a < t0 {
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
                .y_label_formatter(&tick)
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
