"""Faults and bad input: a killed run resumes exactly, writes are atomic, and every bad input ends in one line.

CLI-level checks run ``python -m neuroplast.cli`` as a real process (exit code, stderr, files left behind);
everything trains tiny SSTDP networks on scikit-learn's bundled digits, on CPU with one thread.
"""

from __future__ import annotations

import copy
import errno
import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from scipy.io import wavfile

from neuroplast.cli import main
from neuroplast.config import load_config
from neuroplast.data import speech
from neuroplast.data.images import load_image_split
from neuroplast.errors import NeuroplastError
from neuroplast.learning.sstdp import IFSpec
from neuroplast.models.sstdp import SSTDPNet
from neuroplast.train import checkpoint as ckpt_mod
from neuroplast.train import trainer as trainer_mod
from tiny_configs import tiny_sstdp

# Six short epochs (~0.3 s each: batch size 1) so a poller can kill the process between two of them.
RUN = tiny_sstdp("faults", 5, 500, 60, batch_size=1, epochs=6, lr_decay=0.9)


def write_config(folder: Path, data: dict = RUN, name: str = "cfg.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data))
    return path


def cli_env(tmp: Path) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "NEUROPLAST_CACHE": str(tmp / "cache")}


def run_cli(tmp: Path, *args) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "neuroplast.cli", *map(str, args)], capture_output=True, text=True,
                          env=cli_env(tmp), timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def assert_one_line_error(code: int, err: str, *needles: str):
    lines = err.strip().splitlines()
    assert code == 2, err
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("neuroplast: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes: 'nothing overwritten' means two snapshots are equal."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def load_ckpt(folder: Path) -> dict:
    return torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=False)


def assert_same_run(a: Path, b: Path):
    """Same weights, optimizer state, RNG states, per-epoch metrics (but the clock) and final test metrics."""
    ca, cb = load_ckpt(a), load_ckpt(b)
    assert ca["epoch"] == cb["epoch"]
    assert ca["model"].keys() == cb["model"].keys()
    for k in ca["model"]:
        assert torch.equal(ca["model"][k], cb["model"][k]), k
    assert torch.equal(ca["rng"]["torch"], cb["rng"]["torch"])
    assert repr(ca["optimizer"]) == repr(cb["optimizer"])

    def no_clock(records):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in records]

    assert no_clock(ca["history"]) == no_clock(cb["history"])
    lines_a, lines_b = ((d / "metrics.jsonl").read_text().splitlines() for d in (a, b))
    assert no_clock(map(json.loads, lines_a)) == no_clock(map(json.loads, lines_b))
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    for key in ("test_accuracy", "lenient_accuracy", "mean_output_time", "additions_per_inference"):
        assert ma[key] == mb[key], key


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """One uninterrupted run of RUN, the yardstick for every interrupted one."""
    tmp = tmp_path_factory.mktemp("reference")
    out = tmp / "run"
    assert main(["train", str(write_config(tmp)), "--out", str(out)]) == 0
    assert [json.loads(x)["epoch"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4, 5, 6]
    return out


# ------------------------------------------------------------------------------------------ kill and resume


def wait_for(predicate, proc, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "the training process ended before it could be killed"
        assert time.monotonic() < deadline, "timed out waiting for the training process"
        time.sleep(0.005)


def jsonl_lines(out: Path) -> int:
    try:
        return len((out / "metrics.jsonl").read_text().splitlines())
    except FileNotFoundError:
        return 0


def start_train(tmp: Path, cfg: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "neuroplast.cli", "train", str(cfg), "--out", str(out), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env(tmp))


def test_sigkill_mid_run_then_resume_equals_uninterrupted(tmp_path, reference):
    out = tmp_path / "killed"
    proc = start_train(tmp_path, write_config(tmp_path), out)
    try:
        wait_for(lambda: jsonl_lines(out) >= 2, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "metrics.json").exists(), "killed too late: the run had already finished"
    killed_at = load_ckpt(out)["epoch"]  # the last whole checkpoint; a kill mid-write leaves the previous one
    assert 0 <= killed_at < RUN["learning"]["epochs"] - 1
    code, stdout, err = run_cli(tmp_path, "resume", out)
    assert code == 0, err
    assert f"resuming faults after epoch {killed_at + 1}/6" in err
    assert json.loads(stdout.strip().splitlines()[-1])["test_accuracy"] == json.loads(
        (reference / "metrics.json").read_text())["test_accuracy"]
    assert_same_run(reference, out)


@pytest.mark.parametrize("moment", ["at-start", "first-epoch"])
def test_killed_before_first_checkpoint_has_nothing_to_resume(tmp_path, reference, moment):
    out = tmp_path / "early"
    if moment == "first-epoch":
        # --force over an earlier, resumable run: once the new run starts, `resume` must not pick up the old one
        out.mkdir()
        (out / "checkpoint.pt").write_bytes((reference / "checkpoint.pt").read_bytes())
        proc = start_train(tmp_path, write_config(tmp_path), out, "--force")
    else:
        proc = start_train(tmp_path, write_config(tmp_path), out)
    try:
        if moment == "first-epoch":  # config.yaml is written just before epoch 1 starts
            wait_for(lambda: (out / "config.yaml").exists(), proc)
        else:
            time.sleep(0.2)  # still importing: the result folder does not exist yet
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    if (out / "checkpoint.pt").exists():  # the machine was slow enough for epoch 1 to finish: resume must work
        assert (out / "checkpoint.pt").read_bytes() != (reference / "checkpoint.pt").read_bytes()
        code, _, err = run_cli(tmp_path, "resume", out)
        assert code == 0, err
        return
    code, _, err = run_cli(tmp_path, "resume", out)
    assert_one_line_error(code, err, "nothing to resume")
    if out.exists():
        assert "no checkpoint yet" in err and "config.yaml" in err
        load_config(out / "config.yaml")  # the command the message suggests starts from a valid config
    else:
        assert moment == "at-start" and "does not exist" in err


def test_log_lines_past_the_checkpoint_are_dropped_on_resume(tmp_path, reference):
    """Killed after an epoch's metrics line but before its checkpoint: that epoch runs again and is logged once."""
    out = tmp_path / "run"
    assert main(["train", str(write_config(tmp_path)), "--out", str(out), "--set", "train.stop_after=2"]) == 0
    lines = (out / "metrics.jsonl").read_text().splitlines()
    with open(out / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({**json.loads(lines[-1]), "epoch": 3}) + "\n" + '{"epoch": 4, "trai')  # + torn line
    assert main(["resume", str(out)]) == 0
    assert_same_run(reference, out)


# ------------------------------------------------------------------------------------------ atomic writes


class _HalfWriteFile:
    """A file whose write stores the first half of the bytes, then fails like a full disk."""

    def __init__(self, fh):
        self._fh = fh

    def write(self, data):
        self._fh.write(data[: len(data) // 2])
        self._fh.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()

    def __getattr__(self, name):
        return getattr(self._fh, name)


class FailingOs:
    """Stands in for a module's ``os``: ``fdopen`` files fail half way while ``armed``; the rest is real ``os``."""

    def __init__(self, armed: bool = True):
        self.armed = armed
        self.failures = 0

    def fdopen(self, fd, *args, **kwargs):
        fh = os.fdopen(fd, *args, **kwargs)
        if not self.armed:
            return fh
        self.failures += 1
        return _HalfWriteFile(fh)

    def __getattr__(self, name):
        return getattr(os, name)


def tiny_checkpoint(path: Path, value: float):
    ckpt_mod.save_checkpoint(path, model={"w": torch.full((4,), value)}, optimizer={}, rng=ckpt_mod.rng_state(),
                             history=[], epoch=0, seconds=0.0, config={})


def test_checkpoint_write_failing_half_way_keeps_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    tiny_checkpoint(path, 1.0)
    before = path.read_bytes()
    fake = FailingOs()
    monkeypatch.setattr(ckpt_mod, "os", fake)
    with pytest.raises(NeuroplastError, match="No space left on device.*previous version"):
        tiny_checkpoint(path, 2.0)
    assert fake.failures == 1
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left behind

    def broken_save(*args, **kwargs):  # serialisation itself fails: the file is never touched
        raise RuntimeError("pickling failed")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(RuntimeError, match="pickling failed"):
        tiny_checkpoint(path, 3.0)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    assert torch.equal(ckpt_mod.load_checkpoint(path)["model"]["w"], torch.ones(4))


def test_disk_full_mid_run_is_one_line_and_resume_is_exact(tmp_path, monkeypatch, capsys, reference):
    """The epoch-2 checkpoint write fails half way: one clear line, epoch 1's checkpoint intact, resume exact."""
    fake = FailingOs(armed=False)
    monkeypatch.setattr(ckpt_mod, "os", fake)
    real_save, calls = trainer_mod.save_checkpoint, []

    def save_and_fail_second(path, **content):
        calls.append(content["epoch"])
        fake.armed = len(calls) == 2
        return real_save(path, **content)

    monkeypatch.setattr(trainer_mod, "save_checkpoint", save_and_fail_second)
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["train", str(write_config(tmp_path)), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("neuroplast: error: cannot write") and "No space left on device" in err[-1]
    assert calls == [0, 1] and fake.failures == 1
    assert load_ckpt(out)["epoch"] == 0
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    assert main(["resume", str(out)]) == 0
    assert_same_run(reference, out)


# ------------------------------------------------------------------------------------------ damaged checkpoints


def damaged_copy(reference: Path, dest: Path, damage) -> Path:
    dest.mkdir(parents=True)
    for name in ("config.yaml", "metrics.jsonl", "metrics.json"):
        (dest / name).write_bytes((reference / name).read_bytes())
    raw = (reference / "checkpoint.pt").read_bytes()
    if damage == "truncated":
        (dest / "checkpoint.pt").write_bytes(raw[: len(raw) // 2])
    else:
        content = load_ckpt(reference)
        damage(content)
        torch.save(content, dest / "checkpoint.pt")
    return dest


def _set(path: tuple, value):
    def damage(content):
        node = content
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return damage


DAMAGE = {
    "truncated": ("truncated", ["unreadable", "truncated"]),
    "other-format": (_set(("format",), 99), ["format 99 (written by neuroplast", "reads format 1",
                                             "retrain with this version"]),
    "wrong-shape": (_set(("model", "layers.0.weight"), torch.zeros(3, 3)),
                    ["does not fit the model", "size mismatch for layers.0.weight"]),
}


@pytest.mark.parametrize("command", ["eval", "resume"])
@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_checkpoint_is_refused_in_one_line(tmp_path, reference, kind, command):
    damage, needles = DAMAGE[kind]
    folder = damaged_copy(reference, tmp_path / kind, damage)
    before = snapshot(folder)
    code, stdout, err = run_cli(tmp_path, command, folder)
    assert_one_line_error(code, err, *needles)
    assert stdout == "" and snapshot(folder) == before


@pytest.mark.parametrize("damage, needle", [
    (lambda c: c.pop("optimizer"), "lacks optimizer"),
    (lambda c: c.pop("config"), "lacks config"),
    (_set(("config", "learning", "lr"), -1), "learning.lr"),
    (_set(("config", "model", "layers"), [{"type": "linear", "out": 7}, {"type": "linear", "out": 10}]),
     "does not fit the model"),
])
@pytest.mark.parametrize("command", ["eval", "resume"])
def test_incompatible_checkpoint_in_process(tmp_path, reference, capsys, damage, needle, command):
    folder = damaged_copy(reference, tmp_path / "c", damage)
    before = snapshot(folder)
    capsys.readouterr()
    assert main([command, str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("neuroplast: error: checkpoint") and needle in err[0], err
    assert snapshot(folder) == before


# ------------------------------------------------------------------------------------------ bad data and config


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    return struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def fake_mnist(root: Path, n: int = 8, images: bytes | None = None, labels: bytes | None = None) -> Path:
    """A data root in the real layout: ``mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``."""
    rng = np.random.default_rng(0)
    folder = root / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        img = images if images is not None else idx_bytes(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        lab = labels if labels is not None else idx_bytes(rng.integers(0, 10, n, dtype=np.uint8))
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(img))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(lab))
    return root


def mnist_config(root: Path) -> dict:
    data = copy.deepcopy(RUN)
    data["data"] = {"dataset": "mnist", "root": str(root)}
    return data


def _bad_magic(tmp):
    good = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    return mnist_config(fake_mnist(tmp / "data", images=b"\x01\x02" + good[2:]))


def _truncated(tmp):
    good = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    return mnist_config(fake_mnist(tmp / "data", images=good[:-100]))


def _label_12(tmp):
    return mnist_config(fake_mnist(tmp / "data", n=4, labels=idx_bytes(np.array([1, 2, 12, 3], np.uint8))))


def _empty_idx(tmp):
    return mnist_config(fake_mnist(tmp / "data", n=0))


def _missing_root(tmp):
    return mnist_config(tmp / "nowhere")


def _too_few_outputs(tmp):
    data = copy.deepcopy(RUN)
    data["model"]["layers"][-1]["out"] = 5
    return data


def _zero_limit(tmp):
    data = copy.deepcopy(RUN)
    data["data"]["limit_train"] = 0
    return data


def _empty_caltech(tmp):
    (tmp / "data" / "caltech101" / "Faces").mkdir(parents=True)
    (tmp / "data" / "caltech101" / "Motorbikes").mkdir(parents=True)
    data = copy.deepcopy(RUN)
    data["data"] = {"dataset": "caltech-face-motorbike", "root": str(tmp / "data")}
    return data


BAD_INPUTS = {
    "data dir missing, no fallback": (_missing_root, ["data directory", "does not exist", "NEUROPLAST_DATA"]),
    "IDX wrong magic": (_bad_magic, ["train-images-idx3-ubyte.gz", "not an IDX file"]),
    "IDX truncated": (_truncated, ["train-images-idx3-ubyte.gz", "truncated"]),
    "label out of range (file)": (_label_12, ["label 12 at index 2", "outside 0..9"]),
    "label out of range (model)": (_too_few_outputs, ["labels 0..9", "5 outputs"]),
    "empty split (IDX)": (_empty_idx, ["split 'train' is empty"]),
    "empty split (limit 0)": (_zero_limit, ["data.limit_train", "greater than or equal to 1"]),
    "empty split (folder)": (_empty_caltech, ["Faces", "holds no .jpg images"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_overwrites_nothing(tmp_path, case):
    make, needles = BAD_INPUTS[case]
    cfg = write_config(tmp_path, make(tmp_path))
    out = tmp_path / "old-run"  # an earlier run that --force would replace, but only once the new one can start
    out.mkdir()
    for name in ("config.yaml", "metrics.json", "metrics.jsonl", "checkpoint.pt"):
        (out / name).write_text(f"earlier {name}\n")
    before = snapshot(out)
    code, stdout, err = run_cli(tmp_path, "train", cfg, "--out", out, "--force")
    assert_one_line_error(code, err, *needles)
    assert stdout == "" and snapshot(out) == before


def test_failed_start_creates_no_result_folder(tmp_path):
    code, _, err = run_cli(tmp_path, "train", write_config(tmp_path, _missing_root(tmp_path)), "--out",
                           tmp_path / "new")
    assert_one_line_error(code, err, "does not exist")
    assert not (tmp_path / "new").exists()


def test_nan_inputs_are_refused(monkeypatch):
    net = SSTDPNet((4,), [{"type": "linear", "out": 3}], IFSpec(theta=1.0, t_max=8))
    good = torch.tensor([[0.0, 1.0, 2.0, 8.0]])
    assert net(good).shape == (1, 3)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(NeuroplastError, match="NaN or inf"):
            net(good.clone().index_fill_(1, torch.tensor([2]), bad))
    from neuroplast.data import vision

    x = np.zeros((3, 1, 8, 8), np.float32)
    x[1, 0, 2, 2] = np.nan
    monkeypatch.setattr(vision, "load_vision", lambda *a, **k: (x, np.zeros(3, np.int64)))
    with pytest.raises(NeuroplastError, match="NaN or inf pixel values"):
        load_image_split("digits", "train")


# ------------------------------------------------------------------------------------------ determinism


def test_same_seed_same_checkpoint(tmp_path, reference):
    out = tmp_path / "again"
    assert main(["train", str(write_config(tmp_path)), "--out", str(out)]) == 0
    assert_same_run(reference, out)
    a, b = load_ckpt(reference), load_ckpt(out)
    assert a["rng"]["numpy"][1].tolist() == b["rng"]["numpy"][1].tolist() and a["rng"]["python"] == b["rng"]["python"]


# ------------------------------------------------------------------------------------------ speech cache
# tests/test_speech.py already covers: truncated data file, unparsable marker, missing data file, repeated and
# concurrent writers. Here: a same-length corruption, a crash between data file and marker, a write that fails
# half way, and a marker that belongs to another entry.


class CountingEncoder(speech.MelThresholdEncoder):
    calls = 0

    def encode_file(self, path):
        type(self).calls += 1
        return super().encode_file(path)


def tones(folder: Path, n: int = 3) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        t = np.arange(2400) / 8000
        p = folder / f"u{i}.wav"
        wavfile.write(p, 8000, (0.3 * np.sin(2 * np.pi * (300 + 200 * i) * t) * 32767).astype(np.int16))
        paths.append(p)
    return paths


@pytest.fixture()
def cached(tmp_path):
    paths = tones(tmp_path / "wav")
    enc = CountingEncoder(n_mels=12, n_steps=80)
    CountingEncoder.calls = 0
    reference = speech.encode_dataset(enc, paths, cache_dir=tmp_path / "c")
    (entry,) = (tmp_path / "c").iterdir()
    return enc, paths, tmp_path / "c", entry, reference


def test_speech_cache_same_length_corruption_is_reencoded(cached):
    enc, paths, cache, entry, reference = cached
    (data,) = entry.glob("spikes-*.npy")
    raw = bytearray(data.read_bytes())
    raw[-1] ^= 0xFF  # flip bits in the payload, size unchanged: only the hash can tell
    data.write_bytes(bytes(raw))
    np.testing.assert_array_equal(speech.encode_dataset(enc, paths, cache_dir=cache), reference)
    assert CountingEncoder.calls == 6
    np.testing.assert_array_equal(speech.encode_dataset(enc, paths, cache_dir=cache), reference)
    assert CountingEncoder.calls == 6  # the re-encode stored a good entry again


def test_speech_cache_crash_before_marker_is_reencoded(cached):
    enc, paths, cache, entry, reference = cached
    (entry / "complete.json").unlink()  # killed after the data file, before the marker was renamed in
    (entry / ".complete.json.x1y2.tmp").write_text('{"data_file": "spik')
    (entry / ".spikes-0000.npy.tmp").write_bytes(b"\x93NUMPY")
    np.testing.assert_array_equal(speech.encode_dataset(enc, paths, cache_dir=cache), reference)
    assert CountingEncoder.calls == 6 and (entry / "complete.json").is_file()


def test_speech_cache_write_failing_half_way(cached, monkeypatch):
    enc, paths, cache, entry, reference = cached
    other = CountingEncoder(n_mels=12, n_steps=80, threshold=0.5)
    fake = FailingOs()
    monkeypatch.setattr(speech, "os", fake)
    with pytest.raises(NeuroplastError, match="cannot write the spike cache"):
        speech.encode_dataset(other, paths, cache_dir=cache)
    assert fake.failures == 1
    monkeypatch.undo()
    (new_entry,) = [d for d in cache.iterdir() if d != entry]
    assert list(new_entry.iterdir()) == []  # no marker, no half-written data, no temp file
    first = speech.encode_dataset(other, paths, cache_dir=cache)
    assert CountingEncoder.calls == 9 and (new_entry / "complete.json").is_file()
    np.testing.assert_array_equal(speech.encode_dataset(other, paths, cache_dir=cache), first)
    np.testing.assert_array_equal(speech.encode_dataset(enc, paths, cache_dir=cache), reference)
    assert CountingEncoder.calls == 9


def test_speech_cache_marker_of_another_entry_is_not_trusted(cached):
    enc, paths, cache, entry, reference = cached
    fewer = speech.encode_dataset(enc, paths[:2], cache_dir=cache)
    assert CountingEncoder.calls == 5
    (other,) = [d for d in cache.iterdir() if d != entry]
    for f in entry.iterdir():
        f.unlink()
    for f in other.iterdir():  # an entry holding a whole, valid, but different (2-file) encoding
        (entry / f.name).write_bytes(f.read_bytes())
    out = speech.encode_dataset(enc, paths, cache_dir=cache)
    np.testing.assert_array_equal(out, reference)
    assert out.shape[0] == 3 and fewer.shape[0] == 2 and CountingEncoder.calls == 8
