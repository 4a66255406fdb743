"""Large CPU buffers on transparent huge pages, for the ``(T, B, N)`` arrays the kernels write once per step.

Why: glibc serves blocks above its largest mmap threshold (32 MiB) with a fresh mapping every time, so a 64 MiB
tensor takes ~16,000 page faults on first touch (15 ms here, as long as the LIF scan that fills it); in a 2
MiB-aligned anonymous mapping advised ``MADV_HUGEPAGE`` it takes 32 (3 ms). Below that size glibc reuses freed
heap memory, which beats a new mapping (whose huge pages the kernel may first have to compact: 1-25 ms), so
smaller tensors, other devices and dtypes, and systems without ``madvise`` get an ordinary ``torch.empty``.
"""

from __future__ import annotations

import math
import mmap

import numpy as np
import torch

from neuroplast.allocator import GLIBC_MMAP_THRESHOLD_MAX

__all__ = ["empty_large", "empty_large_like"]

_HUGE_PAGE = 2 << 20
_NUMPY = {torch.float32: np.float32, torch.float64: np.float64}


def empty_large(shape, dtype: torch.dtype = torch.float32, device="cpu") -> torch.Tensor:
    """An uninitialised contiguous tensor; on huge pages when it is a CPU float tensor above 32 MiB."""
    shape = tuple(shape)
    np_dtype = _NUMPY.get(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if (np_dtype is None or torch.device(device).type != "cpu" or nbytes <= GLIBC_MMAP_THRESHOLD_MAX
            or not hasattr(mmap, "MADV_HUGEPAGE")):
        return torch.empty(shape, dtype=dtype, device=device)
    try:
        region = mmap.mmap(-1, nbytes + _HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        region.madvise(mmap.MADV_HUGEPAGE)
    except (OSError, ValueError):
        return torch.empty(shape, dtype=dtype, device=device)
    raw = np.frombuffer(region, dtype=np.uint8)
    start = (-raw.ctypes.data) % _HUGE_PAGE
    return torch.from_numpy(raw[start : start + nbytes].view(np_dtype).reshape(shape))


def empty_large_like(t: torch.Tensor) -> torch.Tensor:
    """:func:`empty_large` with ``t``'s shape, dtype and device (always contiguous)."""
    return empty_large(t.shape, t.dtype, t.device)
