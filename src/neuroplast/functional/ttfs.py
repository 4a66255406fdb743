"""Spike-once integrate-and-fire neurons under time-to-first-spike coding (methods.md part 2).

Every tensor here holds spike *times*: integer-valued floats in ``[0, t_max]`` where ``t_max`` means
"no spike". A layer sees input times ``(R, N_in)`` and weights ``(N_out, N_in)`` and returns output
times ``(R, N_out)``; conv layers reach the same kernels through :func:`unfold_times`.

Two forwards sit side by side:

* :func:`if_forward_reference` steps through every simulated step with a dense matmul, exactly as the
  neuron is defined. It is the specification, written for clarity, and the benchmark's baseline.
* :func:`if_forward_events` gives the same times from the input events alone: a neuron's potential only
  changes when an input spike arrives, so only the prefix sums over sorted events matter.

Neuron semantics, shared by both:

* step ``t`` adds the weights of every input with ``t_in == t`` (zero synaptic delay), then tests
  ``v > theta`` (strict); the first such step is the output time and the neuron never fires again;
* only steps ``0 .. window-1`` are simulated (``window`` defaults to ``t_max``); inputs at or after the
  window never arrive, and a neuron that did not fire gets ``t_max``;
* optional leak ``tau``: ``v <- v + (I_t - v) / tau`` each step (``tau=None``: perfect integrator).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from neuroplast.functional.compiled import compiled_kernels

__all__ = [
    "latency_encode",
    "if_forward_reference",
    "if_forward_events",
    "unfold_times",
    "min_pool_times",
    "if_forward",
]


def latency_encode(x: torch.Tensor, t_max: int) -> torch.Tensor:
    """Intensity in ``[0, 1]`` -> one spike at ``round((1 - x) (t_max - 1))``: bright early, dark late."""
    return torch.round((1.0 - x.clamp(0.0, 1.0)) * (t_max - 1))


def _window(t_max: int, window: int | None) -> int:
    return t_max if window is None else int(window)


def if_forward_reference(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    theta: float,
    t_max: int,
    window: int | None = None,
    tau: float | None = None,
) -> torch.Tensor:
    """Time-stepped spike-once IF layer: one dense matmul per simulated step. ``(R, N_in) -> (R, N_out)``."""
    steps = _window(t_max, window)
    v = t_in.new_zeros(t_in.shape[0], weight.shape[0])
    t_out = torch.full_like(v, float(t_max))
    fired = torch.zeros_like(v, dtype=torch.bool)
    for t in range(steps):
        current = (t_in == t).to(weight.dtype) @ weight.T
        v = v + current if tau is None else v + (current - v) / tau
        new = (v > theta) & ~fired
        t_out = torch.where(new, torch.full_like(t_out, float(t)), t_out)
        fired |= new
    return t_out


def if_forward_events(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    theta: float,
    t_max: int,
    window: int | None = None,
    tau: float | None = None,
) -> torch.Tensor:
    """Event-driven spike-once IF layer with the same output as :func:`if_forward_reference`.

    Without leak the potential after each event is a prefix sum of gathered weight columns, and a crossing
    can only be observed at the last event of a step. The last occupied step of each row needs no prefix sum:
    its potential is the sum over all delivered inputs, one matmul for the whole batch. So only the events
    *before* the last occupied step are gathered, which for latency-coded images (most pixels dark, all
    arriving at the last step) is a small fraction of the inputs.
    """
    steps = _window(t_max, window)
    if tau is not None:
        return _if_forward_leaky(t_in, weight, theta, t_max, steps, tau)
    rows, n_out = t_in.shape[0], weight.shape[0]
    t_out = t_in.new_full((rows, n_out), float(t_max))
    delivered = (t_in >= 0) & (t_in < steps)
    if rows == 0 or not bool(delivered.any()):
        return t_out
    big = float(steps)
    t_del = torch.where(delivered, t_in, t_in.new_tensor(big))
    last_time = t_del.masked_fill(~delivered, -1.0).amax(dim=1)
    early = delivered & (t_in < last_time[:, None])
    n_early = int(early.sum(dim=1).max())
    fired_early = torch.zeros(rows, n_out, dtype=torch.bool, device=t_in.device)
    if n_early > 0:
        t_early = torch.where(early, t_in, t_in.new_tensor(big))
        times, order = torch.sort(t_early, dim=1)
        times, order = times[:, :n_early], order[:, :n_early]
        valid = times < big
        cols = weight.T[order] * valid[..., None].to(weight.dtype)
        v = torch.cumsum(cols, dim=1)
        next_time = torch.cat([times[:, 1:], times.new_full((rows, 1), big)], dim=1)
        check = valid & (times != next_time)
        cross = (v > theta) & check[..., None]
        fired_early = cross.any(dim=1)
        first = cross.to(torch.uint8).argmax(dim=1)
        t_first = torch.gather(times, 1, first)
        t_out = torch.where(fired_early, t_first, t_out)
    v_total = delivered.to(weight.dtype) @ weight.T
    fire_last = (~fired_early) & (v_total > theta) & delivered.any(dim=1, keepdim=True)
    return torch.where(fire_last, last_time[:, None].expand_as(t_out), t_out)


def _if_forward_leaky(t_in, weight, theta, t_max, steps, tau):
    """Leaky variant: scatter each event's weights into its step, then update every step (decay never stops)."""
    rows, n_in = t_in.shape
    n_out = weight.shape[0]
    delivered = (t_in >= 0) & (t_in < steps)
    r_idx, i_idx = torch.nonzero(delivered, as_tuple=True)
    bins = r_idx * steps + t_in[r_idx, i_idx].long()
    current = t_in.new_zeros(rows * steps, n_out)
    current.index_add_(0, bins, weight.T[i_idx])
    current = current.view(rows, steps, n_out)
    v = t_in.new_zeros(rows, n_out)
    t_out = t_in.new_full((rows, n_out), float(t_max))
    fired = torch.zeros(rows, n_out, dtype=torch.bool, device=t_in.device)
    for t in range(steps):
        v = v + (current[:, t] - v) / tau
        new = (v > theta) & ~fired
        t_out.masked_fill_(new, float(t))
        fired |= new
    return t_out


def unfold_times(
    t_in: torch.Tensor, kernel_size: int, stride: int, padding: int, t_max: int
) -> torch.Tensor:
    """``(B, C, H, W)`` times -> patches ``(B, C*k*k, L)``; padding holds ``t_max`` (a spike that never comes)."""
    if padding:
        t_in = F.pad(t_in, (padding,) * 4, value=float(t_max))
    return F.unfold(t_in, kernel_size, stride=stride)


def min_pool_times(t_in: torch.Tensor, kernel_size: int, stride: int | None = None) -> torch.Tensor:
    """Pooling on spike times is a min: the earliest spike in the window passes."""
    return -F.max_pool2d(-t_in, kernel_size, stride=stride or kernel_size)


def first_k_times(t: torch.Tensor, k: int, t_max: int) -> torch.Tensor:
    """``(B, N)`` times: each row keeps its ``k`` earliest spikes and any tied with the k-th; the rest become
    ``t_max`` (silenced). Lateral inhibition that lets the first ``k`` spikes of a layer through, as in the
    winner-take-all of unsupervised temporal-coding networks; a row with fewer than ``k`` spikes keeps them all."""
    if not 1 <= k <= t.shape[1]:
        raise ValueError(f"winners k must be in [1, {t.shape[1]}] for {t.shape[1]} neurons, got {k}")
    kth = torch.kthvalue(t, k, dim=1, keepdim=True).values
    return torch.where(t <= kth, t, torch.full_like(t, float(t_max)))


def vote_times(times: torch.Tensor, k: int, t_max: int) -> torch.Tensor:
    """``(M, B, C)`` output times of M networks -> ``(B, C)``: each class fires when ``k`` of its M output neurons
    have. That is one more spike-once IF layer (weight 1 from every network's neuron of the same class, threshold
    ``k - 1/2``, no delay), so a committee of TTFS networks still decides by its first spike; a class with fewer
    than ``k`` spikes stays silent (``t_max``)."""
    if times.dim() != 3:
        raise ValueError(f"times must be (members, batch, classes), got shape {tuple(times.shape)}")
    if not 1 <= k <= times.shape[0]:
        raise ValueError(f"votes k must be in [1, {times.shape[0]}] for {times.shape[0]} members, got {k}")
    kth = torch.kthvalue(times, k, dim=0).values
    return kth.clamp(max=float(t_max))


def _numba_kernels():
    """The compiled kernels, or None where numba is missing (the torch paths then serve)."""
    return compiled_kernels("ttfs_numba")


def if_forward(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    theta: float,
    t_max: int,
    window: int | None = None,
    tau: float | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    """Spike-once IF layer on the fastest exact path: ``backend`` in auto | numba | torch | reference."""
    if backend == "reference":
        return if_forward_reference(t_in, weight, theta, t_max, window, tau)
    kernels = _numba_kernels() if backend in ("auto", "numba") else None
    if kernels is None or tau is not None or t_in.device.type != "cpu":
        return if_forward_events(t_in, weight, theta, t_max, window, tau)
    t_np = t_in.detach().contiguous().numpy()
    w_np = weight.detach().T.contiguous().numpy()
    out = np.full((t_in.shape[0], weight.shape[0]), float(t_max), dtype=t_np.dtype)
    kernels.if_forward_rows(t_np, w_np.astype(t_np.dtype, copy=False), float(theta), float(_window(t_max, window)), out)
    return torch.from_numpy(out)
