"""Probe (session 26): what an untrained hidden layer of the CIFAR-10 network carries, for a few starts.

The committed run (`configs/sstdp-cifar10.yaml`, ON/OFF inputs, 6144-400-10, hidden init [0, 1], theta 100) fires
every hidden neuron within the first steps for every image. This builds the network as `neuroplast train` does
(seed 0, before any training) with other hidden starts given as `model.layers` overrides, and reports the share
of hidden neurons that fire within the window, their median time, and the accuracy of a float logistic regression
(`feature_ceiling.readout`, 10 epochs of Adam) on the hidden spike times, z-scored per neuron with the training
images' statistics so that nearly constant features are not an optimisation handicap. 5,000 training images,
the first 2,000 test images. Usage:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/cifar_hidden_init.py "0 1 100" "-1 1 40" ...

Each argument is "low high theta" for the hidden layer (the output layer stays as committed). One JSON line each.
"""

import json
import sys

import torch
import yaml

from feature_ceiling import last_layer_inputs, readout, spike_values
from probe_loop import build, load_run

CONFIG = "configs/sstdp-cifar10.yaml"


def main(starts: list[str]):
    with open(CONFIG) as f:
        committed = yaml.safe_load(f)["model"]["layers"]
    for start in starts:
        low, high, theta = (float(v) for v in start.split())
        layers = [{**committed[0], "init": [low, high], "theta": theta}, *committed[1:]]
        override = "model.layers=" + yaml.safe_dump(layers, default_flow_style=True, width=1e9).strip()
        cfg, task, (x_train, y_train), _, (x_test, y_test) = load_run(
            CONFIG, ["data.limit_train=5000", "data.limit_test=2000", override])
        torch.manual_seed(cfg.seed)
        model, _ = build(task, x_train)
        t_train, t_test = last_layer_inputs(model, task, x_train), last_layer_inputs(model, task, x_test)
        window = cfg.model.window
        fired = t_train < window
        v_train, v_test = (spike_values(t, cfg.model.t_max, window) for t in (t_train, t_test))
        mean, std = v_train.mean(0), v_train.std(0).clamp_min(1e-6)
        accuracy = readout(((v_train - mean) / std, y_train), ((v_test - mean) / std, y_test), hidden=0)
        print(json.dumps({"init": [low, high], "theta": theta, "fired": round(fired.double().mean().item(), 4),
                          "median_time": t_train[fired].median().item() if fired.any() else None,
                          **accuracy}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
