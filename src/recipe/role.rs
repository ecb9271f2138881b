//! The roles of a linear layer's tensors and GEMM operands: which GEMM,
//! which tensor, which direction.

use crate::tensor::Direction;

/// One of a linear layer's three GEMMs.
///
/// ```
/// use blockscale::recipe::{Gemm, OperandRole};
/// assert_eq!(OperandRole::DgradWeight.gemm(), Gemm::Dgrad);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gemm {
    /// Y = X·Wᵀ.
    Fprop,
    /// dX = dY·W.
    Dgrad,
    /// dW = dYᵀ·X.
    Wgrad,
}

/// One of a linear layer's three high-precision tensors.
///
/// ```
/// use blockscale::recipe::{LayerTensor, OperandRole};
/// assert_eq!(OperandRole::WgradInput.tensor(), LayerTensor::Input);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayerTensor {
    /// X, tokens × in.
    Input,
    /// W, out × in.
    Weight,
    /// dY, tokens × out.
    GradOutput,
}

/// One of the six GEMM operands of a linear layer.
///
/// | role | GEMM | tensor | direction | operand |
/// |---|---|---|---|---|
/// | `FpropInput` | fprop | X | rowwise | A |
/// | `FpropWeight` | fprop | W | rowwise | B |
/// | `DgradGradOutput` | dgrad | dY | rowwise | A |
/// | `DgradWeight` | dgrad | W | columnwise | B |
/// | `WgradGradOutput` | wgrad | dY | columnwise | A |
/// | `WgradInput` | wgrad | X | columnwise | B |
///
/// ```
/// use blockscale::recipe::OperandRole;
/// use blockscale::tensor::Direction;
/// assert_eq!(OperandRole::WgradGradOutput.direction(), Direction::Columnwise);
/// assert_eq!(OperandRole::ALL.iter().filter(|r| r.is_gradient()).count(), 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperandRole {
    /// X in fprop.
    FpropInput,
    /// W in fprop.
    FpropWeight,
    /// dY in dgrad.
    DgradGradOutput,
    /// W in dgrad.
    DgradWeight,
    /// dY in wgrad.
    WgradGradOutput,
    /// X in wgrad.
    WgradInput,
}

impl OperandRole {
    /// All six, in the table's order (the index used by [`operand_seed`](super::operand_seed)).
    ///
    /// ```
    /// use blockscale::recipe::OperandRole;
    /// assert_eq!(OperandRole::ALL[3], OperandRole::DgradWeight);
    /// ```
    pub const ALL: &'static [OperandRole] = &[
        OperandRole::FpropInput,
        OperandRole::FpropWeight,
        OperandRole::DgradGradOutput,
        OperandRole::DgradWeight,
        OperandRole::WgradGradOutput,
        OperandRole::WgradInput,
    ];

    /// The position in [`OperandRole::ALL`], 0 to 5.
    ///
    /// ```
    /// use blockscale::recipe::OperandRole;
    /// assert!(OperandRole::ALL.iter().enumerate().all(|(i, r)| r.index() == i));
    /// ```
    pub const fn index(self) -> usize {
        match self {
            OperandRole::FpropInput => 0,
            OperandRole::FpropWeight => 1,
            OperandRole::DgradGradOutput => 2,
            OperandRole::DgradWeight => 3,
            OperandRole::WgradGradOutput => 4,
            OperandRole::WgradInput => 5,
        }
    }

    /// The GEMM this operand belongs to.
    ///
    /// ```
    /// use blockscale::recipe::{Gemm, OperandRole};
    /// assert_eq!(OperandRole::WgradInput.gemm(), Gemm::Wgrad);
    /// ```
    pub const fn gemm(self) -> Gemm {
        match self {
            OperandRole::FpropInput | OperandRole::FpropWeight => Gemm::Fprop,
            OperandRole::DgradGradOutput | OperandRole::DgradWeight => Gemm::Dgrad,
            OperandRole::WgradGradOutput | OperandRole::WgradInput => Gemm::Wgrad,
        }
    }

    /// The tensor it is quantized from.
    ///
    /// ```
    /// use blockscale::recipe::{LayerTensor, OperandRole};
    /// assert_eq!(OperandRole::DgradGradOutput.tensor(), LayerTensor::GradOutput);
    /// ```
    pub const fn tensor(self) -> LayerTensor {
        match self {
            OperandRole::FpropInput | OperandRole::WgradInput => LayerTensor::Input,
            OperandRole::FpropWeight | OperandRole::DgradWeight => LayerTensor::Weight,
            OperandRole::DgradGradOutput | OperandRole::WgradGradOutput => LayerTensor::GradOutput,
        }
    }

    /// The direction that puts K along the stored rows: rowwise in fprop and
    /// for dY in dgrad, columnwise for W in dgrad and both wgrad operands.
    ///
    /// ```
    /// use blockscale::recipe::OperandRole;
    /// use blockscale::tensor::Direction;
    /// assert_eq!(OperandRole::DgradWeight.direction(), Direction::Columnwise);
    /// assert_eq!(OperandRole::DgradGradOutput.direction(), Direction::Rowwise);
    /// ```
    pub const fn direction(self) -> Direction {
        match self {
            OperandRole::FpropInput | OperandRole::FpropWeight | OperandRole::DgradGradOutput => {
                Direction::Rowwise
            }
            _ => Direction::Columnwise,
        }
    }

    /// Whether the tensor is a gradient (dY), which FP8 HYBRID stores in
    /// E5M2 and NVFP4 rounds stochastically.
    ///
    /// ```
    /// use blockscale::recipe::OperandRole;
    /// assert!(OperandRole::WgradGradOutput.is_gradient() && !OperandRole::WgradInput.is_gradient());
    /// ```
    pub const fn is_gradient(self) -> bool {
        matches!(self.tensor(), LayerTensor::GradOutput)
    }
}
