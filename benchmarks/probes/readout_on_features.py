"""Probe (session 25): can a spiking readout trained by SSTDP, alone, on a network's fixed hidden spikes do what a
float linear classifier does on them? The hidden spike times of a result trained with a held-out part
(`data.validation`) are computed once; then (1) float logistic regressions (see `feature_ceiling.py`) read
them as values 1 - t / t_max and as "fired by step T" bits for several T, which shows how the evidence grows
with the time a readout waits; (2) a fresh output layer of spike-once IF neurons is trained by the run's own
SSTDP settings on them, with variants. A variant is a JSON object with any of: `layer` (keys that override
the output layer's spec, e.g. theta and init), `learning` (overrides of `learning`), `warm` (start from the
trained output weights) and `delay` D (a target rule that never asks for a decision before step D: the
first-spike rule with the earliest time raised to at least D). Accuracy is strict, on the held-out images
(`val`, the hidden layer never trained on them) and on the test set; `time` is the mean output time. Usage:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/readout_on_features.py RESULT EPOCHS \\
        '{"base": {}, "theta3000": {"layer": {"theta": 3000, "init": [0, 24]}}, "delay180": {"delay": 180}}'

Prints one JSON line per reference classifier and per variant and epoch.
"""

import copy
import json
import sys
import time

import torch
from feature_ceiling import last_layer_inputs, readout, spike_values

from neuroplast.config import validate_config
from neuroplast.data.holdout import hold_out
from neuroplast.export.nir_export import load_result_model
from neuroplast.train.sstdp_task import SSTDPTask
from neuroplast.train.trainer import evaluate, train_epoch

FIRED_BY = (40, 80, 120, 160, 200, 253)


def delayed_loss(t_max: int, margin: float, delay: float):
    """The first-spike rule's loss with the earliest output time raised to at least ``delay`` before the targets
    are set: a label neuron that wins earlier is asked to fire at ``delay``, the others ``margin`` after it."""
    def loss(t_out, labels):
        early = t_out.detach()
        first = early.min(dim=1).values
        first = torch.where(first >= t_max, torch.full_like(first, t_max - margin), first).clamp_min(delay)
        target = torch.clamp(torch.maximum(early, (first + margin)[:, None]), max=float(t_max))
        target = target.scatter(1, labels[:, None], first[:, None])
        return 0.5 * ((t_out - target) ** 2).sum(dim=1).mean()
    return loss


def main(folder: str, epochs: int, variants: dict):
    torch.set_num_threads(1)
    cfg, task, model = load_result_model(folder)
    if not cfg.data.validation:
        raise SystemExit(f"{folder} was trained on its whole training set; this probe needs a held-out part "
                         "(train it with --set data.validation=0.1)")
    (x_train, y_train), (x_test, y_test) = task.load_data(train=True)
    kept, held = hold_out(y_train, cfg.data.validation, cfg.data.validation_fold)
    t_train, t_test = last_layer_inputs(model, task, x_train), last_layer_inputs(model, task, x_test)
    t_max, window = cfg.model.t_max, cfg.model.window or cfg.model.t_max
    codes = {"time": lambda t: spike_values(t, t_max, window),
             **{f"fired_by_{T}": (lambda t, T=T: (t < T).float()) for T in FIRED_BY}}
    for name, code in codes.items():
        f_train, f_test = code(t_train.float()), code(t_test.float())
        fit = readout((f_train[kept], y_train[kept]), (f_test, y_test), 0, held=(f_train[held], y_train[held]))
        print(json.dumps({"reference": f"float-linear {name}", **fit}), flush=True)
    for name, variant in variants.items():
        data = cfg.model_dump(mode="json")
        layer = copy.deepcopy(data["model"]["layers"][-1])
        layer.update(variant.get("layer", {}))
        data["model"]["layers"] = [layer]
        data["learning"].update(variant.get("learning", {}))
        data["learning"]["epochs"] = epochs
        run_cfg = validate_config(data)
        head = SSTDPTask(run_cfg)
        head.input_shape, head.n_classes = (t_train.shape[1],), task.n_classes
        torch.manual_seed(run_cfg.seed)
        net = head.build_model()
        if variant.get("warm"):
            with torch.no_grad():
                net.if_layers()[0].weight.copy_(model.if_layers()[-1].weight)
        head.inputs = lambda t: t
        if "delay" in variant:
            head.loss = delayed_loss(t_max, run_cfg.learning.margin, float(variant["delay"]))
        optimizer = head.optimizer(net)
        start = time.time()
        for epoch in range(epochs):
            train_epoch(run_cfg, head, net, optimizer, t_train[kept], y_train[kept], epoch)
            val = evaluate(head, net, t_train[held], y_train[held])
            test = evaluate(head, net, t_test, y_test)
            print(json.dumps({"variant": name, "epoch": epoch + 1, "val": round(100 * val["accuracy"], 2),
                              "test": round(100 * test["accuracy"], 2),
                              "time": round(test["mean_output_time"], 1),
                              "seconds": round(time.time() - start)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]))
