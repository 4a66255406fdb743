"""Probe (session 19): how much of each sample's error size the update keeps. The released rule scales each
sample's incoming time gradient to unit L2 norm, so a sample one step off moves the weights as much as one that is
wrong by fifty. Here a sample's gradient is divided by its norm to the power P instead (P 1: the released rule;
P 0: the raw gradient), then the batch is rescaled so its samples' mean norm is 1 as before, which keeps the
learning rate's meaning. Every SSTDP layer uses it. Usage (the quick MNIST probe):

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/normalise_power.py configs/sstdp-mnist-templates.yaml 0.5 \
        learning.epochs=5 data.limit_train=10000 data.validation=0.1

Prints one JSON line per epoch: strict accuracy on held-out and test images.
"""

import sys

import torch

import neuroplast.learning.sstdp as sstdp
from probe_loop import load_run, train_and_report


def power_normalise(power: float):
    def normalise(grad: torch.Tensor) -> torch.Tensor:
        flat = grad.reshape(grad.shape[0], -1)
        norm = flat.norm(dim=1, keepdim=True)
        live = norm > 0
        safe = torch.where(live, norm, torch.ones_like(norm))
        scaled = flat / safe ** power
        if live.any():
            scaled = scaled / (safe[live] ** (1 - power)).mean()
        return scaled.reshape(grad.shape)
    return normalise


def main(config: str, power: float, overrides: list[str]):
    sstdp.normalise_per_sample = power_normalise(power)
    cfg, task, (x_train, y_train), val, test = load_run(config, overrides)
    train_and_report(cfg, task, x_train, y_train, test, val, power=power)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3:])
