"""Data-parallel training: 2 processes (gloo, localhost) reach the parameters of 1 process with the same global
batch, for both methods; and the speech cache stays valid when two processes encode into it at once.

SSTDP goes through ``neuroplast train --nproc 2`` (spawned workers), ScSr through ``torchrun`` (env vars), so both
launchers are covered. Every run is tiny and single-threaded.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from scipy.io import wavfile

from neuroplast.config import load_config
from neuroplast.data import speech
from neuroplast.train.distributed import Context
from neuroplast.train.trainer import train
from tiny_configs import tiny_sstdp

# 115 samples in global batches of 16: the last batch holds 3, so one rank gets 1 sample and the other 2.
SSTDP = tiny_sstdp("dist-sstdp", 3, 115, 60, batch_size=16, epochs=2, lr_decay=0.9)


def scsr_config(root: Path) -> dict:
    return {
        "name": "dist-scsr",
        "method": "scsr",
        "seed": 1,
        "data": {"dataset": "fsdd", "root": str(root), "limit_train": 25,
                 "options": {"frontend": "mel", "frontend_options": {"n_mels": 8, "n_steps": 30}}},
        "model": {"preset": "scsr-bip", "hidden": [12, 12], "density": 0.5},
        "learning": {"batch_size": 6, "epochs": 2, "lr": 0.01, "intrinsic_lr": 0.01},
        "train": {"threads": 1, "progress": False},
    }


def fake_fsdd(root: Path, speakers=("ann", "bob"), per_digit: int = 7) -> Path:
    """``fsdd/recordings/{digit}_{speaker}_{index}.wav``: short tones, pitch by digit, indices 0-4 are test."""
    folder = root / "fsdd" / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(1600) / 8000
    for digit in range(10):
        for s, speaker in enumerate(speakers):
            for index in range(per_digit):
                wave = 0.3 * np.sin(2 * np.pi * (200 + 120 * digit + 15 * s) * t) + 0.01 * rng.standard_normal(t.size)
                wavfile.write(folder / f"{digit}_{speaker}_{index}.wav", 8000, (wave * 32767).astype(np.int16))
    return root


def params(out: Path) -> dict:
    return torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)["model"]


def assert_same_parameters(single: Path, multi: Path, atol: float):
    a, b = params(single), params(multi)
    assert a.keys() == b.keys()
    for k in a:
        if a[k].is_floating_point():
            torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=atol, msg=k)
        else:
            assert torch.equal(a[k], b[k]), k


def env(tmp: Path) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "NEUROPLAST_CACHE": str(tmp / "cache")}


def test_context_shards_cover_each_batch_once():
    batch = torch.arange(7)
    parts = [Context(r, 2).shard(batch) for r in range(2)]
    assert torch.equal(torch.cat(parts), batch) and [len(p) for p in parts] == [4, 3]
    assert torch.equal(Context().shard(batch), batch)
    assert Context(1, 2).shard(torch.arange(1)).numel() == 0  # a short last batch may leave a rank idle


@pytest.mark.parametrize("select", [False, True], ids=["last", "best-of-validation"])
def test_sstdp_two_processes_equal_one(tmp_path, select):
    data = copy.deepcopy(SSTDP)
    if select:
        data["data"]["validation"] = 0.2
        data["train"]["keep"] = "best"
    cfg_path = tmp_path / "sstdp.yaml"
    cfg_path.write_text(yaml.safe_dump(data))
    single, multi = tmp_path / "one", tmp_path / "two"
    cfg = load_config(cfg_path, [f"train.out_dir={single}"])
    one = train(cfg)
    proc = subprocess.run([sys.executable, "-m", "neuroplast.cli", "train", str(cfg_path), "--out", str(multi),
                           "--nproc", "2"], capture_output=True, text=True, env=env(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "data-parallel on 2 processes" in proc.stderr
    two = yaml.safe_load(proc.stdout.strip().splitlines()[-1])
    assert len(proc.stdout.strip().splitlines()) == 1  # only rank 0 prints
    assert two["processes"] == 2
    assert_same_parameters(single, multi, atol=1e-5)
    # Spike times are integers: the tiny rounding differences above never move one, so the metrics agree.
    for key in ("test_accuracy", "lenient_accuracy", "mean_output_time") + (("selected_epoch",) if select else ()):
        assert two[key] == pytest.approx(one[key]), key
    h1, h2 = (torch.load(d / "checkpoint.pt", weights_only=False)["history"] for d in (single, multi))
    for r1, r2 in zip(h1, h2, strict=True):
        for k in r1:
            if k != "seconds":
                assert r2[k] == pytest.approx(r1[k], rel=1e-6), k
    assert sorted(p.name for p in multi.iterdir()) == sorted(p.name for p in single.iterdir())


def test_scsr_two_processes_equal_one_under_torchrun(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROPLAST_CACHE", str(tmp_path / "cache"))
    data = scsr_config(fake_fsdd(tmp_path / "data"))
    cfg_path = tmp_path / "scsr.yaml"
    cfg_path.write_text(yaml.safe_dump(data))
    single, multi = tmp_path / "one", tmp_path / "two"
    train(load_config(cfg_path, [f"train.out_dir={single}"]))
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "neuroplast.cli", "train", str(cfg_path), "--out", str(multi)],
                          capture_output=True, text=True, env=env(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len([ln for ln in proc.stdout.splitlines() if ln.startswith("{")]) == 1  # only rank 0 prints
    # AdamW divides by sqrt(v): rounding in the summed gradients shows up a little more than with SGD.
    assert_same_parameters(single, multi, atol=1e-4)


def test_scsr_same_seed_same_parameters(tmp_path, monkeypatch):
    """CPU determinism for the second method too (test_faults.py checks SSTDP): two runs, identical bits."""
    monkeypatch.setenv("NEUROPLAST_CACHE", str(tmp_path / "cache"))
    data = scsr_config(fake_fsdd(tmp_path / "data", speakers=("ann",)))
    data["learning"]["epochs"] = 1
    cfg_path = tmp_path / "scsr.yaml"
    cfg_path.write_text(yaml.safe_dump(data))
    for name in ("a", "b"):
        train(load_config(cfg_path, [f"train.out_dir={tmp_path / name}"]))
    a, b = params(tmp_path / "a"), params(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------------------------------ speech encoding


ENCODE = """
import sys
import numpy as np
from neuroplast.data import speech
paths, cache, workers, out = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3]), sys.argv[4]
enc = speech.MelThresholdEncoder(n_mels=10, n_steps=60)
if __name__ == "__main__":
    np.save(out, speech.encode_dataset(enc, paths, cache_dir=cache, workers=workers))
"""


def test_two_processes_encoding_into_one_cache_equal_a_serial_encode(tmp_path):
    """Two independent processes (one with a 2-worker pool) race on one cache key; both results, and what the
    cache holds afterwards, equal a serial encode without any cache."""
    t = np.arange(2400) / 8000
    paths = []
    for i in range(8):
        p = tmp_path / "wav" / f"u{i}.wav"
        p.parent.mkdir(exist_ok=True)
        wavfile.write(p, 8000, (0.3 * np.sin(2 * np.pi * (250 + 90 * i) * t) * 32767).astype(np.int16))
        paths.append(p)
    enc = speech.MelThresholdEncoder(n_mels=10, n_steps=60)
    serial = np.stack([enc.encode_file(p) for p in paths])
    cache = tmp_path / "cache"
    script = tmp_path / "encode.py"
    script.write_text(ENCODE)
    procs = [subprocess.Popen([sys.executable, str(script), ",".join(map(str, paths)), str(cache), str(workers),
                               str(tmp_path / f"r{workers}.npy")], env=env(tmp_path), stderr=subprocess.PIPE)
             for workers in (2, 1)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
    for workers in (2, 1):
        np.testing.assert_array_equal(np.load(tmp_path / f"r{workers}.npy"), serial)
    (entry,) = cache.iterdir()
    assert (entry / "complete.json").is_file() and not list(cache.rglob("*.tmp"))
    np.testing.assert_array_equal(speech._read_cache(entry, len(paths), 60, 10), serial)


def test_launched_rank_exits_with_its_code_and_flushed_output(tmp_path):
    """A torchrun rank skips interpreter teardown (gloo's threads can abort it there) but keeps its exit code and
    everything it printed."""
    environ = {**env(tmp_path), "WORLD_SIZE": "2", "RANK": "1"}
    proc = subprocess.run([sys.executable, "-m", "neuroplast.cli", "eval", str(tmp_path / "missing")],
                          capture_output=True, text=True, env=environ, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("neuroplast: error: checkpoint") and proc.stderr.endswith("\n")
