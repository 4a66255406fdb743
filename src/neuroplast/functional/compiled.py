"""The optional compiled (numba) kernel modules, imported on first use.

Any import failure (numba missing, an incompatible build, a kernel module that does not load) means "not
available", never an error for the user: each caller then takes its torch path.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

__all__ = ["compiled_kernels"]


@functools.cache
def compiled_kernels(name: str) -> ModuleType | None:
    """``neuroplast.functional.<name>`` (e.g. ``"lif_numba"``), or None when it cannot be imported here."""
    try:
        return importlib.import_module(f"neuroplast.functional.{name}")
    except Exception:  # any import failure means "not available"
        return None
