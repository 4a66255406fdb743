"""Readers for speech datasets that are already spikes: N-TIDIGITS and SHD, binned onto a step grid.

N-TIDIGITS (Anumula et al. 2018), one HDF5 file, default ``<data root>/ntidigits/n-tidigits.hdf5``:
``{part}_labels`` (utterance ids, bytes), groups ``{part}_addresses/<id>`` (cochlea channel, 0-63) and
``{part}_timestamps/<id>`` (seconds), part = train or test. The id ends in the spoken digits, e.g.
``man-im-a-7557``; only single-digit utterances are kept (2,475 train / 2,474 test), 11 classes with labels
z=0, 1-9 = 1-9, o ("oh") = 10, so labels agree with the other digit datasets. Without ``{part}_labels`` the
ids are taken from the addresses group.

SHD (Cramer et al. 2020), ``<data root>/shd/shd_{train,test}.h5``: ``spikes/times`` (vlen float, seconds),
``spikes/units`` (vlen int, 700 channels) and ``labels`` (20 classes).

Binning: an event at time t lands in step floor(t / dt); events at or after ``n_steps * dt`` are dropped.
Default grids ([choice]; both span 1.4 s): N-TIDIGITS dt 2 ms x 700 steps, SHD dt 10 ms x 140 steps (a dense
SHD train set at 2 ms x 700 would need 4 GB).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from neuroplast.errors import NeuroplastError
from neuroplast.settings import data_root

__all__ = [
    "NTIDIGITS_CHANNELS",
    "NTIDIGITS_CLASSES",
    "SHD_CHANNELS",
    "bin_events",
    "load_ntidigits",
    "load_shd",
]

NTIDIGITS_CHANNELS = 64
NTIDIGITS_CLASSES = ("z", "1", "2", "3", "4", "5", "6", "7", "8", "9", "o")
"""Label i is the spoken digit NTIDIGITS_CLASSES[i]: 'z' zero, 'o' oh."""
SHD_CHANNELS = 700
SHD_CLASSES = 20


def _h5py():  # type: ignore[no-untyped-def]
    try:
        import h5py
    except ImportError as exc:
        raise NeuroplastError("reading N-TIDIGITS or SHD needs h5py: pip install h5py") from exc
    return h5py


def bin_events(
    times: np.ndarray, channels: np.ndarray, n_channels: int, dt: float, n_steps: int, binary: bool = True
) -> np.ndarray:
    """Events (seconds, channel) -> (n_steps, n_channels) uint8: 0/1 if ``binary``, else counts capped at 255."""
    times = np.asarray(times, dtype=np.float64).ravel()
    channels = np.asarray(channels).ravel()
    if times.shape != channels.shape:
        raise NeuroplastError(f"{times.size} event times but {channels.size} channels; the event stream is corrupt")
    if dt <= 0 or n_steps < 1:
        raise NeuroplastError(f"need dt > 0 and n_steps >= 1, got dt={dt}, n_steps={n_steps}")
    if times.size and (not np.isfinite(times).all() or times.min() < 0):
        raise NeuroplastError("event times must be finite and >= 0 seconds; the event stream is corrupt")
    if channels.size and (channels.min() < 0 or channels.max() >= n_channels):
        raise NeuroplastError(
            f"event channels span {channels.min()}..{channels.max()}, outside 0..{n_channels - 1}; "
            "the file is corrupt or not this dataset"
        )
    steps = np.floor(times / dt).astype(np.int64)
    keep = steps < n_steps
    flat = steps[keep] * n_channels + channels[keep].astype(np.int64)
    counts = np.bincount(flat, minlength=n_steps * n_channels).reshape(n_steps, n_channels)
    return np.minimum(counts, 1 if binary else 255).astype(np.uint8)


def _resolve(path: str | os.PathLike | None, root: str | os.PathLike | None, default: str, what: str) -> Path:
    file = Path(path) if path is not None else data_root(root) / default
    if not file.is_file():
        raise NeuroplastError(
            f"{what} file {str(file)!r} does not exist; download it from its authors and put it at "
            f"<data root>/{default} or pass path="
        )
    return file


@contextmanager
def _naming(file: Path, item: str):
    """Say which file and sample a corrupt event stream came from."""
    try:
        yield
    except NeuroplastError as exc:
        raise NeuroplastError(f"{str(file)!r} {item}: {exc}") from None


def _check_part(part: str) -> None:
    if part not in ("train", "test"):
        raise NeuroplastError(f"part must be 'train' or 'test', got {part!r}")


def load_ntidigits(
    part: str = "train",
    root: str | os.PathLike | None = None,
    *,
    path: str | os.PathLike | None = None,
    dt: float = 2e-3,
    n_steps: int = 700,
    binary: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Single-digit N-TIDIGITS utterances -> spikes uint8 (N, n_steps, 64), labels int64 (see NTIDIGITS_CLASSES)."""
    _check_part(part)
    file = _resolve(path, root, "ntidigits/n-tidigits.hdf5", "N-TIDIGITS")
    h5py = _h5py()
    label_of = {name: i for i, name in enumerate(NTIDIGITS_CLASSES)}
    try:
        with h5py.File(file, "r") as f:
            for group in (f"{part}_addresses", f"{part}_timestamps"):
                if group not in f or not isinstance(f[group], h5py.Group):
                    raise NeuroplastError(
                        f"{str(file)!r} has no group {group!r}; expected the N-TIDIGITS layout "
                        f"({part}_addresses/<id>, {part}_timestamps/<id>, {part}_labels)"
                    )
            addresses, timestamps = f[f"{part}_addresses"], f[f"{part}_timestamps"]
            if f"{part}_labels" in f:
                ids = [x.decode() if isinstance(x, bytes) else str(x) for x in f[f"{part}_labels"][()]]
            else:
                ids = sorted(addresses.keys())
            chosen = [(uid, label_of[uid.rsplit("-", 1)[-1]]) for uid in ids if uid.rsplit("-", 1)[-1] in label_of]
            if not chosen:
                raise NeuroplastError(
                    f"{str(file)!r} has no single-digit {part} utterances (ids ending in -z, -o, -1 .. -9)"
                )
            spikes = np.zeros((len(chosen), n_steps, NTIDIGITS_CHANNELS), dtype=np.uint8)
            for i, (uid, _) in enumerate(chosen):
                if uid not in addresses or uid not in timestamps:
                    raise NeuroplastError(f"{str(file)!r}: utterance {uid!r} lacks its addresses or timestamps dataset")
                with _naming(file, f"utterance {uid!r}"):
                    spikes[i] = bin_events(timestamps[uid][()], addresses[uid][()], NTIDIGITS_CHANNELS, dt, n_steps,
                                           binary)
    except OSError as exc:
        raise NeuroplastError(
            f"cannot read {str(file)!r} as HDF5 ({exc}); the file is corrupt, re-download it"
        ) from exc
    return spikes, np.array([label for _, label in chosen], dtype=np.int64)


def load_shd(
    part: str = "train",
    root: str | os.PathLike | None = None,
    *,
    path: str | os.PathLike | None = None,
    dt: float = 1e-2,
    n_steps: int = 140,
    binary: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Spiking Heidelberg Digits -> spikes uint8 (N, n_steps, 700), labels int64 (0-19)."""
    _check_part(part)
    file = _resolve(path, root, f"shd/shd_{part}.h5", "SHD")
    h5py = _h5py()
    try:
        with h5py.File(file, "r") as f:
            for name in ("spikes/times", "spikes/units", "labels"):
                if name not in f:
                    raise NeuroplastError(
                        f"{str(file)!r} has no {name!r}; expected the SHD layout (spikes/times, spikes/units, labels)"
                    )
            times, units = f["spikes/times"], f["spikes/units"]
            labels = np.asarray(f["labels"][()], dtype=np.int64).ravel()
            if len(times) != labels.size or len(units) != labels.size:
                raise NeuroplastError(
                    f"{str(file)!r}: {len(times)} time lists, {len(units)} unit lists and {labels.size} labels; "
                    "the file is corrupt, re-download it"
                )
            if labels.size == 0:
                raise NeuroplastError(f"{str(file)!r} holds no samples")
            outside = np.flatnonzero((labels < 0) | (labels >= SHD_CLASSES))
            if outside.size:
                raise NeuroplastError(f"{str(file)!r}: label {labels[outside[0]]} at index {outside[0]} is outside "
                                      f"0..{SHD_CLASSES - 1}; the file is corrupt, re-download it")
            spikes = np.zeros((labels.size, n_steps, SHD_CHANNELS), dtype=np.uint8)
            for i in range(labels.size):
                with _naming(file, f"sample {i}"):
                    spikes[i] = bin_events(times[i], units[i], SHD_CHANNELS, dt, n_steps, binary)
    except OSError as exc:
        raise NeuroplastError(
            f"cannot read {str(file)!r} as HDF5 ({exc}); the file is corrupt, re-download it"
        ) from exc
    return spikes, labels
