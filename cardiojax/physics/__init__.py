"""Physics-informed learning: residuals of the flow equations for any field, and PINNs built on them.

* `oned_residuals` — mass, momentum and tube-law residuals of the 1D equations for a field
  ``(A, u, p) = f(x, t)`` (forward-mode derivatives; the solver's own tube laws and friction coefficient);
* `junction_residuals` — mass conservation and total-pressure continuity at a junction (the solver's
  `cardiojax.oned.junction_conditions`);
* `ns_residuals` — the steady incompressible Navier–Stokes residual of a field ``(u, p) = f(xyz)`` (one point
  (3,) ↦ velocity (3,), pressure), by `jax.jacfwd`;
* `NetworkPINN` / `train_pinn` — one network per vessel of a `PINNProblem`, trained with Adam (+ L-BFGS) on
  data, residual and interface losses, with optional trainable wall stiffness (inverse problems).

SI units throughout.
"""

from cardiojax.physics.junctions import JunctionResidual, junction_residuals
from cardiojax.physics.navier_stokes import NSResidual, ns_residuals
from cardiojax.physics.network_pinn import (
    LossParts,
    LossWeights,
    Measurement,
    NetworkPINN,
    OutletResistance,
    PINNProblem,
    PINNVessel,
    StackedMLP,
    compile_problem,
    loss_parts,
    sample_residual_points,
    total_loss,
)
from cardiojax.physics.oned import (
    FieldJet,
    OneDResidual,
    field_jet,
    k_from_beta,
    oned_residuals,
    residuals_from_jet,
)
from cardiojax.physics.training import (
    Fitted,
    PINNConfig,
    fitted_resistance,
    fitted_stiffness,
    load_pinn,
    plot_history,
    predict,
    save_pinn,
    train_pinn,
)

__all__ = [
    "NSResidual", "ns_residuals", "JunctionResidual", "junction_residuals", "LossParts", "LossWeights",
    "Measurement", "NetworkPINN", "OutletResistance", "fitted_resistance",
    "PINNProblem", "PINNVessel", "StackedMLP", "compile_problem", "loss_parts", "sample_residual_points",
    "total_loss", "FieldJet", "OneDResidual", "field_jet", "k_from_beta", "oned_residuals", "residuals_from_jet",
    "Fitted", "PINNConfig", "fitted_stiffness", "load_pinn", "plot_history", "predict", "save_pinn", "train_pinn",
]
