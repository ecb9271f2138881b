//! `blockscale compare`: what each format does to a file's tensors.

use crate::formats::{Opts, parse};
use blockscale::Error;
use blockscale::format::{AnyFormat, BlockShape};
use blockscale::io::{finite_values, read_tensors};
use blockscale::rht::Rht;
use blockscale::tensor::{AnyQuantized, Direction, QuantizeOptions, QuantizedView, RowScaled};
use plotters::prelude::*;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct CompareArgs {
    /// A .npy or .safetensors file
    input: PathBuf,
    /// Formats to compare, comma-separated (default: all)
    #[arg(long, value_delimiter = ',')]
    formats: Vec<String>,
    /// Where to write the SVG chart of SQNR per format
    #[arg(long, default_value = "blockscale-compare.svg")]
    svg: PathBuf,
    /// Skip the rows with Transformer Engine's 16-point Random Hadamard
    /// Transform (applied along each row before quantizing, inverted after)
    #[arg(long)]
    no_rht: bool,
    /// Add rows with one tensor amax per row instead of one per tensor, for
    /// the formats that have a tensor amax (NVFP4, NVFP4 4over6; Transformer
    /// Engine's row_scaled_activation)
    #[arg(long)]
    row_scaled: bool,
}

/// How a row of the table quantizes: the RHT or not, one amax per row or not.
#[derive(Clone, Copy)]
struct Variant<'a> {
    rht: Option<&'a Rht>,
    row_scaled: bool,
}

/// Signal and noise energies, summed so that tensors pool into an overall
/// SQNR weighted by their energy.
#[derive(Clone, Copy, Default)]
struct Acc {
    signal: f64,
    noise: f64,
    max_abs: f64,
    saturated: f64,
    count: usize,
}

impl Acc {
    fn sqnr(&self) -> f64 {
        10.0 * (self.signal / self.noise.max(f64::MIN_POSITIVE)).log10()
    }
}

/// Quantizes `x` (through the RHT and back, if given) and measures the
/// error in the original domain.
fn measure(
    format: &AnyFormat,
    x: &[f32],
    rows: usize,
    cols: usize,
    Variant { rht, row_scaled }: Variant,
) -> Result<Acc, Error> {
    let opts = QuantizeOptions {
        partial_blocks: blockscale::tensor::PartialBlocks::ZeroPad,
        ..Default::default()
    };
    let mut y = x.to_vec();
    if let Some(r) = rht {
        r.forward(&mut y, rows, cols, Direction::Rowwise)?;
    }
    // Clipped: |q| at the element maximum and |y| > |ŷ| (error_metrics).
    let (clipped, mut deq) = match (row_scaled, format) {
        (false, f) => {
            let q = AnyQuantized::quantize(f, &y, rows, cols, &opts)?;
            (q.error_metrics(&y)?.saturated, q.dequantize())
        }
        (true, AnyFormat::Nvfp4(f)) => {
            let q = RowScaled::quantize(*f, &y, rows, cols, &opts)?;
            (q.error_metrics(&y)?.saturated, q.dequantize())
        }
        (true, AnyFormat::Nvfp4FourOverSix(f)) => {
            let q = RowScaled::quantize(*f, &y, rows, cols, &opts)?;
            (q.error_metrics(&y)?.saturated, q.dequantize())
        }
        (true, f) => {
            return Err(Error::InvalidArgument(format!(
                "{} has no tensor amax to give each row",
                f.name()
            )));
        }
    };
    if let Some(r) = rht {
        r.inverse(&mut deq, rows, cols, Direction::Rowwise)?;
    }
    let mut a = Acc {
        count: x.len(),
        saturated: clipped,
        ..Acc::default()
    };
    for (&v, &d) in x.iter().zip(&deq) {
        a.signal += (v as f64).powi(2);
        a.noise += (v as f64 - d as f64).powi(2);
        a.max_abs = a.max_abs.max((v - d).abs() as f64);
    }
    Ok(a)
}

pub fn run(a: CompareArgs) -> Result<(), Error> {
    let names: Vec<String> = if a.formats.is_empty() {
        AnyFormat::families()
    } else {
        a.formats.clone()
    };
    let rht = Rht::transformer_engine();
    let mut specs: Vec<(String, AnyFormat, Variant)> = Vec::new();
    for n in &names {
        let spec = parse(n, Opts::default())?;
        let rows = a.row_scaled
            && spec.has_global_scale()
            && matches!(spec.block(), BlockShape::Tile { rows: 1, .. });
        for (row_scaled, suffix) in [(false, ""), (true, "+rows")] {
            if row_scaled && !rows {
                continue;
            }
            let plain = Variant {
                rht: None,
                row_scaled,
            };
            specs.push((format!("{n}{suffix}"), spec, plain));
            if !a.no_rht {
                let with_rht = Variant {
                    rht: Some(&rht),
                    ..plain
                };
                specs.push((format!("{n}{suffix}+rht"), spec, with_rht));
            }
        }
    }
    let tensors = read_tensors(&a.input)?;
    let mut overall = vec![Acc::default(); specs.len()];
    out!(
        "| {:<40} | {:<15} | {:>9} | {:>10} | {:>9} |",
        "tensor",
        "format",
        "SQNR dB",
        "max |err|",
        "clipped"
    );
    out!(
        "|{:-<42}|{:-<17}|{:->11}|{:->12}|{:->11}|",
        "",
        "",
        "",
        "",
        ""
    );
    for (name, t) in &tensors {
        if !t.dtype.is_float() {
            continue;
        }
        let x = finite_values(&a.input, name, t)?;
        let (rows, cols) = t.matrix_shape();
        for (i, (fname, spec, variant)) in specs.iter().enumerate() {
            // The RHT needs whole 16s; 4-bit rows of their own need whole bytes.
            if (variant.rht.is_some() && cols % 16 != 0) || (variant.row_scaled && cols % 2 != 0) {
                out!(
                    "| {name:<40} | {fname:<15} | {:>9} | {:>10} | {:>9} |",
                    "-",
                    "-",
                    "-"
                );
                continue;
            }
            let m = measure(spec, &x, rows, cols, *variant)
                .map_err(|e| e.in_file(&a.input, Some(name)))?;
            out!(
                "| {name:<40} | {fname:<15} | {:>9.2} | {:>10.3e} | {:>8.4}% |",
                m.sqnr(),
                m.max_abs,
                m.saturated * 100.0
            );
            let o = &mut overall[i];
            o.signal += m.signal;
            o.noise += m.noise;
            o.max_abs = o.max_abs.max(m.max_abs);
            o.saturated += m.saturated * m.count as f64;
            o.count += m.count;
        }
    }
    for ((fname, _, _), o) in specs.iter().zip(&overall) {
        out!(
            "| {:<40} | {fname:<15} | {:>9.2} | {:>10.3e} | {:>8.4}% |",
            "(all tensors)",
            o.sqnr(),
            o.max_abs,
            o.saturated / o.count.max(1) as f64 * 100.0
        );
    }
    let bars: Vec<(String, f64)> = specs
        .iter()
        .zip(&overall)
        .map(|((n, _, _), o)| (n.clone(), o.sqnr()))
        .collect();
    let svg = chart(&bars).map_err(|e| Error::file(&a.svg, None, e))?;
    blockscale::io::write_bytes(&a.svg, svg.as_bytes())?;
    out!("chart: {}", a.svg.display());
    Ok(())
}

/// A bar chart of SQNR (dB) per format, as SVG text.
fn chart(bars: &[(String, f64)]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1200, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        // An exact format's SQNR is +∞: the axis spans the finite bars and
        // an infinite one is drawn to the top (plotters cannot scale to ∞).
        let finite = bars.iter().map(|b| b.1).filter(|v| v.is_finite());
        let top = finite.fold(0f64, f64::max).max(1.0) * 1.15;
        let mut c = ChartBuilder::on(&root)
            .caption("SQNR per format (all tensors)", ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(70)
            .y_label_area_size(50)
            .build_cartesian_2d((0..bars.len()).into_segmented(), 0f64..top)
            .map_err(|e| e.to_string())?;
        c.configure_mesh()
            .y_desc("SQNR (dB)")
            .x_labels(bars.len())
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.0.clone()).unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(|e| e.to_string())?;
        c.draw_series(bars.iter().enumerate().map(|(i, b)| {
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), b.1.max(0.0).min(top)),
                ],
                BLUE.mix(0.6).filled(),
            );
            r.set_margin(0, 0, 8, 8);
            r
        }))
        .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
