"""Losses on output spike trains ``(T, B, C)`` for classification (methods.md 1.5); prediction = most spikes.

* :func:`spike_count_loss`: the label neuron should fire ``desired_count`` times, the others
  ``undesired_count`` times; firing *more* than desired (label) or *less* than undesired (others) is not
  penalised (TSSL-BP / ST-RSBP). Loss per sample ``sum_c e_c^2 / (2 T)``, i.e. the released code's
  ``1/2 sum_t sum_c ((n_c - d_c) / T)^2`` with the error spread evenly over time; averaged over the batch.
* :func:`kernel_loss`: ``1/2 sum_t sum_c (a_out - a_target)^2`` between the first-order traces of the output and
  of a desired spike train (:func:`desired_spike_trains`), averaged over the batch.
* :func:`count_cross_entropy`: cross-entropy of ``scale * counts`` (counts as logits).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neuroplast.errors import NeuroplastError
from neuroplast.functional.lif import synaptic_trace

__all__ = [
    "count_targets",
    "spike_count_loss",
    "desired_spike_trains",
    "kernel_loss",
    "count_cross_entropy",
    "predict",
]


def _check(output: torch.Tensor, labels: torch.Tensor | None = None) -> None:
    if output.dim() != 3:
        raise NeuroplastError(f"output spikes must be time-major (T, B, C), got {tuple(output.shape)}")
    if labels is not None and (labels.dim() != 1 or labels.shape[0] != output.shape[1]):
        raise NeuroplastError(f"labels must be (B,) = ({output.shape[1]},) class indices, got {tuple(labels.shape)}")
    if labels is not None and labels.numel() and (labels.min() < 0 or labels.max() >= output.shape[2]):
        raise NeuroplastError(f"labels must lie in [0, {output.shape[2]}), got range [{labels.min()}, {labels.max()}]")


def count_targets(labels: torch.Tensor, n_classes: int, desired: float, undesired: float) -> torch.Tensor:
    """``(B, C)`` target counts: ``desired`` at the label, ``undesired`` elsewhere."""
    target = torch.full((labels.shape[0], n_classes), float(undesired), device=labels.device)
    target[torch.arange(labels.shape[0], device=labels.device), labels] = float(desired)
    return target


def spike_count_loss(
    output: torch.Tensor, labels: torch.Tensor, desired_count: float = 35.0, undesired_count: float = 5.0
) -> torch.Tensor:
    """One-sided count error, ``sum_c e_c^2 / (2 T)`` averaged over the batch (see module docstring)."""
    _check(output, labels)
    n_steps, _, n_classes = output.shape
    counts = output.sum(0)
    target = count_targets(labels, n_classes, desired_count, undesired_count).to(counts)
    is_label = F.one_hot(labels, n_classes).bool()
    err = torch.where(is_label, (counts - target).clamp(max=0.0), (counts - target).clamp(min=0.0))
    return err.square().sum(1).mean() / (2.0 * n_steps)


def desired_spike_trains(
    labels: torch.Tensor, n_classes: int, n_steps: int, desired: int = 35, undesired: int = 5
) -> torch.Tensor:
    """Evenly spaced target trains ``(T, B, C)``: ``n`` spikes at steps ``t`` where ``round(n (t+1) / T)`` grows."""
    if max(desired, undesired) > n_steps:
        raise NeuroplastError(f"cannot place {max(desired, undesired)} spikes in {n_steps} steps; lower the counts")
    n = count_targets(labels, n_classes, desired, undesired)
    t = torch.arange(n_steps + 1, dtype=n.dtype, device=n.device)[:, None, None]
    cumulative = torch.floor(n * t / n_steps + 0.5)
    return cumulative[1:] - cumulative[:-1]


def kernel_loss(output: torch.Tensor, target: torch.Tensor, tau_syn: float = 8.0) -> torch.Tensor:
    """``1/2 sum_t sum_c (trace(output) - trace(target))^2`` averaged over the batch; same first-order kernel."""
    _check(output)
    if target.shape != output.shape:
        raise NeuroplastError(f"target spike trains must match output {tuple(output.shape)}, got {tuple(target.shape)}")
    diff = synaptic_trace(output, tau_syn) - synaptic_trace(target.to(output), tau_syn)
    return 0.5 * diff.square().sum((0, 2)).mean()


def count_cross_entropy(output: torch.Tensor, labels: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Cross-entropy with spike counts as logits (``scale`` tempers large counts)."""
    _check(output, labels)
    return F.cross_entropy(scale * output.sum(0), labels)


def predict(output: torch.Tensor) -> torch.Tensor:
    """Class with the most output spikes, ``(B,)``; ties go to the lowest index."""
    _check(output)
    return output.sum(0).argmax(-1)
