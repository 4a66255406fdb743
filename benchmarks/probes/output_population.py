"""Probe (session 16): k output neurons per class instead of one. Output neuron j votes for class j // k; a class
fires with its earliest neuron, the target rule and the strict / lenient metrics see those class times, and the
gradient of the min reaches only that earliest neuron, so each class can keep k prototypes. Tests whether the
single output neuron per class is what keeps the SSTDP networks from fitting their training sets. Usage:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/output_population.py \
        configs/sstdp-mnist-templates.yaml 3 data.validation=0.1

Prints one JSON line per epoch (train, validation and test strict accuracy) and nothing else.
"""

import json
import sys

from neuroplast.learning.sstdp import time_loss
from neuroplast.train.trainer import evaluate
from probe_loop import load_run, train_epochs


def main(config: str, k: int, overrides: list[str]):
    cfg, task, (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_run(config, overrides)
    cfg.model.layers[-1]["out"] = task.n_classes * k
    plain_stats = task.batch_stats

    def class_times(t_out):
        return t_out.reshape(t_out.shape[0], -1, k).min(dim=2).values

    def loss(t_out, y):
        lrn = cfg.learning
        return time_loss(class_times(t_out), y, cfg.model.t_max, lrn.target_rule, lrn.margin)

    task.loss = loss
    task.batch_stats = lambda model, t_out, y, **kw: plain_stats(model, class_times(t_out), y, **kw)
    model = task.build_model()
    task.init_from_data(model, x_train)
    optimizer = task.optimizer(model)

    def report(epoch, model):
        row = {"epoch": epoch + 1, "outputs_per_class": k}
        for name, x, y in (("train", x_train, y_train), ("val", x_val, y_val), ("test", x_test, y_test)):
            if x is not None:
                row[name] = evaluate(task, model, x, y)["accuracy"]
        print(json.dumps(row), flush=True)

    train_epochs(cfg, task, model, optimizer, x_train, y_train, after_epoch=report)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
