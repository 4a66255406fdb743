"""Probe (session 17): per-image intensity transforms before the latency code, for Caltech Face/Motorbike, whose
consistently misclassified test images (wrong in 6+ of 10 seeds) are darker than the rest (mean intensity 0.40
against 0.60): the latency code turns a dark image into late spikes everywhere. ``equalise`` replaces each pixel by
its rank within its image (ties share their mean rank), scaled to [0, 1]: every image then has the same
spike-time histogram and only the order of its pixels (a rank-order code) carries the class; ``mean`` scales each
image so that its mean intensity is the data set's (clipped to 1). The trainer's loop without checkpoints. Usage:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/input_transform.py configs/sstdp-caltech.yaml equalise seed=0

Extra arguments are ``--set``-style overrides. Prints one JSON line: the final epoch's strict and lenient test
accuracy (and held-out accuracy with ``data.validation``).
"""

import json
import sys

import torch
from scipy.stats import rankdata

from neuroplast.train.trainer import evaluate
from probe_loop import load_run, train_epochs


def equalise(x: torch.Tensor) -> torch.Tensor:
    flat = x.reshape(len(x), -1).double().numpy()
    ranks = rankdata(flat, method="average", axis=1) - 1
    return torch.from_numpy(ranks / (flat.shape[1] - 1)).reshape(x.shape).to(x.dtype)


def mean_match(x: torch.Tensor, target: float) -> torch.Tensor:
    m = x.reshape(len(x), -1).mean(dim=1).clamp_min(1e-6)
    return (x * (target / m).reshape(-1, *[1] * (x.dim() - 1))).clamp(0, 1)


def main(config: str, transform: str, overrides: list[str]):
    cfg, task, (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_run(config, overrides)
    if transform == "equalise":
        x_train, x_test = equalise(x_train), equalise(x_test)
        x_val = equalise(x_val) if x_val is not None else None
    elif transform == "mean":
        target = float(x_train.mean())
        x_train, x_test = mean_match(x_train, target), mean_match(x_test, target)
        x_val = mean_match(x_val, target) if x_val is not None else None
    elif transform != "none":
        raise SystemExit(f"unknown transform {transform!r}; use equalise, mean or none")
    model = task.build_model()
    task.init_from_data(model, x_train)
    optimizer = task.optimizer(model)
    train_epochs(cfg, task, model, optimizer, x_train, y_train)
    test = evaluate(task, model, x_test, y_test)
    row = {"transform": transform, "overrides": overrides, "test_strict": round(test["accuracy"], 4),
           "test_lenient": round(test["lenient_accuracy"], 4)}
    if x_val is not None:
        row["val_strict"] = round(evaluate(task, model, x_val, y_val)["accuracy"], 4)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
