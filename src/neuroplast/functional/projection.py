"""The summed input projections of all time steps, ``X = sum_k x_k @ W_k.T (+ b)``, with a hand-written backward.

Why not ``F.linear`` plus an in-place ``addmm_`` per skip: autograd then records the in-place update as a
``CopySlices`` node that clones the whole ``(T*B, N)`` gradient in the backward. Here the forward and the
backward are the same matrix multiplies (``mm`` into one buffer, ``addmm_`` per extra source), their big outputs
come from :func:`~neuroplast.functional.memory.empty_large`, and the backward makes only the products that are
asked for.

Spike inputs (every entry 0 or 1) on the CPU take an event path (:mod:`~neuroplast.functional.events_numba`):
the forward and the weight gradient add one weight row per spike instead of multiplying densely, which costs a
fraction of the GEMM when spikes are sparse. The gradient sent back to a spike input stays a GEMM.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.autograd.function import once_differentiable

from neuroplast.errors import NeuroplastError
from neuroplast.functional.compiled import compiled_kernels, numba_threads
from neuroplast.functional.memory import empty_large

__all__ = ["project", "events_available"]

# Above this fraction of ones, ``events=None`` multiplies densely: forward + backward at n = 1024 on 2 threads,
# the event path was 9.2x faster than the GEMMs at rate 0.02, 2.5x at 0.2 and 1.1x at 0.5.
DENSE_ABOVE = 0.5


def _event_kernels():
    """The compiled event kernels, or None when numba is missing or fails to import (then: dense GEMMs)."""
    return compiled_kernels("events_numba")


def events_available() -> bool:
    """Whether the compiled event path can run here (numba importable)."""
    return _event_kernels() is not None


def project(
    inputs: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor],
    bias: torch.Tensor | None = None,
    *,
    events: bool | None = None,
) -> torch.Tensor:
    """``sum_k inputs[k] @ weights[k].T (+ bias)`` for inputs ``(..., n_k)`` sharing their leading shape and
    weights ``(m, n_k)``; returns a contiguous ``(..., m)`` tensor.

    ``events``: None (default) sends each CPU float input whose entries are all 0 or 1, at most half of them
    ones, through the event path and the rest through GEMMs (the check is one pass over the input); False
    always multiplies densely; True requires spike inputs (of any rate) and raises otherwise.
    """
    if len(inputs) != len(weights) or not inputs:
        raise ValueError(f"project needs one weight per input, got {len(inputs)} inputs and {len(weights)} weights")
    return _Projection.apply(len(inputs), events, bias, *inputs, *weights)


def _mm_into(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    out = empty_large((a.shape[0], b.shape[1]), a.dtype, a.device)
    return torch.mm(a, b, out=out)


def _spike_rows(x: torch.Tensor, w: torch.Tensor, events: bool | None, k: int):
    """The CSR rows of a spike input for the event path, or None to multiply densely."""
    if events is False:
        return None
    why = None
    kernels = _event_kernels()
    if kernels is None:
        why = "numba is not importable"
    elif x.device.type != "cpu" or w.device.type != "cpu":
        why = "the event kernels are CPU-only"
    elif x.dtype not in (torch.float32, torch.float64) or w.dtype != x.dtype:
        why = f"input {x.dtype} and weight {w.dtype}; the event kernels need both float32 or both float64"
    counts = None
    if why is None:
        numba_threads()
        array = x.detach().contiguous().numpy()
        counts = kernels.spike_counts(array)
        if counts is None:
            why = "it holds values other than 0 and 1"
    if why is not None:
        if events:
            raise NeuroplastError(f"project(events=True): input {k} cannot take the event path: {why}; pass "
                                  "events=None to multiply such inputs densely")
        return None
    if events is None and counts.sum() > DENSE_ABOVE * x.numel():
        return None
    return kernels.spike_rows(array, counts)


class _Projection(torch.autograd.Function):
    @staticmethod
    def forward(ctx, n, events, bias, *tensors):
        xs, ws = tensors[:n], tensors[n:]
        lead = xs[0].shape[:-1]
        flat = [x.reshape(-1, x.shape[-1]) for x in xs]
        rows = [_spike_rows(x, w, events, k) for k, (x, w) in enumerate(zip(flat, ws))]
        out = None
        bias_added = False
        for x, w, r in zip(flat, ws, rows):
            if r is None:
                if out is None:
                    out = _mm_into(x, w.t())
                else:
                    out.addmm_(x, w.t())
            else:
                accumulate = out is not None
                if out is None:
                    out = empty_large((x.shape[0], w.shape[0]), x.dtype, x.device)
                    init = bias.detach().to(x.dtype) if bias is not None else x.new_zeros(w.shape[0])
                    bias_added = bias is not None
                else:
                    init = x.new_zeros(0)
                _event_kernels().events_forward(r[0], r[1], w.detach().t().contiguous().numpy(),
                                                 init.contiguous().numpy(), out.numpy(), accumulate)
        if bias is not None and not bias_added:
            out.add_(bias)
        ctx.n, ctx.rows, ctx.has_bias = n, rows, bias is not None
        ctx.save_for_backward(*tensors)
        return out.view(*lead, out.shape[-1])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        n = ctx.n
        tensors = ctx.saved_tensors
        xs, ws = tensors[:n], tensors[n:]
        needs = ctx.needs_input_grad[3:]
        g = grad.reshape(-1, grad.shape[-1])
        g = g if g.is_contiguous() else g.contiguous()
        grad_x = [_mm_into(g, w).view_as(x) if needs[k] else None for k, (x, w) in enumerate(zip(xs, ws))]
        grad_w = []
        for k, (x, r) in enumerate(zip(xs, ctx.rows)):
            if not needs[n + k]:
                grad_w.append(None)
            elif r is None:
                grad_w.append(g.t().mm(x.reshape(-1, x.shape[-1])))
            else:
                grad_w.append(_event_weight_grad(r, g, x.shape[-1]))
        grad_b = g.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return (None, None, grad_b, *grad_x, *grad_w)


def _event_weight_grad(rows, g: torch.Tensor, n_in: int) -> torch.Tensor:
    """``g.T @ x`` for a spike input given by its rows: listed per column, accumulated transposed
    ``(n_in, m)``, then laid out ``(m, n_in)``."""
    kernels = _event_kernels()
    parts = numba_threads()
    colptr, in_rows = kernels.spike_columns(rows[0], rows[1], n_in, parts)
    out_t = torch.zeros(n_in, g.shape[1], dtype=g.dtype)
    kernels.events_weight_grad(colptr, in_rows, g.numpy(), out_t.numpy(), parts)
    return out_t.t().contiguous()
