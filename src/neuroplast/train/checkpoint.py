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
REQUIRED = ("model", "optimizer", "rng", "history", "epoch", "seconds", "config")


def atomic_write_bytes(path: Path, payload: bytes):
    """Write to a temp file in the same folder, fsync, then rename: readers see the old file or the new one."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise NeuroplastError(f"cannot write {str(path)!r} ({exc.strerror or exc})") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):  # disk full, permissions: the user can fix it, the old file is still whole
            raise NeuroplastError(f"cannot write {str(path)!r} ({exc.strerror or exc}); "
                                  "the previous version of the file, if any, is unchanged") from exc
        raise


def atomic_save(obj, path: Path):
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A generator for one sample's augmentation in one epoch: the draw depends on (seed, epoch, sample index) only,
    not on the batch it lands in, so resumed and data-parallel runs see the same data."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 1_000_003 + int(index))


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
        writer = content.get("neuroplast_version") if isinstance(content, dict) else None
        by = f" (written by neuroplast {writer})" if writer else ""
        raise NeuroplastError(f"checkpoint {str(path)!r} has format {found!r}{by}, neuroplast {neuroplast.__version__} "
                              f"reads format {FORMAT}; retrain with this version")
    missing = [k for k in REQUIRED if k not in content]
    if missing:
        raise NeuroplastError(f"checkpoint {str(path)!r} lacks {', '.join(missing)}; it was not written by "
                              "`neuroplast train`, retrain to get a complete one")
    return content


def checkpoint_config(content: dict, path: Path):
    """The run config stored in a checkpoint, validated; a stale or edited one is refused in one line."""
    from neuroplast.config import validate_config

    try:
        return validate_config(dict(content["config"]))
    except NeuroplastError as err:
        raise NeuroplastError(f"checkpoint {str(path)!r} holds a config this neuroplast cannot use "
                              f"({err}); retrain with this version") from None


def result_state(content: dict) -> dict:
    """The weights a result stands for: the selected epoch's (``train.keep: best``) or else the last epoch's, and
    of those the moving average where the run kept one (``train.average``)."""
    selected = content.get("selected")
    return selected["model"] if selected else (content.get("average") or content["model"])


def load_states(content: dict, path: Path, model, optimizer=None):
    """Load model (and optimizer) state from checkpoint ``content``; a mismatch with the model is one clear line.

    With an optimizer (resuming) the last epoch's state is loaded; without one (eval, plots, export) the result's
    (:func:`result_state`). Weights holding NaN or inf are refused too: such a model only produces garbage, and
    resuming it can never recover (the run diverged, or the file was damaged in a way the unpickler did not notice).
    """
    state = content["model"] if optimizer is not None else result_state(content)
    if isinstance(state, dict):
        bad = [k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point() and not v.isfinite().all()]
        if bad:
            raise NeuroplastError(f"checkpoint {str(path)!r} holds NaN or inf in {', '.join(bad)}; the run diverged "
                                  "or the file is damaged, retrain (with a lower learning rate)")
    try:
        model.load_state_dict(state)
        if optimizer is not None:
            optimizer.load_state_dict(content["optimizer"])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(exc).__name__)
        raise NeuroplastError(f"checkpoint {str(path)!r} does not fit the model its config builds ({detail}); "
                              "it was edited or written by another version, retrain") from None
