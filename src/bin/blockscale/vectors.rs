//! `blockscale vectors`: the command line of
//! [`blockscale::vectors::write_vectors`].

use blockscale::Error;
use blockscale::layout::{DataLayout, Fp6Packing, ScaleLayout};
use blockscale::vectors::{Grouping, VectorsOptions, write_vectors};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct VectorsArgs {
    /// A's format (nvfp4, mxfp8, fp8-block, ... with options after commas)
    #[arg(long)]
    a: String,
    /// B's format (default: A's)
    #[arg(long)]
    b: Option<String>,
    /// M: rows of A (per group, for --masked; not for --contiguous, whose
    /// M is the groups' padded sum)
    #[arg(short, long)]
    m: Option<usize>,
    /// N: rows of B
    #[arg(short, long)]
    n: usize,
    /// K: the shared dimension
    #[arg(short, long)]
    k: usize,
    /// Seed of the inputs
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Scale layout: row_major, swizzled_128x4, swizzled_8x4, mn_major,
    /// packed_ue8m0, row_major_pad4, gfx950_32x8
    #[arg(long, default_value = "row_major")]
    layout: String,
    /// Data layout: k (K-major) or mn (MN-major)
    #[arg(long, default_value = "k")]
    data_layout: String,
    /// Pad the laid-out data rows to a multiple of this
    #[arg(long, default_value_t = 1)]
    rows_to: usize,
    /// Pad each laid-out data row to a multiple of this many bytes
    #[arg(long, default_value_t = 1)]
    row_bytes_to: usize,
    /// FP6 codes four in three bytes (NVIDIA TMA, AMD gfx950) instead of
    /// one per byte
    #[arg(long)]
    fp6_packed: bool,
    /// Grouped GEMM, DeepGEMM's contiguous layout: rows of each group,
    /// comma-separated (M is then their padded sum)
    #[arg(long, value_delimiter = ',', conflicts_with = "masked")]
    contiguous: Vec<usize>,
    /// The M alignment of each contiguous group
    #[arg(long, default_value_t = 128)]
    align: usize,
    /// Grouped GEMM, DeepGEMM's masked layout: valid rows of each group's
    /// M-row A, comma-separated
    #[arg(long, value_delimiter = ',')]
    masked: Vec<usize>,
    /// Also write C block-scaled in this format, as a GPU epilogue does
    /// (nvfp4,profile=cutlass or mxfp8,profile=cutlass; one GEMM only)
    #[arg(long, value_name = "FORMAT")]
    d_format: Option<String>,
    /// Add a random per-column bias in the epilogue (one GEMM only)
    #[arg(long)]
    bias: bool,
    /// Multiply by random per-row and per-column scales in the epilogue
    /// (one GEMM only)
    #[arg(long)]
    row_col_scales: bool,
    /// Output directory (vectors.safetensors and manifest.json)
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(a: VectorsArgs) -> Result<(), Error> {
    let m = match (a.m, a.contiguous.is_empty()) {
        (Some(m), _) => m,
        (None, false) => 0,
        (None, true) => return Err(Error::InvalidArgument("-m M is required".into())),
    };
    let mut o = VectorsOptions::new(&a.a, a.b.as_deref().unwrap_or(&a.a), (m, a.n, a.k));
    o.seed = a.seed;
    o.scale_layout = a.layout.parse::<ScaleLayout>()?;
    o.data_layout = match a.data_layout.as_str() {
        "k" => DataLayout::k_major(),
        "mn" => DataLayout::mn_major(),
        other => {
            return Err(Error::InvalidArgument(format!(
                "--data-layout {other}: expected k or mn"
            )));
        }
    }
    .rows_to(a.rows_to)
    .row_bytes_to(a.row_bytes_to)
    .fp6(if a.fp6_packed {
        Fp6Packing::Packed
    } else {
        Fp6Packing::Bytes
    });
    o.output = a.d_format;
    o.bias = a.bias;
    o.row_col_scales = a.row_col_scales;
    if !a.contiguous.is_empty() {
        o.grouping = Grouping::Contiguous {
            rows: a.contiguous,
            align: a.align,
        };
    } else if !a.masked.is_empty() {
        o.grouping = Grouping::Masked { rows: a.masked };
    }
    let m = write_vectors(&a.output, &o)?;
    out!(
        "wrote {} x {} ({}) to {}",
        m["a"]["format"].as_str().unwrap_or("?"),
        m["b"]["format"].as_str().unwrap_or("?"),
        m["shape"],
        a.output.display()
    );
    Ok(())
}
