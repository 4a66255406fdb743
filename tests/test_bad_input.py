"""The bad-input audit, at the command line where possible: exit 2, exactly one ``neuroplast: error:`` line that
names the problem, no traceback, and nothing in the result folder (or the spike cache) changed.

``tests/test_faults.py`` holds the first round (IDX damage, missing data dir, labels beyond the network, empty
IDX/Caltech splits, damaged checkpoints); this file adds what that audit found untested: image archives and
folders through ``train``, every FSDD failure through the ScSr ``train``, NaN/inf weights in a checkpoint or
during training, checkpoints of an older layout, non-finite config values, the ``ablate`` entry point, the
multi-process launcher, and the HDF5 readers (library level: no command reads them yet).
"""

from __future__ import annotations

import copy
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml
from scipy.io import wavfile

from neuroplast.cli import main
from neuroplast.data.neuromorphic import load_ntidigits, load_shd
from neuroplast.errors import NeuroplastError
from neuroplast.train import sstdp_task
from test_data_vision import make_caltech, make_cifar
from test_faults import snapshot
from tiny_configs import tiny_sstdp

SSTDP = tiny_sstdp("bad", 4, 64, 30, 12, batch_size=16, epochs=2)


def scsr(root: Path, **options) -> dict:
    return {"name": "bad-scsr", "method": "scsr", "seed": 0,
            "data": {"dataset": "fsdd", "root": str(root),
                     "options": {"frontend": "mel", "frontend_options": {"n_mels": 8, "n_steps": 20}, **options}},
            "model": {"preset": "sr", "hidden": [8]},
            "learning": {"batch_size": 4, "epochs": 1},
            "train": {"threads": 1, "progress": False}}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROPLAST_CACHE", str(tmp_path / "cache"))


def cli(tmp: Path, *args) -> tuple[int, str, str]:
    """A real ``python -m neuroplast.cli`` process: exit code, stdout, stderr."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "neuroplast.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def in_process(capsys):
    """The same command through ``cli.main`` in this process (no interpreter start-up): for the long matrices."""
    def run(tmp: Path, *args) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


PROGRESS = re.compile(r"^.+: \d+/\d+ \(\d+%\) [\d.]+s$")


def assert_one_line(code: int, err: str, *needles: str):
    """One error line, no traceback; only progress lines of a long step (CIFAR decoding) may come before it."""
    lines = [ln for ln in err.strip().splitlines() if not PROGRESS.match(ln)]
    assert code == 2 and "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("neuroplast: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)


def old_run(tmp: Path) -> Path:
    out = tmp / "old-run"
    out.mkdir()
    for name in ("config.yaml", "metrics.json", "metrics.jsonl", "metrics.csv", "checkpoint.pt"):
        (out / name).write_text(f"earlier {name}\n")
    return out


def train_rejects(tmp: Path, data: dict, *needles: str, extra=(), run=cli):
    """``train CFG --out OLD --force`` fails in one line, leaves OLD as it was and no partial cache file."""
    cfg = tmp / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(data))
    out = old_run(tmp)
    before = snapshot(out)
    code, stdout, err = run(tmp, "train", cfg, "--out", out, "--force", *extra)
    assert_one_line(code, err, *needles)
    assert stdout == "" and snapshot(out) == before
    assert not list((tmp / "cache").rglob("*.tmp"))  # a part that did encode may be cached, but whole


# ------------------------------------------------------------------------------------------ image archives


def image_config(root: Path, dataset: str) -> dict:
    data = copy.deepcopy(SSTDP)
    data["data"] = {"dataset": dataset, "root": str(root)}
    return data


def test_caltech_corrupt_jpeg(tmp_path):
    make_caltech(tmp_path / "data", {"Faces": 3, "Motorbikes": 3})
    (tmp_path / "data" / "caltech101" / "Motorbikes" / "image_0002.jpg").write_bytes(b"\xff\xd8\xff\xe0 garbage")
    train_rejects(tmp_path, image_config(tmp_path / "data", "caltech-face-motorbike"),
                  "Motorbikes/image_0002.jpg", "not a readable image")


def test_cifar_truncated_tarball(tmp_path):
    tarball = make_cifar(tmp_path / "data")
    tarball.write_bytes(tarball.read_bytes()[: tarball.stat().st_size // 2])
    train_rejects(tmp_path, image_config(tmp_path / "data", "cifar10"), "CIFAR-10-images.tar.gz",
                  "truncated or corrupt")


def test_cifar_corrupt_jpeg_member(tmp_path):
    make_cifar(tmp_path / "data", corrupt="CIFAR-10-images/train/dog/0000.jpg")
    train_rejects(tmp_path, image_config(tmp_path / "data", "cifar10"), "train/dog/0000.jpg", "not a readable image")


def test_bad_input_under_the_multi_process_launcher(tmp_path):
    data = image_config(tmp_path / "nowhere", "mnist")
    train_rejects(tmp_path, data, "data directory", "does not exist", extra=("--nproc", "2"))


# ------------------------------------------------------------------------------------------ FSDD through ScSr


def fsdd(root: Path, speakers=("ann",), indices=range(0, 7)) -> Path:
    folder = root / "fsdd" / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(1200) / 8000
    for digit in range(10):
        for speaker in speakers:
            for index in indices:
                wave = 0.3 * np.sin(2 * np.pi * (200 + 100 * digit) * t)
                wavfile.write(folder / f"{digit}_{speaker}_{index}.wav", 8000, (wave * 32767).astype(np.int16))
    return folder


def _garbage(folder):
    (folder / "3_ann_6.wav").write_bytes(b"this is not audio at all")
    return ["3_ann_6.wav", "not a RIFF/WAVE"]


def _truncated(folder):
    blob = (folder / "3_ann_6.wav").read_bytes()
    (folder / "3_ann_6.wav").write_bytes(blob[:-600])
    return ["3_ann_6.wav", "truncated"]


def _header_only(folder):
    blob = (folder / "3_ann_6.wav").read_bytes()
    (folder / "3_ann_6.wav").write_bytes(blob[:30])
    return ["3_ann_6.wav"]


def _no_samples(folder):
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 8000, 16000, 2, 16)
    (folder / "3_ann_6.wav").write_bytes(b"RIFF" + struct.pack("<I", 36) + b"WAVE" + fmt + b"data" +
                                         struct.pack("<I", 0))
    return ["3_ann_6.wav", "no audio samples"]


def _float_wav(folder):
    wavfile.write(folder / "3_ann_6.wav", 8000, np.zeros(800, dtype=np.float32))
    return ["3_ann_6.wav", "IEEE float"]


def _misnamed(folder):
    (folder / "three-ann-6.wav").write_bytes(b"")
    return ["three-ann-6.wav", "not named"]


def _empty_folder(folder):
    for p in folder.iterdir():
        p.unlink()
    return ["holds no recordings"]


def _no_test_part(folder):
    for p in folder.glob("*_ann_[0-4].wav"):
        p.unlink()
    return ["no test recordings"]


FSDD_CASES = {
    "garbage bytes": _garbage,
    "truncated data chunk": _truncated,
    "header only": _header_only,
    "no samples": _no_samples,
    "float samples": _float_wav,
    "misnamed file": _misnamed,
    "empty recordings folder": _empty_folder,
    "empty test split": _no_test_part,
}


@pytest.mark.parametrize("case", list(FSDD_CASES))
def test_fsdd_bad_input_through_scsr_train(tmp_path, capsys, case):
    needles = FSDD_CASES[case](fsdd(tmp_path / "data"))
    train_rejects(tmp_path, scsr(tmp_path / "data"), *needles, run=in_process(capsys))


def test_corrupt_wav_in_a_worker_process_is_still_one_line(tmp_path):
    needles = _garbage(fsdd(tmp_path / "data"))
    train_rejects(tmp_path, scsr(tmp_path / "data", workers=2), *needles)


def test_fsdd_missing_and_unknown_speaker(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    train_rejects(tmp_path, scsr(tmp_path / "data"), "FSDD folder", "does not exist", run=in_process(capsys))
    fsdd(tmp_path / "data2")
    os.rename(tmp_path / "old-run", tmp_path / "first-old-run")
    train_rejects(tmp_path, scsr(tmp_path / "data2", split="speaker:zed"), "no speaker 'zed'", "ann",
                  run=in_process(capsys))


# ------------------------------------------------------------------------------------------ checkpoints


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("trained")
    cfg = tmp / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(SSTDP))
    assert main(["train", str(cfg), "--out", str(tmp / "run")]) == 0
    return tmp / "run"


def damaged(trained: Path, dest: Path, change) -> Path:
    dest.mkdir()
    for p in trained.iterdir():
        if p.is_file():
            (dest / p.name).write_bytes(p.read_bytes())
    content = torch.load(trained / "checkpoint.pt", weights_only=False)
    torch.save(change(content), dest / "checkpoint.pt")
    return dest


def _poison(value):
    def change(content):
        content["model"]["layers.1.weight"][3, 2] = value
        return content
    return change


CHECKPOINTS = {
    "NaN weight": (_poison(float("nan")), ["NaN or inf in layers.1.weight", "diverged"]),
    "inf weight": (_poison(float("inf")), ["NaN or inf in layers.1.weight"]),
    "bare state_dict (pre-format layout)": (lambda c: c["model"], ["has format None", "reads format 1"]),
    "written by a future version": (lambda c: {**c, "format": 2, "neuroplast_version": "9.0"},
                                    ["format 2 (written by neuroplast 9.0)"]),
    "not a checkpoint at all": (lambda c: [1, 2, 3], ["has format None"]),
}


@pytest.mark.parametrize("command", ["eval", "resume"])
@pytest.mark.parametrize("case", list(CHECKPOINTS))
def test_incompatible_or_poisoned_checkpoint(tmp_path, capsys, trained, case, command):
    change, needles = CHECKPOINTS[case]
    folder = damaged(trained, tmp_path / "c", change)
    before = snapshot(folder)
    run = cli if case == "NaN weight" else in_process(capsys)
    code, stdout, err = run(tmp_path, command, folder)
    assert_one_line(code, err, "checkpoint", *needles)
    assert stdout == "" and snapshot(folder) == before


def test_empty_checkpoint_file(tmp_path, trained):
    folder = damaged(trained, tmp_path / "c", lambda c: c)
    (folder / "checkpoint.pt").write_bytes(b"")
    code, _, err = cli(tmp_path, "eval", folder)
    assert_one_line(code, err, "unreadable")


def test_divergence_during_training_stops_before_the_checkpoint(tmp_path, monkeypatch, capsys):
    """Weights turn NaN in epoch 2: one line, and the checkpoint on disk is still epoch 1's (resumable)."""
    calls = []

    def after_step(self, model):
        calls.append(1)
        if len(calls) == 6:  # 4 steps per epoch: inside epoch 2
            with torch.no_grad():
                model.layers[0].weight[0, 0] = float("nan")

    monkeypatch.setattr(sstdp_task.SSTDPTask, "after_step", after_step)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({**SSTDP, "learning": {**SSTDP["learning"], "epochs": 3}}))
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["train", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("neuroplast: error: training diverged: parameter 'layers.0.weight'"), err
    assert "after epoch 2" in err[-1]
    assert torch.load(out / "checkpoint.pt", weights_only=False)["epoch"] == 0
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1


# ------------------------------------------------------------------------------------------ configs and commands


@pytest.mark.parametrize("text, needle", [
    ("", "required key 'name' is missing"),
    ("- a\n- b\n", "top level must be a mapping"),
    ("name: x\nmodel: {layers: [{out: 10}]}\nlearning: {lr: .inf}\n", "learning.lr: Input should be a finite number"),
    ("name: x\nmodel: {theta: .nan, layers: [{out: 10}]}\n", "model.theta: Input should be a finite number"),
])
def test_bad_config_text(tmp_path, text, needle):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(text)
    code, stdout, err = cli(tmp_path, "train", cfg, "--out", tmp_path / "new")
    assert_one_line(code, err, needle)
    assert not (tmp_path / "new").exists()


def test_other_entry_points(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("a: [1\n")
    cases = [
        (["ablate", str(tmp_path / "absent.yaml")], "config file", "not found"),
        (["ablate", str(tmp_path / "bad.yaml")], "not valid YAML"),
        (["eval", str(tmp_path / "absent")], "checkpoint", "not found"),
        (["plot", str(tmp_path / "absent")], "not found"),
        (["resume", str(tmp_path / "absent")], "nothing to resume"),
        (["train", str(tmp_path / "bad.yaml")], "not valid YAML"),
        (["train", str(tmp_path / "bad.yaml"), "--nproc", "0"], "not valid YAML"),
    ]
    for argv, *needles in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("neuroplast: error: "), (argv, err)
        for needle in needles:
            assert needle in err[0], (argv, needle, err)
    (tmp_path / "ok.yaml").write_text(yaml.safe_dump(SSTDP))
    capsys.readouterr()
    assert main(["train", str(tmp_path / "ok.yaml"), "--nproc", "0", "--out", str(tmp_path / "o")]) == 2
    assert "--nproc must be >= 1" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ HDF5 readers


def write_shd(path: Path, times=None, labels=(3, 19)):
    times = times or [np.array([0.0, 0.015], np.float32), np.array([0.021], np.float32)]
    units = [np.arange(len(t), dtype=np.uint16) for t in times]
    ragged_times, ragged_units = np.empty(len(times), dtype=object), np.empty(len(times), dtype=object)
    ragged_times[:], ragged_units[:] = times, units
    with h5py.File(path, "w") as f:
        f.create_dataset("spikes/times", data=ragged_times, dtype=h5py.vlen_dtype(np.float32))
        f.create_dataset("spikes/units", data=ragged_units, dtype=h5py.vlen_dtype(np.uint16))
        f.create_dataset("labels", data=np.array(labels, dtype=np.uint16))
    return path


def test_shd_bad_files(tmp_path):
    good = write_shd(tmp_path / "good.h5")
    assert load_shd("test", path=good)[0].shape[0] == 2
    blob = good.read_bytes()
    (tmp_path / "cut.h5").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(NeuroplastError, match="cut.h5.*corrupt"):
        load_shd("test", path=tmp_path / "cut.h5")
    nan = write_shd(tmp_path / "nan.h5", times=[np.array([0.0, np.nan], np.float32), np.array([0.1], np.float32)])
    with pytest.raises(NeuroplastError, match=r"nan\.h5' sample 0: event times must be finite"):
        load_shd("test", path=nan)
    inf = write_shd(tmp_path / "inf.h5", times=[np.array([0.0], np.float32), np.array([np.inf], np.float32)])
    with pytest.raises(NeuroplastError, match="sample 1: event times must be finite"):
        load_shd("test", path=inf)
    with pytest.raises(NeuroplastError, match="label 25 at index 1 is outside 0..19"):
        load_shd("test", path=write_shd(tmp_path / "lab.h5", labels=(3, 25)))
    with pytest.raises(NeuroplastError, match="holds no samples"):
        load_shd("test", path=_empty_shd(tmp_path / "empty.h5"))
    with pytest.raises(NeuroplastError, match="does not exist"):
        load_shd("test", tmp_path / "no-root")


def _empty_shd(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f.create_dataset("spikes/times", shape=(0,), dtype=h5py.vlen_dtype(np.float32))
        f.create_dataset("spikes/units", shape=(0,), dtype=h5py.vlen_dtype(np.uint16))
        f.create_dataset("labels", data=np.zeros(0, np.uint16))
    return path


def test_ntidigits_non_finite_times_name_the_utterance(tmp_path):
    path = tmp_path / "n.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("train_labels", data=np.array([b"man-ab-a-7"]))
        f.create_dataset("train_timestamps/man-ab-a-7", data=np.array([0.0, np.nan]))
        f.create_dataset("train_addresses/man-ab-a-7", data=np.array([1, 2], dtype=np.int32))
    with pytest.raises(NeuroplastError, match="utterance 'man-ab-a-7': event times must be finite"):
        load_ntidigits("train", path=path)
    blob = path.read_bytes()
    path.write_bytes(blob[:100])
    with pytest.raises(NeuroplastError, match="cannot read .* as HDF5"):
        load_ntidigits("train", path=path)

