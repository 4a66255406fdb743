"""Image datasets for time-to-first-spike networks: load, optionally fall back offline, latency-encode."""

from __future__ import annotations

import sys

import torch

from neuroplast.errors import NeuroplastError
from neuroplast.functional.ttfs import latency_encode


def load_image_split(dataset: str, split: str, root=None, options=None, limit=None, fallback=None,
                     quiet: bool = False):
    """``(x float (N, C, H, W) in [0, 1], y int64, name actually used)``; falls back when files are absent, saying
    so unless ``quiet`` (a run loading its second split has told the user already)."""
    from neuroplast.data.vision import load_vision

    try:
        x, y = load_vision(dataset, split, root=root, **(options or {}))
        used = dataset
    except NeuroplastError as exc:
        if not fallback or fallback == dataset:
            raise
        if not quiet:
            print(f"neuroplast: {exc}\nneuroplast: falling back to the bundled {fallback!r} dataset", file=sys.stderr)
        x, y = load_vision(fallback, split)
        used = fallback
        x = _match_shape(torch.as_tensor(x), FALLBACK_SHAPES.get(dataset))
    x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64)
    if limit is not None and limit < len(y):
        keep = balanced_head(y, limit)
        x, y = x[keep], y[keep]
    if len(x) == 0:
        raise NeuroplastError(f"dataset {used!r} split {split!r} is empty; check the data folder or limits")
    if not torch.isfinite(x).all():
        raise NeuroplastError(f"dataset {used!r} split {split!r} holds NaN or inf pixel values")
    return x, y, used


def balanced_head(y: torch.Tensor, limit: int) -> torch.Tensor:
    """Indices of the first ``limit`` samples taking each class in turn, in file order within a class.

    Some files are sorted by class (the CIFAR-10 tarball, Caltech folders), where the first ``limit`` samples
    would be one class; this keeps a quick run's subset balanced and still deterministic.
    """
    rank = torch.empty_like(y)
    for c in torch.unique(y):
        where = torch.nonzero(y == c).flatten()
        rank[where] = torch.arange(len(where))
    key = rank * (int(y.max()) + 1) + y
    return torch.sort(torch.argsort(key)[:limit]).values


FALLBACK_SHAPES = {"mnist": (28, 28), "fashion-mnist": (28, 28)}


def _match_shape(x: torch.Tensor, hw):
    """Resize fallback images to the primary dataset's size so the same network config still applies."""
    if hw is None or tuple(x.shape[-2:]) == hw:
        return x
    return torch.nn.functional.interpolate(x.float(), size=hw, mode="bilinear", align_corners=False).clamp(0, 1)


def encode_latency(x: torch.Tensor, t_max: int) -> torch.Tensor:
    return latency_encode(x, t_max)


def on_off(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, 2C, H, W)``: each channel and its negative ``1 - x``.

    Under latency coding a dark pixel fires late or never, so with non-negative weights it can hardly matter; the
    OFF copy makes dark regions fire early too (dense natural images such as CIFAR-10 need both).
    """
    return torch.cat([x, 1 - x], dim=1)


def deskew(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` in [0, 1] -> the same with each image sheared along its rows so that its ink stands upright.

    The shear ``alpha = cov(row, col) / var(row)`` comes from the image's intensity moments (channels summed) and is
    applied about its centroid, which stays in place; bilinear resampling, zeros outside. Handwriting slants vary
    from writer to writer, which a fully connected layer must otherwise learn pixel by pixel; the moments need no
    label, so the same transform serves training and test images. An image without ink is returned unchanged.
    """
    if x.dim() != 4:
        raise NeuroplastError(f"deskew expects images shaped (N, C, H, W), got {tuple(x.shape)}")
    n, _, h, w = x.shape
    work = x.double()
    mass = work.sum(dim=1)
    total = mass.sum(dim=(1, 2)).clamp_min(1e-12)
    rows = torch.arange(h, dtype=torch.float64).view(1, h, 1)
    cols = torch.arange(w, dtype=torch.float64).view(1, 1, w)
    cy = (mass * rows).sum(dim=(1, 2)) / total
    cx = (mass * cols).sum(dim=(1, 2)) / total
    dy, dx = rows - cy.view(n, 1, 1), cols - cx.view(n, 1, 1)
    var_y = (mass * dy * dy).sum(dim=(1, 2)) / total
    cov = (mass * dy * dx).sum(dim=(1, 2)) / total
    alpha = torch.where(var_y > 1e-12, cov / var_y.clamp_min(1e-12), torch.zeros_like(cov))
    src_y = rows.expand(n, h, w)
    src_x = cols + alpha.view(n, 1, 1) * dy
    grid = torch.stack([src_x / (w - 1) * 2 - 1, src_y / (h - 1) * 2 - 1], dim=-1)
    out = torch.nn.functional.grid_sample(work, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.clamp(0.0, 1.0).to(x.dtype)


INK_STEPS = 20


def normalise_ink(x: torch.Tensor, ink: float) -> torch.Tensor:
    """``(N, C, H, W)`` in [0, 1] -> the same with thin strokes thickened until each image carries ``ink``.

    Each image becomes ``max(x, a * d(x))``, ``d`` a 3 x 3 grey dilation (every pixel the brightest of its
    neighbourhood, per channel), with ``a`` the smallest of 0, 1/20, ..., 1 whose result sums (all channels) to at
    least ``ink``, and 1 where none does. A latency code gives a thin or faint digit few early spikes, too few to
    lift any output over threshold; this evens out the amount of ink as ``deskew`` evens out the slant, needs no
    label, and leaves images that already carry ``ink`` unchanged.
    """
    if x.dim() != 4:
        raise NeuroplastError(f"normalise_ink expects images shaped (N, C, H, W), got {tuple(x.shape)}")
    work = x.double()
    grown = torch.nn.functional.max_pool2d(work, 3, stride=1, padding=1)
    steps = torch.arange(INK_STEPS + 1, dtype=torch.float64) / INK_STEPS
    sums = torch.stack([torch.maximum(work, a * grown).sum(dim=(1, 2, 3)) for a in steps], dim=1)
    enough = sums >= ink
    pick = torch.where(enough.any(dim=1), enough.double().argmax(dim=1), torch.full_like(sums[:, 0], INK_STEPS).long())
    a = steps[pick].view(-1, 1, 1, 1)
    return torch.maximum(work, a * grown).to(x.dtype)
