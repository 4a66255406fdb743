"""Image readers against tiny files written in the real on-disk formats (IDX gzip, JPEG tarball, Caltech folders)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from neuroplast import settings
from neuroplast.data import vision
from neuroplast.errors import NeuroplastError

REAL_ROOT = settings.data_root(must_exist=False)
HAS_REAL_MNIST = (REAL_ROOT / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROPLAST_CACHE", str(tmp_path / "cache"))


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file as LeCun's format defines it: 00 00 type ndim, big-endian dims, big-endian data."""
    big = arr.astype(arr.dtype.newbyteorder(">"))
    return struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + big.tobytes()


def write_gz(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data))
    return path


def make_mnist(root: Path, kind: str = "mnist", n_train: int = 5, n_test: int = 3, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    made = {}
    for split, n, prefix in (("train", n_train, "train"), ("test", n_test, "t10k")):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_gz(root / kind / f"{prefix}-images-idx3-ubyte.gz", idx_bytes(images))
        write_gz(root / kind / f"{prefix}-labels-idx1-ubyte.gz", idx_bytes(labels))
        made[split] = (images, labels)
    return made


def jpeg_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def cifar_colour(split: str, label: int, index: int) -> np.ndarray:
    """A distinct flat colour per image, so JPEG keeps it almost exactly and a mix-up in order is visible."""
    base = 0 if split == "train" else 7
    rgb = (20 * label + 10 + base, 200 - 15 * index - base, 40 + 20 * label)
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (32, 32, 3)).copy()


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_cifar(root: Path, per_class: int = 2, corrupt: str | None = None, skip_class: str | None = None) -> Path:
    tarball = root / "cifar10" / "CIFAR-10-images.tar.gz"
    tarball.parent.mkdir(parents=True, exist_ok=True)
    members = []
    for split in ("train", "test"):
        for label, cls in enumerate(vision.CIFAR10_CLASSES):
            if cls == skip_class:
                continue
            for i in range(per_class):
                name = f"CIFAR-10-images/{split}/{cls}/{i:04d}.jpg"
                data = jpeg_bytes(cifar_colour(split, label, i))
                members.append((name, data[: len(data) // 2] if name == corrupt else data))
    with tarfile.open(tarball, "w:gz") as tar:
        add_member(tar, "CIFAR-10-images/README.md", b"# not an image\n")
        for name, data in reversed(members):  # archive order must not decide sample order
            add_member(tar, name, data)
    return tarball


def caltech_image(level: int, size: tuple[int, int] = (40, 60)) -> np.ndarray:
    """Gray background ``level`` (identifies the file after resizing) with a bright square for DoG to find."""
    h, w = size
    img = np.full((h, w), level, dtype=np.uint8)
    img[h // 2 - 6 : h // 2 + 6, w // 2 - 6 : w // 2 + 6] = 255
    return img


def make_caltech(root: Path, counts: dict[str, int] | None = None) -> dict[str, list[int]]:
    counts = counts or {"Faces": 6, "Faces_easy": 4, "Motorbikes": 5}
    levels = {}
    for c, (folder, n) in enumerate(counts.items()):
        (root / "caltech101" / folder).mkdir(parents=True, exist_ok=True)
        levels[folder] = []
        for i in range(n):
            level = 10 + 12 * (c * 6 + i)
            img = caltech_image(level)
            pil = Image.fromarray(img) if i % 2 else Image.fromarray(np.stack([img] * 3, axis=-1))
            pil.save(root / "caltech101" / folder / f"image_{i + 1:04d}.jpg", quality=95)
            levels[folder].append(level)
    return levels


def file_index(images: np.ndarray, levels: list[int]) -> list[int]:
    """Which source file each output image came from, read off its background level at the corner."""
    corner = images[:, 0, 0] * 255
    return [int(np.argmin(np.abs(np.array(levels) - v))) for v in corner]


# ------------------------------------------------------------------------------------------------ IDX


def test_load_idx_reads_gzip_and_raw_exactly(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    gz = write_gz(tmp_path / "a.gz", idx_bytes(arr))
    raw = tmp_path / "a-raw"
    raw.write_bytes(idx_bytes(arr))
    for path in (gz, raw):
        out = vision.load_idx(path)
        assert out.dtype == np.uint8 and out.flags.writeable
        np.testing.assert_array_equal(out, arr)


def test_load_idx_multibyte_types_come_back_native_endian(tmp_path):
    ints = np.array([[-5, 70000], [3, -1]], dtype=np.int32)
    floats = np.array([0.5, -2.25, 1e6], dtype=np.float32)
    out_i = vision.load_idx(write_gz(tmp_path / "i.gz", idx_bytes(ints, 0x0C)))
    out_f = vision.load_idx(write_gz(tmp_path / "f.gz", idx_bytes(floats, 0x0D)))
    assert out_i.dtype.isnative and out_f.dtype.isnative
    np.testing.assert_array_equal(out_i, ints)
    np.testing.assert_array_equal(out_f, floats)


def test_load_idx_truncated_files_name_the_file(tmp_path):
    data = idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8))
    raw = tmp_path / "short-raw"
    raw.write_bytes(data[:-10])
    with pytest.raises(NeuroplastError, match=r"short-raw.*truncated.*re-download"):
        vision.load_idx(raw)
    gz = tmp_path / "short.gz"
    gz.write_bytes(gzip.compress(data)[:-12])
    with pytest.raises(NeuroplastError, match=r"short\.gz.*gzip.*re-download"):
        vision.load_idx(gz)
    tiny = tmp_path / "tiny"
    tiny.write_bytes(b"\x00\x00")
    with pytest.raises(NeuroplastError, match="too short"):
        vision.load_idx(tiny)


def test_load_idx_rejects_wrong_magic_type_and_trailing_bytes(tmp_path):
    good = idx_bytes(np.zeros((2, 2), dtype=np.uint8))
    cases = {
        "magic": (b"<htm" + good[4:], "not an IDX file"),
        "type": (good[:2] + b"\x07" + good[3:], "unknown IDX element type 0x07"),
        "long": (good + b"\x00\x00", "2 bytes too long"),
    }
    for name, (data, message) in cases.items():
        path = write_gz(tmp_path / f"{name}.gz", data)
        with pytest.raises(NeuroplastError, match=message) as info:
            vision.load_idx(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_load_idx_corrupt_gzip(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with pytest.raises(NeuroplastError, match=r"bad\.gz.*corrupt or truncated gzip"):
        vision.load_idx(path)


# ------------------------------------------------------------------------------------------------ MNIST


@pytest.mark.parametrize("kind", ["mnist", "fashion-mnist"])
def test_load_mnist_returns_what_was_written(tmp_path, kind):
    made = make_mnist(tmp_path, kind)
    for split in ("train", "test"):
        images, labels = vision.load_mnist(tmp_path, split, kind=kind)
        assert images.dtype == np.uint8 and labels.dtype == np.int64
        np.testing.assert_array_equal(images, made[split][0])
        np.testing.assert_array_equal(labels, made[split][1])


def test_load_mnist_reads_already_gunzipped_files(tmp_path):
    made = make_mnist(tmp_path)
    gz = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    (tmp_path / "mnist" / "t10k-images-idx3-ubyte").write_bytes(gzip.decompress(gz.read_bytes()))
    gz.unlink()
    images, _ = vision.load_mnist(tmp_path, "test")
    np.testing.assert_array_equal(images, made["test"][0])


def test_load_mnist_label_out_of_range(tmp_path):
    make_mnist(tmp_path)
    write_gz(tmp_path / "mnist" / "train-labels-idx1-ubyte.gz", idx_bytes(np.array([1, 2, 12, 3, 4], np.uint8)))
    with pytest.raises(NeuroplastError, match=r"label 12 at index 2 is outside 0\.\.9"):
        vision.load_mnist(tmp_path, "train")


def test_load_mnist_count_mismatch(tmp_path):
    make_mnist(tmp_path)
    write_gz(tmp_path / "mnist" / "train-labels-idx1-ubyte.gz", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(NeuroplastError, match="holds 5 images but .* holds 4 labels"):
        vision.load_mnist(tmp_path, "train")


def test_load_mnist_swapped_files_are_caught(tmp_path):
    make_mnist(tmp_path)
    folder = tmp_path / "mnist"
    images = (folder / "t10k-images-idx3-ubyte.gz").read_bytes()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(images)
    with pytest.raises(NeuroplastError, match=r"expected uint8 \(N, 28, 28\)"):
        vision.load_mnist(tmp_path, "test")


def test_missing_file_and_missing_dir_tell_the_user_about_neuroplast_data(tmp_path, monkeypatch):
    make_mnist(tmp_path)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(NeuroplastError, match=r"t10k-labels-idx1-ubyte\.gz.*NEUROPLAST_DATA"):
        vision.load_mnist(tmp_path, "test")
    monkeypatch.setenv("NEUROPLAST_DATA", str(tmp_path / "nowhere"))
    for call in (vision.load_mnist, vision.load_cifar10, vision.load_caltech_face_motorbike):
        with pytest.raises(NeuroplastError, match=r"nowhere.*NEUROPLAST_DATA"):
            call(split="test")


def test_unknown_split_and_kind(tmp_path):
    make_mnist(tmp_path)
    with pytest.raises(NeuroplastError, match="use 'train' or 'test'"):
        vision.load_mnist(tmp_path, "validation")
    with pytest.raises(NeuroplastError, match="unknown MNIST kind"):
        vision.load_mnist(tmp_path, "test", kind="kmnist")


# ------------------------------------------------------------------------------------------------ CIFAR-10


def test_load_cifar10_decodes_jpegs_in_class_then_name_order(tmp_path):
    make_cifar(tmp_path)
    for split in ("train", "test"):
        images, labels = vision.load_cifar10(tmp_path, split)
        assert images.shape == (20, 32, 32, 3) and images.dtype == np.uint8 and labels.dtype == np.int64
        np.testing.assert_array_equal(labels, np.repeat(np.arange(10), 2))
        expected = np.stack([cifar_colour(split, label, i) for label in range(10) for i in range(2)])
        assert np.abs(images.astype(int) - expected).max() <= 3


def test_load_cifar10_cache_is_written_and_reused(tmp_path, monkeypatch):
    make_cifar(tmp_path)
    first = vision.load_cifar10(tmp_path, "test")
    sidecars = list((tmp_path / "cache" / "cifar10").glob("*.json"))
    assert len(sidecars) == 1 and not list((tmp_path / "cache" / "cifar10").glob("*.tmp"))

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although a valid cache exists")

    monkeypatch.setattr(vision, "_decode_cifar", no_decoding)
    second = vision.load_cifar10(tmp_path, "test")
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    few = vision.load_cifar10(tmp_path, "test", limit_per_class=1)
    np.testing.assert_array_equal(few[0], first[0][::2])
    np.testing.assert_array_equal(few[1], np.arange(10))


def count_decodes(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = vision._decode_cifar

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(vision, "_decode_cifar", counted)
    return calls


def test_load_cifar10_never_trusts_a_damaged_or_partial_cache(tmp_path, monkeypatch):
    make_cifar(tmp_path)
    good = vision.load_cifar10(tmp_path, "train")
    folder = tmp_path / "cache" / "cifar10"
    images_npy = next(folder.glob("*.images.npy"))
    calls = count_decodes(monkeypatch)

    blob = bytearray(images_npy.read_bytes())
    blob[-1] ^= 0xFF  # same size, one pixel flipped: only the checksum can tell
    images_npy.write_bytes(bytes(blob))
    with pytest.warns(UserWarning, match="damaged CIFAR-10 cache"):
        again = vision.load_cifar10(tmp_path, "train")
    np.testing.assert_array_equal(again[0], good[0])

    images_npy.write_bytes(images_npy.read_bytes()[:200])
    with pytest.warns(UserWarning, match="damaged CIFAR-10 cache"):
        vision.load_cifar10(tmp_path, "train")

    next(folder.glob("*.json")).unlink()  # arrays without the sidecar written last: an interrupted write
    np.testing.assert_array_equal(vision.load_cifar10(tmp_path, "train")[0], good[0])
    assert len(calls) == 3
    vision.load_cifar10(tmp_path, "train")
    assert len(calls) == 3


def test_load_cifar10_new_tarball_invalidates_cache(tmp_path, monkeypatch):
    tarball = make_cifar(tmp_path)
    vision.load_cifar10(tmp_path, "test")
    calls = count_decodes(monkeypatch)
    stat = tarball.stat()
    os.utime(tarball, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    vision.load_cifar10(tmp_path, "test")
    assert len(calls) == 1


def test_load_cifar10_corrupt_jpeg_names_the_member(tmp_path):
    make_cifar(tmp_path, corrupt="CIFAR-10-images/train/cat/0001.jpg")
    with pytest.raises(NeuroplastError, match=r"CIFAR-10-images/train/cat/0001\.jpg.*not a readable image"):
        vision.load_cifar10(tmp_path, "train")


def test_load_cifar10_incomplete_or_truncated_tarball(tmp_path):
    make_cifar(tmp_path, skip_class="frog")
    with pytest.raises(NeuroplastError, match="no test images for class.*frog"):
        vision.load_cifar10(tmp_path, "test")
    tarball = make_cifar(tmp_path)
    whole = tarball.read_bytes()
    for cut in (len(whole) // 2, len(whole) - 20):  # the second cut keeps every member, only the stream's end is lost
        tarball.write_bytes(whole[:cut])
        with pytest.raises(NeuroplastError, match=r"CIFAR-10-images\.tar\.gz.*truncated or corrupt, re-download"):
            vision.load_cifar10(tmp_path, "test")
    with pytest.raises(NeuroplastError, match="limit_per_class"):
        vision.load_cifar10(tmp_path, "test", limit_per_class=0)


# ------------------------------------------------------------------------------------------------ Caltech


def test_caltech_split_is_fixed_disjoint_and_complete(tmp_path):
    levels = make_caltech(tmp_path)
    seen = {}
    for split in ("train", "test"):
        images, labels = vision.load_caltech_face_motorbike(tmp_path, split, size=(20, 30))
        assert images.shape[1:] == (20, 30) and images.dtype == np.float32
        assert 0.0 <= images.min() and images.max() <= 1.0
        faces, bikes = images[labels == 0], images[labels == 1]
        assert np.all(np.diff(labels) >= 0)
        seen[split] = (file_index(faces, levels["Faces"]), file_index(bikes, levels["Motorbikes"]))
        again, _ = vision.load_caltech_face_motorbike(tmp_path, split, size=(20, 30))
        np.testing.assert_array_equal(images, again)
    (train_f, train_m), (test_f, test_m) = seen["train"], seen["test"]
    assert (len(train_f), len(test_f), len(train_m), len(test_m)) == (3, 3, 2, 3)
    assert sorted(train_f + test_f) == list(range(6)) and sorted(train_m + test_m) == list(range(5))
    assert train_f == sorted(train_f) and test_m == sorted(test_m)
    face_splits = set()
    for seed in range(6):
        images, _ = vision.load_caltech_face_motorbike(tmp_path, "train", size=(20, 30), seed=seed)
        face_splits.add(tuple(file_index(images[:3], levels["Faces"])))
    assert len(face_splits) > 1, "the seed should change the split"


def test_caltech_faces_easy_and_grayscale_values(tmp_path):
    levels = make_caltech(tmp_path)
    images, labels = vision.load_caltech_face_motorbike(tmp_path, "test", size=(40, 60), faces_dir="Faces_easy")
    assert (labels == 0).sum() == 2
    assert set(file_index(images[labels == 0], levels["Faces_easy"])) <= {0, 1, 2, 3}
    corner = images[:, 0, 0] * 255
    assert np.min(np.abs(corner[labels == 0][:, None] - np.array(levels["Faces_easy"])), axis=1).max() <= 3


def test_caltech_dog_shapes_and_range(tmp_path):
    make_caltech(tmp_path)
    on, labels = vision.load_caltech_face_motorbike(tmp_path, "train", size=(24, 36), dog=True)
    assert on.shape == (len(labels), 24, 36) and on.dtype == np.float32
    assert on.min() >= 0.0 and np.allclose(on.reshape(len(on), -1).max(axis=1), 1.0)
    both, _ = vision.load_caltech_face_motorbike(tmp_path, "train", size=(24, 36), dog=True, dog_channels=2)
    assert both.shape == (len(labels), 2, 24, 36) and both.min() >= 0.0
    assert np.allclose(both.reshape(len(both), -1).max(axis=1), 1.0)
    assert (both[:, 1] > 0).any(), "the OFF channel should respond around the bright square"
    assert not ((both[:, 0] > 0) & (both[:, 1] > 0)).any(), "ON and OFF are the two signs of one difference"
    flat = vision._dog(np.full((1, 9, 9), 0.5), (1.0, 2.0), 2, 3)
    assert np.isfinite(flat).all() and not flat.any()


def test_caltech_bad_inputs(tmp_path):
    make_caltech(tmp_path, {"Faces": 2, "Motorbikes": 2})
    for bad in (tmp_path / "caltech101" / "Faces").iterdir():
        bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(NeuroplastError, match=r"Faces/image_000\d\.jpg.*not a readable image"):
        vision.load_caltech_face_motorbike(tmp_path, "train")
    with pytest.raises(NeuroplastError, match="faces_dir must be one of Faces, Faces_easy"):
        vision.load_caltech_face_motorbike(tmp_path, "train", faces_dir="faces")
    with pytest.raises(NeuroplastError, match=r"Faces_easy.*NEUROPLAST_DATA"):
        vision.load_caltech_face_motorbike(tmp_path, "train", faces_dir="Faces_easy")
    with pytest.raises(NeuroplastError, match="dog_channels"):
        vision.load_caltech_face_motorbike(tmp_path, "train", dog=True, dog_channels=3)


# ------------------------------------------------------------------------------------------------ digits


def test_digits_fallback_split():
    train_x, train_y = vision.load_digits_fallback("train")
    test_x, test_y = vision.load_digits_fallback("test")
    assert train_x.shape == (1438, 8, 8) and test_x.shape == (359, 8, 8)
    assert train_x.dtype == np.uint8 and train_x.max() == 255 and train_y.dtype == np.int64
    from sklearn.datasets import load_digits

    full = load_digits()
    every = sorted(x.tobytes() + bytes([y]) for x, y in zip(np.concatenate([train_x, test_x]), np.r_[train_y, test_y]))
    source = np.rint(full.images * 255 / 16).astype(np.uint8)
    assert every == sorted(x.tobytes() + bytes([y]) for x, y in zip(source, full.target))
    np.testing.assert_array_equal(vision.load_digits_fallback("test", seed=0)[0], test_x)
    assert not np.array_equal(vision.load_digits_fallback("test", seed=1)[1], test_y)


# ------------------------------------------------------------------------------------------------ registry


def test_load_vision_returns_float_nchw(tmp_path):
    made = make_mnist(tmp_path)
    make_cifar(tmp_path)
    make_caltech(tmp_path)
    x, y = vision.load_vision("mnist", "test", root=tmp_path)
    assert x.shape == (3, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(x[:, 0], made["test"][0] / 255.0, atol=1e-7)
    x, _ = vision.load_vision("cifar10", "test", root=tmp_path, limit_per_class=1)
    raw, _ = vision.load_cifar10(tmp_path, "test", limit_per_class=1)
    assert x.shape == (10, 3, 32, 32) and x.flags.c_contiguous
    np.testing.assert_allclose(x, raw.transpose(0, 3, 1, 2) / 255.0, atol=1e-7)
    x, _ = vision.load_vision("caltech-face-motorbike", "test", root=tmp_path, size=(16, 24), dog=True, dog_channels=2)
    assert x.shape[1:] == (2, 16, 24) and x.dtype == np.float32
    x, _ = vision.load_vision("Caltech_Face_Motorbike", "test", root=tmp_path, size=(16, 24))
    assert x.shape[1:] == (1, 16, 24)
    x, y = vision.load_vision("digits", "test")
    assert x.shape == (359, 1, 8, 8) and x.max() == 1.0
    assert set(vision.VISION_DATASETS) == {"mnist", "fashion-mnist", "cifar10", "caltech-face-motorbike", "digits"}


def test_load_vision_unknown_name_and_option(tmp_path):
    with pytest.raises(NeuroplastError, match=r"unknown image dataset 'mnsit'; did you mean 'mnist'\?.*cifar10"):
        vision.load_vision("mnsit", "train")
    with pytest.raises(NeuroplastError, match="choose one of: mnist, fashion-mnist, cifar10"):
        vision.load_vision("imagenet", "train")
    with pytest.raises(NeuroplastError, match="takes no option.*limit_per_clas.*allowed: limit_per_class"):
        vision.load_vision("cifar10", "train", root=tmp_path, limit_per_clas=3)
    with pytest.raises(NeuroplastError, match="takes no option.*kind"):
        vision.load_vision("mnist", "train", root=tmp_path, kind="fashion-mnist")


# ------------------------------------------------------------------------------------------------ verify


def test_verify_reports_without_raising(tmp_path, monkeypatch):
    make_mnist(tmp_path)
    report = vision.verify("mnist", root=tmp_path)
    assert not report["ok"] and any("MD5" in c["detail"] and "re-download" in c["detail"] for c in report["checks"])

    folder = tmp_path / "mnist"
    sums = {p.name: hashlib.md5(gzip.decompress(p.read_bytes())).hexdigest() for p in folder.iterdir()}
    monkeypatch.setattr(vision, "MNIST_CONTENT_MD5", sums)
    monkeypatch.setattr(vision, "_MNIST_COUNTS", {"train": 5, "test": 3})
    report = vision.verify("mnist", root=tmp_path)
    assert report["ok"], report
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    report = vision.verify("mnist", root=tmp_path)
    assert not report["ok"] and any("not found" in c["detail"] for c in report["checks"])

    assert not vision.verify("cifar10", root=tmp_path)["ok"]
    make_cifar(tmp_path)
    report = vision.verify("cifar10", root=tmp_path)
    assert not report["ok"] and "expected 1000 per class" in report["checks"][1]["detail"]
    make_caltech(tmp_path, {"Faces": 2, "Motorbikes": 2})
    report = vision.verify("caltech-face-motorbike", root=tmp_path)
    assert not report["ok"] and report["checks"][0]["detail"] == "2 images, expected 435"
    assert vision.verify("digits")["ok"]
    assert not vision.verify("mnist", root=tmp_path / "nowhere")["ok"]


# ------------------------------------------------------------------------------------------------ real data


@pytest.mark.skipif(not HAS_REAL_MNIST, reason=f"no MNIST under {REAL_ROOT}; set NEUROPLAST_DATA")
def test_real_mnist_test_split():
    images, labels = vision.load_mnist(REAL_ROOT, "test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    counts = np.bincount(labels, minlength=10)
    assert len(counts) == 10 and counts.sum() == 10000 and counts.min() > 0


def test_limit_on_a_class_sorted_dataset_keeps_every_class(tmp_path):
    """The CIFAR tarball decodes class by class: ``limit_train`` must not give a one-class training set."""
    import torch

    from neuroplast.data.images import balanced_head, load_image_split

    make_cifar(tmp_path, per_class=3)
    x, y, _ = load_image_split("cifar10", "train", root=tmp_path, limit=20)
    assert len(y) == 20 and sorted(torch.bincount(y, minlength=10).tolist()) == [2] * 10
    assert torch.equal(balanced_head(torch.tensor([0, 0, 0, 1, 1, 2]), 4), torch.tensor([0, 1, 3, 5]))
    full, full_y, _ = load_image_split("cifar10", "train", root=tmp_path)
    assert torch.equal(x, full[balanced_head(full_y, 20)])
