"""Validation hold-out and best-epoch selection: a stratified fixed split, results that stand for the selected
epoch everywhere (metrics, eval, export), and exact resume; tiny SSTDP runs on scikit-learn's digits."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from neuroplast.cli import main
from neuroplast.config import load_config
from neuroplast.data.holdout import hold_out
from neuroplast.errors import NeuroplastError
from neuroplast.train.checkpoint import load_checkpoint, load_states
from neuroplast.train.trainer import evaluate_result

RUN = {
    "name": "holdout",
    "method": "sstdp",
    "seed": 3,
    "data": {"dataset": "digits", "limit_train": 400, "limit_test": 60, "validation": 0.25},
    "model": {"t_max": 32, "theta": 8.0, "layers": [{"type": "linear", "out": 20, "init": [0, 1]},
                                                   {"type": "linear", "out": 10, "init": [0, 3]}]},
    "learning": {"lr": 0.5, "lr_decay": 0.9, "batch_size": 4, "epochs": 5},
    "train": {"threads": 1, "progress": False, "keep": "best"},
}


def test_hold_out_is_stratified_disjoint_sorted_and_independent_of_the_global_seed():
    labels = torch.cat([torch.full((10,), 2), torch.full((20,), 0), torch.full((5,), 7)])[torch.randperm(35)]
    train, val = hold_out(labels, 0.2)
    assert sorted(labels[val].tolist()) == [0] * 4 + [2] * 2 + [7]
    assert torch.equal(torch.sort(torch.cat([train, val])).values, torch.arange(35))
    assert torch.equal(train, torch.sort(train).values) and torch.equal(val, torch.sort(val).values)
    torch.manual_seed(123)
    again = hold_out(labels, 0.2)
    assert torch.equal(again[0], train) and torch.equal(again[1], val)


def test_hold_out_keeps_one_sample_of_a_small_class_and_refuses_to_empty_one():
    assert hold_out(torch.tensor([0] * 50 + [1] * 3), 0.1)[1].tolist()[-1] >= 50  # class 1 gives one sample
    with pytest.raises(NeuroplastError, match="hold out all 1 training samples of class 1"):
        hold_out(torch.tensor([0, 0, 0, 1]), 0.5)
    with pytest.raises(NeuroplastError, match=r"data.validation must lie in \(0, 1\)"):
        hold_out(torch.tensor([0, 1]), 1.0)


def test_keep_best_without_validation_is_a_config_error_naming_the_fix():
    data = copy.deepcopy(RUN)
    data["data"].pop("validation")
    with pytest.raises(NeuroplastError, match="set data.validation") as err:
        load_config(data=data)
    assert "{" not in str(err.value)  # the message, not a dump of the section


def _write(tmp_path, data):
    import yaml

    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_best_epoch_is_reported_evaluated_and_resumed_exactly(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(_write(tmp_path, RUN)), "--out", str(out)]) == 0
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    metrics = json.loads((out / "metrics.json").read_text())
    vals = [h["val_accuracy"] for h in history]
    best = vals.index(max(vals))  # the first of equals
    assert metrics["selected_epoch"] == best + 1 and metrics["validation_accuracy"] == vals[best]
    assert metrics["test_accuracy"] == history[best]["test_accuracy"]
    assert metrics["validation_samples"] == 100 and "val_accuracy" in history[0]
    # eval reloads the selected weights, not the last ones
    evaluated = evaluate_result(out)
    assert evaluated["test_accuracy"] == metrics["test_accuracy"] and evaluated["selected_epoch"] == best + 1
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["selected"]["epoch"] == best + 1
    from neuroplast.plots import plot_result

    assert (out / "training_curves.png") in plot_result(out, data=False, log=lambda msg: None)

    # killed after two epochs, resumed: the same selection and the same files' figures
    stopped = tmp_path / "stopped"
    assert main(["train", str(_write(tmp_path, RUN)), "--out", str(stopped), "--set", "train.stop_after=2"]) == 0
    assert main(["resume", str(stopped)]) == 0
    again = json.loads((stopped / "metrics.json").read_text())
    for key in ("selected_epoch", "validation_accuracy", "test_accuracy", "lenient_accuracy"):
        assert again[key] == metrics[key], key
    resumed = load_checkpoint(stopped / "checkpoint.pt")
    for name, value in ckpt["selected"]["model"].items():
        assert torch.equal(resumed["selected"]["model"][name], value), name


def test_load_states_gives_the_selected_weights_except_when_resuming():
    model = torch.nn.Linear(2, 1)
    last = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    chosen = {k: torch.ones_like(v) for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    content = {"model": last, "optimizer": optimizer.state_dict(), "selected": {"epoch": 1, "model": chosen}}
    load_states(content, "x.pt", model)
    assert torch.equal(model.weight, torch.ones(1, 2))
    load_states(content, "x.pt", model, optimizer)
    assert torch.equal(model.weight, torch.zeros(1, 2))
    load_states({**content, "selected": None}, "x.pt", model)
    assert torch.equal(model.weight, torch.zeros(1, 2))


def test_validation_with_keep_last_reports_the_last_epoch(tmp_path):
    data = copy.deepcopy(RUN)
    data["train"]["keep"] = "last"
    data["learning"]["epochs"] = 2
    out = tmp_path / "last"
    assert main(["train", str(_write(tmp_path, data)), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["selected_epoch"] == 2 and metrics["selection"] == "last epoch"
    assert load_checkpoint(out / "checkpoint.pt")["selected"] is None


def test_validation_folds_are_disjoint_stratified_blocks_that_cover_the_set():
    labels = torch.cat([torch.full((10,), 2), torch.full((20,), 0), torch.full((5,), 7)])[torch.randperm(35)]
    folds = [hold_out(labels, 0.2, fold)[1] for fold in range(5)]
    assert torch.equal(folds[0], hold_out(labels, 0.2)[1])  # fold 0 is the plain hold-out
    assert torch.equal(torch.sort(torch.cat(folds)).values, torch.arange(35))
    for val in folds:
        assert sorted(labels[val].tolist()) == [0] * 4 + [2] * 2 + [7]
    with pytest.raises(NeuroplastError, match="validation_fold 5 needs .* use folds 0 to 4"):
        hold_out(labels, 0.2, 5)
    data = copy.deepcopy(RUN)
    data["data"].pop("validation")
    data["data"]["validation_fold"] = 1
    with pytest.raises(NeuroplastError, match="set data.validation"):
        load_config(data=data)


def test_k_folds_cover_classes_whose_size_k_does_not_divide():
    """Caltech's 399 training motorbikes: round(0.2 x 399) = 80 per fold would need 400 for fold 4; the last of
    the five folds takes the remaining 79 instead, and 401 samples would give it 81 (none is never held out)."""
    for n1 in (399, 401):
        labels = torch.cat([torch.zeros(217, dtype=torch.long), torch.ones(n1, dtype=torch.long)])
        folds = [hold_out(labels, 0.2, fold)[1] for fold in range(5)]
        assert torch.equal(torch.sort(torch.cat(folds)).values, torch.arange(len(labels)))
        assert [int((labels[f] == 1).sum()) for f in folds] == [80] * 4 + [n1 - 320]
    with pytest.raises(NeuroplastError, match="use folds 0 to 4"):
        hold_out(labels, 0.2, 5)
    assert hold_out(labels, 0.3, 2)[1].numel() > 0  # not 1/K: whole blocks only
    with pytest.raises(NeuroplastError, match="use folds 0 to 2"):
        hold_out(labels, 0.3, 3)
