//! Cluster behaviour: the leadership timeline and the message sequence diagram.

use super::*;

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
