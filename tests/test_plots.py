"""Pictures: each drawing function on tiny inputs, the membrane/spike recording hook, and `plot_result` on tiny
generated result folders of both methods (with and without the dataset on disk)."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from neuroplast import plots
from neuroplast.config import load_config
from neuroplast.models.scsr import ScSrSNN

PNG = b"\x89PNG"


def _is_png(path: Path) -> bool:
    return Path(path).is_file() and Path(path).read_bytes()[:4] == PNG


def test_drawing_functions_write_png(tmp_path):
    rng = np.random.default_rng(0)
    spikes = {"input": rng.random((30, 8)) < 0.2, "output": rng.random((30, 3)) < 0.1}
    assert _is_png(plots.spike_raster(spikes, tmp_path / "r.png", "raster"))
    times = {"input": rng.integers(0, 20, 16), "output": np.array([5, 20, 20])}
    assert _is_png(plots.spike_time_raster(times, 20, tmp_path / "t.png", steps=18))
    assert _is_png(plots.membrane_traces({"h": rng.normal(size=(30, 3))}, {"h": np.ones(3)}, tmp_path / "m.png"))
    y = rng.integers(0, 4, 50)
    pred = np.where(rng.random(50) < 0.1, -1, y)
    assert _is_png(plots.confusion_matrix(y, pred, 4, tmp_path / "c.png", "cm"))
    assert _is_png(plots.receptive_fields(rng.normal(size=(6, 2 * 5 * 7)), (2, 5, 7), tmp_path / "f.png"))
    assert _is_png(plots.receptive_fields(rng.normal(size=(6, 2 * 5 * 7)), (2, 5, 7), tmp_path / "g.png", onoff=True))
    assert _is_png(plots.speech_frontend(rng.random((12, 9)), rng.random((40, 9)) < 0.1, tmp_path / "s.png",
                                         step_seconds=1.6e-3))
    model = ScSrSNN.from_preset("scsr-bip", 5, 3, hidden=(6, 4))
    assert _is_png(plots.intrinsic_distributions(model, tmp_path / "i.png"))


@pytest.mark.parametrize("preset", ["feedforward", "scsr-bip", "fc-rsnn", "sparse-rsnn"])
def test_record_matches_forward(preset):
    torch.manual_seed(1)
    model = ScSrSNN.from_preset(preset, 6, 3, hidden=(5, 4), tau_mem=4.0, tau_syn=3.0, threshold=0.3)
    x = (torch.rand(40, 2, 6) < 0.4).float()
    out, _ = model(x)
    rec = model.record(x)
    assert out.sum() > 0
    assert torch.equal(rec["spikes"]["output"], out)
    assert set(rec["membrane"]) == {"hidden1", "hidden2", "output"}
    fired = rec["spikes"]["hidden1"] > 0
    thr = model.layers[0].neurons.threshold.detach()
    assert bool((rec["membrane"]["hidden1"][fired] > thr.expand_as(fired)[fired]).all())


SSTDP_TINY = {
    "name": "tiny-sstdp", "method": "sstdp", "seed": 0,
    "data": {"dataset": "digits", "limit_train": 120, "limit_test": 60},
    "model": {"t_max": 32, "theta": 8.0, "layers": [{"type": "linear", "out": 12, "init": [0, 1]},
                                                   {"type": "linear", "out": 10, "init": [0, 3]}]},
    "learning": {"lr": 0.5, "batch_size": 32, "epochs": 1},
    "train": {"threads": 1, "progress": False},
}


def test_plot_result_sstdp(tmp_path):
    from neuroplast.train.trainer import train

    cfg = load_config(data=dict(SSTDP_TINY, train={**SSTDP_TINY["train"], "out_dir": str(tmp_path / "run")}))
    train(cfg)
    paths = plots.plot_result(tmp_path / "run")
    names = {p.name for p in paths}
    assert names == {"training_curves.png", "receptive_fields.png", "confusion_matrix.png", "spike_raster.png",
                     "membrane_traces.png"}
    assert all(_is_png(p) for p in paths)


def test_a_rerun_into_the_same_folder_redraws_the_pictures_of_the_previous_model(tmp_path):
    from neuroplast.train.trainer import train

    run = tmp_path / "run"
    cfg = load_config(data=dict(SSTDP_TINY, train={**SSTDP_TINY["train"], "out_dir": str(run)}))
    train(cfg)
    plots.plot_result(run)
    before = (run / "receptive_fields.png").read_bytes()
    train(load_config(data=dict(SSTDP_TINY, seed=1, train={**SSTDP_TINY["train"], "out_dir": str(run)})))
    assert (run / "receptive_fields.png").read_bytes() != before
    fresh = tmp_path / "fresh"
    train(load_config(data=dict(SSTDP_TINY, train={**SSTDP_TINY["train"], "out_dir": str(fresh)})))
    assert sorted(p.name for p in fresh.glob("*.png")) == ["training_curves.png"]


def _write_wav(path: Path, freq: float, seconds: float = 0.25, rate: int = 8000):
    t = np.arange(int(seconds * rate)) / rate
    data = (0.4 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())


def _scsr_result(tmp_path: Path) -> Path:
    """A ScSr result folder as `train` leaves it, with an untrained tiny model (no training needed to draw)."""
    from neuroplast.train.checkpoint import rng_state, save_checkpoint
    from neuroplast.train.scsr_task import ScSrTask

    data = {"name": "tiny-scsr", "method": "scsr", "data": {"dataset": "fsdd", "root": str(tmp_path / "data"),
            "options": {"split": "index", "frontend": "lyon-bsa", "frontend_options": {"n_steps": 60}}},
            "model": {"preset": "scsr-bip", "hidden": [8, 6], "threshold": 0.05, "tau_mem": 8, "tau_syn": 2},
            "learning": {"epochs": 1}, "train": {"progress": False}}
    cfg = load_config(data=data)
    task = ScSrTask(cfg)
    task.n_in, task.n_classes = 78, 10
    torch.manual_seed(0)
    model = task.build_model()
    out = tmp_path / "run"
    out.mkdir()
    save_checkpoint(out / "checkpoint.pt", model=model.state_dict(), optimizer={}, rng=rng_state(), history=[],
                    epoch=0, seconds=0.0, config=cfg.model_dump(mode="json"), data_used="fsdd")
    (out / "metrics.jsonl").write_text(json.dumps({"epoch": 1, "train_accuracy": 0.1, "train_loss": 1.0,
                                                   "test_accuracy": 0.1}) + "\n")
    return out


def test_plot_result_scsr_with_generated_fsdd(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROPLAST_CACHE", str(tmp_path / "cache"))
    rec = tmp_path / "data" / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    for digit in (0, 1):
        for index in (0, 5):
            _write_wav(rec / f"{digit}_bob_{index}.wav", 300.0 + 400 * digit + 10 * index)
    out = _scsr_result(tmp_path)
    paths = plots.plot_result(out)
    names = {p.name for p in paths}
    assert names == {"training_curves.png", "intrinsic_parameters.png", "confusion_matrix.png", "spike_raster.png",
                     "membrane_traces.png", "speech_frontend.png"}
    assert all(_is_png(p) for p in paths)


def test_plot_result_without_data_skips_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROPLAST_CACHE", str(tmp_path / "cache"))
    out = _scsr_result(tmp_path)
    notes = []
    paths = plots.plot_result(out, log=notes.append)
    assert {p.name for p in paths} == {"training_curves.png", "intrinsic_parameters.png"}
    assert notes and "skipping" in notes[0]


def test_cli_plot_and_export(tmp_path, monkeypatch, capsys):
    from neuroplast.cli import main

    monkeypatch.setenv("NEUROPLAST_CACHE", str(tmp_path / "cache"))
    out = _scsr_result(tmp_path)
    assert main(["plot", str(out)]) == 0
    assert (out / "intrinsic_parameters.png").is_file()
    assert main(["export", str(out), "--format", "nir"]) == 0
    assert (out / "model.nir").is_file()
    assert "model.nir" in capsys.readouterr().out
