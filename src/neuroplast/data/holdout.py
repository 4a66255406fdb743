"""A validation part held out of a training set, for choosing epochs and settings without looking at the test set."""

from __future__ import annotations

import torch

from neuroplast.errors import NeuroplastError

HOLDOUT_SEED = 0


def hold_out(labels: torch.Tensor, fraction: float, fold: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(train_index, validation_index)``: ``round(fraction * n_c)`` samples of every class ``c`` (at least one).

    Stratified, so a small or unbalanced set keeps its class proportions in both parts. The draw uses a fixed seed,
    not the run's: runs that differ only in their seed are compared on the same validation samples. ``fold`` picks
    which of the disjoint blocks of that fixed per-class permutation is held out (0 is the first), so fraction
    ``1/K`` with folds ``0 .. K-1`` is K-fold cross-validation: the noise of one small validation part is what
    hides differences of a point between settings. Both index lists are sorted, so the training part keeps the
    dataset's order.
    """
    if not 0.0 < fraction < 1.0:
        raise NeuroplastError(f"data.validation must lie in (0, 1), got {fraction!r}")
    if fold < 0:
        raise NeuroplastError(f"data.validation_fold must be >= 0, got {fold!r}")
    labels = torch.as_tensor(labels)
    g = torch.Generator().manual_seed(HOLDOUT_SEED)
    held = []
    folds = round(1 / fraction)
    exact = abs(folds * fraction - 1.0) < 1e-9  # fraction 1/K: the K folds together cover every sample
    for c in torch.unique(labels).tolist():
        members = torch.nonzero(labels == c).flatten()
        n = len(members)
        k = max(1, round(fraction * n))
        if k >= n:
            raise NeuroplastError(f"data.validation {fraction} would hold out all {n} training samples of "
                                  f"class {c}; lower it or train on more data (data.limit_train)")
        last = folds - 1 if exact and (folds - 1) * k < n else n // k - 1
        if fold > last:
            raise NeuroplastError(f"data.validation_fold {fold} needs {(fold + 1) * k} samples of class {c}, which has "
                                  f"{n}: with data.validation {fraction} use folds 0 to {last}")
        end = n if exact and fold == folds - 1 else (fold + 1) * k  # the last of K folds takes the remainder
        held.append(members[torch.randperm(n, generator=g)[fold * k:end]])
    val = torch.sort(torch.cat(held)).values
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[val] = False
    return torch.nonzero(keep).flatten(), val
