"""Ink normalisation of images: against a plain per-pixel loop, on thin and thick strokes, and in the task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroplast.config import validate_config
from neuroplast.data.images import deskew, normalise_ink
from neuroplast.errors import NeuroplastError
from neuroplast.train.sstdp_task import SSTDPTask


def reference(img: np.ndarray, ink: float) -> np.ndarray:
    """One (C, H, W) image, written for clarity: the 3 x 3 neighbourhood maximum by loops, then the weights
    0, 0.05, ..., 1 tried in turn until the thickened image carries ``ink``."""
    c, h, w = img.shape
    grown = np.zeros_like(img)
    for k in range(c):
        for r in range(h):
            for q in range(w):
                grown[k, r, q] = max(img[k, rr, qq] for rr in range(max(r - 1, 0), min(r + 2, h))
                                     for qq in range(max(q - 1, 0), min(q + 2, w)))
    for step in range(21):
        out = np.maximum(img, step / 20 * grown)
        if out.sum() >= ink:
            return out
    return out


def test_matches_a_plain_loop_on_random_images():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 2, 7, 9, generator=g, dtype=torch.float64) ** 6
    x[3] = 0.0
    for ink in (1.0, 4.0, 12.0, 1e6):
        out = normalise_ink(x, ink)
        for i in range(len(x)):
            np.testing.assert_allclose(out[i].numpy(), reference(x[i].numpy(), ink), atol=1e-12)


def test_thin_strokes_reach_the_ink_and_thick_ones_are_left_alone():
    x = torch.zeros(2, 1, 12, 12, dtype=torch.float64)
    x[0, 0, 2:10, 5] = 1.0          # a one-pixel line: 8 ink
    x[1, 0, 2:10, 4:8] = 1.0        # a thick bar: 32 ink
    out = normalise_ink(x, 16.0)
    assert out[0].sum() >= 16.0 and out[0].sum() < 16.0 + 1.0
    assert torch.equal(out[1], x[1])
    assert torch.equal(out[0, 0, 2:10, 5], x[0, 0, 2:10, 5])     # the stroke itself is kept, its sides grow
    assert (out[0, 0, 2:10, 4] > 0).all() and (out[0, 0, 2:10, 6] > 0).all()


def test_empty_images_stay_empty_and_the_dtype_is_kept():
    x = torch.zeros(2, 1, 5, 5)
    x[1, 0, 2, 2] = 0.5
    out = normalise_ink(x, 100.0)
    assert out.dtype == torch.float32
    assert torch.equal(out[0], x[0])
    assert torch.allclose(out[1, 0, 1:4, 1:4], torch.full((3, 3), 0.5))   # weight 1 where no weight reaches it


def test_wrong_shape_is_named():
    with pytest.raises(NeuroplastError, match="normalise_ink expects images shaped"):
        normalise_ink(torch.zeros(3, 8, 8), 10.0)


def _task(**options):
    cfg = validate_config({"name": "t", "method": "sstdp",
                           "data": {"dataset": "digits", "limit_train": 20, "limit_test": 10, "options": options},
                           "model": {"layers": [{"type": "linear", "out": 10}]}})
    return SSTDPTask(cfg)


def test_the_task_thickens_training_and_test_images_alike_after_deskewing():
    (x_train, _), (x_test, _) = _task(deskew=True, ink=20.0).load_data()
    (raw_train, _), (raw_test, _) = _task().load_data()
    assert torch.equal(x_train, normalise_ink(deskew(raw_train), 20.0))
    assert torch.equal(x_test, normalise_ink(deskew(raw_test), 20.0))
    assert not torch.equal(x_train, deskew(raw_train))


@pytest.mark.parametrize("value", [0, -3, "lots", True, float("nan")])
def test_bad_ink_values_are_named(value):
    with pytest.raises(NeuroplastError, match="data.options.ink"):
        _task(ink=value)
