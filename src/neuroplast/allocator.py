"""Process-wide heap policy for training: keep freed memory mapped (glibc), as a caching allocator would.

Standard library only, so the CLI can apply it before importing torch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["GLIBC_MMAP_THRESHOLD_MAX", "keep_freed_memory", "step_peak_window"]

# glibc's largest mmap threshold (64-bit); blocks above it always get a fresh mapping.
GLIBC_MMAP_THRESHOLD_MAX = 32 << 20


_KEPT: list[bool] = []

# While a peak is measured, blocks from this size up get their own mapping, which is returned when freed.
EXACT_MMAP_THRESHOLD = 1 << 20
DEFAULT_MMAP_THRESHOLD = 128 << 10  # glibc's initial value
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def _libc():
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt") else None


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed heap memory for reuse instead of handing it back to the OS after every step.

    Why: a training step frees its activations (hundreds of MB) at the end of the backward; glibc then trims
    the heap, and the next step page-faults every buffer in again (~20 ms of a 140 ms ScSr step here). With a
    fixed mmap threshold of 32 MiB (glibc's maximum) and a 1 GiB trim threshold the memory stays mapped, as a
    caching allocator would keep it. Process-wide, so the CLI and the benchmarks call it, not the library on
    import. Returns whether it applied (False off glibc, e.g. macOS, Windows, musl). Idempotent.
    """
    if _KEPT:
        return _KEPT[0]
    applied = False
    try:
        libc = _libc()
        if libc is not None:
            applied = bool(libc.mallopt(M_MMAP_THRESHOLD, GLIBC_MMAP_THRESHOLD_MAX)) and bool(
                libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
            )
    except (OSError, AttributeError):
        applied = False
    _KEPT.append(applied)
    return applied


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


@contextlib.contextmanager
def step_peak_window() -> Iterator[dict]:
    """Measure the resident memory a block of code adds at its peak, in MiB (``result["mib"]``, else None).

    Why: the peak resident set read after the fact depends on what the heap kept from earlier steps (freed
    blocks are reused, or not, by the next step's tensors; figures moved by 20-40 MiB between runs of the same
    step). At the start the heap's free pages go back to the OS (``malloc_trim``; reusing them faults them in
    again) and the kernel's high-water mark is reset (``/proc/self/clear_refs``, Linux >= 4.0); inside the window
    every block of 1 MiB or more gets its own mapping (glibc), unmapped when freed, so the resident set follows
    the live tensors. The next step outside the window faults the trimmed heap back in. On exit the heap policy
    in force before is restored. Where either is unavailable (not Linux / glibc) ``mib`` stays None and callers
    fall back to ``ru_maxrss``.
    """
    result: dict = {"mib": None}
    try:
        libc = _libc()
        if libc is not None:
            libc.malloc_trim(0)  # free heap pages reused inside the window must count again
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        base = _status_kib("VmRSS")
    except (OSError, AttributeError, ValueError):
        libc = None
    if libc is None or not libc.mallopt(M_MMAP_THRESHOLD, EXACT_MMAP_THRESHOLD):
        yield result
        return
    try:
        yield result
        result["mib"] = max(0, _status_kib("VmHWM") - base) / 1024.0
    finally:
        kept = bool(_KEPT and _KEPT[0])
        libc.mallopt(M_MMAP_THRESHOLD, GLIBC_MMAP_THRESHOLD_MAX if kept else DEFAULT_MMAP_THRESHOLD)
