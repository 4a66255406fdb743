"""Probe (session 19): k-first winner-take-all in the first layer. Only each sample's k earliest first-layer spikes
(ties at the k-th time kept) reach the next layer, in training and in evaluation; the others count as silent, so
they get no error and the output reads a sparse code, as lateral inhibition gives in the unsupervised STDP
networks of the temporal-coding literature. Usage (the quick MNIST probe: 10k images, 5 epochs, held-out tenth):

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/hidden_wta.py configs/sstdp-mnist-templates.yaml 0 \
        learning.epochs=5 data.limit_train=10000 data.validation=0.1

K 0 runs the config unchanged. Prints one JSON line per epoch: strict accuracy on held-out and test images and
the mean number of first-layer spikes per sample that reach the next layer.
"""

import json
import sys

from neuroplast.functional.ttfs import first_k_times
from neuroplast.train.trainer import evaluate
from probe_loop import build, load_run, train_epochs


def main(config: str, k: int, overrides: list[str]):
    cfg, task, (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_run(config, overrides)
    model, optimizer = build(task, x_train)
    first = model.if_layers()[0]
    plain = first.forward
    t_max = cfg.model.t_max
    spikes = []

    def forward(t_in, theta_scale=1.0):
        out = plain(t_in, theta_scale)
        if k:
            out = first_k_times(out, k, t_max)
        spikes.append((out < t_max).sum(dim=1).double().mean().item())
        return out

    first.forward = forward

    def report(epoch, model):
        # Not probe_loop.epoch_row: the spike count is read between the two evaluations, so it covers test images only.
        spikes.clear()
        row = {"k": k, "epoch": epoch + 1, "test": evaluate(task, model, x_test, y_test)["accuracy"]}
        row["first_layer_spikes"] = sum(spikes) / max(len(spikes), 1)
        if x_val is not None:
            row["val"] = evaluate(task, model, x_val, y_val)["accuracy"]
        print(json.dumps(row), flush=True)

    train_epochs(cfg, task, model, optimizer, x_train, y_train, after_epoch=report)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
