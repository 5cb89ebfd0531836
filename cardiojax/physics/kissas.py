"""The two published cases of Kissas et al. (2020, CMAME 358:112623) as `PINNProblem`s, from the shared data.

Data: ``../shared/data/pinn_1d_bloodflow/PredictiveIntelligenceLab_1DBloodFlowPINNs/`` (see its PROVENANCE.md).
Geometry, wall parameters and the measurement set-up are the authors' (their scripts ``Y_shaped.py`` and
``ns_bif_real.py``); the tube law is p = p_ext + β(√A − √A0) (cardiojax's β-law with K = ¾·β·√A0).

* `y_bifurcation`: a Y-shaped bifurcation (a parent 170.3 mm long and two 7 mm daughters) whose reference came
  from a nonlinear 1D solver; the PINN sees area and velocity at the parent's inlet and the daughters' outlets,
  plus rest (A = A0, u = 0) at t = 0; tests are series inside each vessel.
* `invivo_aorta`: 4D-flow MRI of a healthy aorta and left common carotid — aorta1 (inlet), carotid and aorta3
  (from the bifurcation), aorta4 (after aorta3); training signals at aorta1's inlet, the carotid's and aorta4's
  outlets; Aorta3 (x = 0.1383 m, the aorta3/aorta4 junction) is held out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cardiojax.physics.network_pinn import Measurement, PINNProblem, PINNVessel

DATA = Path("pinn_1d_bloodflow") / "PredictiveIntelligenceLab_1DBloodFlowPINNs"

#: Y-bifurcation: (name, x_lo, x_hi, A0, β) — Kissas et al.'s values.
Y_VESSELS = (("parent", 0.0, 0.1703, 1.35676200e-05, 69673881.97),
             ("daughter 1", 0.1703, 0.1773, 1.81458400e-06, 541788704.42),
             ("daughter 2", 0.1703, 0.1770, 1.35676200e-05, 69549997.97))
#: Y-bifurcation test locations (m) of test_1..3.
Y_TEST_X = (0.1, 0.176, 0.174)
#: The authors' pressure relative L2 errors on the Y-bifurcation (from their saved predictions).
AUTHORS_P_REL_L2 = (4.0e-2, 3.9e-2, 2.4e-2)

#: In-vivo: (name, x_lo, x_hi, (A0 in, out), (β in, out), p_ext) — the authors' linear tapers.
INVIVO_VESSELS = (("aorta1", 0.0, 0.04964, (2.293820e-04, 2.636589e-04), (2.472667e+06, 2.151208e+06), 1.0e4),
                  ("carotid", 0.04964, 0.10284, (2.636589e-04, 2.623127e-05), (2.151208e+06, 9.459836e+06), 8.5e3),
                  ("aorta3", 0.04964, 0.1383, (2.636589e-04, 2.177177e-04), (2.151208e+06, 2.800526e+06), 1.0e4),
                  ("aorta4", 0.1383, 0.17056, (2.177177e-04, 2.411245e-04), (2.800526e+06, 2.528670e+06), 1.0e4))
AORTA3_X = 0.1383


@dataclass
class Series:
    """One measured or reference series: time (s), area (m²), velocity (m/s), pressure (Pa, NaN if unknown)."""

    t: np.ndarray
    area: np.ndarray
    velocity: np.ndarray
    pressure: np.ndarray


@dataclass
class Case:
    """A published case: the PINN problem and the held-out series, each with its vessel and location (m)."""

    problem: PINNProblem
    tests: dict[str, tuple[int, float, Series]]
    authors: dict[str, np.ndarray]


def data_dir(shared: str | Path) -> Path:
    """The Kissas et al. folder inside the shared data folder ``shared`` (``../shared/data``)."""
    path = Path(shared) / DATA
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: the Kissas et al. data folder is missing (expected under "
                                "../shared/data/pinn_1d_bloodflow/)")
    return path


def _csv(path: Path) -> np.ndarray:
    return np.genfromtxt(path, delimiter=",", names=True)


def _y_series(path: Path) -> Series:
    d = _csv(path)
    return Series(d["Time"], d["Area"], d["Velocity"], d["Pressure"])


def rest_measurement(vessel: int, v: PINNVessel, t0: float, n: int, velocity: float = 0.0) -> Measurement:
    """The authors' initial condition: A = A0(x) (linear taper) and a uniform velocity at ``t0`` on ``n`` points."""
    x = np.linspace(v.x_lo, v.x_hi, n)
    a0 = np.atleast_1d(np.asarray(v.a0, float))
    area = np.interp(x, [v.x_lo, v.x_hi], [a0[0], a0[-1]])
    return Measurement(vessel, x, np.full(n, t0), area, np.full(n, velocity))


def y_bifurcation(shared: str | Path) -> Case:
    """The Y-bifurcation case (ρ = 1000 kg/m³, inviscid, total-pressure junction).

    The reference starts from rest at t = 0 and its first sample is at 8 ms; the rest rows (A = A0, u = 0) sit at
    t = 0 and the time window is [0, 3.3] s. (The authors put them at the first sample, 8 ms, where the inlet
    already carries 0.58 m/s — two contradicting targets at one point.)
    """
    folder = data_dir(shared) / "y_bifurcation_synthetic"
    inlet, out2, out3 = (_y_series(folder / f"{n}.csv") for n in ("input_1", "output_2", "output_3"))
    tests = [_y_series(folder / f"test_{i}.csv") for i in (1, 2, 3)]
    for name, s in (("output_2", out2), ("output_3", out3)):
        if s.t.shape != inlet.t.shape or not np.allclose(s.t, inlet.t):
            raise ValueError(f"{folder / name}.csv: its time grid differs from input_1.csv; expected one grid")
    vessels = [PINNVessel(n, lo, hi, a0, beta) for n, lo, hi, a0, beta in Y_VESSELS]
    t = inlet.t
    n = t.size
    meas = []
    for i, (v, series, x_end) in enumerate(zip(vessels, (inlet, out2, out3),
                                               (vessels[0].x_lo, vessels[1].x_hi, vessels[2].x_hi))):
        meas.append(rest_measurement(i, v, 0.0, n))
        meas.append(Measurement(i, np.full(n, x_end), t, series.area, series.velocity))
    problem = PINNProblem(vessels, [[(0, "out"), (1, "in"), (2, "in")]], meas, 0.0, float(t.max()),
                          rho=1000.0, friction=0.0)
    authors = _csv(folder / "kissas2020_PINN_predictions_vs_reference.csv")
    auth = {"t": authors["Time_t"]}
    for i in (1, 2, 3):
        auth[f"p{i}"], auth[f"u{i}"] = authors[f"PredPressl_{i}"], authors[f"PredVel_{i}"]
        auth[f"p{i}_ref"], auth[f"u{i}_ref"] = authors[f"TestPress_{i}"], authors[f"TestVel_{i}"]
    return Case(problem, {f"vessel {i + 1}": (i, Y_TEST_X[i], tests[i]) for i in range(3)}, auth)


def _mri_series(path: Path) -> Series:
    d = _csv(path)
    return Series(d["t_ms"] * 1e-3, d["A_mm2"] * 1e-6, d["U_cm_per_s"] * 1e-2, np.full(d.size, np.nan))


def invivo_aorta(shared: str | Path) -> Case:
    """The in-vivo aorta / carotid case (ρ = 1060 kg/m³, inviscid); Aorta3 held out.

    Deviation from the authors' script: their initial condition for the aorta3 network uses the first sample of
    the held-out Aorta3 velocity; here it uses aorta4's (the neighbouring training signal), so no held-out sample
    enters as a measurement. The authors' geometry itself is not independent of the MRI: each reference area A0
    of `INVIVO_VESSELS` is the minimum of one MRI area series — A0 at 13.8 cm is the minimum of the held-out
    Aorta3 area (and A0 at 4.96 cm that of Aorta2) — and the initial rows set A = A0(x) at t = 0, i.e. near
    Aorta3's measured diastolic area at that point. The study reports this next to the Aorta3 errors.
    """
    folder = data_dir(shared) / "real_4dflow_mri"
    a1, car, a3, a4, a2 = (_mri_series(folder / f"{n}.csv")
                           for n in ("Aorta1", "LCommonCarotid", "Aorta3", "Aorta4", "Aorta2"))
    for name, s in (("LCommonCarotid", car), ("Aorta4", a4), ("Aorta3", a3)):
        if s.t.shape != a1.t.shape or not np.allclose(s.t, a1.t):
            raise ValueError(f"{folder / name}.csv: its time grid differs from Aorta1.csv; expected one grid")
    vessels = [PINNVessel(n, lo, hi, a0, beta, p_ext) for n, lo, hi, a0, beta, p_ext in INVIVO_VESSELS]
    t = a1.t
    n = t.size
    t0 = float(t[0])
    meas = [rest_measurement(0, vessels[0], t0, n, float(a1.velocity[0])),
            Measurement(0, np.full(n, vessels[0].x_lo), t, a1.area, a1.velocity),
            rest_measurement(1, vessels[1], t0, n, float(car.velocity[0])),
            Measurement(1, np.full(n, vessels[1].x_hi), t, car.area, car.velocity),
            rest_measurement(2, vessels[2], t0, n, float(a4.velocity[0])),
            rest_measurement(3, vessels[3], t0, n, float(a4.velocity[0])),
            Measurement(3, np.full(n, vessels[3].x_hi), t, a4.area, a4.velocity)]
    problem = PINNProblem(vessels, [[(0, "out"), (1, "in"), (2, "in")], [(2, "out"), (3, "in")]], meas,
                          float(t.min()), float(t.max()), rho=1060.0, friction=0.0)
    authors = _csv(folder / "kissas2020_PINN_predictions.csv")
    auth = {"t": authors["Time"]}
    for i in (1, 2, 3, 4):
        for q, name in (("u", "Velocity"), ("a", "Area"), ("p", "Pressure")):
            auth[f"{q}{i}"] = authors[f"{name}_aorta{i}"]
    return Case(problem, {"Aorta3": (3, AORTA3_X, a3), "Aorta2": (0, vessels[0].x_hi, a2)}, auth)


def rel_l2(pred, ref) -> float:
    """‖pred − ref‖₂ / ‖ref‖₂."""
    pred, ref = np.asarray(pred, float), np.asarray(ref, float)
    norm = np.linalg.norm(ref)
    if not norm > 0:
        raise ValueError("the reference series is zero everywhere; its relative L2 error is undefined")
    return float(np.linalg.norm(pred - ref) / norm)
