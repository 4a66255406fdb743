"""`neuroplast data list|verify|download` without a network: generated files, a fake fetcher, one-line errors."""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from neuroplast.cli import main
from neuroplast.data import catalog
from neuroplast.errors import NeuroplastError


@pytest.fixture
def tiny_catalog(monkeypatch):
    """A catalog with one gzip file dataset and one folder-of-files dataset, checksums of generated content."""
    content = b"tiny idx content\n" * 10
    fake = catalog.Dataset("tiny", "tiny", "generated test data", "none",
                           files=(catalog.FileSpec("a.gz", hashlib.sha256(content).hexdigest(), content=True,
                                                   url="https://example.invalid/a.gz"),))
    wavs = {f"{d}_bob_{i}.wav": bytes([d, i]) * 50 for d in range(2) for i in range(2)}
    stage = Path(__import__("tempfile").mkdtemp())
    (stage / "rec").mkdir()
    for name, data in wavs.items():
        (stage / "rec" / name).write_bytes(data)
    n, digest = catalog.tree_digest(stage / "rec", r"\d_bob_\d+\.wav")
    folder = catalog.Dataset("tinytree", "tinytree", "generated folder", "none",
                             trees=(catalog.TreeSpec("rec", r"\d_bob_\d+\.wav", n, digest),),
                             archive_url="https://example.invalid/t.zip")
    monkeypatch.setattr(catalog, "DATASETS", {"tiny": fake, "tinytree": folder})
    return content, wavs


def test_list_shows_known_datasets(tmp_path, capsys):
    assert main(["data", "list", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("mnist", "fashion-mnist", "fsdd", "cifar10", "caltech101", "ti46"):
        assert name in out
    assert "missing" in out


def test_verify_good_and_damaged_file(tmp_path, tiny_catalog, capsys):
    content, _ = tiny_catalog
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "a.gz").write_bytes(gzip.compress(content))
    assert main(["data", "verify", "tiny", "--root", str(tmp_path)]) == 0
    assert "content sha256 matches" in capsys.readouterr().out
    (tmp_path / "tiny" / "a.gz").write_bytes(gzip.compress(content + b"x"))
    assert main(["data", "verify", "tiny", "--root", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "verification failed for tiny" in captured.err


def test_verify_missing_and_unknown(tmp_path, tiny_catalog, capsys):
    assert main(["data", "verify", "tiny", "--root", str(tmp_path)]) == 2
    assert "missing" in capsys.readouterr().out
    assert main(["data", "verify", "tinny", "--root", str(tmp_path)]) == 2
    assert "did you mean 'tiny'" in capsys.readouterr().err


def test_download_offline_is_one_line(tmp_path, tiny_catalog, capsys, monkeypatch):
    def offline(url, timeout):
        raise __import__("urllib.error").error.URLError("Name or service not known")

    monkeypatch.setattr(catalog.urllib.request, "urlopen", offline)
    assert main(["data", "download", "tiny", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "cannot download https://example.invalid/a.gz" in err and "by hand" in err
    assert not (tmp_path / "tiny" / "a.gz").exists()
    assert not any(p.name.startswith(".download-") for p in (tmp_path / "tiny").iterdir())


def test_download_checks_checksum_before_writing(tmp_path, tiny_catalog):
    content, _ = tiny_catalog
    with pytest.raises(NeuroplastError, match="checksum"):
        catalog.download("tiny", tmp_path, fetch=lambda url, dest: dest.write_bytes(gzip.compress(b"wrong")))
    assert not (tmp_path / "tiny" / "a.gz").exists()
    report = catalog.download("tiny", tmp_path, fetch=lambda url, dest: dest.write_bytes(gzip.compress(content)))
    assert report["ok"] and (tmp_path / "tiny" / "a.gz").is_file()


def test_download_archive_extracts_verified_tree(tmp_path, tiny_catalog):
    _, wavs = tiny_catalog
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in wavs.items():
            zf.writestr(f"repo-abc/rec/{name}", data)
        zf.writestr("repo-abc/rec/0_eve_0.wav", b"other speaker, not selected")
        zf.writestr("repo-abc/README.md", b"readme")
    report = catalog.download("tinytree", tmp_path, fetch=lambda url, dest: dest.write_bytes(buf.getvalue()))
    assert report["ok"]
    assert sorted(p.name for p in (tmp_path / "tinytree" / "rec").iterdir()) == sorted(wavs)


def test_no_public_download_is_refused(tmp_path):
    with pytest.raises(NeuroplastError, match="no public download"):
        catalog.download("ti46", tmp_path)


def test_checksums_of_shared_data_when_present():
    """Where the project's data folder exists, the catalog's checksums must match it (they were computed from it)."""
    root = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (root / "mnist").is_dir():
        pytest.skip("shared data folder not present")
    report = catalog.verify("mnist", root)
    assert report["ok"], report
