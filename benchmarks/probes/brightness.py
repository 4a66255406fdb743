"""Probe (session 22): brighter dark garments on Fashion-MNIST. In the committed `sstdp-fashion` run the test images
whose outputs all stay silent (2.06 %) are darker than the rest (mean foreground intensity 0.44 against 0.57, ink
156 against 220.5; every image already peaks at 1): the latency code turns a dark garment into late spikes
everywhere, as a thin digit on MNIST (`stroke_width.py`). Each image, training and test alike, becomes ``x ** g``
with ``g`` the largest of 1, 0.95, ..., 0.3 that gives it at least ``S`` ink (sum of intensities), 0.3 where none
does. Black stays black and white stays white; only mid-grey pixels move, earlier. No label is used.

Usage (held out, as the session-18 Fashion probes: seed 0 on fold 0, seed 1 on fold 1):

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/brightness.py configs/sstdp-fashion.yaml 220 \
        data.validation=0.1 data.validation_fold=0 seed=0

Prints the share of training images changed and their mean ink before and after, then one JSON line per epoch
(strict accuracy on held-out and test images).
"""

import json
import sys

import torch

from probe_loop import ink_change, load_run, train_and_report

GAMMAS = [g / 20 for g in range(20, 5, -1)]


def brighten(x: torch.Tensor, ink: float) -> tuple[torch.Tensor, dict]:
    """One power at a time, largest first, so no (powers x images x pixels) tensor is ever held."""
    flat = x.reshape(len(x), -1).double()
    out = flat.clone()
    done = flat.sum(1) >= ink
    for g in GAMMAS[1:]:
        if bool(done.all()):
            break
        powered = flat[~done] ** g
        out[~done] = powered
        done[~done] = powered.sum(1) >= ink
    return out.to(x.dtype).reshape(x.shape), ink_change(flat.sum(1), out.sum(1))


def main(config: str, ink: float, overrides: list[str]):
    cfg, task, (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_run(config, overrides)
    x_train, train_stats = brighten(x_train, ink)
    x_test, test_stats = brighten(x_test, ink)
    if x_val is not None:
        x_val, _ = brighten(x_val, ink)
    print(json.dumps({"ink": ink, "train": train_stats, "test": test_stats}), flush=True)
    train_and_report(cfg, task, x_train, y_train, (x_test, y_test), (x_val, y_val), ink=ink)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3:])
