"""Speech front ends that turn audio into spike trains ``(T, channels)`` of uint8 0/1, plus an on-disk cache.

``LyonBSAEncoder`` is the ST-RSBP pipeline of methods.md 1.7 (12.5 kHz -> Lyon passive ear, decimation 200 ->
BSA per channel -> 10 steps per frame -> 700 steps). ``MelThresholdEncoder`` is a faster log-mel alternative.
``encode_dataset`` encodes a file list once and reuses the result: the cache key hashes every encoder setting,
the encoder's version and the file list (path, size, mtime), so changing any of them re-encodes.

Choices where methods.md is silent (all constructor arguments, defaults below):
- BSA kernel ``h[i] = exp(-(i-12)^2/25)`` normalised to **sum 1** (unit DC gain). With it, the 2e3-scaled Lyon
  output (per-file peaks 0.24-0.61 on FSDD) fires on about 9 % of (step, channel) pairs within an utterance,
  and a constant input ``c`` fires on about ``1.2 c`` of the steps, every step from ``c`` of about 0.85. A
  kernel with peak 1 instead (``kernel_norm="max"``) leaves the same scaled input below the kernel almost
  everywhere (under 0.1 % of steps fire).
- Frames are expanded **before** BSA (``expand="before"``): each Lyon frame is held for 10 steps and BSA runs on
  that upsampled signal, so the 24-tap kernel spans 24 steps (38 ms). ``expand="after"`` runs BSA on frames and
  emits each frame's spike on the first of its 10 steps.
- BSA's look-ahead window runs past the end of the signal over zeros, so every step is decided; decisions for
  the first ``n_steps`` steps depend only on the first ``n_steps + 23`` samples, so audio is cut there first.
- Short utterances are padded with silence at the end, long ones cut at the end.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import multiprocessing
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from neuroplast.data.audio import FRONTEND_RATE, read_audio, resample
from neuroplast.errors import NeuroplastError
from neuroplast.settings import cache_root
from neuroplast.train.progress import progress_bar

__all__ = [
    "LyonBSAEncoder",
    "MelThresholdEncoder",
    "SpeechEncoder",
    "bsa_encode",
    "bsa_kernel",
    "describe_frontend",
    "encode_dataset",
    "mel_filterbank",
]

CACHE_FORMAT = "1"
"""Bumped when the on-disk cache layout changes, so old caches are ignored rather than misread."""


def bsa_kernel(length: int = 24, center: float = 12.0, width: float = 25.0, norm: str = "sum") -> np.ndarray:
    """BSA's FIR kernel ``exp(-(i-center)^2/width)``, i = 0..length-1, normalised to sum 1 or peak 1."""
    if length < 1 or width <= 0:
        raise NeuroplastError(f"BSA kernel needs length >= 1 and width > 0, got length={length}, width={width}")
    i = np.arange(length, dtype=np.float64)
    h = np.exp(-((i - center) ** 2) / width)
    if norm == "sum":
        return h / h.sum()
    if norm == "max":
        return h / h.max()
    raise NeuroplastError(f"kernel_norm must be 'sum' or 'max', got {norm!r}")


def bsa_encode(signal: np.ndarray, kernel: np.ndarray, threshold: float) -> np.ndarray:
    """Ben's Spiker Algorithm on every channel of ``signal`` (T, C) at once -> (T, C) bool.

    At each step t, with window s[t:t+F]: error1 = sum|s - h|, error2 = sum|s|; a spike where
    error1 <= error2 - threshold, and then h is subtracted from that channel's window. The window runs over
    zeros past the end. Vectorised over channels (the recursion is only in time).
    """
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim == 1:
        return bsa_encode(signal[:, None], kernel, threshold)[:, 0]
    if signal.ndim != 2:
        raise NeuroplastError(f"BSA expects a (T, C) signal, got shape {signal.shape}")
    h = np.asarray(kernel, dtype=np.float64)
    n_steps, n_channels = signal.shape
    width = h.size
    work = np.zeros((n_steps + width - 1, n_channels), dtype=np.float64)
    work[:n_steps] = signal
    out = np.zeros((n_steps, n_channels), dtype=bool)
    hcol = h[:, None]
    for t in range(n_steps):
        window = work[t : t + width]
        error1 = np.abs(window - hcol).sum(axis=0)
        error2 = np.abs(window).sum(axis=0)
        fire = error1 <= error2 - threshold
        if fire.any():
            out[t] = fire
            window[:, fire] -= hcol
    return out


def mel_filterbank(
    n_mels: int, n_fft: int, sample_rate: float, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular filters on the HTK mel scale, peak 1 -> (n_mels, n_fft // 2 + 1)."""
    fmax = sample_rate / 2 if fmax is None else fmax
    if not 0 <= fmin < fmax <= sample_rate / 2:
        raise NeuroplastError(f"mel band needs 0 <= fmin < fmax <= sample_rate/2, got fmin={fmin}, fmax={fmax}")

    def to_mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    def to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = to_hz(np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2))
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (center - lower)
    falling = (upper - freqs[None, :]) / (upper - center)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    empty = np.flatnonzero(weights.sum(axis=1) == 0)
    if empty.size:
        raise NeuroplastError(
            f"mel filters {empty.tolist()} cover no FFT bin (n_mels={n_mels}, n_fft={n_fft}); "
            "raise n_fft or lower n_mels"
        )
    return weights


class SpeechEncoder:
    """Shared plumbing: settings for cache keys and logs, file reading, output shape checks.

    Subclasses hold only plain settings so they pickle cheaply into worker processes.
    """

    VERSION: ClassVar[str] = "0"
    n_channels: int
    n_steps: int
    step_seconds: float

    def __init__(self, **settings: Any) -> None:
        self._settings = dict(settings)

    def settings(self) -> dict[str, Any]:
        """Every constructor argument, resolved; part of the cache key."""
        return dict(self._settings)

    def encode(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        """Spike train (n_steps, n_channels) uint8 for one mono utterance."""
        raise NotImplementedError

    def encode_file(self, path: str | os.PathLike) -> np.ndarray:
        """Read a WAV or SPHERE file and encode it."""
        signal, rate = read_audio(path)
        return self.encode(signal, rate)

    def _fit_length(self, spikes: np.ndarray) -> np.ndarray:
        """Pad with silence or cut at the end to exactly ``n_steps`` steps, as uint8."""
        out = np.zeros((self.n_steps, spikes.shape[1]), dtype=np.uint8)
        n = min(self.n_steps, spikes.shape[0])
        out[:n] = spikes[:n]
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.settings() == other.settings()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, json.dumps(self._settings, sort_keys=True)))


_LYON_CALC: Any = None


def _lyon_calc() -> Any:
    """One ctypes handle per process, created lazily so encoders stay picklable."""
    global _LYON_CALC
    if _LYON_CALC is None:
        try:
            from lyon.calc import LyonCalc
        except ImportError as exc:
            raise NeuroplastError("the Lyon front end needs the 'lyon' package: pip install lyon") from exc
        _LYON_CALC = LyonCalc()
    return _LYON_CALC


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise NeuroplastError(message)


class LyonBSAEncoder(SpeechEncoder):
    """Lyon passive ear + BSA, the ST-RSBP TI46 front end (methods.md 1.7); 78 channels at 12.5 kHz.

    One frame is ``decimation / sample_rate`` = 16 ms; one step is a tenth of that (1.6 ms); 700 steps = 1.12 s.
    """

    VERSION: ClassVar[str] = "1"

    def __init__(
        self,
        sample_rate: int = FRONTEND_RATE,
        decimation: int = 200,
        ear_q: float = 8.0,
        step_factor: float | None = None,
        differ: bool = True,
        agc: bool = True,
        tau_factor: float = 3.0,
        scale: float = 2e3,
        kernel_length: int = 24,
        kernel_center: float = 12.0,
        kernel_width: float = 25.0,
        kernel_norm: str = "sum",
        threshold: float = 0.6,
        steps_per_frame: int = 10,
        expand: str = "before",
        n_steps: int = 700,
        peak_normalize: bool = False,
    ) -> None:
        step_factor = ear_q / 32.0 if step_factor is None else float(step_factor)
        _require(
            sample_rate > 0 and decimation >= 1,
            f"need sample_rate > 0 and decimation >= 1, got {sample_rate}, {decimation}",
        )
        _require(ear_q > 0 and step_factor > 0, f"need ear_q > 0 and step_factor > 0, got {ear_q}, {step_factor}")
        _require(
            steps_per_frame >= 1 and n_steps >= 1,
            f"need steps_per_frame >= 1 and n_steps >= 1, got {steps_per_frame}, {n_steps}",
        )
        _require(expand in ("before", "after"), f"expand must be 'before' or 'after', got {expand!r}")
        super().__init__(
            sample_rate=int(sample_rate),
            decimation=int(decimation),
            ear_q=float(ear_q),
            step_factor=step_factor,
            differ=bool(differ),
            agc=bool(agc),
            tau_factor=float(tau_factor),
            scale=float(scale),
            kernel_length=int(kernel_length),
            kernel_center=float(kernel_center),
            kernel_width=float(kernel_width),
            kernel_norm=kernel_norm,
            threshold=float(threshold),
            steps_per_frame=int(steps_per_frame),
            expand=expand,
            n_steps=int(n_steps),
            peak_normalize=bool(peak_normalize),
        )
        self.kernel = bsa_kernel(kernel_length, kernel_center, kernel_width, kernel_norm)
        from lyon.utils import design_lyon_filters

        filters, _ = design_lyon_filters(sample_rate, ear_q, step_factor)
        self.n_channels = int(filters.shape[1]) - 2
        _require(self.n_channels >= 1, f"Lyon filter design at {sample_rate} Hz gave no channels; raise sample_rate")
        self.n_steps = int(n_steps)
        self.step_seconds = decimation / sample_rate / steps_per_frame

    def cochleagram(self, signal: np.ndarray, sample_rate: int, max_frames: int | None = None) -> np.ndarray:
        """Lyon passive-ear output (frames, n_channels) at ``self.sample_rate``; causal, so cutting is exact."""
        s = self._settings
        x = resample(signal, sample_rate, s["sample_rate"])
        if s["peak_normalize"]:
            peak = np.abs(x).max(initial=0.0)
            x = x / peak if peak > 0 else x
        if max_frames is not None:
            x = x[: max_frames * s["decimation"]]
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.size < s["decimation"]:
            return np.zeros((0, self.n_channels))
        return _lyon_calc().lyon_passive_ear(
            x,
            s["sample_rate"],
            decimation_factor=s["decimation"],
            ear_q=s["ear_q"],
            step_factor=s["step_factor"],
            differ=s["differ"],
            agc=s["agc"],
            tau_factor=s["tau_factor"],
        )

    def encode(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        s = self._settings
        spf, width = s["steps_per_frame"], self.kernel.size
        if s["expand"] == "before":
            frames = math.ceil((self.n_steps + width - 1) / spf)
            analog = np.repeat(self.cochleagram(signal, sample_rate, frames) * s["scale"], spf, axis=0)
            spikes = bsa_encode(analog[: self.n_steps + width - 1], self.kernel, s["threshold"])
        else:
            needed = math.ceil(self.n_steps / spf)
            analog = self.cochleagram(signal, sample_rate, needed + width - 1) * s["scale"]
            per_frame = bsa_encode(analog, self.kernel, s["threshold"])[:needed]
            spikes = np.zeros((per_frame.shape[0] * spf, self.n_channels), dtype=bool)
            spikes[::spf] = per_frame
        return self._fit_length(spikes)


class MelThresholdEncoder(SpeechEncoder):
    """Log-mel spectrogram turned into spikes; a fast alternative to Lyon + BSA with the same step grid.

    Each utterance's log-mel energies are mapped to [0, 1] over ``dynamic_range_db`` below its loudest bin;
    bins under the absolute ``floor_db`` (power of a [-1, 1) signal: digital zero is -120 dB, a 1-bit-level hiss
    about -50 dB, FSDD speech peaks +10 to +30 dB) map to 0, so silence is not stretched to full scale.
    ``mode="threshold"``: step j of a frame fires where the value reaches ``threshold + (1 - threshold) * j /
    steps_per_frame``, so louder bins fire on more of the frame's steps (a deterministic level code).
    ``mode="delta"``: send-on-delta; each crossing of a ``delta``-spaced level fires one spike (on the frame's
    first steps), rises on channels 0..n_mels-1 and, with ``bipolar``, falls on channels n_mels..2*n_mels-1.
    Frames are causal (a frame ends at its hop), 16 ms apart at the defaults, like the Lyon encoder's.
    """

    VERSION: ClassVar[str] = "1"

    def __init__(
        self,
        sample_rate: int = FRONTEND_RATE,
        n_mels: int = 40,
        n_fft: int = 512,
        win_length: int = 400,
        hop_length: int = 200,
        fmin: float = 50.0,
        fmax: float | None = None,
        dynamic_range_db: float = 60.0,
        floor_db: float = -60.0,
        mode: str = "threshold",
        threshold: float = 0.3,
        delta: float = 0.05,
        bipolar: bool = True,
        steps_per_frame: int = 10,
        n_steps: int = 700,
    ) -> None:
        fmax = sample_rate / 2 if fmax is None else float(fmax)
        _require(mode in ("threshold", "delta"), f"mode must be 'threshold' or 'delta', got {mode!r}")
        _require(
            0 < win_length <= n_fft and hop_length >= 1,
            f"need 0 < win_length <= n_fft and hop_length >= 1, got {win_length}, {n_fft}, {hop_length}",
        )
        _require(
            dynamic_range_db > 0 and 0 <= threshold < 1 and delta > 0,
            "need dynamic_range_db > 0, 0 <= threshold < 1 and delta > 0",
        )
        _require(steps_per_frame >= 1 and n_steps >= 1 and n_mels >= 1, "need steps_per_frame, n_steps, n_mels >= 1")
        super().__init__(
            sample_rate=int(sample_rate),
            n_mels=int(n_mels),
            n_fft=int(n_fft),
            win_length=int(win_length),
            hop_length=int(hop_length),
            fmin=float(fmin),
            fmax=fmax,
            dynamic_range_db=float(dynamic_range_db),
            floor_db=float(floor_db),
            mode=mode,
            threshold=float(threshold),
            delta=float(delta),
            bipolar=bool(bipolar),
            steps_per_frame=int(steps_per_frame),
            n_steps=int(n_steps),
        )
        self.filters = mel_filterbank(n_mels, n_fft, sample_rate, fmin, fmax)
        self.window = np.hanning(win_length + 2)[1:-1]
        self.n_channels = 2 * n_mels if mode == "delta" and bipolar else n_mels
        self.n_steps = int(n_steps)
        self.step_seconds = hop_length / sample_rate / steps_per_frame

    def features(self, signal: np.ndarray, sample_rate: int, max_frames: int | None = None) -> np.ndarray:
        """Log-mel energies scaled to [0, 1] per utterance -> (frames, n_mels)."""
        s = self._settings
        x = resample(signal, sample_rate, s["sample_rate"])
        hop, win = s["hop_length"], s["win_length"]
        n_frames = x.size // hop if max_frames is None else min(x.size // hop, max_frames)
        if n_frames == 0:
            return np.zeros((0, s["n_mels"]))
        padded = np.concatenate([np.zeros(win - hop if win > hop else 0), x])
        frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n_frames] * self.window
        power = np.abs(np.fft.rfft(frames, n=s["n_fft"], axis=1)) ** 2
        db = 10.0 * np.log10(power @ self.filters.T + 1e-12)
        rng = s["dynamic_range_db"]
        scaled = np.clip((db - db.max() + rng) / rng, 0.0, 1.0)
        return np.where(db >= s["floor_db"], scaled, 0.0)

    def encode(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        s = self._settings
        spf = s["steps_per_frame"]
        x = self.features(signal, sample_rate, math.ceil(self.n_steps / spf))
        step = np.arange(spf)[None, :, None]
        if s["mode"] == "threshold":
            levels = s["threshold"] + (1.0 - s["threshold"]) * step / spf
            spikes = x[:, None, :] >= levels
        else:
            q = np.floor(x / s["delta"])
            change = np.diff(q, axis=0, prepend=0.0)
            rises = step < np.clip(change, 0, spf)[:, None, :]
            falls = step < np.clip(-change, 0, spf)[:, None, :]
            spikes = np.concatenate([rises, falls], axis=2) if s["bipolar"] else rises
        return self._fit_length(spikes.reshape(-1, self.n_channels))


def describe_frontend(encoder: SpeechEncoder) -> dict[str, Any]:
    """Everything a log line or results file needs to say which spikes a model saw."""
    return {
        "name": type(encoder).__name__,
        "version": encoder.VERSION,
        "settings": encoder.settings(),
        "n_channels": int(encoder.n_channels),
        "n_steps": int(encoder.n_steps),
        "step_ms": 1e3 * encoder.step_seconds,
        "duration_s": encoder.n_steps * encoder.step_seconds,
        "output": "uint8 0/1, (T, channels) per utterance, time-major",
    }


class _HasPath(Protocol):
    path: Path


def _item_path(item: str | os.PathLike | _HasPath) -> Path:
    return Path(item.path if hasattr(item, "path") else item)  # type: ignore[union-attr]


def _cache_key(encoder: SpeechEncoder, paths: Sequence[Path]) -> tuple[str, dict[str, Any]]:
    """Hash of the encoder (class, version, settings) and the files (path, size, mtime); returns key and manifest."""
    files = []
    for p in paths:
        try:
            st = p.stat()
        except OSError as exc:
            raise NeuroplastError(f"cannot read audio file {str(p)!r}: {exc.strerror or exc}") from exc
        files.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
    manifest = {
        "cache_format": CACHE_FORMAT,
        "encoder": type(encoder).__name__,
        "version": encoder.VERSION,
        "settings": encoder.settings(),
        "files": files,
    }
    blob = json.dumps(manifest, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:24], manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(directory: Path, name: str, write: Any) -> None:
    """Write via a temp file in the same directory, fsync, then os.replace: readers see old or whole, never part."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_cache(directory: Path, n_items: int, n_steps: int, n_channels: int) -> np.ndarray | None:
    """The cached spikes if the completion marker exists and the data file it names matches its hash and shape."""
    marker = directory / "complete.json"
    try:
        meta = json.loads(marker.read_text())
        data = directory / meta["data_file"]
        if meta["shape"] != [n_items, n_steps, n_channels] or _sha256(data) != meta["sha256"]:
            return None
        packed = np.load(data, allow_pickle=False)
        spikes = np.unpackbits(packed, axis=-1, count=n_channels)
    except (OSError, EOFError, ValueError, KeyError, TypeError):
        return None
    if spikes.shape != (n_items, n_steps, n_channels):
        return None
    return spikes


def _store_cache(directory: Path, spikes: np.ndarray, manifest: dict[str, Any]) -> None:
    """Data file named by its content hash first, then the completion marker that points at it, both atomic.

    Concurrent writers of the same key each rename complete files; a marker only ever names a data file whose
    hash it records, so any interleaving leaves a consistent pair (identical encodes give the same name).
    """
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.save(buffer, np.packbits(spikes.astype(bool), axis=-1), allow_pickle=False)
    payload = buffer.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    data_name = f"spikes-{digest[:16]}.npy"
    _write_atomic(directory, data_name, lambda fh: fh.write(payload))
    meta = {"data_file": data_name, "sha256": digest, "shape": list(spikes.shape), "manifest": manifest}
    _write_atomic(directory, "complete.json", lambda fh: fh.write(json.dumps(meta, indent=1).encode()))


_WORKER_ENCODER: SpeechEncoder | None = None


def _init_worker(encoder: SpeechEncoder) -> None:
    global _WORKER_ENCODER
    _WORKER_ENCODER = encoder


def _encode_in_worker(path: str) -> np.ndarray:
    assert _WORKER_ENCODER is not None
    return _WORKER_ENCODER.encode_file(path)


def _encode_all(encoder: SpeechEncoder, paths: Sequence[Path], workers: int, desc: str) -> np.ndarray:
    out = np.zeros((len(paths), encoder.n_steps, encoder.n_channels), dtype=np.uint8)
    with progress_bar(len(paths), desc, unit="file") as bar:
        if workers <= 1:
            results: Iterable[np.ndarray] = (encoder.encode_file(p) for p in paths)
            for i, spikes in enumerate(results):
                out[i] = spikes
                bar.update()
        else:
            ctx = multiprocessing.get_context("spawn")
            chunk = max(1, min(32, len(paths) // (4 * workers)))
            with ctx.Pool(workers, initializer=_init_worker, initargs=(encoder,)) as pool:
                for i, spikes in enumerate(pool.imap(_encode_in_worker, [str(p) for p in paths], chunksize=chunk)):
                    out[i] = spikes
                    bar.update()
    return out


def encode_dataset(
    encoder: SpeechEncoder,
    items: Sequence[str | os.PathLike | _HasPath],
    cache_dir: str | os.PathLike | None = None,
    workers: int = 1,
) -> np.ndarray:
    """Encode every file in ``items`` (paths or objects with ``.path``) -> uint8 (N, T, C), cached on disk.

    The cache lives in ``cache_dir`` (default ``settings.cache_root()/speech``) under a key that hashes the
    encoder and the file list; a second call with the same inputs loads it instead of encoding. A damaged or
    partial cache is detected (hash and shape checks) and re-encoded. ``workers > 1`` uses a spawn-based
    process pool; scripts calling it need the usual ``if __name__ == "__main__":`` guard.
    """
    paths = [_item_path(item) for item in items]
    if not paths:
        raise NeuroplastError("encode_dataset got an empty file list; check the dataset path and split")
    if workers < 1:
        raise NeuroplastError(f"workers must be >= 1, got {workers}")
    key, manifest = _cache_key(encoder, paths)
    base = Path(cache_dir) if cache_dir is not None else cache_root() / "speech"
    directory = base / key
    cached = _read_cache(directory, len(paths), encoder.n_steps, encoder.n_channels)
    if cached is not None:
        return cached
    spikes = _encode_all(encoder, paths, workers, desc=f"{type(encoder).__name__} {len(paths)} files")
    try:
        _store_cache(directory, spikes, manifest)
    except OSError as exc:
        raise NeuroplastError(
            f"cannot write the spike cache in {str(directory)!r} ({exc.strerror or exc}); "
            "set NEUROPLAST_CACHE to a writable folder"
        ) from exc
    return spikes
