//! The figure: validation-loss curves and their gaps to BF16.

use std::path::Path;

use plotters::prelude::*;

use crate::{Run, Trained};

/// Two panels: every run's validation loss (log scale), and each run's gap
/// to `bf16` in percent.
pub fn plot(
    path: &Path,
    runs: &[Run],
    trained: &[Trained],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1400, 620)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    let max_step = trained[0].curve.last().map_or(1, |p| p.0) as f64;
    let losses = trained.iter().flat_map(|t| t.curve.iter().map(|p| p.1));
    let (lo, hi) = losses.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let base = &trained[0].curve;
    let gap = |t: &Trained| -> Vec<(f64, f64)> {
        t.curve
            .iter()
            .zip(base)
            .map(|(&(s, l), &(_, b))| (s as f64, 100.0 * (l / b - 1.0)))
            .collect()
    };
    let gaps: Vec<Vec<(f64, f64)>> = trained.iter().map(gap).collect();
    let (glo, ghi) = gaps
        .iter()
        .flatten()
        .fold((0f64, 0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let color = |i: usize| Palette99::pick(i).to_rgba();

    let mut chart = ChartBuilder::on(&left)
        .caption("validation MSE", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..max_step, (lo * 0.9..hi * 1.1).log_scale())?;
    chart.configure_mesh().x_desc("step").draw()?;
    for (i, t) in trained.iter().enumerate() {
        chart.draw_series(LineSeries::new(
            t.curve.iter().map(|&(s, l)| (s as f64, l)),
            color(i).stroke_width(2),
        ))?;
    }

    let mut chart = ChartBuilder::on(&right)
        .caption("validation MSE relative to bf16 (%)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..max_step, (glo - 1.0)..(ghi + 1.0))?;
    chart.configure_mesh().x_desc("step").draw()?;
    for (i, (run, g)) in runs.iter().zip(&gaps).enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(g.iter().copied(), c.stroke_width(2)))?
            .label(run.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
