"""The command line end to end on the bundled digits: train, eval, resume, and one-line errors."""

import json
import subprocess
import sys

import pytest
import torch
import yaml

from neuroplast.cli import main
from neuroplast.config import load_config
from neuroplast.errors import NeuroplastError
from tiny_configs import tiny_sstdp

TINY = tiny_sstdp("tiny", 3, 300, 100, batch_size=32, epochs=3, lr_decay=0.9)


def write_config(tmp_path, data=TINY, name="cfg.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def run_cli(*args):
    proc = subprocess.run([sys.executable, "-m", "neuroplast.cli", *map(str, args)], capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def test_train_eval_reproduces_metrics(tmp_path, capsys):
    cfg = write_config(tmp_path)
    out = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("test_accuracy", "lenient_accuracy", "mean_output_time", "additions_per_inference", "epochs",
                "seconds", "command"):
        assert key in metrics
    assert metrics["lenient_accuracy"] >= metrics["test_accuracy"]
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3
    assert (out / "config.yaml").exists() and (out / "checkpoint.pt").exists()
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["test_accuracy"] == metrics["test_accuracy"]
    assert again["additions_per_inference"] == pytest.approx(metrics["additions_per_inference"])


def test_train_epoch_is_the_trainers_epoch(tmp_path):
    """``train_epoch`` (what probes call) trains exactly as ``neuroplast train`` does, and calls ``after_step``
    once per optimizer step."""
    from neuroplast.train.trainer import make_task, train_epoch

    path = write_config(tmp_path)
    assert main(["train", str(path), "--set", "learning.epochs=1", "--out", str(tmp_path / "run")]) == 0
    cfg = load_config(path, ["learning.epochs=1"])
    task = make_task(cfg)
    torch.manual_seed(cfg.seed)
    (x, y), _ = task.load_data()
    model = task.build_model()
    steps = []
    train_epoch(cfg, task, model, task.optimizer(model), x, y, 0, after_step=lambda m: steps.append(1))
    assert len(steps) == -(-len(x) // cfg.learning.batch_size)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["model"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k]), k


@pytest.mark.parametrize("options", [{}, {"augment": {"shift": 1, "flip": True}, "onoff": True}],
                         ids=["plain", "augmented-onoff"])
def test_resume_continues_exactly(tmp_path, options):
    cfg = write_config(tmp_path, data={**TINY, "data": {**TINY["data"], "options": options}})
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", str(cfg), "--out", str(straight)]) == 0
    assert main(["train", str(cfg), "--out", str(split), "--set", "train.stop_after=1"]) == 0
    assert not (split / "metrics.json").exists()
    assert main(["resume", str(split)]) == 0
    a = torch.load(straight / "checkpoint.pt", weights_only=False)
    b = torch.load(split / "checkpoint.pt", weights_only=False)
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k])
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (straight, split))
    assert ma["test_accuracy"] == mb["test_accuracy"]


def test_existing_run_is_not_overwritten(tmp_path):
    cfg = write_config(tmp_path)
    out = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(out), "--set", "learning.epochs=1"]) == 0
    before = (out / "checkpoint.pt").read_bytes()
    code, _, err = run_cli("train", cfg, "--out", out)
    assert code == 2 and "already holds a run" in err and "Traceback" not in err
    assert (out / "checkpoint.pt").read_bytes() == before


@pytest.mark.parametrize("override, message", [
    ("learnig.lr=1", "did you mean 'learning'"),
    ("learning.lr=-1", "learning.lr"),
    ("learning.target_rule=last", "learning.target_rule"),
    ("model.layers=[{type: dense, out: 3}]", "type must be linear, conv or pool"),
])
def test_bad_config_is_one_clear_line(tmp_path, override, message):
    code, _, err = run_cli("train", write_config(tmp_path), "--out", tmp_path / "o", "--set", override)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_missing_config_and_bad_checkpoint(tmp_path):
    code, _, err = run_cli("train", tmp_path / "nope.yaml")
    assert code == 2 and "not found" in err
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "checkpoint.pt").write_bytes(b"truncated")
    code, _, err = run_cli("eval", tmp_path / "r")
    assert code == 2 and "unreadable" in err and "Traceback" not in err


def test_fallback_when_dataset_missing(tmp_path, capsys):
    data = json.loads(json.dumps(TINY))
    data["data"] = {"dataset": "mnist", "root": str(tmp_path / "nowhere"), "fallback": "digits",
                    "limit_train": 200, "limit_test": 50}
    data["learning"]["epochs"] = 1
    assert main(["train", str(write_config(tmp_path, data)), "--out", str(tmp_path / "fb")]) == 0
    assert "falling back" in capsys.readouterr().err
    assert json.loads((tmp_path / "fb" / "metrics.json").read_text())["dataset"] == "digits"


def test_config_rejects_unknown_layer_key():
    bad = json.loads(json.dumps(TINY))
    bad["model"]["layers"][0]["thresh"] = 3
    with pytest.raises(NeuroplastError, match="unknown key"):
        load_config(data=bad)
