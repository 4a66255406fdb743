"""`neuroplast ablate`: the table's layout, and an interrupted ablation continues without redoing finished runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from neuroplast.train import ablation
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
    assert json.loads((out / "table.json").read_text())["rows"][0]["model"] == "feedforward"
    assert (out / "table.png").stat().st_size > 0

    # A second run finds every run finished: no training and no GRU fit, the same table.
    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr("neuroplast.train.trainer.train", refuse)
    monkeypatch.setattr(ablation, "_run_gru", refuse)
    again = ablation.run(str(config), str(out))
    assert again["rows"] == table["rows"]
