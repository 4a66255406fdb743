"""The optional compiled (numba) kernel modules, imported on first use, and the thread count they run with.

Any import failure (numba missing, an incompatible build, a kernel module that does not load) means "not
available", never an error for the user: each caller then takes its torch path.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

import torch

__all__ = ["compiled_kernels", "numba_threads"]


@functools.cache
def compiled_kernels(name: str) -> ModuleType | None:
    """``neuroplast.functional.<name>`` (e.g. ``"lif_numba"``), or None when it cannot be imported here."""
    try:
        return importlib.import_module(f"neuroplast.functional.{name}")
    except Exception:  # any import failure means "not available"
        return None


def numba_threads() -> int:
    """Run numba with torch's thread count, so one setting (torch.set_num_threads) governs both; returns it.
    Call before every parallel kernel (the count may have changed since the last one)."""
    import numba  # optional: only called once a compiled module has imported

    wanted = torch.get_num_threads()
    n = max(1, min(wanted, numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    if torch.get_num_threads() != wanted:
        # numba's OpenMP layer sets the process-wide OpenMP count to all cores when it starts its pool, which is
        # torch's count too; put the user's setting back.
        torch.set_num_threads(wanted)
    return n
