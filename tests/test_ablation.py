"""`neuroplast ablate`: the table's layout, and an interrupted ablation continues without redoing finished runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from neuroplast.train import ablation, trainer
from test_distributed import fake_fsdd


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NEUROPLAST_CACHE", str(tmp_path / "cache"))
    cfg = {
        "name": "tiny-ablation", "method": "scsr", "seed": 0,
        "data": {"dataset": "fsdd", "root": str(fake_fsdd(tmp_path / "data", per_digit=6)),
                 "options": {"frontend": "mel", "frontend_options": {"n_mels": 8, "n_steps": 20}}},
        "model": {"hidden": [6, 6], "recurrent_strength": 0.2},
        "learning": {"loss": "cross-entropy", "batch_size": 10, "epochs": 1, "lr": 0.01},
        "train": {"threads": 1, "progress": False},
        "ablation": {"rows": ["feedforward", "scsr-bip"], "seeds": [0], "splits": ["index", "speaker:bob"],
                     "gru": True, "workers": 1},
    }
    path = tmp_path / "ablation.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_table_layout_and_resume(config, tmp_path, monkeypatch):
    out = tmp_path / "table"
    table = ablation.run(str(config), str(out))
    assert [r["model"] for r in table["rows"]] == ["feedforward", "scsr-bip", "gru"]
    for row in table["rows"]:
        for split in ("index", "speaker:bob"):
            acc = row["seeds"][split]["0"]["accuracy"]
            assert 0.0 <= acc <= 1.0
            assert row[split]["mean"] == pytest.approx(acc)
    snn = table["rows"][1]["seeds"]["index"]["0"]
    assert set(snn["firing_rates"]) >= {"hidden1", "hidden2", "output"}
    assert snn["synaptic_operations_per_inference"] > 0
    summary = table["rows"][1]["index"]
    assert summary["synaptic_operations_per_inference"] == pytest.approx(snn["synaptic_operations_per_inference"])
    assert set(summary["firing_rates"]) == set(snn["firing_rates"])
    assert "firing_rates" not in table["rows"][2]["index"]  # the GRU does not spike
    comparisons = table["comparisons"]
    assert comparisons["reference"] == "scsr-bip"
    for split in ("index", "speaker:bob"):
        entries = {e["row"]: e for e in comparisons["splits"][split]}
        assert set(entries) == {"feedforward", "gru"}
        gap = table["rows"][1][split]["mean"] - table["rows"][0][split]["mean"]
        assert entries["feedforward"]["difference"] == pytest.approx(gap)
        assert entries["feedforward"]["p"] is None  # one seed: no test
    assert json.loads((out / "table.json").read_text())["rows"][0]["model"] == "feedforward"
    assert (out / "table.png").stat().st_size > 0

    # A second run finds every run finished: no training and no GRU fit, the same table.
    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr("neuroplast.train.trainer.train", refuse)
    monkeypatch.setattr(ablation, "_run_gru", refuse)
    again = ablation.run(str(config), str(out))
    assert again["rows"] == table["rows"]


def test_finished_runs_without_checkpoints_are_reused(config, tmp_path, monkeypatch):
    """A committed table keeps its runs' metrics and configs but not their checkpoints: extending it (more seeds)
    must not retrain what is already there, and only the new seeds are trained."""
    out = tmp_path / "table"
    table = ablation.run(str(config), str(out))
    for ckpt in (out / "runs").glob("*/checkpoint.pt"):
        ckpt.unlink()
    trained = []
    real_train = trainer.train

    def counting(cfg, **kwargs):
        trained.append(cfg.name)
        return real_train(cfg, **kwargs)

    monkeypatch.setattr("neuroplast.train.trainer.train", counting)
    again = ablation.run(str(config), str(out))
    assert trained == [] and again["rows"] == table["rows"]

    edited = yaml.safe_load(config.read_text())
    edited["ablation"]["seeds"] = [0, 1]
    edited["ablation"]["gru"] = False
    config.write_text(yaml.safe_dump(edited))
    extended = ablation.run(str(config), str(out))
    assert sorted(trained) == ["feedforward-index-s1", "feedforward-speaker_bob-s1", "scsr-bip-index-s1",
                               "scsr-bip-speaker_bob-s1"]
    assert extended["rows"][0]["seeds"]["index"]["0"] == table["rows"][0]["seeds"]["index"]["0"]
    entry = extended["comparisons"]["splits"]["index"][0]
    assert entry["row"] == "feedforward" and (entry["p"] is None or 0.0 <= entry["p"] <= 1.0)
