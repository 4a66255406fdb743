"""Moment deskewing of images: against a plain per-pixel loop, on strokes whose slant is known, and in the task."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuroplast.config import validate_config
from neuroplast.data.images import deskew
from neuroplast.errors import NeuroplastError
from neuroplast.train.sstdp_task import SSTDPTask


def reference(img: np.ndarray) -> np.ndarray:
    """One (H, W) image, written for clarity: moments by loops, then each output pixel reads its own row at column
    ``c + alpha (r - cy)``, interpolated linearly between the two nearest pixels (zero outside)."""
    h, w = img.shape
    total = sum(img[r, c] for r in range(h) for c in range(w))
    if total == 0:
        return img.copy()
    cy = sum(r * img[r, c] for r in range(h) for c in range(w)) / total
    cx = sum(c * img[r, c] for r in range(h) for c in range(w)) / total
    var = sum((r - cy) ** 2 * img[r, c] for r in range(h) for c in range(w)) / total
    cov = sum((r - cy) * (c - cx) * img[r, c] for r in range(h) for c in range(w)) / total
    alpha = cov / var if var > 1e-12 else 0.0
    out = np.zeros_like(img)
    for r in range(h):
        for c in range(w):
            src = c + alpha * (r - cy)
            lo = math.floor(src)
            frac = src - lo
            left = img[r, lo] if 0 <= lo < w else 0.0
            right = img[r, lo + 1] if 0 <= lo + 1 < w else 0.0
            out[r, c] = (1 - frac) * left + frac * right
    return out


def slanted(slope: float, size: int = 20) -> torch.Tensor:
    img = torch.zeros(size, size, dtype=torch.float64)
    for r in range(3, size - 3):
        img[r, int(round(size / 2 + slope * (r - size / 2)))] = 1.0
    return img


def test_matches_a_plain_loop_on_random_images():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 9, 11, generator=g, dtype=torch.float64) ** 3
    x[1, 0, :, :6] = 0.0
    x[2] = slanted(0.6, 11)[:9, :11]
    out = deskew(x)
    for i in range(len(x)):
        np.testing.assert_allclose(out[i, 0].numpy(), np.clip(reference(x[i, 0].numpy()), 0, 1), atol=1e-9)


def test_a_slanted_stroke_stands_upright_about_its_centroid():
    x = slanted(0.5).view(1, 1, 20, 20)
    out = deskew(x)[0, 0]
    rows, cols = torch.meshgrid(torch.arange(20.0, dtype=torch.float64), torch.arange(20.0, dtype=torch.float64),
                                indexing="ij")

    def moments(img):
        m = img.sum()
        cy, cx = (img * rows).sum() / m, (img * cols).sum() / m
        return cy, cx, (img * (rows - cy) * (cols - cx)).sum() / m

    cy0, cx0, cov0 = moments(x[0, 0])
    cy1, cx1, cov1 = moments(out)
    assert abs(cov0) > 1.0 and abs(cov1) < 0.05 * abs(cov0)
    assert abs(cy1 - cy0) < 1e-9 and abs(cx1 - cx0) < 0.5


def test_upright_and_empty_images_are_unchanged():
    x = torch.zeros(2, 1, 8, 8)
    x[0, 0, 1:7, 3] = 1.0
    x[0, 0, 1:7, 4] = 0.5
    assert torch.allclose(deskew(x), x, atol=1e-6)
    assert torch.isfinite(deskew(torch.zeros(1, 2, 5, 5))).all()


def test_channels_share_one_shear_and_the_dtype_is_kept():
    x = slanted(0.4).view(1, 1, 20, 20).float()
    both = deskew(torch.cat([x, 0.5 * x], dim=1))
    assert both.dtype == torch.float32
    assert torch.allclose(both[:, 1], 0.5 * both[:, 0], atol=1e-6)


def test_wrong_shape_is_named():
    with pytest.raises(NeuroplastError, match="deskew expects images shaped"):
        deskew(torch.zeros(3, 8, 8))


def _task(value):
    cfg = validate_config({"name": "t", "method": "sstdp",
                           "data": {"dataset": "digits", "limit_train": 20, "limit_test": 10,
                                    "options": {"deskew": value}},
                           "model": {"layers": [{"type": "linear", "out": 10}]}})
    return SSTDPTask(cfg)


def test_the_task_deskews_training_and_test_images_alike():
    (x_train, _), (x_test, _) = _task(True).load_data()
    (raw_train, _), (raw_test, _) = _task(False).load_data()
    assert torch.equal(x_train, deskew(raw_train)) and torch.equal(x_test, deskew(raw_test))
    assert not torch.equal(x_train, raw_train)


def test_deskew_must_be_a_boolean():
    with pytest.raises(NeuroplastError, match="data.options.deskew"):
        _task("yes")
