"""Probe (session 15): start the first hidden layer from training images instead of U[lo, hi): each neuron's
weights are ``scale * x`` of one random training image (``mode=plain``), or ``scale * (x - mean image)``
(``mode=centred``, signed), so each neuron starts as a detector of one digit-like pattern rather than of the amount
of ink; a conv first layer starts from random inked patches of its kernel's size. Everything else is the
trainer's loop (`probe_loop.py`). The package's layer key `templates` does the plain mode. Usage:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/template_init.py configs/sstdp-mnist-800.yaml \
        plain 3.0 data.validation=0.1

Prints one JSON line per epoch (validation and test strict accuracy) and a final line.
"""

import json
import sys

import torch

from neuroplast.train.sstdp_task import template_candidates
from neuroplast.train.trainer import evaluate
from probe_loop import load_run, train_epochs


def main(config: str, mode: str, scale: float, overrides: list[str]):
    cfg, task, (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_run(config, overrides)
    model = task.build_model()
    first = model.if_layers()[0]
    gen = torch.Generator().manual_seed(cfg.seed)
    flat = template_candidates(first, x_train, gen)
    pick = torch.randperm(len(flat), generator=gen)[:first.n_out]
    templates = flat[pick] - (flat.mean(dim=0) if mode == "centred" else 0.0)
    with torch.no_grad():
        first.weight[:, :first.n_in] = (scale * templates).to(first.weight.dtype)
    optimizer = task.optimizer(model)

    def report(epoch, model):
        row = {"epoch": epoch + 1, "test": evaluate(task, model, x_test, y_test)["accuracy"]}
        if x_val is not None:
            row["val"] = evaluate(task, model, x_val, y_val)["accuracy"]
        print(json.dumps(row), flush=True)

    train_epochs(cfg, task, model, optimizer, x_train, y_train, after_epoch=report)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:])
