"""Probe behind docs/sstdp.md and docs/scsr.md: an exponential moving average of the weights, evaluated every
epoch beside the live weights (the trainer's loop without checkpoints). Usage, as run for Caltech:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/ema_weights.py configs/sstdp-caltech.yaml 0.99,0.995,0.998

Extra arguments are ``--set``-style overrides (``learning.epochs=5``); with ``data.validation=0.1`` the
held-out training samples are scored too (``val_*``), as for the mel front end (session 13):

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/ema_weights.py configs/scsr-fsdd-mel.yaml \
        0.99,0.995,0.998 data.validation=0.1 seed=0

Prints one JSON line per epoch. The trainer option ``train.average`` (session 18) keeps one such average in the
weights' dtype; this probe keeps several in float64, as its committed outputs were made.
"""

import json
import sys

from neuroplast.train.trainer import evaluate
from probe_loop import build, load_run, train_epochs


def main(config: str, decays: list[float], overrides: list[str]):
    cfg, task, (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_run(config, overrides)
    model, optimizer = build(task, x_train)
    averages = {d: {k: v.detach().double().clone() for k, v in model.state_dict().items()} for d in decays}

    def average(model):
        for d, avg in averages.items():
            for k, v in model.state_dict().items():
                if v.is_floating_point():
                    avg[k].mul_(d).add_(v.double(), alpha=1 - d)
                else:
                    avg[k].copy_(v)

    def report(epoch, model):
        row = {"epoch": epoch + 1, "live": evaluate(task, model, x_test, y_test)["accuracy"]}
        if x_val is not None:
            row["val_live"] = evaluate(task, model, x_val, y_val)["accuracy"]
        saved = {k: v.clone() for k, v in model.state_dict().items()}
        for d, avg in averages.items():
            model.load_state_dict({k: avg[k].to(saved[k].dtype) for k in saved})
            row[f"ema{d}"] = evaluate(task, model, x_test, y_test)["accuracy"]
            if x_val is not None:
                row[f"val_ema{d}"] = evaluate(task, model, x_val, y_val)["accuracy"]
        model.load_state_dict(saved)
        print(json.dumps(row), flush=True)

    train_epochs(cfg, task, model, optimizer, x_train, y_train, after_step=average, after_epoch=report)


if __name__ == "__main__":
    main(sys.argv[1], [float(d) for d in sys.argv[2].split(",")], sys.argv[3:])
