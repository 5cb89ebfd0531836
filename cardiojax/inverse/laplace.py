"""Uncertainty of fitted parameters: the Laplace approximation at the optimum.

With whitened residuals r(z) and J = ∂r/∂z at the optimum ẑ, the Gauss–Newton Hessian H = JᵀJ approximates
the curvature of the negative log posterior, so z ~ N(ẑ, H⁻¹). Reported:

* standard errors and correlations in z; physical standard errors by the delta method (dθ/dz · sd_z);
* a central interval for each parameter, ẑ ± k·sd_z mapped through the transform (so it respects bounds and
  is asymmetric for log parameters); k = 1.96 for 95 %;
* identifiability (Brun, Reichert & Künsch 2001): with the sensitivity matrix J scaled to unit columns, the
  collinearity index γ = 1/√λ_min of JᵀJ/‖columns‖² (= S⁻¹HS⁻¹, S = √diag H) says how far the effect of a
  change in one parameter can be cancelled by the others: γ = 10 means to 10 %. When γ exceeds
  ``max_collinearity`` (default 20), the eigenvectors of every eigenvalue below 1/max_collinearity² are the
  parameter combinations the data do not determine; they are named in a warning (e.g.
  ``0.71·z[Rp] − 0.70·z[Rd]``, in z: for log parameters, a product or ratio of the physical values).
"""

from __future__ import annotations

import dataclasses
import warnings

import jax
import numpy as np

from cardiojax.inverse.objective import Objective

#: Eigenvalues of the correlation-scaled Hessian below this times the largest are treated as zero: the
#: parameters they involve get an infinite standard error (and interval).
RCOND = 1e-14


class IdentifiabilityWarning(UserWarning):
    """The data do not determine some parameter combination (ill-conditioned Hessian)."""


@dataclasses.dataclass(frozen=True)
class Laplace:
    """Gaussian approximation of the posterior in z.

    Attributes:
      labels: one name per entry of z.
      z: the optimum; theta: physical values there (flat, z's order).
      cov_z: ``(n, n)`` covariance of z (H⁻¹, pseudo-inverse when singular).
      sd_z: standard errors of z (inf for a parameter in a direction nothing constrains, see `RCOND`);
        sd_theta: physical standard errors (delta method).
      corr: ``(n, n)`` correlation matrix.
      condition: condition number of the correlation-scaled Hessian.
      collinearity: the collinearity index γ (module docstring).
      weak: the poorly determined combinations, each a list of (label, coefficient) pairs
        (largest coefficients first), empty when well conditioned.
    """

    labels: tuple[str, ...]
    z: np.ndarray
    theta: np.ndarray
    cov_z: np.ndarray
    sd_z: np.ndarray
    sd_theta: np.ndarray
    corr: np.ndarray
    condition: float
    collinearity: float
    weak: tuple
    _space: object = dataclasses.field(repr=False, default=None)

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Central interval of each physical parameter: ẑ ± k·sd_z through the transform (k from ``level``)."""
        from scipy.stats import norm

        k = norm.ppf(0.5 + level / 2.0)
        lo = np.asarray(self._space.physical_vector(self.z - k * self.sd_z))
        hi = np.asarray(self._space.physical_vector(self.z + k * self.sd_z))
        return np.minimum(lo, hi), np.maximum(lo, hi)

    def table(self, level: float = 0.95) -> str:
        """A text table: name, value, standard error, interval."""
        lo, hi = self.interval(level)
        rows = [f"{'parameter':<24}{'value':>13}{'std err':>13}{f'{level:.0%} interval':>28}"]
        for name, v, s, a, b in zip(self.labels, self.theta, self.sd_theta, lo, hi):
            rows.append(f"{name:<24}{v:>13.5g}{s:>13.4g}   [{a:.5g}, {b:.5g}]")
        return "\n".join(rows)


def describe_combination(combo) -> str:
    """``0.71·z[Rp] − 0.70·z[Rd]`` for a list of (label, coefficient) pairs."""
    out = ""
    for i, (name, c) in enumerate(combo):
        sign = "−" if c < 0 else ("+" if i else "")
        out += f"{' ' if i else ''}{sign}{' ' if i else ''}{abs(c):.2f}·z[{name}]"
    return out


def laplace(obj: Objective, z, *, max_collinearity: float = 20.0, warn: bool = True) -> Laplace:
    """Laplace approximation at ``z`` (usually a fit's optimum); warns with `IdentifiabilityWarning` when the
    collinearity index exceeds ``max_collinearity`` (module docstring)."""
    if not max_collinearity > 1.0:
        raise ValueError(f"max_collinearity = {max_collinearity!r}; expected a number > 1")
    z = np.asarray(z, np.float64)
    jac = np.asarray(jax.jit(jax.jacfwd(obj.residuals))(jax.numpy.asarray(z)), np.float64)
    h = jac.T @ jac
    s = np.sqrt(np.maximum(np.diag(h), 1e-300))
    scaled = h / np.outer(s, s)
    evals, evecs = np.linalg.eigh(scaled)
    top = max(evals[-1], 1e-300)
    condition = float(top / max(evals[0], top * 1e-300)) if evals[0] > 0 else float("inf")
    collinearity = float(1.0 / np.sqrt(evals[0])) if evals[0] > 0 else float("inf")
    cov_scaled = np.linalg.pinv(scaled, rcond=RCOND, hermitian=True)
    cov = cov_scaled / np.outer(s, s)
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    null = evecs[:, evals <= RCOND * top]  # directions the data (and priors) do not constrain at all
    unbounded = np.any(np.abs(null) > 1e-8, axis=1) if null.size else np.zeros(sd.size, bool)
    sd = np.where(unbounded, np.inf, sd)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(np.outer(np.isfinite(sd) & (sd > 0), np.isfinite(sd) & (sd > 0)),
                        cov / np.outer(sd, sd), np.nan)
    space = obj.space
    labels = space.labels
    slope = np.asarray(space.jacobian_diag(jax.numpy.asarray(z)))
    theta = np.asarray(space.physical_vector(jax.numpy.asarray(z)))
    weak = []
    for k in np.nonzero(evals < 1.0 / max_collinearity**2)[0]:
        v = evecs[:, k]
        order = np.argsort(-np.abs(v))
        keep = [i for i in order if abs(v[i]) >= 0.1 * abs(v[order[0]])]
        weak.append(tuple((labels[i], float(v[i])) for i in keep))
    if weak and warn:
        names = "; ".join(describe_combination(c) for c in weak)
        warnings.warn(f"the data do not identify {len(weak)} parameter combination(s) (collinearity index "
                      f"{collinearity:.3g} > {max_collinearity:g}): {names}", IdentifiabilityWarning, stacklevel=2)
    return Laplace(labels, z, theta, cov, sd, np.abs(slope) * sd, corr, condition, collinearity, tuple(weak),
                   space)
