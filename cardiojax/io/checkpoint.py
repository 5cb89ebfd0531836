"""Checkpoint directories for networks: ``state/`` (orbax, a pure dict of arrays) and ``config.json``.

Shared by the FFR surrogate and the imaging networks. A save is written to a temporary directory next to
the target and renamed, so an interrupted save never leaves a half-written checkpoint; an existing checkpoint
at the same path is replaced.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import orbax.checkpoint as ocp


def save_checkpoint_dir(path: str | os.PathLike, state: dict, meta: dict) -> None:
    """Write ``state`` (a pytree of arrays, e.g. ``nnx.to_pure_dict(...)``) and ``meta`` (JSON-able) to ``path``."""
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp / "state", state)
    checkpointer.wait_until_finished()
    (tmp / "config.json").write_text(json.dumps(meta, indent=1))
    old = path.with_name(f".{path.name}.old{os.getpid()}")
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)


def read_checkpoint_meta(path: str | os.PathLike, kind: str) -> dict:
    """The ``config.json`` of a checkpoint directory; ``ValueError`` naming ``kind`` if it is not one."""
    path = Path(path).absolute()
    try:
        return json.loads((path / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a cardiojax {kind} checkpoint ({err})") from None


def load_checkpoint_state(path: str | os.PathLike, template: dict) -> dict:
    """Restore ``state/`` of a checkpoint directory into the structure of ``template``."""
    return ocp.StandardCheckpointer().restore(Path(path).absolute() / "state", template)
