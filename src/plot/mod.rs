//! Plots, the HTML report page and the Chrome trace export.
//!
//! Charts are drawn with plotters into an SVG string (the default) or an
//! RGB buffer encoded as PNG, entirely in memory: this module never touches
//! files (the CLI writes what it returns). Text is laid out with the
//! bundled DejaVu Sans (`assets/fonts/`, loaded through plotters'
//! `ab_glyph` feature), so neither format needs system fonts and the output
//! is the same on every machine: no timestamps, no wall-clock numbers.
//!
//! - [`data`]: what charts draw, extracted from reports, histories and the
//!   typed events of a re-run ([`data::TraceCollector`], a `runner::EventTap`).
//! - [`charts`]: the charts.
//! - [`html`]: the self-contained `index.html` of `agentsim report`.
//! - [`chrome_trace`]: Chrome trace-event JSON (`run --chrome-trace`).

pub mod charts;
pub mod chrome_trace;
pub mod data;
pub mod figures;
pub mod html;

use plotters::coord::Shift;
use plotters::prelude::*;
use std::sync::Once;

/// The bundled font (DejaVu Sans 2.37 from Debian's `fonts-dejavu-core`;
/// license in `assets/fonts/DejaVuSans.LICENSE`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static FONT_ONCE: Once = Once::new();

fn register_fonts() {
    FONT_ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The bytes are a valid TrueType font shipped with the crate.
            plotters::style::register_font("sans-serif", style, FONT)
                .unwrap_or_else(|_| panic!("bundled DejaVuSans.ttf does not parse"));
        }
    });
}

/// Output format of a chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Scalable vector graphics (text as `<text>`, viewer's font).
    #[default]
    Svg,
    /// PNG raster, text rendered with the bundled font.
    Png,
}

impl Format {
    /// File extension.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }
}

/// A chart failed to draw (plotters error text).
#[derive(Debug, thiserror::Error)]
#[error("drawing failed: {0}")]
pub struct PlotError(pub String);

pub(crate) fn err<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError(e.to_string())
}

/// Something that can draw itself on a plotters drawing area.
pub trait Chart {
    /// Canvas size in pixels.
    fn size(&self) -> (u32, u32) {
        (960, 520)
    }
    /// Draw onto `area` (already filled white).
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

/// Render `chart` in `format`; returns the file's bytes.
pub fn render<C: Chart>(chart: &C, format: Format) -> Result<Vec<u8>, PlotError> {
    register_fonts();
    let (w, h) = chart.size();
    match format {
        Format::Svg => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
                root.fill(&WHITE).map_err(err)?;
                chart.draw(&root)?;
                root.present().map_err(err)?;
            }
            Ok(s.into_bytes())
        }
        Format::Png => {
            let mut buf = vec![0u8; (w * h * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
                root.fill(&WHITE).map_err(err)?;
                chart.draw(&root)?;
                root.present().map_err(err)?;
            }
            let mut out = Vec::new();
            {
                let mut enc = png::Encoder::new(&mut out, w, h);
                enc.set_color(png::ColorType::Rgb);
                enc.set_depth(png::BitDepth::Eight);
                let mut writer = enc.write_header().map_err(err)?;
                writer.write_image_data(&buf).map_err(err)?;
                writer.finish().map_err(err)?;
            }
            Ok(out)
        }
    }
}

/// Render to an SVG string (for inlining in HTML).
pub fn render_svg<C: Chart>(chart: &C) -> Result<String, PlotError> {
    let bytes = render(chart, Format::Svg)?;
    String::from_utf8(bytes).map_err(err)
}
