"""Image dataset readers: MNIST-style IDX files, CIFAR-10 (JPEG tarball), Caltech Face/Motorbike, sklearn digits.

Every reader takes the files exactly as a user downloads them (see the data README), checks them, and raises
:class:`~neuroplast.errors.NeuroplastError` with a one-line fix when something is missing or damaged, so a bad
download fails loudly instead of silently training on garbage. :func:`load_vision` is the uniform entry point for
training code: float32 ``(N, C, H, W)`` in [0, 1] and int64 labels.
"""

from __future__ import annotations

import contextlib
import difflib
import gzip
import hashlib
import inspect
import io
import json
import math
import os
import re
import struct
import tarfile
import tempfile
import warnings
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from neuroplast import settings
from neuroplast.errors import NeuroplastError
from neuroplast.train.progress import progress

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

PathLike = str | os.PathLike[str]

__all__ = [
    "CIFAR10_CLASSES",
    "MNIST_CONTENT_MD5",
    "VISION_DATASETS",
    "VisionDataset",
    "load_caltech_face_motorbike",
    "load_cifar10",
    "load_digits_fallback",
    "load_idx",
    "load_mnist",
    "load_vision",
    "verify",
]

_SPLITS = ("train", "test")
_DATA_HINT = ("point NEUROPLAST_DATA or `--set data.root=PATH` (root= in Python) at the folder holding mnist/, "
              "fashion-mnist/, cifar10/, caltech101/")

# IDX element types from the format's definition (LeCun et al.); multi-byte types are big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _check_split(split: str) -> str:
    if split not in _SPLITS:
        raise NeuroplastError(f"unknown split {split!r}; use 'train' or 'test'")
    return split


def _missing(path: Path, what: str) -> NeuroplastError:
    return NeuroplastError(f"{what} not found at {path}; {_DATA_HINT}")


# --------------------------------------------------------------------------------------------- IDX / MNIST


def _read_maybe_gzip(path: Path) -> bytes:
    """File content, gunzipped when it starts with the gzip magic ``1f 8b`` (the name is not trusted)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _missing(path, "file") from None
    except OSError as exc:
        raise NeuroplastError(f"{path}: cannot read the file ({exc.strerror or exc}); check its permissions") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise NeuroplastError(f"{path}: corrupt or truncated gzip data ({exc}); re-download the file") from None


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    if len(data) < 4:
        raise NeuroplastError(f"{path}: only {len(data)} bytes, too short for an IDX header; re-download the file")
    zero0, zero1, code, ndim = data[:4]
    if zero0 or zero1:
        raise NeuroplastError(
            f"{path}: not an IDX file (magic bytes {data[:4].hex(' ')}, expected 00 00 <type> <ndim>); "
            "check the path or re-download the file"
        )
    dtype = _IDX_DTYPES.get(code)
    if dtype is None:
        known = ", ".join(f"0x{c:02x}" for c in _IDX_DTYPES)
        raise NeuroplastError(
            f"{path}: unknown IDX element type 0x{code:02x} (known: {known}); the file is corrupt, re-download it"
        )
    if ndim == 0:
        raise NeuroplastError(f"{path}: IDX header declares 0 dimensions; the file is corrupt, re-download it")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise NeuroplastError(f"{path}: IDX header is cut short ({len(data)} bytes); re-download the file")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = math.prod(dims) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        state = "truncated" if actual < expected else f"{actual - expected} bytes too long"
        raise NeuroplastError(
            f"{path}: IDX header declares shape {dims} ({expected} data bytes) but the file holds {actual}, "
            f"so it is {state}; re-download the file"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def load_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (gzip or raw, told apart by magic bytes) as a native-endian, writable array.

    The header must match the data size exactly: a truncated or padded file is a broken download, and
    reading it anyway would shift every later sample.
    """
    path = Path(path)
    return _parse_idx(_read_maybe_gzip(path), path)


_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_MNIST_KINDS = ("mnist", "fashion-mnist")
_MNIST_COUNTS = {"train": 60000, "test": 10000}

MNIST_CONTENT_MD5 = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}
"""MD5 of the *decompressed* IDX bytes: the published raw-file sums, valid however the ``.gz`` was compressed."""


def _mnist_file(folder: Path, name: str, kind: str) -> Path:
    """The ``.gz`` file, or its already-gunzipped twin, which users often have after unpacking by hand."""
    path = folder / name
    if path.is_file():
        return path
    plain = path.with_suffix("")
    if plain.is_file():
        return plain
    raise _missing(path, f"{kind} file {name}")


def _check_mnist_pair(images: np.ndarray, labels: np.ndarray, image_path: Path, label_path: Path) -> None:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise NeuroplastError(
            f"{image_path}: holds {images.dtype} data of shape {images.shape}, expected uint8 (N, 28, 28); "
            "is it a label file or another dataset? re-download it"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise NeuroplastError(
            f"{label_path}: holds {labels.dtype} data of shape {labels.shape}, expected uint8 (N,); re-download it"
        )
    if len(images) != len(labels):
        raise NeuroplastError(
            f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels; "
            "the files come from different downloads or one is damaged, re-download both"
        )
    if labels.size and int(labels.max()) > 9:
        bad = int(np.flatnonzero(labels > 9)[0])
        raise NeuroplastError(
            f"{label_path}: label {int(labels[bad])} at index {bad} is outside 0..9; "
            "the file is corrupt, re-download it"
        )


def load_mnist(
    root: PathLike | None = None, split: str = "train", kind: str = "mnist"
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST or Fashion-MNIST from ``{root}/{kind}/``: ``(images uint8 (N, 28, 28), labels int64 (N,))``.

    Reads the four standard IDX names (``train-*`` / ``t10k-*``, gzip or already gunzipped) and checks that
    the image and label files agree, so a mixed-up download cannot pair images with the wrong labels.
    """
    split = _check_split(split)
    if kind not in _MNIST_KINDS:
        raise NeuroplastError(f"unknown MNIST kind {kind!r}; use one of {', '.join(_MNIST_KINDS)}")
    folder = settings.data_root(root) / kind
    image_name, label_name = _MNIST_FILES[split]
    image_path = _mnist_file(folder, image_name, kind)
    label_path = _mnist_file(folder, label_name, kind)
    images, labels = load_idx(image_path), load_idx(label_path)
    _check_mnist_pair(images, labels, image_path, label_path)
    return images, labels.astype(np.int64)


# --------------------------------------------------------------------------------------------- images


def _open_image(source: bytes | Path, where: str, mode: str) -> PILImage:
    """Fully decoded Pillow image in ``mode``; Pillow decodes lazily, so ``load()`` is forced here to catch damage."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
            im.load()
            return im.convert(mode)
    except FileNotFoundError:
        raise NeuroplastError(f"{where}: image file not found; {_DATA_HINT}") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise NeuroplastError(
            f"{where}: not a readable image ({exc}); the file is corrupt, re-download the dataset"
        ) from None


def _natural_key(name: str) -> tuple[int, str]:
    """Sort ``image_0010.jpg`` after ``image_0009.jpg`` even where numbers are not zero-padded."""
    digits = re.findall(r"\d+", name)
    return (int(digits[-1]) if digits else -1, name)


# --------------------------------------------------------------------------------------------- CIFAR-10

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_CIFAR_TARBALL = "CIFAR-10-images.tar.gz"
_CIFAR_INDEX = {name: i for i, name in enumerate(CIFAR10_CLASSES)}
_CIFAR_COUNTS = {"train": 5000, "test": 1000}
_CACHE_VERSION = 1


def _scan_cifar_tarball(tarball: Path, read_split: str | None) -> list[tuple[str, int, str, bytes]]:
    """``(split, label, member name, JPEG bytes)`` for each ``{split}/{class}/*.jpg`` member.

    Bytes are read only for ``read_split`` (empty otherwise). The stream is read to its very end because
    tarfile takes a cut-off header for the end of the archive; only gzip's end marker and CRC reveal truncation.
    """
    found = []
    try:
        with tarfile.open(tarball, "r:*") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if (
                    not member.isfile()
                    or len(parts) < 3
                    or parts[-3] not in _SPLITS
                    or parts[-2] not in _CIFAR_INDEX
                    or not parts[-1].lower().endswith((".jpg", ".jpeg"))
                ):
                    continue
                data = b""
                if parts[-3] == read_split:
                    handle = tar.extractfile(member)
                    data = handle.read() if handle is not None else b""
                found.append((parts[-3], _CIFAR_INDEX[parts[-2]], member.name, data))
            if tar.fileobj is not None:
                while tar.fileobj.read(1 << 20):
                    pass
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise NeuroplastError(
            f"{tarball}: cannot read the tarball ({exc}); it is truncated or corrupt, re-download it"
        ) from None
    return found


def _cifar_members(tarball: Path, split: str) -> list[tuple[int, str, bytes]]:
    """``(label, member name, JPEG bytes)`` of one split, ordered by class, then file name."""
    found = [(label, name, data) for s, label, name, data in _scan_cifar_tarball(tarball, split) if s == split]
    missing = sorted(set(range(len(CIFAR10_CLASSES))) - {label for label, *_ in found})
    if missing:
        names = ", ".join(CIFAR10_CLASSES[i] for i in missing)
        raise NeuroplastError(
            f"{tarball}: no {split} images for class(es) {names} (expected CIFAR-10-images/{split}/<class>/NNNN.jpg); "
            "the tarball is incomplete, re-download it"
        )
    found.sort(key=lambda item: (item[0], _natural_key(PurePosixPath(item[1]).name)))
    return found


def _first_per_class(labels: np.ndarray, limit: int) -> np.ndarray:
    return np.concatenate([np.flatnonzero(labels == c)[:limit] for c in range(len(CIFAR10_CLASSES))])


def _decode_cifar(tarball: Path, split: str, limit_per_class: int | None) -> tuple[np.ndarray, np.ndarray]:
    members = _cifar_members(tarball, split)
    labels = np.array([label for label, *_ in members], dtype=np.int64)
    if limit_per_class is not None:
        keep = _first_per_class(labels, limit_per_class)
        members, labels = [members[i] for i in keep], labels[keep]
    images = np.empty((len(members), 32, 32, 3), dtype=np.uint8)
    desc = f"decoding CIFAR-10 {split} JPEGs (cached after the first time)"
    for i, (_, name, blob) in enumerate(progress(members, desc=desc)):
        where = f"{tarball} member {name}"
        im = _open_image(blob, where, "RGB")
        if im.size != (32, 32):
            raise NeuroplastError(
                f"{where}: image is {im.size[0]}x{im.size[1]}, expected 32x32; re-download the tarball"
            )
        images[i] = np.asarray(im)
    return images, labels


def _sha256(arr: np.ndarray) -> str:
    return hashlib.sha256(memoryview(np.ascontiguousarray(arr)).cast("B")).hexdigest()


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write via a temp file in the same folder and ``os.replace``, so readers never see a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide a shared NEUROPLAST_CACHE from other users
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _cache_paths(folder: Path, key: str) -> tuple[Path, Path, Path]:
    return folder / f"{key}.images.npy", folder / f"{key}.labels.npy", folder / f"{key}.json"


def _cache_read(folder: Path, key: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Cached arrays, or ``None`` unless the sidecar exists and shape, dtype and SHA-256 of both arrays match it."""
    x_path, y_path, meta_path = _cache_paths(folder, key)
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("version") != _CACHE_VERSION:
            return None
        arrays = []
        for path, entry in ((x_path, meta["images"]), (y_path, meta["labels"])):
            arr = np.load(path, allow_pickle=False)
            if list(arr.shape) != entry["shape"] or str(arr.dtype) != entry["dtype"] or _sha256(arr) != entry["sha256"]:
                raise ValueError(f"{path.name} does not match its checksum")
            arrays.append(arr)
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        warnings.warn(f"ignoring damaged CIFAR-10 cache {meta_path} ({exc}); decoding the tarball again", stacklevel=3)
        return None
    return arrays[0], arrays[1]


def _cache_write(folder: Path, key: str, images: np.ndarray, labels: np.ndarray, source: Path) -> None:
    """Arrays first, sidecar last: a crash at any point leaves no sidecar that vouches for a partial array."""
    x_path, y_path, meta_path = _cache_paths(folder, key)
    meta = {
        "version": _CACHE_VERSION,
        "source": str(source),
        "images": {"shape": list(images.shape), "dtype": str(images.dtype), "sha256": _sha256(images)},
        "labels": {"shape": list(labels.shape), "dtype": str(labels.dtype), "sha256": _sha256(labels)},
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            meta_path.unlink()
        _atomic_write(x_path, lambda fh: np.save(fh, images, allow_pickle=False))
        _atomic_write(y_path, lambda fh: np.save(fh, labels, allow_pickle=False))
        _atomic_write(meta_path, lambda fh: fh.write(json.dumps(meta, indent=1).encode()))
    except OSError as exc:
        warnings.warn(
            f"could not write the CIFAR-10 cache in {folder} ({exc}); the next load decodes again", stacklevel=3
        )


def _cifar_cache_folder() -> Path | None:
    try:
        return settings.cache_root() / "cifar10"
    except OSError as exc:
        warnings.warn(f"no usable cache folder ({exc}); set NEUROPLAST_CACHE to a writable folder", stacklevel=3)
        return None


def load_cifar10(
    root: PathLike | None = None, split: str = "train", limit_per_class: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 from the JPEG tarball ``{root}/cifar10/CIFAR-10-images.tar.gz``: ``(uint8 (N, 32, 32, 3), int64)``.

    Samples are ordered by class (airplane=0 ... truck=9), then by file name. Decoding 60k JPEGs takes a while,
    so the arrays are cached under ``cache_root()/cifar10/``, keyed by the tarball's size and mtime (a new
    download invalidates it), written atomically and trusted only when their SHA-256 matches the JSON
    sidecar written last. ``limit_per_class`` keeps the first ``n`` images of each class for quick runs.
    """
    split = _check_split(split)
    valid_limit = isinstance(limit_per_class, int) and not isinstance(limit_per_class, bool) and limit_per_class > 0
    if limit_per_class is not None and not valid_limit:
        raise NeuroplastError(f"limit_per_class must be a positive integer or None, got {limit_per_class!r}")
    tarball = settings.data_root(root) / "cifar10" / _CIFAR_TARBALL
    if not tarball.is_file():
        raise _missing(tarball, "CIFAR-10 tarball")
    stat = tarball.stat()
    full_key = f"{split}-{stat.st_size}-{stat.st_mtime_ns}"
    key = full_key if limit_per_class is None else f"{full_key}-first{limit_per_class}"
    folder = _cifar_cache_folder()
    if folder is not None:
        full = _cache_read(folder, full_key)
        if full is not None:
            if limit_per_class is None:
                return full
            keep = _first_per_class(full[1], limit_per_class)
            return full[0][keep], full[1][keep]
        if key != full_key and (cached := _cache_read(folder, key)) is not None:
            return cached
    images, labels = _decode_cifar(tarball, split, limit_per_class)
    if folder is not None:
        _cache_write(folder, key, images, labels, tarball)
    return images, labels


# --------------------------------------------------------------------------------------------- Caltech 101

_CALTECH_FACES = ("Faces", "Faces_easy")
_CALTECH_COUNTS = {"Faces": 435, "Faces_easy": 435, "Motorbikes": 798}


def _caltech_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise _missing(folder, "Caltech 101 folder")
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg") and not p.name.startswith(".")),
        key=lambda p: _natural_key(p.name),
    )
    if not files:
        raise NeuroplastError(f"{folder}: holds no .jpg images; re-download the Caltech 101 category")
    return files


def _half_split(files: list[Path], split: str, seed: int) -> list[Path]:
    order = np.random.default_rng(seed).permutation(len(files))
    n_train = len(files) // 2
    chosen = order[:n_train] if split == "train" else order[n_train:]
    return [files[i] for i in sorted(chosen)]


def _dog(
    images: np.ndarray, sigmas: tuple[float, float], channels: int, radius: int | None
) -> np.ndarray:
    """ON (and OFF) centre difference of Gaussians, rectified, each image scaled by its own max to [0, 1]."""
    from scipy.ndimage import gaussian_filter

    out = np.zeros((len(images), channels, *images.shape[1:]), dtype=np.float32)
    for i, img in enumerate(images.astype(np.float64)):
        centre = gaussian_filter(img, sigmas[0], mode="reflect", radius=radius)
        surround = gaussian_filter(img, sigmas[1], mode="reflect", radius=radius)
        diff = centre - surround
        maps = [np.maximum(diff, 0.0)] + ([np.maximum(-diff, 0.0)] if channels == 2 else [])
        peak = max(float(m.max()) for m in maps)
        for c, m in enumerate(maps):
            out[i, c] = m / peak if peak > 0 else m
    return out


def load_caltech_face_motorbike(
    root: PathLike | None = None,
    split: str = "train",
    size: tuple[int, int] = (160, 250),
    dog: bool = False,
    seed: int = 0,
    faces_dir: str = "Faces",
    dog_sigmas: tuple[float, float] = (1.0, 2.0),
    dog_channels: int = 1,
    dog_radius: int | None = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Caltech 101 Face (label 0) vs Motorbike (label 1), the two-class task of the temporal-coding SNN papers.

    Images come from ``{root}/caltech101/{faces_dir}/`` (``Faces`` or ``Faces_easy``) and ``Motorbikes/``, are
    converted to grayscale and resized to ``size = (H, W)`` with Pillow's bilinear filter; float32 in [0, 1].

    Split (no official one exists, so it is fixed here): for each class on its own, the file names are sorted,
    permuted with ``numpy.random.default_rng(seed).permutation``, and the first ``n // 2`` go to train, the rest
    to test (435 faces: 217 / 218; 798 motorbikes: 399 / 399). Within a split, samples are ordered face files
    then motorbike files, each by file name. The same seed always gives the same disjoint halves.

    ``dog=True`` applies the retina-like preprocessing of S4NN (Kheradpisheh & Masquelier) and its STDP
    predecessors: ON-centre difference of Gaussians (``gaussian(sigma1) - gaussian(sigma2)``, sigmas ``dog_sigmas``,
    kernels truncated to ``2 * dog_radius + 1`` pixels, 7x7 by default; ``None`` uses scipy's 4-sigma default),
    keeping the positive part. ``dog_channels=2`` adds the OFF channel (the negative part) and returns
    ``(N, 2, H, W)``; otherwise ``(N, H, W)``. Each image's output is divided by its own maximum over all of its
    channels, so the strongest edge fires first and ON/OFF contrast is preserved; a flat image stays all zero.
    """
    from PIL import Image

    split = _check_split(split)
    if faces_dir not in _CALTECH_FACES:
        raise NeuroplastError(f"faces_dir must be one of {', '.join(_CALTECH_FACES)}, got {faces_dir!r}")
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise NeuroplastError(f"size must be (height, width) with positive integers, got {size!r}")
    if dog_channels not in (1, 2):
        raise NeuroplastError(f"dog_channels must be 1 (ON) or 2 (ON and OFF), got {dog_channels!r}")
    if dog and not (len(dog_sigmas) == 2 and 0 < dog_sigmas[0] < dog_sigmas[1]):
        raise NeuroplastError(f"dog_sigmas must be (centre, surround) with 0 < centre < surround, got {dog_sigmas!r}")
    base = settings.data_root(root) / "caltech101"
    classes = [_half_split(_caltech_files(base / name), split, seed) for name in (faces_dir, "Motorbikes")]
    height, width = size
    images = np.empty((sum(map(len, classes)), height, width), dtype=np.float32)
    labels = np.concatenate([np.full(len(files), label, dtype=np.int64) for label, files in enumerate(classes)])
    for i, path in enumerate(path for files in classes for path in files):
        im = _open_image(path, str(path), "L").resize((width, height), Image.Resampling.BILINEAR)
        images[i] = np.asarray(im, dtype=np.float32) / 255.0
    if not dog:
        return images, labels
    filtered = _dog(images, (float(dog_sigmas[0]), float(dog_sigmas[1])), dog_channels, dog_radius)
    return (filtered[:, 0] if dog_channels == 1 else filtered), labels


# --------------------------------------------------------------------------------------------- digits


def load_digits_fallback(split: str = "train", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits, the offline fallback: ``(uint8 (N, 8, 8) in 0..255, int64 labels)``.

    Pixel values 0..16 are scaled to 0..255 so the array looks like every other image dataset. Split: the
    1,797 samples are permuted with ``numpy.random.default_rng(seed)``; the first ``n // 5`` (359) are the
    test set, the rest (1,438) train; each split is returned in the original sample order.
    """
    from sklearn.datasets import load_digits

    split = _check_split(split)
    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = len(labels) // 5
    chosen = np.sort(order[n_test:] if split == "train" else order[:n_test])
    return images[chosen], labels[chosen]


# --------------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class VisionDataset:
    """How :func:`load_vision` reaches one dataset: its reader, fixed arguments, and the array layout it returns."""

    reader: Callable[..., tuple[np.ndarray, np.ndarray]]
    description: str
    fixed: Mapping[str, Any] = field(default_factory=dict)
    channels_last: bool = False


VISION_DATASETS: dict[str, VisionDataset] = {
    "mnist": VisionDataset(load_mnist, "MNIST handwritten digits, 28x28 gray", {"kind": "mnist"}),
    "fashion-mnist": VisionDataset(load_mnist, "Fashion-MNIST clothing, 28x28 gray", {"kind": "fashion-mnist"}),
    "cifar10": VisionDataset(load_cifar10, "CIFAR-10 from the JPEG tarball, 32x32 RGB", channels_last=True),
    "caltech-face-motorbike": VisionDataset(
        load_caltech_face_motorbike, "Caltech 101 Faces vs Motorbikes, gray (optionally DoG-filtered)"
    ),
    "digits": VisionDataset(load_digits_fallback, "scikit-learn 8x8 digits, bundled, works offline"),
}


def _resolve(name: str) -> str:
    key = name.strip().lower().replace("_", "-") if isinstance(name, str) else ""
    if key in VISION_DATASETS:
        return key
    close = difflib.get_close_matches(key, list(VISION_DATASETS), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise NeuroplastError(f"unknown image dataset {name!r}{hint} (choose one of: {', '.join(VISION_DATASETS)})")


def _to_float_nchw(x: np.ndarray, channels_last: bool) -> np.ndarray:
    if x.dtype == np.uint8:
        out = x.astype(np.float32)
        out /= 255.0
    else:
        out = x.astype(np.float32, copy=False)
    if out.ndim == 3:
        return out[:, None]
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2)) if channels_last else out


def load_vision(
    name: str, split: str = "train", root: PathLike | None = None, **kw: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Any registered dataset as ``(x float32 (N, C, H, W) in [0, 1], y int64 (N,))``.

    ``kw`` goes to the dataset's reader (for example ``limit_per_class`` for CIFAR-10 or ``dog=True`` for
    Caltech); an option the reader does not take is an error that lists the ones it does.
    """
    key = _resolve(name)
    spec = VISION_DATASETS[key]
    params = inspect.signature(spec.reader).parameters
    allowed = [p for p in params if p not in {"root", "split", *spec.fixed}]
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        raise NeuroplastError(
            f"dataset {key!r} takes no option(s) {', '.join(unknown)}; allowed: {', '.join(allowed) or 'none'}"
        )
    call: dict[str, Any] = {**spec.fixed, **kw, "split": split}
    if "root" in params:
        call["root"] = root
    x, y = spec.reader(**call)
    return _to_float_nchw(x, spec.channels_last), y.astype(np.int64, copy=False)


# --------------------------------------------------------------------------------------------- verify


def _check(item: str, ok: bool, detail: str, optional: bool = False) -> dict[str, Any]:
    return {"item": item, "ok": ok, "detail": detail, "optional": optional}


def _verify_mnist(folder: Path, kind: str) -> list[dict[str, Any]]:
    checks = []
    for split, names in _MNIST_FILES.items():
        arrays: list[np.ndarray] = []
        for name in names:
            item = f"{kind}/{name}"
            try:
                path = _mnist_file(folder, name, kind)
                data = _read_maybe_gzip(path)
                arr = _parse_idx(data, path)
            except NeuroplastError as exc:
                checks.append(_check(item, False, str(exc)))
                continue
            arrays.append(arr)
            detail = f"{'x'.join(map(str, arr.shape))} {arr.dtype}"
            ok = len(arr) == _MNIST_COUNTS[split]
            if not ok:
                detail += f", expected {_MNIST_COUNTS[split]} samples"
            if kind == "mnist":
                md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
                if md5 == MNIST_CONTENT_MD5[name]:
                    detail += ", content MD5 matches"
                else:
                    ok = False
                    detail += f", content MD5 {md5} != published {MNIST_CONTENT_MD5[name]}; re-download it"
            else:
                detail += " (no published content checksum; structure checked)"
            checks.append(_check(item, ok, detail))
        if len(arrays) == 2:
            try:
                _check_mnist_pair(arrays[0], arrays[1], folder / names[0], folder / names[1])
                checks.append(_check(f"{kind} {split} pair", True, "image and label files agree, labels in 0..9"))
            except NeuroplastError as exc:
                checks.append(_check(f"{kind} {split} pair", False, str(exc)))
    return checks


def _verify_cifar(folder: Path) -> list[dict[str, Any]]:
    tarball = folder / _CIFAR_TARBALL
    item = f"cifar10/{_CIFAR_TARBALL}"
    if not tarball.is_file():
        return [_check(item, False, str(_missing(tarball, "CIFAR-10 tarball")))]
    try:
        members = _scan_cifar_tarball(tarball, None)
    except NeuroplastError as exc:
        return [_check(item, False, str(exc))]
    counts = {(s, c): 0 for s in _SPLITS for c in CIFAR10_CLASSES}
    for split, label, _, _ in members:
        counts[split, CIFAR10_CLASSES[label]] += 1
    checks = []
    for split in _SPLITS:
        wrong = {c: counts[split, c] for c in CIFAR10_CLASSES if counts[split, c] != _CIFAR_COUNTS[split]}
        total = sum(counts[split, c] for c in CIFAR10_CLASSES)
        detail = f"{total} {split} JPEGs"
        if wrong:
            detail += f"; expected {_CIFAR_COUNTS[split]} per class, found {wrong}"
        checks.append(_check(f"{item} {split}", not wrong, detail))
    return checks


def _verify_caltech(folder: Path) -> list[dict[str, Any]]:
    checks = []
    for name, expected in _CALTECH_COUNTS.items():
        path = folder / name
        optional = name == "Faces_easy"
        if not path.is_dir():
            checks.append(_check(f"caltech101/{name}", False, str(_missing(path, "Caltech 101 folder")), optional))
            continue
        n = sum(1 for p in path.iterdir() if p.suffix.lower() in (".jpg", ".jpeg") and not p.name.startswith("."))
        ok = n == expected
        detail = f"{n} images" + ("" if ok else f", expected {expected}")
        checks.append(_check(f"caltech101/{name}", ok, detail, optional))
    return checks


def verify(name: str, root: PathLike | None = None) -> dict[str, Any]:
    """Check that a dataset's files are present and intact, without raising: the report a CLI prints.

    Returns ``{"name", "root", "ok", "checks": [{"item", "ok", "detail", "optional"}]}``; ``ok`` is true when
    every non-optional check passes. MNIST is compared against the published MD5 sums of the decompressed
    IDX content (the data README explains why not the ``.gz`` bytes); other datasets get counts and structure.
    """
    key = _resolve(name)
    base = settings.data_root(root, must_exist=False)
    if key == "digits":
        checks = [_check("sklearn digits", True, "1797 8x8 images bundled with scikit-learn")]
    elif not base.is_dir():
        checks = [_check(str(base), False, f"data directory {base} does not exist; {_DATA_HINT}")]
    elif key in _MNIST_KINDS:
        checks = _verify_mnist(base / key, key)
    elif key == "cifar10":
        checks = _verify_cifar(base / "cifar10")
    else:
        checks = _verify_caltech(base / "caltech101")
    ok = all(c["ok"] for c in checks if not c["optional"])
    return {"name": key, "root": str(base), "ok": ok, "checks": checks}
