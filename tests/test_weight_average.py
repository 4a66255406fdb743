"""``train.average``: the moving average of the weights is what a run evaluates, saves as its result and resumes."""

import json

import pytest
import torch
import yaml

from neuroplast.cli import main
from neuroplast.errors import NeuroplastError
from neuroplast.export.nir_export import load_result_model
from neuroplast.train.averaging import WeightAverage
from neuroplast.train.trainer import evaluate
from tiny_configs import tiny_sstdp


def _tiny(tmp_path, **train):
    data = tiny_sstdp("avg", 0, 300, 100, batch_size=16, epochs=3, lr_decay=0.9)
    data["train"].update(train)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_average_follows_the_recurrence_and_restores_live_weights():
    model = torch.nn.Linear(3, 2).double()
    w0 = model.weight.detach().clone()
    avg = WeightAverage(model, 0.9)
    steps = [torch.randn(2, 3, dtype=torch.float64) for _ in range(2)]
    expected = w0
    for w in steps:
        with torch.no_grad():
            model.weight.copy_(w)
        avg.update(model)
        expected = 0.9 * expected + 0.1 * w
    torch.testing.assert_close(avg.state["weight"], expected, rtol=0, atol=1e-12)
    with avg.applied(model):
        assert torch.equal(model.weight, avg.state["weight"])
    assert torch.equal(model.weight, steps[-1])


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_decay_outside_the_open_interval_is_refused(decay):
    with pytest.raises(NeuroplastError, match="train.average"):
        WeightAverage(torch.nn.Linear(2, 2), decay)


def test_run_reports_evaluates_and_resumes_the_average(tmp_path):
    cfg = _tiny(tmp_path, average=0.95)
    straight, split, plain = tmp_path / "straight", tmp_path / "split", tmp_path / "plain"
    assert main(["train", str(cfg), "--out", str(straight)]) == 0
    assert main(["train", str(cfg), "--out", str(split), "--set", "train.stop_after=1"]) == 0
    assert main(["resume", str(split)]) == 0
    assert main(["train", str(cfg), "--out", str(plain), "--set", "train.average=null"]) == 0
    a, b, p = (torch.load(d / "checkpoint.pt", weights_only=False) for d in (straight, split, plain))
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]) and torch.equal(a["average"][k], b["average"][k])
        # Training runs on the live weights, which the average does not touch.
        assert torch.equal(a["model"][k], p["model"][k])
    assert any(not torch.equal(a["average"][k], a["model"][k]) for k in a["model"])
    assert all(a["average"][k].dtype == a["model"][k].dtype for k in a["model"])
    metrics = json.loads((straight / "metrics.json").read_text())
    assert metrics["test_accuracy"] == json.loads((split / "metrics.json").read_text())["test_accuracy"]
    # What `neuroplast eval` rebuilds is the average, and it scores what the run reported.
    _, task, model = load_result_model(straight)
    for k, v in model.state_dict().items():
        assert torch.equal(v, a["average"][k].to(v.dtype))
    _, (x_test, y_test) = task.load_data()
    assert evaluate(task, model, x_test, y_test)["accuracy"] == metrics["test_accuracy"]


def test_checkpoint_without_the_average_its_config_asks_for_is_refused(tmp_path, capsys):
    cfg = _tiny(tmp_path)
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(run), "--set", "train.stop_after=1"]) == 0
    content = torch.load(run / "checkpoint.pt", weights_only=False)
    content["config"]["train"]["average"] = 0.9
    torch.save(content, run / "checkpoint.pt")
    assert main(["resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "holds no weight average" in err and "Traceback" not in err
