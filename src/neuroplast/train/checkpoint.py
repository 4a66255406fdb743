"""Atomic checkpoints that carry what an exact resume needs: state, config, versions and RNG states."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

import neuroplast
from neuroplast.errors import NeuroplastError

FORMAT = 1


def atomic_write_bytes(path: Path, payload: bytes):
    """Write to a temp file in the same folder, fsync, then rename: readers see the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_save(obj, path: Path):
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict):
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def save_checkpoint(path: Path, **content):
    content.update(format=FORMAT, neuroplast_version=neuroplast.__version__, torch_version=torch.__version__)
    atomic_save(content, path)


def load_checkpoint(path: Path) -> dict:
    """Load and check a checkpoint; a truncated file or one of another format is refused with a clear message."""
    path = Path(path)
    if not path.is_file():
        raise NeuroplastError(f"checkpoint {str(path)!r} not found; train first or point to a result folder")
    try:
        content = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise NeuroplastError(f"checkpoint {str(path)!r} is unreadable ({type(exc).__name__}); it may be truncated "
                              "or not a neuroplast checkpoint") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        found = content.get("format") if isinstance(content, dict) else None
        raise NeuroplastError(f"checkpoint {str(path)!r} has format {found!r}, this neuroplast reads format {FORMAT}; "
                              "retrain with this version")
    return content
