"""Element laws: Poiseuille (exact) and the Young–Tsai stenosis test value."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

from cardiojax.lumped import poiseuille_resistance, vessel_pressure_drop, young_tsai
from cardiojax.units import Blood


def test_poiseuille_straight_tube_is_exact():
    mu, length, r = 3.5e-3, 0.03, 1.5e-3
    expected = 8 * mu * length / (np.pi * r**4)
    assert float(poiseuille_resistance(length, r, r, mu)) == pytest.approx(expected, rel=1e-15)


def test_poiseuille_tapered_tube_matches_integral():
    mu, length, r_in, r_out = 3.5e-3, 0.04, 2.0e-3, 1.2e-3

    def r(x):
        return r_in + (r_out - r_in) * x / length

    integral, _ = quad(lambda x: r(x) ** -4, 0.0, length, epsabs=0, epsrel=1e-13)
    expected = 8 * mu / np.pi * integral
    assert float(poiseuille_resistance(length, r_in, r_out, mu)) == pytest.approx(expected, rel=1e-12)


def test_young_tsai_reference_value():
    """D0 = 3 mm, 75 % area stenosis, Ls = 10 mm, U = 0.2 m/s → ΔP = 718.50 Pa."""
    d0 = 3e-3
    diameter_stenosis = 1.0 - np.sqrt(0.25)  # 75 % area → 50 % diameter
    r_v, s = young_tsai(d0, diameter_stenosis, 10e-3, Blood(density=1060.0, viscosity=3.5e-3))
    q = 0.2 * np.pi * d0**2 / 4
    dp = float(vessel_pressure_drop(r_v, s, q))
    assert dp == pytest.approx(718.50, abs=0.005)
    # the law is odd in Q (reverse flow loses the same pressure backwards)
    assert float(vessel_pressure_drop(r_v, s, -q)) == pytest.approx(-dp, rel=1e-15)


def test_pressure_drop_law_vectorises():
    r = jnp.array([1.0, 2.0])
    assert np.allclose(vessel_pressure_drop(r, jnp.array([0.0, 1.0]), jnp.array([2.0, -3.0])), [2.0, -15.0])
