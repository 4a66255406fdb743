"""Probe (session 13): choose the Caltech Face/Motorbike SSTDP settings by 5-fold cross-validation on the training
half only, then see whether the choice holds on the test half. Three steps, each printing one JSON line per config:

    # 1. random search: the committed config (trial 0) + 100 draws from SPACE, training seed 0, folds seeded 123
    NEUROPLAST_DATA=../shared/data python benchmarks/probes/caltech_cv_search.py search 100 > search.jsonl
    # 2. re-score chosen configs with other training seeds and fold splits (lines: {"params", "seed", "fold_seed"})
    NEUROPLAST_DATA=../shared/data python benchmarks/probes/caltech_cv_search.py rescore jobs.jsonl
    # 3. the test half: neuroplast train configs/sstdp-caltech.yaml --set KEY=VALUE ... --set seed=N

Add ``--worker K --workers W`` to split a step over W processes (one thread each). Every fold trains for the
config's full budget (40 epochs) on four fifths of the training half and is scored strictly on the fifth; ``cv`` is
the fraction of the 616 training images classified correctly when held out.
"""

import argparse
import json
import random
import sys
import time

import numpy as np
import torch

from neuroplast.config import load_config
from neuroplast.train.trainer import evaluate, make_task, set_threads
from probe_loop import train_epochs

CONFIG = "configs/sstdp-caltech.yaml"
SPACE = {
    "hidden": [100, 200, 300, 400], "h_init": [0.5, 1.0, 2.0], "h_theta": [70, 100, 150, 200],
    "o_init": [5, 10, 20], "o_theta": [50, 100, 200, 400], "margin": [10, 20, 30, 50], "lr": [3, 5, 10, 20],
    "lr_decay": [0.9, 0.95, 0.97], "wd": [0, 1e-5, 1e-4, 3e-4], "batch": [8, 16, 32],
}
COMMITTED = dict(hidden=200, h_init=1.0, h_theta=100, o_init=10, o_theta=100, margin=30, lr=10, lr_decay=0.95,
                 wd=1e-4, batch=16)


def overrides(p: dict) -> list[str]:
    """``--set`` strings that give ``configs/sstdp-caltech.yaml`` the settings ``p``."""
    layers = [{"type": "linear", "out": p["hidden"], "init": [0, p["h_init"]], "theta": p["h_theta"]},
              {"type": "linear", "out": 2, "init": [0, p["o_init"]], "theta": p["o_theta"]}]
    return [f"model.layers={json.dumps(layers)}", f"learning.margin={p['margin']}", f"learning.lr={p['lr']}",
            f"learning.lr_decay={p['lr_decay']}", f"learning.weight_decay={p['wd']}",
            f"learning.batch_size={p['batch']}"]


def stratified_folds(y: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out: list[list[int]] = [[] for _ in range(k)]
    for c in np.unique(y):
        for i, j in enumerate(rng.permutation(np.flatnonzero(y == c))):
            out[i % k].append(int(j))
    return [np.sort(f) for f in out]


def fit_and_score(cfg, task, x_train, y_train, x_eval, y_eval) -> float:
    """Train as ``neuroplast train`` would (no checkpoints or logs); strict accuracy at the end."""
    torch.manual_seed(cfg.seed)
    model = task.build_model()
    train_epochs(cfg, task, model, task.optimizer(model), x_train, y_train)
    return evaluate(task, model, x_eval, y_eval)["accuracy"]


def cross_validate(params: dict, seed: int, fold_seed: int, data) -> dict:
    base_task, x, y = data
    cfg = load_config(CONFIG, overrides(params) + [f"seed={seed}"])
    task = make_task(cfg)
    task.input_shape, task.n_classes, task.data_used = base_task.input_shape, base_task.n_classes, base_task.data_used
    folds = stratified_folds(y.numpy(), 5, fold_seed)
    tic, correct, per_fold = time.time(), 0.0, []
    for f, held in enumerate(folds):
        rest = np.sort(np.concatenate([g for i, g in enumerate(folds) if i != f]))
        held_t, rest_t = torch.as_tensor(held), torch.as_tensor(rest)
        acc = fit_and_score(cfg, task, x[rest_t], y[rest_t], x[held_t], y[held_t])
        per_fold.append(round(acc, 4))
        correct += acc * len(held)
    return {"params": params, "seed": seed, "fold_seed": fold_seed, "cv": round(correct / len(y), 4),
            "folds": per_fold, "seconds": round(time.time() - tic)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["search", "rescore"])
    ap.add_argument("arg", help="search: number of random draws; rescore: a JSON-lines file of jobs")
    ap.add_argument("--worker", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    set_threads(1)
    base_task = make_task(load_config(CONFIG, []))
    (x, y), _ = base_task.load_data()
    if args.step == "search":
        rng = random.Random(7)
        draws = [{k: rng.choice(v) for k, v in SPACE.items()} for _ in range(int(args.arg))]
        jobs = [{"trial": t, "params": p, "seed": 0, "fold_seed": 123} for t, p in enumerate([COMMITTED] + draws)]
    else:
        jobs = [json.loads(line) for line in open(args.arg) if line.strip()]
    for j, job in enumerate(jobs):
        if j % args.workers == args.worker:
            row = cross_validate(job["params"], job["seed"], job["fold_seed"], (base_task, x, y))
            print(json.dumps({k: v for k, v in job.items() if k not in row} | row), flush=True)


if __name__ == "__main__":
    sys.exit(main())
