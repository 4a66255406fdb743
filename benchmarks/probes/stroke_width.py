"""Probe (session 21): thicker strokes for thin digits. In the committed `sstdp-mnist-deskew` run the test images
whose outputs all stay silent (0.73 %) carry little ink (mean intensity sum 59 against 104) and drive half as
many hidden spikes, the first of them 57 steps late instead of 11. Each image, training and test alike, after
deskewing, becomes ``max(x, a * d(x))`` with ``d`` a 3 x 3 grey dilation (each pixel the brightest of its
neighbourhood):

* ``uniform A``: the same ``a = A`` for every image;
* ``ink S``: per image the smallest ``a`` on a grid of 0.05 steps whose result carries at least ``S`` ink (sum of
  intensities), 1 where none does; images with ``S`` or more are left as they are. It normalises the amount of
  ink as deskewing normalises the slant, and uses no label.

Usage (held out, as the session-20 deskew runs; the data option `ink: S` is the `ink` mode, built in since):

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/stroke_width.py configs/sstdp-mnist-deskew.yaml \
        ink 90 data.validation=0.1 data.validation_fold=0 seed=0

Prints one JSON line per epoch (strict accuracy on held-out and test images) and, first, the share of training
images changed and their mean ink before and after.
"""

import json
import sys

import torch

import neuroplast.train.sstdp_task as sstdp_task
from neuroplast.data.images import normalise_ink
from probe_loop import ink_change, load_run, train_and_report

_deskew = sstdp_task.deskew
STATS = []


def thicken(x: torch.Tensor, mode: str, value: float) -> torch.Tensor:
    img = x.reshape(x.shape[0], 1, *x.shape[-2:]).double()
    if mode == "uniform":
        out = torch.maximum(img, value * torch.nn.functional.max_pool2d(img, 3, stride=1, padding=1))
    else:
        out = normalise_ink(img, value)
    STATS.append(ink_change(img.sum(dim=(1, 2, 3)), out.sum(dim=(1, 2, 3))))
    return out.to(x.dtype).reshape(x.shape)


def main(config: str, mode: str, value: float, overrides: list[str]):
    if mode not in ("uniform", "ink"):
        raise SystemExit(f"mode must be uniform or ink, got {mode!r}")
    sstdp_task.deskew = lambda x: thicken(_deskew(x), mode, value)
    cfg, task, (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_run(config, overrides)
    if not cfg.data.options.get("deskew"):
        raise SystemExit("the probe thickens after deskewing: use a config with data.options.deskew: true")
    print(json.dumps({"mode": mode, "value": value, "train": STATS[0], "test": STATS[1]}), flush=True)
    train_and_report(cfg, task, x_train, y_train, (x_test, y_test), (x_val, y_val), mode=mode, value=value)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:])
