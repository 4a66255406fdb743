"""Process-wide heap policy for training: keep freed memory mapped (glibc), as a caching allocator would.

Standard library only, so the CLI can apply it before importing torch.
"""

from __future__ import annotations

__all__ = ["GLIBC_MMAP_THRESHOLD_MAX", "keep_freed_memory"]

# glibc's largest mmap threshold (64-bit); blocks above it always get a fresh mapping.
GLIBC_MMAP_THRESHOLD_MAX = 32 << 20


_KEPT: list[bool] = []


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
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt"):
            m_trim_threshold, m_mmap_threshold = -1, -3
            applied = bool(libc.mallopt(m_mmap_threshold, GLIBC_MMAP_THRESHOLD_MAX)) and bool(
                libc.mallopt(m_trim_threshold, 1 << 30)
            )
    except (OSError, AttributeError):
        applied = False
    _KEPT.append(applied)
    return applied
