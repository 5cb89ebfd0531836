"""Slab decomposition over two emulated CPU devices (a subprocess: the device count is fixed when JAX starts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cardiojax.threed import sharding

SCRIPT = Path(__file__).with_name("_sharded_run.py")
PLANE, LATTICE = 19 * 11 * 11, 19 * 8 * 11 * 11  # one x-plane of populations, the whole (19, 8, 11, 11) lattice


@pytest.fixture(scope="module")
def two_devices() -> dict:
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=600,
                          cwd=SCRIPT.parents[2])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("case", "kind"), [("periodic", "halo"), ("open", "jit")])
def test_sharded_run_equals_single_device(two_devices, case, kind):
    """20 steps on two x-slabs of a Bouzidi pipe with a body force (periodic along x; the explicit halo
    exchange `halo_run`) and of a pipe with a pulsating velocity inlet and a pressure outlet (`sharded_run`
    with ``inlet_fn``: XLA partitions `lbm.run_inlet`): equal to the single-device steps to float64
    round-off (measured 2e-19 and 1e-17), the output split over both devices as (19, 4, 11, 11) slabs."""
    assert two_devices["devices"] == 2
    res = two_devices[case]
    got = res[kind]
    assert res["scale"] > 1e-4
    assert got["max_diff"] < 1e-13 * res["scale"], got["max_diff"]
    assert got["spec"] == "P(None, 'x')"
    assert got["devices"] == 2 and got["shard_shapes"] == [[19, 4, 11, 11]]


def test_halo_exchange_is_a_collective_permute_of_planes(two_devices):
    """The compiled programs exchange x-planes with collective-permutes and never all-gather the lattice; the
    open ends cost plane-sized all-reduces (the inner plane of the inlet or outlet lives on one device); the
    explicit version sends one message per side and step (plus the static fields once)."""
    for case, kind in (("periodic", "halo"), ("open", "jit")):
        ops = two_devices[case][kind]["collectives"]
        assert "collective-permute" in ops and "all-gather" not in ops, ops
        assert all(largest <= PLANE < LATTICE for _, largest in ops.values()), ops
    assert "all-reduce" not in two_devices["periodic"]["halo"]["collectives"]
    assert "all-reduce" in two_devices["open"]["jit"]["collectives"]
    assert two_devices["periodic"]["halo"]["collectives"]["collective-permute"][0] <= 10


def test_bad_slab_counts(two_devices):
    errors = two_devices["errors"]
    assert "nx=9 x-planes over 2 devices" in errors["indivisible"] and "divisible by 2" in errors["indivisible"]
    assert "at least 2 plane(s) per device" in errors["thin_slabs"]
    assert "halo_run has no open boundaries" in errors["halo_open"]


def test_collectives_parser():
    text = """
      %collective-permute.1 = f32[1,10,10]{2,1,0} collective-permute(%slice), channel_id=1
      %all-reduce.6 = f64[19,10,10]{2,1,0} all-reduce(%select), channel_id=32, to_apply=%add
      %collective-permute.2 = f32[5,1,10,10]{3,2,1,0} collective-permute(%slice.2), channel_id=2
      %add.1 = f32[19,8,10,10]{3,2,1,0} add(%a, %b)
    """
    assert sharding.collectives(text) == {"collective-permute": (2, 500), "all-reduce": (1, 1900)}
