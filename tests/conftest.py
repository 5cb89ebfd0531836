"""Test set-up: float64 and JAX's persistent compilation cache.

Precision is chosen here (never at import of cardiojax). The compilation
cache lives in ``.jax_cache/`` at the project root (ignored by git) and makes
repeated runs skip most of XLA's compile time.
"""

from __future__ import annotations

from pathlib import Path

import jax
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_compilation_cache_dir", str(ROOT / ".jax_cache"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` relative to the project root; skip if it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared reference data not found at {SHARED}")
    return SHARED
