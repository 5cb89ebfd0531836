"""Inverse problems: fit solver parameters to sparse, noisy measurements with exact gradients.

* `transforms` — `Param` / `ParamSpace`: named physical parameters ↔ an unconstrained vector (log, softplus,
  sigmoid bounds), optional Gaussian priors.
* `observe` — `Observation` (signal, location, times or a mean/max/min, noise σ) checked against what a model
  reports (`OutputSpec`), compiled to an `ObservationOperator`.
* `objective` — `Model` (any traceable solver), `Objective` (whitened residuals, loss), `fit` (one start or
  several in one `vmap`).
* `optimize` — Levenberg–Marquardt / Gauss–Newton with `jax.jacfwd`, optax Adam and L-BFGS, stopping rules.
* `laplace` — Laplace approximation: standard errors, correlations, intervals, identifiability warning.
* `models` — 0D networks as models (steady and pulsatile).
* `solvers` — the 1D network, the steady FFR tree network and the 3D lattice-Boltzmann stenosis as models.
* `svzerod` — svZeroDSolver's calibration (``calibrate_from_0d``) input → fitted vessel parameters.
* `problems` — ready-made synthetic problems (`windkessel_problem`: the RCR outlets of a svZeroDSolver model).
* `compare` — this package's optimisers against scipy Nelder–Mead and finite-difference fits on one objective,
  with loss-versus-wall-time traces (time to a common target).
"""

from cardiojax.inverse.compare import Run, compare, speedup, time_to_target
from cardiojax.inverse.laplace import IdentifiabilityWarning, Laplace, describe_combination, laplace
from cardiojax.inverse.models import lumped_model, node_locations, set_block_params
from cardiojax.inverse.objective import METHODS, Fit, Model, Objective, fit, objective
from cardiojax.inverse.observe import Observation, ObservationOperator, OutputSpec, compile_observations
from cardiojax.inverse.optimize import STATUS, FitResult, adam, lbfgs, levenberg_marquardt, multistart
from cardiojax.inverse.problems import Problem, total_resistance, windkessel_problem
from cardiojax.inverse.solvers import ONED_NODES, lesion_drag, oned_model, steady_ffr_model, stenosis_lbm_model
from cardiojax.inverse.transforms import TRANSFORMS, Param, ParamSpace

__all__ = [
    "Run", "compare", "speedup", "time_to_target",
    "Problem", "total_resistance", "windkessel_problem",
    "IdentifiabilityWarning", "Laplace", "describe_combination", "laplace",
    "lumped_model", "node_locations", "set_block_params",
    "METHODS", "Fit", "Model", "Objective", "fit", "objective",
    "Observation", "ObservationOperator", "OutputSpec", "compile_observations",
    "STATUS", "FitResult", "adam", "lbfgs", "levenberg_marquardt", "multistart",
    "ONED_NODES", "lesion_drag", "oned_model", "steady_ffr_model", "stenosis_lbm_model",
    "TRANSFORMS", "Param", "ParamSpace",
]
