"""Supervised STDP: output-time targets, the time loss, and the autograd Function that trains IF layers.

The forward of :class:`SpikeOnceIFFunction` is the exact event-driven IF layer; its backward ignores the
(non-existent) derivative of a threshold crossing and returns the SSTDP update instead: the incoming time
gradient is normalised per sample, the weight gradient has the shape of an STDP window, and the time gradient
sent back flows only through causal pairs (methods.md 2.4).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuroplast.errors import NeuroplastError
from neuroplast.functional.stdp import normalise_per_map, normalise_per_sample, sstdp_backward, window_code
from neuroplast.functional.ttfs import if_forward


@dataclass(frozen=True)
class IFSpec:
    """Settings of one spike-once IF layer and of its STDP window."""

    theta: float
    t_max: int
    window: int | None = None
    tau_leak: float | None = None
    stdp_window: str = "step"
    a_plus: float = 1.0
    b_minus: float = 0.0
    tau_stdp: float = 10.0
    backend: str = "auto"
    normalise: str = "sample"

    def __post_init__(self):
        if self.t_max < 2:
            raise NeuroplastError(f"t_max must be >= 2, got {self.t_max}")
        if self.window is not None and not 1 <= self.window <= self.t_max:
            raise NeuroplastError(f"model.window must be in [1, model.t_max={self.t_max}], got {self.window}")
        if self.tau_leak is not None and self.tau_leak < 1:
            raise NeuroplastError(f"tau_leak must be >= 1 (or null for no leak), got {self.tau_leak}")
        window_code(self.stdp_window)
        if self.normalise not in ("sample", "map"):
            raise NeuroplastError(f"normalise must be 'sample' or 'map', got {self.normalise!r}")

    @property
    def steps(self) -> int:
        return self.t_max if self.window is None else self.window


class SpikeOnceIFFunction(torch.autograd.Function):
    """Rows of input times ``(B*L, N_in)`` -> output times ``(B*L, N_out)``; ``L`` rows belong to one sample."""

    @staticmethod
    def forward(ctx, t_in, weight, spec: IFSpec, rows_per_sample: int):
        t_out = if_forward(t_in, weight, spec.theta, spec.t_max, spec.window, spec.tau_leak, spec.backend)
        ctx.save_for_backward(t_in, t_out, weight)
        ctx.spec, ctx.rows_per_sample = spec, rows_per_sample
        return t_out

    @staticmethod
    def backward(ctx, grad_out):
        t_in, t_out, weight = ctx.saved_tensors
        spec, per = ctx.spec, ctx.rows_per_sample
        batch = t_in.shape[0] // per
        if spec.normalise == "map" and per > 1:
            grad = normalise_per_map(grad_out.reshape(batch, per, -1)).reshape(grad_out.shape)
        else:
            grad = normalise_per_sample(grad_out.reshape(batch, -1)).reshape(grad_out.shape)
        w_sum, t_grad = sstdp_backward(
            t_in, t_out, grad, weight, spec.steps, spec.stdp_window, spec.a_plus, spec.b_minus, spec.tau_stdp,
            need_time_grad=ctx.needs_input_grad[0], backend=spec.backend,
        )
        grad_w = (-w_sum / batch).to(weight.dtype)
        return (t_grad.to(t_in.dtype) if t_grad is not None else None), grad_w, None, None


def first_spike_targets(t_out: torch.Tensor, labels: torch.Tensor, t_max: int, margin: float = 5.0):
    """Released-code rule: the label neuron aims at the earliest output time, the others ``margin`` later."""
    tau0 = t_out.min(dim=1).values
    tau0 = torch.where(tau0 >= t_max, torch.full_like(tau0, t_max - margin), tau0)
    target = torch.clamp(torch.maximum(t_out, (tau0 + margin)[:, None]), max=float(t_max))
    return target.scatter(1, labels[:, None], tau0[:, None])


def mean_targets(t_out: torch.Tensor, labels: torch.Tensor, t_max: int, margin: float = 5.0):
    """The paper's equations as read by others: targets placed around the mean output time.

    Non-label targets are also capped at ``t_max`` (a time past the last step cannot be reached).
    """
    n = t_out.shape[1]
    t_mean = t_out.mean(dim=1, keepdim=True)
    others = torch.clamp(torch.maximum(t_out, t_mean + margin / n), max=float(t_max))
    label_time = t_out.gather(1, labels[:, None])
    label_target = torch.minimum(label_time, t_mean - (n - 1) / n * margin)
    return others.scatter(1, labels[:, None], label_target)


TARGET_RULES = {"first-spike": first_spike_targets, "mean": mean_targets}


def time_loss(t_out, labels, t_max, rule="first-spike", margin=5.0):
    """Mean squared error between output times and the rule's (detached) targets."""
    if rule not in TARGET_RULES:
        raise NeuroplastError(f"unknown target rule {rule!r}; allowed: {', '.join(TARGET_RULES)}")
    target = TARGET_RULES[rule](t_out.detach(), labels, t_max, margin)
    return 0.5 * ((t_out - target) ** 2).sum(dim=1).mean()


def strict_correct(t_out: torch.Tensor, labels: torch.Tensor, t_max: int) -> torch.Tensor:
    """Label neuron fired, and strictly before every other output (ties and silence are errors)."""
    label_time = t_out.gather(1, labels[:, None])
    others = t_out.scatter(1, labels[:, None], float("inf"))
    return (label_time[:, 0] < t_max) & (label_time < others).all(dim=1)


def lenient_correct(t_out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The released evaluation: correct when the label neuron is among the earliest, ties and silence included."""
    return t_out.gather(1, labels[:, None])[:, 0] <= t_out.min(dim=1).values
