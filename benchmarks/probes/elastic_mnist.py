"""Probe (session 12): elastic deformations of the training images (Simard et al. 2003), and a Gaussian blur of
all images, for the SSTDP MNIST network; none is a config option because none helped (docs/sstdp.md).

Run from the repository root, for example
    ORDER=0 python benchmarks/probes/elastic_mnist.py 8 4 -- train configs/sstdp-mnist-800.yaml \
        --set learning.epochs=12 --out /tmp/elastic --force
ALPHA SIGMA: displacement scale (pixels) and the smoothing of the random displacement field (ALPHA 0: none).
ORDER=0|1: nearest or bilinear resampling of the spike-time map. BLUR=s: Gaussian blur (sigma s pixels) of every
image, train and test, before the latency code.
"""
import os
import sys

import numpy as np
import torch
from scipy.ndimage import gaussian_filter, map_coordinates

from neuroplast import cli
from neuroplast.train.sstdp_task import SSTDPTask

ALPHA, SIGMA = float(sys.argv[1]), float(sys.argv[2])
ORDER = int(os.environ.get("ORDER", "0"))
BLUR = float(os.environ.get("BLUR", "0"))
_augment, _inputs = SSTDPTask.augment, SSTDPTask.inputs


def elastic(self, x, idx, epoch):
    """The config's own augmentation, then a smooth random displacement of every spike-time map."""
    x = _augment(self, x, idx, epoch)
    t_max = self.cfg.model.t_max
    img = x.reshape(x.shape[0], *self.input_shape)[:, 0].numpy().astype(np.float64)
    b, h, w = img.shape
    rng = np.random.default_rng([self.cfg.seed, epoch, int(idx[0])])
    field = gaussian_filter(rng.uniform(-1, 1, (2, b, h, w)), (0, 0, SIGMA, SIGMA), mode="constant") * ALPHA
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coords = [np.broadcast_to(np.arange(b)[:, None, None], (b, h, w)), yy + field[0], xx + field[1]]
    out = map_coordinates(img, coords, order=ORDER, mode="constant", cval=float(t_max - 1))
    return torch.from_numpy(np.round(np.minimum(out, t_max - 1))).to(x.dtype).reshape(x.shape)


def blurred(self, x):
    """Blur the intensities (train and test alike) before the latency code."""
    x = torch.from_numpy(gaussian_filter(x.numpy().astype(np.float64), (0,) * (x.ndim - 2) + (BLUR, BLUR)))
    return _inputs(self, x.float())


if ALPHA > 0:
    SSTDPTask.augment = elastic
if BLUR > 0:
    SSTDPTask.inputs = blurred
sys.exit(cli.main(sys.argv[4:]))
