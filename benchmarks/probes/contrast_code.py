"""Probe (session 23): a contrast code for CIFAR-10. Under the plain latency code (and its ON/OFF copy) every
natural image delivers thousands of early spikes, so every hidden neuron fires within the first steps whatever the
image shows, and the committed CPU run learns little (21 %). Here each pixel enters as its signed departure from a
reference, split into an ON (brighter) and an OFF (darker) channel and scaled so the 99th percentile of the
training departures is 1: a pixel at its reference does not spike, a strong departure spikes early.

Modes: ``global`` departs from the training set's mean image (per pixel and channel), ``image`` from each
image's own mean per channel, ``local`` from a Gaussian blur of the image (sigma 2 pixels, per channel: a
difference-of-Gaussians-like edge code, as in the retina-inspired front ends of the temporal-coding literature).
Usage (a 10k-image screen, a tenth held out):

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/contrast_code.py configs/sstdp-cifar10.yaml global \
        data.options.onoff=false data.limit_train=10000 data.validation=0.1 learning.epochs=3

The hidden-threshold variants ran on a copy of the config with the first layer's ``theta: 400`` / ``1500`` and the
same settings written into it. The committed ON/OFF code on the same screen is
``neuroplast train configs/sstdp-cifar10.yaml --set data.limit_train=10000 --set data.limit_test=2000
--set data.validation=0.1 --set learning.epochs=4``. Prints the mean number of input spikes per image within the
window, then one JSON line per epoch (strict accuracy on the held-out tenth and on the first 2,000 test images).
"""

import json
import sys

import torch
from scipy.ndimage import gaussian_filter

from probe_loop import load_run, train_and_report


def departures(x: torch.Tensor, mode: str, mean_image: torch.Tensor) -> torch.Tensor:
    if mode == "global":
        return x - mean_image
    if mode == "image":
        return x - x.mean(dim=(2, 3), keepdim=True)
    if mode == "local":
        return x - torch.from_numpy(gaussian_filter(x.numpy(), sigma=(0, 0, 2, 2), mode="nearest"))
    raise SystemExit(f"mode: expected global | image | local, got {mode!r}")


def contrast_code(x: torch.Tensor, mode: str, mean_image: torch.Tensor, scale: float | None):
    d = departures(x.double(), mode, mean_image.double())
    if scale is None:
        scale = torch.quantile(d.abs().flatten()[::97], 0.99).item()
    on, off = (d / scale).clamp(0, 1), (-d / scale).clamp(0, 1)
    return torch.cat([on, off], dim=1).to(x.dtype), scale


def main(config: str, mode: str, overrides: list[str]):
    cfg, task, (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_run(config, overrides)
    mean_image = x_train.mean(dim=0, keepdim=True)
    x_train, scale = contrast_code(x_train, mode, mean_image, None)
    x_test, _ = contrast_code(x_test, mode, mean_image, scale)
    if x_val is not None:
        x_val, _ = contrast_code(x_val, mode, mean_image, scale)
    task.input_shape = tuple(x_train.shape[1:])
    spikes = (torch.round((1 - x_train[:1000]) * (cfg.model.t_max - 1)) < (cfg.model.window or cfg.model.t_max))
    print(json.dumps({"mode": mode, "scale": scale, "input_spikes": spikes.flatten(1).sum(1).double().mean().item()}),
          flush=True)
    train_and_report(cfg, task, x_train, y_train, (x_test, y_test), (x_val, y_val), mode=mode)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
