"""Probe (session 18): train with 1-pixel shifts, then switch them off for the last epochs (a curriculum from the
regularised to the clean images), against keeping them on. Shifts are the one regulariser that paid on MNIST, and
without them the network fits its training images better (99 % against 98 %) but generalises worse; the question
is whether a few clean epochs at the end of the learning-rate decay keep the generalisation and add the fit.

One trunk runs every epoch with the config's shifts; at each switch epoch a branch restores the trunk's state
(weights, optimizer, random generators) and runs the remaining epochs without shifts, continuing the same
learning-rate schedule. Usage, as run:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/shift_curriculum.py \
        configs/sstdp-mnist-templates.yaml 20,25 learning.epochs=30 data.validation=0.1 data.validation_fold=0

Prints one JSON line per evaluated epoch and branch (``switch`` null: the trunk), with held-out (``val``) and
test strict accuracy; choose on ``val``.
"""

import copy
import json
import sys

import torch

from neuroplast.train.trainer import train_epoch
from probe_loop import build, epoch_row, load_run


def main(config: str, switches: list[int], overrides: list[str]):
    cfg, task, (x_train, y_train), val, test = load_run(config, overrides)
    model, optimizer = build(task, x_train)
    shift, epochs = task.shift, cfg.learning.epochs
    snapshots = {}  # switch epoch -> the trunk's (weights, optimizer, torch RNG) entering it

    def report(switch, epoch):
        row = epoch_row(task, model, test, val, switch=switch, epoch=epoch + 1)
        print(json.dumps(row), flush=True)

    def run(first: int, switch: int | None):
        task.shift = shift if switch is None else 0
        for epoch in range(first, epochs):
            if switch is None and epoch in switches:
                snapshots[epoch] = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()),
                                    torch.get_rng_state())
            sums = train_epoch(cfg, task, model, optimizer, x_train, y_train, epoch)
            if switch is not None or epoch + 1 >= min(switches):
                report(switch, epoch)
            if epoch + 1 < epochs:
                task.epoch_end(model, sums, len(x_train))

    run(0, None)
    for switch in switches:
        weights, opt_state, rng = snapshots[switch]
        model.load_state_dict(weights)
        optimizer.load_state_dict(opt_state)
        torch.set_rng_state(rng)
        run(switch, switch)


if __name__ == "__main__":
    main(sys.argv[1], [int(s) for s in sys.argv[2].split(",")], sys.argv[3:])
